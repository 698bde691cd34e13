#pragma once
#include <string>
#include <vector>

#include "narrow/parameters.hpp"
#include "narrow/space.hpp"
#include "narrow/space_kit.hpp"

namespace narrow::spaces {

/// GoogLeNet-style networks for small images (Szegedy et al. 2015): a 3x3 stem convolution,
/// stages of Inception modules with 3x3/2 max pooling between stages, then global average
/// pooling and a linear classifier. A module concatenates four branches: 1x1; 1x1 reduce then
/// 3x3; 1x1 reduce then 5x5 (or two 3x3); 3x3 max pooling then a 1x1 projection; every
/// convolution is followed by batch norm and ReLU. The branch widths are variables per stage
/// (the modules of a stage are alike), as are the number of stages and of modules per stage.
class InceptionSpace final : public SearchSpace {
 public:
  explicit InceptionSpace(const Parameters& p);
  static ParamSchema schema();

  const std::vector<Variable>& variables() const override { return vars_; }
  Architecture build(const Assignment& a) const override { return build_or_throw(*this, a); }
  bool try_build(const Assignment& a, Architecture& out, std::string& reason) const override;
  std::vector<std::string> references() const override;
  Assignment reference(const std::string& name) const override;

 private:
  struct StageVars {
    std::size_t modules, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj;
  };
  Shape input_;
  std::int64_t classes_;
  std::size_t stages_ = 0, stem_ = 1, branch5_ = 2;
  std::vector<StageVars> stage_;
  std::vector<Variable> vars_;
};

}  // namespace narrow::spaces
