#define BOOST_TEST_MODULE width_scaling
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "narrow/errors.hpp"
#include "narrow/metrics.hpp"
#include "narrow/width_scaling.hpp"
#include "support/spaces.hpp"

using namespace narrow;
using narrow::test::reference_arch;
using narrow::test::registry;

namespace {

Layer L(std::string id, Op op, std::vector<std::string> in) {
  Layer l;
  l.id = std::move(id);
  l.op = op;
  l.inputs = std::move(in);
  return l;
}

Layer conv(std::string id, std::string in, std::int64_t out, std::int64_t groups = 1,
           std::int64_t kernel = 3) {
  Layer l = L(std::move(id), Op::conv2d, {std::move(in)});
  l.out_channels = out;
  l.kernel = {kernel, kernel};
  l.padding = {kernel / 2, kernel / 2};
  l.groups = groups;
  return l;
}

Layer linear(std::string id, std::string in, std::int64_t out) {
  Layer l = L(std::move(id), Op::linear, {std::move(in)});
  l.out_channels = out;
  return l;
}

// The classifier head every hand-built graph ends with: pooling, flatten, linear to 10.
void head(Architecture& a, const std::string& from) {
  a.add(L("gap", Op::global_avgpool, {from}));
  a.add(L("flat", Op::flatten, {"gap"}));
  a.add(linear("fc", "flat", 10));
  a.set_output("fc");
}

const Layer& layer(const Architecture& a, const std::string& id) {
  return a.layers().at(a.index_of(id));
}
std::int64_t channels(const Architecture& a, const std::string& id) {
  return a.shape(a.index_of(id)).c;
}

// Checks that hold for every scaling: a valid graph with the same layers and output.
void check_scaled(const Architecture& original, const Architecture& scaled,
                  const std::string& what) {
  BOOST_TEST_CONTEXT(what) {
    BOOST_TEST(scaled.finalized());
    BOOST_TEST(scaled.layers().size() == original.layers().size());
    BOOST_TEST(scaled.shape(scaled.output_index()) == original.shape(original.output_index()));
    for (std::size_t i = 0; i < original.layers().size(); ++i) {
      const Layer& o = original.layers()[i];
      const Layer& s = scaled.layers()[i];
      BOOST_TEST(s.id == o.id);
      BOOST_TEST(s.op == o.op);
      BOOST_TEST(s.out_channels >= (o.out_channels > 0 ? 1 : 0));
      BOOST_TEST(s.out_channels <= o.out_channels);
      // A depthwise convolution stays depthwise with the same channel multiplier.
      const auto& ins = original.input_indices(i);
      const std::int64_t in_c =
          ins.empty() ? 0 : (ins[0] < 0 ? original.input().c : original.shape(ins[0]).c);
      if (o.op == Op::conv2d && o.groups > 1 && o.groups == in_c) {
        const auto& sins = scaled.input_indices(i);
        const std::int64_t s_in = sins[0] < 0 ? scaled.input().c : scaled.shape(sins[0]).c;
        BOOST_TEST(s.groups == s_in, s.id);
        BOOST_TEST(s.out_channels / s.groups == o.out_channels / o.groups, s.id);
      }
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_plain_stack_scales_every_width_but_the_classifier) {
  Architecture a(Shape{1, 8, 8}, 10);
  a.add(conv("c1", "input", 8));
  a.add(L("b1", Op::batchnorm, {"c1"}));
  a.add(L("r1", Op::relu, {"b1"}));
  a.add(L("p1", Op::maxpool, {"r1"}));
  a.add(conv("c2", "p1", 16));
  a.add(L("f", Op::flatten, {"c2"}));
  a.add(linear("h", "f", 32));
  a.add(L("hr", Op::relu, {"h"}));
  a.add(linear("out", "hr", 10));
  a.set_output("out");
  a.finalize();
  const auto half = scale_widths(a, 0.5);
  check_scaled(a, half, "half");
  BOOST_TEST(layer(half, "c1").out_channels == 4);
  BOOST_TEST(channels(half, "b1") == 4);  // the batch norm follows its convolution
  BOOST_TEST(layer(half, "c2").out_channels == 8);
  BOOST_TEST(layer(half, "h").out_channels == 16);
  BOOST_TEST(layer(half, "out").out_channels == 10);
  BOOST_TEST(channels(half, "f") == 8 * 8 * 8);
  // Rounding to the nearest, at least 1: 8 * 0.3 = 2.4 -> 2, 16 * 0.3 = 4.8 -> 5, 0.01 -> 1.
  const auto small = scale_widths(a, 0.3);
  BOOST_TEST(layer(small, "c1").out_channels == 2);
  BOOST_TEST(layer(small, "c2").out_channels == 5);
  const auto tiny = scale_widths(a, 0.01);
  BOOST_TEST(layer(tiny, "c1").out_channels == 1);
  BOOST_TEST(layer(tiny, "h").out_channels == 1);
  BOOST_TEST(layer(tiny, "out").out_channels == 10);
  BOOST_TEST(scale_widths(a, 1.0).hash() == a.hash());
  BOOST_CHECK_THROW(scale_widths(a, 0.0), InputError);
  BOOST_CHECK_THROW(scale_widths(a, -1.0), InputError);
}

BOOST_AUTO_TEST_CASE(residual_additions_keep_equal_widths) {
  // Two blocks: conv-relu-conv added to the block input; the second block's input is the
  // first's sum, so all four widths of the chain are tied together, the inner ones are free.
  Architecture a(Shape{3, 8, 8}, 10);
  a.add(conv("stem", "input", 16));
  a.add(L("s", Op::relu, {"stem"}));
  a.add(conv("a1", "s", 24));
  a.add(L("a1r", Op::relu, {"a1"}));
  a.add(conv("a2", "a1r", 16));
  a.add(L("add1", Op::add, {"s", "a2"}));
  a.add(conv("b1", "add1", 24));
  a.add(conv("b2", "b1", 16));
  a.add(L("add2", Op::add, {"b2", "add1"}));
  head(a, "add2");
  a.finalize();
  for (double f : {0.1, 0.3, 0.45, 0.7, 0.93}) {
    const auto s = scale_widths(a, f);
    check_scaled(a, s, "factor " + std::to_string(f));
    const auto w = std::max<std::int64_t>(1, std::llround(16 * f));
    BOOST_TEST(layer(s, "stem").out_channels == w);
    BOOST_TEST(layer(s, "a2").out_channels == w);
    BOOST_TEST(layer(s, "b2").out_channels == w);
    BOOST_TEST(layer(s, "a1").out_channels == std::max<std::int64_t>(1, std::llround(24 * f)));
  }
  BOOST_TEST(scale_widths(a, 1.0).hash() == a.hash());

  // A residual connection from the network input ties the convolution to the input's 3
  // channels: it keeps them, everything else scales.
  Architecture r(Shape{3, 8, 8}, 10);
  r.add(conv("wide", "input", 32));
  r.add(conv("back", "wide", 3));
  r.add(L("sum", Op::add, {"input", "back"}));
  head(r, "sum");
  r.finalize();
  const auto rs = scale_widths(r, 0.25);
  check_scaled(r, rs, "input residual");
  BOOST_TEST(layer(rs, "wide").out_channels == 8);
  BOOST_TEST(layer(rs, "back").out_channels == 3);
}

BOOST_AUTO_TEST_CASE(concatenations_sum_their_scaled_branches) {
  Architecture a(Shape{3, 8, 8}, 10);
  a.add(conv("x", "input", 8, 1, 1));
  a.add(conv("y", "input", 12, 1, 3));
  a.add(L("cat", Op::concat, {"x", "y"}));
  a.add(conv("z", "cat", 6, 1, 1));
  // A concatenation added to a single width: they cannot be tied, so both keep their widths.
  a.add(conv("w", "input", 20, 1, 1));
  a.add(L("sum", Op::add, {"cat", "w"}));
  a.add(L("both", Op::concat, {"z", "sum"}));
  head(a, "both");
  a.finalize();
  const auto s = scale_widths(a, 0.5);
  check_scaled(a, s, "concat");
  BOOST_TEST(layer(s, "z").out_channels == 3);
  BOOST_TEST(layer(s, "x").out_channels == 8);
  BOOST_TEST(layer(s, "y").out_channels == 12);
  BOOST_TEST(layer(s, "w").out_channels == 20);
  BOOST_TEST(channels(s, "both") == 3 + 20);
  BOOST_TEST(scale_widths(a, 1.0).hash() == a.hash());

  // Without the add, the branches scale and the concatenation is their sum.
  Architecture b(Shape{3, 8, 8}, 10);
  b.add(conv("x", "input", 8, 1, 1));
  b.add(conv("y", "input", 12, 1, 3));
  b.add(L("cat", Op::concat, {"x", "y"}));
  head(b, "cat");
  b.finalize();
  const auto t = scale_widths(b, 0.5);
  BOOST_TEST(channels(t, "cat") == 4 + 6);
}

BOOST_AUTO_TEST_CASE(depthwise_and_grouped_convolutions_stay_valid) {
  // Pointwise 16 -> depthwise x2 (groups 16, 32 out) -> pointwise 8.
  Architecture a(Shape{3, 8, 8}, 10);
  a.add(conv("pw1", "input", 16, 1, 1));
  a.add(conv("dw", "pw1", 32, 16, 3));
  a.add(L("bn", Op::batchnorm, {"dw"}));
  a.add(conv("pw2", "bn", 8, 1, 1));
  // A grouped convolution with 4 groups reading a free width and writing 24.
  a.add(conv("g", "pw2", 24, 4, 3));
  head(a, "g");
  a.finalize();
  for (double f : {0.05, 0.3, 0.5, 0.8}) {
    const auto s = scale_widths(a, f);
    check_scaled(a, s, "factor " + std::to_string(f));
    const auto pw1 = std::max<std::int64_t>(1, std::llround(16 * f));
    BOOST_TEST(layer(s, "dw").groups == pw1);
    BOOST_TEST(layer(s, "dw").out_channels == 2 * pw1);
    BOOST_TEST(channels(s, "bn") == 2 * pw1);
    // Multiples of the 4 groups, the nearest, at least 4.
    BOOST_TEST(layer(s, "pw2").out_channels % 4 == 0);
    BOOST_TEST(layer(s, "g").out_channels % 4 == 0);
    BOOST_TEST(layer(s, "g").groups == 4);
    BOOST_TEST(layer(s, "g").out_channels ==
               4 * std::max<std::int64_t>(1, std::llround(24 * f / 4)));
  }
  BOOST_TEST(scale_widths(a, 1.0).hash() == a.hash());

  // Groups of 4 over a concatenation of 3 + 5 channels: the parts are not multiples of 4, so
  // they keep their widths and the grouped convolution stays valid.
  Architecture b(Shape{3, 8, 8}, 10);
  b.add(conv("x", "input", 3, 1, 1));
  b.add(conv("y", "input", 5, 1, 1));
  b.add(L("cat", Op::concat, {"x", "y"}));
  b.add(conv("g", "cat", 16, 4, 1));
  head(b, "g");
  b.finalize();
  const auto t = scale_widths(b, 0.4);
  check_scaled(b, t, "groups over a concat");
  BOOST_TEST(channels(t, "cat") == 8);
  BOOST_TEST(layer(t, "g").out_channels == 8);
}

BOOST_AUTO_TEST_CASE(shrinking_finds_the_widest_model_within_the_budget) {
  auto space = registry().create_space("sequential", {});
  const auto fig1 = reference_arch(*space, "fig1");
  const auto full = analyse(fig1);
  // The unshrunk model when it fits.
  const auto same = shrink_to_budget(fig1, "weight_bytes", double(full.weight_bytes));
  BOOST_TEST(same.fits);
  BOOST_TEST(same.factor == 1.0);
  BOOST_TEST(same.architecture.hash() == fig1.hash());
  BOOST_TEST(!same.next_factor.has_value());
  // 4 KiB and 16 KiB of float32 weights.
  for (double budget : {4096.0, 16384.0}) {
    const auto s = shrink_to_budget(fig1, "weight_bytes", budget);
    BOOST_TEST_CONTEXT("budget " << budget) {
      BOOST_TEST(s.fits);
      BOOST_TEST(double(s.value) <= budget);
      BOOST_TEST(s.value == analyse(s.architecture).weight_bytes);
      BOOST_TEST(s.architecture.hash() == scale_widths(fig1, s.factor).hash());
      BOOST_TEST(s.factor > 0.0);
      BOOST_TEST(s.factor < 1.0);
      BOOST_TEST_REQUIRE(s.next_factor.has_value());
      const auto wider = scale_widths(fig1, *s.next_factor);
      BOOST_TEST(wider.hash() != s.architecture.hash());
      BOOST_TEST(double(analyse(wider).weight_bytes) > budget);
    }
  }
  // Below the smallest model (every width 1): reported, with the smallest model's size.
  const auto none = shrink_to_budget(fig1, "weight_bytes", 64);
  BOOST_TEST(!none.fits);
  BOOST_TEST(none.value > 64);
  BOOST_TEST(none.value == analyse(scale_widths(fig1, 1e-6)).weight_bytes);
  BOOST_CHECK_THROW(shrink_to_budget(fig1, "weights", 4096), InputError);
  // Other metrics work the same way.
  const auto by_macs = shrink_to_budget(fig1, "macs", double(full.macs) / 10);
  BOOST_TEST(by_macs.fits);
  BOOST_TEST(double(by_macs.value) <= double(full.macs) / 10);
}

BOOST_AUTO_TEST_CASE(the_references_of_every_space_scale_and_shrink) {
  const std::vector<std::string> spaces{"sequential", "resnet", "mobilenet", "densenet",
                                        "inception"};
  for (const auto& name : spaces) {
    auto space = registry().create_space(name, {});
    for (const auto& ref : space->references()) {
      BOOST_TEST_CONTEXT(name << "/" << ref) {
        const auto a = reference_arch(*space, ref);
        const auto full = analyse(a);
        BOOST_TEST(scale_widths(a, 1.0).hash() == a.hash());
        std::int64_t last = 0;
        for (double f : {0.05, 0.25, 0.5, 0.75}) {
          Architecture s;
          BOOST_CHECK_NO_THROW(s = scale_widths(a, f));
          if (!s.finalized()) continue;
          check_scaled(a, s, "factor " + std::to_string(f));
          const auto m = analyse(s);
          BOOST_TEST(m.params <= full.params);
          BOOST_TEST(m.params >= last);  // monotone in the factor
          last = m.params;
        }
        // Factors in order give growing models; the last one is the model itself.
        const auto factors = distinct_width_factors(a);
        BOOST_TEST(factors.back() == 1.0);
        BOOST_TEST(factors.size() > 2u);
        // A quarter of the weights: fits, and the next wider widths do not.
        const double budget = double(full.weight_bytes) / 4;
        const auto s = shrink_to_budget(a, "weight_bytes", budget);
        BOOST_TEST(s.fits);
        BOOST_TEST(double(s.value) <= budget);
        BOOST_TEST(double(analyse(s.architecture).weight_bytes) <= budget);
        BOOST_TEST_REQUIRE(s.next_factor.has_value());
        BOOST_TEST(double(analyse(scale_widths(a, *s.next_factor)).weight_bytes) > budget);
        // Budgets below the smallest model are reported.
        const auto smallest = analyse(scale_widths(a, factors.front())).weight_bytes;
        const auto none = shrink_to_budget(a, "weight_bytes", double(smallest) - 1);
        BOOST_TEST(!none.fits);
        BOOST_TEST(none.value == smallest);
      }
    }
  }
}
