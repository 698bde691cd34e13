// Batch-norm folding: the network as inference runs it (declared in narrow/architecture.hpp).
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "narrow/architecture.hpp"

namespace narrow {

std::vector<int> batchnorm_folds(const Architecture& arch) {
  const auto& layers = arch.layers();
  const std::size_t n = layers.size();
  std::vector<int> readers(n, 0);
  for (std::size_t i = 0; i < n; ++i)
    for (int j : arch.input_indices(i))
      if (j >= 0) ++readers[std::size_t(j)];
  std::vector<int> folds(n, -1);
  for (std::size_t i = 0; i < n; ++i) {
    if (layers[i].op != Op::batchnorm || arch.input_indices(i).size() != 1) continue;
    const int j = arch.input_indices(i).front();
    if (j >= 0 && layers[std::size_t(j)].op == Op::conv2d && readers[std::size_t(j)] == 1 &&
        std::size_t(j) != arch.output_index())
      folds[i] = j;
  }
  return folds;
}

Architecture fold_batchnorm(const Architecture& source) {
  Architecture arch = source;
  if (!arch.finalized()) arch.finalize();
  const auto& layers = arch.layers();
  const std::size_t n = layers.size();
  // Which batch norms disappear, and the convolution that takes each one's place.
  const std::vector<int> folds = batchnorm_folds(arch);
  std::map<std::string, std::string> replaced;
  std::vector<char> gains_bias(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    if (folds[i] < 0) continue;
    replaced[layers[i].id] = layers[std::size_t(folds[i])].id;
    gains_bias[std::size_t(folds[i])] = 1;
  }
  if (replaced.empty()) return arch;
  Architecture folded(arch.input(), arch.classes());
  folded.reserve(n - replaced.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (replaced.count(layers[i].id)) continue;
    Layer l = layers[i];
    if (gains_bias[i]) l.bias = true;
    for (auto& in : l.inputs)
      if (auto it = replaced.find(in); it != replaced.end()) in = it->second;
    folded.add(std::move(l));
  }
  const auto out = replaced.find(arch.output());
  folded.set_output(out == replaced.end() ? arch.output() : out->second);
  folded.finalize();
  return folded;
}

}  // namespace narrow
