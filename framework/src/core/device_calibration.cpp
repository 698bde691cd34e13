// The calibration of a measuring device: draw, measure, fit, test, write (see the header).
#include "core/device_calibration.hpp"

#include <algorithm>
#include <cmath>
#include <ostream>
#include <set>

#include <fmt/format.h>

#include "narrow/errors.hpp"
#include "narrow/hash.hpp"
#include "narrow/output_file.hpp"
#include "narrow/progress.hpp"
#include "narrow/random.hpp"

namespace narrow {

namespace {

/// A candidate: which law of its space, which draw; its MACs decide whether it is measured.
struct Candidate {
  std::size_t law = 0;
  std::uint64_t index = 0;
  std::string hash;
  Metrics metrics;
};

double log_macs(const Metrics& m) {
  return std::log(double(std::max<std::int64_t>(1, m.macs)));
}

/// From candidates in no particular order, `count` whose log-MACs spread evenly over the
/// candidates' range: for each of `count` evenly spaced targets, the nearest candidate not yet
/// taken. Deterministic.
std::vector<std::size_t> spread_by_macs(const std::vector<Candidate>& candidates,
                                        std::size_t count) {
  std::vector<std::size_t> chosen;
  if (candidates.empty() || count == 0) return chosen;
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& c : candidates) {
    lo = std::min(lo, log_macs(c.metrics));
    hi = std::max(hi, log_macs(c.metrics));
  }
  std::vector<char> taken(candidates.size(), 0);
  for (std::size_t k = 0; k < count && chosen.size() < candidates.size(); ++k) {
    const double target = lo + (hi - lo) * (double(k) + 0.5) / double(count);
    std::size_t best = candidates.size();
    double best_distance = INFINITY;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      if (taken[i]) continue;
      const double d = std::abs(log_macs(candidates[i].metrics) - target);
      if (d < best_distance) best_distance = d, best = i;
    }
    taken[best] = 1;
    chosen.push_back(best);
  }
  return chosen;
}

/// Candidates per space: draws of every law in turn, kept when their MACs are in range and
/// not seen before. Then options.count spread evenly over log-MACs, shared among the spaces.
std::vector<CalibrationSample> draw_spread(const std::vector<CalibrationSpace>& spaces,
                                           const CalibrationOptions& o,
                                           const std::function<void(const std::string&)>& notice) {
  std::vector<CalibrationSample> samples;
  Progress progress("drawing candidates", spaces.size(), "spaces");
  std::size_t done = 0;
  std::set<std::string> hashes;
  for (std::size_t si = 0; si < spaces.size(); ++si) {
    const CalibrationSpace& cs = spaces[si];
    const std::size_t share = o.count / spaces.size() + (si < o.count % spaces.size() ? 1 : 0);
    const std::uint64_t per_law =
        std::uint64_t(o.pool) * std::max<std::size_t>(share, 1) / cs.laws.size() + 1;
    auto law_seed = [&](std::size_t li) {
      return content_seed(fmt::format("calibrate|{}|{}|{}", o.seed, cs.label, cs.laws[li].name));
    };
    std::vector<Candidate> candidates;
    for (std::size_t li = 0; li < cs.laws.size(); ++li) {
      Sampler sampler(*cs.space, cs.laws[li], law_seed(li), 2000);
      std::vector<SampleRecord> records;
      try {
        records = sampler.draw_many(per_law, o.threads);
      } catch (const InputError&) {
        throw;
      } catch (const Error& e) {
        notice(fmt::format("warning: space '{}': {}; law skipped", cs.label, e.what()));
        continue;
      }
      for (std::uint64_t i = 0; i < records.size(); ++i) {
        const auto& r = records[i];
        if (double(r.metrics.macs) < o.min_macs || double(r.metrics.macs) > o.max_macs) continue;
        if (!hashes.insert(r.hash).second) continue;
        candidates.push_back(Candidate{li, i, r.hash, r.metrics});
      }
    }
    if (candidates.empty())
      throw InputError(fmt::format(
          "space '{}' drew no architecture with {}..{} MACs in {} draws; widen --min-macs / "
          "--max-macs or give restricted laws with --experiment",
          cs.label, o.min_macs_text, o.max_macs_text, per_law * cs.laws.size()));
    if (candidates.size() < share)
      notice(fmt::format("warning: space '{}' has only {} distinct candidates for {} wanted",
                         cs.label, candidates.size(), share));
    for (std::size_t k : spread_by_macs(candidates, share)) {
      const Candidate& c = candidates[k];
      Sampler sampler(*cs.space, cs.laws[c.law], law_seed(c.law), 2000);
      CalibrationSample s;
      s.space = cs.label;
      s.law = cs.laws[c.law].name;
      s.hash = c.hash;
      s.metrics = c.metrics;
      s.arch = sampler.draw(c.index).architecture;
      s.features = latency_features(s.arch, o.features);
      samples.push_back(std::move(s));
    }
    progress.update(++done);
  }
  return samples;
}

