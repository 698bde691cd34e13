#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "narrow/architecture.hpp"
#include "narrow/constraints.hpp"
#include "narrow/export.hpp"
#include "narrow/metrics.hpp"
#include "narrow/space.hpp"

namespace narrow {

/// What a single draw came to: an invalid assignment (the space cannot build it), an
/// architecture the constraints reject, or an accepted one.
enum class DrawStatus { accepted, rejected, invalid };
NARROW_API std::string_view draw_status_name(DrawStatus s);

/// One single draw of a batch (an invalid draw is not drawn again).
struct NARROW_API Draw {
  DrawStatus status = DrawStatus::invalid;
  Assignment assignment;
  Architecture architecture;  // finalized; empty when invalid
  std::string hash, json;     // the architecture's content hash and canonical JSON
  Metrics metrics;
  std::string reason;         // why it is invalid or rejected; empty when accepted
  double latency = 0;         // predicted seconds when the constraints bound latency
};

/// An assignment built by `space`, finalized, analysed and checked against `constraints`:
/// what a single draw, or a move of adaptive search, comes to.
NARROW_API Draw assess(const SearchSpace& space, Assignment assignment,
                       const Constraints& constraints);

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

  /// Single draws `first` .. `first + count - 1` (draw i from stream(seed, i), no retry of
  /// invalid ones), each valid one checked against `constraints`, on `threads` threads, in
  /// index order: what constrained random sampling (Chan et al. Algorithm I) stores.
  std::vector<Draw> draw_batch(std::uint64_t first, std::uint64_t count,
                               const Constraints& constraints, int threads) const;

 private:
  const SearchSpace& space_;
  SamplingLaw law_;
  std::uint64_t seed_;
  std::int64_t max_rejections_;
};

}  // namespace narrow
