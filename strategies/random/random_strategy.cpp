#include "random_strategy.hpp"

#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <nlohmann/json.hpp>

#include "narrow/errors.hpp"
#include "narrow/hash.hpp"
#include "narrow/metrics.hpp"
#include "narrow/progress.hpp"
#include "narrow/random.hpp"
#include "narrow/store.hpp"

namespace narrow::strategies {

namespace {
// What one draw came to, computed in parallel and accounted for in order.
struct Outcome {
  DrawStatus status = DrawStatus::invalid;
  std::string hash, json, reason, assignment;
  Metrics metrics;
};

std::string law_text(const SpaceEntry& s, const SamplingLaw& law) {
  std::string t;
  const auto& vars = s.space->variables();
  for (std::size_t i = 0; i < vars.size(); ++i)
    t += fmt::format("{}=[{},{}];", vars[i].name, law.low[i], law.high[i]);
  return t;
}
}  // namespace

ParamSchema RandomStrategy::schema() {
  return {
      ParamSpec::integer("per_law", 100, 1, 1000000000,
                         "accepted architectures to draw from each law of each space"),
      ParamSpec::integer("max_rejections", 10000, 1, 1000000000,
                         "rejected or invalid draws in a row after which a law stops"),
      ParamSpec::integer("batch", 1000, 1, 1000000,
                         "draws per stored unit of work (what a resume redoes at most)"),
  };
}

RandomStrategy::RandomStrategy(const Parameters& p)
    : per_law_(p.integer("per_law")),
      max_rejections_(p.integer("max_rejections")),
      batch_(p.integer("batch")) {}

void RandomStrategy::run(StageContext& ctx) {
  Store& store = ctx.store();
  // The bounds (and the device that predicts latency) are part of every unit's key.
  const std::string constraints = ctx.constraints().key();
  const std::string config =
      fmt::format("random/1|per_law={}|max_rejections={}|batch={}|constraints={}", per_law_,
                  max_rejections_, batch_, constraints);
  nlohmann::json laws = nlohmann::json::array();
  std::int64_t total = 0;
  std::vector<std::string> stopped;
  tbb::global_control allow(tbb::global_control::max_allowed_parallelism,
                            std::size_t(std::max(1, ctx.threads())));
  tbb::task_arena arena(std::max(1, ctx.threads()));

  for (const SpaceEntry& entry : ctx.spaces()) {
    const SearchSpace& space = *entry.space;
    for (const SamplingLaw& law : entry.laws) {
      const std::string law_key =
          fmt::format("{}|{}|{}", entry.key, law.name, law_text(entry, law));
      const std::uint64_t law_seed = content_seed(fmt::format("{}|{}", ctx.seed(), law_key));
      std::int64_t accepted = 0, rejected = 0, invalid = 0, streak = 0, next = 0, batch_index = 0;
      std::string last_rejection, last_invalid;
      Progress progress(fmt::format("{} {}/{}", ctx.stage(), entry.name, law.name),
                        std::uint64_t(per_law_), "accepted");
      while (accepted < per_law_ && streak < max_rejections_) {
        const std::string key = content_hash(
            fmt::format("{}|{}|seed={}|batch_index={}", config, law_key, ctx.seed(), batch_index));
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
        std::vector<Outcome> outcomes(static_cast<std::size_t>(batch_));
        arena.execute([&] {
          tbb::parallel_for(tbb::blocked_range<std::size_t>(0, outcomes.size(), 16),
                            [&](const auto& r) {
                              for (std::size_t i = r.begin(); i != r.end(); ++i) {
                                Outcome& o = outcomes[i];
                                auto rng = stream_rng(law_seed, std::uint64_t(next) + i);
                                const Assignment a = space.draw(law, rng);
                                // Compact: the value of every variable by position (choices by
                                // index).
                                o.assignment = nlohmann::json(a).dump();
                                Architecture arch;
                                if (!space.try_build(a, arch, o.reason)) continue;
                                try {
                                  arch.finalize();
                                } catch (const InvalidArchitecture& e) {
                                  o.reason = e.what();
                                  continue;
                                }
                                o.metrics = analyse(arch);
                                o.hash = arch.hash();
                                o.json = arch.to_json_string();
                                double latency = 0;
                                if (const Constraint* c =
                                        ctx.constraints().violated(o.metrics, &arch, &latency)) {
                                  o.status = DrawStatus::rejected;
                                  o.reason = Constraints::describe(*c, o.metrics, latency);
                                } else {
                                  o.status = DrawStatus::accepted;
                                }
                              }
                            });
        });
        std::vector<DrawRecord> draws;
        std::vector<Store::Architecture> archs;
        for (std::size_t i = 0; i < outcomes.size(); ++i) {
          Outcome& o = outcomes[i];
          draws.push_back(DrawRecord{ctx.stage(), entry.name, law.name, next + std::int64_t(i),
                                     o.status, o.hash, o.reason, std::move(o.assignment)});
          if (o.status != DrawStatus::invalid)
            archs.push_back(Store::Architecture{o.hash, std::move(o.json), o.metrics});
          if (o.status == DrawStatus::accepted) {
            ++accepted;
            streak = 0;
          } else {
            ++(o.status == DrawStatus::rejected ? rejected : invalid);
            ++streak;
            (o.status == DrawStatus::rejected ? last_rejection : last_invalid) = o.reason;
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
