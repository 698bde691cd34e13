#include "monte_carlo_strategy.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "narrow/errors.hpp"
#include "narrow/hash.hpp"
#include "narrow/metrics.hpp"
#include "narrow/name_lists.hpp"
#include "narrow/progress.hpp"
#include "narrow/store.hpp"

namespace narrow::strategies {

using nlohmann::json;

ParamSchema MonteCarloStrategy::schema() {
  std::vector<std::string> metrics(metric_names.begin(), metric_names.end());
  ParamSchema s{
      ParamSpec::string("space", "", "the space searched (default: the experiment's first)"),
      ParamSpec::string("laws", "",
                        "an earlier stage whose learned laws the random phase draws from, in "
                        "place of the experiment's (empty: the experiment's laws)"),
      ParamSpec::integer("random", 50, 1, 1000000,
                         "random phase: architectures drawn within the constraints and trained "
                         "for traction_iterations (Algorithm I)"),
      ParamSpec::integer("traction", 50, 0, 1000000,
                         "adaptive samples trained for traction_iterations (Algorithm II)"),
      ParamSpec::integer("full", 20, 1, 1000000,
                         "the last adaptive samples, trained to the full budget (epochs)"),
      ParamSpec::integer("traction_iterations", 500, 1, 1000000000,
                         "batches a random or traction sample trains for"),
      ParamSpec::integer("workers", 1, 1, 1024,
                         "adaptive samples in training at once: 1 is the synchronous algorithm; "
                         "more, the asynchronous one (or N-best with dispatch: batch)"),
      ParamSpec::choice("dispatch", "async", {"async", "batch"},
                        "async: a free worker gets the next sample at once; batch: the next "
                        "'workers' samples are decided together once the ones before end"),
      ParamSpec::integer("parents", 1, 1, 1024,
                         "a move starts from one of this many best samples (N-best)"),
      ParamSpec::boolean("moves", true,
                         "false: adaptive samples are random draws too (random search with the "
                         "same trainings, the baseline of the moves)"),
      ParamSpec::real("beta", 5e-5, 0, 1e9, "J = validation loss + beta * regularizer"),
      ParamSpec::choice("regularizer", "params", metrics, "R(A) of the objective, a metric"),
      ParamSpec::integer("max_tries", 100000, 1, 100000000,
                         "draws or moves refused (invalid, over a bound, sampled before) for one "
                         "sample before it is drawn afresh (moves) or the stage stops (draws)"),
      ParamSpec::real("up", 1.5, 1.0001, 100, "factor of a layer move up"),
      ParamSpec::real("down", 0.66, 0.01, 0.9999, "factor of a layer move down"),
      ParamSpec::string("bounds_from", "",
                        "an earlier monte_carlo stage: bound this search by 'fraction' of its "
                        "accepted model's 'bound_metrics' (Chan et al. Table 2)"),
      ParamSpec::real("fraction", 1.0, 1e-6, 1e6,
                      "with bounds_from: the bounds as a fraction of that model's metrics"),
      ParamSpec::string("bound_metrics", "memory_eq6_bytes, flops",
                        "with bounds_from: the metrics bounded, a comma list"),
      ParamSpec::boolean("keep_weights", true, "store the trained weights with each result"),
      ParamSpec::integer("ensemble", 0, 0, 1024,
                         "evaluate the best fully trained samples (at most this many, their "
                         "summed metrics within the bounds) as one ensemble; 0: none"),
      ParamSpec::choice("vote", "majority", {"majority", "mean"},
                        "how the ensemble decides: majority vote, or the mean of the softmax"),
  };
  for (auto& p : TrainingConfig::schema()) s.push_back(std::move(p));
  return s;
}

MonteCarloStrategy::MonteCarloStrategy(const Parameters& p)
    : space_(p.string("space")),
      laws_(p.string("laws")),
      bounds_from_(p.string("bounds_from")),
      bound_metrics_(comma_list(p.string("bound_metrics"))),
      fraction_(p.real("fraction")),
      traction_iterations_(p.integer("traction_iterations")),
      ensemble_(p.integer("ensemble")),
      vote_(parse_vote(p.string("vote"))),
      keep_weights_(p.boolean("keep_weights")),
      config_(TrainingConfig::from(p)) {
  settings_.random = p.integer("random");
  settings_.traction = p.integer("traction");
  settings_.full = p.integer("full");
  settings_.workers = int(p.integer("workers"));
  settings_.batch = p.string("dispatch") == "batch";
  settings_.parents = int(p.integer("parents"));
  settings_.moves = p.boolean("moves");
  settings_.beta = p.real("beta");
  settings_.regularizer = p.string("regularizer");
  settings_.max_tries = p.integer("max_tries");
  settings_.factors = {p.real("up"), p.real("down")};
  if (bound_metrics_.empty())
    throw ParameterError("bound_metrics", "give at least one metric to bound");
  for (const auto& m : bound_metrics_)
    if (std::find(metric_names.begin(), metric_names.end(), m) == metric_names.end())
      throw ParameterError("bound_metrics",
                           fmt::format("unknown metric '{}' (valid: {})", m,
                                       fmt::join(metric_names, ", ")));
  if (ensemble_ > settings_.full)
    throw ParameterError("ensemble", fmt::format("an ensemble of {} needs as many fully trained "
                                                 "samples ('full' is {})",
                                                 ensemble_, settings_.full));
  if (ensemble_ > 0 && !keep_weights_)
    throw ParameterError("ensemble", "an ensemble needs the members' weights: keep_weights must "
                                     "be true");
  if (ensemble_ == 0 && vote_ != Vote::majority)
    throw ParameterError("vote", "'vote' decides an ensemble: give 'ensemble' too");
  if (settings_.batch && settings_.workers < 2)
    throw ParameterError("dispatch", "'dispatch: batch' decides 'workers' samples together: "
                                     "give workers >= 2");
  if (!settings_.moves && settings_.parents > 1)
    throw ParameterError("parents", "'parents' are where moves start, and 'moves' is false");
  if (bounds_from_.empty() && p.string("bound_metrics") != "memory_eq6_bytes, flops")
    throw ParameterError("bound_metrics", "'bound_metrics' needs 'bounds_from', the stage whose "
                                          "model they are taken from");
  if (bounds_from_.empty() && fraction_ != 1.0)
    throw ParameterError("fraction", "'fraction' needs 'bounds_from', the stage it is a fraction of");
}

void MonteCarloStrategy::check(const StagePlan& plan) const {
  if (!space_.empty()) require_spaces(plan, "space", {space_});
  if (!laws_.empty()) plan.require_earlier("laws", laws_);
  if (!bounds_from_.empty()) plan.require_earlier("bounds_from", bounds_from_, "monte_carlo");
}

Constraints MonteCarloStrategy::constraints(StageContext& ctx) const {
  Constraints c = ctx.constraints();
  if (bounds_from_.empty()) return c;
  const auto results = ctx.store().records("monte_carlo.result", bounds_from_);
  if (results.empty())
    throw Error(fmt::format("stage '{}' is bounded by stage '{}', which stored no accepted model",
                            ctx.stage(), bounds_from_));
  const json accepted = json::parse(results.back().data).at("accepted");
  for (const auto& metric : bound_metrics_) {
    const double value = accepted.at("metrics").at(metric).get<double>();
    Constraint bound;
    bound.metric = metric;
    bound.max = std::floor(fraction_ * value);
    bound.text = fmt::format("{:g}% of {} of stage {}", 100 * fraction_, value, bounds_from_);
    c.bounds.push_back(std::move(bound));
  }
  return c;
}

void MonteCarloStrategy::run(StageContext& ctx) {
  Store& store = ctx.store();
  const std::vector<SpaceEntry> spaces =
      laws_.empty() ? ctx.spaces() : ctx.learned_spaces(laws_);
  const SpaceEntry* entry = &spaces.front();
  for (const SpaceEntry& e : spaces)
    if (e.name == space_) entry = &e;
  if (entry->laws.empty())
    throw Error(fmt::format("stage '{}': stage '{}' learned no laws for space '{}'", ctx.stage(),
                            laws_, entry->name));
  const Constraints bounds = constraints(ctx);

  UnitKey config = ctx.unit_key(1);
  config.add(entry->key);
  for (const SamplingLaw& law : entry->laws) config.add(entry->law_key(law));
  config.add("random", settings_.random)
      .add("traction", settings_.traction)
      .add("full", settings_.full)
      .add("traction_iterations", traction_iterations_)
      .add("workers", settings_.workers)
      .add("batch", int(settings_.batch))
      .add("parents", settings_.parents)
      .add("moves", int(settings_.moves))
      .add("beta", fmt::format("{}", settings_.beta))
      .add("regularizer", settings_.regularizer)
      .add("max_tries", settings_.max_tries)
      .add("factors", fmt::format("{} {}", settings_.factors.up, settings_.factors.down))
      .add("config", config_.to_json().dump())
      .add("constraints", bounds.key())
      .add("seed", ctx.seed());

  MonteCarloSearch search(*entry->space, entry->laws, bounds, settings_,
                          content_seed(fmt::format("{}|monte_carlo|{}", ctx.seed(), entry->key)));
  const auto data = load_dataset(ctx.registry(), ctx.dataset());

  TrainingConfig traction = config_;
  traction.iterations = traction_iterations_;
  std::vector<std::optional<TrainResult>> results(std::size_t(search.total()));
  std::int64_t trained = 0, stored_before = 0;
  Progress progress(fmt::format("{} samples", ctx.stage()), std::uint64_t(search.total()),
                    "trained");

  // The record of a trained sample: a unit keyed by its index and training.
  auto record = [&](const Sample& s, const TrainResult& r) {
    json sample{{"index", s.index},
                {"phase", phase_name(s.phase)},
                {"parent", s.parent},
                {"move", s.move_text},
                {"refused", s.refused},
                {"architecture_hash", s.draw.hash},
                {"training", r.key},
                {"status", r.status},
                {"val_loss", json_number(r.validation.loss)},
                {"val_accuracy", r.validation.accuracy},
                {"test_accuracy", r.test.accuracy},
                {"objective", json_number(s.objective)},
                {"regularizer", s.draw.metrics.get(settings_.regularizer)},
                {"metrics", metrics_json(s.draw.metrics)}};
    UnitKey key(config);
    key.add("sample", s.index).add("training", r.key);
    ctx.once(key, "monte_carlo.sample", [&] {
      return StageContext::UnitOutput{sample.dump(),
                                      {Record{"monte_carlo.sample", "", "", sample.dump()}}};
    });
  };

  TrainingService& service = ctx.training();
  ctx.info(fmt::format(
      "{}: {} random, {} traction and {} full samples of space '{}', {} worker{} ({}), "
      "training service: {} jobs at once, {} LibTorch thread{} each",
      ctx.stage(), settings_.random, settings_.traction, settings_.full, entry->name,
      settings_.workers, settings_.workers == 1 ? "" : "s",
      settings_.workers == 1 ? "synchronous" : settings_.batch ? "batches" : "asynchronous",
      service.jobs(), service.threads_per_job(), service.threads_per_job() == 1 ? "" : "s"));
  // The draws depend on no result: decided at once, in batches on the stage's threads.
  search.decide_draws_ahead(ctx.threads());
  train_samples(
      search, service,
      [&](const Sample& s) {
        check_fits(s.draw.architecture, *data);
        return sample_job(s, ctx.dataset(), s.phase == Phase::full ? config_ : traction,
                          ctx.seed(), keep_weights_, ctx.registry());
      },
      [&](const TrainJob& job) -> std::optional<TrainResult> {
        const auto stored = store.unit_result(job.key);
        if (!stored) return std::nullopt;
        TrainResult r = TrainResult::from_json(json::parse(*stored));
        r.key = job.key;
        r.architecture_hash = job.architecture_hash;
        return r;
      },
      [&](const Sample& s, const TrainJob& job, const TrainResult& r, bool was_stored) {
        if (was_stored)
          ++stored_before;
        else
          store.commit_training(ctx.stage(), job, r, s.draw.metrics);
        record(s, r);
        results[std::size_t(s.index)] = r;
        results[std::size_t(s.index)]->weights.clear();  // the store keeps them
        progress.update(std::uint64_t(++trained));
        if (!Progress::interactive())
          ctx.info(fmt::format(
              "{}: #{} of {} {} {} from {}: {} J {:.4f} val {:.4f}{}{}", ctx.stage(), s.index,
              search.total(), phase_name(s.phase), s.draw.hash.substr(0, 12),
              s.parent < 0 ? std::string("-") : fmt::format("#{}", s.parent), s.move_text,
              s.objective, r.validation.accuracy, was_stored ? " (stored)" : "",
              r.status == "ok" ? std::string() : " (" + r.reason + ")"));
      });
  progress.finish();
  std::vector<std::string> training_keys;  // by sample: every one has finished
  for (const auto& r : results) training_keys.push_back(r->key);

  // The accepted model: the best J among the fully trained samples.
  const auto ranked = search.ranking(search.total() - 1, Phase::full);
  if (ranked.empty())
    throw Error(fmt::format("stage '{}': every fully trained sample failed, the last: {}",
                            ctx.stage(), results.back() ? results.back()->reason : ""));
  const Sample& best = search.samples()[std::size_t(ranked.front())];
  const TrainResult& r = *results[std::size_t(best.index)];
  std::int64_t refused = 0, descents = 0, draws = 0;
  for (const Sample& s : search.samples()) {
    refused += s.refused;
    if (s.move_text.find("(descent)") != std::string::npos) ++descents;
    if (s.parent < 0) ++draws;
  }
  json bound_list = json::array();
  for (const Constraint& c : bounds.bounds)
    bound_list.push_back({{"metric", c.metric}, {"max", c.max}, {"text", c.text}});
  json accepted{{"index", best.index},
                {"architecture_hash", best.draw.hash},
                {"training", r.key},
                {"objective", best.objective},
                {"val_loss", r.validation.loss},
                {"val_accuracy", r.validation.accuracy},
                {"test_accuracy", r.test.accuracy},
                {"move", best.move_text},
                {"metrics", metrics_json(best.draw.metrics)}};
  json result{{"accepted", accepted},
              {"space", entry->name},
              {"bounds", bound_list},
              {"bounds_from", bounds_from_},
              {"fraction", fraction_},
              {"samples", search.total()},
              {"trained", trained - stored_before},
              {"stored_before", stored_before},
              {"draws", draws},
              {"descent_steps", descents},
              {"refused", refused},
              {"workers", settings_.workers},
              {"dispatch", settings_.batch ? "batch" : "async"},
              {"parents", settings_.parents},
              {"moves", settings_.moves}};
  UnitKey result_key(config);
  result_key.add("result");
  for (const std::string& key : training_keys) result_key.add(key);
  ctx.once(result_key, "monte_carlo.result", [&] {
    return StageContext::UnitOutput{result.dump(),
                                    {Record{"monte_carlo.result", "", "", result.dump()}}};
  });
  ctx.info(fmt::format(
      "{}: accepted sample #{} ({}): J {:.4f}, val {:.4f} test {:.4f}, {} params, {} memory "
      "(eq. 6), {} FLOPs; {} draws, {} moves ({} descent steps), {} refused on the way",
      ctx.stage(), best.index, best.draw.hash.substr(0, 12), best.objective,
      r.validation.accuracy, r.test.accuracy, best.draw.metrics.params,
      best.draw.metrics.memory_eq6_bytes, best.draw.metrics.flops, draws,
      search.total() - draws, descents, refused));
  if (ensemble_ > 0) evaluate_ensemble(ctx, search, training_keys, bounds, config, result);
  ctx.set_summary(result.dump());
}

void MonteCarloStrategy::evaluate_ensemble(StageContext& ctx, const MonteCarloSearch& search,
                                           const std::vector<std::string>& training_keys,
                                           const Constraints& bounds, const UnitKey& config,
                                           json& summary) const {
  const auto members = ensemble_members(search, std::size_t(ensemble_), bounds);
  if (members.empty()) return;  // no fully trained sample: the stage has failed before
  UnitKey key(config);
  key.add("ensemble", std::int64_t(members.size())).add("vote", vote_name(vote_));
  for (std::int64_t k : members) key.add(training_keys[std::size_t(k)]);
  std::vector<Metrics> metrics;
  for (std::int64_t k : members) metrics.push_back(search.samples()[std::size_t(k)].draw.metrics);
  const Metrics sum = ensemble_metrics(metrics);
  const std::string stored = ctx.once(key, "monte_carlo.ensemble", [&] {
    EnsembleJob job;
    job.dataset = ctx.dataset();
    job.vote = vote_;
    json list = json::array();
    for (std::int64_t k : members) {
      const Sample& s = search.samples()[std::size_t(k)];
      const std::string& training = training_keys[std::size_t(k)];
      auto weights = ctx.store().training_weights(training);
      if (!weights)
        throw Error(fmt::format("stage '{}': the weights of sample {} (training {}) are not "
                                "stored, so it cannot join the ensemble",
                                ctx.stage(), k, training));
      job.architecture_json.push_back(s.draw.json);
      job.weights.push_back(std::move(*weights));
      list.push_back({{"index", k},
                      {"architecture_hash", s.draw.hash},
                      {"training", training},
                      {"objective", s.objective},
                      {"val_accuracy", s.accuracy}});
    }
    const auto [validation, test] = ctx.training().evaluate_ensemble(job);
    json data{{"members", list},
              {"vote", vote_name(vote_)},
              {"val_loss", json_number(validation.loss)},
              {"val_accuracy", validation.accuracy},
              {"test_loss", json_number(test.loss)},
              {"test_accuracy", test.accuracy},
              {"metrics", metrics_json(sum)}};
    return StageContext::UnitOutput{data.dump(),
                                    {Record{"monte_carlo.ensemble", "", "", data.dump()}}};
  });
  const json e = json::parse(stored);
  summary["ensemble"] = e;
  ctx.info(fmt::format("{}: ensemble of {} ({} vote{}): val {:.4f} test {:.4f}; {} params, {} "
                       "memory (eq. 6), {} FLOPs, summed over the members",
                       ctx.stage(), members.size(), vote_name(vote_),
                       std::int64_t(members.size()) < ensemble_
                           ? fmt::format(", {} asked: no more fit the bounds together", ensemble_)
                           : std::string(),
                       e["val_accuracy"].get<double>(), e["test_accuracy"].get<double>(),
                       sum.params, sum.memory_eq6_bytes, sum.flops));
}

}  // namespace narrow::strategies
