#include "run/report/report_data.hpp"

#include <sqlite3.h>

#include <cmath>
#include <memory>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "narrow/errors.hpp"
#include "narrow/laws.hpp"
#include "narrow/pareto.hpp"
#include "narrow/store.hpp"
#include "run/model_table.hpp"

namespace narrow::report {

namespace {

bool kept(UnitFilter units, const std::string& key) { return !units || units->count(key) > 0; }

// The metric columns of `architectures`, in the order metric_names lists them.
std::string metric_columns(const char* table) {
  std::string s;
  for (auto name : metric_names) s += fmt::format(", {}.{}", table, name);
  return s;
}

Metrics metrics_from(const std::vector<std::string>& row, std::size_t first) {
  Metrics m;
  std::size_t i = first;
  for (auto name : metric_names) m.set(name, std::stoll(row.at(i++)));
  return m;
}

// Mean latency (seconds) by architecture hash, of the measurements kept by `units`.
std::map<std::string, double> latencies_by_hash(const Store& store, UnitFilter units) {
  std::map<std::string, double> out;
  for (const auto& l : store.latencies())
    if (kept(units, l.key)) out.emplace(l.architecture_hash, l.measurement.mean);
  return out;
}

// Reference names by training key (and by architecture hash, for records without a training),
// from the records of kind train.reference.
std::map<std::string, std::string> reference_names(const Store& store) {
  std::map<std::string, std::string> out;
  for (const StoredReference& r : stored_references(store)) {
    const std::string name = r.reference.empty() ? "reference" : r.reference;
    if (!r.training.empty()) out[r.training] = name;
    if (!r.hash.empty()) out.emplace("hash:" + r.hash, name);
  }
  return out;
}

// (space, law) of every learned law in the store.
std::set<std::pair<std::string, std::string>> learned_law_names(const Store& store) {
  std::set<std::pair<std::string, std::string>> out;
  for (const auto& law : stored_laws(store)) out.emplace(law.space, law.law.name);
  return out;
}

// Statistics stages of the stored experiment whose histogram metric is params, with their bins
// per decade.
std::map<std::string, int> statistics_stages(const Store& store) {
  std::map<std::string, int> out;
  const auto text = store.meta("experiment");
  if (!text) return out;
  YAML::Node doc;
  try {
    doc = YAML::Load(*text);
  } catch (const YAML::Exception&) {
    return out;
  }
  if (!doc["stages"] || !doc["stages"].IsSequence()) return out;
  for (const auto& entry : doc["stages"]) {
    // The stored experiment is resolved: `{name, stage: {strategy, version, parameters}}`; an
    // experiment file as written has the strategy beside the name.
    const YAML::Node stage = entry["stage"] ? entry["stage"] : entry;
    if (!entry["name"] || !stage["strategy"] || stage["strategy"].as<std::string>() != "statistics")
      continue;
    const auto p = stage["parameters"];
    try {
      const std::string metric = p && p["metric"] ? p["metric"].as<std::string>() : "params";
      const int bpd = p && p["bins_per_decade"] ? p["bins_per_decade"].as<int>() : 10;
      if (metric == "params" && bpd > 0) out[entry["name"].as<std::string>()] = bpd;
    } catch (const YAML::Exception&) {
      continue;  // not a stage this report can read; its histograms are left out
    }
  }
  return out;
}

}  // namespace

std::vector<std::vector<std::string>> query_rows(const std::string& db, const std::string& sql) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> conn(raw, &sqlite3_close);
  if (rc != SQLITE_OK)
    throw InputError(fmt::format("cannot read results store '{}': {}", db,
                                 raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  sqlite3_busy_timeout(raw, 10000);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(raw, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK)
    throw Error(fmt::format("results store '{}': {}", db, sqlite3_errmsg(raw)));
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(stmt, &sqlite3_finalize);
  std::vector<std::vector<std::string>> rows;
  int step = 0;
  while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
      const auto* t = sqlite3_column_text(stmt, c);
      row.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
    }
    rows.push_back(std::move(row));
  }
  if (step != SQLITE_DONE) throw Error(fmt::format("results store '{}': {}", db, sqlite3_errmsg(raw)));
  return rows;
}

