#define BOOST_TEST_MODULE install
// Installs narrow into a temporary prefix, builds a plugin outside the tree against it with
// find_package(narrow) + narrow_add_plugin(), and loads that plugin with the installed narrow.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/run.hpp"

namespace fs = std::filesystem;
using narrow::test::build_dir;
using narrow::test::source_dir;

namespace {
int sh(const std::string& cmd) {
  BOOST_TEST_MESSAGE(cmd);
  int rc = std::system((cmd + " > " + build_dir() + "/tests/install_test.log 2>&1").c_str());
  if (rc != 0) std::system(("cat " + build_dir() + "/tests/install_test.log").c_str());
  return rc;
}
}  // namespace

BOOST_AUTO_TEST_CASE(installed_narrow_builds_and_loads_an_out_of_tree_plugin) {
  const fs::path work = fs::path(build_dir()) / "tests" / "install";
  fs::remove_all(work);
  fs::create_directories(work);
  const auto prefix = (work / "prefix").string();
  BOOST_REQUIRE_EQUAL(sh("cmake --install '" + build_dir() + "' --prefix '" + prefix + "'"), 0);
  for (const char* f :
       {"bin/narrow", "include/narrow/architecture.hpp", "include/narrow/config.hpp",
        "lib/cmake/narrow/narrowConfig.cmake", "lib/cmake/narrow/narrow_plugin.cmake",
        "lib/narrow/plugins/libnarrow_space_sequential.so"})
    BOOST_TEST(fs::exists(fs::path(prefix) / f), f);

  // The installed include folder is the plugin SDK and nothing else: the program's internal
  // headers are not there, and every header compiles on its own (twice in a row, for its
  // include guard) with only the install's include folder: no LibTorch, whose headers live
  // outside the default search path.
  for (const char* internal : {"experiment.hpp", "runner.hpp", "loader.hpp", "builder.hpp",
                               "trainer.hpp", "precision.hpp", "quantized_model.hpp",
                               "latency.hpp", "host_latency.hpp", "torch_engine.hpp"})
    BOOST_TEST(!fs::exists(fs::path(prefix) / "include/narrow" / internal), internal);
  std::string units;
  int headers = 0;
  for (const auto& e : fs::directory_iterator(fs::path(prefix) / "include/narrow")) {
    const std::string name = e.path().filename().string();
    const fs::path unit = work / ("alone_" + e.path().stem().string() + ".cpp");
    std::ofstream(unit) << "#include \"narrow/" << name << "\"\n#include \"narrow/" << name
                        << "\"\n";
    units += " '" + unit.string() + "'";
    ++headers;
  }
  BOOST_TEST(headers >= 20);
  BOOST_TEST(sh("c++ -std=c++20 -fsyntax-only -Wall -Wextra -Werror -I '" + prefix +
                "/include'" + units) == 0);

  const auto obj = (work / "oot").string();
  BOOST_REQUIRE_EQUAL(sh("cmake -S '" + source_dir() + "/tests/fixtures/out_of_tree' -B '" + obj +
                         "' -DCMAKE_PREFIX_PATH='" + prefix + "' -DCMAKE_BUILD_TYPE=Release"),
                      0);
  BOOST_REQUIRE_EQUAL(sh("cmake --build '" + obj + "'"), 0);

  // The installed program finds its own plugins and the out-of-tree one.
  const auto installed = prefix + "/bin/narrow";
  setenv("NARROW_EXE", installed.c_str(), 1);
  auto r = narrow::test::run_narrow({"plugins", "--json", "--plugins", obj + "/plugins"});
  BOOST_REQUIRE_EQUAL(r.exit_code, 0);
  BOOST_TEST(r.err.find("warning") == std::string::npos, r.err);
  auto j = nlohmann::json::parse(r.out);
  bool seq = false, oot = false;
  for (const auto& p : j) {
    seq = seq || p["name"] == "sequential";
    if (p["name"] == "oot_space") {
      oot = true;
      BOOST_TEST(p["version"] == "1.2.3");
    }
  }
  BOOST_TEST(seq);
  BOOST_TEST(oot);
  auto d = narrow::test::run_narrow(
      {"describe", "--space", "oot_space", "--reference", "--json", "--plugins", obj + "/plugins"});
  BOOST_REQUIRE_EQUAL(d.exit_code, 0);
  auto jd = nlohmann::json::parse(d.out);
  BOOST_TEST(jd["metrics"]["params"] == (1 * 8 + 8) + (8 * 10 + 10));
}
