#define BOOST_TEST_MODULE template_plugin
// The template plugin (plugin-kit/template) used the way a plugin author uses it: narrow is
// installed into a temporary prefix, the template is built against that install with
// find_package(narrow) + narrow_add_plugin() (nothing in narrow is rebuilt), and the installed
// narrow lists it, describes its references, samples it, runs an experiment that names the
// template's plugin folder under `plugins:`, and finds it once it is installed.
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/run.hpp"
#include "support/text.hpp"

using narrow::test::read_text;

namespace fs = std::filesystem;
using narrow::test::build_dir;
using narrow::test::run_narrow;
using narrow::test::source_dir;
using nlohmann::json;

namespace {

fs::path work_dir() {
  return fs::path(build_dir()) / "tests" / "template_plugin";
}
std::string prefix() {
  return (work_dir() / "prefix").string();
}
std::string template_build() {
  return (work_dir() / "template").string();
}
std::string template_plugins() {
  return template_build() + "/plugins";
}

/// Runs a shell command with its output in a log file; on failure the log goes to the test
/// output.
int sh(const std::string& cmd) {
  BOOST_TEST_MESSAGE(cmd);
  const fs::path log = work_dir() / "command.log";
  const int rc = std::system((cmd + " > '" + log.string() + "' 2>&1").c_str());
  if (rc != 0) std::cerr << "command failed: " << cmd << "\n" << read_text(log) << std::flush;
  return rc;
}

/// Every command below runs the installed narrow, as a plugin author would.
void use_installed_narrow() {
  const std::string exe = prefix() + "/bin/narrow";
  setenv("NARROW_EXE", exe.c_str(), 1);
}

json parse_json(const narrow::test::RunResult& r, const std::string& what) {
  try {
    return json::parse(r.out);
  } catch (const json::exception& e) {
    BOOST_FAIL(what << " did not print JSON (" << e.what() << "); stdout:\n"
                    << r.out << "stderr:\n"
                    << r.err);
  }
  return {};
}

/// Runs the sqlite3 shell on a database and returns what it prints, without the final newline.
std::string sqlite(const fs::path& db, const std::string& sql) {
  const std::string cmd = "sqlite3 -batch '" + db.string() + "' \"" + sql + "\" 2>&1";
  BOOST_TEST_MESSAGE(cmd);
  std::FILE* pipe = popen(cmd.c_str(), "r");
  BOOST_REQUIRE_MESSAGE(pipe != nullptr, "cannot run: " << cmd);
  std::string out;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  const int status = pclose(pipe);
  BOOST_REQUIRE_MESSAGE(status == 0, "sqlite3 failed on " << db << ": " << out);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

const json* find_entry(const json& list, const std::string& key, const std::string& value) {
  for (const auto& e : list)
    if (e.contains(key) && e[key] == value) return &e;
  return nullptr;
}

}  // namespace

BOOST_AUTO_TEST_CASE(template_builds_against_the_installed_narrow_and_loads) {
  fs::remove_all(work_dir());
  fs::create_directories(work_dir());
  BOOST_REQUIRE_EQUAL(sh("cmake --install '" + build_dir() + "' --prefix '" + prefix() + "'"), 0);
  BOOST_REQUIRE(fs::exists(fs::path(prefix()) / "lib/cmake/narrow/narrowConfig.cmake"));

  // Building the template must not touch narrow's own build.
  const fs::path kernel = fs::path(build_dir()) / "bin" / "narrow";
  const auto kernel_time = fs::last_write_time(kernel);

  // The template as a plugin author copies it: its own folder, only the installed narrow.
  // Warnings are errors here so that the code people copy stays warning-free.
  BOOST_REQUIRE_EQUAL(
      sh("cmake -S '" + source_dir() + "/plugin-kit/template' -B '" + template_build() +
         "' -DCMAKE_PREFIX_PATH='" + prefix() +
         "' -DCMAKE_BUILD_TYPE=Release"
         " '-DCMAKE_CXX_FLAGS=-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Werror'"),
      0);
  BOOST_REQUIRE_EQUAL(sh("cmake --build '" + template_build() + "'"), 0);
  BOOST_REQUIRE(fs::exists(template_plugins() + "/libnarrow_template_mlp.so"));
  BOOST_TEST((fs::last_write_time(kernel) == kernel_time), "narrow's build was touched");
  // find_package(narrow) found the install, not narrow's build or source tree.
  const std::string cache = read_text(fs::path(template_build()) / "CMakeCache.txt");
  BOOST_TEST(cache.find("narrow_DIR:PATH=" + prefix() + "/lib/cmake/narrow") != std::string::npos,
             "narrow_DIR does not point into the prefix");

  use_installed_narrow();
  auto r = run_narrow({"plugins", "--json", "--plugins", template_plugins()});
  BOOST_REQUIRE_EQUAL(r.exit_code, 0);
  BOOST_TEST(r.err.find("warning") == std::string::npos, r.err);
  const json plugins = parse_json(r, "narrow plugins --json");
  const json* mlp = find_entry(plugins, "name", "mlp");
  BOOST_REQUIRE_MESSAGE(mlp != nullptr, "no space 'mlp' in:\n" << plugins.dump(2));
  BOOST_TEST((*mlp)["kind"] == "space");
  BOOST_TEST((*mlp)["plugin"] == "template_mlp");
  BOOST_TEST((*mlp)["version"] == "1.0.0");
  BOOST_TEST((*mlp)["library"].get<std::string>().ends_with("/libnarrow_template_mlp.so"));
  // The parameters with their defaults and ranges, as the template's README documents them.
  const json& params = (*mlp)["parameters"];
  BOOST_REQUIRE_EQUAL(params.size(), 4u);
  const json* input = find_entry(params, "name", "input");
  const json* classes = find_entry(params, "name", "classes");
  const json* max_depth = find_entry(params, "name", "max_depth");
  const json* max_units = find_entry(params, "name", "max_units");
  BOOST_REQUIRE(input && classes && max_depth && max_units);
  BOOST_TEST((*input)["default"] == json({1, 28, 28}));
  BOOST_TEST((*classes)["default"] == 10);
  BOOST_TEST((*max_depth)["default"] == 4);
  BOOST_TEST((*max_depth)["range"] == json({1, 16}));
  BOOST_TEST((*max_units)["default"] == 1024);
  // The bundled plugins still load next to it.
  BOOST_TEST(find_entry(plugins, "name", "sequential") != nullptr);

  auto d = run_narrow({"describe", "--space", "mlp", "--reference", "mlp_lenet300", "--json",
                       "--plugins", template_plugins()});
  BOOST_REQUIRE_MESSAGE(d.exit_code == 0, d.err);
  const json lenet = parse_json(d, "narrow describe --reference mlp_lenet300");
  // LeNet-300-100 on 28x28x1 with 10 classes: 784*300+300 + 300*100+100 + 100*10+10.
  BOOST_TEST(lenet["metrics"]["params"] == 266610);
}

BOOST_AUTO_TEST_CASE(
    template_space_keeps_the_contract,
    *boost::unit_test::depends_on("template_builds_against_the_installed_narrow_and_loads")) {
  use_installed_narrow();
  const std::vector<std::string> with_plugin = {"--plugins", template_plugins()};
  auto narrow_with_plugin = [&](std::vector<std::string> args) {
    args.insert(args.end(), with_plugin.begin(), with_plugin.end());
    return run_narrow(args);
  };

  // Variables: the depth variable first, every dependent variable after its depth variable.
  auto v = narrow_with_plugin({"describe", "--space", "mlp", "--json"});
  BOOST_REQUIRE_MESSAGE(v.exit_code == 0, v.err);
  const json space = parse_json(v, "narrow describe --space mlp");
  const json& vars = space["variables"];
  BOOST_REQUIRE_EQUAL(vars.size(), 2u + 2u * 4u);  // depth, dropout, layer1..4 .units/.activation
  BOOST_TEST(vars[0]["name"] == "depth");
  BOOST_TEST(vars[0]["min"] == 1);
  BOOST_TEST(vars[0]["max"] == 4);
  for (std::size_t i = 0; i < vars.size(); ++i) {
    if (!vars[i].contains("depends_on")) continue;
    const auto& depth_name = vars[i]["depends_on"]["variable"];
    bool earlier = false;
    for (std::size_t k = 0; k < i; ++k) earlier = earlier || vars[k]["name"] == depth_name;
    BOOST_TEST(earlier, vars[i]["name"] << " depends on a variable that does not come first");
  }
  const json* dropout = find_entry(vars, "name", "dropout");
  BOOST_REQUIRE(dropout);
  BOOST_TEST((*dropout)["choices"] == json({"none", "0.1", "0.25", "0.5"}));
  const json* act4 = find_entry(vars, "name", "layer4.activation");
  BOOST_REQUIRE(act4);
  BOOST_TEST((*act4)["choices"] == json({"relu", "relu6"}));
  BOOST_TEST((*act4)["depends_on"]["min"] == 4);
  const json* units1 = find_entry(vars, "name", "layer1.units");
  BOOST_REQUIRE(units1);
  BOOST_TEST((*units1)["max"] == 1024);
  BOOST_TEST(space["references"] == json({"mlp_small", "mlp_lenet300"}));

  // Every reference builds, with the parameter counts the README gives.
  for (const auto& [name, params] : std::vector<std::pair<std::string, std::int64_t>>{
           {"mlp_small", 79510}, {"mlp_lenet300", 266610}}) {
    auto d = narrow_with_plugin({"describe", "--space", "mlp", "--reference", name, "--json"});
    BOOST_REQUIRE_MESSAGE(d.exit_code == 0, name << ": " << d.err);
    const json reference = parse_json(d, name);
    BOOST_TEST(reference["metrics"]["params"] == params, name);
  }
  // References follow the parameters: LeNet-300-100 on 32x32x3.
  auto c = narrow_with_plugin({"describe", "--space", "mlp", "--reference", "mlp_lenet300",
                               "--param", "input=[3,32,32]", "--json"});
  BOOST_REQUIRE_MESSAGE(c.exit_code == 0, c.err);
  const json colour = parse_json(c, "lenet300 on 3x32x32");
  BOOST_TEST(colour["metrics"]["params"] == 3072 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10);

  // Uniform draws over the whole space give valid networks: an MLP is never rejected.
  auto s = narrow_with_plugin(
      {"sample", "--space", "mlp", "--count", "300", "--seed", "1", "--threads", "2", "--json"});
  BOOST_REQUIRE_MESSAGE(s.exit_code == 0, s.err);
  const json sampled = parse_json(s, "narrow sample --space mlp");
  BOOST_TEST(sampled["count"] == 300);
  BOOST_TEST(sampled["rejected"] == 0);

  // Bad input is one clear line and exit code 2.
  auto unknown = narrow_with_plugin({"describe", "--space", "mlp", "--reference", "lenet5"});
  BOOST_TEST(unknown.exit_code == 2);
  BOOST_TEST(unknown.err.find("valid: mlp_small, mlp_lenet300") != std::string::npos, unknown.err);
  auto too_small = narrow_with_plugin(
      {"describe", "--space", "mlp", "--reference", "mlp_lenet300", "--param", "max_depth=1"});
  BOOST_TEST(too_small.exit_code == 2);
  BOOST_TEST(too_small.err.find("needs max_depth >= 2") != std::string::npos, too_small.err);
}

BOOST_AUTO_TEST_CASE(
    experiment_loads_the_template_from_its_plugins_key,
    *boost::unit_test::depends_on("template_builds_against_the_installed_narrow_and_loads")) {
  use_installed_narrow();
  const fs::path out = work_dir() / "run";
  fs::remove_all(out);
  const fs::path file = work_dir() / "template_smoke.yaml";
  {
    std::ofstream yaml(file);
    yaml << "name: template_smoke\n"
            "seed: 3\n"
            "plugins: ["
         << template_plugins()
         << "]\n"
            "spaces:\n"
            "  - name: mlp\n"
            "    plugin: mlp\n"
            "    parameters: {classes: 10}\n"
            "    laws:\n"
            "      small: {depth: [1, 2], layer1.units: [8, 64], layer2.units: [8, 64]}\n"
            "constraints:\n"
            "  params: 60k\n"
            "stages:\n"
            "  - strategy: random\n"
            "    parameters: {per_law: 20}\n";
    BOOST_REQUIRE(yaml.good());
  }
  // No --plugins and no NARROW_PLUGIN_PATH: the experiment file alone names the template.
  auto r =
      run_narrow({"run", file.string(), "--out", out.string(), "--json"}, {"NARROW_PLUGIN_PATH="});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "narrow run exited with " << r.exit_code << "; stderr:\n"
                                                                    << r.err);
  BOOST_TEST(r.err.find("warning") == std::string::npos, r.err);
  const json j = parse_json(r, "narrow run --json");
  BOOST_TEST(j["out"] == out.string());
  BOOST_TEST(j["store"] == (out / "results.db").string());
  BOOST_REQUIRE(j["stages"].is_array());
  BOOST_REQUIRE_EQUAL(j["stages"].size(), 1u);
  const json& stage = j["stages"][0];
  BOOST_TEST(stage.contains("name"));
  BOOST_TEST(stage["strategy"] == "random");
  BOOST_TEST(stage["summary"]["accepted"] == 20);
  const json& laws = stage["summary"]["laws"];
  BOOST_REQUIRE_EQUAL(laws.size(), 1u);
  const json& law = laws[0];
  BOOST_TEST(law["space"] == "mlp");
  BOOST_TEST(law["law"] == "small");
  BOOST_TEST(law["accepted"] == 20);
  const auto rejected = law["rejected"].get<std::int64_t>();
  const auto invalid = law["invalid"].get<std::int64_t>();
  const auto draws = law["draws"].get<std::int64_t>();
  BOOST_TEST(rejected >= 0);
  BOOST_TEST(invalid == 0);  // every MLP is a valid network
  BOOST_TEST(draws >= 20 + rejected + invalid);

