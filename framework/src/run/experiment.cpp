#include "run/experiment.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include "narrow/device.hpp"
#include "narrow/format.hpp"
#include "run/loader.hpp"
#include "narrow/metrics.hpp"
#include "narrow/registry.hpp"
#include "narrow/units.hpp"

namespace fs = std::filesystem;

namespace narrow {

namespace {

// Where a node is: FILE:LINE:COLUMN (1-based), or the command line for --set values.
struct Locator {
  std::string file;
  // Where the value of `key` in `map` is; an empty value is placed at its key (yaml-cpp gives
  // it the position of the next token, which may be on a later line).
  SourceLocation value_at(const YAML::Node& map, const std::string& key) const {
    for (const auto& kv : map)
      if (kv.first.Scalar() == key) return kv.second.IsNull() ? at(kv.first) : at(kv.second);
    return at(map);
  }
  SourceLocation at(const YAML::Node& n) const {
    const YAML::Mark m = n.Mark();
    if (m.is_null() || m.line < 0) return SourceLocation{"--set", 0, 0};
    return SourceLocation{file, m.line + 1, m.column + 1};
  }
};

[[noreturn]] void fail(const SourceLocation& where, const std::string& message) {
  throw InputError(message, where);
}

std::string join(const std::vector<std::string>& xs) {
  return fmt::format("{}", fmt::join(xs, ", "));
}

// Rebuilds a node without source marks: values that come from --set.
YAML::Node unmarked(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar:
      return YAML::Node(n.Scalar());
    case YAML::NodeType::Sequence: {
      YAML::Node out(YAML::NodeType::Sequence);
      for (const auto& x : n) out.push_back(unmarked(x));
      return out;
    }
    case YAML::NodeType::Map: {
      YAML::Node out(YAML::NodeType::Map);
      for (const auto& kv : n) out[kv.first.Scalar()] = unmarked(kv.second);
      return out;
    }
    default:
      return YAML::Node(YAML::NodeType::Null);
  }
}

YAML::Node load_yaml_file(const std::string& path, const SourceLocation& from) {
  if (fs::exists(path) && !fs::is_regular_file(path))
    fail(from.empty() ? SourceLocation{path, 0, 0} : from, fmt::format("'{}' is not a file", path));
  std::ifstream in(path);
  if (!in) fail(from, fmt::format("cannot read file '{}'", path));
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return YAML::Load(ss.str());
  } catch (const YAML::ParserException& e) {
    fail(SourceLocation{path, e.mark.line + 1, e.mark.column + 1},
         fmt::format("YAML syntax: {}", e.msg));
  }
}

