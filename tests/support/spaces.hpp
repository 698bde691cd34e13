#pragma once
// Helpers for tests of search spaces: the registry of the plugins built with narrow, counting
// ops, and the MACs LibTorch's real layers perform.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "narrow/architecture.hpp"
#include "engine/builder.hpp"
#include "run/loader.hpp"
#include "narrow/registry.hpp"

namespace narrow::test {

/// The registry with every plugin of the build's plugin folder, loaded once.
inline Registry& registry() {
  static Registry reg;
  static bool loaded = [] {
    PluginLoader(reg).load_path(std::string(std::getenv("NARROW_BUILD_DIR")) +
                                "/lib/narrow/plugins");
    return true;
  }();
  (void)loaded;
  return reg;
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

}  // namespace narrow::test