  // The store, read with the sqlite3 shell.
  const fs::path db = out / "results.db";
  BOOST_REQUIRE_MESSAGE(fs::exists(db), db << " was not written");
  BOOST_REQUIRE_MESSAGE(
      std::system("command -v sqlite3 > /dev/null 2>&1") == 0,
      "the sqlite3 command-line shell is not installed; it reads the results "
      "store in this test (scripts/setup.sh installs it: apt-get install sqlite3)");
  BOOST_TEST(sqlite(db, "SELECT COUNT(*) FROM draws WHERE status='accepted' AND space='mlp'") ==
             "20");
  const std::string max_params =
      sqlite(db,
             "SELECT MAX(a.params) FROM draws d JOIN architectures a ON a.hash=d.hash "
             "WHERE d.status='accepted'");
  BOOST_REQUIRE_MESSAGE(!max_params.empty(), "no accepted architecture in the store");
  BOOST_TEST(std::stoll(max_params) <= 60000, "largest accepted network: " << max_params);
}

BOOST_AUTO_TEST_CASE(
    cmake_install_puts_the_template_where_narrow_looks,
    *boost::unit_test::depends_on("template_builds_against_the_installed_narrow_and_loads")) {
  use_installed_narrow();
  // The template's install rule targets the plugin folder of the narrow it was built against.
  BOOST_REQUIRE_EQUAL(sh("cmake --install '" + template_build() + "'"), 0);
  const fs::path installed =
      fs::path(prefix()) / "lib" / "narrow" / "plugins" / "libnarrow_template_mlp.so";
  BOOST_REQUIRE(fs::exists(installed));
  // Found with no option at all.
  auto r = run_narrow({"plugins", "--json"}, {"NARROW_PLUGIN_PATH="});
  BOOST_REQUIRE_EQUAL(r.exit_code, 0);
  BOOST_TEST(r.err.find("warning") == std::string::npos, r.err);
  const json plugins = parse_json(r, "narrow plugins --json");
  const json* mlp = find_entry(plugins, "name", "mlp");
  BOOST_REQUIRE(mlp);
  BOOST_TEST(fs::weakly_canonical((*mlp)["library"].get<std::string>()) ==
             fs::weakly_canonical(installed));
  // Leave the prefix as the other cases expect it (the template only in its build folder).
  fs::remove(installed);
}
