#pragma once
#include <string>
#include <vector>

#include "narrow/export.hpp"
#include "narrow/registry.hpp"

namespace narrow {

/// A library the loader looked at.
struct NARROW_API LoadedLibrary {
  std::string path;
  std::string plugin;  // name from PluginInfo (empty when it could not be read)
  std::string version;
  int registered = 0;  // factories it added
  bool ok = false;
  std::string error;  // one line naming the library, when !ok
};

/// Finds and loads plugin libraries into a registry. Libraries stay loaded until the process
/// ends. A library that fails (no entry point, wrong API or ABI, a registration that throws,
/// a duplicate name, nothing registered) is reported and skipped; the others still load.
/// A plugin file, or the folder that holds it, that its group or other users may write is
/// refused with an InputError before it is opened (its code would run on opening).
class NARROW_API PluginLoader {
 public:
  explicit PluginLoader(Registry& registry) : registry_(registry) {}

  /// The default search path: the plugin folder next to the running program
  /// (<prefix>/lib/narrow/plugins, in the build tree and once installed), then the folders
  /// of NARROW_PLUGIN_PATH (colon-separated).
  static std::vector<std::string> default_paths();

  /// Loads every libnarrow_*.so of a folder (sorted by name) or one library file.
  /// A path that does not exist, or that others may write, throws InputError.
  void load_path(const std::string& path);
  /// Loads one library; the result says whether it worked. Throws InputError when the file or
  /// its folder is writable by its group or other users.
  LoadedLibrary load_library(const std::string& file);
  /// load_path for each of default_paths() that exists.
  void load_defaults();

  const std::vector<LoadedLibrary>& libraries() const { return libraries_; }
  std::vector<LoadedLibrary> failures() const;

 private:
  Registry& registry_;
  std::vector<LoadedLibrary> libraries_;
};

}  // namespace narrow
