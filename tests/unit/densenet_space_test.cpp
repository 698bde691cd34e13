#define BOOST_TEST_MODULE densenet_space
// The `densenet` space plugin: its references have their published sizes and LibTorch agrees
// with narrow's counts on them; uniform draws are valid networks that LibTorch runs; input
// shape and class count are parameters; bad parameters are input errors.
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

BOOST_AUTO_TEST_CASE(references_have_their_published_sizes_and_match_libtorch) {
  auto space = registry().create_space("densenet", {});
  BOOST_TEST(space->references() ==
             std::vector<std::string>({"densenet40_k12", "densenet_bc100_k12"}));
  // Huang et al. 2017, Table 2: DenseNet (L=40, k=12) 1.0M, DenseNet-BC (L=100, k=12) 0.8M.
  const std::vector<std::pair<std::string, double>> published{{"densenet40_k12", 1.0e6},
                                                              {"densenet_bc100_k12", 0.8e6}};
  for (const auto& [name, params] : published) {
    auto arch = reference_arch(*space, name);
    const auto m = analyse(arch);
    BOOST_TEST(std::abs(double(m.params) - params) <= 0.05 * params,
               name << ": " << m.params << " parameters");
    check_against_torch(arch, name);
  }
}

BOOST_AUTO_TEST_CASE(references_have_the_layers_of_their_names) {
  auto space = registry().create_space("densenet", {});
  // DenseNet-40: stem + 3 x 12 dense layers + 2 transitions + classifier = 40 layers; the
  // final map has 16 + 36 * 12 = 448 channels.
  auto d40 = reference_arch(*space, "densenet40_k12");
  BOOST_TEST(analyse(d40).layers == 40);
  BOOST_TEST(count_ops(d40, Op::concat) == 36u);
  BOOST_TEST(count_ops(d40, Op::avgpool) == 2u);
  BOOST_TEST(d40.shape(d40.index_of("flat")).c == 448);
  BOOST_TEST(d40.shape(d40.index_of("t1p")).to_string() == "[160,16,16]");
  BOOST_TEST(d40.shape(d40.index_of("t2p")).to_string() == "[304,8,8]");
  // DenseNet-BC-100: stem + 3 x 16 x 2 convs + 2 transitions + classifier = 100 layers;
  // stem 24, block 1 ends at 24 + 192 = 216, compressed to 108, then 300 -> 150, 342.
  auto bc = reference_arch(*space, "densenet_bc100_k12");
  BOOST_TEST(analyse(bc).layers == 100);
  BOOST_TEST(bc.shape(bc.index_of("s")).c == 24);
  BOOST_TEST(bc.shape(bc.index_of("t1p")).to_string() == "[108,16,16]");
  BOOST_TEST(bc.shape(bc.index_of("t2p")).to_string() == "[150,8,8]");
  BOOST_TEST(bc.shape(bc.index_of("flat")).c == 342);
  BOOST_TEST(bc.shape(bc.index_of("b3l16c1")).c == 48);  // bottleneck: 4k channels
  for (const auto& l : bc.layers()) {
    if (l.op == Op::concat) BOOST_TEST(l.inputs.size() == 2u, l.id);
    if (l.op == Op::conv2d) BOOST_TEST(!l.bias, l.id);
  }
}

BOOST_AUTO_TEST_CASE(smallest_network_has_the_counted_parameters) {
  auto space = registry().create_space("densenet", {});
  Assignment a = minimum_assignment(space->variables());
  a[space->variable_index("growth")] = 2;
  auto arch = finalized(*space, a);
  // stem 3*16*9, BN 2*16, conv 16*2*9, final BN 2*18, linear 18*10 + 10.
  BOOST_TEST(analyse(arch).params == 432 + 32 + 288 + 36 + 190);
  check_against_torch(arch, "smallest");
}

