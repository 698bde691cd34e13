#define BOOST_TEST_MODULE cli_plugins
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/files.hpp"
#include "support/run.hpp"

namespace fs = std::filesystem;
using narrow::test::run_narrow;
using nlohmann::json;

namespace {

std::string fixture_dir() {
  const auto dir = narrow::test::env("NARROW_FIXTURE_PLUGIN_DIR");
  BOOST_TEST_REQUIRE(!dir.empty(), "NARROW_FIXTURE_PLUGIN_DIR is not set; run through ctest");
  return dir;
}

std::string fixture(const std::string& name) {
  return (fs::path(fixture_dir()) / ("libnarrow_fixture_" + name + ".so"))
      .lexically_normal()
      .string();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

json parse_listing(const narrow::test::RunResult& r) {
  BOOST_TEST_REQUIRE(r.exit_code == 0, "exit code " << r.exit_code << ", stderr:\n" << r.err);
  json j;
  try {
    j = json::parse(r.out);
  } catch (const json::exception& e) {
    BOOST_FAIL("stdout is not JSON (" << e.what() << "):\n" << r.out);
  }
  BOOST_TEST_REQUIRE(j.is_array(), "not a JSON array:\n" << r.out);
  return j;
}

const json* entry(const json& listing, const std::string& kind, const std::string& name) {
  for (const auto& e : listing)
    if (e.value("kind", "") == kind && e.value("name", "") == name) return &e;
  return nullptr;
}

/// Every entry has kind, name, version, library and parameters; every parameter has name,
/// type, default and help, numbers a [low, high] range and choices their labels.
void check_listing_form(const json& listing) {
  for (const auto& e : listing) {
    BOOST_TEST_CONTEXT(e.dump()) {
      for (const char* key : {"kind", "name", "version", "library"}) {
        BOOST_TEST(e.contains(key), "missing key " << key);
        BOOST_TEST((e.contains(key) && e[key].is_string()), key << " is not a string");
      }
      BOOST_TEST_REQUIRE(e.contains("parameters"));
      BOOST_TEST_REQUIRE(e["parameters"].is_array());
      BOOST_TEST(std::set<std::string>({"space", "strategy", "device", "format", "dataset"})
                     .count(e.value("kind", "")) == 1u);
      for (const auto& p : e["parameters"]) {
        BOOST_TEST_CONTEXT("parameter " << p.dump()) {
          for (const char* key : {"name", "type", "default", "help"})
            BOOST_TEST(p.contains(key), "missing key " << key);
          const std::string type = p.value("type", "");
          if (type == "choice") {
            BOOST_TEST_REQUIRE(p.contains("choices"));
            BOOST_TEST_REQUIRE(p["choices"].is_array());
            BOOST_TEST(!p["choices"].empty());
            bool has_default = false;
            for (const auto& c : p["choices"]) has_default |= (c == p["default"]);
            BOOST_TEST(has_default, "the default is not one of the choices");
          } else if (type == "integer" || type == "real" || type == "integers") {
            BOOST_TEST_REQUIRE(p.contains("range"));
            BOOST_TEST_REQUIRE(p["range"].is_array());
            BOOST_TEST_REQUIRE(p["range"].size() == 2u);
            BOOST_TEST(p["range"][0].get<double>() <= p["range"][1].get<double>());
          } else {
            BOOST_TEST((type == "boolean" || type == "string"), "unknown type " << type);
          }
        }
      }
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(json_listing_has_the_documented_form_and_sequential) {
  const auto r = run_narrow({"plugins", "--json"});
  const json listing = parse_listing(r);
  BOOST_TEST(!listing.empty());
  check_listing_form(listing);
  const json* seq = entry(listing, "space", "sequential");
  BOOST_TEST_REQUIRE(seq != nullptr, "no space 'sequential' in:\n" << r.out);
  BOOST_TEST(fs::path((*seq)["library"].get<std::string>()).filename() ==
             "libnarrow_space_sequential.so");
  BOOST_TEST(!(*seq)["parameters"].empty());
  BOOST_TEST(!(*seq)["version"].get<std::string>().empty());
  // The build's own plugins load without a single warning.
  BOOST_TEST(r.err.find("warning:") == std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(listing_is_sorted_by_kind_then_name) {
  const json listing = parse_listing(run_narrow({"plugins", "--json"}));
  const std::vector<std::string> kinds{"space", "strategy", "device", "format", "dataset"};
  auto rank = [&](const json& e) {
    const auto k = e.value("kind", "");
    return std::find(kinds.begin(), kinds.end(), k) - kinds.begin();
  };
  for (std::size_t i = 1; i < listing.size(); ++i) {
    const auto& a = listing[i - 1];
    const auto& b = listing[i];
    BOOST_TEST(
        (rank(a) < rank(b) || (rank(a) == rank(b) && a.value("name", "") < b.value("name", ""))),
        a.dump() << " comes before " << b.dump());
  }
}

BOOST_AUTO_TEST_CASE(bad_fixture_libraries_are_warnings_and_good_ones_are_listed) {
  const auto r = run_narrow({"plugins", "--json"}, {"NARROW_PLUGIN_PATH=" + fixture_dir()});
  const json listing = parse_listing(r);  // exit code 0 despite the broken libraries
  check_listing_form(listing);

  // The good fixture is listed with its parameters, next to the build's own plugins.
  const json* good = entry(listing, "space", "fixture_good");
  BOOST_TEST_REQUIRE(good != nullptr, "no space 'fixture_good' in:\n" << r.out);
  BOOST_TEST((*good)["version"] == "1.2.3");
  BOOST_TEST((*good)["library"] == fixture("good"));
  std::vector<std::string> params;
  for (const auto& p : (*good)["parameters"]) params.push_back(p.value("name", ""));
  BOOST_TEST(params == (std::vector<std::string>{"classes", "channels", "size", "activation"}),
             boost::test_tools::per_element());
  const auto& classes = (*good)["parameters"][0];
  BOOST_TEST(classes["default"] == 10);
  BOOST_TEST(classes["range"] == json::array({2, 1000}));
  BOOST_TEST((*good)["parameters"][3]["choices"] == json::array({"relu", "relu6"}));
  BOOST_TEST(entry(listing, "space", "sequential") != nullptr);
  BOOST_TEST(entry(listing, "space", "fixture_dup") != nullptr);

  // Nothing of a refused library is listed.
  for (const char* name : {"fixture_partial", "fixture_dup_b_only", "fixture_twice",
                           "fixture_wrong_api", "fixture_wrong_abi", "fixture_bad_magic"})
    BOOST_TEST(entry(listing, "space", name) == nullptr, name << " is listed");

  // Each bad library gives exactly one warning line on stderr naming its file and the reason.
  const auto err_lines = lines_of(r.err);
  const std::vector<std::pair<std::string, std::string>> bad{
      {"wrong_api", "built for plugin API version 999"},
      {"wrong_abi", "built against LibTorch 0.0.0"},
      {"bad_magic", "magic number"},
      {"no_entry", "has no narrow plugin entry point"},
      {"register_throws", "failed to register"},
      {"empty", "registered nothing"},
      {"dup_b", "already registered"},
      {"dup_self", "twice"},
      {"not_a_library", "cannot be loaded"}};
  for (const auto& [name, reason] : bad) {
    BOOST_TEST_CONTEXT("fixture " << name) {
      const std::string expected_start = "warning: plugin library " + fixture(name) + ": ";
      int matches = 0;
      for (const auto& line : err_lines) {
        if (line.rfind(expected_start, 0) != 0) continue;
        ++matches;
        BOOST_TEST(line.find(reason) != std::string::npos, line);
      }
      BOOST_TEST(matches == 1, "stderr:\n" << r.err);
    }
  }
  // The libraries that load give no warning.
  for (const char* name : {"good", "dup_a", "factory_throws"})
    for (const auto& line : err_lines)
      BOOST_TEST(line.rfind("warning: plugin library " + fixture(name), 0) != 0u,
                 name << " was warned about: " << line);
  for (const auto& line : err_lines)
    BOOST_TEST(line.rfind("warning: ", 0) == 0u, "unexpected stderr line: " << line);
}

BOOST_AUTO_TEST_CASE(human_listing_names_plugins_and_libraries) {
  const auto r = run_narrow({"plugins"}, {"NARROW_PLUGIN_PATH=" + fixture_dir()});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out.find("sequential") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("fixture_good") != std::string::npos, r.out);
  BOOST_TEST(r.out.find(fixture("good")) != std::string::npos, r.out);
  BOOST_TEST(r.err.find("warning: plugin library " + fixture("wrong_api")) != std::string::npos,
             r.err);
}

BOOST_AUTO_TEST_CASE(missing_plugin_folder_in_the_environment_is_not_fatal) {
  const auto r = run_narrow({"plugins", "--json"},
                            {"NARROW_PLUGIN_PATH=" + fixture_dir() + "/no-such-folder"});
  const json listing = parse_listing(r);
  BOOST_TEST(entry(listing, "space", "sequential") != nullptr);
}

// A plugin folder that other users may write is refused before anything is loaded from it, by
// every way of naming it: --plugins, NARROW_PLUGIN_PATH, and an experiment's `plugins:` (at
// its line). Once fixed (chmod go-w, as the message says), it loads.
BOOST_AUTO_TEST_CASE(a_plugin_folder_that_others_may_write_is_refused_with_exit_code_2) {
  narrow::test::TempDir tmp("cli-plugin-permissions");
  const fs::path folder = tmp.dir / "plugins";
  fs::create_directories(folder);
  fs::copy_file(fixture("good"), folder / "libnarrow_fixture_good.so");
  fs::permissions(folder / "libnarrow_fixture_good.so", fs::perms::owner_all);
  fs::permissions(folder, fs::perms::owner_all | fs::perms::others_all);
  const std::string file = tmp.file("experiment.yaml");
  std::ofstream(file) << "name: uses_a_plugin\nseed: 1\nplugins:\n  - plugins\nspaces:\n"
                         "  - plugin: fixture_good\nstages:\n  - strategy: random\n";
  const std::string why = "plugin folder " + folder.string() +
                          " is writable by other users (mode 0707); narrow loads no code that "
                          "others can change: make it writable by its owner only (chmod go-w " +
                          folder.string() + ")";
  const struct {
    std::vector<std::string> args, env;
    std::string line;
  } cases[] = {
      {{"plugins", "--plugins", folder.string()}, {}, "narrow plugins: error: " + why},
      {{"plugins"}, {"NARROW_PLUGIN_PATH=" + folder.string()}, "narrow plugins: error: " + why},
      {{"validate", file}, {}, file + ":4:5: error: " + why},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.args.front() << (c.env.empty() ? "" : " with " + c.env.front())) {
      const auto r = run_narrow(c.args, c.env);
      BOOST_TEST(r.exit_code == 2, r.err);
      BOOST_TEST(r.out.empty(), r.out);
      BOOST_TEST(lines_of(r.err) == std::vector<std::string>{c.line},
                 boost::test_tools::per_element());
    }
  }
  fs::permissions(folder, fs::perms::others_all, fs::perm_options::remove);
  const auto r = run_narrow({"validate", file});
  BOOST_TEST(r.exit_code == 0, r.err);
}
