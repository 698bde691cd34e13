#include "run/experiment_yaml.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/names.hpp"

namespace fs = std::filesystem;

namespace narrow::experiment_yaml {

SourceLocation Locator::value_at(const YAML::Node& map, const std::string& key) const {
  for (const auto& kv : map)
    if (kv.first.Scalar() == key) return kv.second.IsNull() ? at(kv.first) : at(kv.second);
  return at(map);
}

SourceLocation Locator::at(const YAML::Node& n) const {
  const YAML::Mark m = n.Mark();
  if (m.is_null() || m.line < 0) return SourceLocation{"--set", 0, 0};
  return SourceLocation{file, m.line + 1, m.column + 1};
}

[[noreturn]] void fail(const SourceLocation& where, const std::string& message) {
  throw InputError(message, where);
}

std::string join(const std::vector<std::string>& xs) {
  return fmt::format("{}", fmt::join(xs, ", "));
}

namespace {

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

}  // namespace

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
  set_path(root, path, value, where);
}

void set_path(YAML::Node root, const std::string& path, const YAML::Node& value,
              const SourceLocation& where) {
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

std::string scalar_at(const YAML::Node& map, const std::string& key, const Locator& loc) {
  const YAML::Node n = map[key];
  if (!n.IsScalar() || n.Scalar().empty())
    fail(loc.value_at(map, key), fmt::format("'{}' must be a single value", key));
  return n.Scalar();
}

std::string name_of(const YAML::Node& n, const Locator& loc, const std::string& what) {
  auto s = scalar(n, loc, what);
  if (!valid_name(s))
    fail(loc.at(n),
         fmt::format("{} '{}' is not a valid name (letters, digits, _ - ., at most 64)", what, s));
  return s;
}

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
  if (n.IsMap()) {  // {key: value, ...} as written (a strategy's targets)
    std::vector<std::string> xs;
    for (const auto& kv : n) {
      if (!kv.first.IsScalar() || !kv.second.IsScalar())
        fail(loc.at(kv.second.IsScalar() ? kv.first : kv.second),
             fmt::format("parameter '{}' must be a value, a list of values or a mapping of "
                         "names to values", name));
      xs.push_back(kv.first.Scalar() + ": " + kv.second.Scalar());
    }
    return fmt::format("{{{}}}", join(xs));
  }
  fail(loc.at(n), fmt::format("parameter '{}' must be a value, a list of values or a mapping of "
                              "names to values", name));
}

}  // namespace narrow::experiment_yaml
