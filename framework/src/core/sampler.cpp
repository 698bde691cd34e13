#include "narrow/sampler.hpp"

#include <atomic>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "narrow/errors.hpp"
#include "narrow/parallel.hpp"

namespace narrow {

std::string_view draw_status_name(DrawStatus s) {
  switch (s) {
    case DrawStatus::accepted:
      return "accepted";
    case DrawStatus::rejected:
      return "rejected";
    case DrawStatus::invalid:
      return "invalid";
  }
  // A value outside the enumeration: a name the store's CHECK constraint refuses.
  return "unknown";
}

Draw assess(const SearchSpace& space, Assignment assignment, const Constraints& constraints) {
  Draw d;
  d.assignment = std::move(assignment);
  if (!space.try_build(d.assignment, d.architecture, d.reason)) return d;
  try {
    d.architecture.finalize();
  } catch (const InvalidArchitecture& e) {
    d.reason = e.what();
    return d;
  }
  d.metrics = analyse(d.architecture);
  d.hash = d.architecture.hash();
  d.json = d.architecture.to_json_string();
  if (const Constraint* c = constraints.violated(d.metrics, &d.architecture, &d.latency)) {
    d.status = DrawStatus::rejected;
    d.reason = Constraints::describe(*c, d.metrics, d.latency);
  } else {
    d.status = DrawStatus::accepted;
  }
  return d;
}

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
  parallel_chunks(count, 256, threads, [&](std::uint64_t begin, std::uint64_t end) {
    for (std::uint64_t i = begin; i != end; ++i) {
      auto s = draw(i);
      out[i] = SampleRecord{s.architecture.hash(), s.metrics, s.rejected};
    }
    auto d = done.fetch_add(end - begin) + (end - begin);
    if (progress) {
      std::unique_lock lock(progress_mutex, std::try_to_lock);
      if (lock.owns_lock()) progress(d);
    }
  });
  return out;
}

std::vector<Draw> Sampler::draw_batch(std::uint64_t first, std::uint64_t count,
                                      const Constraints& constraints, int threads) const {
  std::vector<Draw> out(count);
  parallel_chunks(count, 16, threads, [&](std::uint64_t begin, std::uint64_t end) {
    for (std::uint64_t i = begin; i != end; ++i) {
      auto rng = stream(seed_, first + i);
      out[i] = assess(space_, space_.draw(law_, rng), constraints);
    }
  });
  return out;
}

}  // namespace narrow
