#pragma once
// Parallel loops for strategies and the sampler: one place that sets up TBB, so that no
// strategy builds task arenas of its own.
#include <cstdint>
#include <functional>

#include "narrow/export.hpp"

namespace narrow {

/// Calls work(begin, end) for chunks that together cover [0, count), each of at most `grain`
/// indices, on `threads` threads (a TBB task arena of that size; more than the cores is
/// allowed). Chunks run at once in any order: results must not depend on which thread runs a
/// chunk or when. The first exception thrown by `work` is rethrown once running chunks end.
NARROW_API void parallel_chunks(std::uint64_t count, std::uint64_t grain, int threads,
                                const std::function<void(std::uint64_t, std::uint64_t)>& work);

}  // namespace narrow
