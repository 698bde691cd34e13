#include "run/model_table.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "narrow/device.hpp"
#include "narrow/errors.hpp"
#include "narrow/registry.hpp"
#include "narrow/store.hpp"
#include "narrow/record.hpp"
#include "narrow/training.hpp"
#include "run/runs.hpp"

namespace narrow {

std::string_view latency_source_name(LatencySource s) {
  switch (s) {
    case LatencySource::measured:
      return "measured";
    case LatencySource::predicted:
      return "predicted";
    case LatencySource::none:
      break;
  }
  return "none";
}

const Architecture& ModelTable::architecture(const std::string& hash) const {
  const auto it = architectures.find(hash);
  if (it == architectures.end())
    throw Error(fmt::format("the model table holds no architecture {}", hash));
  return it->second;
}

namespace {

/// The parsed resolved experiment the store keeps, or an empty node.
YAML::Node stored_experiment(const Store& store) {
  const auto text = store.meta("experiment");
  if (!text) return {};
  try {
    return YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    throw Error(fmt::format("the store's experiment does not read as YAML: {}", e.what()));
  }
}

/// The experiment's device rebuilt through the registry from its `device:` entry (name and
/// resolved parameters); null with `problem` set when it cannot be, or without a device.
std::unique_ptr<Device> stored_device(const YAML::Node& experiment, const Registry* registry,
                                      std::string& name, std::string& problem) {
  const YAML::Node d = experiment.IsMap() ? experiment["device"] : YAML::Node();
  if (!d || !d.IsMap() || !d["name"]) return nullptr;
  name = d["name"].as<std::string>();
  if (!registry) {
    problem = "no plugins were loaded to rebuild it";
    return nullptr;
  }
  std::map<std::string, std::string> params;
  if (const YAML::Node p = d["parameters"]; p && p.IsMap())
    for (const auto& kv : p) params[kv.first.as<std::string>()] = kv.second.as<std::string>();
  try {
    return create_device(*registry, name, params);
  } catch (const Error& e) {
    problem = e.what();
    return nullptr;
  }
}

/// Every stage name the store mentions: the experiment's, and those of draws, precision
/// evaluations and latency measurements.
std::set<std::string> stage_names(const Store& store, const YAML::Node& experiment) {
  std::set<std::string> names;
  if (experiment.IsMap())
    if (const YAML::Node stages = experiment["stages"]; stages && stages.IsSequence())
      for (const auto& s : stages)
        if (s.IsMap() && s["name"]) names.insert(s["name"].as<std::string>());
  for (const auto& d : store.draws()) names.insert(d.stage);
  for (const auto& p : store.precisions()) names.insert(p.stage);
  for (const auto& l : store.latencies()) names.insert(l.stage);
  return names;
}

}  // namespace

std::vector<StoredReference> stored_references(const Store& store) {
  std::vector<StoredReference> out;
  for (const Record& r : store.records("train.reference")) {
    const auto j = nlohmann::json::parse(r.data, nullptr, false);
    if (!j.is_object()) continue;
    StoredReference ref;
    ref.unit = r.unit;
    for (auto [field, name] : {std::pair{&ref.space, "space"}, {&ref.reference, "reference"},
                               {&ref.training, "training"}, {&ref.hash, "hash"},
                               {&ref.metric, "metric"}})
      if (j.contains(name) && j[name].is_string()) *field = j[name].get<std::string>();
    if (j.contains("budget") && j["budget"].is_number()) ref.budget = j["budget"].get<double>();
    out.push_back(std::move(ref));
  }
  return out;
}

std::vector<std::string> stored_plugin_paths(const Store& store) {
  std::vector<std::string> out;
  const YAML::Node experiment = stored_experiment(store);
  const YAML::Node paths = experiment.IsMap() ? experiment["plugins"] : YAML::Node();
  if (paths && paths.IsSequence())
    for (const auto& p : paths)
      if (p.IsScalar() && std::filesystem::exists(p.Scalar())) out.push_back(p.Scalar());
  return out;
}

ModelTable load_model_table(const Store& store, const Registry* registry,
                            const std::set<std::string>* units) {
  ModelTable table;
  const YAML::Node experiment = stored_experiment(store);
  const std::unique_ptr<Device> device =
      stored_device(experiment, registry, table.device, table.device_problem);
  table.device_predicts = device && device->predicts();

  // Which stage trained each model (the stage of its first use, as the experiment names it,
  // whichever run did it), and which spaces drew each architecture or shrank it as a
  // reference.
  std::map<std::string, std::string> stage_of = unit_stages(store);
  // A store written without runs (through the Store interface alone) records no uses: its
  // stages' own queries say which stage trained what.
  for (const auto& stage : stage_names(store, experiment))
    for (const auto& t : store.trainings(stage)) stage_of.emplace(t.key, stage);
  std::map<std::string, std::set<std::string>> spaces_of;
  for (const auto& d : store.draws())
    if (d.status == DrawStatus::accepted && !d.hash.empty()) spaces_of[d.hash].insert(d.space);
  std::map<std::string, std::string> reference_space;  // by training key
  for (const StoredReference& r : stored_references(store))
    if (!r.training.empty() && !r.space.empty()) reference_space.emplace(r.training, r.space);
  std::map<std::string, Metrics> stored_metrics;
  for (const auto& a : store.accepted_architectures()) stored_metrics.emplace(a.hash, a.metrics);
  std::map<std::string, double> measured;  // by hash: the first stored measurement's mean
  for (const auto& l : store.latencies()) measured.emplace(l.architecture_hash, l.measurement.mean);

  // Precision evaluations by training: per (format key, rounding), the result of each split.
  struct Evaluated {
    PrecisionResult result;  // the first stored, for name, bits and weight bytes
    std::optional<double> validation, test;
  };
  std::map<std::string, std::map<std::pair<std::string, std::string>, Evaluated>> precision;
  for (auto& p : store.precisions()) {
    // An evaluation is a unit of its own: a run sees those it used, not every evaluation of a
    // training it shares with another run.
    if (units && !units->count(p.key)) continue;
    auto& e = precision[p.training_key]
                  .try_emplace(std::pair<std::string, std::string>(
                                   p.format_key, p.format_key == "float32" ? "" : p.rounding),
                               Evaluated{p.result, {}, {}})
                  .first->second;
    auto& split = p.split == "validation" ? e.validation : e.test;
    if (!split) split = p.result.evaluation.accuracy;
  }

  for (const auto& t : store.trainings()) {
    if (t.status != "ok") continue;
    if (units && !units->count(t.key)) continue;
    auto arch_it = table.architectures.find(t.architecture_hash);
    if (arch_it == table.architectures.end()) {
      const auto json = store.architecture_json(t.architecture_hash);
      if (!json)
        throw Error(fmt::format("training {} names architecture {}, which the store lacks", t.key,
                                t.architecture_hash));
      arch_it =
          table.architectures.emplace(t.architecture_hash, Architecture::from_json_string(*json))
              .first;
    }
    const Architecture& arch = arch_it->second;
    ModelRow row;
    row.training_key = t.key;
    row.architecture_hash = t.architecture_hash;
    if (const auto s = stage_of.find(t.key); s != stage_of.end()) row.stage = s->second;
    if (const auto s = spaces_of.find(t.architecture_hash); s != spaces_of.end())
      row.space = fmt::format("{}", fmt::join(s->second, ","));
    else if (const auto r = reference_space.find(t.key); r != reference_space.end())
      row.space = r->second;
    const auto m = stored_metrics.find(t.architecture_hash);
    row.metrics = m != stored_metrics.end() ? m->second : analyse(arch);
    if (const auto l = measured.find(t.architecture_hash); l != measured.end()) {
      row.latency = l->second;
      row.latency_source = LatencySource::measured;
    } else if (table.device_predicts) {
      row.latency = device->predict(arch, row.metrics);
      if (row.latency) row.latency_source = LatencySource::predicted;
    }

    // The model as trained: its own validation and test accuracy. The precision stage's
    // float32 reference (batch norms folded) is the same model; its weight bytes are what a
    // device stores, and when there is none they are counted the same way here.
    ModelRow f32 = row;
    f32.format = "float32";
    f32.val_accuracy = t.validation.accuracy;
    f32.test_accuracy = t.test.accuracy;
    f32.weight_bytes = weight_bytes_for(analyse(fold_batchnorm(arch)).params, 32);
    const auto evaluated = precision.find(t.key);
    if (evaluated != precision.end())
      if (const auto ref = evaluated->second.find({"float32", ""}); ref != evaluated->second.end())
        f32.weight_bytes = ref->second.result.weight_bytes;
    table.rows.push_back(std::move(f32));
    if (evaluated == precision.end()) continue;
    for (const auto& [key, e] : evaluated->second) {
      if (key.first == "float32") continue;
      ModelRow r = row;
      r.format = e.result.format;
      r.rounding = key.second;
      r.bits = e.result.bits;
      r.weight_bytes = e.result.weight_bytes;
      r.val_accuracy = e.validation;
      r.test_accuracy = e.test;
      table.rows.push_back(std::move(r));
    }
  }
  std::sort(table.rows.begin(), table.rows.end(), [](const ModelRow& a, const ModelRow& b) {
    return std::tie(a.architecture_hash, a.training_key, b.bits, a.format, a.rounding) <
           std::tie(b.architecture_hash, b.training_key, a.bits, b.format, b.rounding);
  });
  return table;
}

}  // namespace narrow