BOOST_AUTO_TEST_CASE(ten_thousand_uniform_samples_are_valid) {
  auto space = registry().create_space("densenet", {});
  Sampler sampler(*space, SamplingLaw::uniform(space->variables()), 11);
  std::set<std::string> hashes;
  // What decides the network: the active variables, with the stem as its channel count (2k
  // is 16 when k = 8) and without the compression when there is no transition.
  std::set<std::vector<std::int64_t>> networks;
  const auto blocks = space->variable_index("blocks"), growth = space->variable_index("growth"),
             stem = space->variable_index("stem"),
             compression = space->variable_index("compression");
  std::int64_t smallest = std::numeric_limits<std::int64_t>::max(), largest = 0;
  for (std::uint64_t i = 0; i < 10000; ++i) {
    auto s = sampler.draw(i);
    BOOST_REQUIRE(s.rejected == 0);
    narrow::test::check_draw(*space, s);
    BOOST_REQUIRE(s.architecture.classes() == 10);
    smallest = std::min(smallest, s.metrics.params);
    largest = std::max(largest, s.metrics.params);
    hashes.insert(s.architecture.hash());
    std::vector<std::int64_t> key;
    for (std::size_t v = 0; v < s.assignment.size(); ++v) {
      if (!space->active(s.assignment, v)) continue;
      if (v == stem)
        key.push_back(s.assignment[v] == 0 ? 16 : 2 * s.assignment[growth]);
      else if (v != compression || s.assignment[blocks] > 1)
        key.push_back(s.assignment[v]);
      else
        key.push_back(-1);
    }
    networks.insert(key);
  }
  // Different networks get different hashes, equal ones the same.
  BOOST_TEST(hashes.size() == networks.size());
  BOOST_TEST(hashes.size() > 8000u);
  // The absolute bounds span the sizes that matter on small devices, and no more.
  BOOST_TEST(smallest < 1000);
  BOOST_TEST(largest > 3000000);
  BOOST_TEST(largest <= 12898506);  // the largest network of the space
}

BOOST_AUTO_TEST_CASE(fifty_uniform_samples_run_in_libtorch) {
  // A forward of the largest draws takes seconds; to keep the test short we run the 50
  // smallest by MACs among the first 2,000 draws (and check their counts against LibTorch).
  auto space = registry().create_space("densenet", {});
  Sampler sampler(*space, SamplingLaw::uniform(space->variables()), 5);
  for (const auto& s : narrow::test::cheapest_draws(sampler, 50, 2000))
    check_against_torch(s.architecture, "draw " + std::to_string(s.index));
}

BOOST_AUTO_TEST_CASE(input_shape_and_classes_are_parameters) {
  auto space = registry().create_space("densenet", {{"input", "[1,28,28]"}, {"classes", "100"}});
  auto arch = reference_arch(*space, "densenet_bc100_k12");
  BOOST_TEST(arch.input().to_string() == "[1,28,28]");
  BOOST_TEST(arch.shape(arch.output_index()).c == 100);
  // 28 -> 14 -> 7 through the two transitions.
  BOOST_TEST(arch.shape(arch.index_of("t2p")).to_string() == "[150,7,7]");
  check_against_torch(arch, "bc100 on [1,28,28], 100 classes");
  // Four blocks on 64x64 inputs.
  auto big = registry().create_space("densenet", {{"input", "[3,64,64]"}, {"max_blocks", "4"}});
  Assignment a = big->reference("densenet40_k12");
  a[big->variable_index("blocks")] = 4;
  a[big->variable_index("block4.layers")] = 2;
  a[big->variable_index("growth")] = 4;
  auto arch4 = finalized(*big, a);
  BOOST_TEST(arch4.shape(arch4.index_of("t3p")).h == 8);
  check_against_torch(arch4, "four blocks on [3,64,64]");
}

BOOST_AUTO_TEST_CASE(bad_parameters_and_references_are_input_errors) {
  BOOST_CHECK_THROW(registry().create_space("densenet", {{"classes", "0"}}), InputError);
  BOOST_CHECK_THROW(registry().create_space("densenet", {{"input", "[3,32]"}}), InputError);
  BOOST_CHECK_THROW(registry().create_space("densenet", {{"max_blocks", "9"}}), InputError);
  BOOST_CHECK_THROW(registry().create_space("densenet", {{"max_growth", "0"}}), InputError);
  BOOST_CHECK_THROW(registry().create_space("densenet", {{"depth", "40"}}), InputError);
  // Three blocks need a map that survives two halvings.
  BOOST_CHECK_THROW(registry().create_space("densenet", {{"input", "[3,3,3]"}}), InputError);
  BOOST_CHECK_NO_THROW(registry().create_space("densenet", {{"input", "[3,4,4]"}}));
  try {
    registry().create_space("densenet", {{"input", "[3,3,32]"}});
    BOOST_ERROR("a 3x32 input with three blocks was accepted");
  } catch (const InputError& e) {
    BOOST_TEST(std::string(e.what()).find("lower max_blocks") != std::string::npos, e.what());
  }
  auto shallow = registry().create_space("densenet", {{"max_layers", "12"}});
  BOOST_CHECK_NO_THROW(shallow->reference("densenet40_k12"));
  BOOST_CHECK_THROW(shallow->reference("densenet_bc100_k12"), InputError);
  auto narrow_k = registry().create_space("densenet", {{"max_growth", "8"}});
  BOOST_CHECK_THROW(narrow_k->reference("densenet40_k12"), InputError);
  BOOST_CHECK_THROW(shallow->reference("densenet121"), InputError);
}
