#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "narrow/component.hpp"
#include "narrow/errors.hpp"
#include "narrow/export.hpp"
#include "narrow/parameters.hpp"

namespace narrow {

/// The kinds of object a plugin can provide.
enum class Kind { space, strategy, device, format, dataset };
NARROW_API std::string_view kind_name(Kind k);
NARROW_API bool parse_kind(std::string_view name, Kind& out);

class SearchSpace;

/// Builds an object from validated parameters.
using Factory = std::function<std::unique_ptr<Component>(const Parameters&)>;

/// One registered factory, with where it came from.
struct NARROW_API Registration {
  Kind kind = Kind::space;
  std::string name;
  std::string help;  // one line
  ParamSchema schema;
  Factory factory;
  std::string plugin;          // the plugin's own name
  std::string plugin_version;  // the plugin's version
  std::string library;         // path of the shared library, or "(built in)"
};

/// Every factory narrow knows, by kind and name.
class NARROW_API Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  /// Adds a factory. Plugins call this from their registration function.
  /// Throws PluginError when the kind and name are already registered.
  void add(Kind kind, std::string name, std::string help, ParamSchema schema, Factory factory);

  /// Typed convenience for search spaces.
  template <class Space>
  void add_space(std::string name, std::string help, ParamSchema schema) {
    add(Kind::space, std::move(name), std::move(help), std::move(schema),
        [](const Parameters& p) -> std::unique_ptr<Component> {
          return std::make_unique<Space>(p);
        });
  }

  /// The registration of a kind and name; throws InputError with the sorted valid names.
  const Registration& find(Kind kind, const std::string& name,
                           const SourceLocation& where = {}) const;
  bool contains(Kind kind, const std::string& name) const;
  /// Sorted names of one kind.
  std::vector<std::string> names(Kind kind) const;
  /// Every registration, sorted by kind then name.
  std::vector<const Registration*> all() const;

  /// Resolves parameters against the schema and calls the factory. Errors in parameters are
  /// InputError; a factory that throws becomes an Error naming the plugin and the library.
  std::unique_ptr<Component> create(Kind kind, const std::string& name,
                                    const std::map<std::string, std::string>& params,
                                    const SourceLocation& where = {}) const;
  std::unique_ptr<SearchSpace> create_space(const std::string& name,
                                            const std::map<std::string, std::string>& params,
                                            const SourceLocation& where = {}) const;

  /// The registry whose create() is running a factory in this thread, nullptr outside one.
  /// Factories that build other objects by name (a device that wraps another device) use it:
  /// the registry a plugin registers into is a staging copy that does not live on.
  static const Registry* creating();

  /// Set by the loader while a library registers: where new registrations come from.
  void set_origin(std::string plugin, std::string version, std::string library);

 private:
  std::map<std::pair<Kind, std::string>, Registration> entries_;
  std::string origin_plugin_, origin_version_, origin_library_ = "(built in)";
};

}  // namespace narrow
