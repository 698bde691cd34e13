#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "narrow/registry.hpp"
#include "run/experiment.hpp"

namespace narrow {

std::string emit_resolved(const Experiment& x, const Registry& registry) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << x.name;
  out << YAML::Key << "seed" << YAML::Value << x.seed;
  out << YAML::Key << "plugins" << YAML::Value << YAML::Flow << x.plugin_paths;
  auto emit_use = [&](const PluginUse& u, Kind kind, const char* key) {
    const auto& reg = registry.find(kind, u.name);
    auto p = Parameters::resolve(reg.schema, u.parameters, "");
    out << YAML::BeginMap << YAML::Key << key << YAML::Value << u.name;
    out << YAML::Key << "version" << YAML::Value << reg.plugin_version;
    out << YAML::Key << "parameters" << YAML::Value << YAML::BeginMap;
    for (const auto& [k, v] : p.values()) out << YAML::Key << k << YAML::Value << to_string(v);
    out << YAML::EndMap << YAML::EndMap;
  };
  if (x.dataset) {
    out << YAML::Key << "dataset" << YAML::Value;
    emit_use(*x.dataset, Kind::dataset, "name");
  }
  if (x.device) {
    out << YAML::Key << "device" << YAML::Value;
    emit_use(*x.device, Kind::device, "name");
  }
  out << YAML::Key << "formats" << YAML::Value << YAML::BeginSeq;
  for (const auto& f : x.formats) emit_use(f, Kind::format, "name");
  out << YAML::EndSeq;
  out << YAML::Key << "spaces" << YAML::Value << YAML::BeginSeq;
  for (const auto& s : x.spaces) {
    out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << s.name;
    out << YAML::Key << "space" << YAML::Value;
    emit_use(s.plugin, Kind::space, "plugin");
    out << YAML::Key << "laws" << YAML::Value << YAML::BeginMap;
    const auto& vars = s.space->variables();
    for (const auto& law : s.laws) {
      out << YAML::Key << law.name << YAML::Value << YAML::BeginMap;
      for (std::size_t i = 0; i < vars.size(); ++i) {
        out << YAML::Key << vars[i].name << YAML::Value << YAML::Flow << YAML::BeginSeq;
        // Choice labels stay strings for every YAML reader ("yes" is a boolean to some).
        if (vars[i].kind == Variable::Kind::choice) {
          out << YAML::DoubleQuoted << vars[i].label(law.low[i]) << YAML::DoubleQuoted
              << vars[i].label(law.high[i]);
        } else {
          out << law.low[i] << law.high[i];
        }
        out << YAML::EndSeq;
      }
      out << YAML::EndMap;
    }
    out << YAML::EndMap << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::Key << "constraints" << YAML::Value << YAML::BeginMap;
  bool fits = false;
  for (const auto& c : x.constraints.bounds) {
    if (c.from_device) {
      fits = true;
      continue;
    }
    out << YAML::Key << c.metric << YAML::Value << fmt::format("{}", c.max);
  }
  if (fits) out << YAML::Key << "fits" << YAML::Value << "device";
  out << YAML::EndMap;
  out << YAML::Key << "stages" << YAML::Value << YAML::BeginSeq;
  for (const auto& s : x.stages) {
    out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << s.name << YAML::Key << "stage"
        << YAML::Value;
    emit_use(s.strategy, Kind::strategy, "strategy");
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  // The variants and seeds of the file (an experiment of a variant has neither). `seeds` is
  // written only when the file lists them, so the resolved text of a one-seed file is the
  // same as before seeds existed.
  if (x.seeds.size() != 1 || x.seeds.front() != x.seed)
    out << YAML::Key << "seeds" << YAML::Value << YAML::Flow << x.seeds;
  out << YAML::Key << "ablation" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const auto& v : x.ablation) {
    out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << v.name
        << YAML::Key << "set" << YAML::Value << YAML::BeginMap;
    for (const auto& [path, value] : v.sets)
      out << YAML::Key << path << YAML::Value << YAML::Load(value);
    out << YAML::EndMap << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace narrow
