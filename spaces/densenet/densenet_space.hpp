#pragma once
#include <string>
#include <vector>

#include "narrow/parameters.hpp"
#include "narrow/space.hpp"
#include "narrow/space_kit.hpp"

namespace narrow::spaces {

/// DenseNets for small images (Huang et al. 2017, the CIFAR variants): a 3x3 stem convolution,
/// dense blocks whose layers each concatenate k new feature maps to their input, transitions
/// (BN-ReLU-conv1x1 with compression, 2x2 average pooling) between blocks, then BN-ReLU,
/// global average pooling and a linear classifier. Variables: the number of blocks, the
/// layers of each block, the growth rate k, bottleneck layers (DenseNet-BC) or not, the
/// compression and the stem width. It contains DenseNet-40 (k=12) and DenseNet-BC-100 (k=12).
class DenseNetSpace final : public SearchSpace {
 public:
  explicit DenseNetSpace(const Parameters& p);
  static ParamSchema schema();

  const std::vector<Variable>& variables() const override { return vars_; }
  Architecture build(const Assignment& a) const override { return build_or_throw(*this, a); }
  bool try_build(const Assignment& a, Architecture& out, std::string& reason) const override;
  std::vector<std::string> references() const override;
  Assignment reference(const std::string& name) const override;

 private:
  Shape input_;
  std::int64_t classes_;
  std::size_t blocks_ = 0, growth_ = 1, bottleneck_ = 2, compression_ = 3, stem_ = 4;
  std::vector<std::size_t> layers_;  // block<i>.layers, i = 1..max_blocks
  std::vector<Variable> vars_;
};

}  // namespace narrow::spaces
