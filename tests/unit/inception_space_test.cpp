#define BOOST_TEST_MODULE inception_space
// The `inception` space plugin: LibTorch agrees with narrow's counts on its reference; uniform
// draws are valid networks that LibTorch runs; input shape and class count are parameters; bad
// parameters are input errors.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "narrow/errors.hpp"
#include "narrow/metrics.hpp"
#include "narrow/sampler.hpp"
#include "narrow/space.hpp"
#include "narrow/space_kit.hpp"
#include "support/spaces.hpp"

using namespace narrow;
using narrow::test::check_against_torch;
using narrow::test::count_ops;
using narrow::test::finalized;
using narrow::test::reference_arch;
using narrow::test::registry;

using narrow::test::SingleThreadedTorch;
BOOST_TEST_GLOBAL_FIXTURE(SingleThreadedTorch);

BOOST_AUTO_TEST_CASE(reference_matches_libtorch_and_its_documented_size) {
  auto space = registry().create_space("inception", {});
  BOOST_TEST(space->references() == std::vector<std::string>({"googlenet_small"}));
  auto arch = reference_arch(*space, "googlenet_small");
  const auto m = analyse(arch);
  // By hand, layer by layer. Convolutions have no bias: in * out * k * k weights, then a
  // batch norm of 2 * out. A module on C input channels with the widths (#1x1, #3x3 reduce,
  // #3x3, #5x5 reduce, #5x5, pool proj) = (a, br, b, cr, c, d) has 1x1 convolutions C->a,
  // C->br, C->cr and C->d, a 3x3 br->b and a 5x5 cr->c, and gives a + b + c + d channels.
  const auto module = [](std::int64_t C, std::int64_t a, std::int64_t br, std::int64_t b,
                         std::int64_t cr, std::int64_t c, std::int64_t d) {
    return (C * a + 2 * a) + (C * br + 2 * br) + (br * b * 9 + 2 * b) + (C * cr + 2 * cr) +
           (cr * c * 25 + 2 * c) + (C * d + 2 * d);
  };
  const std::int64_t stem = 3 * 64 * 9 + 2 * 64;             // 3x3 conv 3->64, batch norm
  const std::int64_t stage1 = module(64, 64, 96, 128, 16, 32, 32) +     // 3a: 64 -> 256
                              module(256, 64, 96, 128, 16, 32, 32);     // 3b: 256 -> 256
  const std::int64_t stage2 = module(256, 192, 96, 208, 16, 48, 64) +   // 4a: 256 -> 512
                              module(512, 192, 96, 208, 16, 48, 64);    // 4b: 512 -> 512
  const std::int64_t stage3 = module(512, 128, 80, 160, 16, 64, 64) +   // 5a: 512 -> 416
                              module(416, 128, 80, 160, 16, 64, 64);    // 5b: 416 -> 416
  const std::int64_t classifier = 416 * 10 + 10;
  BOOST_TEST(m.params == stem + stage1 + stage2 + stage3 + classifier);
  // The figure of spaces/inception/README.md (no published figure: the model is ours).
  BOOST_TEST(m.params == 1554698);
  // Stem + 6 modules of 6 convs + classifier.
  BOOST_TEST(m.layers == 38);
  check_against_torch(arch, "googlenet_small");
}

BOOST_AUTO_TEST_CASE(reference_has_its_documented_layers) {
  auto space = registry().create_space("inception", {});
  auto arch = reference_arch(*space, "googlenet_small");
  BOOST_TEST(arch.shape(arch.index_of("sr")).to_string() == "[64,32,32]");
  // Module 3a widths: 64 + 128 + 32 + 32 = 256 channels at 32x32.
  BOOST_TEST(arch.shape(arch.index_of("s1m2k")).to_string() == "[256,32,32]");
  BOOST_TEST(arch.shape(arch.index_of("p1")).to_string() == "[256,16,16]");
  // 4a: 192 + 208 + 48 + 64 = 512 at 16x16; halved 5a: 128 + 160 + 64 + 64 = 416 at 8x8.
  BOOST_TEST(arch.shape(arch.index_of("s2m2k")).to_string() == "[512,16,16]");
  BOOST_TEST(arch.shape(arch.index_of("s3m1k")).to_string() == "[416,8,8]");
  BOOST_TEST(arch.shape(arch.index_of("flat")).c == 416);
  BOOST_TEST(count_ops(arch, Op::concat) == 6u);
  BOOST_TEST(count_ops(arch, Op::maxpool) == 6u + 2u);
  BOOST_TEST(arch.layers()[arch.index_of("s1m1c1")].kernel[0] == 5);
  for (const auto& l : arch.layers()) {
    if (l.op == Op::concat) BOOST_TEST(l.inputs.size() == 4u, l.id);
    if (l.op == Op::conv2d) BOOST_TEST(!l.bias, l.id);
  }
  // The factorised third branch: two 3x3 convolutions in place of the 5x5.
  Assignment a = space->reference("googlenet_small");
  a[space->variable_index("branch5")] = 1;
  auto two = finalized(*space, a);
  BOOST_TEST(two.layers()[two.index_of("s1m1c2")].kernel[0] == 3);
  // Two modules per stage, each trading the 5x5 (ch5x5red*ch5x5*25 weights) for two 3x3
  // (ch5x5red*ch5x5*9 + ch5x5*ch5x5*9 weights, and one more batch norm of 2*ch5x5).
  const std::int64_t diff = 2 * (16 * 32 * 25 - (16 * 32 * 9 + 32 * 32 * 9 + 2 * 32)) +
                            2 * (16 * 48 * 25 - (16 * 48 * 9 + 48 * 48 * 9 + 2 * 48)) +
                            2 * (16 * 64 * 25 - (16 * 64 * 9 + 64 * 64 * 9 + 2 * 64));
  BOOST_TEST(analyse(arch).params - analyse(two).params == diff);
  check_against_torch(two, "googlenet_small with two 3x3");
}

