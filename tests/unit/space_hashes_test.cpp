#define BOOST_TEST_MODULE space_hashes
// What every search space builds is pinned to tests/fixtures/keys/space_hashes.txt: for the
// five spaces of the tree and the template's `mlp` space (built in-tree as a test fixture),
// under their default parameters and one other input and class count, the digests of their
// parameter schema and variables, the content hash and canonical JSON (ids, order,
// attributes) of every reference model, a fixed series of seeded draws (their networks, or
// the reasons they are refused) and the words of their errors. A change to a space's
// networks, variables, help text or messages makes this test fail.
//
// The failure lists the lines that differ; $NARROW_BUILD_DIR/tests/space_hashes/ keeps the
// summary and one line per draw, to compare with a build of the code before the change. When
// a change is meant, copy the summary over the fixture.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "narrow/errors.hpp"
#include "narrow/hash.hpp"
#include "narrow/random.hpp"
#include "narrow/registry.hpp"
#include "narrow/space.hpp"
#include "run/loader.hpp"
#include "support/files.hpp"
#include "support/run.hpp"

namespace fs = std::filesystem;
using namespace narrow;
using Params = std::map<std::string, std::string>;

namespace {

constexpr std::uint64_t draw_seed = 20261207;
constexpr int draws = 400;
constexpr int draws_per_line = 50;

/// The built plugins and the template's `mlp` space.
const Registry& spaces() {
  static Registry reg;
  static const bool loaded = [] {
    PluginLoader loader(reg);
    loader.load_path(test::build_dir() + "/lib/narrow/plugins");
    loader.load_path(test::env("NARROW_FIXTURE_PLUGIN_DIR") + "/template");
    return true;
  }();
  (void)loaded;
  return reg;
}

struct Config {
  std::string space;
  Params params;
};

const std::vector<Config>& configs() {
  static const std::vector<Config> all{
      {"sequential", {}}, {"sequential", {{"input", "[3,32,32]"}, {"classes", "100"}}},
      {"resnet", {}},     {"resnet", {{"input", "[1,28,28]"}, {"classes", "100"}}},
      {"inception", {}},  {"inception", {{"input", "[1,28,28]"}, {"classes", "100"}}},
      {"densenet", {}},   {"densenet", {{"input", "[1,28,28]"}, {"classes", "100"}}},
      {"mobilenet", {}},  {"mobilenet", {{"input", "[1,49,10]"}, {"classes", "12"}}},
      {"mlp", {}},        {"mlp", {{"input", "[3,32,32]"}, {"classes", "100"}}},
  };
  return all;
}

std::string label(const Config& c) {
  std::string s = c.space;
  for (const auto& [k, v] : c.params) s += " " + k + "=" + v;
  return s;
}

/// The hash and the digest of the canonical JSON of a finalized copy.
std::string fingerprint(Architecture arch) {
  arch.finalize();
  return arch.hash() + " " + content_hash(arch.to_json_string());
}

/// What a call does: its result, or "error: " and the message of what it threw.
template <class F>
std::string outcome(F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    return std::string("error: ") + e.what();
  }
}

/// One line per config item into `summary`, one line per draw into `detail`.
void describe_config(const Config& c, std::ostream& summary, std::ostream& detail) {
  const std::string name = label(c);
  auto space = spaces().create_space(c.space, c.params);
  nlohmann::json schema = nlohmann::json::array();
  const auto& reg = spaces().find(Kind::space, c.space);
  for (const auto& spec : reg.schema) schema.push_back(spec.to_json());
  summary << name << " | schema " << content_hash(reg.help + "\n" + schema.dump()) << "\n";
  nlohmann::json vars = nlohmann::json::array();
  for (const auto& v : space->variables()) vars.push_back(v.to_json());
  summary << name << " | variables " << space->variables().size() << " "
          << content_hash(vars.dump()) << "\n";
  for (const auto& ref : space->references())
    summary << name << " | reference " << ref << " "
            << outcome([&] { return fingerprint(space->build(space->reference(ref))); }) << "\n";

  Rng rng(draw_seed);
  const auto law = SamplingLaw::uniform(space->variables());
  std::string group;
  int rejected = 0;
  for (int i = 0; i < draws; ++i) {
    const Assignment a = space->draw(law, rng);
    Architecture arch;
    std::string reason;
    std::string line;
    if (space->try_build(a, arch, reason)) {
      line = fingerprint(arch);
      BOOST_TEST(fingerprint(space->build(a)) == line, name << " draw " << i);
    } else {
      line = "refused: " + reason;
      ++rejected;
      BOOST_TEST(outcome([&] { return fingerprint(space->build(a)); }) == "error: " + reason,
                 name << " draw " << i);
    }
    detail << name << " | draw " << i << " " << space->assignment_json(a).dump() << " " << line
           << "\n";
    group += line + "\n";
    if ((i + 1) % draws_per_line == 0) {
      summary << name << " | draws " << i + 1 - draws_per_line << ".." << i << " "
              << content_hash(group) << " refused " << rejected << "\n";
      group.clear();
      rejected = 0;
    }
  }
}

