// Trainings, precision evaluations, latency measurements and strategies' records in the
// results store.
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "narrow/errors.hpp"
#include "run/sqlite_store.hpp"
#include "run/store_schema.hpp"

namespace narrow {

using sqlite::Query;
using sqlite::Statement;

void SqliteStore::commit_training(const std::string& stage, const TrainJob& job,
                                  const TrainResult& r, const Metrics& metrics) {
  const std::string what = fmt::format("cannot commit training {}", job.key);
  const nlohmann::json result_json = r.to_json();
  const std::string result = result_json.dump();
  Transaction t(*this);
  insert_unit(job.key, "training", stage, result, fmt::format("training {}", job.key));
  {
    Query q(*insert_architecture_);
    q.bind(1, job.architecture_hash).bind(2, job.architecture_json);
    int i = 3;
    for (std::string_view name : metric_names) q.bind(i++, metrics.get(name));
    int rc = q.try_step();
    if (rc != SQLITE_DONE && rc != SQLITE_CONSTRAINT_PRIMARYKEY) q.fail(what);
  }
  {
    const std::string config = job.config.to_json().dump();
    const std::string seed = std::to_string(job.seed);
    const std::string dataset = job.dataset.to_json().dump();
    const std::string history_text = result_json.at("history").dump();
    Query q(*insert_training_);
    q.bind(1, job.key).bind_copy(2, stored_stage(stage)).bind(3, job.architecture_hash).bind(4, dataset);
    q.bind(5, config).bind(6, seed).bind(7, r.status).bind(8, r.reason);
    q.bind(9, r.epochs).bind(10, r.iterations);
    q.bind(11, r.validation.accuracy).bind_real_or_null(12, r.validation.loss);
    q.bind(13, r.test.accuracy).bind_real_or_null(14, r.test.loss);
    q.bind(15, r.seconds).bind(16, r.images_per_second).bind(17, std::int64_t{r.threads});
    q.bind(18, history_text).bind(19, result);
    if (r.weights.empty())
      q.bind_null(20);
    else
      q.bind_blob(20, r.weights);
    if (q.try_step() != SQLITE_DONE) q.fail(what);
  }
  t.commit();
}

std::vector<TrainResult> SqliteStore::trainings(const std::string& stage) const {
  std::vector<TrainResult> out;
  const bool all = stage.empty() && !scoped_;
  Query q(all ? *select_trainings_ : *select_stage_trainings_);
  if (!all) q.bind(1, stage).bind(2, run_);
  while (q.step("cannot read the trainings")) {
    try {
      out.push_back(TrainResult::from_json(nlohmann::json::parse(q.text(0))));
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format("results store {}: a stored training is not readable: {}", path_,
                              e.what()));
    }
  }
  return out;
}

std::optional<std::string> SqliteStore::training_weights(const std::string& key) const {
  Query q(*training_weights_);
  q.bind(1, key);
  if (!q.step(fmt::format("cannot read the weights of training {}", key))) return std::nullopt;
  if (q.is_null(0)) return std::nullopt;
  return q.blob(0);
}

DatasetSpec SqliteStore::training_dataset(const std::string& key) const {
  Query q(*training_dataset_);
  q.bind(1, key);
  if (!q.step(fmt::format("cannot read the dataset of training {}", key)))
    throw Error(fmt::format("results store {}: there is no training {}", path_, key));
  try {
    return DatasetSpec::from_json(nlohmann::json::parse(q.text(0)));
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("results store {}: the dataset of training {} is not readable: {}",
                            path_, key, e.what()));
  }
}

void SqliteStore::commit_precision(const PrecisionRecord& p) {
  const std::string what = fmt::format("cannot commit precision evaluation {}", p.key);
  const std::string result = p.result.to_json().dump();
  Transaction t(*this);
  insert_unit(p.key, "precision", p.stage, result, fmt::format("precision evaluation {}", p.key));
  {
    Query q(*insert_precision_);
    q.bind(1, p.key).bind_copy(2, stored_stage(p.stage)).bind(3, p.training_key).bind(4, p.architecture_hash);
    q.bind(5, p.result.format).bind(6, p.format_key).bind(7, std::int64_t{p.result.bits});
    q.bind(8, p.split).bind(9, p.rounding).bind(10, p.result.parameters);
    q.bind(11, p.result.weight_bytes).bind(12, p.result.evaluation.accuracy);
    q.bind_real_or_null(13, p.result.evaluation.loss).bind(14, p.result.seconds).bind(15, result);
    if (q.try_step() != SQLITE_DONE) q.fail(what);
  }
  t.commit();
}

