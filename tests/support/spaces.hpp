#pragma once
// Helpers for tests of search spaces: the registry of the plugins built with narrow, building
// finalized architectures, counting ops, the MACs LibTorch's real layers perform, and the
// checks every space test makes on its references and draws.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "engine/builder.hpp"
#include "narrow/architecture.hpp"
#include "narrow/metrics.hpp"
#include "narrow/registry.hpp"
#include "narrow/sampler.hpp"
#include "narrow/space.hpp"
#include "support/plugins.hpp"

// Boost.Test prints the operands of a failed comparison.
namespace narrow {
inline std::ostream& operator<<(std::ostream& os, const Shape& s) {
  return os << s.to_string();
}
inline std::ostream& operator<<(std::ostream& os, Op op) {
  return os << op_name(op);
}
}  // namespace narrow

namespace narrow::test {

/// The registry with every plugin of the build's plugin folder, loaded once.
inline Registry& registry() {
  return built_plugins();
}

/// Runs LibTorch on one thread: `using narrow::test::SingleThreadedTorch;` and
/// `BOOST_TEST_GLOBAL_FIXTURE(SingleThreadedTorch);` (the macro takes an unqualified name).
struct SingleThreadedTorch {
  SingleThreadedTorch() { torch::set_num_threads(1); }
};

/// The architecture of an assignment, finalized.
inline Architecture finalized(const SearchSpace& space, const Assignment& a) {
  auto arch = space.build(a);
  arch.finalize();
  return arch;
}

/// The architecture of a reference model, finalized.
inline Architecture reference_arch(const SearchSpace& space, const std::string& name) {
  return finalized(space, space.reference(name));
}

/// How many layers of an architecture have this op.
inline std::size_t count_ops(const Architecture& a, Op op) {
  return std::size_t(std::count_if(a.layers().begin(), a.layers().end(),
                                   [&](const Layer& l) { return l.op == op; }));
}

/// MACs of a module's real conv and linear layers, given the layer output shapes that
/// forward_recording gave: weight [out, in/groups, kh, kw] times output H*W for a conv, the
/// weight count for a linear layer.
inline std::int64_t module_macs(GraphModule& m, const Architecture& a,
                                const std::vector<std::vector<std::int64_t>>& shapes) {
  std::int64_t macs = 0;
  for (const auto& item : m->named_children()) {
    const std::size_t i = a.index_of(item.key());
    if (auto* conv = item.value()->as<torch::nn::Conv2dImpl>())
      macs += conv->weight.numel() * shapes[i][1] * shapes[i][2];
    else if (auto* fc = item.value()->as<torch::nn::LinearImpl>())
      macs += fc->weight.numel();
  }
  return macs;
}

/// module_macs after one forward pass on zeros.
inline std::int64_t torch_macs(GraphModule& m, const Architecture& a) {
  std::vector<std::vector<std::int64_t>> shapes;
  const auto& in = a.input();
  m->forward_recording(torch::zeros({1, in.c, in.h, in.w}), shapes);
  return module_macs(m, a, shapes);
}

/// Builds the LibTorch module of a finalized architecture and runs it once on random input:
/// the output is one finite row of `classes` values, every layer's output has the shape that
/// shape inference gave it, and the module's parameters and MACs are narrow's. Returns the
/// MACs LibTorch's layers perform.
inline std::int64_t check_against_torch(const Architecture& arch, const std::string& what) {
  torch::NoGradGuard no_grad;
  auto module = build_module(arch);
  module->eval();
  const auto& in = arch.input();
  std::vector<std::vector<std::int64_t>> shapes;
  auto out = module->forward_recording(torch::randn({1, in.c, in.h, in.w}), shapes);
  BOOST_REQUIRE_MESSAGE(out.dim() == 2 && out.size(0) == 1 && out.size(1) == arch.classes(),
                        what << ": output " << out.sizes());
  BOOST_REQUIRE_EQUAL(shapes.size(), arch.layers().size());
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    const auto& s = arch.shape(i);
    std::vector<std::int64_t> expected =
        s.flat ? std::vector<std::int64_t>{s.c} : std::vector<std::int64_t>{s.c, s.h, s.w};
    BOOST_REQUIRE_MESSAGE(shapes[i] == expected,
                          what << ": " << arch.layers()[i].id << " " << s.to_string());
  }
  BOOST_TEST(torch::isfinite(out).all().item<bool>(), what);
  const auto m = analyse(arch);
  BOOST_TEST(count_parameters(*module) == m.params, what);
  const std::int64_t macs = module_macs(module, arch, shapes);
  BOOST_TEST(macs == m.macs, what);
  return macs;
}

/// What every drawn architecture of every space is: finalized, drawn inside the bounds, a
/// network whose output is one value per class, whose maps are never empty, whose layer ids
/// are letters, digits and '_', and that has parameters.
inline void check_draw(const SearchSpace& space, const SampledArchitecture& s) {
  const Architecture& arch = s.architecture;
  BOOST_REQUIRE(arch.finalized());
  space.check_assignment(s.assignment);
  const auto& out = arch.shape(arch.output_index());
  BOOST_REQUIRE(out.flat && out.c == arch.classes());
  for (std::size_t k = 0; k < arch.layers().size(); ++k) {
    const auto& sh = arch.shape(k);
    BOOST_REQUIRE(sh.c >= 1 && sh.h >= 1 && sh.w >= 1);
    for (char ch : arch.layers()[k].id)
      BOOST_REQUIRE(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_');
  }
  BOOST_REQUIRE(s.metrics.params > 0);
}

/// The `count` draws with the fewest MACs among the first `among` of a sampler, for tests
/// that run draws in LibTorch and cannot afford the largest.
inline std::vector<SampledArchitecture> cheapest_draws(const Sampler& sampler, std::size_t count,
                                                       std::uint64_t among) {
  std::vector<std::pair<std::int64_t, std::uint64_t>> by_macs;
  for (std::uint64_t i = 0; i < among; ++i) by_macs.emplace_back(sampler.draw(i).metrics.macs, i);
  std::sort(by_macs.begin(), by_macs.end());
  std::vector<SampledArchitecture> cheapest;
  for (std::size_t j = 0; j < count && j < by_macs.size(); ++j)
    cheapest.push_back(sampler.draw(by_macs[j].second));
  return cheapest;
}

}  // namespace narrow::test