// Applies one --set override "a.b.0.c=value". Keys may themselves contain dots (law variables
// such as conv1.filters): at each mapping the longest existing key that matches is taken.
void apply_set(YAML::Node root, const std::string& text) {
  const SourceLocation where{"--set", 0, 0};
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    fail(where, fmt::format("'{}' must be path.to.key=value", text));
  const std::string path = text.substr(0, eq), value_text = text.substr(eq + 1);
  YAML::Node value;
  try {
    value = unmarked(YAML::Load(value_text));
  } catch (const YAML::ParserException& e) {
    fail(where, fmt::format("value of '{}' is not valid YAML: {}", path, e.msg));
  }
  std::vector<std::string> parts;
  for (std::size_t b = 0;;) {
    auto e = path.find('.', b);
    parts.push_back(path.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (e == std::string::npos) break;
    b = e + 1;
  }
  if (std::any_of(parts.begin(), parts.end(), [](const auto& p) { return p.empty(); }))
    fail(where, fmt::format("'{}' is not a valid key path", path));
  std::vector<YAML::Node> chain{root};
  std::size_t i = 0;
  while (i < parts.size()) {
    YAML::Node cur = chain.back();
    // Inside a law (spaces.N.laws.NAME), the rest of the path is one variable name, which may
    // hold dots (conv1.filters) and need not be listed in the law yet.
    if (i >= 4 && parts[0] == "spaces" && parts[2] == "laws" && i == 4 && cur.IsMap()) {
      std::string key = parts[i];
      for (std::size_t k = i + 1; k < parts.size(); ++k) key += "." + parts[k];
      cur[key] = value;
      return;
    }
    if (cur.IsSequence()) {
      std::size_t idx = 0;
      auto [p, ec] = std::from_chars(parts[i].data(), parts[i].data() + parts[i].size(), idx);
      if (ec != std::errc() || p != parts[i].data() + parts[i].size() || idx >= cur.size())
        fail(where, fmt::format("'{}' in '{}': a list index 0..{} is needed here", parts[i], path,
                                cur.size() == 0 ? 0 : cur.size() - 1));
      if (i + 1 == parts.size()) {
        cur[idx] = value;
        return;
      }
      chain.push_back(cur[idx]);
      ++i;
      continue;
    }
    if (!cur.IsMap() && !cur.IsNull())
      fail(where,
           fmt::format("'{}' in '{}' goes below a value that is not a mapping", parts[i], path));
    // Longest existing dotted key first.
    std::size_t take = 1;
    for (std::size_t n = parts.size() - i; n > 1; --n) {
      std::string key = parts[i];
      for (std::size_t k = 1; k < n; ++k) key += "." + parts[i + k];
      if (cur.IsMap() && cur[key]) {
        take = n;
        break;
      }
    }
    std::string key = parts[i];
    for (std::size_t k = 1; k < take; ++k) key += "." + parts[i + k];
    i += take;
    if (i == parts.size()) {
      cur[key] = value;
      return;
    }
    if (!cur[key]) cur[key] = YAML::Node(YAML::NodeType::Map);
    chain.push_back(cur[key]);
  }
}

// Refuses a key written twice in one mapping (YAML readers differ on which one wins).
void check_unique(const YAML::Node& map, const Locator& loc, const std::string& what) {
  if (!map.IsMap()) return;
  std::map<std::string, YAML::Node> seen;
  for (const auto& kv : map) {
    const auto key = kv.first.Scalar();
    auto [it, fresh] = seen.emplace(key, kv.first);
    if (!fresh) {
      const auto first = loc.at(it->second);
      fail(loc.at(kv.first),
           fmt::format("'{}' is given twice in {} (first on line {})", key, what, first.line));
    }
  }
}

// Checks that a mapping has only allowed keys, each once.
void check_keys(const YAML::Node& map, const std::vector<std::string>& allowed, const Locator& loc,
                const std::string& what) {
  check_unique(map, loc, what);
  for (const auto& kv : map) {
    const auto key = kv.first.Scalar();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      auto sorted = allowed;
      std::sort(sorted.begin(), sorted.end());
      fail(loc.at(kv.first),
           fmt::format("unknown key '{}' in {} (allowed: {})", key, what, join(sorted)));
    }
  }
}

YAML::Node require_map(const YAML::Node& n, const Locator& loc, const std::string& what) {
  if (!n.IsMap()) fail(loc.at(n), fmt::format("{} must be a mapping of keys to values", what));
  return n;
}

std::string scalar(const YAML::Node& n, const Locator& loc, const std::string& what) {
  if (!n.IsScalar()) fail(loc.at(n), fmt::format("{} must be a single value", what));
  return n.Scalar();
}

// A scalar under `key` of `map`, located at the key when it is empty.
std::string scalar_at(const YAML::Node& map, const std::string& key, const Locator& loc) {
  const YAML::Node n = map[key];
  if (!n.IsScalar() || n.Scalar().empty())
    fail(loc.value_at(map, key), fmt::format("'{}' must be a single value", key));
  return n.Scalar();
}