std::vector<PrecisionRecord> SqliteStore::precisions(const std::string& stage) const {
  std::vector<PrecisionRecord> out;
  const bool all = stage.empty() && !scoped_;
  Query q(all ? *select_precisions_ : *select_stage_precisions_);
  if (!all) q.bind(1, stage).bind(2, run_);
  while (q.step("cannot read the precision evaluations")) {
    PrecisionRecord p;
    p.key = q.text(0);
    p.stage = stage.empty() ? q.text(1) : stage;
    p.training_key = q.text(2);
    p.architecture_hash = q.text(3);
    p.format_key = q.text(4);
    p.split = q.text(5);
    p.rounding = q.text(6);
    try {
      p.result = PrecisionResult::from_json(nlohmann::json::parse(q.text(7)));
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format("results store {}: precision evaluation {} is not readable: {}",
                              path_, p.key, e.what()));
    }
    out.push_back(std::move(p));
  }
  return out;
}

void SqliteStore::commit_latency(const LatencyRecord& r) {
  const std::string what = fmt::format("cannot commit latency measurement {}", r.key);
  const std::string measurement = r.measurement.to_json().dump();
  Transaction t(*this);
  insert_unit(r.key, "latency", r.stage, measurement,
              fmt::format("latency measurement {}", r.key));
  {
    Query q(*insert_latency_);
    q.bind(1, r.key).bind_copy(2, stored_stage(r.stage)).bind(3, r.architecture_hash).bind(4, r.device);
    q.bind(5, r.measurement.mean).bind(6, r.measurement.median).bind(7, r.measurement.cv);
    q.bind(8, std::int64_t{r.measurement.threads}).bind(9, measurement);
    if (q.try_step() != SQLITE_DONE) q.fail(what);
  }
  t.commit();
}

std::vector<LatencyRecord> SqliteStore::latencies(const std::string& stage) const {
  std::vector<LatencyRecord> out;
  const bool all = stage.empty() && !scoped_;
  Query q(all ? *select_latencies_ : *select_stage_latencies_);
  if (!all) q.bind(1, stage).bind(2, run_);
  while (q.step("cannot read the latency measurements")) {
    LatencyRecord r;
    r.key = q.text(0);
    r.stage = stage.empty() ? q.text(1) : stage;
    r.architecture_hash = q.text(2);
    r.device = q.text(3);
    try {
      r.measurement = LatencyMeasurement::from_json(nlohmann::json::parse(q.text(4)));
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format("results store {}: latency measurement {} is not readable: {}",
                              path_, r.key, e.what()));
    }
    out.push_back(std::move(r));
  }
  return out;
}

void SqliteStore::commit_records(const std::string& key, const std::string& unit_kind,
                                 const std::string& stage, const std::string& result_json,
                                 const std::vector<Record>& records) {
  const std::string what = fmt::format("cannot commit unit {}", key);
  Transaction t(*this);
  insert_unit(key, unit_kind, stage, result_json, fmt::format("unit {}", key));
  for (const Record& r : records) {
    Query q(*insert_record_);
    q.bind(1, r.kind).bind_copy(2, stored_stage(stage)).bind(3, key).bind(4, r.data);
    if (q.try_step() != SQLITE_DONE)
      q.fail(fmt::format("{}: record of kind '{}' (its data must be JSON, its kind not empty)",
                         what, r.kind));
  }
  t.commit();
}

std::vector<Record> SqliteStore::records(const std::string& kind, const std::string& stage) const {
  std::vector<Record> out;
  const bool all = stage.empty() && !scoped_;
  Query q(all ? *select_records_ : *select_stage_records_);
  if (all)
    q.bind(1, kind);
  else
    q.bind(1, stage).bind(2, run_).bind(3, kind);
  while (q.step(fmt::format("cannot read the records of kind '{}'", kind)))
    out.push_back(Record{q.text(0), stage.empty() ? q.text(1) : stage, q.text(2), q.text(3)});
  return out;
}

}  // namespace narrow
