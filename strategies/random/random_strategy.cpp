#include "random_strategy.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "narrow/errors.hpp"
#include "narrow/hash.hpp"
#include "narrow/metrics.hpp"
#include "narrow/progress.hpp"
#include "narrow/sampler.hpp"
#include "narrow/store.hpp"

namespace narrow::strategies {

ParamSchema RandomStrategy::schema() {
  return {
      ParamSpec::integer("per_law", 100, 1, 1000000000,
                         "accepted architectures to draw from each law of each space"),
      ParamSpec::integer("max_rejections", 10000, 1, 1000000000,
                         "rejected or invalid draws in a row after which a law stops"),
      ParamSpec::integer("batch", 1000, 1, 1000000,
                         "draws per stored unit of work (what a resume redoes at most)"),
      ParamSpec::string("laws", "",
                        "an earlier stage whose learned laws to draw from, in place of the "
                        "experiment's (empty: the experiment's laws)"),
  };
}

RandomStrategy::RandomStrategy(const Parameters& p)
    : per_law_(p.integer("per_law")),
      max_rejections_(p.integer("max_rejections")),
      batch_(p.integer("batch")),
      laws_(p.string("laws")) {}

void RandomStrategy::check(const StagePlan& plan) const {
  if (!laws_.empty()) plan.require_earlier("laws", laws_);
}

void RandomStrategy::run(StageContext& ctx) {
  Store& store = ctx.store();
  // The bounds (and the device that predicts latency) are part of every unit's key.
  const UnitKey config = ctx.unit_key(1)
                             .add("per_law", per_law_)
                             .add("max_rejections", max_rejections_)
                             .add("batch", batch_)
                             .add("constraints", ctx.constraints().key());
  nlohmann::json laws = nlohmann::json::array();
  std::int64_t total = 0;
  std::vector<std::string> stopped;

  const std::vector<SpaceEntry> spaces = laws_.empty() ? ctx.spaces() : ctx.learned_spaces(laws_);
  for (const SpaceEntry& entry : spaces) {
    for (const SamplingLaw& law : entry.laws) {
      const std::string law_key = entry.law_key(law);
      const Sampler sampler(*entry.space, law,
                            content_seed(fmt::format("{}|{}", ctx.seed(), law_key)));
      std::int64_t accepted = 0, rejected = 0, invalid = 0, streak = 0, next = 0, batch_index = 0;
      std::string last_rejection, last_invalid;
      Progress progress(fmt::format("{} {}/{}", ctx.stage(), entry.name, law.name),
                        std::uint64_t(per_law_), "accepted");
      while (accepted < per_law_ && streak < max_rejections_) {
        const std::string key = UnitKey(config)
                                    .add(law_key)
                                    .add("seed", ctx.seed())
                                    .add("batch_index", batch_index)
                                    .hash();
        ++batch_index;
        if (auto stored = store.unit_result(key)) {
          // Finished before (this is a resume): take its totals and go on after it.
          auto r = nlohmann::json::parse(*stored);
          accepted = r.at("accepted");
          rejected = r.at("rejected");
          invalid = r.at("invalid");
          streak = r.at("streak");
          next = r.at("next");
          last_rejection = r.value("last_rejection", "");
          last_invalid = r.value("last_invalid", "");
          progress.update(std::uint64_t(accepted));
          continue;
        }
        std::vector<Draw> batch =
            sampler.draw_batch(std::uint64_t(next), std::uint64_t(batch_), ctx.constraints(),
                               ctx.threads());
        std::vector<DrawRecord> draws;
        std::vector<ArchitectureRecord> archs;
        for (std::size_t i = 0; i < batch.size(); ++i) {
          Draw& d = batch[i];
          // Compact: the value of every variable by position (choices by index).
          draws.push_back(DrawRecord{ctx.stage(), entry.name, law.name, next + std::int64_t(i),
                                     d.status, d.hash, d.reason,
                                     nlohmann::json(d.assignment).dump()});
          if (d.status != DrawStatus::invalid)
            archs.push_back(ArchitectureRecord{d.hash, std::move(d.json), d.metrics});
          if (d.status == DrawStatus::accepted) {
            ++accepted;
            streak = 0;
          } else {
            ++(d.status == DrawStatus::rejected ? rejected : invalid);
            ++streak;
            (d.status == DrawStatus::rejected ? last_rejection : last_invalid) = d.reason;
          }
          if (accepted >= per_law_ || streak >= max_rejections_) break;
        }
        next += std::int64_t(draws.size());
        nlohmann::json result{{"accepted", accepted},
                              {"rejected", rejected},
                              {"invalid", invalid},
                              {"streak", streak},
                              {"next", next},
                              {"last_rejection", last_rejection},
                              {"last_invalid", last_invalid}};
        store.commit_unit(key, "random.batch", ctx.stage(), result.dump(), archs, draws);
        progress.update(std::uint64_t(accepted));
      }
      progress.finish();
      ctx.info(
          fmt::format("{} {}/{}: {} accepted of {} draws ({} rejected by constraints, {} invalid)",
                      ctx.stage(), entry.name, law.name, accepted, next, rejected, invalid));
      if (streak >= max_rejections_) {
        std::string why = fmt::format("{} broke a constraint", rejected);
        if (!last_rejection.empty()) why += fmt::format(", the last: {}", last_rejection);
        why += fmt::format("; {} were invalid", invalid);
        if (!last_invalid.empty()) why += fmt::format(", the last: {}", last_invalid);
        stopped.push_back(fmt::format(
            "space '{}' law '{}' stopped after {} rejected or invalid draws in a row with {} of {} "
            "accepted ({}); loosen the constraints or the law, or raise max_rejections",
            entry.name, law.name, streak, accepted, per_law_, why));
      }
      laws.push_back({{"space", entry.name},
                      {"law", law.name},
                      {"accepted", accepted},
                      {"rejected", rejected},
                      {"invalid", invalid},
                      {"draws", next},
                      {"stopped", streak >= max_rejections_}});
      total += accepted;
    }
  }
  ctx.set_summary(nlohmann::json{{"accepted", total}, {"laws", laws}}.dump());
  if (!stopped.empty())
    throw Error(fmt::format("stage '{}': {}", ctx.stage(), fmt::join(stopped, "; ")));
}

}  // namespace narrow::strategies
