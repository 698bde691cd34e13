#include "run/experiment.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "narrow/dataset.hpp"
#include "narrow/device.hpp"
#include "narrow/format.hpp"
#include "narrow/metrics.hpp"
#include "narrow/registry.hpp"
#include "narrow/units.hpp"
#include "run/experiment_document.hpp"
#include "run/loader.hpp"

namespace narrow {

namespace {

[[noreturn]] void fail(const SourceLocation& where, const std::string& message) {
  throw InputError(message, where);
}

std::string join(const std::vector<std::string>& xs) {
  return fmt::format("{}", fmt::join(xs, ", "));
}

// A plugin as written, checked against its registration: the name is registered and every
// parameter resolves (each alone, so that an error points at its own line: an unknown name at
// the name, a bad value at the value, which may come from --set).
PluginUse resolve_use(const PluginText& t, Kind kind, const Registry& reg) {
  const Registration& r = reg.find(kind, t.name, t.where);
  PluginUse use{t.name, {}, t.where};
  const std::string context = fmt::format("{} '{}'", kind_name(kind), t.name);
  for (const auto& p : t.parameters) {
    const bool known = std::any_of(r.schema.begin(), r.schema.end(),
                                   [&](const ParamSpec& ps) { return ps.name == p.name; });
    (void)Parameters::resolve(r.schema, {{p.name, p.text}}, context,
                              known && !p.empty ? p.value_at : p.name_at);
    use.parameters[p.name] = p.text;
  }
  return use;
}

// The formats one entry of `formats:` stands for, each with single values checked against its
// plugin's schema; a text with ranges or lists, or a mapping whose values are lists,
// enumerates (the product over parameters).
std::vector<PluginUse> resolve_formats(const FormatListing& f, const Registry& reg) {
  std::string name = f.name;
  std::map<std::string, SourceLocation> value_at;
  std::vector<std::map<std::string, std::string>> combos;
  if (f.text) {
    try {
      for (const auto& text : expand_format_spec(*f.text)) {
        auto parsed = parse_format_text(reg, text);
        name = parsed.name;
        combos.push_back(std::move(parsed.parameters));
      }
    } catch (const InputError& e) {
      fail(f.where, e.message());
    }
  } else {
    (void)reg.find(Kind::format, name, f.name_at);
    combos.emplace_back();
    for (std::size_t a = 0; a < f.axes.size(); ++a) {
      const auto& [key, values] = f.axes[a];
      value_at[key] = f.axis_at[a];
      std::vector<std::map<std::string, std::string>> next;
      for (const auto& c : combos)
        for (const auto& v : values) {
          auto d = c;
          d[key] = v;
          next.push_back(std::move(d));
        }
      combos = std::move(next);
      if (combos.size() > 100000)
        fail(f.where, fmt::format("format '{}' expands to more than 100,000 formats", name));
    }
  }
  const Registration& r = reg.find(Kind::format, name, f.where);
  const std::string context = fmt::format("format '{}'", name);
  std::vector<PluginUse> out;
  for (auto& c : combos) {
    // Each value alone first, so that an error points at its own line; then all together.
    for (const auto& [k, v] : c) {
      const auto where = value_at.count(k) ? value_at.at(k) : f.where;
      (void)Parameters::resolve(r.schema, {{k, v}}, context, where);
    }
    (void)Parameters::resolve(r.schema, c, context, f.where);
    out.push_back(PluginUse{name, std::move(c), f.where});
  }
  return out;
}

// A law over the variables of `space`: every variable it does not name keeps its bounds.
SamplingLaw resolve_law(const LawText& t, const SearchSpace& space, const std::string& space_name) {
  SamplingLaw law = SamplingLaw::uniform(space.variables());
  law.name = t.name;
  const auto& vars = space.variables();
  for (const auto& range : t.ranges) {
    const auto it = std::find_if(vars.begin(), vars.end(),
                                 [&](const Variable& v) { return v.name == range.variable; });
    if (it == vars.end()) {
      std::vector<std::string> names;
      for (const auto& v : vars) names.push_back(v.name);
      std::sort(names.begin(), names.end());
      fail(range.variable_at, fmt::format("unknown variable '{}' of space '{}' (valid: {})",
                                          range.variable, space_name, join(names)));
    }
    const Variable& v = *it;
    const std::size_t i = std::size_t(it - vars.begin());
    std::int64_t bound[2];
    for (int k = 0; k < 2; ++k) {
      const std::string& t_end = range.ends[k];
      if (v.kind == Variable::Kind::choice) {
        auto c = std::find(v.choices.begin(), v.choices.end(), t_end);
        if (c == v.choices.end())
          fail(range.ends_at[k], fmt::format("law '{}': '{}' is not a choice of '{}' (choices: {})",
                                             t.name, t_end, v.name, join(v.choices)));
        bound[k] = std::int64_t(c - v.choices.begin());
      } else {
        std::int64_t x = 0;
        auto [p, ec] = std::from_chars(t_end.data(), t_end.data() + t_end.size(), x);
        if (ec != std::errc() || p != t_end.data() + t_end.size())
          fail(range.ends_at[k],
               fmt::format("law '{}': '{}' for '{}' is not an integer", t.name, t_end, v.name));
        bound[k] = x;
      }
    }
    if (bound[0] > bound[1])
      fail(range.range_at, fmt::format("law '{}': '{}' has low {} > high {}", t.name, v.name,
                                       v.label(bound[0]), v.label(bound[1])));
    if (bound[0] < v.min || bound[1] > v.max)
      fail(range.range_at,
           fmt::format("law '{}': '{}' range [{}, {}] is outside its bounds [{}, {}]", t.name,
                       v.name, v.label(bound[0]), v.label(bound[1]), v.label(v.min),
                       v.label(v.max)));
    law.low[i] = bound[0];
    law.high[i] = bound[1];
  }
  return law;
}

// Where an error about the files of a plugin points: at the first string parameter written
// whose value the message quotes (a file, or the folder of a missing file), else at `fallback`.
SourceLocation quoted_parameter(const PluginText& t, Kind kind, const Registry& reg,
                                const std::string& message, const SourceLocation& fallback) {
  const auto& schema = reg.find(kind, t.name).schema;
  const auto is_text = [&](const std::string& name) {
    return std::any_of(schema.begin(), schema.end(), [&](const ParamSpec& ps) {
      return ps.name == name && ps.type == ParamType::string;
    });
  };
  for (const auto& p : t.parameters)
    if (!p.empty && !p.text.empty() && is_text(p.name) &&
        message.find(p.text) != std::string::npos)
      return p.value_at;
  return fallback;
}

// The dataset opened as far as its headers (Dataset::describe()): its files, their headers and
// counts, and whether train_size, test_size and validation fit, before any work. An option that
// does not fit points at its value (at the dataset's name when the file does not write it); a
// problem of the files at the parameter that names them (quoted_parameter).
void check_dataset_use(const PluginText& t, const PluginUse& use, const Registry& reg) {
  DatasetSpec spec;
  spec.name = use.name;
  spec.parameters = use.parameters;
  try {
    (void)check_dataset(reg, spec);
  } catch (const DatasetOptionError& e) {
    SourceLocation where = t.where;
    for (const auto& p : t.parameters)
      if (p.name == e.parameter()) where = p.value_at;
    fail(where, e.message());
  } catch (const InputError& e) {
    if (!e.where().empty()) throw;  // located already (in a file of the plugin's own)
    fail(quoted_parameter(t, Kind::dataset, reg, e.message(), t.where), e.message());
  }
}

// The device built now: a preset, a description or a calibration file that cannot be read is
// refused before any work, at the parameter that names the file.
std::shared_ptr<Device> build_device(const PluginText& t, const PluginUse& use,
                                     const Registry& reg) {
  try {
    return create_device(reg, use.name, use.parameters, use.where);
  } catch (const InputError& e) {
    // The registry places a plugin's own errors at the plugin's name.
    if (!e.where().empty() && !(e.where().file == t.where.file && e.where().line == t.where.line &&
                                e.where().column == t.where.column))
      throw;  // located in a file of its own (a description's line)
    fail(quoted_parameter(t, Kind::device, reg, e.message(), t.where), e.message());
  }
}

bool metric_known(const std::string& m) {
  return std::find(metric_names.begin(), metric_names.end(), m) != metric_names.end();
}

// The bounds of `constraints:`; `fits: device` becomes the device's RAM and flash.
Constraints resolve_bounds(const std::vector<BoundText>& bounds, Device* device) {
  Constraints out;
  for (const auto& b : bounds) {
    if (b.metric == "fits") {
      if (!device)
        fail(b.key_at, "'fits: device' needs a 'device' (e.g. device: {name: analytic, "
                       "parameters: {preset: stm32f746}})");
      for (const auto& [m, bytes, part] :
           {std::tuple{"activation_peak_bytes", device->ram_bytes(), "RAM"},
            std::tuple{"weight_bytes", device->flash_bytes(), "flash"}}) {
        if (bytes <= 0)
          fail(b.value_at, fmt::format("'fits: device': device '{}' does not know its {} size",
                                       device->name(), part));
        out.bounds.push_back(Constraint{m, double(bytes),
                                        fmt::format("device {} ({} bytes)", part, bytes),
                                        b.value_at, true});
      }
      continue;
    }
    if (b.metric == "latency") {
      if (!device)
        fail(b.key_at,
             "'latency' constraints need a 'device' that predicts latency (analytic, or "
             "calibrated from narrow calibrate)");
      if (!device->predicts())
        fail(b.key_at,
             fmt::format("'latency' constraints need a device that predicts latency; '{}' "
                         "only measures (calibrate it: narrow calibrate --out FILE, then "
                         "device: {{name: calibrated, parameters: {{calibration: FILE}}}})",
                         device->name()));
      out.device = device;
    } else if (!metric_known(b.metric)) {
      std::vector<std::string> names(metric_names.begin(), metric_names.end());
      names.push_back("latency");
      names.push_back("fits");
      std::sort(names.begin(), names.end());
      fail(b.key_at, fmt::format("unknown metric '{}' (valid: {})", b.metric, join(names)));
    }
    Quantity q;
    std::string error;
    if (!parse_quantity(b.text, q, error)) fail(b.value_at, error);
    const Dimension want = metric_dimension(b.metric);
    if (!q.plain && q.dimension != want)
      fail(b.value_at, fmt::format("'{}' is a {}, but '{}' is a {} (write e.g. {})", b.metric,
                                   dimension_name(want), b.text, dimension_name(q.dimension),
                                   want == Dimension::bytes ? "64KiB" : "250k"));
    out.bounds.push_back(Constraint{b.metric, q.value, b.text, b.value_at});
  }
  return out;
}

}  // namespace

StagePlan stage_plan(const Experiment& x, std::size_t index, const Registry* registry) {
  StagePlan plan;
  plan.registry = registry;
  plan.stage = x.stages.at(index).name;
  for (const auto& s : x.spaces) {
    plan.spaces.push_back(s.name);
    plan.space_objects.push_back(s.space.get());
  }
  plan.device = x.device_object != nullptr;
  plan.device_predicts = plan.device && x.device_object->predicts();
  for (std::size_t i = 0; i < index; ++i)
    plan.earlier.push_back({x.stages[i].name, x.stages[i].strategy.name});
  return plan;
}

namespace {

// Everything of a document but its ablation, resolved through the registry (`resolved` left
// empty).
Experiment resolve_document(const std::string& file, const ExperimentDocument& d,
                            Registry& registry, PluginLoader& loader) {
  Experiment x;
  x.file = file;
  x.name = d.name;
  x.seed = d.seed;
  x.seeds = d.seeds.empty() ? std::vector<std::uint64_t>{d.seed} : d.seeds;

  // Plugins first: the names below may come from them.
  for (const auto& p : d.plugin_paths) {
    x.plugin_paths.push_back(p.path);
    auto before = loader.libraries().size();
    try {
      loader.load_path(p.path);
    } catch (const InputError& e) {
      fail(p.where, e.message());
    }
    for (auto i = before; i < loader.libraries().size(); ++i)
      if (!loader.libraries()[i].ok) fail(p.where, loader.libraries()[i].error);
  }

  if (d.dataset) {
    x.dataset = resolve_use(*d.dataset, Kind::dataset, registry);
    check_dataset_use(*d.dataset, *x.dataset, registry);
  }
  if (d.device) {
    x.device = resolve_use(*d.device, Kind::device, registry);
    x.device_object = build_device(*d.device, *x.device, registry);
  }
  // Every format once: the same plugin with the same resolved parameters is refused.
  std::map<std::string, SourceLocation> seen;
  for (const auto& f : d.formats)
    for (auto& use : resolve_formats(f, registry)) {
      const std::string key = format_key(registry, use.name, use.parameters);
      if (auto [it, fresh] = seen.emplace(key, use.where); !fresh)
        fail(use.where, fmt::format("format {} is listed twice (first on line {})",
                                    key.substr(0, key.find('@')) + " " +
                                        key.substr(key.find('|') + 1),
                                    it->second.line));
      x.formats.push_back(std::move(use));
    }

  for (const auto& s : d.spaces) {
    ExperimentSpace es;
    es.name = s.name;
    es.plugin = resolve_use(s.plugin, Kind::space, registry);
    es.space = registry.create_space(es.plugin.name, es.plugin.parameters, es.plugin.where);
    es.key = registry.use_key(Kind::space, es.plugin.name, es.plugin.parameters);
    for (const auto& law : s.laws) es.laws.push_back(resolve_law(law, *es.space, es.name));
    if (!s.has_laws) es.laws.push_back(SamplingLaw::uniform(es.space->variables()));
    x.spaces.push_back(std::move(es));
  }

  x.constraints = resolve_bounds(d.bounds, x.device_object.get());

  for (const auto& s : d.stages)
    x.stages.push_back(ExperimentStage{s.name, resolve_use(s.strategy, Kind::strategy, registry)});
  for (std::size_t i = 0; i < d.stages.size(); ++i) {
    const StageText& s = d.stages[i];
    const PluginUse& use = x.stages[i].strategy;
    // Built once now, and checked against the rest of the experiment, so that a strategy's
    // own checks run before any work. A bad parameter is reported where its value is written.
    try {
      const auto strategy = registry.make<Strategy>(use.name, use.parameters, use.where);
      strategy->check(stage_plan(x, i, &registry));
    } catch (const ParameterError& e) {
      SourceLocation at = s.strategy.where;
      for (const auto& p : s.strategy.parameters)
        if (p.name == e.parameter()) at = p.empty ? p.name_at : p.value_at;
      fail(at, fmt::format("stage '{}' (strategy '{}'): {}", s.name, use.name, e.message()));
    }
  }

  return x;
}

// The experiment of one ablation variant. An error is reported as the variant's: at the place
// it names in the file, else (a key the variant's path created) at the path.
std::shared_ptr<const Experiment> resolve_variant(const std::string& file,
                                                  const std::vector<std::string>& sets,
                                                  const VariantText& v, Registry& registry,
                                                  PluginLoader& loader) {
  try {
    const ExperimentDocument d = parse_experiment(file, sets, &v);
    auto x = std::make_shared<Experiment>(resolve_document(file, d, registry, loader));
    x->resolved = emit_resolved(*x, registry);
    return x;
  } catch (const InputError& e) {
    SourceLocation at = e.where();
    if (at.file != file || at.line <= 0) at = v.sets.size() == 1 ? v.sets[0].path_at : v.name_at;
    throw InputError(fmt::format("ablation variant '{}': {}", v.name, e.message()), at);
  }
}

}  // namespace

Experiment Experiment::load(const std::string& file, const std::vector<std::string>& sets,
                            Registry& registry, PluginLoader& loader) {
  const ExperimentDocument d = parse_experiment(file, sets);
  Experiment x = resolve_document(file, d, registry, loader);
  // The variants without the ablation and seeds of the whole file: a variant equal to the
  // experiment, or to another variant, would only repeat its runs.
  const std::string base = emit_resolved(x, registry);
  std::map<std::string, std::string> seen{{base, "the experiment as written"}};
  for (const VariantText& v : d.ablation) {
    Variant variant{v.name, {}, resolve_variant(file, sets, v, registry, loader)};
    for (const SetText& st : v.sets) {
      YAML::Emitter e;
      e << YAML::Flow << st.value;
      variant.sets.emplace_back(st.path, e.c_str());
    }
    if (auto [it, fresh] = seen.emplace(variant.experiment->resolved, "variant '" + v.name + "'");
        !fresh)
      fail(v.name_at, fmt::format("ablation variant '{}' changes nothing: it is the same "
                                  "experiment as {}",
                                  v.name, it->second));
    x.ablation.push_back(std::move(variant));
  }
  x.resolved = emit_resolved(x, registry);
  return x;
}

}  // namespace narrow
