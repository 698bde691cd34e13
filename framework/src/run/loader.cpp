#include "run/loader.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <string_view>
#include <system_error>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>

#include "narrow/config.hpp"
#include "narrow/errors.hpp"
#include "narrow/plugin.hpp"

#ifndef NARROW_PLUGIN_SUBDIR
#define NARROW_PLUGIN_SUBDIR "lib/narrow/plugins"
#endif

namespace narrow {

namespace fs = std::filesystem;

namespace {

constexpr const char* entry_symbol = "narrow_plugin";
constexpr std::string_view library_prefix = "libnarrow_";
constexpr std::string_view library_suffix = ".so";

/// Every library ever opened, kept open until the process ends. The list is deliberately never
/// destroyed: unloading at exit would pull code out from under factories and objects that
/// static destructors may still reach.
struct KeptLibraries {
  std::mutex mutex;
  std::vector<boost::dll::shared_library> libraries;
};
KeptLibraries& kept() {
  static auto* k = new KeptLibraries;
  return *k;
}

std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::replace(text.begin(), text.end(), '\r', ' ');
  return text;
}

std::string text_of(const char* s) {
  return s ? std::string(s) : std::string("(none)");
}

bool is_plugin_file_name(const std::string& name) {
  return name.size() > library_prefix.size() + library_suffix.size() &&
         name.starts_with(library_prefix) && name.ends_with(library_suffix);
}

/// Why dlopen refuses a file, in the dynamic linker's words. Boost.DLL reports only an error
/// code, so ask dlopen once more for its message.
std::string dlopen_reason(const std::string& path, const std::string& fallback) {
  dlerror();
  if (void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) {
    dlclose(h);
    return fallback;
  }
  const char* why = dlerror();
  if (!why) return fallback;
  std::string reason = why;
  // glibc starts the message with the path; the caller names the library already.
  const std::string lead = path + ": ";
  if (reason.starts_with(lead)) reason.erase(0, lead.size());
  return reason;
}

/// Differences between the build ABI a plugin recorded and the kernel's, in words.
std::vector<std::string> abi_differences(const PluginInfo& info) {
  std::vector<std::string> out;
  const std::string compiler = text_of(info.compiler), stdlib = text_of(info.stdlib),
                    torch = text_of(info.torch);
  if (compiler != NARROW_BUILD_COMPILER)
    out.push_back(fmt::format("built with compiler {}, this narrow with {}", compiler,
                              NARROW_BUILD_COMPILER));
  if (stdlib != NARROW_BUILD_STDLIB)
    out.push_back(fmt::format("built with C++ standard library {}, this narrow with {}", stdlib,
                              NARROW_BUILD_STDLIB));
  if (torch != NARROW_TORCH_VERSION)
    out.push_back(fmt::format("built against LibTorch {}, this narrow against LibTorch {}", torch,
                              NARROW_TORCH_VERSION));
  return out;
}

/// A path as a shell takes it: quoted when it holds more than letters, digits and / . _ - +.
std::string shell_word(const std::string& path) {
  const bool plain = !path.empty() && std::all_of(path.begin(), path.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("/._-+").find(c) !=
                                                              std::string_view::npos;
  });
  if (plain) return path;
  std::string out = "'";
  for (char c : path) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// Refuses a plugin file or folder that its group or other users may write: whoever can write
/// it can make narrow run their code (a library runs its static initialisers as soon as it is
/// opened, before narrow can check anything). `what` is "file" or "folder".
void check_not_writable_by_others(const fs::path& path, const char* what) {
  std::error_code ec;
  const auto perms = fs::status(path, ec).permissions();
  if (ec) return;  // a path that cannot be looked at is reported where it is used
  const bool group = (perms & fs::perms::group_write) != fs::perms::none;
  const bool others = (perms & fs::perms::others_write) != fs::perms::none;
  if (!group && !others) return;
  throw InputError(fmt::format(
      "plugin {} {} is writable by {} (mode {:04o}); narrow loads no code that others can "
      "change: make it writable by its owner only (chmod go-w {})",
      what, path.string(),
      group && others ? "its group and other users" : group ? "its group" : "other users",
      static_cast<unsigned>(perms & fs::perms::mask), shell_word(path.string())));
}

/// The checks before a library is opened: the file and the folder it is in, as named and, for
/// a symbolic link, where it leads.
void check_library_permissions(const fs::path& file) {
  check_not_writable_by_others(file, "file");
  const fs::path folder = file.parent_path();
  check_not_writable_by_others(folder.empty() ? fs::path(".") : folder, "folder");
  std::error_code ec;
  const fs::path real = fs::canonical(file, ec);
  if (!ec && real.parent_path() != fs::weakly_canonical(folder, ec))
    check_not_writable_by_others(real.parent_path(), "folder");
}

/// Resets the registry's origin when a merge ends, however it ends.
struct OriginReset {
  Registry& registry;
  ~OriginReset() { registry.set_origin("", "", "(built in)"); }
};

}  // namespace