BOOST_AUTO_TEST_CASE(smallest_network_has_the_counted_parameters) {
  auto space = registry().create_space("inception", {});
  Assignment a = minimum_assignment(space->variables());
  auto arch = finalized(*space, a);
  // stem 3*9 + BN 2; 1x1 1 + 2; reduce 1 + 2, 3x3 9 + 2; reduce 1 + 2, 5x5 25 + 2;
  // projection 1 + 2; linear 4*10 + 10.
  BOOST_TEST(analyse(arch).params == 29 + 3 + 3 + 11 + 3 + 27 + 3 + 50);
  check_against_torch(arch, "smallest");
}

BOOST_AUTO_TEST_CASE(ten_thousand_uniform_samples_are_valid) {
  auto space = registry().create_space("inception", {});
  Sampler sampler(*space, SamplingLaw::uniform(space->variables()), 11);
  std::set<std::string> hashes;
  std::int64_t smallest = std::numeric_limits<std::int64_t>::max(), largest = 0;
  for (std::uint64_t i = 0; i < 10000; ++i) {
    auto s = sampler.draw(i);
    BOOST_REQUIRE(s.rejected == 0);
    narrow::test::check_draw(*space, s);
    BOOST_REQUIRE(s.architecture.classes() == 10);
    smallest = std::min(smallest, s.metrics.params);
    largest = std::max(largest, s.metrics.params);
    hashes.insert(s.architecture.hash());
  }
  // Widths of 1..256 make equal draws all but impossible.
  BOOST_TEST(hashes.size() == 10000u);
  BOOST_TEST(smallest < 100000);
  BOOST_TEST(largest > 5000000);
}

BOOST_AUTO_TEST_CASE(fifty_uniform_samples_run_in_libtorch) {
  // A forward of the largest draws takes a second or more; to keep the test short we run the
  // 50 smallest by MACs among the first 2,000 draws (and check their counts against LibTorch).
  auto space = registry().create_space("inception", {});
  Sampler sampler(*space, SamplingLaw::uniform(space->variables()), 5);
  for (const auto& s : narrow::test::cheapest_draws(sampler, 50, 2000))
    check_against_torch(s.architecture, "draw " + std::to_string(s.index));
}

BOOST_AUTO_TEST_CASE(input_shape_and_classes_are_parameters) {
  auto space = registry().create_space("inception", {{"input", "[1,28,28]"}, {"classes", "100"}});
  auto arch = reference_arch(*space, "googlenet_small");
  BOOST_TEST(arch.input().to_string() == "[1,28,28]");
  BOOST_TEST(arch.shape(arch.output_index()).c == 100);
  // 28 -> 14 -> 7 through the padded 3x3/2 poolings.
  BOOST_TEST(arch.shape(arch.index_of("p2")).to_string() == "[512,7,7]");
  check_against_torch(arch, "googlenet_small on [1,28,28], 100 classes");
  // Any input size works, even 1x1: padded poolings never shrink a map below 1x1.
  auto tiny = registry().create_space("inception", {{"input", "[3,1,1]"}});
  auto t = reference_arch(*tiny, "googlenet_small");
  BOOST_TEST(t.shape(t.index_of("p2")).to_string() == "[512,1,1]");
  check_against_torch(t, "googlenet_small on [3,1,1]");
}

BOOST_AUTO_TEST_CASE(bad_parameters_and_references_are_input_errors) {
  BOOST_CHECK_THROW(registry().create_space("inception", {{"classes", "0"}}), InputError);
  BOOST_CHECK_THROW(registry().create_space("inception", {{"input", "[3,32]"}}), InputError);
  BOOST_CHECK_THROW(registry().create_space("inception", {{"max_stages", "0"}}), InputError);
  BOOST_CHECK_THROW(registry().create_space("inception", {{"max_width", "x"}}), InputError);
  BOOST_CHECK_THROW(registry().create_space("inception", {{"modules", "2"}}), InputError);
  auto two = registry().create_space("inception", {{"max_stages", "2"}});
  BOOST_CHECK_THROW(two->reference("googlenet_small"), InputError);
  auto thin = registry().create_space("inception", {{"max_width", "128"}});
  try {
    thin->reference("googlenet_small");
    BOOST_ERROR("googlenet_small was built with max_width 128");
  } catch (const InputError& e) {
    BOOST_TEST(std::string(e.what()).find("max_width >= 208") != std::string::npos, e.what());
  }
  BOOST_CHECK_THROW(thin->reference("googlenet"), InputError);
}
