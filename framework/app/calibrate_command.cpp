// `narrow calibrate`: measures architectures drawn across search spaces on a measuring device,
// fits a latency model on analytical features, reports its error on held-out architectures
// and writes the calibration file and the data behind Scheidegger et al.'s Figure 2.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "command_support.hpp"
#include "commands.hpp"
#include "narrow/architecture.hpp"
#include "narrow/device.hpp"
#include "narrow/latency_model.hpp"
#include "narrow/errors.hpp"
#include "narrow/hash.hpp"
#include "narrow/progress.hpp"
#include "narrow/random.hpp"
#include "narrow/registry.hpp"
#include "narrow/sampler.hpp"
#include "narrow/units.hpp"
#include "run/experiment.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;
using nlohmann::json;

namespace narrow::cli {

namespace {

/// A space to draw from, with its laws.
struct CalibrationSpace {
  std::string label;
  std::shared_ptr<SearchSpace> space;
  std::vector<SamplingLaw> laws;
};

/// A candidate: which space and law, which draw; its MACs decide whether it is measured.
struct Candidate {
  std::size_t space = 0, law = 0;
  std::uint64_t index = 0;
  std::string hash;
  Metrics metrics;
};

/// One measured architecture.
struct Sample {
  std::string space, law;  // where it was drawn
  Candidate from;
  Architecture arch;
  std::vector<double> features;
  LatencyMeasurement latency;
  bool held_out = false;
  double predicted = 0;
};

double count_option(const std::string& text, const char* option) {
  Quantity q;
  std::string error;
  if (!parse_quantity(text, q, error))
    throw InputError(fmt::format("{} '{}': {}", option, text, error));
  if (!q.plain && q.dimension != Dimension::count)
    throw InputError(fmt::format("{} '{}' must be a count such as 300M", option, text));
  if (q.value < 0) throw InputError(fmt::format("{} '{}' must not be negative", option, text));
  return q.value;
}

std::vector<std::string> split_list(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const auto& item : items) {
    std::size_t start = 0;
    while (start <= item.size()) {
      const auto comma = item.find(',', start);
      const std::string part =
          item.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!part.empty()) out.push_back(part);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

/// From candidates sorted by nothing in particular, `count` whose log-MACs spread evenly over
/// the candidates' range: for each of `count` evenly spaced targets, the nearest candidate not
/// yet taken. Deterministic.
std::vector<std::size_t> spread_by_macs(const std::vector<Candidate>& candidates,
                                        std::size_t count) {
  std::vector<std::size_t> chosen;
  if (candidates.empty() || count == 0) return chosen;
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& c : candidates) {
    lo = std::min(lo, std::log(double(std::max<std::int64_t>(1, c.metrics.macs))));
    hi = std::max(hi, std::log(double(std::max<std::int64_t>(1, c.metrics.macs))));
  }
  std::vector<char> taken(candidates.size(), 0);
  for (std::size_t k = 0; k < count && chosen.size() < candidates.size(); ++k) {
    const double target = lo + (hi - lo) * (double(k) + 0.5) / double(count);
    std::size_t best = candidates.size();
    double best_distance = INFINITY;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      if (taken[i]) continue;
      const double d =
          std::abs(std::log(double(std::max<std::int64_t>(1, candidates[i].metrics.macs))) - target);
      if (d < best_distance) best_distance = d, best = i;
    }
    taken[best] = 1;
    chosen.push_back(best);
  }
  return chosen;
}

/// Candidates per space: draws of every law in turn, kept when their MACs are in range and
/// not seen before. Then `count` spread evenly over log-MACs, shared among the spaces.
std::vector<Sample> draw_spread(const std::vector<CalibrationSpace>& spaces, std::size_t count,
                                std::size_t pool, std::uint64_t seed, int threads,
                                double min_macs, double max_macs,
                                const std::string& min_macs_text,
                                const std::string& max_macs_text,
                                const std::vector<std::string>& features) {
  std::vector<Sample> samples;
  Progress progress("drawing candidates", spaces.size(), "spaces");
  std::size_t done = 0;
  std::set<std::string> hashes;
  for (std::size_t si = 0; si < spaces.size(); ++si) {
    const CalibrationSpace& cs = spaces[si];
    const std::size_t share = count / spaces.size() + (si < count % spaces.size() ? 1 : 0);
    const std::uint64_t per_law =
        std::uint64_t(pool) * std::max<std::size_t>(share, 1) / cs.laws.size() + 1;
    auto law_seed = [&](std::size_t li) {
      return content_seed(fmt::format("calibrate|{}|{}|{}", seed, cs.label, cs.laws[li].name));
    };
    std::vector<Candidate> candidates;
    for (std::size_t li = 0; li < cs.laws.size(); ++li) {
      Sampler sampler(*cs.space, cs.laws[li], law_seed(li), 2000);
      std::vector<SampleRecord> records;
      try {
        records = sampler.draw_many(per_law, threads);
      } catch (const InputError&) {
        throw;
      } catch (const Error& e) {
        fmt::print(stderr, "warning: space '{}': {}; law skipped\n", cs.label, e.what());
        continue;
      }
      for (std::uint64_t i = 0; i < records.size(); ++i) {
        const auto& r = records[i];
        if (double(r.metrics.macs) < min_macs || double(r.metrics.macs) > max_macs) continue;
        if (!hashes.insert(r.hash).second) continue;
        candidates.push_back(Candidate{si, li, i, r.hash, r.metrics});
      }
    }
    if (candidates.empty())
      throw InputError(fmt::format(
          "space '{}' drew no architecture with {}..{} MACs in {} draws; widen --min-macs / "
          "--max-macs or give restricted laws with --experiment",
          cs.label, min_macs_text, max_macs_text, per_law * cs.laws.size()));
    if (candidates.size() < share)
      fmt::print(stderr, "warning: space '{}' has only {} distinct candidates for {} wanted\n",
                 cs.label, candidates.size(), share);
    for (std::size_t k : spread_by_macs(candidates, share)) {
      const Candidate& c = candidates[k];
      Sampler sampler(*cs.space, cs.laws[c.law], law_seed(c.law), 2000);
      Sample s;
      s.space = cs.label;
      s.law = cs.laws[c.law].name;
      s.from = c;
      s.arch = sampler.draw(c.index).architecture;
      s.features = latency_features(s.arch, features);
      samples.push_back(std::move(s));
    }
    progress.update(++done);
  }
  return samples;
}

/// Writes a measurements file: a header line with the device and options, then one line per
/// architecture with its space, law, canonical JSON and measurement.
void save_measurements(const std::string& path, const std::vector<Sample>& samples,
                       const json& device, const LatencyOptions& options) {
  std::ofstream out(path);
  if (!out) throw InputError(fmt::format("cannot write measurements file '{}'", path));
  out << json{{"narrow_measurements", 1}, {"device", device}, {"options", options.to_json()}}.dump()
      << "\n";
  for (const auto& s : samples)
    out << json{{"space", s.space},
                {"law", s.law},
                {"architecture", s.arch.to_json()},
                {"latency", s.latency.to_json()}}
               .dump()
        << "\n";
  if (!out) throw Error(fmt::format("writing measurements file '{}' failed", path));
}

/// Reads a measurements file; a bad line is an InputError with the file and line.
std::vector<Sample> load_measurements(const std::string& path,
                                      const std::vector<std::string>& features, json& device,
                                      LatencyOptions& options,
                                      std::vector<std::string>& space_labels) {
  std::ifstream in(path);
  if (!in) throw InputError(fmt::format("cannot read measurements file '{}'", path));
  std::vector<Sample> samples;
  std::set<std::string> seen;
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    const SourceLocation at{path, number};
    try {
      const json j = json::parse(line);
      if (number == 1) {
        if (!j.is_object() || !j.contains("narrow_measurements"))
          throw InputError("not a file of narrow calibrate --save-measurements", at);
        device = j.at("device");
        options = LatencyOptions::from_json(j.at("options"));
        continue;
      }
      Sample s;
      s.space = j.at("space").get<std::string>();
      s.law = j.at("law").get<std::string>();
      s.arch = Architecture::from_json(j.at("architecture"));
      s.from.hash = s.arch.hash();
      s.from.metrics = analyse(s.arch);
      s.latency = LatencyMeasurement::from_json(j.at("latency"));
      if (!(s.latency.mean > 0)) throw InputError("the latency's mean is not positive", at);
      s.features = latency_features(s.arch, features);
      if (seen.insert(s.space).second) space_labels.push_back(s.space);
      samples.push_back(std::move(s));
    } catch (const InputError& e) {
      if (!e.where().empty()) throw;
      throw InputError(e.message(), at);
    } catch (const json::exception& e) {
      throw InputError(fmt::format("not a measurement line: {}", e.what()), at);
    }
  }
  if (number == 0) throw InputError("the measurements file is empty", SourceLocation{path});
  return samples;
}

