#pragma once
#include <string>
#include <vector>

#include "narrow/parameters.hpp"
#include "narrow/space.hpp"
#include "narrow/space_kit.hpp"

namespace narrow::spaces {

/// Plain convolutional stacks (Chan et al. §3.2): conv layers, each followed by optional batch
/// norm, ReLU and optional pooling, then fully-connected layers with ReLU, then a linear
/// classifier. The depth variables `conv_layers` and `fc_layers` enable the per-layer
/// variables. It contains the three-layer space of Scheidegger et al. Figure 1.
class SequentialSpace final : public SearchSpace {
 public:
  explicit SequentialSpace(const Parameters& p);
  static ParamSchema schema();

  const std::vector<Variable>& variables() const override { return vars_; }
  Architecture build(const Assignment& a) const override { return build_or_throw(*this, a); }
  bool try_build(const Assignment& a, Architecture& out, std::string& reason) const override;
  std::vector<std::string> references() const override;
  Assignment reference(const std::string& name) const override;

 private:
  struct ConvVars {
    std::size_t filters, kernel_h, kernel_w, stride_h, stride_w, padding, pool_h, pool_w, pool_type;
  };
  Shape input_;
  std::int64_t classes_;
  std::size_t conv_layers_ = 0, fc_layers_ = 1, batchnorm_ = 2;
  std::vector<ConvVars> conv_;
  std::vector<std::size_t> fc_;
  std::vector<Variable> vars_;
};

}  // namespace narrow::spaces
