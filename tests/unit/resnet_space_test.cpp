#define BOOST_TEST_MODULE resnet_space
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include "narrow/errors.hpp"
#include "narrow/metrics.hpp"
#include "narrow/sampler.hpp"
#include "narrow/space.hpp"
#include "support/spaces.hpp"

using namespace narrow;
using narrow::test::check_against_torch;
using narrow::test::count_ops;
using narrow::test::finalized;
using narrow::test::registry;

namespace {
std::string fmt_stage(int k) {
  std::string name = "stage";
  name += std::to_string(k);
  name += ".width";
  return name;
}
}  // namespace

using narrow::test::SingleThreadedTorch;
BOOST_TEST_GLOBAL_FIXTURE(SingleThreadedTorch);

BOOST_AUTO_TEST_CASE(references_have_their_published_sizes_and_match_libtorch) {
  auto space = registry().create_space("resnet", {});
  BOOST_TEST(space->references() == std::vector<std::string>({"resnet8", "resnet20", "resnet56"}));
  // Published: MLPerf Tiny ResNet-8 about 78k; He et al. 2016, Table 6: 0.27M and 0.85M.
  const std::vector<std::pair<std::string, double>> published{
      {"resnet8", 78e3}, {"resnet20", 0.27e6}, {"resnet56", 0.85e6}};
  for (const auto& [name, figure] : published) {
    auto arch = finalized(*space, space->reference(name));
    auto m = analyse(arch);
    BOOST_TEST(std::abs(double(m.params) - figure) <= 0.05 * figure, name << ": " << m.params);
    check_against_torch(arch, name);
    BOOST_TEST(arch.shape(arch.output_index()) == (Shape{10, 1, 1, true}));
  }
  // ResNet-8 by hand: stem 3*16*9+32; stage 1 two 3x3 convs 16->16 with BN; stages 2 and 3
  // a strided 3x3, a 3x3 and a 1x1 projection, each with BN; classifier 64*10+10.
  auto r8 = analyse(finalized(*space, space->reference("resnet8")));
  BOOST_TEST(r8.params == (432 + 32) + 2 * (2304 + 32) + (4608 + 64 + 9216 + 64 + 512 + 64) +
                              (18432 + 128 + 36864 + 128 + 2048 + 128) + 650);
  // ResNet-20 and ResNet-56 are 6n+2 layers deep: conv and linear layers.
  BOOST_TEST(r8.layers == 10);
  BOOST_TEST(analyse(finalized(*space, space->reference("resnet20"))).layers == 22);
  BOOST_TEST(analyse(finalized(*space, space->reference("resnet56"))).layers == 58);
}

BOOST_AUTO_TEST_CASE(block_and_shortcut_choices_change_the_structure) {
  auto space = registry().create_space("resnet", {});
  auto a = space->reference("resnet20");
  auto basic = finalized(*space, a);
  // Identity where the shape is kept: only the two stage transitions are projected.
  BOOST_TEST(count_ops(basic, Op::conv2d) == 1u + 18u + 2u);
  a[space->variable_index("shortcut")] = 1;
  auto projected = finalized(*space, a);
  BOOST_TEST(count_ops(projected, Op::conv2d) == 1u + 18u + 9u);
  a[space->variable_index("block")] = 1;
  auto bottleneck = finalized(*space, a);
  BOOST_TEST(count_ops(bottleneck, Op::conv2d) == 1u + 27u + 9u);
  BOOST_TEST(bottleneck.shape(bottleneck.output_index()).c == 10);
  // Bottleneck stages expand to 4x their width: the classifier reads 4 * 64 features.
  const auto& fc = bottleneck.layers().back();
  BOOST_TEST(fc.op == Op::linear);
  BOOST_TEST(bottleneck.shape(bottleneck.index_of("flatten")).c == 256);
  check_against_torch(bottleneck, "resnet20, bottleneck blocks, projections");
}

