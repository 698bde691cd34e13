#define BOOST_TEST_MODULE sequential_space
#include <boost/test/unit_test.hpp>

#include <set>

#include "narrow/errors.hpp"
#include "narrow/metrics.hpp"
#include "narrow/sampler.hpp"
#include "narrow/space.hpp"
#include "support/spaces.hpp"

using namespace narrow;
using narrow::test::reference_arch;
using narrow::test::registry;

namespace {
Metrics reference_metrics(const SearchSpace& s, const std::string& name) {
  return analyse(reference_arch(s, name));
}
}  // namespace

BOOST_AUTO_TEST_CASE(references_have_their_published_sizes) {
  auto space = registry().create_space("sequential", {});
  BOOST_TEST(space->references() == std::vector<std::string>({"fig1", "lenet5", "vgg_small"}));
  // LeNet-5 on 28x28x1: 156 + 2416 + 48120 + 10164 + 850 parameters.
  auto lenet = reference_metrics(*space, "lenet5");
  BOOST_TEST(lenet.params == 61706);
  BOOST_TEST(lenet.layers == 5);
  // conv1 6*28*28*25 + conv2 16*10*10*150 + 400*120 + 120*84 + 84*10.
  BOOST_TEST(lenet.macs == 117600 + 240000 + 48000 + 10080 + 840);
  // Figure 1 model: three conv+BN layers, 2x2 pooling, classifier on 64*3*3.
  auto fig1 = reference_metrics(*space, "fig1");
  BOOST_TEST(fig1.params == (144 + 32) + (4608 + 64) + (18432 + 128) + (576 * 10 + 10));
}

BOOST_AUTO_TEST_CASE(input_shape_and_classes_are_parameters) {
  auto space = registry().create_space("sequential", {{"input", "[3,32,32]"}, {"classes", "100"}});
  auto a = reference_arch(*space, "lenet5");
  BOOST_TEST(a.input().c == 3);
  BOOST_TEST(a.shape(a.output_index()).c == 100);
  // 32x32: conv2 output 12x12, pool 6x6: 16*36 = 576 inputs to fc1.
  BOOST_TEST(analyse(a).params ==
             (3 * 6 * 25 + 6) + 2416 + (576 * 120 + 120) + 10164 + (84 * 100 + 100));
}

BOOST_AUTO_TEST_CASE(bad_parameters_and_references_are_input_errors) {
  BOOST_CHECK_THROW(registry().create_space("sequential", {{"classes", "0"}}), InputError);
  BOOST_CHECK_THROW(registry().create_space("sequential", {{"input", "[1,28]"}}), InputError);
  BOOST_CHECK_THROW(registry().create_space("sequential", {{"depth", "3"}}), InputError);
  BOOST_CHECK_THROW(registry().create_space("sequentail", {}), InputError);
  auto small = registry().create_space("sequential", {{"max_conv_layers", "2"}});
  BOOST_CHECK_THROW(small->reference("vgg_small"), InputError);
  BOOST_CHECK_THROW(small->reference("alexnet"), InputError);
  try {
    registry().create_space("sequential", {{"classes", "0"}});
  } catch (const InputError& e) {
    BOOST_TEST(std::string(e.what()).find("out of range (allowed 1..100000)") != std::string::npos,
               e.what());
  }
}

BOOST_AUTO_TEST_CASE(min_units_bounds_every_hidden_layer_and_the_references) {
  auto space = registry().create_space("sequential", {{"min_units", "16"}, {"max_units", "64"}});
  for (const auto& v : space->variables())
    if (v.name.rfind("fc", 0) == 0 && v.name.find(".units") != std::string::npos) {
      BOOST_TEST(v.min == 16);
      BOOST_TEST(v.max == 64);
    }
  Sampler sampler(*space, SamplingLaw::uniform(space->variables()), 7);
  std::int64_t hidden = 0;
  for (std::uint64_t i = 0; i < 2000; ++i) {
    auto s = sampler.draw(i);
    for (const auto& layer : s.architecture.layers())
      if (layer.op == Op::linear && layer.id != "classifier") {
        BOOST_TEST(layer.out_channels >= 16);
        ++hidden;
      }
  }
  BOOST_TEST(hidden > 500);
  // A reference narrower than min_units is refused by name; one without hidden layers is not.
  auto wide = registry().create_space("sequential", {{"min_units", "100"}});
  try {
    wide->reference("lenet5");
    BOOST_FAIL("lenet5 has a hidden layer of 84 units, below min_units 100");
  } catch (const InputError& e) {
    BOOST_TEST(std::string(e.what()) ==
                   "reference 'lenet5' needs min_units <= 84 (this space has 100)",
               e.what());
  }
  BOOST_CHECK_NO_THROW(wide->reference("fig1"));
  try {
    registry().create_space("sequential", {{"min_units", "300"}, {"max_units", "200"}});
    BOOST_FAIL("min_units above max_units");
  } catch (const InputError& e) {
    BOOST_TEST(std::string(e.what()).find("min_units (300) is larger than max_units (200)") !=
                   std::string::npos,
               e.what());
  }
}

