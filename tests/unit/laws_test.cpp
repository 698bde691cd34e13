#define BOOST_TEST_MODULE laws
// Learned laws (narrow/laws.hpp): a law survives its record, and the law file written from it
// reads back through an experiment as the same law; what cannot be a learned law is refused;
// a law file with a bad range is refused at its FILE:LINE:COLUMN.
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <map>
#include <string>

#include "narrow/errors.hpp"
#include "narrow/laws.hpp"
#include "narrow/strategy.hpp"
#include "run/experiment.hpp"
#include "run/loader.hpp"
#include "support/files.hpp"
#include "support/plugins.hpp"

using namespace narrow;

namespace {

struct Fixture {
  Registry& registry = test::built_plugins();
  std::map<std::string, std::string> params{{"input", "[3,32,32]"}};
  std::unique_ptr<SearchSpace> space = registry.create_space("sequential", params);
  SpaceEntry entry{"seq", "sequential", space.get(), {},
                   registry.use_key(Kind::space, "sequential", params)};

  std::size_t var(const std::string& name) const { return space->variable_index(name); }

  // A law restricting an integer, a choice and a boolean-like choice variable.
  LearnedLaw law(const std::string& name, std::int64_t filters_high) const {
    LearnedLaw l;
    l.law = SamplingLaw::uniform(space->variables());
    l.law.name = name;
    l.law.low[var("conv_layers")] = 1;
    l.law.high[var("conv_layers")] = 2;
    l.law.low[var("conv1.filters")] = 2;
    l.law.high[var("conv1.filters")] = filters_high;
    l.law.low[var("conv1.kernel_h")] = 1;  // choices 1, 3, 5, 7: [3, 5]
    l.law.high[var("conv1.kernel_h")] = 2;
    l.law.low[var("batchnorm")] = l.law.high[var("batchnorm")] = 1;
    l.target = LawTarget{"params", 1000, 2000};
    l.note = "a law made by hand for this test";
    return l;
  }
};

void write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(a_law_survives_its_record, Fixture) {
  const LearnedLaw made = law("seq.1e3-2e3.c0", 9);
  const Record r = learned_law_record(entry, made);
  BOOST_TEST(r.kind == learned_law_kind);
  const LearnedLaw back = learned_law(r);
  BOOST_TEST(back.space == "seq");
  BOOST_TEST(back.space_key == entry.key);
  BOOST_TEST(back.law.name == made.law.name);
  BOOST_TEST(back.law.low == made.law.low);
  BOOST_TEST(back.law.high == made.law.high);
  BOOST_REQUIRE(back.target.has_value());
  BOOST_TEST(back.target->metric == "params");
  BOOST_TEST(back.target->high == 2000.0);
  // Only the restricted variables are written, choices by label.
  std::map<std::string, std::pair<std::string, std::string>> ranges;
  for (const auto& x : back.ranges) ranges[x.variable] = {x.low, x.high};
  BOOST_TEST(ranges.size() == 4u);
  BOOST_TEST(ranges.at("conv1.filters").second == "9");
  BOOST_TEST(ranges.at("conv1.kernel_h").first == "3");
  BOOST_TEST(ranges.at("conv1.kernel_h").second == "5");
  BOOST_TEST(ranges.at("batchnorm").first == space->variables()[var("batchnorm")].label(1));
}

BOOST_FIXTURE_TEST_CASE(what_cannot_be_a_learned_law_is_refused, Fixture) {
  LearnedLaw bad = law("seq bad name", 9);
  BOOST_CHECK_THROW(learned_law_record(entry, bad), Error);
  bad = law("seq.ok", 9);
  bad.law.high[var("conv1.filters")] = 1;  // below its low of 2
  BOOST_CHECK_THROW(learned_law_record(entry, bad), Error);
  Record other{"genetic_law.population", "s", "u", "{}"};
  BOOST_CHECK_THROW(learned_law(other), Error);
  Record broken{learned_law_kind, "s", "u", R"({"space": "seq"})"};
  BOOST_CHECK_THROW(learned_law(broken), Error);
  // A law file holds one space.
  LearnedLaw a = learned_law(learned_law_record(entry, law("a", 9)));
  LearnedLaw b = a;
  b.space = "other";
  BOOST_CHECK_THROW(law_file_text({a, b}, ""), Error);
}

BOOST_FIXTURE_TEST_CASE(the_law_file_reads_back_as_the_same_laws, Fixture) {
  const std::vector<LearnedLaw> laws{learned_law(learned_law_record(entry, law("seq.1e3-2e3.c0", 9))),
                                     learned_law(learned_law_record(entry, law("seq.1e3-2e3.c1", 40)))};
  test::TempDir tmp("laws");
  write(tmp.file("learned.yaml"), law_file_text(laws, "laws for a test\nsecond line"));
  write(tmp.file("x.yaml"),
        "name: learned\nseed: 1\nspaces:\n"
        "  - {name: seq, plugin: sequential, parameters: {input: [3, 32, 32]}, laws: learned.yaml}\n"
        "stages:\n  - {name: s, strategy: random}\n");
  PluginLoader loader(registry);
  const Experiment x = Experiment::load(tmp.file("x.yaml"), {}, registry, loader);
  BOOST_REQUIRE(x.spaces.size() == 1u);
  BOOST_REQUIRE(x.spaces[0].laws.size() == 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    BOOST_TEST(x.spaces[0].laws[i].name == laws[i].law.name);
    BOOST_TEST(x.spaces[0].laws[i].low == laws[i].law.low);
    BOOST_TEST(x.spaces[0].laws[i].high == laws[i].law.high);
  }
}

BOOST_FIXTURE_TEST_CASE(a_bad_range_in_a_law_file_is_refused_at_its_place, Fixture) {
  test::TempDir tmp("laws");
  std::string text = law_file_text({learned_law(learned_law_record(entry, law("seq.c0", 9)))}, "h");
  // 9 becomes 999, above the bound of conv1.filters.
  const auto at = text.find("conv1.filters: [2, 9]");
  BOOST_REQUIRE(at != std::string::npos);
  text.replace(at, 21, "conv1.filters: [2, 999]");
  write(tmp.file("learned.yaml"), text);
  write(tmp.file("x.yaml"),
        "name: learned\nseed: 1\nspaces:\n"
        "  - {name: seq, plugin: sequential, parameters: {input: [3, 32, 32]}, laws: learned.yaml}\n"
        "stages:\n  - {name: s, strategy: random}\n");
  PluginLoader loader(registry);
  try {
    (void)Experiment::load(tmp.file("x.yaml"), {}, registry, loader);
    BOOST_FAIL("a law file with a range outside the bounds was accepted");
  } catch (const InputError& e) {
    const std::string what = e.what();
    BOOST_TEST_MESSAGE(what);
    BOOST_TEST(what.find(tmp.file("learned.yaml") + ":3:") == 0u);
    BOOST_TEST(what.find("conv1.filters") != std::string::npos);
  }
}
