#define BOOST_TEST_MODULE content_keys
// Resume keys must not change silently. The content hash of two reference architectures and
// the key of every unit of work of the hand-made-law experiment (tests/fixtures/experiments/
// handmade_laws.yaml: sampling, training and precision units, as the quickstart stored them
// before it learned its laws) are pinned to the values in
// tests/fixtures/keys/: a change to how an architecture is hashed or how a strategy keys its
// units makes this test fail, and `--resume` of older runs would redo their work. When such a
// change is meant, bump the strategy's key version and regenerate the fixture (the failure
// message prints the new keys).
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/files.hpp"
#include "support/run.hpp"
#include "support/sqlite.hpp"

namespace fs = std::filesystem;
using narrow::test::run_narrow;
using narrow::test::source_dir;
using narrow::test::sql;
using nlohmann::json;
using Args = std::vector<std::string>;

namespace {

std::string fixture(const std::string& name) {
  const fs::path path = fs::path(source_dir()) / "tests" / "fixtures" / "keys" / name;
  std::ifstream in(path);
  BOOST_REQUIRE_MESSAGE(in, "cannot read " << path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string reference_hash(const std::string& space, const std::string& reference) {
  auto r = run_narrow({"describe", "--space", space, "--reference", reference, "--json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return json::parse(r.out).at("hash").get<std::string>();
}

}  // namespace

BOOST_AUTO_TEST_CASE(reference_architectures_keep_their_hashes) {
  BOOST_TEST(reference_hash("sequential", "lenet5") == fixture("lenet5.hash"));
  BOOST_TEST(reference_hash("resnet", "resnet20") == fixture("resnet20.hash"));
}

BOOST_AUTO_TEST_CASE(handmade_law_units_keep_their_keys) {
  BOOST_REQUIRE_MESSAGE(std::system("command -v sqlite3 >/dev/null") == 0,
                        "the sqlite3 shell is needed (scripts/setup.sh installs it)");
  const auto work = narrow::test::work_dir("content_keys");
  const auto out = (work / "quickstart").string();
  const auto experiment =
      (fs::path(source_dir()) / "tests" / "fixtures" / "experiments" / "handmade_laws.yaml")
          .string();
  auto r = run_narrow(Args{"run", experiment, "--out", out});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const std::string keys =
      sql(out + "/results.db", "SELECT kind, stage, key FROM units ORDER BY kind, stage, key;");
  const std::string expected = fixture("quickstart_units.txt");
  BOOST_TEST(!expected.empty());
  BOOST_TEST(keys == expected,
             "the hand-made-law experiment's unit keys changed; the keys now are:\n" << keys);
}
