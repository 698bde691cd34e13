#pragma once
#include <string>
#include <vector>

#include "narrow/parameters.hpp"
#include "narrow/space.hpp"
#include "narrow/space_kit.hpp"

namespace narrow::spaces {

/// Depthwise-separable stacks in the style of MobileNetV1 (Howard et al. 2017): a stem
/// convolution, then stages of blocks made of a 3x3 depthwise convolution and a 1x1 pointwise
/// convolution, each followed by batch norm and ReLU (or ReLU6); every stage has its width,
/// block count and the stride of its first block; a width multiplier scales every width.
/// Global average pooling, optional dropout and a linear classifier end the network. The
/// depth variable `stages` enables the per-stage variables. It contains a MobileNetV1 for
/// 32x32 inputs and the MLPerf Tiny keyword-spotting DS-CNN.
class MobileNetSpace final : public SearchSpace {
 public:
  explicit MobileNetSpace(const Parameters& p);
  static ParamSchema schema();

  const std::vector<Variable>& variables() const override { return vars_; }
  Architecture build(const Assignment& a) const override { return build_or_throw(*this, a); }
  bool try_build(const Assignment& a, Architecture& out, std::string& reason) const override;
  std::vector<std::string> references() const override;
  Assignment reference(const std::string& name) const override;

 private:
  struct StageVars {
    std::size_t blocks, width, stride;
  };
  Shape input_;
  std::int64_t classes_;
  std::size_t stages_ = 0, width_mult_ = 1, activation_ = 2, stem_kernel_ = 3, stem_stride_ = 4,
              stem_width_ = 5, dropout_ = 6;
  std::vector<StageVars> stage_;
  std::vector<Variable> vars_;
};

}  // namespace narrow::spaces
