#define BOOST_TEST_MODULE channel_search
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/channel_costs.hpp"
#include "core/channel_groups.hpp"
#include "engine/channel_search.hpp"
#include "engine/quantized_model.hpp"
#include "engine/trainer.hpp"
#include "narrow/channel_search.hpp"
#include "narrow/device.hpp"
#include "narrow/errors.hpp"
#include "narrow/format.hpp"
#include "narrow/metrics.hpp"
#include "support/spaces.hpp"

namespace {

using namespace narrow;
using narrow::test::registry;
using narrow::test::SingleThreadedTorch;
BOOST_TEST_GLOBAL_FIXTURE(SingleThreadedTorch);

struct Seed {
  std::string space, reference;
};
// One seed of every space: residual adds (resnet), depthwise convolutions (mobilenet),
// concatenations (densenet, inception), flatten into hidden linear layers (sequential).
const std::vector<Seed> seeds{{"resnet", "resnet8"},   {"mobilenet", "ds_cnn"},
                              {"sequential", "lenet5"}, {"densenet", "densenet40_k12"},
                              {"inception", "googlenet_small"}};

Architecture seed_arch(const Seed& s) {
  auto space = registry().create_space(s.space, {{"input", "1,28,28"}, {"classes", "10"}});
  const auto refs = space->references();
  const std::string name =
      std::find(refs.begin(), refs.end(), s.reference) != refs.end() ? s.reference : refs.front();
  return test::reference_arch(*space, name);
}

/// Random alphas: each channel lives with probability 1/2 (the last always does).
ChannelMasks random_masks(const ChannelGroups& groups, std::mt19937& rng) {
  ChannelMasks m = ChannelMasks::ones(groups, 0.5);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (auto& a : m.alpha) {
    torch::NoGradGuard no_grad;
    for (std::int64_t i = 0; i < a.size(0); ++i) a[i] = u(rng);
  }
  return m;
}

/// Batch norms with statistics and affine parameters away from the identity, so that a
/// removed channel that was not zeroed would show.
void randomise_batchnorms(GraphModule& module) {
  torch::NoGradGuard no_grad;
  for (auto& b : module->named_buffers())
    if (b.key().find("running_var") != std::string::npos) b.value().uniform_(0.5, 2.0);
    else if (b.key().find("running_mean") != std::string::npos) b.value().uniform_(-0.5, 0.5);
  for (auto& p : module->named_parameters())
    if (p.value().dim() == 1) p.value().uniform_(-0.5, 0.5);
}

}  // namespace

BOOST_AUTO_TEST_CASE(straight_through_gradient) {
  Architecture arch = seed_arch(seeds[2]);
  const auto groups = ChannelGroups::of(arch);
  ChannelMasks m = ChannelMasks::ones(groups, 0.5);
  {
    torch::NoGradGuard no_grad;
    m.alpha[0].copy_(torch::linspace(0.0, 1.0, m.alpha[0].size(0)));
  }
  const torch::Tensor b = m.binary(0);
  const auto n = b.size(0);
  // The value is |alpha| > 0.5, with the last channel alive.
  for (std::int64_t i = 0; i + 1 < n; ++i)
    BOOST_TEST(b[i].item<float>() == (m.alpha[0][i].item<float>() > 0.5f ? 1.0f : 0.0f));
  BOOST_TEST(b[n - 1].item<float>() == 1.0f);
  // The gradient passes to alpha unchanged, except to the last channel's.
  const torch::Tensor w = torch::arange(1, n + 1, torch::kFloat);
  (b * w).sum().backward();
  const torch::Tensor g = m.alpha[0].grad();
  for (std::int64_t i = 0; i + 1 < n; ++i) BOOST_TEST(g[i].item<float>() == float(i + 1));
  BOOST_TEST(g[n - 1].item<float>() == 0.0f);
}

BOOST_AUTO_TEST_CASE(adds_tie_their_inputs_and_the_output_layer_is_fixed) {
  for (const auto& s : seeds) {
    const Architecture arch = seed_arch(s);
    const auto groups = ChannelGroups::of(arch);
    BOOST_TEST_CONTEXT(s.space) {
      BOOST_TEST(!groups.groups().empty());
      std::size_t adds = 0;
      for (std::size_t i = 0; i < arch.layers().size(); ++i) {
        if (arch.layers()[i].op != Op::add) continue;
        ++adds;
        for (std::size_t k = 1; k < arch.input_indices(i).size(); ++k)
          BOOST_TEST((groups.input_segments(arch, i, k) == groups.input_segments(arch, i, 0)));
      }
      if (s.space == "resnet") BOOST_TEST(adds > 0u);
      for (const auto& g : groups.groups())
        for (int p : g.producers) BOOST_TEST(std::size_t(p) != arch.output_index());
      for (const auto& seg : groups.segments(arch.output_index())) BOOST_TEST(seg.group == -1);
    }
  }
}

