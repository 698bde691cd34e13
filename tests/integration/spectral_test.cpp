#define BOOST_TEST_MODULE spectral
// The `spectral` strategy after a `genetic_law` stage on tiny settings: it learns k laws per
// window, the same on any thread count, writes them as a law file that another experiment
// reads as it is (the laws it resolves are the stored ones), and refuses bad parameters and a
// bad law file at their FILE:LINE:COL with exit code 2.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include "narrow/laws.hpp"
#include "narrow/store.hpp"
#include "support/run.hpp"
#include "support/text.hpp"
#include "support/sqlite.hpp"

using narrow::test::read_text;

namespace fs = std::filesystem;
using narrow::test::run_narrow;
using narrow::test::sql;
using nlohmann::json;

namespace {

const char* space = R"(  - name: sequential
    plugin: sequential
    parameters: {max_conv_layers: 2, max_fc_layers: 1, max_filters: 64, max_units: 128}
)";

std::string pipeline() {
  return std::string("name: spectral_pipeline\nseed: 3\nspaces:\n") + space + R"(stages:
  - name: search
    strategy: genetic_law
    parameters: {decades: [3, 4], n_init: 16, n_steps: 24, n_eval: 3}
  - name: cluster
    strategy: spectral
    parameters: {k: 3}
)";
}

fs::path test_dir(const std::string& name) {
  const fs::path dir = fs::path(narrow::test::build_dir()) / "tests" / "spectral" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

/// Runs `narrow validate` on `text` and checks that it is refused with one line
/// FILE:LINE:COL: error: ... holding `fragment`, and exit code 2.
void refused(const fs::path& file, int line, int column, const std::string& fragment) {
  const auto r = run_narrow({"validate", file.string()});
  BOOST_TEST(r.exit_code == 2, r.err);
  BOOST_TEST(r.out.empty());
  const std::string want = fmt::format("{}:{}:{}: error: ", file.string(), line, column);
  BOOST_TEST(r.err.rfind(want, 0) == 0, "expected " << want << "..., got: " << r.err);
  BOOST_TEST(r.err.find(fragment) != std::string::npos, "expected " << fragment << " in " << r.err);
  BOOST_TEST(std::count(r.err.begin(), r.err.end(), '\n') == 1, r.err);
}

}  // namespace