BOOST_AUTO_TEST_CASE(ten_thousand_uniform_samples_are_valid) {
  auto space = registry().create_space("sequential", {});
  Sampler sampler(*space, SamplingLaw::uniform(space->variables()), 7);
  std::set<std::string> hashes;
  for (std::uint64_t i = 0; i < 10000; ++i) {
    auto s = sampler.draw(i);
    narrow::test::check_draw(*space, s);
    BOOST_REQUIRE(s.architecture.classes() == 10);
    hashes.insert(s.architecture.hash());
  }
  BOOST_TEST(hashes.size() > 9900u);
}

BOOST_AUTO_TEST_CASE(fig1_space_is_inside_the_sequential_space) {
  // Scheidegger Figure 1: three conv layers, kernels {1,3,5,7} x {1,3,5,7}, 1..128 channels,
  // batch norm and 2x2 pooling: 4^6 * 128^3 configurations, all expressible as a law here.
  auto space = registry().create_space("sequential", {});
  auto law = SamplingLaw::uniform(space->variables());
  auto fix = [&](const std::string& name, std::int64_t lo, std::int64_t hi) {
    auto i = space->variable_index(name);
    law.low[i] = lo;
    law.high[i] = hi;
  };
  fix("conv_layers", 3, 3);
  fix("fc_layers", 0, 0);
  fix("batchnorm", 1, 1);
  for (int i = 1; i <= 3; ++i) {
    auto n = "conv" + std::to_string(i) + ".";
    fix(n + "filters", 1, 128);
    fix(n + "stride_h", 1, 1);
    fix(n + "stride_w", 1, 1);
    fix(n + "padding", 0, 0);
    fix(n + "pool_h", 2, 2);
    fix(n + "pool_w", 2, 2);
    fix(n + "pool_type", 0, 0);
  }
  Sampler sampler(*space, law, 3);
  std::int64_t small = 0;
  for (std::uint64_t i = 0; i < 2000; ++i) {
    auto s = sampler.draw(i);
    BOOST_REQUIRE(s.rejected == 0);
    BOOST_REQUIRE(s.metrics.layers == 4);
    small += s.metrics.params < 1000;
  }
  // The paper finds 132 of 10^6 uniform samples under 1000 parameters: rare, but not absent
  // in the space. With 2000 samples we expect almost none.
  BOOST_TEST(small < 20);
}

BOOST_AUTO_TEST_CASE(draws_do_not_depend_on_threads) {
  auto space = registry().create_space("sequential", {});
  Sampler sampler(*space, SamplingLaw::uniform(space->variables()), 42);
  auto one = sampler.draw_many(3000, 1);
  auto two = sampler.draw_many(3000, 2);
  BOOST_REQUIRE(one.size() == two.size());
  for (std::size_t i = 0; i < one.size(); ++i) {
    BOOST_REQUIRE(one[i].hash == two[i].hash);
    BOOST_REQUIRE(one[i].metrics.params == two[i].metrics.params);
    BOOST_REQUIRE(one[i].rejected == two[i].rejected);
  }
  BOOST_TEST(sampler.draw(17).architecture.hash() == one[17].hash);
  Sampler other(*space, SamplingLaw::uniform(space->variables()), 43);
  BOOST_TEST(other.draw(17).architecture.hash() != one[17].hash);
}

BOOST_AUTO_TEST_CASE(laws_are_checked) {
  auto space = registry().create_space("sequential", {});
  auto law = SamplingLaw::uniform(space->variables());
  law.high[space->variable_index("conv1.filters")] = 100000;
  BOOST_CHECK_THROW(Sampler(*space, law, 1), InputError);
  law = SamplingLaw::uniform(space->variables());
  law.low[0] = law.high[0] + 1;
  BOOST_CHECK_THROW(Sampler(*space, law, 1), InputError);
  BOOST_CHECK_THROW(space->variable_index("conv9.filters"), InputError);
}
