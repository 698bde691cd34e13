#include "host_device.hpp"

#include <fmt/format.h>

#include "narrow/errors.hpp"
#include "narrow/units.hpp"

namespace narrow::devices {

ParamSchema HostDevice::schema() {
  const LatencyOptions d;
  return {
      ParamSpec::integer("runs", d.runs, 1, 100000, "timed runs; the latency is their mean"),
      ParamSpec::integer("warmup", d.warmup, 0, 100000, "untimed runs before the timed ones"),
      ParamSpec::integer("threads", d.threads, 1, 1024, "LibTorch intra-op threads"),
      ParamSpec::real("max_cv", d.max_cv, 0, 10,
                      "repeat a measurement whose coefficient of variation is above this"),
      ParamSpec::integer("max_repeats", d.max_repeats, 0, 1000,
                         "at most this many repetitions of a noisy measurement"),
      ParamSpec::string("min_run_time", "1ms",
                        "a timed run lasts at least this long (fast models run several times "
                        "inside one run); a time such as 1ms, 250us, 0"),
      ParamSpec::choice("clock", d.clock, {"wall", "thread_cpu"},
                        "wall: elapsed time; thread_cpu: the measuring thread's CPU time, "
                        "which leaves out waits for a core on a busy machine (threads 1)"),
  };
}

HostDevice::HostDevice(const Parameters& p) : parameters_(p) {
  options_.runs = int(p.integer("runs"));
  options_.warmup = int(p.integer("warmup"));
  options_.threads = int(p.integer("threads"));
  options_.max_cv = p.real("max_cv");
  options_.max_repeats = int(p.integer("max_repeats"));
  Quantity q;
  std::string error;
  const std::string& text = p.string("min_run_time");
  if (!parse_quantity(text, q, error))
    throw InputError(fmt::format("'min_run_time' '{}': {}", text, error));
  if (!q.plain && q.dimension != Dimension::seconds)
    throw InputError(fmt::format("'min_run_time' '{}' is not a time (use s, ms, us)", text));
  if (q.value < 0 || q.value > 60)
    throw InputError(fmt::format("'min_run_time' '{}' must be within 0..60s", text));
  options_.min_run_seconds = q.value;
  options_.clock = p.string("clock");
  if (options_.clock == "thread_cpu" && options_.threads != 1)
    throw InputError(fmt::format("'clock' thread_cpu needs 'threads' 1, not {}",
                                 options_.threads));
}

nlohmann::json HostDevice::description() const {
  return {{"name", name()},
          {"parameters", parameter_texts(parameters_)},
          {"cpu", host_cpu_model()},
          {"threads", options_.threads},
          {"clock", options_.clock},
          {"ram_bytes", ram_bytes()}};
}

std::int64_t HostDevice::ram_bytes() const {
  return host_memory_bytes();
}

LatencyMeasurement HostDevice::measure(const Architecture& arch, const LatencyOptions& options) {
  return measure_on_this_cpu(arch, options);
}

}  // namespace narrow::devices
