#pragma once
// The plugin ABI. A plugin is a shared library with exactly one entry point, exported under
// the name `narrow_plugin` with BOOST_DLL_ALIAS (use NARROW_PLUGIN below). The entry point
// returns a PluginInfo, a C-layout struct the kernel reads and checks before it calls any
// other code of the library: the API version, then the build ABI (compiler, C++ standard
// library, LibTorch version the kernel was configured with). Only then does it call
// `register_plugin`, which adds factories to the registry.
#include <cstdint>

#include <boost/dll/alias.hpp>

#include "narrow/config.hpp"
#include "narrow/registry.hpp"

namespace narrow {

/// Version of this ABI: bumped whenever PluginInfo, Registry or an interface changes.
inline constexpr std::uint32_t plugin_api_version = 7;

extern "C" {
struct PluginInfo {
  std::uint32_t magic;        // plugin_magic
  std::uint32_t api_version;  // plugin_api_version at the plugin's build
  const char* name;           // the plugin's name
  const char* version;        // the plugin's version
  const char* compiler;       // NARROW_BUILD_COMPILER at the plugin's build
  const char* stdlib;         // NARROW_BUILD_STDLIB at the plugin's build
  const char* torch;          // NARROW_TORCH_VERSION at the plugin's build
  void (*register_plugin)(Registry&);
};
}
inline constexpr std::uint32_t plugin_magic = 0x6e617277;  // "narw"

using PluginEntry = const PluginInfo*();

}  // namespace narrow

/// Declares the plugin's entry point. Use once per library, at namespace scope:
///   NARROW_PLUGIN("my_space", "1.0.0", register_fn)
/// where `void register_fn(narrow::Registry&)` adds the plugin's factories.
#define NARROW_PLUGIN(NAME, VERSION, REGISTER_FN)                        \
  namespace narrow_plugin_entry {                                        \
  const ::narrow::PluginInfo* narrow_plugin_info() {                     \
    static const ::narrow::PluginInfo info{::narrow::plugin_magic,       \
                                           ::narrow::plugin_api_version, \
                                           NAME,                         \
                                           VERSION,                      \
                                           NARROW_BUILD_COMPILER,        \
                                           NARROW_BUILD_STDLIB,          \
                                           NARROW_TORCH_VERSION,         \
                                           &REGISTER_FN};                \
    return &info;                                                        \
  }                                                                      \
  }                                                                      \
  BOOST_DLL_ALIAS(narrow_plugin_entry::narrow_plugin_info, narrow_plugin)