/// Measures every sample on `device`, the smallest first (a progress bar whose rate means
/// something early on).
void measure(Device& device, std::vector<CalibrationSample>& samples, std::size_t space_count,
             const LatencyOptions& options, const CalibrationOptions& o,
             const std::function<void(const std::string&)>& notice) {
  std::vector<std::size_t> order(samples.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return samples[a].metrics.macs < samples[b].metrics.macs;
  });
  notice(fmt::format(
      "calibrate: {} architectures from {} space{} on device '{}' ({} thread{}, {} runs each)",
      samples.size(), space_count, space_count == 1 ? "" : "s", o.device_name, options.threads,
      options.threads == 1 ? "" : "s", options.runs));
  Progress progress("measuring", samples.size(), "architectures");
  std::size_t done = 0;
  for (std::size_t i : order) {
    samples[i].latency = device.measure(samples[i].arch, options);
    progress.update(++done);
  }
  progress.finish();
}

/// Marks the held-out samples: a seeded shuffle, so the split does not follow the MACs order.
void split(std::vector<CalibrationSample>& samples, std::size_t held_out, std::uint64_t seed) {
  const std::size_t n = samples.size();
  std::vector<std::size_t> shuffled(n);
  for (std::size_t i = 0; i < n; ++i) shuffled[i] = i;
  Rng rng = stream_rng(content_seed(fmt::format("calibrate|{}|split", seed)), 0);
  for (std::size_t i = n; i > 1; --i) std::swap(shuffled[i - 1], shuffled[std::size_t(rng() % i)]);
  for (std::size_t k = 0; k < held_out; ++k) samples[shuffled[k]].held_out = true;
}

/// Fits the model on the samples not held out, predicts every sample, and fills the
/// statistics of the outcome.
void fit(CalibrationOutcome& out, const CalibrationOptions& o,
         const std::function<void(const std::string&)>& notice) {
  const bool layered = o.fit == "layers";
  // The whole-network fit: the model itself with "totals", the baseline beside the layered fit.
  out.baseline_features = layered ? default_latency_features() : o.features;
  std::vector<std::vector<double>> x_train, seconds_train;
  std::vector<std::vector<LayerFeatures>> layer_rows;
  std::vector<double> y_train;
  for (const auto& s : out.samples) {
    if (s.held_out) continue;
    x_train.push_back(layered ? latency_features(s.arch, out.baseline_features) : s.features);
    y_train.push_back(s.latency.mean);
    if (layered) {
      layer_rows.push_back(layer_latency_features(fold_batchnorm(s.arch)));
      seconds_train.push_back(s.latency.layer_seconds);
    }
  }
  Calibration& cal = out.calibration;
  const LatencyModel baseline = LatencyModel::fit(out.baseline_features, x_train, y_train);
  std::vector<std::string> unseen;
  cal.model = layered ? LatencyModel::fit_layers(layer_rows, seconds_train, y_train, &unseen)
                      : baseline;
  cal.fit = o.fit;
  std::vector<double> p_train, m_train, p_held, m_held, b_held, cvs;
  for (auto& s : out.samples) {
    s.predicted = cal.model.predict(s.features);
    (s.held_out ? p_held : p_train).push_back(s.predicted);
    (s.held_out ? m_held : m_train).push_back(s.latency.mean);
    if (s.held_out)
      b_held.push_back(layered ? baseline.predict(latency_features(s.arch, out.baseline_features))
                               : s.predicted);
    cvs.push_back(s.latency.cv);
    out.repeated += s.latency.repeats > 0;
    out.noisy += s.latency.noisy;
  }
  out.baseline_held_out = FitStatistics::of(b_held, m_held);
  for (const auto& kind : unseen)
    notice(fmt::format("warning: no calibration architecture has a {} layer; such layers are "
                       "predicted to take no time (draw from spaces that have them)",
                       kind));
  cal.samples = std::int64_t(out.samples.size());
  cal.training = FitStatistics::of(p_train, m_train);
  cal.held_out = FitStatistics::of(p_held, m_held);
  cal.noise_cv_median = median_of(std::move(cvs));
}