BOOST_AUTO_TEST_CASE(input_shape_and_classes_are_parameters) {
  auto space = registry().create_space("resnet", {{"input", "[1,28,28]"}, {"classes", "100"}});
  auto arch = finalized(*space, space->reference("resnet8"));
  BOOST_TEST(arch.input() == (Shape{1, 28, 28, false}));
  BOOST_TEST(arch.shape(arch.output_index()).c == 100);
  // One input channel instead of 3 and 100 classes instead of 10.
  BOOST_TEST(analyse(arch).params == 78042 - 2 * 16 * 9 + 90 * 65);
  BOOST_TEST(arch.shape(arch.index_of("s3b1r")) == (Shape{64, 7, 7, false}));
  check_against_torch(arch, "resnet8 on [1,28,28], 100 classes");
  // A tiny map: four stages on a 3x3 input still give valid networks.
  auto tiny = registry().create_space("resnet", {{"input", "[2,3,3]"}, {"classes", "2"}});
  auto law = SamplingLaw::uniform(tiny->variables());
  law.low[tiny->variable_index("stages")] = 4;
  for (int k = 1; k <= 4; ++k) law.high[tiny->variable_index(fmt_stage(k))] = 8;
  Sampler sampler(*tiny, law, 5);
  for (std::uint64_t i = 0; i < 200; ++i) {
    auto s = sampler.draw(i);
    BOOST_REQUIRE(s.rejected == 0);
    BOOST_REQUIRE(s.architecture.shape(s.architecture.index_of("pool")).h == 1);
  }
}

BOOST_AUTO_TEST_CASE(bad_parameters_and_references_are_input_errors) {
  BOOST_CHECK_THROW(registry().create_space("resnet", {{"classes", "0"}}), InputError);
  BOOST_CHECK_THROW(registry().create_space("resnet", {{"input", "[3,32]"}}), InputError);
  BOOST_CHECK_THROW(registry().create_space("resnet", {{"input", "[3,0,32]"}}), InputError);
  BOOST_CHECK_THROW(registry().create_space("resnet", {{"max_stages", "0"}}), InputError);
  BOOST_CHECK_THROW(registry().create_space("resnet", {{"max_blocks", "x"}}), InputError);
  BOOST_CHECK_THROW(registry().create_space("resnet", {{"depth", "20"}}), InputError);
  auto shallow = registry().create_space("resnet", {{"max_blocks", "3"}});
  BOOST_CHECK_NO_THROW(shallow->reference("resnet20"));
  BOOST_CHECK_THROW(shallow->reference("resnet56"), InputError);
  BOOST_CHECK_THROW(shallow->reference("resnet18"), InputError);
  auto two = registry().create_space("resnet", {{"max_stages", "2"}});
  BOOST_CHECK_THROW(two->reference("resnet8"), InputError);
  auto narrow_width = registry().create_space("resnet", {{"max_width", "32"}});
  BOOST_CHECK_THROW(narrow_width->reference("resnet8"), InputError);
}

BOOST_AUTO_TEST_CASE(ten_thousand_uniform_samples_are_valid_and_fifty_run_in_libtorch) {
  auto space = registry().create_space("resnet", {});
  const auto& vars = space->variables();
  for (std::size_t i = 0; i < vars.size(); ++i)
    if (vars[i].depends_on >= 0) BOOST_REQUIRE(std::size_t(vars[i].depends_on) < i);
  Sampler sampler(*space, SamplingLaw::uniform(vars), 11);
  std::set<std::string> hashes;
  int ran = 0;
  for (std::uint64_t i = 0; i < 10000; ++i) {
    auto s = sampler.draw(i);
    BOOST_REQUIRE(s.rejected == 0);
    narrow::test::check_draw(*space, s);
    BOOST_REQUIRE(s.architecture.classes() == 10);
    hashes.insert(s.architecture.hash());
    // The cheap ones (most draws are tens of GMACs) also run in LibTorch.
    if (ran < 50 && s.metrics.macs < 300'000'000) {
      check_against_torch(s.architecture, "draw " + std::to_string(i));
      ++ran;
    }
  }
  BOOST_TEST(ran == 50);
  BOOST_TEST(hashes.size() > 9900u);
}
