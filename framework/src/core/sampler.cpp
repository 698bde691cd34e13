#include "narrow/sampler.hpp"

#include <atomic>
#include <mutex>

#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "narrow/errors.hpp"

namespace narrow {

Sampler::Sampler(const SearchSpace& space, SamplingLaw law, std::uint64_t seed,
                 std::int64_t max_rejections_in_a_row)
    : space_(space), law_(std::move(law)), seed_(seed), max_rejections_(max_rejections_in_a_row) {
  space_.check_law(law_);
}

Rng Sampler::stream(std::uint64_t seed, std::uint64_t index) {
  return stream_rng(seed, index);
}

SampledArchitecture Sampler::draw(std::uint64_t index) const {
  auto rng = stream(seed_, index);
  SampledArchitecture s;
  s.index = index;
  std::string last_reason;
  for (;;) {
    s.assignment = space_.draw(law_, rng);
    try {
      if (!space_.try_build(s.assignment, s.architecture, last_reason)) {
        if (++s.rejected >= max_rejections_) break;
        continue;
      }
      s.architecture.finalize();
      s.metrics = analyse(s.architecture);
      return s;
    } catch (const InvalidArchitecture& e) {
      last_reason = e.what();
    }
    if (++s.rejected >= max_rejections_) break;
  }
  throw Error(fmt::format("law '{}' drew {} invalid architectures in a row; last reason: {}",
                          law_.name, s.rejected, last_reason));
}

std::vector<SampleRecord> Sampler::draw_many(
    std::uint64_t count, int threads, const std::function<void(std::uint64_t)>& progress) const {
  std::vector<SampleRecord> out(count);
  std::atomic<std::uint64_t> done{0};
  std::mutex progress_mutex;
  // Allow as many workers as asked for, even above the core count (TBB caps it otherwise).
  tbb::global_control allow(tbb::global_control::max_allowed_parallelism,
                            std::size_t(std::max(1, threads)));
  tbb::task_arena arena(std::max(1, threads));
  arena.execute([&] {
    tbb::parallel_for(tbb::blocked_range<std::uint64_t>(0, count, 256), [&](const auto& r) {
      for (std::uint64_t i = r.begin(); i != r.end(); ++i) {
        auto s = draw(i);
        out[i] = SampleRecord{s.architecture.hash(), s.metrics, s.rejected};
      }
      auto d = done.fetch_add(r.size()) + r.size();
      if (progress) {
        std::unique_lock lock(progress_mutex, std::try_to_lock);
        if (lock.owns_lock()) progress(d);
      }
    });
  });
  return out;
}

}  // namespace narrow
