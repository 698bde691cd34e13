#pragma once
#include <string>
#include <vector>

#include "narrow/parameters.hpp"
#include "narrow/space.hpp"
#include "narrow/space_kit.hpp"

namespace narrow::spaces {

/// CIFAR-style residual networks (He et al. 2016): a 3x3 stem, then stages of basic or
/// bottleneck residual blocks, each stage with its own width and block count, the first block
/// of every stage after the first with stride 2; global average pooling and a linear
/// classifier. The depth variable `stages` enables the per-stage variables. It contains
/// ResNet-8 (MLPerf Tiny), ResNet-20 and ResNet-56.
class ResNetSpace final : public SearchSpace {
 public:
  explicit ResNetSpace(const Parameters& p);
  static ParamSchema schema();

  const std::vector<Variable>& variables() const override { return vars_; }
  Architecture build(const Assignment& a) const override { return build_or_throw(*this, a); }
  bool try_build(const Assignment& a, Architecture& out, std::string& reason) const override;
  std::vector<std::string> references() const override;
  Assignment reference(const std::string& name) const override;

 private:
  struct StageVars {
    std::size_t blocks, width;
  };
  Shape input_;
  std::int64_t classes_;
  std::size_t stages_ = 0, block_ = 1, shortcut_ = 2, stem_width_ = 3;
  std::vector<StageVars> stage_;
  std::vector<Variable> vars_;
};

}  // namespace narrow::spaces