std::vector<Model> load_models(const Store& store, const std::string& db, UnitFilter units) {
  const auto latency = latencies_by_hash(store, units);
  const auto references = reference_names(store);
  std::vector<Model> out;
  for (const auto& row :
       query_rows(db, "SELECT t.key, t.stage, t.hash, t.status, t.reason, t.val_accuracy, "
                      "t.test_accuracy, t.epochs, t.seconds" + metric_columns("a") +
                      " FROM trainings t JOIN architectures a ON a.hash = t.hash ORDER BY t.key")) {
    if (!kept(units, row[0])) continue;
    Model m;
    m.key = row[0];
    m.stage = row[1];
    m.hash = row[2];
    m.status = row[3];
    m.reason = row[4];
    m.val_accuracy = row[5].empty() ? 0 : std::stod(row[5]);
    m.test_accuracy = row[6].empty() ? 0 : std::stod(row[6]);
    m.epochs = std::stoll(row[7]);
    m.seconds = row[8].empty() ? 0 : std::stod(row[8]);
    m.metrics = metrics_from(row, 9);
    if (auto it = latency.find(m.hash); it != latency.end()) {
      m.latency_seconds = it->second;
      m.latency_source = "measured";
    }
    if (auto it = references.find(m.key); it != references.end()) m.reference = it->second;
    else if (auto h = references.find("hash:" + m.hash); h != references.end()) m.reference = h->second;
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<FormatPoint> load_format_points(const ModelTable& table,
                                            const std::vector<Model>& models) {
  std::map<std::string, const Model*> ok;
  for (const auto& m : models)
    if (m.status == "ok") ok.emplace(m.key, &m);
  std::vector<FormatPoint> out;
  // The model table's rows with a test accuracy: each model as trained (float32) and in every
  // format a precision stage evaluated on the test split.
  for (const auto& row : table.rows) {
    if (!row.test_accuracy) continue;
    const auto it = ok.find(row.training_key);
    if (it == ok.end()) continue;
    out.push_back({row.training_key, row.architecture_hash, row.format, format_family(row.bits),
                   it->second->reference, row.bits, row.weight_bytes, *row.test_accuracy, false});
  }
  // Each family's front, with the front of narrow/pareto.hpp over (weight bytes, accuracy).
  std::vector<PrecisionPoint> points;
  for (const auto& p : out) {
    PrecisionPoint q;
    q.model = p.training;
    q.result.format = p.format;
    q.result.bits = p.bits;
    q.result.weight_bytes = p.weight_bytes;
    q.result.evaluation.accuracy = p.accuracy;
    points.push_back(std::move(q));
  }
  std::map<std::string, std::vector<std::size_t>> by_family;
  for (std::size_t i = 0; i < out.size(); ++i) by_family[out[i].family].push_back(i);
  for (const auto& [family, among] : by_family)
    for (std::size_t i : pareto_front(points, among)) out[i].front = true;
  return out;
}

std::string law_group(const std::string& law, bool learned) {
  if (learned) return "learned laws";
  if (law == "uniform") return "uniform law";
  return "hand-made laws";
}

std::vector<Histogram> load_histograms(const Store& store, const std::string& db, UnitFilter units) {
  const auto learned = learned_law_names(store);
  std::map<std::tuple<std::string, std::string, std::string>, Histogram> by_law;
  const auto entry = [&](const std::string& stage, const std::string& space, const std::string& law,
                         const char* source, int bpd) -> Histogram& {
    auto [it, fresh] = by_law.try_emplace({stage, space, law});
    if (fresh) {
      it->second = Histogram{stage, space, law, law_group(law, learned.count({space, law}) > 0),
                             source, bpd, {}, 0};
    }
    return it->second;
  };
  for (const auto& row : query_rows(db,
                                    "SELECT d.stage, d.space, d.law, d.unit, a.params FROM draws d "
                                    "JOIN architectures a ON a.hash = d.hash WHERE d.status = "
                                    "'accepted' ORDER BY d.stage, d.space, d.law, d.draw")) {
    if (!kept(units, row[3])) continue;
    const double params = std::stod(row[4]);
    if (params <= 0) continue;
    Histogram& h = entry(row[0], row[1], row[2], "draws", 10);
    ++h.bins[std::int64_t(std::floor(std::log10(params) * 10.0))];
    ++h.count;
  }
  const auto stats = statistics_stages(store);
  for (const auto& row :
       query_rows(db, "SELECT stage, key, result FROM units WHERE kind = 'statistics.law' ORDER BY key")) {
    const auto bpd = stats.find(row[0]);
    if (bpd == stats.end() || !kept(units, row[1])) continue;
    const auto j = nlohmann::json::parse(row[2], nullptr, false);
    if (!j.is_object() || !j.contains("bins")) continue;
    Histogram& h = entry(row[0], j.value("space", std::string()), j.value("law", std::string()),
                         "statistics", bpd->second);
    for (const auto& b : j["bins"]) {
      h.bins[b.at(0).get<std::int64_t>()] += b.at(1).get<std::int64_t>();
      h.count += b.at(1).get<std::int64_t>();
    }
  }
  std::vector<Histogram> out;
  for (auto& [k, h] : by_law) out.push_back(std::move(h));
  return out;
}

std::vector<ArchitecturePoint> load_accepted(const Store& store, const std::string& db,
                                             UnitFilter units) {
  const auto latency = latencies_by_hash(store, units);
  std::map<std::string, ArchitecturePoint> by_hash;
  for (const auto& row : query_rows(db, "SELECT d.unit, a.hash" + metric_columns("a") +
                                            " FROM draws d JOIN architectures a ON a.hash = "
                                            "d.hash WHERE d.status = 'accepted'")) {
    if (!kept(units, row[0]) || by_hash.count(row[1])) continue;
    ArchitecturePoint p{row[1], metrics_from(row, 2), std::nullopt};
    if (auto it = latency.find(p.hash); it != latency.end()) p.latency_seconds = it->second;
    by_hash.emplace(p.hash, std::move(p));
  }
  std::vector<ArchitecturePoint> out;
  for (auto& [h, p] : by_hash) out.push_back(std::move(p));
  return out;
}

}  // namespace narrow::report