BOOST_AUTO_TEST_CASE(learned_laws_leave_the_run_as_a_law_file_another_experiment_reads) {
  const fs::path dir = test_dir("pipeline");
  write(dir / "e.yaml", pipeline());
  const auto one = run_narrow({"run", (dir / "e.yaml").string(), "--out", (dir / "one").string(),
                               "--threads", "1", "--json"});
  BOOST_REQUIRE_MESSAGE(one.exit_code == 0, one.err);
  const auto two = run_narrow({"run", (dir / "e.yaml").string(), "--out", (dir / "two").string(),
                               "--threads", "2", "--json"});
  BOOST_REQUIRE_MESSAGE(two.exit_code == 0, two.err);

  // Three windows (1e3-2e3, 2e3-5e3, 5e3-1e4), at most three laws each.
  const json summary = json::parse(one.out)["stages"][1]["summary"];
  BOOST_TEST(summary["search"] == "search");
  BOOST_TEST(summary["populations"] == 3);
  BOOST_REQUIRE(summary["files"].size() == 1u);
  const fs::path file = dir / "one" / "cluster-laws-sequential.yaml";
  BOOST_TEST(summary["files"][0]["file"] == file.string());
  const std::string text = read_text(file);
  BOOST_TEST(text == read_text(dir / "two" / "cluster-laws-sequential.yaml"),
             "the law file depends on the thread count");
  // `narrow laws` writes the same file from the store.
  const auto from_store =
      run_narrow({"laws", (dir / "one").string(), "--stage", "cluster", "--space", "sequential"});
  BOOST_TEST(from_store.exit_code == 0, from_store.err);
  BOOST_TEST(from_store.out == text);

  // The stored laws, in the file in the same order, with their notes.
  auto store = narrow::Store::open((dir / "one" / "results.db").string());
  const std::vector<narrow::LearnedLaw> laws = narrow::stored_laws(*store, "cluster");
  BOOST_TEST(laws.size() == summary["laws"].get<std::size_t>());
  BOOST_TEST(laws.size() >= 3u);
  BOOST_TEST(laws.size() <= 9u);
  const std::regex name(R"(sequential\.(1e3-2e3|2e3-5e3|5e3-1e4)\.c[0-2])");
  std::size_t at = 0;
  for (const auto& law : laws) {
    BOOST_TEST(std::regex_match(law.law.name, name), law.law.name);
    BOOST_TEST(law.note.rfind("cluster ", 0) == 0, law.note);
    BOOST_TEST(law.note.find("of the search for params") != std::string::npos, law.note);
    BOOST_REQUIRE(law.target.has_value());
    BOOST_TEST(law.target->metric == "params");
    const std::size_t pos = text.find("\n" + law.law.name + ":", at);
    BOOST_TEST(pos != std::string::npos, law.law.name << " is not in order in the file");
    BOOST_TEST(text.find("# " + law.note + "\n", at) < pos);
    at = pos == std::string::npos ? at : pos;
  }
  BOOST_TEST(laws.front().law.name == "sequential.1e3-2e3.c0");
  store.reset();

  // A resume redoes a clustering unit that the store lost, and writes the same file again.
  const std::string db = (dir / "two" / "results.db").string();
  const std::string units = "SELECT COUNT(*) FROM units WHERE kind = 'spectral.clustering';";
  BOOST_TEST(sql(db, units) == "3\n");
  const std::string lost =
      sql(db, "SELECT key FROM units WHERE kind = 'spectral.clustering' ORDER BY key LIMIT 1;");
  const std::string key = lost.substr(0, lost.size() - 1);
  sql(db, "DELETE FROM records WHERE unit = '" + key + "'; DELETE FROM units WHERE key = '" + key +
              "';");
  BOOST_TEST(sql(db, units) == "2\n");
  fs::remove(dir / "two" / "cluster-laws-sequential.yaml");
  const auto resumed = run_narrow({"run", (dir / "e.yaml").string(), "--out",
                                   (dir / "two").string(), "--resume", "--threads", "2"});
  BOOST_REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.err);
  BOOST_TEST(sql(db, units) == "3\n");
  BOOST_TEST(read_text(dir / "two" / "cluster-laws-sequential.yaml") == text);

  // Another experiment reads the file under a space of the same plugin and parameters; the
  // space `full` with a law over the full bounds gives the label of every variable's bounds.
  const fs::path reader = dir / "reader.yaml";
  write(reader, std::string("name: reader\nseed: 1\nspaces:\n") + space +
                    "    laws: " + file.string() + "\n" +
                    "  - name: full\n    plugin: sequential\n"
                    "    parameters: {max_conv_layers: 2, max_fc_layers: 1, max_filters: 64, "
                    "max_units: 128}\n    laws: {any: }\n"
                    "stages:\n  - {name: sample, strategy: random, parameters: {per_law: 1}}\n");
  const auto v = run_narrow({"validate", reader.string()});
  BOOST_REQUIRE_MESSAGE(v.exit_code == 0, v.err);
  const YAML::Node resolved = YAML::Load(v.out);
  const YAML::Node read = resolved["spaces"][0]["laws"];
  const YAML::Node any = resolved["spaces"][1]["laws"]["any"];
  BOOST_REQUIRE(read.size() == laws.size());
  auto it = read.begin();
  for (const auto& law : laws) {
    BOOST_TEST(it->first.as<std::string>() == law.law.name);
    std::map<std::string, std::pair<std::string, std::string>> restricted;
    for (const auto& r : law.ranges) restricted[r.variable] = {r.low, r.high};
    std::size_t restricted_seen = 0;
    const YAML::Node variables = it->second;
    for (const auto& var : variables) {
      const std::string v_name = var.first.as<std::string>();
      std::pair<std::string, std::string> want{any[v_name][0].as<std::string>(),
                                               any[v_name][1].as<std::string>()};
      if (auto r = restricted.find(v_name); r != restricted.end()) {
        want = r->second;
        ++restricted_seen;
      }
      BOOST_TEST(var.second[0].as<std::string>() == want.first, law.law.name << " " << v_name);
      BOOST_TEST(var.second[1].as<std::string>() == want.second, law.law.name << " " << v_name);
    }
    BOOST_TEST(restricted_seen == restricted.size());
    ++it;
  }

  // A law file with a variable the space does not have is refused at its line in that file.
  std::string bad = text;
  const auto first_law = bad.find("\nsequential.1e3-2e3.c0: {");
  BOOST_REQUIRE(first_law != std::string::npos);
  const std::size_t brace = bad.find('{', first_law);
  bad.insert(brace + 1, "depth: [1, 2], ");
  const fs::path bad_file = dir / "bad-laws.yaml";
  write(bad_file, bad);
  write(reader, std::string("name: reader\nseed: 1\nspaces:\n") + space +
                    "    laws: " + bad_file.string() +
                    "\nstages:\n  - {name: sample, strategy: random, parameters: {per_law: 1}}\n");
  const int line = int(std::count(bad.begin(), bad.begin() + std::ptrdiff_t(first_law), '\n')) + 2;
  const int column = int(brace - first_law);  // first_law is the newline before the line
  const auto r = run_narrow({"validate", reader.string()});
  BOOST_TEST(r.exit_code == 2, r.err);
  BOOST_TEST(
      r.err.rfind(fmt::format("{}:{}:{}: error: ", bad_file.string(), line, column + 1), 0) == 0,
      r.err);
  BOOST_TEST(r.err.find("depth") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(bad_parameters_are_refused_at_their_place) {
  const fs::path dir = test_dir("bad");
  auto experiment = [&](const std::string& name, const std::string& stages) {
    const fs::path f = dir / (name + ".yaml");
    write(f, "name: " + name + "\nseed: 1\nspaces:\n" + space + "stages:\n" + stages);
    return f;
  };
  const std::string search =
      "  - {name: search, strategy: genetic_law, parameters: {decades: [3, 4], n_init: 16}}\n";
  refused(experiment("k_one", search + "  - name: cluster\n    strategy: spectral\n"
                                       "    parameters: {k: 1}\n"),
          11, 21, "parameter 'k' of strategy 'spectral': 1 is out of range");
  refused(experiment("not_a_search",
                     search +
                         "  - {name: sample, strategy: random, parameters: {per_law: 1}}\n"
                         "  - {name: cluster, strategy: spectral, parameters: {search: sample}}\n"),
          10, 62,
          "stage 'cluster' (strategy 'spectral'): parameter 'search': 'sample' is not a "
          "'genetic_law' stage before 'cluster' (such stages before it: search)");
  refused(experiment(
              "later_search",
              "  - {name: cluster, strategy: spectral, parameters: {search: search}}\n" + search),
          8, 62,
          "'search' is not a 'genetic_law' stage before 'cluster' (such stages before it: none)");
  refused(experiment("no_search",
                     "  - {name: sample, strategy: random, parameters: {per_law: 1}}\n"
                     "  - {name: cluster, strategy: spectral}\n"),
          9, 31, "no stage before it is one");

}