bool valid_name(const std::string& s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

std::string name_of(const YAML::Node& n, const Locator& loc, const std::string& what) {
  auto s = scalar(n, loc, what);
  if (!valid_name(s))
    fail(loc.at(n),
         fmt::format("{} '{}' is not a valid name (letters, digits, _ - ., at most 64)", what, s));
  return s;
}

// A parameter value as the text Parameters::resolve reads: scalars as they are, lists of
// scalars as "[a,b,c]".
std::string param_text(const YAML::Node& n, const Locator& loc, const std::string& name) {
  if (n.IsScalar()) return n.Scalar();
  if (n.IsSequence()) {
    std::vector<std::string> xs;
    for (const auto& x : n) {
      if (!x.IsScalar())
        fail(loc.at(x), fmt::format("parameter '{}' must be a value or a list of values", name));
      xs.push_back(x.Scalar());
    }
    return fmt::format("[{}]", join(xs));
  }
  fail(loc.at(n), fmt::format("parameter '{}' must be a value or a list of values", name));
}

// Reads `{name|plugin|strategy: X, parameters: {...}}` and validates it against the registry.
PluginUse plugin_use(const YAML::Node& n, Kind kind, const char* name_key, const Registry& reg,
                     const Locator& loc, const std::string& what,
                     std::vector<std::string> extra_keys) {
  require_map(n, loc, what);
  extra_keys.push_back(name_key);
  extra_keys.push_back("parameters");
  check_keys(n, extra_keys, loc, what);
  if (!n[name_key]) fail(loc.at(n), fmt::format("{} needs '{}'", what, name_key));
  PluginUse use;
  use.name = scalar(n[name_key], loc, fmt::format("'{}'", name_key));
  use.where = loc.at(n[name_key]);
  const Registration& r = reg.find(kind, use.name, use.where);
  if (const auto p = n["parameters"]) {
    if (!p.IsMap() && !p.IsNull())
      fail(loc.at(p), "'parameters' must be a mapping of names to values");
    const std::string context = fmt::format("{} '{}'", kind_name(kind), use.name);
    check_unique(p, loc, "'parameters'");
    for (const auto& kv : p) {
      const auto key = kv.first.Scalar();
      const auto text = param_text(kv.second, loc, key);
      // Resolve one at a time, so that an error points at its own line: an unknown name at
      // the name, a bad value at the value (which may come from --set).
      const bool known = std::any_of(r.schema.begin(), r.schema.end(),
                                     [&](const ParamSpec& ps) { return ps.name == key; });
      (void)Parameters::resolve(
          r.schema, {{key, text}}, context,
          known && !kv.second.IsNull() ? loc.at(kv.second) : loc.at(kv.first));
      use.parameters[key] = text;
    }
  }
  return use;
}

// The values one format parameter stands for: a list, a range LOW..HIGH of integers, or a
// single value.
std::vector<std::string> format_values(const YAML::Node& n, const Locator& loc,
                                       const std::string& name) {
  std::vector<std::string> out;
  if (n.IsSequence()) {
    for (const auto& x : n) {
      if (!x.IsScalar())
        fail(loc.at(x), fmt::format("format parameter '{}' must be a value, a list of values or "
                                    "a range LOW..HIGH",
                                    name));
      out.push_back(x.Scalar());
    }
    if (out.empty()) fail(loc.at(n), fmt::format("format parameter '{}' is an empty list", name));
    return out;
  }
  if (!n.IsScalar())
    fail(loc.at(n), fmt::format("format parameter '{}' must be a value, a list of values or a "
                                "range LOW..HIGH",
                                name));
  const std::string t = n.Scalar();
  const auto dots = t.find("..");
  if (dots == std::string::npos) return {t};
  long long lo = 0, hi = 0;
  const char* b = t.data();
  const char* e = t.data() + t.size();
  auto r1 = std::from_chars(b, b + dots, lo);
  auto r2 = std::from_chars(b + dots + 2, e, hi);
  if (r1.ec != std::errc() || r1.ptr != b + dots || r2.ec != std::errc() || r2.ptr != e)
    fail(loc.at(n),
         fmt::format("format parameter '{}': '{}' is not a range LOW..HIGH of integers", name, t));
  if (lo > hi || hi - lo >= 100000)
    fail(loc.at(n), fmt::format("format parameter '{}': range '{}' is empty or too long", name, t));
  for (long long v = lo; v <= hi; ++v) out.push_back(std::to_string(v));
  return out;
}

// One entry of `formats:`, as the formats it stands for, each with single values checked
// against its plugin's schema. An entry is a text as `narrow round` takes it ("half",
// "ieee(4,3)", "ieee(1..8,1..23)") or a mapping {name, parameters} whose values may be lists
// or ranges LOW..HIGH; a range or list enumerates (the product over parameters).
std::vector<PluginUse> format_grid(const YAML::Node& item, const Registry& reg,
                                   const Locator& loc) {
  std::string name;
  std::vector<std::pair<std::string, std::vector<std::string>>> axes;  // parameter, values
  std::map<std::string, SourceLocation> value_at;
  const SourceLocation item_at = loc.at(item);
  std::vector<std::map<std::string, std::string>> combos;
  if (item.IsScalar()) {
    try {
      for (const auto& text : expand_format_spec(item.Scalar())) {
        auto parsed = parse_format_text(reg, text);
        name = parsed.name;
        combos.push_back(std::move(parsed.parameters));
      }
    } catch (const InputError& e) {
      fail(item_at, e.message());
    }
    for (const auto& c : combos)
      for (const auto& [k, v] : c) value_at[k] = item_at;
  } else {
    require_map(item, loc, "a format");
    check_keys(item, {"name", "parameters"}, loc, "a format");
    if (!item["name"]) fail(item_at, "a format needs 'name' (or write it as text: ieee(4,3))");
    name = scalar(item["name"], loc, "'name'");
    (void)reg.find(Kind::format, name, loc.at(item["name"]));
    if (const auto p = item["parameters"]) {
      if (!p.IsMap() && !p.IsNull())
        fail(loc.at(p), "'parameters' must be a mapping of names to values");
      check_unique(p, loc, "'parameters'");
      for (const auto& kv : p) {
        const auto key = kv.first.Scalar();
        axes.emplace_back(key, format_values(kv.second, loc, key));
        value_at[key] = kv.second.IsNull() ? loc.at(kv.first) : loc.at(kv.second);
      }
    }
    combos.emplace_back();
    for (const auto& [key, values] : axes) {
      std::vector<std::map<std::string, std::string>> next;
      for (const auto& c : combos)
        for (const auto& v : values) {
          auto d = c;
          d[key] = v;
          next.push_back(std::move(d));
        }
      combos = std::move(next);
      if (combos.size() > 100000)
        fail(item_at, fmt::format("format '{}' expands to more than 100,000 formats", name));
    }
  }
  const Registration& r = reg.find(Kind::format, name, item_at);
  const std::string context = fmt::format("format '{}'", name);
  std::vector<PluginUse> out;
  for (auto& c : combos) {
    // Each value alone first, so that an error points at its own line; then all together.
    for (const auto& [k, v] : c) {
      const auto where = value_at.count(k) ? value_at.at(k) : item_at;
      (void)Parameters::resolve(r.schema, {{k, v}}, context, where);
    }
    (void)Parameters::resolve(r.schema, c, context, item_at);
    out.push_back(PluginUse{name, std::move(c), item_at});
  }
  return out;
}

// Reads one law: a mapping of variable -> [low, high] or a single value.
SamplingLaw read_law(const std::string& name, const YAML::Node& body, const SearchSpace& space,
                     const std::string& space_name, const Locator& loc) {
  SamplingLaw law = SamplingLaw::uniform(space.variables());
  law.name = name;
  if (body.IsNull()) return law;
  require_map(body, loc, fmt::format("law '{}'", name));
  check_unique(body, loc, fmt::format("law '{}'", name));
  const auto& vars = space.variables();
  for (const auto& kv : body) {
    const std::string var = kv.first.Scalar();
    std::size_t i = 0;
    bool found = false;
    for (; i < vars.size(); ++i)
      if (vars[i].name == var) {
        found = true;
        break;
      }
    if (!found) {
      std::vector<std::string> names;
      for (const auto& v : vars) names.push_back(v.name);
      std::sort(names.begin(), names.end());
      fail(loc.at(kv.first), fmt::format("unknown variable '{}' of space '{}' (valid: {})", var,
                                         space_name, join(names)));
    }
    const Variable& v = vars[i];
    std::vector<YAML::Node> ends;
    if (kv.second.IsScalar()) {
      ends = {kv.second, kv.second};
    } else if (kv.second.IsSequence() && kv.second.size() == 2 && kv.second[0].IsScalar() &&
               kv.second[1].IsScalar()) {
      ends = {kv.second[0], kv.second[1]};
    } else {
      fail(loc.at(kv.second),
           fmt::format("law '{}': variable '{}' takes [low, high] or one value", name, var));
    }
    std::int64_t bound[2];
    for (int k = 0; k < 2; ++k) {
      const std::string t = ends[std::size_t(k)].Scalar();
      if (v.kind == Variable::Kind::choice) {
        auto it = std::find(v.choices.begin(), v.choices.end(), t);
        if (it == v.choices.end())
          fail(loc.at(ends[std::size_t(k)]),
               fmt::format("law '{}': '{}' is not a choice of '{}' (choices: {})", name, t, var,
                           join(v.choices)));
        bound[k] = std::int64_t(it - v.choices.begin());
      } else {
        std::int64_t x = 0;
        auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), x);
        if (ec != std::errc() || p != t.data() + t.size())
          fail(loc.at(ends[std::size_t(k)]),
               fmt::format("law '{}': '{}' for '{}' is not an integer", name, t, var));
        bound[k] = x;
      }
    }
    if (bound[0] > bound[1])
      fail(loc.at(kv.second), fmt::format("law '{}': '{}' has low {} > high {}", name, var,
                                          v.label(bound[0]), v.label(bound[1])));
    if (bound[0] < v.min || bound[1] > v.max)
      fail(loc.at(kv.second),
           fmt::format("law '{}': '{}' range [{}, {}] is outside its bounds [{}, {}]", name, var,
                       v.label(bound[0]), v.label(bound[1]), v.label(v.min), v.label(v.max)));
    law.low[i] = bound[0];
    law.high[i] = bound[1];
  }
  return law;
}

