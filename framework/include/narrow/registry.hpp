#pragma once
#include <functional>
#include <type_traits>
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
class Strategy;
class Device;
class NumberFormat;
class Dataset;
class Registry;

/// The kind of the plugin interface `T` (or of a class derived from one), and the interface's
/// name for messages.
template <class T>
constexpr Kind kind_of() {
  if constexpr (std::is_base_of_v<SearchSpace, T>) return Kind::space;
  else if constexpr (std::is_base_of_v<Strategy, T>) return Kind::strategy;
  else if constexpr (std::is_base_of_v<Device, T>) return Kind::device;
  else if constexpr (std::is_base_of_v<NumberFormat, T>) return Kind::format;
  else {
    static_assert(std::is_base_of_v<Dataset, T>, "not a narrow plugin interface");
    return Kind::dataset;
  }
}
/// "narrow::SearchSpace", ...: the interface a kind's objects derive from.
NARROW_API std::string_view interface_name(Kind k);

/// Builds an object from validated parameters. `registry` is the registry building it (not the
/// staging copy a plugin registers into): a factory that builds other objects by name (a
/// device that wraps another device) uses it.
using Factory =
    std::function<std::unique_ptr<Component>(const Parameters&, const Registry& registry)>;

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

  /// Adds class `T` (derived from one plugin interface, which gives the kind) under `name`,
  /// built as T(parameters), or T(parameters, registry) when it has that constructor.
  template <class T>
  void add(std::string name, std::string help, ParamSchema schema) {
    add(kind_of<T>(), std::move(name), std::move(help), std::move(schema),
        [](const Parameters& p, const Registry& r) -> std::unique_ptr<Component> {
          if constexpr (std::is_constructible_v<T, const Parameters&, const Registry&>)
            return std::make_unique<T>(p, r);
          else
            return std::make_unique<T>(p);
        });
  }
  /// Adds a factory of objects of class `T` (derived from one plugin interface, which gives
  /// the kind): `make(parameters)` or `make(parameters, registry)` returns std::unique_ptr<T>.
  template <class T, class Make>
  void add(std::string name, std::string help, ParamSchema schema, Make make) {
    add(kind_of<T>(), std::move(name), std::move(help), std::move(schema),
        [make = std::move(make)](const Parameters& p,
                                 const Registry& r) -> std::unique_ptr<Component> {
          if constexpr (std::is_invocable_v<const Make&, const Parameters&, const Registry&>)
            return std::unique_ptr<T>(make(p, r));
          else
            return std::unique_ptr<T>(make(p));
        });
  }

  /// Builds the object of interface `T` registered under `name`: parameters resolved
  /// against its schema (InputError for unknown names and bad values, with the valid ones),
  /// Error naming the plugin when its factory throws or makes an object that is not a `T`.
  template <class T>
  std::unique_ptr<T> make(const std::string& name,
                          const std::map<std::string, std::string>& params,
                          const SourceLocation& where = {}) const {
    std::unique_ptr<Component> made = create(kind_of<T>(), name, params, where);
    T* object = dynamic_cast<T*>(made.get());
    if (!object) not_an_interface(kind_of<T>(), name, where);
    made.release();
    return std::unique_ptr<T>(object);
  }

  /// The registration of a kind and name; throws InputError with the sorted valid names.
  const Registration& find(Kind kind, const std::string& name,
                           const SourceLocation& where = {}) const;
  bool contains(Kind kind, const std::string& name) const;
  /// The content key of a plugin object: "NAME@PLUGIN:VERSION|k=v;..." with every parameter
  /// of its schema resolved (defaults filled in, sorted by name). Keys of stored units that
  /// depend on a format or a space contain it, so a new plugin version gives new units.
  std::string use_key(Kind kind, const std::string& name,
                      const std::map<std::string, std::string>& parameters) const;
  /// Sorted names of one kind.
  std::vector<std::string> names(Kind kind) const;
  /// Every registration, sorted by kind then name.
  std::vector<const Registration*> all() const;

  /// Resolves parameters against the schema and calls the factory. Errors in parameters are
  /// InputError; a factory that throws becomes an Error naming the plugin and the library.
  std::unique_ptr<Component> create(Kind kind, const std::string& name,
                                    const std::map<std::string, std::string>& params,
                                    const SourceLocation& where = {}) const;
  /// make<SearchSpace>, then checks the search-space contract every space keeps (variables
  /// named, bounds ordered, dependencies on earlier variables): Error naming the plugin.
  std::unique_ptr<SearchSpace> create_space(const std::string& name,
                                            const std::map<std::string, std::string>& params,
                                            const SourceLocation& where = {}) const;

  /// Set by the loader while a library registers: where new registrations come from.
  void set_origin(std::string plugin, std::string version, std::string library);

 private:
  /// Throws the Error "KIND 'name' from PLUGIN is registered as a KIND but is not one".
  [[noreturn]] void not_an_interface(Kind kind, const std::string& name,
                                     const SourceLocation& where) const;
  std::map<std::pair<Kind, std::string>, Registration> entries_;
  std::string origin_plugin_, origin_version_, origin_library_ = "(built in)";
};

}  // namespace narrow
