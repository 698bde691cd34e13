// `narrow calibrate`: measures architectures drawn across search spaces on a measuring device,
// fits a latency model on analytical features, reports its error on held-out architectures
// and writes the calibration file and the data behind Scheidegger et al.'s Figure 2.
#include <cmath>
#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "command_support.hpp"
#include "commands.hpp"
#include "core/device_calibration.hpp"
#include "narrow/device.hpp"
#include "narrow/errors.hpp"
#include "narrow/latency_model.hpp"
#include "narrow/registry.hpp"
#include "narrow/units.hpp"
#include "run/experiment.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;
using nlohmann::json;

namespace narrow::cli {

namespace {

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

std::string percent(double share) {
  return fmt::format("{:.1f} %", 100 * share);
}

}  // namespace

int cmd_calibrate(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string device_name = "host", experiment_file, min_macs_text = "10k",
              max_macs_text = "300M";
  std::vector<std::string> params, space_items, feature_items, paths;
  std::int64_t count = 150, pool = 40;
  CalibrationOptions c;
  c.out = "calibration.json";
  c.fit.clear();
  int threads = 0;
  add_help_option(opts);
  opts.add_options()("device", po::value(&device_name)->default_value(device_name),
                     "a measuring device")(
      "param", po::value(&params)->composing(), "device parameter NAME=VALUE (repeatable)")(
      "spaces", po::value(&space_items)->multitoken()->composing(),
      "search spaces to draw from (names, comma-separated or repeated; default: every space), "
      "each with its default parameters and the uniform law")(
      "experiment", po::value(&experiment_file),
      "draw from this experiment's spaces instead, with their parameters and laws")(
      "count", po::value(&count)->default_value(count), "architectures to measure")(
      "held-out", po::value(&c.held_out)->default_value(c.held_out, "0.3"),
      "share of the architectures kept out of the fit to measure its error")(
      "min-macs", po::value(&min_macs_text)->default_value(min_macs_text),
      "draw architectures with at least this many MACs")(
      "max-macs", po::value(&max_macs_text)->default_value(max_macs_text),
      "and at most this many (measuring large models takes long)")(
      "pool", po::value(&pool)->default_value(pool),
      "candidates drawn per measured architecture, among which the spread over MACs is chosen")(
      "fit", po::value(&c.fit),
      "how the latency model is fitted: 'layers' (default; every layer is timed inside the "
      "network and each layer kind gets its own law, see docs/devices.md) or 'totals' (the "
      "networks' latencies against --features)")(
      "features", po::value(&feature_items)->composing(),
      fmt::format("features of a --fit totals model, comma-separated (default: {})",
                  fmt::join(default_latency_features(), ","))
          .c_str())("seed", po::value(&c.seed)->default_value(c.seed), "random seed");
  add_threads_option(opts, threads, "threads that draw candidates");
  opts.add_options()("out", po::value(&c.out)->default_value(c.out),
                     "the calibration file to write")(
      "csv", po::value(&c.csv),
      "write every measured architecture (space, params, macs, latency, prediction) as CSV")(
      "save-measurements", po::value(&c.save_measurements),
      "also write every architecture with its measurement, one JSON object a line")(
      "measurements", po::value(&c.measurements),
      "fit on the measurements of such a file (--save-measurements) instead of drawing and "
      "measuring: try other --features without measuring again");
  add_json_option(opts);
  add_plugins_option(opts, paths);
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
  if (!(c.held_out > 0 && c.held_out < 1))
    throw InputError(fmt::format("--held-out {} must be a share strictly between 0 and 1",
                                 c.held_out));
  check_threads(threads);
  c.count = std::size_t(count);
  c.pool = std::size_t(pool);
  c.threads = threads;
  c.device_name = device_name;
  c.min_macs = count_option(min_macs_text, "--min-macs");
  c.max_macs = count_option(max_macs_text, "--max-macs");
  c.min_macs_text = min_macs_text;
  c.max_macs_text = max_macs_text;
  if (c.min_macs > c.max_macs)
    throw InputError(fmt::format("--min-macs {} is above --max-macs {}", min_macs_text,
                                 max_macs_text));
  if (!experiment_file.empty() && !space_items.empty())
    throw InputError("give --spaces or --experiment, not both");
  c.features = split_list(feature_items);
  if (c.fit.empty()) c.fit = c.features.empty() ? "layers" : "totals";
  if (c.fit != "layers" && c.fit != "totals")
    throw InputError(fmt::format("--fit '{}' must be layers or totals", c.fit));
  const bool layered = c.fit == "layers";
  if (layered && !c.features.empty())
    throw InputError("--features chooses the features of --fit totals; --fit layers uses every "
                     "layer kind's features");
  if (c.features.empty())
    c.features = layered ? layered_latency_features() : default_latency_features();
  check_latency_features(c.features);
  const std::size_t needed = minimum_fit_samples(c);
  const auto held_out_count = std::size_t(std::llround(double(count) * c.held_out));
  const std::size_t training_count = std::size_t(count) - held_out_count;
  if (held_out_count < 1 || training_count < needed)
    throw InputError(fmt::format(
        "--count {} with --held-out {} leaves {} architectures to fit and {} to test; the {} "
        "fit needs at least {} to fit; raise --count",
        count, c.held_out, training_count, held_out_count, c.fit, needed));
  const auto device_params = param_map(params);
  // The calibration file is checked for writability before any measurement.
  {
    const fs::path parent = fs::path(c.out).parent_path();
    if (!parent.empty() && !fs::is_directory(parent))
      throw InputError(fmt::format("--out '{}': folder '{}' does not exist", c.out,
                                   parent.string()));
    if (!c.csv.empty()) {
      const fs::path csv_parent = fs::path(c.csv).parent_path();
      if (!csv_parent.empty() && !fs::is_directory(csv_parent))
        throw InputError(
            fmt::format("--csv '{}': folder '{}' does not exist", c.csv, csv_parent.string()));
    }
  }

  // The experiment's own plugin paths go through the loader that loaded the others.
  LoadedPlugins plugins = load_plugins(paths);
  Registry& registry = plugins.registry;

  std::unique_ptr<Device> device;
  std::vector<CalibrationSpace> spaces;
  if (c.measurements.empty()) {
    device = create_device(registry, device_name, device_params);
    if (!device->measures())
      throw InputError(fmt::format(
          "device '{}' does not measure latency; calibrate needs a measuring device (such as "
          "host)",
          device_name));
    if (!experiment_file.empty()) {
      auto x = Experiment::load(experiment_file, {}, registry, plugins.loader);
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
  }
  const CalibrationOutcome result = calibrate_device(device.get(), spaces, c);
  const Calibration& cal = result.calibration;
  const std::size_t n = result.samples.size();
  const FitStatistics& h = cal.held_out;
  const FitStatistics& b = result.baseline_held_out;
  if (vm.count("json")) {
    json coefficients = json::object();
    for (std::size_t k = 0; k < c.features.size(); ++k)
      coefficients[c.features[k]] = cal.model.coefficients[k];
    print_json(json{{"device", cal.device},
                    {"count", n},
                    {"held_out", result.held_out},
                    {"r2", h.r2},
                    {"r2_log", h.r2_log},
                    {"median_abs_pct_error", h.median_abs_pct_error},
                    {"mean_abs_pct_error", h.mean_abs_pct_error},
                    {"max_abs_pct_error", h.max_abs_pct_error},
                    {"within_10pct", h.within_10pct},
                    {"noise_cv_median", cal.noise_cv_median},
                    {"repeated", result.repeated},
                    {"noisy", result.noisy},
                    {"training", cal.training.to_json()},
                    {"fit", c.fit},
                    {"baseline", json{{"fit", "totals"},
                                      {"features", result.baseline_features},
                                      {"held_out", b.to_json()}}},
                    {"threads", cal.options.threads},
                    {"spaces", cal.spaces},
                    {"seed", c.seed},
                    {"features", c.features},
                    {"coefficients", coefficients},
                    {"out", c.out},
                    {"csv", c.csv}});
    return 0;
  }
  const int torch_threads = cal.options.threads;
  fmt::print("device {} ({}), {} thread{}: {} architectures from {}, {} held out\n",
             cal.device.value("name", std::string("-")), cal.device.value("cpu", std::string("-")),
             torch_threads, plural(torch_threads), n, fmt::join(cal.spaces, ", "),
             result.held_out);
  fmt::print("  held out   R² {:.4f}  median |error| {:.2f} %  within ±10 % {}  max {:.1f} %\n",
             h.r2, h.median_abs_pct_error, percent(h.within_10pct), h.max_abs_pct_error);
  fmt::print("  training   R² {:.4f}  median |error| {:.2f} %  within ±10 % {}\n", cal.training.r2,
             cal.training.median_abs_pct_error, percent(cal.training.within_10pct));
  if (layered)
    fmt::print("  baseline   whole-network fit on held out: R² {:.4f}  median |error| {:.2f} %  "
               "within ±10 % {}\n",
               b.r2, b.median_abs_pct_error, percent(b.within_10pct));
  fmt::print(
      "  noise      median coefficient of variation {}; {} measurement{} repeated, {} "
      "still noisy\n",
      percent(cal.noise_cv_median), result.repeated, plural(result.repeated), result.noisy);
  if (layered) {
    std::size_t used = 0;
    for (double k : cal.model.coefficients) used += k > 0;
    fmt::print("  latency = Σ over layers of its kind's law: {} of {} coefficients non-zero",
               used, c.features.size());
  } else {
    fmt::print("  latency =");
    for (std::size_t k = 0; k < c.features.size(); ++k)
      if (cal.model.coefficients[k] > 0)
        fmt::print(" + {:.4g} s × {}", cal.model.coefficients[k], c.features[k]);
  }
  fmt::print("\ncalibration written to {}{}\n", c.out,
             c.csv.empty() ? "" : fmt::format(", data to {}", c.csv));
  return 0;
}

}  // namespace narrow::cli