bool metric_known(const std::string& m) {
  return std::find(metric_names.begin(), metric_names.end(), m) != metric_names.end();
}
Dimension metric_dimension(const std::string& m) {
  if (m == "latency") return Dimension::seconds;
  return m.size() > 6 && m.substr(m.size() - 6) == "_bytes" ? Dimension::bytes : Dimension::count;
}

}  // namespace

Experiment Experiment::load(const std::string& file, const std::vector<std::string>& sets,
                            Registry& registry, PluginLoader& loader) {
  const SourceLocation file_where{file, 0, 0};
  if (!fs::exists(file)) fail(file_where, "no such experiment file");
  YAML::Node root = load_yaml_file(file, SourceLocation{});
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  Locator loc{file};
  require_map(root, loc, "an experiment");
  for (const auto& s : sets) apply_set(root, s);

  check_keys(root,
             {"name", "seed", "plugins", "dataset", "spaces", "device", "formats", "constraints",
              "stages", "ablation"},
             loc, "the experiment");
  for (const char* k : {"name", "seed", "spaces", "stages"})
    if (!root[k]) fail(SourceLocation{file, 1, 1}, fmt::format("the experiment needs '{}'", k));

  Experiment x;
  x.file = file;
  (void)scalar_at(root, "name", loc);
  x.name = name_of(root["name"], loc, "'name'");
  {
    const auto t = scalar_at(root, "seed", loc);
    std::uint64_t s = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), s);
    if (ec != std::errc() || p != t.data() + t.size())
      fail(loc.at(root["seed"]), fmt::format("'seed' must be an integer 0..2^64-1, got '{}'", t));
    x.seed = s;
  }
  const fs::path base = fs::absolute(fs::path(file)).parent_path();

  // Plugins first: the names below may come from them.
  if (const auto p = root["plugins"]) {
    if (!p.IsSequence())
      fail(loc.value_at(root, "plugins"),
           "'plugins' must be a list of plugin folders or library files");
    for (const auto& item : p) {
      auto path = fs::path(scalar(item, loc, "a plugin path"));
      if (path.is_relative()) path = base / path;
      path = path.lexically_normal();
      if (!fs::exists(path))
        fail(loc.at(item), fmt::format("plugin path '{}' does not exist", path.string()));
      x.plugin_paths.push_back(path.string());
      auto before = loader.libraries().size();
      loader.load_path(path.string());
      for (auto i = before; i < loader.libraries().size(); ++i)
        if (!loader.libraries()[i].ok) fail(loc.at(item), loader.libraries()[i].error);
    }
  }

  if (const auto d = root["dataset"])
    x.dataset = plugin_use(d, Kind::dataset, "name", registry, loc, "'dataset'", {});
  if (const auto d = root["device"]) {
    x.device = plugin_use(d, Kind::device, "name", registry, loc, "'device'", {});
    // Built now: a preset, a description or a calibration file that cannot be read is
    // refused before any work.
    x.device_object = create_device(registry, x.device->name, x.device->parameters,
                                    x.device->where);
  }
  if (const auto f = root["formats"]) {
    if (!f.IsSequence()) fail(loc.at(f), "'formats' must be a list");
    // Every format once: the same plugin with the same resolved parameters is refused.
    std::map<std::string, SourceLocation> seen;
    for (const auto& item : f)
      for (auto& use : format_grid(item, registry, loc)) {
        const std::string key = format_key(registry, use.name, use.parameters);
        if (auto [it, fresh] = seen.emplace(key, use.where); !fresh)
          fail(use.where, fmt::format("format {} is listed twice (first on line {})",
                                      key.substr(0, key.find('@')) + " " +
                                          key.substr(key.find('|') + 1),
                                      it->second.line));
        x.formats.push_back(std::move(use));
      }
  }

  // Spaces, each with its laws.
  const auto spaces = root["spaces"];
  if (!spaces.IsSequence() || spaces.size() == 0)
    fail(loc.value_at(root, "spaces"), "'spaces' must be a non-empty list of spaces");
  std::set<std::string> space_names;
  for (const auto& s : spaces) {
    ExperimentSpace es;
    es.plugin = plugin_use(s, Kind::space, "plugin", registry, loc, "a space", {"name", "laws"});
    es.name = s["name"] ? name_of(s["name"], loc, "space name") : es.plugin.name;
    if (!space_names.insert(es.name).second)
      fail(loc.at(s["name"] ? s["name"] : s),
           fmt::format("space name '{}' is used twice; give each a distinct 'name'", es.name));
    es.space = registry.create_space(es.plugin.name, es.plugin.parameters, es.plugin.where);
    const Registration& reg = registry.find(Kind::space, es.plugin.name);
    auto resolved = Parameters::resolve(reg.schema, es.plugin.parameters, "space");
    std::string params;
    for (const auto& [k, v] : resolved.values()) params += fmt::format("{}={};", k, to_string(v));
    es.key = fmt::format("{}@{}:{}|{}", es.plugin.name, reg.plugin, reg.plugin_version, params);
    if (auto laws = s["laws"]) {
      Locator laws_loc = loc;
      if (laws.IsScalar() && !laws.Scalar().empty()) {
        // A file of named laws, relative to the experiment file.
        auto path = fs::path(laws.Scalar());
        if (path.is_relative()) path = base / path;
        laws = load_yaml_file(path.string(), loc.at(laws));
        laws_loc = Locator{path.string()};
        if (!laws.IsMap()) fail(SourceLocation{path.string(), 1, 1}, "a law file of several laws maps law names to variable ranges");
      }
      if (!laws.IsMap() || laws.size() == 0)
        fail(laws_loc.at(laws), "'laws' must map law names to variable ranges or to a law file, or name a file of laws");
      check_unique(laws, laws_loc, "'laws'");
      for (const auto& kv : laws) {
        const std::string law_name = name_of(kv.first, laws_loc, "law name");
        if (kv.second.IsScalar() && !kv.second.Scalar().empty()) {
          // A law file, relative to the experiment file.
          auto path = fs::path(kv.second.Scalar());
          if (path.is_relative()) path = base / path;
          auto body = load_yaml_file(path.string(), laws_loc.at(kv.second));
          es.laws.push_back(read_law(law_name, body, *es.space, es.name, Locator{path.string()}));
        } else {
          es.laws.push_back(read_law(law_name, kv.second, *es.space, es.name, laws_loc));
        }
      }
    } else {
      es.laws.push_back(SamplingLaw::uniform(es.space->variables()));
    }
    x.spaces.push_back(std::move(es));
  }

  // Constraints: metric -> bound with units.
  if (const auto c = root["constraints"]) {
    if (!c.IsMap() && !c.IsNull())
      fail(loc.at(c), "'constraints' must map metric names to upper bounds");
    check_unique(c, loc, "'constraints'");
    for (const auto& kv : c) {
      const std::string metric = kv.first.Scalar();
      if (metric == "fits") {
        // fits: device: activations within the device's RAM, weights within its flash.
        const auto what = scalar(kv.second, loc, "'fits'");
        if (what != "device")
          fail(loc.at(kv.second), fmt::format("'fits' takes 'device', not '{}'", what));
        if (!x.device_object)
          fail(loc.at(kv.first), "'fits: device' needs a 'device' (e.g. device: {name: "
                                 "analytic, parameters: {preset: stm32f746}})");
        const Device& dev = *x.device_object;
        for (const auto& [m, bytes, part] :
             {std::tuple{"activation_peak_bytes", dev.ram_bytes(), "RAM"},
              std::tuple{"weight_bytes", dev.flash_bytes(), "flash"}}) {
          if (bytes <= 0)
            fail(loc.at(kv.second),
                 fmt::format("'fits: device': device '{}' does not know its {} size", dev.name(),
                             part));
          x.constraints.bounds.push_back(
              Constraint{m, double(bytes), fmt::format("device {} ({} bytes)", part, bytes),
                         loc.at(kv.second), true});
        }
        continue;
      }
      if (metric == "latency") {
        if (!x.device_object)
          fail(loc.at(kv.first),
               "'latency' constraints need a 'device' that predicts latency (analytic, or "
               "calibrated from narrow calibrate)");
        if (!x.device_object->predicts())
          fail(loc.at(kv.first),
               fmt::format("'latency' constraints need a device that predicts latency; '{}' "
                           "only measures (calibrate it: narrow calibrate --out FILE, then "
                           "device: {{name: calibrated, parameters: {{calibration: FILE}}}})",
                           x.device_object->name()));
        x.constraints.device = x.device_object.get();
      } else if (!metric_known(metric)) {
        std::vector<std::string> names(metric_names.begin(), metric_names.end());
        names.push_back("latency");
        names.push_back("fits");
        std::sort(names.begin(), names.end());
        fail(loc.at(kv.first), fmt::format("unknown metric '{}' (valid: {})", metric, join(names)));
      }
      const auto text = scalar(kv.second, loc, fmt::format("the bound of '{}'", metric));
      Quantity q;
      std::string error;
      if (!parse_quantity(text, q, error)) fail(loc.at(kv.second), error);
      const Dimension want = metric_dimension(metric);
      if (!q.plain && q.dimension != want)
        fail(loc.at(kv.second),
             fmt::format("'{}' is a {}, but '{}' is a {} (write e.g. {})", metric,
                         dimension_name(want), text, dimension_name(q.dimension),
                         want == Dimension::bytes ? "64KiB" : "250k"));
      x.constraints.bounds.push_back(Constraint{metric, q.value, text, loc.at(kv.second)});
    }
  }

  // Stages.
  const auto stages = root["stages"];
  if (!stages.IsSequence() || stages.size() == 0)
    fail(loc.value_at(root, "stages"), "'stages' must be a non-empty list of stages");
  std::set<std::string> stage_names;
  for (const auto& s : stages) {
    ExperimentStage st;
    st.strategy = plugin_use(s, Kind::strategy, "strategy", registry, loc, "a stage", {"name"});
    st.name = s["name"] ? name_of(s["name"], loc, "stage name") : st.strategy.name;
    if (!stage_names.insert(st.name).second)
      fail(loc.at(s["name"] ? s["name"] : s),
           fmt::format("stage name '{}' is used twice; give each a distinct 'name'", st.name));
    // Build once now, so that a strategy's own checks run before any work.
    (void)registry.make<Strategy>(st.strategy.name, st.strategy.parameters, st.strategy.where);
    x.stages.push_back(std::move(st));
  }

  if (const auto a = root["ablation"]) {
    if (!a.IsSequence())
      fail(loc.at(a), "'ablation' must be a list of variants, each {name, set: {path: value}}");
    std::set<std::string> names;
    for (const auto& v : a) {
      require_map(v, loc, "an ablation variant");
      check_keys(v, {"name", "set"}, loc, "an ablation variant");
      if (!v["name"]) fail(loc.at(v), "an ablation variant needs 'name'");
      auto n = name_of(v["name"], loc, "variant name");
      if (!names.insert(n).second)
        fail(loc.at(v["name"]), fmt::format("variant name '{}' is used twice", n));
      if (v["set"] && !v["set"].IsMap())
        fail(loc.at(v["set"]), "'set' must map key paths to values");
      x.ablation.push_back(n);
    }
  }

  // The resolved form.
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
  out << YAML::Key << "ablation" << YAML::Value << YAML::Flow << x.ablation;
  out << YAML::EndMap;
  x.resolved = std::string(out.c_str()) + "\n";
  return x;
}

}  // namespace narrow
