#define BOOST_TEST_MODULE moves
// The moves of adaptive architecture learning (narrow/moves.hpp) on the variables of the
// built-in spaces: the layer groups each space's variables declare, α steps of a coordinate
// at and away from its bounds, layers removed and added with the others kept in order, and
// random moves that always apply and never leave the absolute bounds.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "narrow/moves.hpp"
#include "narrow/sampler.hpp"
#include "narrow/space.hpp"
#include "narrow/space_kit.hpp"
#include "support/spaces.hpp"

using namespace narrow;
using narrow::test::registry;

namespace {

const Variable& var(const SearchSpace& s, const std::string& name) {
  return s.variables().at(s.variable_index(name));
}

// The values of layer `i` of group `g` of `a`.
std::vector<std::int64_t> layer_values(const LayerGroup& g, const Assignment& a, std::int64_t i) {
  std::vector<std::int64_t> out;
  for (std::size_t v : g.layers.at(std::size_t(i - 1))) out.push_back(a[v]);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(each_space_declares_its_layer_groups) {
  auto seq = registry().create_space("sequential", {{"max_conv_layers", "4"},
                                                    {"max_fc_layers", "2"}});
  const auto groups = layer_groups(seq->variables());
  BOOST_REQUIRE(groups.size() == 2u);
  BOOST_TEST(seq->variables()[groups[0].depth].name == "conv_layers");
  BOOST_TEST(groups[0].layers.size() == 4u);
  BOOST_TEST(groups[0].roles == (std::vector<std::string>{"filters", "kernel_h", "kernel_w",
                                                          "stride_h", "stride_w", "padding",
                                                          "pool_h", "pool_w", "pool_type"}),
             boost::test_tools::per_element());
  BOOST_TEST(seq->variables()[groups[1].depth].name == "fc_layers");
  BOOST_TEST(groups[1].roles == std::vector<std::string>{"units"}, boost::test_tools::per_element());
  BOOST_TEST(seq->variables()[groups[1].layers[1][0]].name == "fc2.units");

  auto mobile = registry().create_space("mobilenet", {{"max_stages", "3"}});
  const auto m = layer_groups(mobile->variables());
  BOOST_REQUIRE(m.size() == 1u);
  BOOST_TEST(mobile->variables()[m[0].depth].name == "stages");
  BOOST_TEST(m[0].roles == (std::vector<std::string>{"blocks", "width", "stride"}),
             boost::test_tools::per_element());
  BOOST_TEST(layer_groups(registry().create_space("resnet", {})->variables()).size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_coordinate_moves_by_alpha_and_stays_within_its_bounds) {
  auto seq = registry().create_space("sequential", {{"max_filters", "100"}});
  const Variable& filters = var(*seq, "conv1.filters");  // 1..100
  BOOST_TEST(*scaled_value(filters, 10, 1) == 15);
  BOOST_TEST(*scaled_value(filters, 10, -1) == 7);   // 6.6 rounds to 7
  BOOST_TEST(*scaled_value(filters, 1, 1) == 2);     // 1.5 rounds to 2
  BOOST_TEST(*scaled_value(filters, 2, -1) == 1);    // 1.32 rounds to 1
  BOOST_TEST(*scaled_value(filters, 3, 1) == 5);     // 4.5 rounds away from zero
  BOOST_TEST(*scaled_value(filters, 80, 1) == 100);  // 120 kept at the bound
  BOOST_TEST(!scaled_value(filters, 100, 1));        // already there
  BOOST_TEST(!scaled_value(filters, 1, -1));
  BOOST_TEST(*scaled_value(filters, 10, 1, MoveFactors{2.0, 0.5}) == 20);
  // A count that may be 0 leaves it by one step (0 x 1.5 is still 0), and 1 x 0.66 reaches 0.
  Variable count;
  count.min = 0;
  count.max = 8;
  BOOST_TEST(*scaled_value(count, 0, 1) == 1);
  BOOST_TEST(*scaled_value(count, 1, -1) == 0);
  const Variable& stride = var(*seq, "conv1.stride_h");  // 1..2
  BOOST_TEST(*scaled_value(stride, 1, 1) == 2);
  BOOST_TEST(!scaled_value(stride, 2, 1));
  const Variable& kernel = var(*seq, "conv1.kernel_h");  // choice 1, 3, 5, 7
  BOOST_TEST(*scaled_value(kernel, 1, 1) == 2);         // 3 -> 5: one index
  BOOST_TEST(*scaled_value(kernel, 1, -1) == 0);
  BOOST_TEST(!scaled_value(kernel, 3, 1));
}

BOOST_AUTO_TEST_CASE(layers_are_removed_and_added_with_the_others_in_order) {
  auto seq = registry().create_space("sequential", {{"max_conv_layers", "4"}});
  const auto& vars = seq->variables();
  const auto groups = layer_groups(vars);
  const LayerGroup& conv = groups[0];
  Assignment a = minimum_assignment(vars);
  a[conv.depth] = 3;
  for (std::int64_t i = 1; i <= 3; ++i) a[conv.layers[std::size_t(i - 1)][0]] = 10 * i;  // filters
  Rng rng = stream_rng(1, 0);

  // Remove layer 2 of 3: layer 3 becomes layer 2, the freed layer 3 goes to its minima.
  Move remove;
  remove.kind = Move::Kind::remove_layer;
  remove.group = 0;
  remove.layer = 2;
  const auto r = apply_move(vars, groups, a, remove, rng);
  BOOST_REQUIRE(r);
  BOOST_TEST((*r)[conv.depth] == 2);
  BOOST_TEST(layer_values(conv, *r, 1) == layer_values(conv, a, 1), boost::test_tools::per_element());
  BOOST_TEST(layer_values(conv, *r, 2) == layer_values(conv, a, 3), boost::test_tools::per_element());
  BOOST_TEST(layer_values(conv, *r, 3) == layer_values(conv, minimum_assignment(vars), 3),
             boost::test_tools::per_element());
  BOOST_TEST(remove.text(vars, groups) == "remove conv2");

  // Add a layer at 2: layers 2 and 3 move up, the new one is within its bounds.
  Move add = remove;
  add.kind = Move::Kind::add_layer;
  const auto b = apply_move(vars, groups, a, add, rng);
  BOOST_REQUIRE(b);
  BOOST_TEST((*b)[conv.depth] == 4);
  BOOST_TEST(layer_values(conv, *b, 1) == layer_values(conv, a, 1), boost::test_tools::per_element());
  BOOST_TEST(layer_values(conv, *b, 3) == layer_values(conv, a, 2), boost::test_tools::per_element());
  BOOST_TEST(layer_values(conv, *b, 4) == layer_values(conv, a, 3), boost::test_tools::per_element());
  for (std::size_t v : conv.layers[1]) BOOST_TEST((vars[v].min <= (*b)[v] && (*b)[v] <= vars[v].max));
  // At the depth's bounds, or outside the layers, a meta move does not apply.
  BOOST_TEST(!apply_move(vars, groups, *b, add, rng));   // 4 is max_conv_layers
  add.layer = 5;
  BOOST_TEST(!apply_move(vars, groups, a, add, rng));    // layers 1..4 only, with 3 active
  Assignment one = a;
  one[conv.depth] = 1;
  remove.layer = 1;
  BOOST_TEST(!apply_move(vars, groups, one, remove, rng));  // conv_layers is at least 1
  // A coordinate of an inactive layer is no layer move.
  Move scale;
  scale.variable = conv.layers[3][0];  // conv4.filters, inactive at depth 3
  BOOST_TEST(!apply_move(vars, groups, a, scale, rng));
  scale.variable = conv.layers[0][0];
  BOOST_TEST((*apply_move(vars, groups, a, scale, rng))[scale.variable] == 15);
  BOOST_TEST(scale.text(vars, groups) == "conv1.filters up");
}

BOOST_AUTO_TEST_CASE(random_moves_apply_and_keep_every_bound) {
  for (const char* name : {"sequential", "resnet", "mobilenet"}) {
    auto space = registry().create_space(name, {});
    const auto& vars = space->variables();
    const auto groups = layer_groups(vars);
    Sampler sampler(*space, SamplingLaw::uniform(vars), 11);
    Rng rng = stream_rng(2, 0);
    int meta = 0, scale = 0;
    for (std::uint64_t i = 0; i < 3000; ++i) {
      const Assignment a = sampler.draw(i).assignment;
      const auto move = random_move(vars, groups, a, rng);
      BOOST_REQUIRE(move);
      const auto b = apply_move(vars, groups, a, *move, rng);
      BOOST_REQUIRE_MESSAGE(b, name << ": " << move->text(vars, groups) << " did not apply");
      BOOST_TEST((*b != a), name << ": " << move->text(vars, groups) << " changed nothing");
      for (std::size_t v = 0; v < vars.size(); ++v)
        BOOST_TEST((vars[v].min <= (*b)[v] && (*b)[v] <= vars[v].max), vars[v].name);
      (move->kind == Move::Kind::scale ? scale : meta) += 1;
    }
    // Both kinds, about half each.
    BOOST_TEST(meta > 1200, name);
    BOOST_TEST(scale > 1200, name);
  }
}
