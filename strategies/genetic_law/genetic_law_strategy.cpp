#include "genetic_law_strategy.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "narrow/device.hpp"
#include "narrow/errors.hpp"
#include "narrow/hash.hpp"
#include "narrow/laws.hpp"
#include "narrow/name_lists.hpp"
#include "narrow/progress.hpp"
#include "windows.hpp"

namespace narrow::strategies {

namespace gl = genetic_law;

namespace {

// A number of a note or an info line: "0.041", "inf".
std::string brief(double x) {
  return std::isfinite(x) ? fmt::format("{:.3g}", x) : "inf";
}

}  // namespace

ParamSchema GeneticLawStrategy::schema() {
  const gl::Settings d;
  return {
      ParamSpec::choice("metric", "params", gl::target_metrics(),
                        "what the laws aim at: an analytic metric, or the device's predicted "
                        "latency in seconds"),
      ParamSpec::integers("decades", {3, 7}, -30, 30,
                          "[A, B]: windows between consecutive values of {1, 2, 5} x 10^k from "
                          "10^A to 10^B, one search each"),
      ParamSpec::integer("n_init", d.n_init, 2, 1000000, "laws of the initial population"),
      ParamSpec::integer("n_steps", d.n_steps, 0, 100000000,
                         "steps of the search, one new law each"),
      ParamSpec::integer("n_eval", d.n_eval, 2, 1000000,
                         "accepted architectures that estimate a law's mean and deviation"),
      ParamSpec::integer("tournament", d.tournament, 2, 1000000,
                         "laws drawn for a tournament (at most n_init)"),
      ParamSpec::real("mutation_rate", d.mutation_rate, 0, 1,
                      "probability that a variable's range moves in a new law (one at least)"),
      ParamSpec::real("mutation_step", d.mutation_step, 0, 1,
                      "largest move of an integer bound, as a fraction of the variable's range"),
      ParamSpec::integer("draw_budget", d.draw_budget, 1, 1000,
                         "an evaluation draws at most draw_budget x n_eval assignments"),
      ParamSpec::real("refused_penalty", d.refused_penalty, 0, 1000,
                      "cost added per refused fraction of an evaluation's draws (invalid or "
                      "breaking a constraint)"),
      ParamSpec::real("margin", 0, 0, 0.45,
                      "aim at the window shrunk by this fraction of its width (log10) on each "
                      "side, so that fresh draws stay inside it (0: the window, as the paper)"),
      ParamSpec::string("spaces", "",
                        "spaces of the experiment to search, comma-separated (empty: all)"),
  };
}

GeneticLawStrategy::GeneticLawStrategy(const Parameters& p)
    : metric_(p.string("metric")),
      decades_(p.integers("decades")),
      spaces_(comma_list(p.string("spaces"))) {
  settings_.n_init = p.integer("n_init");
  settings_.n_steps = p.integer("n_steps");
  settings_.n_eval = p.integer("n_eval");
  settings_.tournament = p.integer("tournament");
  settings_.mutation_rate = p.real("mutation_rate");
  settings_.mutation_step = p.real("mutation_step");
  settings_.draw_budget = p.integer("draw_budget");
  settings_.refused_penalty = p.real("refused_penalty");
  margin_ = p.real("margin");
  if (decades_.size() != 2 || decades_[0] >= decades_[1])
    throw ParameterError(
        "decades", fmt::format("[{}] must be two decades [A, B] with A < B, e.g. [3, 7] for "
                               "10^3 to 10^7",
                               fmt::join(decades_, ", ")));
  if (settings_.tournament > settings_.n_init)
    throw ParameterError("tournament",
                         fmt::format("{} is more than the {} laws of the population (n_init): "
                                     "allowed 2..{}",
                                     settings_.tournament, settings_.n_init, settings_.n_init));
}

void GeneticLawStrategy::check(const StagePlan& plan) const {
  require_spaces(plan, "spaces", spaces_);
  if (metric_ == "latency" && !plan.device_predicts)
    throw ParameterError("metric", plan.device ? "'latency' needs a device that predicts "
                                                 "latency; the experiment's device measures it"
                                               : "'latency' needs a device that predicts "
                                                 "latency; the experiment names no device");
}

void GeneticLawStrategy::run(StageContext& ctx) {
  const auto windows = gl::window_grid(int(decades_[0]), int(decades_[1]));
  const Device* device = metric_ == "latency" ? ctx.device() : nullptr;
  // Everything that determines a search but its space, window and the seed. The device that
  // predicts latency is part of the constraints' key when they bound latency.
  UnitKey base = ctx.unit_key(1)
                     .add("metric", metric_)
                     .add("n_init", settings_.n_init)
                     .add("n_steps", settings_.n_steps)
                     .add("n_eval", settings_.n_eval)
                     .add("tournament", settings_.tournament)
                     .add("mutation_rate", fmt::format("{}", settings_.mutation_rate))
                     .add("mutation_step", fmt::format("{}", settings_.mutation_step))
                     .add("draw_budget", settings_.draw_budget)
                     .add("refused_penalty", fmt::format("{}", settings_.refused_penalty))
                     .add("margin", fmt::format("{}", margin_))
                     .add("constraints", ctx.constraints().key());
  if (device) base.add("device", device->description().dump());

  std::vector<const SpaceEntry*> entries;
  for (const SpaceEntry& e : ctx.spaces())
    if (spaces_.empty() || std::find(spaces_.begin(), spaces_.end(), e.name) != spaces_.end())
      entries.push_back(&e);

  std::vector<StageContext::Unit> units;
  for (std::size_t s = 0; s < entries.size(); ++s) {
    for (std::size_t w = 0; w < windows.size(); ++w) {
      const SpaceEntry& entry = *entries[s];
      const gl::Window window = windows[w];
      UnitKey key = UnitKey(base)
                        .add("space", entry.key)
                        .add("window", window.name)
                        .add("seed", ctx.seed());
      const std::uint64_t seed = content_seed(key.text());
      const std::int64_t order = std::int64_t(s * windows.size() + w);
      const Constraints& constraints = ctx.constraints();
      const std::string metric = metric_;
      const gl::Settings settings = settings_;
      const gl::Aim aim = gl::aim_inside(window, margin_);
      auto work = [&entry, &constraints, device, window, aim, seed, order, metric, settings] {
        const gl::LawEvaluator evaluator(*entry.space, constraints, metric, device);
        const gl::SearchResult r = gl::search(evaluator, entry.space->variables(),
                                              gl::Target{metric, aim.low, aim.high}, settings, seed);
        nlohmann::json population = nlohmann::json::array();
        for (const auto& law : r.population) population.push_back(gl::scored_law_json(law));
        const nlohmann::json pop{{"space", entry.name},
                                 {"space_key", entry.key},
                                 {"metric", metric},
                                 {"window", {window.low, window.high}},
                                 {"window_name", window.name},
                                 {"population", population}};
        StageContext::UnitOutput out;
        out.records.push_back(Record{"genetic_law.population", "", "", pop.dump()});
        const gl::ScoredLaw& best = r.population[r.best];
        const std::string law_name = fmt::format("{}.{}.best", entry.name, window.name);
        const bool found = std::isfinite(best.cost);
        if (found) {
          LearnedLaw learned;
          learned.law = SamplingLaw{law_name, best.low, best.high};
          learned.target = LawTarget{metric, window.low, window.high};
          learned.note = fmt::format(
              "best of genetic search for {} {}: cost {}, log10 mean {:.3g}, sigma {:.3g}",
              metric, fmt::format("{}..{}", window.low_name, window.high_name), brief(best.cost), best.stats.mean, best.stats.sigma);
          learned.order = order;
          out.records.push_back(learned_law_record(entry, learned));
        }
        auto number = [](double x) {
          return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json();
        };
        out.result = nlohmann::json{{"space", entry.name},
                                    {"window", window.name},
                                    {"law", found ? nlohmann::json(law_name) : nlohmann::json()},
                                    {"best_cost", number(best.cost)},
                                    {"mean", number(best.stats.mean)},
                                    {"sigma", number(best.stats.sigma)},
                                    {"accepted", r.accepted},
                                    {"drawn", r.drawn},
                                    {"seconds", r.seconds}}
                         .dump();
        return out;
      };
      units.push_back({key, "genetic_law.search", work});
    }
  }

  Progress progress(fmt::format("{} genetic law search", ctx.stage()), units.size(), "searches");
  const auto results = ctx.once_each(units, [&](std::size_t done) { progress.update(done); });
  progress.finish();

  nlohmann::json searches = nlohmann::json::array();
  std::int64_t architectures = 0;
  for (const auto& text : results) {
    auto r = nlohmann::json::parse(text);
    auto value = [&](const char* name) {
      return r.at(name).is_null() ? std::nan("") : r.at(name).get<double>();
    };
    ctx.info(fmt::format(
        "{} {} {} {}: best cost {}, log10 {} {} +- {}, {} architectures ({} drawn), {:.2f} s{}",
        ctx.stage(), r.at("space").get<std::string>(), metric_, r.at("window").get<std::string>(),
        brief(value("best_cost")), metric_, brief(value("mean")), brief(value("sigma")),
        r.at("accepted").get<std::int64_t>(), r.at("drawn").get<std::int64_t>(),
        r.at("seconds").get<double>(),
        r.at("law").is_null() ? "; no law drew 2 accepted architectures, none stored" : ""));
    architectures += r.at("accepted").get<std::int64_t>();
    searches.push_back(std::move(r));
  }
  ctx.set_summary(nlohmann::json{{"metric", metric_},
                                 {"decades", decades_},
                                 {"architectures", architectures},
                                 {"searches", searches}}
                      .dump());
}

}  // namespace narrow::strategies