std::vector<std::string> PluginLoader::default_paths() {
  std::vector<std::string> out;
  boost::dll::fs::error_code ec;
  const auto exe = boost::dll::program_location(ec);
  if (!ec) {
    const fs::path prefix = fs::path(exe.string()).parent_path().parent_path();
    out.push_back((prefix / NARROW_PLUGIN_SUBDIR).lexically_normal().string());
  }
  if (const char* env = std::getenv("NARROW_PLUGIN_PATH")) {
    std::string_view rest = env;
    while (!rest.empty()) {
      const auto colon = rest.find(':');
      const auto entry = rest.substr(0, colon);
      if (!entry.empty()) out.emplace_back(entry);
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  return out;
}

void PluginLoader::load_path(const std::string& path) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (!fs::exists(status)) throw InputError(fmt::format("plugin path {} does not exist", path));
  if (!fs::is_directory(status)) {
    load_library(path);
    return;
  }
  check_not_writable_by_others(path, "folder");
  std::vector<fs::path> files;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code file_ec;
    if (is_plugin_file_name(it->path().filename().string()) && it->is_regular_file(file_ec))
      files.push_back(it->path());
  }
  if (ec) throw InputError(fmt::format("plugin path {} cannot be read: {}", path, ec.message()));
  std::sort(files.begin(), files.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
  for (const auto& f : files) load_library(f.string());
}

void PluginLoader::load_defaults() {
  for (const auto& path : default_paths()) {
    std::error_code ec;
    if (fs::exists(path, ec)) load_path(path);
  }
}

LoadedLibrary PluginLoader::load_library(const std::string& file) {
  LoadedLibrary lib;
  {
    std::error_code ec;
    const fs::path absolute = fs::absolute(file, ec);
    lib.path = (ec ? fs::path(file) : absolute).lexically_normal().string();
  }
  // The same file seen twice (two search paths naming one folder, a symbolic link) is loaded
  // once: a second look gives the first result, and a library that another loader already
  // registered into this registry is not registered again.
  std::map<std::string, bool> same_file;  // other path -> names the same file as lib.path
  std::error_code canonical_ec;
  const fs::path canonical = fs::weakly_canonical(lib.path, canonical_ec);
  const auto is_same_file = [&](const std::string& other) {
    auto [it, fresh] = same_file.try_emplace(other, other == lib.path);
    if (fresh && !it->second && !canonical_ec) {
      std::error_code ec;
      const fs::path other_canonical = fs::weakly_canonical(other, ec);
      it->second = !ec && other_canonical == canonical;
    }
    return it->second;
  };
  for (const auto& seen : libraries_)
    if (is_same_file(seen.path)) return seen;
  {
    const Registration* first = nullptr;
    int count = 0;
    for (const Registration* r : registry_.all()) {
      if (r->plugin.empty() || !is_same_file(r->library)) continue;
      if (!first) first = r;
      ++count;
    }
    if (first) {
      lib.plugin = first->plugin;
      lib.version = first->plugin_version;
      lib.registered = count;
      lib.ok = true;
      libraries_.push_back(lib);
      return lib;
    }
  }
  const auto fail = [&](const std::string& reason) {
    lib.ok = false;
    lib.registered = 0;
    lib.error = fmt::format("plugin library {}: {}", lib.path, one_line(reason));
    libraries_.push_back(lib);
    return lib;
  };

  std::error_code exists_ec;
  if (!fs::exists(lib.path, exists_ec)) return fail("does not exist");
  check_library_permissions(lib.path);

  // Open the library; it stays open for the life of the process, even when it is refused,
  // since its static initializers have run and may have left references into it behind.
  boost::dll::shared_library shared;
  {
    boost::dll::fs::error_code ec;
    shared.load(lib.path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
    if (ec || !shared.is_loaded())
      return fail("cannot be loaded: " + dlopen_reason(lib.path, ec.message()));
    std::lock_guard lock(kept().mutex);
    kept().libraries.push_back(shared);
  }

  if (!shared.has(entry_symbol))
    return fail(
        fmt::format("has no narrow plugin entry point (no symbol '{}'); a plugin declares one with "
                    "NARROW_PLUGIN(name, version, register_fn)",
                    entry_symbol));

  const PluginInfo* info = nullptr;
  try {
    info = shared.get_alias<PluginEntry>(entry_symbol)();
  } catch (const std::exception& e) {
    return fail(fmt::format("its entry point '{}' failed: {}", entry_symbol, e.what()));
  } catch (...) {
    return fail(fmt::format("its entry point '{}' failed with an unknown exception", entry_symbol));
  }
  if (!info)
    return fail(fmt::format("its entry point '{}' returned no plugin information", entry_symbol));
  // Only the magic number and the API version are read before the version is known to match:
  // the rest of PluginInfo may be laid out differently in other API versions.
  if (info->magic != plugin_magic)
    return fail(fmt::format(
        "its entry point '{}' does not return narrow plugin information (magic number 0x{:08x}, "
        "expected 0x{:08x}); it is not a narrow plugin",
        entry_symbol, info->magic, plugin_magic));
  if (info->api_version != plugin_api_version)
    return fail(fmt::format(
        "built for plugin API version {}, this narrow supports version {}; rebuild the plugin "
        "against this narrow",
        info->api_version, plugin_api_version));
  lib.plugin = info->name ? info->name : "";
  lib.version = info->version ? info->version : "";
  if (const auto diffs = abi_differences(*info); !diffs.empty())
    return fail(fmt::format("{}; rebuild the plugin against this narrow", fmt::join(diffs, "; ")));
  if (lib.plugin.empty()) return fail("its plugin information has no plugin name");
  if (!info->register_plugin)
    return fail(fmt::format("plugin '{}' has no registration function", lib.plugin));

  // Register into a staging registry first, so that a library that fails half way leaves
  // nothing behind in the real one.
  Registry staging;
  staging.set_origin(lib.plugin, lib.version, lib.path);
  try {
    info->register_plugin(staging);
  } catch (const PluginError& e) {
    // The registry's own refusals start with "plugin 'p' (library L) "; say that only once.
    std::string why = e.what();
    const auto lead = fmt::format("plugin '{}' (library {}) ", lib.plugin, lib.path);
    if (why.starts_with(lead))
      return fail(fmt::format("plugin '{}' {}", lib.plugin, why.substr(lead.size())));
    return fail(fmt::format("plugin '{}' failed to register: {}", lib.plugin, why));
  } catch (const std::exception& e) {
    return fail(fmt::format("plugin '{}' failed to register: {}", lib.plugin, e.what()));
  } catch (...) {
    return fail(
        fmt::format("plugin '{}' failed to register: an exception that is not a "
                    "std::exception",
                    lib.plugin));
  }

  // The staging registry holds narrow's built-in registrations too; only the library's own
  // registrations are merged.
  std::vector<const Registration*> added;
  for (const Registration* r : staging.all())
    if (r->library == lib.path) added.push_back(r);
  if (added.empty())
    return fail(fmt::format(
        "plugin '{}' registered nothing; its registration function must add at least one factory",
        lib.plugin));
  for (const Registration* r : added) {
    if (!registry_.contains(r->kind, r->name)) continue;
    const Registration& first = registry_.find(r->kind, r->name);
    const std::string first_origin =
        first.library == "(built in)" ? std::string("narrow (built in)")
        : first.plugin.empty()
            ? fmt::format("library {}", first.library)
            : fmt::format("plugin '{}' (library {})", first.plugin, first.library);
    return fail(fmt::format(
        "plugin '{}' registers {} '{}', which {} already registered; remove or rename one of "
        "them",
        lib.plugin, kind_name(r->kind), r->name, first_origin));
  }

  {
    OriginReset reset{registry_};
    registry_.set_origin(lib.plugin, lib.version, lib.path);
    for (const Registration* r : added)
      registry_.add(r->kind, r->name, r->help, r->schema, r->factory);
  }
  lib.registered = static_cast<int>(added.size());
  lib.ok = true;
  libraries_.push_back(lib);
  return lib;
}

std::vector<LoadedLibrary> PluginLoader::failures() const {
  std::vector<LoadedLibrary> out;
  for (const auto& lib : libraries_)
    if (!lib.ok) out.push_back(lib);
  return out;
}

}  // namespace narrow
