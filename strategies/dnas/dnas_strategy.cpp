#include "dnas_strategy.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "narrow/channel_search.hpp"
#include "narrow/dataset.hpp"
#include "narrow/device.hpp"
#include "narrow/errors.hpp"
#include "narrow/format.hpp"
#include "narrow/hash.hpp"
#include "narrow/metrics.hpp"
#include "narrow/name_lists.hpp"
#include "narrow/store.hpp"
#include "narrow/units.hpp"

namespace narrow::strategies {

using nlohmann::json;

ParamSchema DnasStrategy::schema() {
  ParamSchema s{
      ParamSpec::string("space", "", "the space of `seed` (default: the experiment's first)"),
      ParamSpec::string("seed", "", "the seed network: a reference model of the space"),
      ParamSpec::string("seed_file", "",
                        "the seed network as an architecture JSON file (instead of `seed`)"),
      ParamSpec::string("targets", "",
                        "cost bounds of the exported model, {metric: value, ...}: a quantity "
                        "(16KiB, 2ms, 50k) or a percentage of the seed's cost (20%); metrics "
                        "params, macs, flops, weight_bytes, memory_eq6_bytes, "
                        "activation_peak_bytes, deployed_bytes, latency"),
      ParamSpec::string("format", "",
                        "number format of the costs: the bits of weight_bytes, what "
                        "deployed_bytes stores (empty: float32)"),
      ParamSpec::real("lambda", 0, 0, 1e9,
                      "penalty weight every target reaches; 0: the warm-up's last training "
                      "loss / 10"),
      ParamSpec::real("threshold", 0.5, 1e-6, 1e6, "a channel lives while |alpha| > threshold"),
      ParamSpec::real("mask_learning_rate", 1.0, 1e-9, 1000, "SGD learning rate of the masks (on the weights' schedule, no momentum, no weight decay)"),
      ParamSpec::real("ramp", 0.5, 0, 1,
                      "lambda rises from lambda/100 to lambda over this fraction of the search "
                      "epochs"),
      ParamSpec::integer("warmup_epochs", 5, 1, 100000, "training of the seed before the search"),
      ParamSpec::integer("finetune_epochs", 5, 0, 100000,
                         "training of the exported model after the search"),
      ParamSpec::real("finetune_learning_rate", 0, 0, 100,
                      "the fine-tuning's learning rate (0: the search's learning_rate / 10)"),
      ParamSpec::boolean("baseline", true,
                         "also train the seed from scratch for warmup + search + fine-tuning "
                         "epochs: the accuracy and time the search is compared with"),
      ParamSpec::boolean("keep_weights", true, "store the fine-tuned weights"),
  };
  for (auto& p : TrainingConfig::schema()) s.push_back(std::move(p));
  return s;
}

DnasStrategy::DnasStrategy(const Parameters& p)
    : space_(p.string("space")),
      seed_(p.string("seed")),
      seed_file_(p.string("seed_file")),
      format_(p.string("format")),
      lambda_(p.real("lambda")),
      threshold_(p.real("threshold")),
      mask_learning_rate_(p.real("mask_learning_rate")),
      ramp_(p.real("ramp")),
      warmup_epochs_(p.integer("warmup_epochs")),
      finetune_epochs_(p.integer("finetune_epochs")),
      finetune_learning_rate_(p.real("finetune_learning_rate")),
      baseline_(p.boolean("baseline")),
      keep_weights_(p.boolean("keep_weights")),
      config_(TrainingConfig::from(p)) {
  if (seed_.empty() == seed_file_.empty())
    throw ParameterError(seed_.empty() ? "seed" : "seed_file",
                         "give the seed network once: `seed` (a reference model of the space) "
                         "or `seed_file` (an architecture JSON file)");
  if (p.string("targets").empty())
    throw ParameterError("targets", "give at least one target, e.g. {deployed_bytes: 20%}");
  targets_ = parse_targets(p.string("targets"));
  if (config_.iterations > 0)
    throw ParameterError("iterations", "the search trains whole epochs (lambda follows them); "
                                       "give epochs instead");
}

void DnasStrategy::check(const StagePlan& plan) const {
  if (!space_.empty()) require_spaces(plan, "space", {space_});
  for (const auto& t : targets_)
    if (t.metric == "latency" && !plan.device_predicts)
      throw ParameterError("targets", "a latency target needs the experiment's device to "
                                      "predict latency (device: analytic, or calibrated with a "
                                      "calibration file)");
  if (!format_.empty() && plan.registry) {
    try {
      (void)create_format(*plan.registry, format_);
    } catch (const InputError& e) {
      throw ParameterError("format", e.message());
    }
  }
  // The seed must build before any work.
  seed_architecture(plan.space_objects, plan.spaces);
}

Architecture DnasStrategy::seed_architecture(const std::vector<const SearchSpace*>& spaces,
                                             const std::vector<std::string>& names) const {
  if (!seed_file_.empty()) {
    std::ifstream in(seed_file_);
    if (!in)
      throw ParameterError("seed_file", fmt::format("cannot read '{}' (from {})", seed_file_,
                                                    std::filesystem::current_path().string()));
    std::stringstream text;
    text << in.rdbuf();
    try {
      return Architecture::from_json_string(text.str());
    } catch (const Error& e) {
      throw ParameterError("seed_file", fmt::format("'{}' is not an architecture: {}",
                                                    seed_file_, e.what()));
    }
  }
  std::size_t at = 0;
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == space_) at = i;
  if (spaces.empty() || !spaces.at(at))
    throw ParameterError("seed", "the experiment has no space to take the seed from");
  const SearchSpace& space = *spaces.at(at);
  const auto refs = space.references();
  if (std::find(refs.begin(), refs.end(), seed_) == refs.end())
    throw ParameterError("seed", fmt::format("'{}' is not a reference of space '{}' (valid: {})",
                                             seed_, names.at(at), fmt::join(refs, ", ")));
  Architecture a = space.build(space.reference(seed_));
  a.finalize();
  return a;
}

