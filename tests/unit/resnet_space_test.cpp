#define BOOST_TEST_MODULE resnet_space
#include <boost/test/unit_test.hpp>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <set>

#include "engine/builder.hpp"
#include "narrow/errors.hpp"
#include "run/loader.hpp"
#include "narrow/metrics.hpp"
#include "narrow/registry.hpp"
#include "narrow/sampler.hpp"
#include "narrow/space.hpp"
#include "support/spaces.hpp"

using namespace narrow;

// Boost.Test prints the operands of a failed comparison.
namespace narrow {
std::ostream& operator<<(std::ostream& os, const Shape& s) {
  return os << s.to_string();
}
std::ostream& operator<<(std::ostream& os, Op op) {
  return os << op_name(op);
}
}  // namespace narrow

namespace {
using narrow::test::count_ops;
using narrow::test::registry;

Architecture built(const SearchSpace& s, const Assignment& a) {
  auto arch = s.build(a);
  arch.finalize();
  return arch;
}

// Runs the module once on zeros, checks every recorded layer shape against shape inference
// and returns the MACs counted from the module's own conv and linear layers.
std::int64_t check_with_torch(const Architecture& arch) {
  torch::NoGradGuard no_grad;
  auto module = build_module(arch);
  module->eval();
  const auto& in = arch.input();
  std::vector<std::vector<std::int64_t>> shapes;
  auto out = module->forward_recording(torch::zeros({1, in.c, in.h, in.w}), shapes);
  BOOST_REQUIRE_EQUAL(out.dim(), 2);
  BOOST_REQUIRE_EQUAL(out.size(0), 1);
  BOOST_REQUIRE_EQUAL(out.size(1), arch.classes());
  BOOST_REQUIRE_EQUAL(shapes.size(), arch.layers().size());
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    const auto& s = arch.shape(i);
    std::vector<std::int64_t> expected =
        s.flat ? std::vector<std::int64_t>{s.c} : std::vector<std::int64_t>{s.c, s.h, s.w};
    BOOST_REQUIRE_MESSAGE(shapes[i] == expected, arch.layers()[i].id << " " << s.to_string());
  }
  const std::int64_t macs = narrow::test::module_macs(module, arch, shapes);
  BOOST_TEST(count_parameters(*module) == analyse(arch).params, "params of " << arch.hash());
  return macs;
}

std::string fmt_stage(int k) {
  std::string name = "stage";
  name += std::to_string(k);
  name += ".width";
  return name;
}

}  // namespace

BOOST_AUTO_TEST_CASE(references_have_their_published_sizes_and_match_libtorch) {
  torch::set_num_threads(1);
  auto space = registry().create_space("resnet", {});
  BOOST_TEST(space->references() == std::vector<std::string>({"resnet8", "resnet20", "resnet56"}));
  // Published: MLPerf Tiny ResNet-8 about 78k; He et al. 2016, Table 6: 0.27M and 0.85M.
  const std::vector<std::pair<std::string, double>> published{
      {"resnet8", 78e3}, {"resnet20", 0.27e6}, {"resnet56", 0.85e6}};
  for (const auto& [name, figure] : published) {
    auto arch = built(*space, space->reference(name));
    auto m = analyse(arch);
    BOOST_TEST(std::abs(double(m.params) - figure) <= 0.05 * figure, name << ": " << m.params);
    BOOST_TEST(check_with_torch(arch) == m.macs, name);
    BOOST_TEST(arch.shape(arch.output_index()) == (Shape{10, 1, 1, true}));
  }
  // ResNet-8 by hand: stem 3*16*9+32; stage 1 two 3x3 convs 16->16 with BN; stages 2 and 3
  // a strided 3x3, a 3x3 and a 1x1 projection, each with BN; classifier 64*10+10.
  auto r8 = analyse(built(*space, space->reference("resnet8")));
  BOOST_TEST(r8.params == (432 + 32) + 2 * (2304 + 32) + (4608 + 64 + 9216 + 64 + 512 + 64) +
                              (18432 + 128 + 36864 + 128 + 2048 + 128) + 650);
  // ResNet-20 and ResNet-56 are 6n+2 layers deep: conv and linear layers.
  BOOST_TEST(r8.layers == 10);
  BOOST_TEST(analyse(built(*space, space->reference("resnet20"))).layers == 22);
  BOOST_TEST(analyse(built(*space, space->reference("resnet56"))).layers == 58);
}

BOOST_AUTO_TEST_CASE(block_and_shortcut_choices_change_the_structure) {
  auto space = registry().create_space("resnet", {});
  auto a = space->reference("resnet20");
  auto basic = built(*space, a);
  // Identity where the shape is kept: only the two stage transitions are projected.
  BOOST_TEST(count_ops(basic, Op::conv2d) == 1u + 18u + 2u);
  a[space->variable_index("shortcut")] = 1;
  auto projected = built(*space, a);
  BOOST_TEST(count_ops(projected, Op::conv2d) == 1u + 18u + 9u);
  a[space->variable_index("block")] = 1;
  auto bottleneck = built(*space, a);
  BOOST_TEST(count_ops(bottleneck, Op::conv2d) == 1u + 27u + 9u);
  BOOST_TEST(bottleneck.shape(bottleneck.output_index()).c == 10);
  // Bottleneck stages expand to 4x their width: the classifier reads 4 * 64 features.
  const auto& fc = bottleneck.layers().back();
  BOOST_TEST(fc.op == Op::linear);
  BOOST_TEST(bottleneck.shape(bottleneck.index_of("flatten")).c == 256);
  check_with_torch(bottleneck);
}

BOOST_AUTO_TEST_CASE(input_shape_and_classes_are_parameters) {
  torch::set_num_threads(1);
  auto space = registry().create_space("resnet", {{"input", "[1,28,28]"}, {"classes", "100"}});
  auto arch = built(*space, space->reference("resnet8"));
  BOOST_TEST(arch.input() == (Shape{1, 28, 28, false}));
  BOOST_TEST(arch.shape(arch.output_index()).c == 100);
  // One input channel instead of 3 and 100 classes instead of 10.
  BOOST_TEST(analyse(arch).params == 78042 - 2 * 16 * 9 + 90 * 65);
  BOOST_TEST(arch.shape(arch.index_of("s3b1r")) == (Shape{64, 7, 7, false}));
  check_with_torch(arch);
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
  torch::set_num_threads(1);
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
    BOOST_REQUIRE(s.architecture.finalized());
    space->check_assignment(s.assignment);
    const auto& out = s.architecture.shape(s.architecture.output_index());
    BOOST_REQUIRE(out.flat && out.c == 10);
    for (const auto& l : s.architecture.layers())
      for (char ch : l.id) BOOST_REQUIRE(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_');
    BOOST_REQUIRE(s.metrics.params > 0);
    hashes.insert(s.architecture.hash());
    // The cheap ones (most draws are tens of GMACs) also run in LibTorch.
    if (ran < 50 && s.metrics.macs < 300'000'000) {
      BOOST_TEST(check_with_torch(s.architecture) == s.metrics.macs);
      ++ran;
    }
  }
  BOOST_TEST(ran == 50);
  BOOST_TEST(hashes.size() > 9900u);
}