/// Every measured architecture as CSV: the data behind Scheidegger et al.'s Figure 2.
void write_csv(const std::string& path, const std::vector<CalibrationSample>& samples) {
  OutputFile file(path, "CSV file");
  std::ostream& out = file.stream();
  out << "space,law,hash,params,macs,flops,layers,activation_peak_bytes,latency_mean_s,"
         "latency_median_s,latency_cv,repeats,held_out,predicted_s\n";
  for (const auto& s : samples) {
    const auto& m = s.metrics;
    out << fmt::format("{},{},{},{},{},{},{},{},{:.9g},{:.9g},{:.6g},{},{},{:.9g}\n", s.space,
                       s.law, s.hash, m.params, m.macs, m.flops, m.layers,
                       m.activation_peak_bytes, s.latency.mean, s.latency.median, s.latency.cv,
                       s.latency.repeats, s.held_out ? 1 : 0, s.predicted);
  }
  file.commit();
}

}  // namespace

std::size_t minimum_fit_samples(const CalibrationOptions& options) {
  return options.fit == "layers" ? layer_kinds().size() + 1 : options.features.size();
}

CalibrationOutcome calibrate_device(Device* device, const std::vector<CalibrationSpace>& spaces,
                                    const CalibrationOptions& o) {
  std::function<void(const std::string&)> notice = o.notice;
  if (!notice) notice = [](const std::string& line) { fmt::print(stderr, "{}\n", line); };
  const bool layered = o.fit == "layers";
  CalibrationOutcome out;
  Calibration& cal = out.calibration;
  if (!o.measurements.empty()) {
    out.samples = load_measurements(o.measurements, o.features, cal.device, cal.options,
                                    cal.spaces);
  } else {
    if (!device) throw Error("calibrate_device: no device to measure on");
    for (const auto& s : spaces) cal.spaces.push_back(s.label);
    out.samples = draw_spread(spaces, o, notice);
    cal.device = device->description();
    cal.options = device->latency_options();
    cal.options.layers = layered;
    measure(*device, out.samples, spaces.size(), cal.options, o, notice);
  }
  if (layered)
    for (const auto& s : out.samples)
      if (s.latency.layer_seconds.empty())
        throw InputError(fmt::format(
            "the measurements {} have no layer times (measured without them); use --fit totals",
            o.measurements.empty() ? "of the device" : "of '" + o.measurements + "'"));
  const std::size_t n = out.samples.size();
  const std::size_t needed = minimum_fit_samples(o);
  out.held_out = std::size_t(std::llround(double(n) * o.held_out));
  if (out.held_out < 1 || n < out.held_out + needed)
    throw InputError(fmt::format(
        "{} distinct architectures are too few for the {} fit ({} to fit) and its test; raise "
        "--count or --pool, or widen the MACs range",
        n, o.fit, needed));
  if (!o.save_measurements.empty())
    save_measurements(o.save_measurements, out.samples, cal.device, cal.options);

  split(out.samples, out.held_out, o.seed);
  fit(out, o, notice);
  cal.seed = o.seed;
  cal.date = utc_timestamp();
  cal.save(o.out);
  if (!o.csv.empty()) write_csv(o.csv, out.samples);
  return out;
}

}  // namespace narrow
