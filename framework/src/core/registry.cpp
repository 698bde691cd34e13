#include "narrow/registry.hpp"

#include <algorithm>
#include <exception>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "narrow/dataset.hpp"
#include "narrow/space.hpp"
#include "narrow/strategy.hpp"

namespace narrow {

namespace {

constexpr Kind all_kinds[] = {Kind::space, Kind::strategy, Kind::device, Kind::format,
                              Kind::dataset};

/// "space 'name'": how messages and parameter errors name a registered object.
std::string subject(Kind kind, const std::string& name) {
  return fmt::format("{} '{}'", kind_name(kind), name);
}

/// Where a registration comes from, for messages: "plugin 'p' (library L)" or
/// "narrow (built in)".
std::string origin(const std::string& plugin, const std::string& library) {
  if (library == "(built in)") return "narrow (built in)";
  if (plugin.empty())
    return library.empty() || library == "(built in)" ? std::string("narrow (built in)")
                                                      : fmt::format("library {}", library);
  return fmt::format("plugin '{}' (library {})", plugin, library);
}
std::string origin(const Registration& r) {
  return origin(r.plugin, r.library);
}

/// Exception messages from plugins may span lines; narrow prints errors as one line.
std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::replace(text.begin(), text.end(), '\r', ' ');
  return text;
}

}  // namespace

std::string_view kind_name(Kind k) {
  switch (k) {
    case Kind::space:
      return "space";
    case Kind::strategy:
      return "strategy";
    case Kind::device:
      return "device";
    case Kind::format:
      return "format";
    case Kind::dataset:
      return "dataset";
  }
  return "unknown kind";
}

std::string_view interface_name(Kind k) {
  switch (k) {
    case Kind::space:
      return "narrow::SearchSpace";
    case Kind::strategy:
      return "narrow::Strategy";
    case Kind::device:
      return "narrow::Device";
    case Kind::format:
      return "narrow::NumberFormat";
    case Kind::dataset:
      return "narrow::Dataset";
  }
  return "a narrow interface";
}

bool parse_kind(std::string_view name, Kind& out) {
  for (Kind k : all_kinds) {
    if (kind_name(k) == name) {
      out = k;
      return true;
    }
  }
  return false;
}

// An empty registry: what the program adds itself is built in, without a plugin name; the
// plugin loader adds the rest, datasets too.
Registry::Registry() = default;
Registry::~Registry() = default;

void Registry::add(Kind kind, std::string name, std::string help, ParamSchema schema,
                   Factory factory) {
  const std::string from = origin(origin_plugin_, origin_library_);
  if (name.empty())
    throw PluginError(fmt::format("{} registers a {} without a name", from, kind_name(kind)));
  if (!factory)
    throw PluginError(fmt::format("{} registers {} without a factory", from, subject(kind, name)));
  std::set<std::string> seen;
  for (const auto& spec : schema) {
    if (spec.name.empty())
      throw PluginError(fmt::format("{} registers {} with a parameter without a name", from,
                                    subject(kind, name)));
    if (!seen.insert(spec.name).second)
      throw PluginError(fmt::format("{} registers {} with parameter '{}' twice", from,
                                    subject(kind, name), spec.name));
  }
  // Every dataset, a plugin's too, takes the options the kernel handles (split, subsets,
  // normalisation, augmentation); a dataset's own parameter of the same name stays.
  if (kind == Kind::dataset)
    for (auto& common : DataOptions::schema())
      if (!seen.count(common.name)) schema.push_back(std::move(common));
  auto key = std::make_pair(kind, name);
  if (auto it = entries_.find(key); it != entries_.end()) {
    const Registration& old = it->second;
    if (old.library == origin_library_ && old.plugin == origin_plugin_)
      throw PluginError(fmt::format("{} registers {} twice", from, subject(kind, name)));
    throw PluginError(fmt::format("{} registers {}, which is already registered by {}", from,
                                  subject(kind, name), origin(old)));
  }
  Registration r;
  r.kind = kind;
  r.name = std::move(name);
  r.help = std::move(help);
  r.schema = std::move(schema);
  r.factory = std::move(factory);
  r.plugin = origin_plugin_;
  r.plugin_version = origin_version_;
  r.library = origin_library_;
  entries_.emplace(std::move(key), std::move(r));
}

