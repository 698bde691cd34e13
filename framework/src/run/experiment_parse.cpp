#include <algorithm>
#include <charconv>
#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "run/experiment_document.hpp"
#include "run/experiment_yaml.hpp"

namespace fs = std::filesystem;

namespace narrow {

using namespace experiment_yaml;

namespace {

// `{name|plugin|strategy: X, parameters: {...}}` with the keys `extra_keys` besides.
PluginText plugin_text(const YAML::Node& n, const char* name_key, const Locator& loc,
                       const std::string& what, std::vector<std::string> extra_keys) {
  require_map(n, loc, what);
  extra_keys.push_back(name_key);
  extra_keys.push_back("parameters");
  check_keys(n, extra_keys, loc, what);
  if (!n[name_key]) fail(loc.at(n), fmt::format("{} needs '{}'", what, name_key));
  PluginText use;
  use.name = scalar(n[name_key], loc, fmt::format("'{}'", name_key));
  use.where = loc.at(n[name_key]);
  if (const auto p = n["parameters"]) {
    if (!p.IsMap() && !p.IsNull())
      fail(loc.at(p), "'parameters' must be a mapping of names to values");
    check_unique(p, loc, "'parameters'");
    for (const auto& kv : p) {
      ParameterText t;
      t.name = kv.first.Scalar();
      t.text = param_text(kv.second, loc, t.name);
      t.name_at = loc.at(kv.first);
      t.empty = kv.second.IsNull();
      t.value_at = t.empty ? t.name_at : loc.at(kv.second);
      use.parameters.push_back(std::move(t));
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

FormatListing format_listing(const YAML::Node& item, const Locator& loc) {
  FormatListing f;
  f.where = loc.at(item);
  if (item.IsScalar()) {
    f.text = item.Scalar();
    return f;
  }
  require_map(item, loc, "a format");
  check_keys(item, {"name", "parameters"}, loc, "a format");
  if (!item["name"]) fail(f.where, "a format needs 'name' (or write it as text: ieee(4,3))");
  f.name = scalar(item["name"], loc, "'name'");
  f.name_at = loc.at(item["name"]);
  if (const auto p = item["parameters"]) {
    if (!p.IsMap() && !p.IsNull())
      fail(loc.at(p), "'parameters' must be a mapping of names to values");
    check_unique(p, loc, "'parameters'");
    for (const auto& kv : p) {
      const auto key = kv.first.Scalar();
      f.axes.emplace_back(key, format_values(kv.second, loc, key));
      f.axis_at.push_back(kv.second.IsNull() ? loc.at(kv.first) : loc.at(kv.second));
    }
  }
  return f;
}

// One law: a mapping of variable -> [low, high] or a single value.
LawText law_text(const std::string& name, const YAML::Node& body, const Locator& loc) {
  LawText law{name, {}};
  if (body.IsNull()) return law;
  require_map(body, loc, fmt::format("law '{}'", name));
  check_unique(body, loc, fmt::format("law '{}'", name));
  for (const auto& kv : body) {
    LawRange r;
    r.variable = kv.first.Scalar();
    r.variable_at = loc.at(kv.first);
    r.range_at = loc.at(kv.second);
    std::vector<YAML::Node> ends;
    if (kv.second.IsScalar()) {
      ends = {kv.second, kv.second};
    } else if (kv.second.IsSequence() && kv.second.size() == 2 && kv.second[0].IsScalar() &&
               kv.second[1].IsScalar()) {
      ends = {kv.second[0], kv.second[1]};
    } else {
      fail(r.range_at,
           fmt::format("law '{}': variable '{}' takes [low, high] or one value", name, r.variable));
    }
    for (int k = 0; k < 2; ++k) {
      r.ends[k] = ends[std::size_t(k)].Scalar();
      r.ends_at[k] = loc.at(ends[std::size_t(k)]);
    }
    law.ranges.push_back(std::move(r));
  }
  return law;
}

// `laws:` of a space: law names to ranges or to law files, or the name of a file of laws.
// Files are relative to the experiment's folder `base`.
std::vector<LawText> laws_text(YAML::Node laws, const Locator& loc, const fs::path& base) {
  Locator laws_loc = loc;
  if (laws.IsScalar() && !laws.Scalar().empty()) {
    auto path = fs::path(laws.Scalar());
    if (path.is_relative()) path = base / path;
    laws = load_yaml_file(path.string(), loc.at(laws));
    laws_loc = Locator{path.string()};
    if (!laws.IsMap())
      fail(SourceLocation{path.string(), 1, 1},
           "a law file of several laws maps law names to variable ranges");
  }
  if (!laws.IsMap() || laws.size() == 0)
    fail(laws_loc.at(laws), "'laws' must map law names to variable ranges or to a law file, or "
                            "name a file of laws");
  check_unique(laws, laws_loc, "'laws'");
  std::vector<LawText> out;
  for (const auto& kv : laws) {
    const std::string law_name = name_of(kv.first, laws_loc, "law name");
    if (kv.second.IsScalar() && !kv.second.Scalar().empty()) {
      auto path = fs::path(kv.second.Scalar());
      if (path.is_relative()) path = base / path;
      auto body = load_yaml_file(path.string(), laws_loc.at(kv.second));
      out.push_back(law_text(law_name, body, Locator{path.string()}));
    } else {
      out.push_back(law_text(law_name, kv.second, laws_loc));
    }
  }
  return out;
}

std::vector<BoundText> bounds_text(const YAML::Node& c, const Locator& loc) {
  if (!c.IsMap() && !c.IsNull())
    fail(loc.at(c), "'constraints' must map metric names to upper bounds");
  check_unique(c, loc, "'constraints'");
  std::vector<BoundText> out;
  for (const auto& kv : c) {
    BoundText b;
    b.metric = kv.first.Scalar();
    b.key_at = loc.at(kv.first);
    b.value_at = loc.at(kv.second);
    if (b.metric == "fits") {
      b.text = scalar(kv.second, loc, "'fits'");
      if (b.text != "device")
        fail(b.value_at, fmt::format("'fits' takes 'device', not '{}'", b.text));
    } else {
      b.text = scalar(kv.second, loc, fmt::format("the bound of '{}'", b.metric));
    }
    out.push_back(std::move(b));
  }
  return out;
}

std::vector<VariantText> ablation_text(const YAML::Node& a, const Locator& loc) {
  if (!a.IsSequence())
    fail(loc.at(a), "'ablation' must be a list of variants, each {name, set: {path: value}}");
  std::vector<VariantText> out;
  std::set<std::string> names;
  for (const auto& v : a) {
    require_map(v, loc, "an ablation variant");
    check_keys(v, {"name", "set"}, loc, "an ablation variant");
    if (!v["name"]) fail(loc.at(v), "an ablation variant needs 'name'");
    VariantText vt;
    vt.name = name_of(v["name"], loc, "variant name");
    vt.name_at = loc.at(v["name"]);
    if (vt.name == "base")
      fail(vt.name_at, "'base' names the experiment as written; give the variant another name");
    if (!names.insert(vt.name).second)
      fail(vt.name_at, fmt::format("variant name '{}' is used twice", vt.name));
    const auto set = v["set"];
    if (!set || !set.IsMap() || set.size() == 0)
      fail(set ? loc.at(set) : vt.name_at,
           fmt::format("variant '{}' needs 'set', a mapping of key paths to values (e.g. set: "
                       "{{stages.0.parameters.per_law: 100}})",
                       vt.name));
    check_unique(set, loc, fmt::format("the settings of variant '{}'", vt.name));
    for (const auto& kv : set) {
      SetText st;
      st.path = scalar(kv.first, loc, "a key path");
      st.path_at = loc.at(kv.first);
      st.value = kv.second;
      const std::string head = st.path.substr(0, st.path.find('.'));
      if (head == "name" || head == "seed" || head == "seeds" || head == "ablation")
        fail(st.path_at, fmt::format("a variant cannot set '{}' (variants run under the "
                                     "experiment's name and seeds; list seeds in 'seeds')",
                                     head));
      vt.sets.push_back(std::move(st));
    }
    out.push_back(std::move(vt));
  }
  return out;
}

std::vector<std::uint64_t> seeds_text(const YAML::Node& n, const Locator& loc) {
  if (!n.IsSequence() || n.size() == 0)
    fail(loc.at(n), "'seeds' must be a non-empty list of integers 0..2^64-1, e.g. [1, 2, 3]");
  std::vector<std::uint64_t> out;
  for (const auto& item : n) {
    const auto t = scalar(item, loc, "a seed");
    std::uint64_t s = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), s);
    if (ec != std::errc() || p != t.data() + t.size())
      fail(loc.at(item), fmt::format("a seed must be an integer 0..2^64-1, got '{}'", t));
    if (std::find(out.begin(), out.end(), s) != out.end())
      fail(loc.at(item), fmt::format("seed {} is listed twice", s));
    out.push_back(s);
  }
  return out;
}

}  // namespace

ExperimentDocument parse_experiment(const std::string& file, const std::vector<std::string>& sets,
                                    const VariantText* variant) {
  const SourceLocation file_where{file, 0, 0};
  if (!fs::exists(file)) fail(file_where, "no such experiment file");
  YAML::Node root = load_yaml_file(file, SourceLocation{});
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  const Locator loc{file};
  require_map(root, loc, "an experiment");
  for (const auto& s : sets) apply_set(root, s);
  if (variant)
    for (const auto& s : variant->sets) set_path(root, s.path, s.value, s.path_at);

  check_keys(root,
             {"name", "seed", "seeds", "plugins", "dataset", "spaces", "device", "formats",
              "constraints", "stages", "ablation"},
             loc, "the experiment");
  for (const char* k : {"name", "spaces", "stages"})
    if (!root[k]) fail(SourceLocation{file, 1, 1}, fmt::format("the experiment needs '{}'", k));
  if (!root["seed"] && !root["seeds"])
    fail(SourceLocation{file, 1, 1}, "the experiment needs 'seed' (or 'seeds', a list)");

  ExperimentDocument d;
  d.file = file;
  (void)scalar_at(root, "name", loc);
  d.name = name_of(root["name"], loc, "'name'");
  if (const auto n = root["seeds"]) d.seeds = seeds_text(n, loc);
  if (!root["seed"]) {
    d.seed = d.seeds.front();
  } else {
    const auto t = scalar_at(root, "seed", loc);
    std::uint64_t s = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), s);
    if (ec != std::errc() || p != t.data() + t.size())
      fail(loc.at(root["seed"]), fmt::format("'seed' must be an integer 0..2^64-1, got '{}'", t));
    d.seed = s;
  }
  const fs::path base = fs::absolute(fs::path(file)).parent_path();

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
      d.plugin_paths.push_back(PluginPathText{path.string(), loc.at(item)});
    }
  }
  if (const auto n = root["dataset"]) d.dataset = plugin_text(n, "name", loc, "'dataset'", {});
  if (const auto n = root["device"]) d.device = plugin_text(n, "name", loc, "'device'", {});
  if (const auto f = root["formats"]) {
    if (!f.IsSequence()) fail(loc.at(f), "'formats' must be a list");
    for (const auto& item : f) d.formats.push_back(format_listing(item, loc));
  }

  const auto spaces = root["spaces"];
  if (!spaces.IsSequence() || spaces.size() == 0)
    fail(loc.value_at(root, "spaces"), "'spaces' must be a non-empty list of spaces");
  std::set<std::string> space_names;
  for (const auto& s : spaces) {
    SpaceText st;
    st.plugin = plugin_text(s, "plugin", loc, "a space", {"name", "laws"});
    st.name = s["name"] ? name_of(s["name"], loc, "space name") : st.plugin.name;
    if (!space_names.insert(st.name).second)
      fail(loc.at(s["name"] ? s["name"] : s),
           fmt::format("space name '{}' is used twice; give each a distinct 'name'", st.name));
    if (const auto laws = s["laws"]) {
      st.has_laws = true;
      st.laws = laws_text(laws, loc, base);
    }
    d.spaces.push_back(std::move(st));
  }

  if (const auto c = root["constraints"]) d.bounds = bounds_text(c, loc);

  const auto stages = root["stages"];
  if (!stages.IsSequence() || stages.size() == 0)
    fail(loc.value_at(root, "stages"), "'stages' must be a non-empty list of stages");
  std::set<std::string> stage_names;
  for (const auto& s : stages) {
    StageText st;
    st.strategy = plugin_text(s, "strategy", loc, "a stage", {"name"});
    st.name = s["name"] ? name_of(s["name"], loc, "stage name") : st.strategy.name;
    if (!stage_names.insert(st.name).second)
      fail(loc.at(s["name"] ? s["name"] : s),
           fmt::format("stage name '{}' is used twice; give each a distinct 'name'", st.name));
    d.stages.push_back(std::move(st));
  }

  if (const auto a = root["ablation"]; a && !variant) d.ablation = ablation_text(a, loc);
  return d;
}

}  // namespace narrow
