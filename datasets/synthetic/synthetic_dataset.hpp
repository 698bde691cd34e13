#pragma once
// Dataset `synthetic`: seeded images of any shape and class count, for tests and smoke runs.
// Each class has a fixed prototype: a coarse grid of at most 4 x 4 cells per channel, each cell
// a uniform random grey level (from the seed), blown up to the image size. A sample is its
// class's prototype plus Gaussian noise, clipped to [0, 1]. Sample i of a split has class
// i mod classes and its own random stream, so the data do not depend on threads or order.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "narrow/dataset.hpp"

namespace narrow::datasets {

class SyntheticDataset final : public Dataset {
 public:
  /// Parameters: channels, height, width, classes, train, test, noise, seed.
  explicit SyntheticDataset(const Parameters& p);
  static ParamSchema schema();

  /// Generates both sets; reads no file.
  RawDataset read() const override;
  /// The shapes and counts of the parameters; generates nothing.
  DatasetDescription describe() const override;

 private:
  std::size_t image_size() const { return std::size_t(channels_ * height_ * width_); }
  /// Every class's prototype, one image each, in class order.
  std::vector<float> make_prototypes() const;
  /// `count` samples of the random stream `stream` into `s`.
  void fill(ImageSet& s, std::int64_t count, std::uint64_t stream,
            const std::vector<float>& prototypes) const;

  std::int64_t channels_, height_, width_, classes_, train_, test_;
  double noise_;
  std::uint64_t seed_;
};

}  // namespace narrow::datasets
