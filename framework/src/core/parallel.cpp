#include "narrow/parallel.hpp"

#include <algorithm>

#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

namespace narrow {

void parallel_chunks(std::uint64_t count, std::uint64_t grain, int threads,
                     const std::function<void(std::uint64_t, std::uint64_t)>& work) {
  if (count == 0) return;
  const int n = std::max(1, threads);
  // Allow as many workers as asked for, even above the core count (TBB caps it otherwise).
  tbb::global_control allow(tbb::global_control::max_allowed_parallelism, std::size_t(n));
  tbb::task_arena arena(n);
  arena.execute([&] {
    // The simple partitioner splits every range down to `grain`, as documented.
    tbb::parallel_for(
        tbb::blocked_range<std::uint64_t>(0, count, std::max<std::uint64_t>(1, grain)),
        [&](const tbb::blocked_range<std::uint64_t>& r) { work(r.begin(), r.end()); },
        tbb::simple_partitioner());
  });
}

}  // namespace narrow