namespace {

std::optional<TrainResult> find_training(const Store& store, const std::string& key) {
  const auto stored = store.unit_result(key);
  if (!stored) return std::nullopt;
  return TrainResult::from_json(json::parse(*stored));
}

json training_json(const TrainResult& r) {
  return json{{"key", r.key},
              {"architecture_hash", r.architecture_hash},
              {"status", r.status},
              {"epochs", r.epochs},
              {"val_accuracy", r.validation.accuracy},
              {"test_accuracy", r.test.accuracy},
              {"seconds", r.seconds}};
}

}  // namespace

void DnasStrategy::run(StageContext& ctx) {
  Store& store = ctx.store();
  std::vector<const SearchSpace*> spaces;
  std::vector<std::string> names;
  for (const auto& e : ctx.spaces()) {
    spaces.push_back(e.space);
    names.push_back(e.name);
  }
  const Architecture seed = seed_architecture(spaces, names);
  const std::string seed_hash = seed.hash();
  const auto data = load_dataset(ctx.registry(), ctx.dataset());
  check_fits(seed, *data);
  const auto format = format_.empty() ? nullptr : create_format(ctx.registry(), format_);
  const Device* device = ctx.device();

  // The targets, resolved against the seed's costs.
  ChannelSearch search;
  search.threshold = threshold_;
  search.mask_learning_rate = mask_learning_rate_;
  search.ramp = ramp_;
  search.format = format_;
  if (device) search.device = device->description().dump();
  std::vector<double> seed_costs;
  for (const auto& t : targets_) {
    seed_costs.push_back(channel_cost(t.metric, seed, format.get(), device));
    search.targets.push_back(CostTarget{t.metric, t.resolve(seed_costs.back()), 0});
  }

  auto job_for = [&](const Architecture& arch, const std::string& hash, TrainingConfig config,
                     const std::string& phase) {
    TrainJob job;
    job.architecture_hash = hash;
    job.architecture_json = arch.to_json_string();
    job.dataset = ctx.dataset();
    job.config = std::move(config);
    job.seed = content_seed(fmt::format("{}|dnas|{}|{}", ctx.seed(), phase, seed_hash));
    job.keep_weights = true;
    return job;
  };
  TrainingConfig warm_config = config_;
  warm_config.epochs = warmup_epochs_;
  TrainJob warm = job_for(seed, seed_hash, warm_config, "warmup");
  warm.make_key(ctx.registry());
  TrainingConfig base_config = config_;
  base_config.epochs = warmup_epochs_ + config_.epochs + finetune_epochs_;
  TrainJob base = job_for(seed, seed_hash, base_config, "baseline");
  base.keep_weights = keep_weights_;
  base.make_key(ctx.registry());

  auto train = [&](std::vector<TrainJob> jobs, const std::string& what) {
    std::vector<TrainJob> todo;
    for (auto& j : jobs)
      if (!store.unit_result(j.key)) todo.push_back(std::move(j));
    if (todo.empty()) return;
    ctx.info(fmt::format("{}: {} ({} training{} of up to {} epochs)", ctx.stage(), what,
                         todo.size(), todo.size() == 1 ? "" : "s",
                         std::max_element(todo.begin(), todo.end(), [](auto& a, auto& b) {
                           return a.config.epochs < b.config.epochs;
                         })->config.epochs));
    std::map<std::string, const TrainJob*> by_key;
    for (const auto& j : todo) by_key[j.key] = &j;
    ctx.training().run(todo, [&](const TrainResult& r) {
      TrainJob stored = *by_key.at(r.key);
      Metrics metrics;
      if (!r.architecture_json.empty()) {  // a search: stored under its export
        stored.architecture_json = r.architecture_json;
        stored.architecture_hash = r.architecture_hash;
      }
      const Architecture arch = Architecture::from_json_string(stored.architecture_json);
      store.commit_training(ctx.stage(), stored, r, analyse(arch));
      ctx.info(fmt::format("{}: {} {} val {:.4f} test {:.4f} ({:.1f} s){}", ctx.stage(),
                           stored.kind() == "train" ? "trained" : "searched",
                           r.architecture_hash.substr(0, 12), r.validation.accuracy,
                           r.test.accuracy, r.seconds,
                           r.status == "ok" ? std::string() : ": " + r.reason));
    });
  };

  // 1. Warm-up of the seed (and the baseline beside it).
  std::vector<TrainJob> first{warm};
  if (baseline_) first.push_back(base);
  train(first, baseline_ ? "warm-up and baseline" : "warm-up");
  const auto warmed = find_training(store, warm.key);
  if (!warmed || warmed->status != "ok")
    throw Error(fmt::format("stage '{}': the seed's warm-up failed{}", ctx.stage(),
                            warmed ? ": " + warmed->reason : ""));
  const double warm_loss = warmed->history.empty() ? 1.0 : warmed->history.back().train_loss;
  const double lambda = lambda_ > 0 ? lambda_ : warm_loss / 10.0;
  for (auto& t : search.targets) t.lambda = lambda;

  // 2. The search, from the warmed-up weights.
  TrainJob searching = job_for(seed, seed_hash, config_, "search");
  searching.init_weights = store.training_weights(warm.key).value_or("");
  if (searching.init_weights.empty())
    throw Error(fmt::format("stage '{}': the warm-up's weights are not stored", ctx.stage()));
  searching.search = search;
  searching.make_key(ctx.registry());
  train({searching}, fmt::format("search under {}", [&] {
          std::vector<std::string> t;
          for (const auto& x : targets_) t.push_back(x.metric + " " + x.text);
          return fmt::format("{}", fmt::join(t, ", "));
        }()));
  const auto searched = find_training(store, searching.key);
  if (!searched || searched->status != "ok")
    throw Error(fmt::format("stage '{}': the search failed{}", ctx.stage(),
                            searched ? ": " + searched->reason : ""));
  const std::string exported_json = store.architecture_json(searched->architecture_hash).value();
  const Architecture exported = Architecture::from_json_string(exported_json);

  // 3. Fine-tuning of the export.
  std::optional<TrainJob> tuning;
  if (finetune_epochs_ > 0) {
    TrainingConfig tune_config = config_;
    tune_config.epochs = finetune_epochs_;
    tune_config.learning_rate =
        finetune_learning_rate_ > 0 ? finetune_learning_rate_ : config_.learning_rate / 10;
    tuning = job_for(exported, searched->architecture_hash, tune_config, "finetune");
    tuning->keep_weights = keep_weights_;
    tuning->init_weights = store.training_weights(searching.key).value_or("");
    tuning->make_key(ctx.registry());
    train({*tuning}, "fine-tuning of the export");
  }
  const auto final_model = tuning ? find_training(store, tuning->key) : searched;
  const auto baseline = baseline_ ? find_training(store, base.key) : std::nullopt;
  if (!final_model || final_model->status != "ok")
    throw Error(fmt::format("stage '{}': the fine-tuning failed{}", ctx.stage(),
                            final_model ? ": " + final_model->reason : ""));

  // 4. The result: the export against its targets, the phases, the comparison.
  const json details = json::parse(searched->details);
  json targets = json::array();
  bool all_met = true;
  for (std::size_t i = 0; i < targets_.size(); ++i) {
    // The search measured the export's costs on its own copy of the format and device.
    const double value = details.at("targets").at(i).at("exported").get<double>();
    const double target = search.targets[i].value;
    all_met = all_met && value <= target;
    targets.push_back(json{{"metric", targets_[i].metric},
                           {"written", targets_[i].text},
                           {"target", target},
                           {"seed", seed_costs[i]},
                           {"exported", value},
                           {"reduction", 1.0 - value / seed_costs[i]},
                           {"met", value <= target}});
  }
  json result{{"seed", seed_hash},
              {"seed_name", seed_.empty() ? seed_file_ : seed_},
              {"exported", searched->architecture_hash},
              {"format", format_.empty() ? "float32" : format_},
              {"device", device ? device->description() : json()},
              {"lambda", lambda},
              {"targets", targets},
              {"met", all_met},
              {"warmup", training_json(*warmed)},
              {"search", training_json(*searched)},
              {"groups", details.value("groups", json::array())},
              {"model", training_json(*final_model)},
              {"metrics", metrics_json(analyse(exported))}};
  if (tuning) result["finetune"] = training_json(*final_model);
  if (baseline) {
    result["baseline"] = training_json(*baseline);
    const double per_epoch_base = baseline->seconds / double(std::max<std::int64_t>(1, baseline->epochs));
    const double per_epoch_search = searched->seconds / double(std::max<std::int64_t>(1, searched->epochs));
    result["search_vs_training"] = per_epoch_base > 0 ? per_epoch_search / per_epoch_base : 0.0;
    result["accuracy_change"] = final_model->test.accuracy - baseline->test.accuracy;
  }
  UnitKey key = ctx.unit_key(1);
  key.add("seed", seed_hash)
      .add("warmup", warm.key)
      .add("search", searching.key)
      .add("finetune", tuning ? tuning->key : std::string())
      .add("baseline", baseline_ ? base.key : std::string());
  ctx.once(key, "dnas.result", [&] {
    StageContext::UnitOutput out;
    out.result = result.dump();
    out.records.push_back(Record{"dnas.result", "", "", result.dump()});
    return out;
  });

  std::vector<std::string> lines;
  for (const auto& t : targets)
    lines.push_back(fmt::format("{} {:.4g} of target {:.4g} ({:.1f}% below the seed){}",
                                t["metric"].get<std::string>(), t["exported"].get<double>(),
                                t["target"].get<double>(), 100 * t["reduction"].get<double>(),
                                t["met"].get<bool>() ? "" : " NOT MET"));
  ctx.info(fmt::format("{}: export {}: {}", ctx.stage(), searched->architecture_hash.substr(0, 12),
                       fmt::join(lines, "; ")));
  ctx.info(fmt::format("{}: test accuracy {:.4f} after fine-tuning{}", ctx.stage(),
                       final_model->test.accuracy,
                       baseline ? fmt::format(" (seed trained alone {:.4f}; a search epoch took "
                                              "{:.2f}x a training epoch)",
                                              baseline->test.accuracy,
                                              result["search_vs_training"].get<double>())
                                : std::string()));
  ctx.set_summary(result.dump());
}

}  // namespace narrow::strategies