BOOST_AUTO_TEST_CASE(tied_channels_are_removed_together_across_an_add) {
  const Architecture arch = seed_arch(seeds[0]);  // resnet8
  const auto groups = ChannelGroups::of(arch);
  // Some group has two producers (a convolution and the one its identity shortcut adds to).
  bool tied = false;
  for (const auto& g : groups.groups()) tied = tied || g.producers.size() > 1;
  BOOST_TEST(tied);
  std::mt19937 rng(3);
  ChannelMasks masks = random_masks(groups, rng);
  GraphModule seeded = build_module(arch);
  const GraphModule pruned = export_pruned(arch, seeded, groups, masks);
  // Every add of the export still adds tensors of one shape: the export finalized, and the
  // producers of one group all kept the group's count.
  const auto counts = masks.counts();
  for (std::size_t g = 0; g < groups.groups().size(); ++g)
    for (int p : groups.groups()[g].producers)
      BOOST_TEST(pruned->architecture().layers()[std::size_t(p)].out_channels == counts[g]);
}

BOOST_AUTO_TEST_CASE(export_computes_what_the_masked_seed_computes) {
  std::mt19937 rng(11);
  for (const auto& s : seeds) {
    BOOST_TEST_CONTEXT(s.space) {
      const Architecture arch = seed_arch(s);
      const auto groups = ChannelGroups::of(arch);
      for (int trial = 0; trial < 3; ++trial) {
        ChannelMasks masks = random_masks(groups, rng);
        GraphModule seeded = build_module(arch);
        randomise_batchnorms(seeded);
        seeded->eval();
        GraphModule pruned = export_pruned(arch, seeded, groups, masks);
        pruned->eval();
        std::vector<torch::Tensor> binary;
        for (std::size_t g = 0; g < groups.groups().size(); ++g)
          binary.push_back(masks.binary(g).detach());
        seeded->set_output_masks(layer_masks(arch, groups, binary));
        torch::NoGradGuard no_grad;
        const torch::Tensor x = torch::randn({4, 1, 28, 28});
        const torch::Tensor a = seeded->forward(x), b = pruned->forward(x);
        BOOST_TEST(torch::allclose(a, b, 1e-4, 1e-4));
        // The export holds as many parameters as the kernel counts for its architecture.
        BOOST_TEST(count_parameters(*pruned) == analyse(pruned->architecture()).params);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(costs_equal_the_kernel_metrics_of_the_export) {
  std::mt19937 rng(5);
  const auto int8 = create_format(registry(), "int8");
  for (const auto& s : seeds) {
    BOOST_TEST_CONTEXT(s.space) {
      const Architecture arch = seed_arch(s);
      const auto groups = ChannelGroups::of(arch);
      std::vector<std::string> names = channel_cost_names();
      names.pop_back();  // latency needs a device: its own test
      ChannelCosts float_costs(arch, groups, names, nullptr, nullptr);
      ChannelCosts int8_costs(arch, groups, names, int8.get(), nullptr);
      for (int trial = 0; trial < 4; ++trial) {
        ChannelMasks masks = random_masks(groups, rng);
        GraphModule seeded = build_module(arch);
        GraphModule pruned = export_pruned(arch, seeded, groups, masks);
        const Architecture& e = pruned->architecture();
        const auto counts = masks.counts();
        const auto f = float_costs.values(counts), q = int8_costs.values(counts);
        const Metrics m32 = analyse(e, 32), m8 = analyse(e, 8);
        for (std::size_t i = 0; i + 1 < names.size(); ++i) {
          BOOST_TEST(f[i] == double(m32.get(names[i])), names[i]);
          BOOST_TEST(q[i] == double(m8.get(names[i])), names[i]);
        }
        // deployed_bytes: what the precision evaluator counts from the tensors themselves.
        QuantizedModel model(e, pruned);
        BOOST_TEST(f.back() == double(model.stored_bytes(nullptr)));
        BOOST_TEST(q.back() == double(model.stored_bytes(int8.get())));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(latency_cost_is_the_device_prediction_of_the_export) {
  const auto device = create_device(registry(), "analytic", {{"preset", "stm32f746"}});
  std::mt19937 rng(9);
  for (const auto& s : seeds) {
    BOOST_TEST_CONTEXT(s.space) {
      const Architecture arch = seed_arch(s);
      const auto groups = ChannelGroups::of(arch);
      ChannelCosts costs(arch, groups, {"latency"}, nullptr, device.get());
      ChannelMasks masks = random_masks(groups, rng);
      GraphModule seeded = build_module(arch);
      GraphModule pruned = export_pruned(arch, seeded, groups, masks);
      const Architecture& e = pruned->architecture();
      BOOST_TEST(costs.values(masks.counts()).front() == *device->predict(e, analyse(e)));
    }
  }
  // Without a device that predicts, latency is refused.
  const Architecture arch = seed_arch(seeds[2]);
  BOOST_CHECK_THROW(channel_cost("latency", arch, nullptr, nullptr), InputError);
  BOOST_CHECK_THROW(channel_cost("layers", arch, nullptr, nullptr), InputError);
}

BOOST_AUTO_TEST_CASE(slopes_are_the_change_per_channel) {
  const Architecture arch = seed_arch(seeds[0]);
  const auto groups = ChannelGroups::of(arch);
  ChannelCosts costs(arch, groups, {"params", "macs"}, nullptr, nullptr);
  std::vector<std::int64_t> c = groups.full_counts();
  for (auto& n : c) n = std::max<std::int64_t>(2, n / 2);
  const auto& p = costs.at(c);
  for (std::size_t g = 0; g < c.size(); ++g) {
    auto up = c, down = c;
    ++up[g], --down[g];
    const auto a = costs.values(up), b = costs.values(down);
    // params and MACs are at most quadratic in one count: the central difference is exact.
    BOOST_TEST(p.slope[0][g] == (a[0] - b[0]) / 2);
    BOOST_TEST(p.slope[1][g] == (a[1] - b[1]) / 2);
    BOOST_TEST(p.slope[0][g] > 0);
  }
}

BOOST_AUTO_TEST_CASE(lambda_ramps_over_the_first_half) {
  BOOST_TEST(lambda_at(2.0, 0.5, 0, 10) == 0.02);
  BOOST_TEST(std::abs(lambda_at(2.0, 0.5, 1, 10) - (0.02 + 1.98 * 0.2)) < 1e-12);
  BOOST_TEST(lambda_at(2.0, 0.5, 5, 10) == 2.0);
  BOOST_TEST(lambda_at(2.0, 0.5, 9, 10) == 2.0);
  BOOST_TEST(lambda_at(2.0, 0.0, 0, 10) == 2.0);
  BOOST_TEST(target_excess(150, 100) == 0.5);
  BOOST_TEST(target_excess(50, 100) == 0.0);
}

BOOST_AUTO_TEST_CASE(with_channels_refuses_counts_out_of_range) {
  const Architecture arch = seed_arch(seeds[2]);
  const auto groups = ChannelGroups::of(arch);
  auto c = groups.full_counts();
  c[0] = 0;
  BOOST_CHECK_THROW(groups.with_channels(arch, c), InputError);
  c[0] = groups.groups()[0].channels + 1;
  BOOST_CHECK_THROW(groups.with_channels(arch, c), InputError);
  BOOST_CHECK_THROW(groups.with_channels(arch, {}), InputError);
}

BOOST_AUTO_TEST_CASE(fit_trims_to_the_targets_then_gives_back_what_fits) {
  const Architecture arch = seed_arch(seeds[0]);
  const auto groups = ChannelGroups::of(arch);
  ChannelCosts costs(arch, groups, {"params", "macs"}, nullptr, nullptr);
  const auto full = costs.values(groups.full_counts());
  std::mt19937 rng(2);
  for (double share : {0.2, 0.5, 0.9}) {
    ChannelMasks masks = random_masks(groups, rng);
    const std::vector<double> targets{share * full[0], share * full[1]};
    const ChannelFit fit = fit_to_targets(masks, costs, targets);
    const auto counts = masks.counts();
    const auto v = costs.values(counts);
    BOOST_TEST(v[0] <= targets[0]);
    BOOST_TEST(v[1] <= targets[1]);
    // Nothing more fits: one more channel in any group that can grow breaks a target.
    for (std::size_t g = 0; g < counts.size(); ++g) {
      if (counts[g] == groups.groups()[g].channels) continue;
      auto more = counts;
      ++more[g];
      const auto w = costs.values(more);
      BOOST_TEST((w[0] > targets[0] || w[1] > targets[1]), "group " << g << " could grow");
    }
    BOOST_TEST(fit.trimmed + fit.filled > 0);
  }
}