struct ErrorCase {
  std::string space;
  Params params;
  std::string reference;  // empty: the error comes from making the space
};

/// Errors of making spaces and of asking for references they cannot hold or do not have.
void describe_errors(std::ostream& summary) {
  const std::vector<ErrorCase> cases{
      {"sequential", {{"max_conv_layers", "2"}}, "vgg_small"},
      {"sequential", {{"max_fc_layers", "1"}}, "lenet5"},
      {"sequential", {}, "alexnet"},
      {"resnet", {{"max_blocks", "3"}}, "resnet56"},
      {"resnet", {{"max_width", "32"}}, "resnet8"},
      {"resnet", {}, "resnet18"},
      {"inception", {{"max_width", "128"}}, "googlenet_small"},
      {"inception", {{"max_stages", "2"}}, "googlenet_small"},
      {"inception", {}, "googlenet"},
      {"densenet", {{"input", "[3,3,32]"}}, ""},
      {"densenet", {{"max_growth", "8"}}, "densenet40_k12"},
      {"densenet", {}, "densenet121"},
      {"mobilenet", {{"max_blocks", "4"}}, "mobilenet_v1_small"},
      {"mobilenet", {{"max_width", "512"}}, "mobilenet_v1_small"},
      {"mobilenet", {{"input", "[1,16,1]"}}, "ds_cnn"},
      {"mobilenet", {}, "mobilenet_v2"},
      {"mlp", {{"max_depth", "1"}}, "mlp_lenet300"},
      {"mlp", {{"max_units", "200"}}, "mlp_lenet300"},
      {"mlp", {}, "mlp_huge"},
  };
  for (const auto& e : cases) {
    summary << label({e.space, e.params}) << " | " << (e.reference.empty() ? "make" : e.reference)
            << " " << outcome([&] {
                 auto space = spaces().create_space(e.space, e.params);
                 if (e.reference.empty()) return std::string("made");
                 return fingerprint(space->build(space->reference(e.reference)));
               })
            << "\n";
  }
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

BOOST_AUTO_TEST_CASE(spaces_build_the_pinned_architectures) {
  std::ostringstream summary, detail;
  for (const auto& c : configs()) describe_config(c, summary, detail);
  describe_errors(summary);

  const fs::path out = test::work_dir("space_hashes");
  std::ofstream(out / "space_hashes.txt") << summary.str();
  std::ofstream(out / "space_hashes.detail.txt") << detail.str();

  const fs::path fixture =
      fs::path(test::source_dir()) / "tests" / "fixtures" / "keys" / "space_hashes.txt";
  std::ifstream in(fixture);
  BOOST_REQUIRE_MESSAGE(in, "cannot read " << fixture);
  std::ostringstream expected;
  expected << in.rdbuf();

  const auto want = lines_of(expected.str()), got = lines_of(summary.str());
  BOOST_TEST(want.size() == got.size(), "line count of " << fixture);
  for (std::size_t i = 0; i < std::min(want.size(), got.size()); ++i)
    BOOST_TEST(got[i] == want[i],
               "line " << i + 1 << " of " << fixture << " (now in " << out << "/space_hashes.txt)");
}
