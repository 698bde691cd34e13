#pragma once
// The plugins built in this tree, loaded once per test program.
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "narrow/registry.hpp"
#include "run/loader.hpp"

namespace narrow::test {

/// Loads the plugins of the build's plugin folder ($NARROW_BUILD_DIR/lib/narrow/plugins;
/// narrow's default folders without it) into `registry`, or only `library` (a file name in
/// that folder, e.g. "libnarrow_format_int8.so") when one is given.
inline void load_built_plugins(Registry& registry, const std::string& library = "") {
  PluginLoader loader(registry);
  if (const char* build = std::getenv("NARROW_BUILD_DIR"))
    loader.load_path(std::string(build) + "/lib/narrow/plugins" +
                     (library.empty() ? "" : "/" + library));
  else
    loader.load_defaults();
}

/// A registry holding the plugins load_built_plugins loads, made once per `library`.
inline Registry& built_plugins(const std::string& library = "") {
  static std::map<std::string, std::unique_ptr<Registry>> loaded;
  auto& reg = loaded[library];
  if (!reg) {
    reg = std::make_unique<Registry>();
    load_built_plugins(*reg, library);
  }
  return *reg;
}

}  // namespace narrow::test
