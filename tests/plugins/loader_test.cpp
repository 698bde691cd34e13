#define BOOST_TEST_MODULE loader
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include "narrow/architecture.hpp"
#include "narrow/config.hpp"
#include "narrow/errors.hpp"
#include "run/loader.hpp"
#include "narrow/plugin.hpp"
#include "narrow/registry.hpp"
#include "narrow/space.hpp"
#include "support/files.hpp"

namespace fs = std::filesystem;

namespace {

using narrow::Kind;
using narrow::LoadedLibrary;
using narrow::PluginLoader;
using narrow::Registry;

std::string env_or_fail(const char* name) {
  const char* v = std::getenv(name);
  BOOST_TEST_REQUIRE(v != nullptr, name << " is not set; run this test through ctest");
  BOOST_TEST_REQUIRE(*v != '\0', name << " is empty");
  return v;
}

std::string fixture_dir() {
  return env_or_fail("NARROW_FIXTURE_PLUGIN_DIR");
}
std::string fixture(const std::string& name) {
  return (fs::path(fixture_dir()) / ("libnarrow_fixture_" + name + ".so"))
      .lexically_normal()
      .string();
}
std::string real_plugin_dir() {
  return (fs::path(env_or_fail("NARROW_BUILD_DIR")) / "lib/narrow/plugins")
      .lexically_normal()
      .string();
}

/// Names of what plugin libraries registered (a new registry holds nothing else).
std::vector<std::string> plugin_names(const Registry& registry) {
  std::vector<std::string> names;
  for (const auto* r : registry.all()) names.push_back(r->name);
  return names;
}

/// The loader's record of one fixture library.
const LoadedLibrary& record(const PluginLoader& loader, const std::string& name) {
  const std::string path = fixture(name);
  for (const auto& lib : loader.libraries())
    if (lib.path == path) return lib;
  BOOST_FAIL("the loader has no record of " << path);
  throw;  // not reached
}

/// Checks the common form of a failure: one line, "plugin library PATH: REASON".
void check_failure(const LoadedLibrary& lib, const std::string& reason_part) {
  BOOST_TEST_CONTEXT(lib.path) {
    BOOST_TEST(!lib.ok);
    BOOST_TEST(lib.registered == 0);
    BOOST_TEST(lib.error.find('\n') == std::string::npos, "not one line: " << lib.error);
    const std::string lead = "plugin library " + lib.path + ": ";
    BOOST_TEST(lib.error.rfind(lead, 0) == 0,
               "does not start with '" << lead << "': " << lib.error);
    BOOST_TEST(lib.error.find(reason_part) != std::string::npos,
               "'" << lib.error << "' does not say '" << reason_part << "'");
  }
}

/// A registry with the whole fixture folder loaded.
struct FixtureFolder {
  Registry registry;
  PluginLoader loader{registry};
  FixtureFolder() { loader.load_path(fixture_dir()); }
};

bool is_plain_error(const narrow::Error& e) {
  return dynamic_cast<const narrow::InputError*>(&e) == nullptr;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fixture_folder)

BOOST_FIXTURE_TEST_CASE(loads_every_plugin_file_in_name_order, FixtureFolder) {
  std::vector<std::string> files;
  for (const auto& lib : loader.libraries())
    files.push_back(fs::path(lib.path).filename().string());
  const std::vector<std::string> expected{
      "libnarrow_fixture_bad_magic.so",     "libnarrow_fixture_dup_a.so",
      "libnarrow_fixture_dup_b.so",         "libnarrow_fixture_dup_self.so",
      "libnarrow_fixture_empty.so",         "libnarrow_fixture_factory_throws.so",
      "libnarrow_fixture_good.so",          "libnarrow_fixture_no_entry.so",
      "libnarrow_fixture_not_a_library.so", "libnarrow_fixture_register_throws.so",
      "libnarrow_fixture_wrong_abi.so",     "libnarrow_fixture_wrong_api.so"};
  BOOST_TEST(files == expected, boost::test_tools::per_element());

  std::vector<std::string> failed;
  for (const auto& lib : loader.failures())
    failed.push_back(fs::path(lib.path).filename().string());
  const std::vector<std::string> expected_failures{
      "libnarrow_fixture_bad_magic.so",       "libnarrow_fixture_dup_b.so",
      "libnarrow_fixture_dup_self.so",        "libnarrow_fixture_empty.so",
      "libnarrow_fixture_no_entry.so",        "libnarrow_fixture_not_a_library.so",
      "libnarrow_fixture_register_throws.so", "libnarrow_fixture_wrong_abi.so",
      "libnarrow_fixture_wrong_api.so"};
  BOOST_TEST(failed == expected_failures, boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_CASE(wrong_api_version_is_refused_in_words, FixtureFolder) {
  const auto& lib = record(loader, "wrong_api");
  check_failure(lib, "built for plugin API version 999");
  BOOST_TEST(lib.error == "plugin library " + fixture("wrong_api") +
                              ": built for plugin API version 999, this narrow supports version " +
                              std::to_string(narrow::plugin_api_version) +
                              "; rebuild the plugin against this narrow");
  // The rest of its PluginInfo is not trusted, so not even its name is read.
  BOOST_TEST(lib.plugin.empty());
  BOOST_TEST(!registry.contains(Kind::space, "fixture_wrong_api"));
}

BOOST_FIXTURE_TEST_CASE(wrong_abi_is_refused_before_registration, FixtureFolder) {
  const auto& lib = record(loader, "wrong_abi");
  check_failure(lib, std::string("built against LibTorch 0.0.0, this narrow against LibTorch ") +
                         NARROW_TORCH_VERSION + "; rebuild the plugin against this narrow");
  BOOST_TEST(lib.plugin == "fixture_wrong_abi");
  // Its compiler and standard library match, so only LibTorch is named.
  BOOST_TEST(lib.error.find("compiler") == std::string::npos);
  BOOST_TEST(lib.error.find("standard library") == std::string::npos);
  BOOST_TEST(!registry.contains(Kind::space, "fixture_wrong_abi"));
}

BOOST_FIXTURE_TEST_CASE(bad_magic_is_not_a_narrow_plugin, FixtureFolder) {
  const auto& lib = record(loader, "bad_magic");
  check_failure(lib, "does not return narrow plugin information (magic number 0x12345678");
  BOOST_TEST(!registry.contains(Kind::space, "fixture_bad_magic"));
}

BOOST_FIXTURE_TEST_CASE(missing_entry_point_is_named, FixtureFolder) {
  check_failure(record(loader, "no_entry"),
                "has no narrow plugin entry point (no symbol 'narrow_plugin')");
}

BOOST_FIXTURE_TEST_CASE(file_that_is_not_a_library_is_refused, FixtureFolder) {
  const auto& lib = record(loader, "not_a_library");
  check_failure(lib, "cannot be loaded: ");
  // The dynamic linker's reason follows, without the path a second time.
  const auto reason = lib.error.substr(lib.error.find("cannot be loaded: ") + 18);
  BOOST_TEST(!reason.empty());
  BOOST_TEST(reason.find(lib.path) == std::string::npos, reason);
}

BOOST_FIXTURE_TEST_CASE(throwing_registration_leaves_nothing_behind, FixtureFolder) {
  const auto& lib = record(loader, "register_throws");
  check_failure(lib,
                "plugin 'fixture_register_throws' failed to register: fixture registration "
                "failure: the device table is missing");
  BOOST_TEST(lib.plugin == "fixture_register_throws");
  BOOST_TEST(!registry.contains(Kind::space, "fixture_partial"));
}

BOOST_FIXTURE_TEST_CASE(library_that_registers_nothing_is_refused, FixtureFolder) {
  check_failure(record(loader, "empty"), "plugin 'fixture_empty' registered nothing");
}

BOOST_FIXTURE_TEST_CASE(duplicate_name_is_refused_and_the_first_stays, FixtureFolder) {
  const auto& first = record(loader, "dup_a");
  BOOST_TEST(first.ok);
  BOOST_TEST(first.registered == 1);
  const auto& second = record(loader, "dup_b");
  check_failure(second,
                "plugin 'fixture_dup_b' registers space 'fixture_dup', which plugin "
                "'fixture_dup_a' (library " +
                    fixture("dup_a") + ") already registered");
  BOOST_TEST_REQUIRE(registry.contains(Kind::space, "fixture_dup"));
  BOOST_TEST(registry.find(Kind::space, "fixture_dup").library == fixture("dup_a"));
  BOOST_TEST(registry.find(Kind::space, "fixture_dup").plugin == "fixture_dup_a");
  // Transactional: the name dup_b registered before the clash is gone as well.
  BOOST_TEST(!registry.contains(Kind::space, "fixture_dup_b_only"));
}

BOOST_FIXTURE_TEST_CASE(duplicate_within_one_library_is_refused, FixtureFolder) {
  check_failure(record(loader, "dup_self"),
                "plugin 'fixture_dup_self' registers space 'fixture_twice' twice");
  BOOST_TEST(!registry.contains(Kind::space, "fixture_twice"));
}

BOOST_FIXTURE_TEST_CASE(only_the_good_libraries_registered, FixtureFolder) {
  const std::vector<std::string> expected{"fixture_dup", "fixture_good", "fixture_not_a_space",
                                          "fixture_null", "fixture_throwing"};
  BOOST_TEST(plugin_names(registry) == expected, boost::test_tools::per_element());
  // Datasets are plugins as well: none is registered unless a library registers it.
  BOOST_TEST(registry.names(Kind::dataset).empty());
}

BOOST_FIXTURE_TEST_CASE(loading_a_folder_again_changes_nothing, FixtureFolder) {
  const auto libraries = loader.libraries().size();
  const auto registrations = registry.all().size();
  loader.load_path(fixture_dir());
  loader.load_library(fixture("good"));
  BOOST_TEST(loader.libraries().size() == libraries);
  BOOST_TEST(registry.all().size() == registrations);
  BOOST_TEST(loader.failures().size() == 9u);
}

BOOST_FIXTURE_TEST_CASE(symbolic_link_to_a_loaded_library_is_the_same_library, FixtureFolder) {
  const fs::path dir =
      fs::temp_directory_path() / ("narrow_loader_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path link = dir / "libnarrow_fixture_link.so";
  fs::create_symlink(fixture("good"), link);
  const auto libraries = loader.libraries().size();
  const auto lib = loader.load_library(link.string());
  fs::remove_all(dir);
  BOOST_TEST(lib.ok, lib.error);
  BOOST_TEST(lib.path == fixture("good"));
  BOOST_TEST(loader.libraries().size() == libraries);
  BOOST_TEST(registry.find(Kind::space, "fixture_good").library == fixture("good"));
}

BOOST_FIXTURE_TEST_CASE(second_loader_on_the_same_registry_sees_loaded_library, FixtureFolder) {
  PluginLoader other(registry);
  const auto lib = other.load_library(fixture("good"));
  BOOST_TEST(lib.ok, lib.error);
  BOOST_TEST(lib.plugin == "fixture_good");
  BOOST_TEST(lib.registered == 1);
  BOOST_TEST(registry.find(Kind::space, "fixture_good").library == fixture("good"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(good_plugin)

BOOST_AUTO_TEST_CASE(loads_next_to_bad_ones_and_builds_networks) {
  FixtureFolder f;
  const auto& lib = record(f.loader, "good");
  BOOST_TEST(lib.ok, lib.error);
  BOOST_TEST(lib.error.empty());
  BOOST_TEST(lib.plugin == "fixture_good");
  BOOST_TEST(lib.version == "1.2.3");
  BOOST_TEST(lib.registered == 1);

  const auto& reg = f.registry.find(Kind::space, "fixture_good");
  BOOST_TEST(reg.plugin == "fixture_good");
  BOOST_TEST(reg.plugin_version == "1.2.3");
  BOOST_TEST(reg.library == fixture("good"));
  BOOST_TEST(reg.schema.size() == 4u);

  auto space = f.registry.create_space("fixture_good", {{"classes", "5"}, {"channels", "3"}});
  BOOST_TEST_REQUIRE(space != nullptr);
  BOOST_TEST_REQUIRE(space->variables().size() == 1u);
  BOOST_TEST(space->variables()[0].name == "width");
  BOOST_TEST(space->variables()[0].min == 1);
  BOOST_TEST(space->variables()[0].max == 8);
  BOOST_TEST(space->references() == (std::vector<std::string>{"narrowest", "widest"}),
             boost::test_tools::per_element());

  auto arch = space->build(space->reference("widest"));
  arch.finalize();
  BOOST_TEST(arch.layers().size() == 4u);
  BOOST_TEST((arch.input() == narrow::Shape{3, 8, 8, false}));
  BOOST_TEST(arch.classes() == 5);
  BOOST_TEST((arch.shape(arch.index_of("flatten")) == narrow::Shape{3 * 8 * 8, 1, 1, true}));
  BOOST_TEST(arch.shape(arch.index_of("hidden")).c == 8);
  BOOST_TEST((arch.shape(arch.output_index()) == narrow::Shape{5, 1, 1, true}));

  auto narrow_arch = space->build({3});
  narrow_arch.finalize();
  BOOST_TEST(narrow_arch.shape(narrow_arch.index_of("hidden")).c == 3);
  BOOST_TEST(narrow_arch.hash() != arch.hash());

  BOOST_CHECK_THROW(space->build({9}), narrow::InputError);
  BOOST_CHECK_THROW(space->reference("medium"), narrow::InputError);
}

BOOST_AUTO_TEST_CASE(bad_parameters_are_input_errors_naming_the_space) {
  FixtureFolder f;
  const narrow::SourceLocation where{"experiment.yaml", 12, 5};
  try {
    f.registry.create_space("fixture_good", {{"classes", "1"}}, where);
    BOOST_FAIL("classes=1 is below the range and must be refused");
  } catch (const narrow::InputError& e) {
    BOOST_TEST(e.message().find("space 'fixture_good'") != std::string::npos, e.message());
    BOOST_TEST(e.where().line == 12);
  }
  BOOST_CHECK_THROW(f.registry.create_space("fixture_good", {{"depth", "3"}}), narrow::InputError);
  BOOST_CHECK_THROW(f.registry.create_space("fixture_good", {{"activation", "tanh"}}),
                    narrow::InputError);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(factories)

BOOST_AUTO_TEST_CASE(throwing_factory_becomes_error_naming_plugin_and_library) {
  FixtureFolder f;
  BOOST_TEST_REQUIRE(record(f.loader, "factory_throws").ok);
  const std::string expected =
      "space 'fixture_throwing' from plugin 'fixture_factory_throws' "
      "(library " +
      fixture("factory_throws") + ") failed to build: fixture_throwing cannot allocate its tables";
  BOOST_CHECK_EXCEPTION(f.registry.create(Kind::space, "fixture_throwing", {}), narrow::Error,
                        [&](const narrow::Error& e) {
                          BOOST_TEST(e.what() == expected);
                          return is_plain_error(e);
                        });
  BOOST_CHECK_EXCEPTION(f.registry.create_space("fixture_throwing", {}), narrow::Error,
                        [&](const narrow::Error& e) { return e.what() == expected; });
}

BOOST_AUTO_TEST_CASE(input_error_from_a_factory_passes_through) {
  FixtureFolder f;
  BOOST_CHECK_EXCEPTION(f.registry.create(Kind::space, "fixture_throwing", {{"mode", "input"}}),
                        narrow::InputError, [](const narrow::InputError& e) {
                          return e.message() == "fixture_throwing was told to reject its input";
                        });
}

BOOST_AUTO_TEST_CASE(space_that_is_not_a_space_is_an_error) {
  FixtureFolder f;
  // As a component it builds...
  BOOST_TEST(f.registry.create(Kind::space, "fixture_not_a_space", {}) != nullptr);
  // ...but not as a search space.
  BOOST_CHECK_EXCEPTION(
      f.registry.create_space("fixture_not_a_space", {}), narrow::Error,
      [](const narrow::Error& e) {
        const std::string what = e.what();
        BOOST_TEST(what.find("registered as a space but is not one") != std::string::npos, what);
        BOOST_TEST(what.find("plugin 'fixture_factory_throws' (library " +
                             fixture("factory_throws") + ")") != std::string::npos,
                   what);
        return is_plain_error(e);
      });
}

BOOST_AUTO_TEST_CASE(factory_returning_nothing_is_an_error) {
  FixtureFolder f;
  BOOST_CHECK_EXCEPTION(f.registry.create(Kind::space, "fixture_null", {}), narrow::Error,
                        [](const narrow::Error& e) {
                          const std::string what = e.what();
                          BOOST_TEST(what.find("space 'fixture_null' from plugin "
                                               "'fixture_factory_throws'") == 0u,
                                     what);
                          BOOST_TEST(what.find("returned no object") != std::string::npos, what);
                          return is_plain_error(e);
                        });
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(transactions)

BOOST_AUTO_TEST_CASE(failed_registration_alone_leaves_only_the_built_ins) {
  Registry registry;
  const auto built_in = registry.all().size();
  PluginLoader loader(registry);
  const auto lib = loader.load_library(fixture("register_throws"));
  BOOST_TEST(!lib.ok);
  BOOST_TEST(registry.all().size() == built_in);
  BOOST_TEST(plugin_names(registry).empty());
  BOOST_TEST(loader.failures().size() == 1u);
}

BOOST_AUTO_TEST_CASE(whichever_comes_first_keeps_the_name) {
  Registry registry;
  PluginLoader loader(registry);
  // Alone, dup_b is a valid library: its refusal in the folder comes from the clash only.
  const auto b = loader.load_library(fixture("dup_b"));
  BOOST_TEST(b.ok, b.error);
  BOOST_TEST(b.registered == 2);
  const auto a = loader.load_library(fixture("dup_a"));
  BOOST_TEST(!a.ok);
  BOOST_TEST(a.error == "plugin library " + fixture("dup_a") +
                            ": plugin 'fixture_dup_a' registers space 'fixture_dup', which plugin "
                            "'fixture_dup_b' (library " +
                            fixture("dup_b") +
                            ") already registered; remove or rename one of them");
  BOOST_TEST(registry.find(Kind::space, "fixture_dup").plugin == "fixture_dup_b");
  BOOST_TEST(registry.contains(Kind::space, "fixture_dup_b_only"));
}

BOOST_AUTO_TEST_CASE(clash_with_a_built_in_registration_is_refused) {
  Registry registry;
  registry.add(
      Kind::space, "fixture_good", "built into the program", {},
      [](const narrow::Parameters&, const narrow::Registry&) -> std::unique_ptr<narrow::Component> { return nullptr; });
  PluginLoader loader(registry);
  const auto lib = loader.load_library(fixture("good"));
  check_failure(lib,
                "plugin 'fixture_good' registers space 'fixture_good', which narrow (built "
                "in) already registered");
  BOOST_TEST(registry.find(Kind::space, "fixture_good").library == "(built in)");
  BOOST_TEST(registry.find(Kind::space, "fixture_good").help == "built into the program");
}

BOOST_AUTO_TEST_CASE(registrations_after_loading_are_built_in_again) {
  Registry registry;
  PluginLoader loader(registry);
  BOOST_TEST_REQUIRE(loader.load_library(fixture("good")).ok);
  registry.add(
      Kind::format, "later", "added by the program", {},
      [](const narrow::Parameters&, const narrow::Registry&) -> std::unique_ptr<narrow::Component> { return nullptr; });
  BOOST_TEST(registry.find(Kind::format, "later").library == "(built in)");
  BOOST_TEST(registry.find(Kind::format, "later").plugin.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(paths)

BOOST_AUTO_TEST_CASE(missing_path_is_an_input_error) {
  Registry registry;
  PluginLoader loader(registry);
  const std::string missing = fixture_dir() + "/no/such/folder";
  BOOST_CHECK_EXCEPTION(loader.load_path(missing), narrow::InputError,
                        [&](const narrow::InputError& e) {
                          return e.message() == "plugin path " + missing + " does not exist";
                        });
  BOOST_TEST(loader.libraries().empty());
}

BOOST_AUTO_TEST_CASE(missing_file_is_a_failure_not_an_exception) {
  Registry registry;
  PluginLoader loader(registry);
  const auto lib = loader.load_library(fixture("never_built"));
  check_failure(lib, "does not exist");
}

BOOST_AUTO_TEST_CASE(load_path_on_a_file_loads_that_file) {
  Registry registry;
  PluginLoader loader(registry);
  loader.load_path(fixture("good"));
  BOOST_TEST(loader.libraries().size() == 1u);
  BOOST_TEST(registry.names(Kind::space) == (std::vector<std::string>{"fixture_good"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(default_paths_are_program_folder_then_environment) {
  ::setenv("NARROW_PLUGIN_PATH", "/opt/a::/opt/b:", 1);
  const auto paths = PluginLoader::default_paths();
  ::setenv("NARROW_PLUGIN_PATH", "", 1);
  const fs::path exe = fs::canonical("/proc/self/exe");
  const std::string own =
      (exe.parent_path().parent_path() / "lib/narrow/plugins").lexically_normal();
  const std::vector<std::string> expected{own, "/opt/a", "/opt/b"};
  BOOST_TEST(paths == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(load_defaults_follows_the_environment) {
  ::setenv("NARROW_PLUGIN_PATH", (fixture_dir() + ":" + fixture_dir() + "/does-not-exist").c_str(),
           1);
  Registry registry;
  PluginLoader loader(registry);
  BOOST_CHECK_NO_THROW(loader.load_defaults());
  ::setenv("NARROW_PLUGIN_PATH", "", 1);
  BOOST_TEST(registry.contains(Kind::space, "fixture_good"));
  BOOST_TEST(loader.failures().size() == 9u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(registry)

BOOST_AUTO_TEST_CASE(kind_names_round_trip) {
  for (Kind k : {Kind::space, Kind::strategy, Kind::device, Kind::format, Kind::dataset}) {
    Kind parsed = Kind::dataset;
    BOOST_TEST(narrow::parse_kind(narrow::kind_name(k), parsed));
    BOOST_TEST((parsed == k));
  }
  BOOST_TEST(narrow::kind_name(Kind::strategy) == "strategy");
  Kind unused = Kind::space;
  BOOST_TEST(!narrow::parse_kind("spaces", unused));
}

BOOST_AUTO_TEST_CASE(unknown_name_lists_the_valid_ones_with_the_location) {
  FixtureFolder f;
  const narrow::SourceLocation where{"exp.yaml", 3, 9};
  BOOST_CHECK_EXCEPTION(
      f.registry.find(Kind::space, "fixture_bogus", where), narrow::InputError,
      [](const narrow::InputError& e) {
        BOOST_TEST(e.message() ==
                   "unknown space 'fixture_bogus' (valid: fixture_dup, "
                   "fixture_good, fixture_not_a_space, fixture_null, "
                   "fixture_throwing)");
        BOOST_TEST(std::string(e.what()).rfind("exp.yaml:3:9: error: unknown space", 0) == 0u,
                   e.what());
        return true;
      });
  BOOST_CHECK_THROW(f.registry.create_space("fixture_bogus", {}), narrow::InputError);
  BOOST_CHECK_EXCEPTION(f.registry.find(Kind::device, "host"), narrow::InputError,
                        [](const narrow::InputError& e) {
                          return e.message().rfind(
                                     "unknown device 'host' (no device is "
                                     "registered",
                                     0) == 0u;
                        });
}

BOOST_AUTO_TEST_CASE(all_is_sorted_by_kind_then_name) {
  Registry registry;
  auto none = [](const narrow::Parameters&, const narrow::Registry&) -> std::unique_ptr<narrow::Component> {
    return nullptr;
  };
  registry.add(Kind::format, "b", "", {}, none);
  registry.add(Kind::space, "z", "", {}, none);
  registry.add(Kind::format, "a", "", {}, none);
  registry.add(Kind::dataset, "d", "", {}, none);
  registry.add(Kind::space, "m", "", {}, none);
  std::vector<std::string> order;
  for (const auto* r : registry.all())
    order.push_back(std::string(narrow::kind_name(r->kind)) + ":" + r->name);
  // Datasets come last, as their kind does.
  BOOST_TEST(order == (std::vector<std::string>{"space:m", "space:z", "format:a", "format:b",
                                                "dataset:d"}),
             boost::test_tools::per_element());
  BOOST_TEST(registry.names(Kind::format) == (std::vector<std::string>{"a", "b"}),
             boost::test_tools::per_element());
  BOOST_CHECK_THROW(registry.add(Kind::space, "m", "", {}, none), narrow::PluginError);
  BOOST_CHECK_THROW(registry.add(Kind::space, "", "", {}, none), narrow::PluginError);
  BOOST_CHECK_THROW(registry.add(Kind::space, "q", "", {}, narrow::Factory{}), narrow::PluginError);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(real_plugins)

BOOST_AUTO_TEST_CASE(build_plugin_folder_loads_cleanly_and_has_sequential) {
  Registry registry;
  PluginLoader loader(registry);
  loader.load_path(real_plugin_dir());
  for (const auto& lib : loader.failures()) BOOST_ERROR(lib.error);
  BOOST_TEST(!loader.libraries().empty());
  BOOST_TEST_REQUIRE(registry.contains(Kind::space, "sequential"));
  const auto& reg = registry.find(Kind::space, "sequential");
  BOOST_TEST(reg.plugin == "sequential");
  BOOST_TEST(fs::path(reg.library).filename() == "libnarrow_space_sequential.so");

  auto space = registry.create_space("sequential", {});
  BOOST_TEST_REQUIRE(space != nullptr);
  BOOST_TEST(!space->variables().empty());
  BOOST_TEST_REQUIRE(!space->references().empty());
  for (const auto& name : space->references()) {
    BOOST_TEST_CONTEXT("reference " << name) {
      auto arch = space->build(space->reference(name));
      BOOST_CHECK_NO_THROW(arch.finalize());
    }
  }
}

BOOST_AUTO_TEST_CASE(real_and_fixture_plugins_load_side_by_side) {
  Registry registry;
  PluginLoader loader(registry);
  loader.load_path(real_plugin_dir());
  const auto real_failures = loader.failures().size();
  loader.load_path(fixture_dir());
  BOOST_TEST(loader.failures().size() == real_failures + 9u);
  BOOST_TEST(registry.contains(Kind::space, "sequential"));
  BOOST_TEST(registry.contains(Kind::space, "fixture_good"));
}

BOOST_AUTO_TEST_SUITE_END()

// ------------------------------------------------------------------ permissions

BOOST_AUTO_TEST_SUITE(permissions)

namespace {

constexpr auto rwxr_xr_x = fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec;

/// A folder (mode 0755) with a copy (mode 0755) of the fixture library `name`.
struct CopiedPlugin : narrow::test::TempDir {
  fs::path folder, file;
  explicit CopiedPlugin(const std::string& name = "good") : TempDir("loader-permissions") {
    folder = dir / "plugins";
    fs::create_directories(folder);
    file = folder / ("libnarrow_fixture_" + name + ".so");
    fs::copy_file(fixture(name), file);
    fs::permissions(folder, rwxr_xr_x);
    fs::permissions(file, rwxr_xr_x);
  }
};

/// What `f` throws: an InputError of one line, or a failed test.
std::string refusal(const std::function<void()>& f) {
  try {
    f();
  } catch (const narrow::InputError& e) {
    BOOST_TEST(e.message().find('\n') == std::string::npos, e.message());
    return e.message();
  }
  BOOST_ERROR("not refused");
  return "";
}

std::string expected(const char* what, const fs::path& path, const char* who, const char* mode) {
  return std::string("plugin ") + what + " " + path.string() + " is writable by " + who +
         " (mode " + mode +
         "); narrow loads no code that others can change: make it writable by its owner only "
         "(chmod go-w " +
         path.string() + ")";
}

const struct {
  fs::perms bit;
  const char* who;
  const char* folder_mode;  // of the folder with the bit added; files alike
} writable[] = {
    {fs::perms::group_write, "its group", "0775"},
    {fs::perms::others_write, "other users", "0757"},
    {fs::perms::group_write | fs::perms::others_write, "its group and other users", "0777"},
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_folder_that_others_may_write_is_refused_until_it_is_fixed) {
  for (const auto& w : writable) {
    BOOST_TEST_CONTEXT(w.who) {
      CopiedPlugin p;
      fs::permissions(p.folder, rwxr_xr_x | w.bit);
      Registry registry;
      PluginLoader loader(registry);
      const std::string message = expected("folder", p.folder, w.who, w.folder_mode);
      BOOST_TEST(refusal([&] { loader.load_path(p.folder.string()); }) == message);
      // The library alone, by its path, is refused for its folder too.
      BOOST_TEST(refusal([&] { loader.load_path(p.file.string()); }) == message);
      BOOST_TEST(refusal([&] { (void)loader.load_library(p.file.string()); }) == message);
      BOOST_TEST(loader.libraries().empty());
      BOOST_TEST(!registry.contains(Kind::space, "fixture_good"));
      // chmod go-w, as the message says: it loads.
      fs::permissions(p.folder, fs::perms::group_write | fs::perms::others_write,
                      fs::perm_options::remove);
      loader.load_path(p.folder.string());
      BOOST_TEST(loader.failures().empty());
      BOOST_TEST(registry.contains(Kind::space, "fixture_good"));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_library_that_others_may_write_is_refused_until_it_is_fixed) {
  for (const auto& w : writable) {
    BOOST_TEST_CONTEXT(w.who) {
      CopiedPlugin p;
      fs::permissions(p.file, rwxr_xr_x | w.bit);
      Registry registry;
      PluginLoader loader(registry);
      const std::string message = expected("file", p.file, w.who, w.folder_mode);
      BOOST_TEST(refusal([&] { loader.load_path(p.folder.string()); }) == message);
      BOOST_TEST(refusal([&] { loader.load_path(p.file.string()); }) == message);
      BOOST_TEST(loader.libraries().empty());
      BOOST_TEST(!registry.contains(Kind::space, "fixture_good"));
      fs::permissions(p.file, fs::perms::group_write | fs::perms::others_write,
                      fs::perm_options::remove);
      loader.load_path(p.folder.string());
      BOOST_TEST(loader.failures().empty());
      BOOST_TEST(registry.contains(Kind::space, "fixture_good"));
    }
  }
}

BOOST_AUTO_TEST_CASE(the_check_comes_before_the_library_is_opened) {
  // A text file named like a plugin: opened, it would be refused as "cannot be loaded".
  CopiedPlugin p("not_a_library");
  fs::permissions(p.file, rwxr_xr_x | fs::perms::others_write);
  Registry registry;
  PluginLoader loader(registry);
  BOOST_TEST(refusal([&] { (void)loader.load_library(p.file.string()); }) ==
             expected("file", p.file, "other users", "0757"));
  BOOST_TEST(loader.libraries().empty());
  fs::permissions(p.file, fs::perms::others_write, fs::perm_options::remove);
  const LoadedLibrary lib = loader.load_library(p.file.string());
  BOOST_TEST(!lib.ok);
  BOOST_TEST(lib.error.find("cannot be loaded") != std::string::npos, lib.error);
}

BOOST_AUTO_TEST_CASE(a_link_is_checked_where_it_leads) {
  CopiedPlugin target;
  CopiedPlugin p;
  const fs::path link = p.folder / "libnarrow_fixture_linked.so";
  fs::create_symlink(target.file, link);
  fs::remove(p.file);
  fs::permissions(target.folder, rwxr_xr_x | fs::perms::group_write);
  Registry registry;
  PluginLoader loader(registry);
  BOOST_TEST(refusal([&] { loader.load_path(p.folder.string()); }) ==
             expected("folder", fs::canonical(target.folder), "its group", "0775"));
  fs::permissions(target.folder, fs::perms::group_write, fs::perm_options::remove);
  loader.load_path(p.folder.string());
  BOOST_TEST(registry.contains(Kind::space, "fixture_good"));
}

BOOST_AUTO_TEST_CASE(the_build_tree_passes) {
  // narrow_add_plugin() makes built plugins and their folder writable by their owner only,
  // whatever the umask.
  for (const auto& folder : {real_plugin_dir(), fixture_dir()}) {
    BOOST_TEST_CONTEXT(folder) {
      const auto write = fs::perms::group_write | fs::perms::others_write;
      BOOST_TEST(((fs::status(folder).permissions() & write) == fs::perms::none));
      for (const auto& e : fs::directory_iterator(folder))
        if (e.path().extension() == ".so")
          BOOST_TEST(((fs::status(e.path()).permissions() & write) == fs::perms::none), e.path());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
