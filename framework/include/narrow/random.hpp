#pragma once
#include <cstdint>

#include <pcg_random.hpp>

namespace narrow {

/// The random engine of narrow: PCG (O'Neill 2014), 64-bit output, small state, cheap to
/// create, so that every unit of work can own a stream derived from the experiment's seed.
using Rng = pcg64;

/// SplitMix64 finaliser: spreads a 64-bit value over the whole range.
inline std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// The stream of unit `index` under `seed`: independent of any other (seed, index).
inline Rng stream_rng(std::uint64_t seed, std::uint64_t index) {
  return Rng(mix64(seed ^ 0x5851f42d4c957f2dULL), mix64(index + 0x632be59bd9b4e019ULL));
}

}  // namespace narrow
