#pragma once
// The plugins built in this tree, loaded once per test program.
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "run/loader.hpp"
#include "narrow/registry.hpp"

namespace narrow::test {

/// A registry holding the plugins of the build's plugin folder ($NARROW_BUILD_DIR/lib/narrow/
/// plugins; narrow's default folders without it), or only `library` (a file name in that
/// folder, e.g. "libnarrow_format_int8.so") when one is given.
inline Registry& built_plugins(const std::string& library = "") {
  static std::map<std::string, std::unique_ptr<Registry>> loaded;
  auto& reg = loaded[library];
  if (!reg) {
    reg = std::make_unique<Registry>();
    PluginLoader loader(*reg);
    if (const char* build = std::getenv("NARROW_BUILD_DIR"))
      loader.load_path(std::string(build) + "/lib/narrow/plugins" +
                       (library.empty() ? "" : "/" + library));
    else
      loader.load_defaults();
  }
  return *reg;
}

}  // namespace narrow::test
