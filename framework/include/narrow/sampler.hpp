#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "narrow/architecture.hpp"
#include "narrow/export.hpp"
#include "narrow/metrics.hpp"
#include "narrow/space.hpp"

namespace narrow {

/// One drawn architecture, finalized and analysed.
struct NARROW_API SampledArchitecture {
  std::uint64_t index = 0;
  Assignment assignment;
  Architecture architecture;
  Metrics metrics;
  std::int64_t rejected = 0;  // invalid draws before this one was accepted
};

/// What draw_many keeps of each architecture.
struct NARROW_API SampleRecord {
  std::string hash;
  Metrics metrics;
  std::int64_t rejected = 0;
};

/// Draws valid architectures from a space under a law. Draw number i uses its own random
/// stream derived from (seed, i), so results depend only on the seed and the index, never on
/// the thread count or the order in which threads finish.
class NARROW_API Sampler {
 public:
  Sampler(const SearchSpace& space, SamplingLaw law, std::uint64_t seed,
          std::int64_t max_rejections_in_a_row = 100000);

  /// The random stream of draw i.
  static Rng stream(std::uint64_t seed, std::uint64_t index);

  /// Draws until a valid architecture comes out. Throws Error after too many invalid draws
  /// in a row, naming the space's law and the last reason.
  SampledArchitecture draw(std::uint64_t index) const;

  /// Draws `count` architectures on `threads` threads (TBB), in index order. `progress` is
  /// called now and then with the number done (from one thread at a time).
  std::vector<SampleRecord> draw_many(
      std::uint64_t count, int threads,
      const std::function<void(std::uint64_t)>& progress = {}) const;

 private:
  const SearchSpace& space_;
  SamplingLaw law_;
  std::uint64_t seed_;
  std::int64_t max_rejections_;
};

}  // namespace narrow