std::string percent(double share) {
  return fmt::format("{:.1f} %", 100 * share);
}

}  // namespace

int cmd_calibrate(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string device_name = "host", experiment_file, out_file = "calibration.json", csv,
              min_macs_text = "10k", max_macs_text = "300M", save_file, load_file, fit;
  std::vector<std::string> params, space_items, feature_items, paths;
  std::int64_t count = 150, pool = 40;
  std::uint64_t seed = 1;
  double held_out_share = 0.3;
  int threads = default_threads();
  opts.add_options()("help,h", "show this help")(
      "device", po::value(&device_name)->default_value(device_name), "a measuring device")(
      "param", po::value(&params)->composing(), "device parameter NAME=VALUE (repeatable)")(
      "spaces", po::value(&space_items)->multitoken()->composing(),
      "search spaces to draw from (names, comma-separated or repeated; default: every space), "
      "each with its default parameters and the uniform law")(
      "experiment", po::value(&experiment_file),
      "draw from this experiment's spaces instead, with their parameters and laws")(
      "count", po::value(&count)->default_value(count), "architectures to measure")(
      "held-out", po::value(&held_out_share)->default_value(held_out_share, "0.3"),
      "share of the architectures kept out of the fit to measure its error")(
      "min-macs", po::value(&min_macs_text)->default_value(min_macs_text),
      "draw architectures with at least this many MACs")(
      "max-macs", po::value(&max_macs_text)->default_value(max_macs_text),
      "and at most this many (measuring large models takes long)")(
      "pool", po::value(&pool)->default_value(pool),
      "candidates drawn per measured architecture, among which the spread over MACs is chosen")(
      "fit", po::value(&fit),
      "how the latency model is fitted: 'layers' (default; every layer is timed inside the "
      "network and each layer kind gets its own law, see docs/devices.md) or 'totals' (the "
      "networks' latencies against --features)")(
      "features", po::value(&feature_items)->composing(),
      fmt::format("features of a --fit totals model, comma-separated (default: {})",
                  fmt::join(default_latency_features(), ","))
          .c_str())("seed", po::value(&seed)->default_value(seed), "random seed")(
      "threads", po::value(&threads)->default_value(threads), "threads that draw candidates")(
      "out", po::value(&out_file)->default_value(out_file), "the calibration file to write")(
      "csv", po::value(&csv),
      "write every measured architecture (space, params, macs, latency, prediction) as CSV")(
      "save-measurements", po::value(&save_file),
      "also write every architecture with its measurement, one JSON object a line")(
      "measurements", po::value(&load_file),
      "fit on the measurements of such a file (--save-measurements) instead of drawing and "
      "measuring: try other --features without measuring again")(
      "json", "print one JSON object on stdout")(
      "plugins", po::value(&paths)->composing(), "also load plugins from this folder or file");
  po::variables_map vm;
  if (!parse(args, opts, vm,
             "narrow calibrate [--device host] [--param K=V]... [--spaces NAME...]\n"
             "                        [--experiment FILE] [--count N] [--held-out F] "
             "[--out FILE] [--csv FILE] [--json]\n\n"
             "Draws architectures across search spaces, spread over orders of magnitude of "
             "MACs,\nmeasures their latency on the device, fits a latency model on "
             "analytical features\n(per layer kind from layer timings, then per network; "
             "non-negative least squares of the\nrelative error; a whole-network fit runs "
             "beside it as the baseline) and "
             "reports its error on the\nheld-out architectures: R², median absolute "
             "percentage error, share within ±10 %,\nand the measurement noise (median "
             "coefficient of variation). The calibration file\nis what the `calibrated` "
             "device loads. Same seed, same architectures."))
    return 0;
  check_range("--count", count, 1, 100000);
  check_range("--pool", pool, 1, 100000);
  if (!(held_out_share > 0 && held_out_share < 1))
    throw InputError(fmt::format("--held-out {} must be a share strictly between 0 and 1",
                                 held_out_share));
  check_threads(threads);
  const double min_macs = count_option(min_macs_text, "--min-macs");
  const double max_macs = count_option(max_macs_text, "--max-macs");
  if (min_macs > max_macs)
    throw InputError(fmt::format("--min-macs {} is above --max-macs {}", min_macs_text,
                                 max_macs_text));
  if (!experiment_file.empty() && !space_items.empty())
    throw InputError("give --spaces or --experiment, not both");
  std::vector<std::string> features = split_list(feature_items);
  if (fit.empty()) fit = features.empty() ? "layers" : "totals";
  if (fit != "layers" && fit != "totals")
    throw InputError(fmt::format("--fit '{}' must be layers or totals", fit));
  const bool layered = fit == "layers";
  if (layered && !features.empty())
    throw InputError("--features chooses the features of --fit totals; --fit layers uses every "
                     "layer kind's features");
  if (features.empty()) features = layered ? layered_latency_features() : default_latency_features();
  check_latency_features(features);
  // What the fit needs at least: a network per feature, or per layer kind and the constant.
  const std::size_t needed = layered ? layer_kinds().size() + 1 : features.size();
  const auto held_out_count = std::size_t(std::llround(double(count) * held_out_share));
  const std::size_t training_count = std::size_t(count) - held_out_count;
  if (held_out_count < 1 || training_count < needed)
    throw InputError(fmt::format(
        "--count {} with --held-out {} leaves {} architectures to fit and {} to test; the {} "
        "fit needs at least {} to fit; raise --count",
        count, held_out_share, training_count, held_out_count, fit, needed));
  const auto device_params = param_map(params);
  // The calibration file is checked for writability before any measurement.
  {
    const fs::path parent = fs::path(out_file).parent_path();
    if (!parent.empty() && !fs::is_directory(parent))
      throw InputError(fmt::format("--out '{}': folder '{}' does not exist", out_file,
                                   parent.string()));
    if (!csv.empty()) {
      const fs::path csv_parent = fs::path(csv).parent_path();
      if (!csv_parent.empty() && !fs::is_directory(csv_parent))
        throw InputError(
            fmt::format("--csv '{}': folder '{}' does not exist", csv, csv_parent.string()));
    }
  }

  // The experiment's own plugin paths go through the loader that loaded the others.
  LoadedPlugins plugins = load_plugins(paths);
  Registry& registry = plugins.registry;
  PluginLoader& loader = plugins.loader;

  std::vector<Sample> samples;
  std::vector<std::string> space_labels;
  json device_description;
  LatencyOptions options;
  if (!load_file.empty()) {
    samples = load_measurements(load_file, features, device_description, options, space_labels);
  } else {
    auto device = create_device(registry, device_name, device_params);
    if (!device->measures())
      throw InputError(fmt::format(
          "device '{}' does not measure latency; calibrate needs a measuring device (such as "
          "host)",
          device_name));
    std::vector<CalibrationSpace> spaces;
    if (!experiment_file.empty()) {
      auto x = Experiment::load(experiment_file, {}, registry, loader);
      for (auto& es : x.spaces) spaces.push_back({es.name, es.space, es.laws});
    } else {
      auto names = split_list(space_items);
      if (names.empty()) names = registry.names(Kind::space);
      if (names.empty()) throw InputError("no search space is loaded (see narrow plugins)");
      std::set<std::string> seen;
      for (const auto& name : names) {
        if (!seen.insert(name).second)
          throw InputError(fmt::format("--spaces names '{}' twice", name));
        std::shared_ptr<SearchSpace> s = registry.create_space(name, {});
        spaces.push_back({name, s, {SamplingLaw::uniform(s->variables())}});
        spaces.back().laws.front().name = "uniform";
      }
    }
    for (const auto& s : spaces) space_labels.push_back(s.label);
    samples = draw_spread(spaces, std::size_t(count), std::size_t(pool), seed, threads, min_macs,
                          max_macs, min_macs_text, max_macs_text, features);
    device_description = device->description();
    options = device->latency_options();
    options.layers = layered;
    // Measure, smallest first (a progress bar whose rate means something early on).
    std::vector<std::size_t> order(samples.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return samples[a].from.metrics.macs < samples[b].from.metrics.macs;
    });
    fmt::print(stderr,
               "calibrate: {} architectures from {} space{} on device '{}' ({} thread{}, {} runs "
               "each)\n",
               samples.size(), spaces.size(), plural(std::int64_t(spaces.size())), device_name,
               options.threads, plural(options.threads), options.runs);
    Progress progress("measuring", samples.size(), "architectures");
    std::size_t done = 0;
    for (std::size_t i : order) {
      samples[i].latency = device->measure(samples[i].arch, options);
      progress.update(++done);
    }
    progress.finish();
  }
  if (layered)
    for (const auto& s : samples)
      if (s.latency.layer_seconds.empty())
        throw InputError(fmt::format(
            "the measurements {} have no layer times (measured without them); use --fit totals",
            load_file.empty() ? "of the device" : "of '" + load_file + "'"));
  const std::size_t n = samples.size();
  const std::size_t n_held = std::size_t(std::llround(double(n) * held_out_share));
  if (n_held < 1 || n < n_held + needed)
    throw InputError(fmt::format(
        "{} distinct architectures are too few for the {} fit ({} to fit) and its test; raise "
        "--count or --pool, or widen the MACs range",
        n, fit, needed));
  if (!save_file.empty()) save_measurements(save_file, samples, device_description, options);

  // Held-out architectures: a seeded shuffle, so the split does not follow the MACs order.
  std::vector<std::size_t> shuffled(n);
  for (std::size_t i = 0; i < n; ++i) shuffled[i] = i;
  Rng rng = stream_rng(content_seed(fmt::format("calibrate|{}|split", seed)), 0);
  for (std::size_t i = n; i > 1; --i) std::swap(shuffled[i - 1], shuffled[std::size_t(rng() % i)]);
  for (std::size_t k = 0; k < n_held; ++k) samples[shuffled[k]].held_out = true;

  // The whole-network fit on the default features: the model itself with --fit totals, the
  // baseline beside the layered fit otherwise.
  const std::vector<std::string>& baseline_features =
      layered ? default_latency_features() : features;
  std::vector<std::vector<double>> x_train, layers_train, seconds_train;
  std::vector<std::vector<LayerFeatures>> layer_rows;
  std::vector<double> y_train;
  for (const auto& s : samples) {
    if (s.held_out) continue;
    x_train.push_back(layered ? latency_features(s.arch, baseline_features) : s.features);
    y_train.push_back(s.latency.mean);
    if (layered) {
      layer_rows.push_back(layer_latency_features(fold_batchnorm(s.arch)));
      seconds_train.push_back(s.latency.layer_seconds);
    }
  }
  Calibration cal;
  const LatencyModel baseline = LatencyModel::fit(baseline_features, x_train, y_train);
  std::vector<std::string> unseen;
  cal.model = layered ? LatencyModel::fit_layers(layer_rows, seconds_train, y_train, &unseen)
                      : baseline;
  cal.fit = fit;
  std::vector<double> p_train, m_train, p_held, m_held, b_held, cvs;
  for (auto& s : samples) {
    s.predicted = cal.model.predict(s.features);
    (s.held_out ? p_held : p_train).push_back(s.predicted);
    (s.held_out ? m_held : m_train).push_back(s.latency.mean);
    if (s.held_out)
      b_held.push_back(layered ? baseline.predict(latency_features(s.arch, baseline_features))
                               : s.predicted);
    cvs.push_back(s.latency.cv);
  }
  const FitStatistics baseline_held = FitStatistics::of(b_held, m_held);
  for (const auto& kind : unseen)
    fmt::print(stderr,
               "warning: no calibration architecture has a {} layer; such layers are predicted "
               "to take no time (draw from spaces that have them)\n",
               kind);
  cal.device = device_description;
  cal.options = options;
  cal.samples = std::int64_t(n);
  cal.training = FitStatistics::of(p_train, m_train);
  cal.held_out = FitStatistics::of(p_held, m_held);
  cal.noise_cv_median = median_of(std::move(cvs));
  cal.spaces = space_labels;
  cal.seed = seed;
  cal.date = utc_timestamp();
  cal.save(out_file);

  std::int64_t repeated = 0, noisy = 0;
  for (const auto& s : samples) {
    repeated += s.latency.repeats > 0;
    noisy += s.latency.noisy;
  }
  if (!csv.empty()) {
    std::ofstream out(csv);
    if (!out) throw InputError(fmt::format("cannot write CSV file '{}'", csv));
    out << "space,law,hash,params,macs,flops,layers,activation_peak_bytes,latency_mean_s,"
           "latency_median_s,latency_cv,repeats,held_out,predicted_s\n";
    for (const auto& s : samples) {
      const auto& m = s.from.metrics;
      out << fmt::format("{},{},{},{},{},{},{},{},{:.9g},{:.9g},{:.6g},{},{},{:.9g}\n",
                         s.space, s.law,
                         s.from.hash, m.params, m.macs, m.flops, m.layers,
                         m.activation_peak_bytes, s.latency.mean, s.latency.median, s.latency.cv,
                         s.latency.repeats, s.held_out ? 1 : 0, s.predicted);
    }
    if (!out) throw Error(fmt::format("writing CSV file '{}' failed", csv));
  }

  const FitStatistics& h = cal.held_out;
  if (vm.count("json")) {
    json coefficients = json::object();
    for (std::size_t k = 0; k < features.size(); ++k)
      coefficients[features[k]] = cal.model.coefficients[k];
    print_json(json{{"device", cal.device},
                    {"count", n},
                    {"held_out", n_held},
                    {"r2", h.r2},
                    {"r2_log", h.r2_log},
                    {"median_abs_pct_error", h.median_abs_pct_error},
                    {"mean_abs_pct_error", h.mean_abs_pct_error},
                    {"max_abs_pct_error", h.max_abs_pct_error},
                    {"within_10pct", h.within_10pct},
                    {"noise_cv_median", cal.noise_cv_median},
                    {"repeated", repeated},
                    {"noisy", noisy},
                    {"training", cal.training.to_json()},
                    {"fit", fit},
                    {"baseline", json{{"fit", "totals"},
                                      {"features", baseline_features},
                                      {"held_out", baseline_held.to_json()}}},
                    {"threads", options.threads},
                    {"spaces", cal.spaces},
                    {"seed", seed},
                    {"features", features},
                    {"coefficients", coefficients},
                    {"out", out_file},
                    {"csv", csv}});
    return 0;
  }
  fmt::print("device {} ({}), {} thread{}: {} architectures from {}, {} held out\n",
             cal.device.value("name", std::string("-")), cal.device.value("cpu", std::string("-")),
             options.threads, plural(options.threads), n, fmt::join(cal.spaces, ", "), n_held);
  fmt::print("  held out   R² {:.4f}  median |error| {:.2f} %  within ±10 % {}  max {:.1f} %\n",
             h.r2, h.median_abs_pct_error, percent(h.within_10pct), h.max_abs_pct_error);
  fmt::print("  training   R² {:.4f}  median |error| {:.2f} %  within ±10 % {}\n", cal.training.r2,
             cal.training.median_abs_pct_error, percent(cal.training.within_10pct));
  if (layered)
    fmt::print("  baseline   whole-network fit on held out: R² {:.4f}  median |error| {:.2f} %  "
               "within ±10 % {}\n",
               baseline_held.r2, baseline_held.median_abs_pct_error,
               percent(baseline_held.within_10pct));
  fmt::print(
      "  noise      median coefficient of variation {}; {} measurement{} repeated, {} "
      "still noisy\n",
      percent(cal.noise_cv_median), repeated, plural(repeated), noisy);
  if (layered) {
    std::size_t used = 0;
    for (double c : cal.model.coefficients) used += c > 0;
    fmt::print("  latency = Σ over layers of its kind's law: {} of {} coefficients non-zero",
               used, features.size());
  } else {
    fmt::print("  latency =");
    for (std::size_t k = 0; k < features.size(); ++k)
      if (cal.model.coefficients[k] > 0)
        fmt::print(" + {:.4g} s × {}", cal.model.coefficients[k], features[k]);
  }
  fmt::print("\ncalibration written to {}{}\n", out_file,
             csv.empty() ? "" : fmt::format(", data to {}", csv));
  return 0;
}

}  // namespace narrow::cli
