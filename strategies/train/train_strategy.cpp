#include "train_strategy.hpp"

#include "candidate_selection.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "narrow/architecture.hpp"
#include "narrow/device.hpp"
#include "narrow/errors.hpp"
#include "narrow/hash.hpp"
#include "narrow/metrics.hpp"
#include "narrow/name_lists.hpp"
#include "narrow/progress.hpp"
#include "narrow/units.hpp"

namespace narrow::strategies {

using nlohmann::json;

ParamSchema TrainStrategy::schema() {
  std::vector<std::string> metrics{"auto"};
  metrics.insert(metrics.end(), metric_names.begin(), metric_names.end());
  ParamSchema s{
      ParamSpec::choice("select", "best", {"all", "best", "grid", "references"},
                        "which architectures train: all accepted, the 'count' best by 'metric', "
                        "'count' that fill a log grid of 'metric' values (or the given "
                        "'budgets'), or the reference models shrunk to each of 'budgets'"),
      ParamSpec::integer("count", 10, 1, 1000000, "how many architectures train (best, grid)"),
      ParamSpec::choice("metric", "auto", metrics,
                        "the metric that ranks (best), spans (grid) or bounds (references); "
                        "auto: params, and weight_bytes for references"),
      ParamSpec::choice("rank", "auto", metrics,
                        "grid: within each budget, take the candidates with the largest value of "
                        "this metric (auto: 'metric' itself, the model that fills the budget; "
                        "macs: the one that computes most within it)"),
      ParamSpec::integer("per_budget", 1, 1, 1000,
                         "grid: candidates that train per budget, the best by 'rank' (count x "
                         "per_budget in all)"),
      ParamSpec::choice("order", "largest", {"largest", "smallest"},
                        "best: take the largest or the smallest values of 'metric'"),
      ParamSpec::string("from", "", "take the architectures of this stage only (default: all)"),
      ParamSpec::boolean("keep_weights", true, "store the trained weights with each result"),
      ParamSpec::string("budgets", "",
                        "references: the budgets of 'metric' each reference is shrunk to; grid: "
                        "the budgets that replace the log grid of 'count'; a list like [4KiB, "
                        "16KiB]"),
      ParamSpec::string("references", "",
                        "references: which references, a comma list (default: every reference "
                        "of every space)"),
      ParamSpec::string("spaces", "",
                        "references: the spaces whose references train, a comma list (default: "
                        "all)"),
      ParamSpec::choice("measure_latency", "auto", {"auto", "off"},
                        "auto: with a latency bound and a device that measures, measure every "
                        "selected architecture first and train none whose measured latency is "
                        "over the bound; off: the prediction alone decides"),
  };
  for (auto& p : TrainingConfig::schema()) s.push_back(std::move(p));
  return s;
}

const Architecture& ParsedArchitectures::of(const ArchitectureRecord& record) {
  auto it = by_hash_.find(record.hash);
  if (it == by_hash_.end())
    it = by_hash_.emplace(record.hash, Architecture::from_json_string(record.json)).first;
  return it->second;
}

TrainStrategy::TrainStrategy(const Parameters& p)
    : select_(p.string("select")),
      metric_(p.string("metric") != "auto"              ? p.string("metric")
              : p.string("select") == "references" ? "weight_bytes"
                                                   : "params"),
      order_(p.string("order")),
      rank_(p.string("rank") == "auto" ? metric_ : p.string("rank")),
      from_(p.string("from")),
      measure_latency_(p.string("measure_latency")),
      count_(p.integer("count")),
      per_budget_(p.integer("per_budget")),
      keep_weights_(p.boolean("keep_weights")),
      config_(TrainingConfig::from(p)) {
  if (select_ == "references") {
    request_.budgets = parse_budgets(p.string("budgets"), metric_);
    request_.metric = metric_;
    request_.references = comma_list(p.string("references"));
    request_.spaces = comma_list(p.string("spaces"));
    return;
  }
  if (!p.string("budgets").empty()) {
    if (select_ != "grid")
      throw ParameterError("budgets", fmt::format("only 'select: references' and 'select: grid' "
                                                  "use 'budgets' (select is '{}')",
                                                  select_));
    grid_budgets_ = parse_budgets(p.string("budgets"), metric_);
  }
  for (const char* name : {"references", "spaces"})
    if (!p.string(name).empty())
      throw ParameterError(name, fmt::format("only 'select: references' uses '{}' (select is "
                                             "'{}')",
                                             name, select_));
}

std::vector<double> TrainStrategy::budget_values() const {
  std::vector<double> out;
  for (const auto& b : grid_budgets_) out.push_back(b.value);
  return out;
}

// How the selection was made, for the stage's line: "grid of 10 by params", "grid of 5 in
// each of 4KiB, 16KiB by weight_bytes".
std::string TrainStrategy::select_text() const {
  if (select_ == "references") return fmt::format(" by {}", metric_);
  if (select_ == "all") return "";
  if (!grid_budgets_.empty()) {
    std::vector<std::string> texts;
    for (const auto& b : grid_budgets_) texts.push_back(b.text);
    return fmt::format(" of {} in each of {} by {}", per_budget_, fmt::join(texts, ", "), rank_);
  }
  if (select_ == "grid" && per_budget_ > 1)
    return fmt::format(" of {} x {} by {}", count_, per_budget_, metric_);
  return fmt::format(" of {} by {}", count_, metric_);
}

void TrainStrategy::check(const StagePlan& plan) const {
  require_spaces(plan, "spaces", request_.spaces);
  if (select_ == "references")
    check_references(chosen_spaces(plan.spaces, plan.space_objects, request_), request_);
}

std::vector<ArchitectureRecord> TrainStrategy::select_within_latency(
    StageContext& ctx, std::vector<ArchitectureRecord> pool, ParsedArchitectures& graphs,
    json& summary) {
  const Constraint* bound = ctx.constraints().latency_bound();
  Device* device = ctx.device();
  if (measure_latency_ == "off" || !bound || !device || !device->measures())
    return select_candidates(std::move(pool), select_, count_, metric_, order_, rank_, per_budget_,
                             budget_values());

  Store& store = ctx.store();
  LatencyOptions options = device->latency_options();
  options.layers = false;  // the network's latency is all the bound needs
  const std::string device_text = device->description().dump();
  const std::string options_text = options.to_json().dump();
  std::map<std::string, double> measured;  // seconds by architecture hash
  std::int64_t new_measurements = 0, stored_before = 0;
  json over = json::array();
  std::vector<ArchitectureRecord> picked;
  while (true) {
    picked = select_candidates(pool, select_, count_, metric_, order_, rank_, per_budget_,
                             budget_values());
    // Measure what this selection has that no earlier one had, one model at a time.
    std::vector<const ArchitectureRecord*> todo;
    for (const auto& a : picked)
      if (!measured.count(a.hash)) todo.push_back(&a);
    if (!todo.empty()) {
      Progress progress(fmt::format("{} latency", ctx.stage()), todo.size(), "models");
      std::uint64_t done = 0;
      for (const auto* a : todo) {
        const std::string key =
            UnitKey("latency", 1).add(device_text).add(options_text).add(a->hash).hash();
        if (auto stored = store.unit_result(key)) {
          measured[a->hash] = LatencyMeasurement::from_json(json::parse(*stored)).mean;
          ++stored_before;
        } else {
          LatencyRecord r{key, ctx.stage(), a->hash, device_text,
                          device->measure(graphs.of(*a), options)};
          store.commit_latency(r);
          measured[a->hash] = r.measurement.mean;
          ++new_measurements;
        }
        progress.update(++done);
      }
    }
    std::set<std::string> dropped;
    for (const auto& a : picked) {
      const double t = measured.at(a.hash);
      if (t <= bound->max) continue;
      dropped.insert(a.hash);
      const auto predicted = device->predict(graphs.of(a), a.metrics);
      json o{{"architecture_hash", a.hash}, {"measured_s", t}};
      std::string line = fmt::format("{}: {} not trained: {}", ctx.stage(), a.hash.substr(0, 12),
                                     Constraints::describe(*bound, a.metrics, t, true));
      if (predicted) {
        o["predicted_s"] = *predicted;
        line += fmt::format(", predicted {}", seconds_text(*predicted));
      }
      over.push_back(std::move(o));
      ctx.info(line);
    }
    if (dropped.empty()) break;
    std::erase_if(pool, [&](const auto& a) { return dropped.count(a.hash) > 0; });
  }
  ctx.info(fmt::format(
      "{}: latency measured on device '{}' ({} thread{}): {} new, {} stored before; {} over "
      "the bound {} by measurement",
      ctx.stage(), device->name(), options.threads, options.threads == 1 ? "" : "s",
      new_measurements, stored_before, over.size(), bound->text));
  json latencies = json::object();
  for (const auto& a : picked) latencies[a.hash] = measured.at(a.hash);
  summary["latency"] = {{"bound_s", bound->max},
                        {"measured", new_measurements + stored_before},
                        {"measured_before", stored_before},
                        {"over_bound", over},
                        {"selected_s", latencies}};
  if (picked.empty())
    throw Error(fmt::format(
        "stage '{}': every candidate selected was over the latency bound {} when measured on "
        "device '{}' ({} of them); loosen the bound, or calibrate the device again",
        ctx.stage(), bound->text, device->name(), over.size()));
  return picked;
}

std::map<std::string, std::string> TrainStrategy::train(
    StageContext& ctx, const std::vector<ArchitectureRecord>& picked) {
  Store& store = ctx.store();
  ParsedArchitectures graphs;
  // Every selected model must fit the data before any training starts.
  const auto data = load_dataset(ctx.registry(), ctx.dataset());
  for (const auto& a : picked) check_fits(graphs.of(a), *data);

  std::vector<TrainJob> jobs;
  std::map<std::string, Metrics> metrics;  // by job key
  std::map<std::string, std::string> keys;  // by architecture hash
  std::size_t done_before = 0;
  for (const auto& a : picked) {
    TrainJob job;
    job.architecture_hash = a.hash;
    job.architecture_json = a.json;
    job.dataset = ctx.dataset();
    job.config = config_;
    job.seed = content_seed(fmt::format("{}|train|{}", ctx.seed(), a.hash));
    job.keep_weights = keep_weights_;
    job.make_key(ctx.registry());
    metrics[job.key] = a.metrics;
    keys[a.hash] = job.key;
    if (store.unit_result(job.key)) {
      ++done_before;  // trained before this resume
      continue;
    }
    jobs.push_back(std::move(job));
  }
  std::map<std::string, const TrainJob*> by_key;
  for (const auto& j : jobs) by_key[j.key] = &j;

  ctx.info(fmt::format("{}: {} architectures selected ({}{}), {} to train{}", ctx.stage(),
                       picked.size(), select_,
                       select_text(),
                       jobs.size(),
                       done_before ? fmt::format(", {} trained before", done_before) : ""));
  if (jobs.empty()) return keys;
  TrainingService& service = ctx.training();
  ctx.info(fmt::format("{}: {} jobs at once, {} LibTorch thread{} each", ctx.stage(),
                       service.jobs(), service.threads_per_job(),
                       service.threads_per_job() == 1 ? "" : "s"));
  // A bar on a terminal; otherwise one line per finished training.
  std::optional<Progress> bar;
  if (Progress::interactive())
    bar.emplace(fmt::format("{} training", ctx.stage()), jobs.size(), "models");
  std::uint64_t finished = 0;
  service.run(jobs, [&](const TrainResult& r) {
    const TrainJob& job = *by_key.at(r.key);
    store.commit_training(ctx.stage(), job, r, metrics.at(r.key));
    ++finished;
    if (bar)
      bar->update(finished);
    else
      ctx.info(fmt::format(
          "{}: {}/{} {} {} val {:.4f} test {:.4f} ({:.1f} s, {:.0f} images/s){}", ctx.stage(),
          finished, jobs.size(), r.architecture_hash.substr(0, 12), r.status,
          r.validation.accuracy, r.test.accuracy, r.seconds, r.images_per_second,
          r.status == "ok" ? std::string() : ": " + r.reason));
  });
  if (bar) bar->finish();
  return keys;
}

void TrainStrategy::report_references(StageContext& ctx,
                                      const std::vector<ShrunkReference>& refs,
                                      const std::map<std::string, std::string>& training_keys,
                                      json& summary) {
  std::map<std::string, TrainResult> trained;  // by training key
  for (auto& r : ctx.store().trainings()) trained.emplace(r.key, std::move(r));
  json list = json::array();
  for (const auto& r : refs) {
    const std::string& training = training_keys.at(r.architecture.hash);
    json record = reference_record(r, metric_, training);
    // A unit of its own, keyed by everything the record says.
    const UnitKey key = ctx.unit_key(1)
                            .add(r.space_key)
                            .add("reference", r.reference)
                            .add("budget", fmt::format("{}", r.budget.value))
                            .add("metric", metric_)
                            .add("factor", fmt::format("{}", r.factor))
                            .add("hash", r.architecture.hash)
                            .add("training", training);
    ctx.once(key, "train.reference", [&] {
      return StageContext::UnitOutput{record.dump(),
                                      {Record{"train.reference", "", "", record.dump()}}};
    });
    const auto it = trained.find(training);
    const Metrics& m = r.architecture.metrics;
    record["params"] = m.params;
    record["weight_bytes"] = m.weight_bytes;
    std::string outcome = "not trained";
    if (it != trained.end()) {
      const TrainResult& t = it->second;
      record["status"] = t.status;
      record["val_accuracy"] = t.validation.accuracy;
      record["test_accuracy"] = t.test.accuracy;
      outcome = t.status == "ok" ? fmt::format("val {:.4f} test {:.4f}", t.validation.accuracy,
                                               t.test.accuracy)
                                 : fmt::format("{}: {}", t.status, t.reason);
    }
    ctx.info(fmt::format("{}: {}/{}@{}: factor {:.4f}, {} params, {} weight bytes, {}",
                         ctx.stage(), r.space, r.reference, r.budget.text, r.factor, m.params,
                         m.weight_bytes, outcome));
    list.push_back(std::move(record));
  }
  summary["references"] = std::move(list);
}

void TrainStrategy::run(StageContext& ctx) {
  Store& store = ctx.store();
  json summary = json::object();
  ParsedArchitectures graphs;
  std::vector<ArchitectureRecord> picked;
  std::vector<ShrunkReference> refs;
  if (select_ == "references") {
    refs = shrink_references(ctx, request_);
    if (refs.empty()) {
      std::vector<std::string> texts;
      for (const auto& b : request_.budgets) texts.push_back(b.text);
      throw Error(fmt::format("stage '{}': no reference fits any of the budgets {}; give larger "
                              "budgets",
                              ctx.stage(), fmt::join(texts, ", ")));
    }
    // A model that two budgets (or two references) share trains once.
    std::set<std::string> seen;
    for (const auto& r : refs)
      if (seen.insert(r.architecture.hash).second) picked.push_back(r.architecture);
  } else {
    auto candidates = store.accepted_architectures(from_);
    if (candidates.empty())
      throw Error(fmt::format("stage '{}': no accepted architectures to train{}; put a sampling "
                              "stage before it",
                              ctx.stage(),
                              from_.empty() ? std::string()
                                            : fmt::format(" in stage '{}'", from_)));
    picked = select_within_latency(ctx, std::move(candidates), graphs, summary);
  }
  const auto training_keys = train(ctx, picked);
  if (!refs.empty()) report_references(ctx, refs, training_keys, summary);

  // The summary: every training of this stage, and the best by validation accuracy.
  const auto results = store.trainings(ctx.stage());
  const TrainResult* best = best_training(results);
  const auto failed = std::count_if(results.begin(), results.end(),
                                    [](const TrainResult& r) { return r.status != "ok"; });
  summary["selected"] = picked.size();
  summary["trained"] = results.size() - std::size_t(failed);
  summary["failed"] = failed;
  if (best) {
    // The best of this stage's trainings, which may come from an earlier session's selection.
    const Architecture* arch = nullptr;
    std::optional<Architecture> stored;
    Metrics m;
    for (const auto& a : picked)
      if (a.hash == best->architecture_hash) {
        m = a.metrics;
        arch = &graphs.of(a);
      }
    if (!arch)
      if (const auto arch_json = store.architecture_json(best->architecture_hash)) {
        stored = Architecture::from_json_string(*arch_json);
        arch = &*stored;
      }
    const json mj = metrics_json(m);
    summary["best"] = {{"architecture_hash", best->architecture_hash},
                       {"val_accuracy", best->validation.accuracy},
                       {"test_accuracy", best->test.accuracy},
                       {"epochs", best->epochs},
                       {"seconds", best->seconds},
                       {"metrics", mj}};
    std::string text = fmt::format(
        "{}: best of {} by validation accuracy: {} val {:.4f} test {:.4f}\n", ctx.stage(),
        results.size() - std::size_t(failed), best->architecture_hash, best->validation.accuracy,
        best->test.accuracy);
    for (auto name : metric_names) text += fmt::format("  {:<22} {:>12}\n", name, m.get(name));
    // Its latency on the device: measured when the selection measured it, else predicted.
    if (summary.contains("latency") &&
        summary["latency"]["selected_s"].contains(best->architecture_hash)) {
      const double t = summary["latency"]["selected_s"][best->architecture_hash];
      summary["best"]["latency_measured_s"] = t;
      text += fmt::format("  {:<22} {:>12}\n", "latency (measured)", seconds_text(t));
    } else if (const Device* device = ctx.device(); device && device->predicts() && arch) {
      if (const auto t = device->predict(*arch, m)) {
        summary["best"]["latency_predicted_s"] = *t;
        text += fmt::format("  {:<22} {:>12}\n", "latency (predicted)", seconds_text(*t));
      }
    }
    if (arch) text += architecture_table(*arch);
    if (!text.empty() && text.back() == '\n') text.pop_back();
    ctx.info(text);
  }
  ctx.set_summary(summary.dump());
  if (!results.empty() && failed == static_cast<std::int64_t>(results.size()))
    throw Error(fmt::format("stage '{}': every training failed, the first: {}", ctx.stage(),
                            results.front().reason));
}

}  // namespace narrow::strategies