const Registration& Registry::find(Kind kind, const std::string& name,
                                   const SourceLocation& where) const {
  if (auto it = entries_.find({kind, name}); it != entries_.end()) return it->second;
  const auto valid = names(kind);
  if (valid.empty())
    throw InputError(fmt::format("unknown {} '{}' (no {} is registered; are the plugins loaded?)",
                                 kind_name(kind), name, kind_name(kind)),
                     where);
  throw InputError(
      fmt::format("unknown {} '{}' (valid: {})", kind_name(kind), name, fmt::join(valid, ", ")),
      where);
}

std::string Registry::use_key(Kind kind, const std::string& name,
                              const std::map<std::string, std::string>& parameters) const {
  const Registration& r = find(kind, name);
  std::string params;
  const Parameters resolved = Parameters::resolve(r.schema, parameters, "");
  for (const auto& [k, v] : resolved.values()) params += fmt::format("{}={};", k, to_string(v));
  return fmt::format("{}@{}:{}|{}", name, r.plugin, r.plugin_version, params);
}

bool Registry::contains(Kind kind, const std::string& name) const {
  return entries_.count({kind, name}) != 0;
}

std::vector<std::string> Registry::names(Kind kind) const {
  std::vector<std::string> out;
  for (const auto& [key, r] : entries_)
    if (key.first == kind) out.push_back(key.second);
  return out;  // the map keeps names of one kind sorted
}

std::vector<const Registration*> Registry::all() const {
  std::vector<const Registration*> out;
  out.reserve(entries_.size());
  for (const auto& [key, r] : entries_) out.push_back(&r);
  return out;  // the map is ordered by (kind, name)
}

std::unique_ptr<Component> Registry::create(Kind kind, const std::string& name,
                                            const std::map<std::string, std::string>& params,
                                            const SourceLocation& where) const {
  const Registration& r = find(kind, name, where);
  const Parameters resolved = Parameters::resolve(r.schema, params, subject(kind, name), where);
  const auto failed = [&](const std::string& what) {
    return Error(fmt::format("{} from {} failed to build: {}", subject(kind, name), origin(r),
                             one_line(what)));
  };
  std::unique_ptr<Component> made;
  try {
    made = r.factory(resolved, *this);
  } catch (const ParameterError&) {
    throw;  // the experiment loader locates it at the parameter's value
  } catch (const InputError& e) {
    // Bad input stays bad input, with its own location, or else the place that named the object.
    if (!e.where().empty() || where.empty()) throw;
    throw InputError(fmt::format("{}: {}", subject(kind, name), e.what()), where);
  } catch (const std::exception& e) {
    throw failed(e.what());
  } catch (...) {
    throw failed("an exception that is not a std::exception");
  }
  if (!made) throw failed("the factory returned no object");
  return made;
}

std::unique_ptr<SearchSpace> Registry::create_space(
    const std::string& name, const std::map<std::string, std::string>& params,
    const SourceLocation& where) const {
  std::unique_ptr<SearchSpace> result = make<SearchSpace>(name, params, where);
  // The contract every space keeps; a plugin that breaks it would draw wrong architectures.
  const auto& vars = result->variables();
  for (std::size_t i = 0; i < vars.size(); ++i) {
    const Variable& v = vars[i];
    std::string problem;
    if (v.name.empty()) {
      problem = fmt::format("variable {} has no name", i);
    } else if (v.min > v.max) {
      problem = fmt::format("variable '{}' has min {} > max {}", v.name, v.min, v.max);
    } else if (v.kind == Variable::Kind::choice &&
               (v.min < 0 || v.max >= std::int64_t(v.choices.size()))) {
      problem = fmt::format("choice variable '{}' has bounds {}..{} outside its {} choices", v.name,
                            v.min, v.max, v.choices.size());
    } else if (v.depends_on >= std::int64_t(i)) {
      problem = fmt::format("variable '{}' depends on variable {}, which does not come before it",
                            v.name, v.depends_on);
    }
    if (!problem.empty()) {
      const Registration& r = find(Kind::space, name, where);
      throw Error(fmt::format("{} from {} breaks the search-space contract: {}",
                              subject(Kind::space, name), origin(r), problem));
    }
  }
  return result;
}

void Registry::not_an_interface(Kind kind, const std::string& name,
                                const SourceLocation& where) const {
  const Registration& r = find(kind, name, where);
  throw Error(fmt::format("{} from {} is registered as a {} but is not one (its factory made an "
                          "object that does not derive from {})",
                          subject(kind, name), origin(r), kind_name(kind), interface_name(kind)));
}

void Registry::set_origin(std::string plugin, std::string version, std::string library) {
  origin_plugin_ = std::move(plugin);
  origin_version_ = std::move(version);
  origin_library_ = std::move(library);
}

}  // namespace narrow
