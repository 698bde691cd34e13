// The generator of the synthetic dataset plugin (synthetic_dataset.hpp), with narrow's own
// random streams and arithmetic: the same images on every platform.
#include "synthetic_dataset.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "narrow/random.hpp"

namespace narrow::datasets {

namespace {

// Streams under the seed: prototypes, training samples, test samples.
constexpr std::uint64_t prototype_stream = 1ULL << 40;
constexpr std::uint64_t train_stream = 2ULL << 40;
constexpr std::uint64_t test_stream = 3ULL << 40;

/// Uniform in [0, 1), 53 bits.
double uniform(Rng& rng) {
  return double(rng() >> 11) * 0x1.0p-53;
}

/// Standard normal (Box-Muller), with narrow's own arithmetic: the same on every platform's
/// standard library.
double normal(Rng& rng) {
  const double u1 = 1.0 - uniform(rng);  // (0, 1]
  const double u2 = uniform(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

}  // namespace

ParamSchema SyntheticDataset::schema() {
  return {
      ParamSpec::integer("channels", 1, 1, 64, "channels of each image"),
      ParamSpec::integer("height", 8, 1, 1024, "height of each image in pixels"),
      ParamSpec::integer("width", 8, 1, 1024, "width of each image in pixels"),
      ParamSpec::integer("classes", 4, 2, 1000, "number of classes"),
      ParamSpec::integer("train", 512, 1, 10'000'000, "training images"),
      ParamSpec::integer("test", 128, 1, 10'000'000, "test images"),
      ParamSpec::real("noise", 0.5, 0.0, 10.0,
                      "standard deviation of the Gaussian noise on each pixel"),
      ParamSpec::integer("seed", 1, 0, std::int64_t(1) << 53,
                         "seed of the prototypes and the samples"),
  };
}

SyntheticDataset::SyntheticDataset(const Parameters& p)
    : channels_(p.integer("channels")),
      height_(p.integer("height")),
      width_(p.integer("width")),
      classes_(p.integer("classes")),
      train_(p.integer("train")),
      test_(p.integer("test")),
      noise_(p.real("noise")),
      seed_(std::uint64_t(p.integer("seed"))) {}

RawDataset SyntheticDataset::read() const {
  RawDataset raw;
  raw.name = "synthetic";
  raw.classes = classes_;
  const auto prototypes = make_prototypes();
  fill(raw.train, train_, train_stream, prototypes);
  fill(raw.test, test_, test_stream, prototypes);
  return raw;
}

DatasetDescription SyntheticDataset::describe() const {
  return DatasetDescription{"synthetic", classes_,
                            ImageSetShape{train_, channels_, height_, width_},
                            ImageSetShape{test_, channels_, height_, width_}};
}

std::vector<float> SyntheticDataset::make_prototypes() const {
  const std::int64_t gh = std::min<std::int64_t>(height_, 4);
  const std::int64_t gw = std::min<std::int64_t>(width_, 4);
  std::vector<float> out(std::size_t(classes_) * image_size());
  std::vector<double> grid(std::size_t(gh * gw));
  for (std::int64_t c = 0; c < classes_; ++c) {
    Rng rng = stream_rng(seed_, prototype_stream + std::uint64_t(c));
    float* proto = out.data() + std::size_t(c) * image_size();
    for (std::int64_t k = 0; k < channels_; ++k) {
      for (double& g : grid) g = uniform(rng);
      for (std::int64_t y = 0; y < height_; ++y)
        for (std::int64_t x = 0; x < width_; ++x)
          proto[(k * height_ + y) * width_ + x] =
              float(grid[std::size_t((y * gh / height_) * gw + x * gw / width_)]);
    }
  }
  return out;
}

void SyntheticDataset::fill(ImageSet& s, std::int64_t count, std::uint64_t stream,
                            const std::vector<float>& prototypes) const {
  s.channels = channels_;
  s.height = height_;
  s.width = width_;
  s.labels.resize(std::size_t(count));
  s.pixels.resize(std::size_t(count) * image_size());
  for (std::int64_t i = 0; i < count; ++i) {
    const auto label = std::int32_t(i % classes_);
    s.labels[std::size_t(i)] = label;
    Rng rng = stream_rng(seed_, stream + std::uint64_t(i));
    const float* proto = prototypes.data() + std::size_t(label) * image_size();
    float* dst = s.pixels.data() + std::size_t(i) * image_size();
    for (std::size_t k = 0; k < image_size(); ++k)
      dst[k] = float(std::clamp(double(proto[k]) + noise_ * normal(rng), 0.0, 1.0));
  }
}

}  // namespace narrow::datasets
