// `narrow sample`: draws architectures of a space, analyses them and prints the statistics
// of every metric.
#include <algorithm>
#include <chrono>
#include <optional>
#include <ostream>

#include <fmt/format.h>

#include "command_support.hpp"
#include "commands.hpp"
#include "narrow/errors.hpp"
#include "narrow/output_file.hpp"
#include "narrow/progress.hpp"
#include "narrow/sampler.hpp"
#include "narrow/space.hpp"

namespace po = boost::program_options;
using nlohmann::json;

namespace narrow::cli {

int cmd_sample(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string space_name, csv;
  std::vector<std::string> params, paths;
  std::int64_t count = 1000;
  std::int64_t seed = 1;
  int threads = 0;
  add_help_option(opts);
  opts.add_options()("space", po::value(&space_name)->required(), "search space name")(
      "param", po::value(&params)->composing(), "space parameter NAME=VALUE (repeatable)")(
      "count", po::value(&count)->default_value(count), "number of valid architectures to draw")(
      "seed", po::value(&seed)->default_value(seed), "random seed");
  add_threads_option(opts, threads, "worker threads");
  opts.add_options()("csv", po::value(&csv),
                     "write one row per architecture: hash, then every metric");
  add_json_option(opts);
  add_plugins_option(opts, paths);
  po::variables_map vm;
  if (!parse(
          args, opts, vm,
          "narrow sample --space NAME --count N [--seed S] [--threads T] [--csv FILE] [--json]\n\n"
          "Draws N valid architectures uniformly inside the space's absolute bounds, analyses\n"
          "them and prints the statistics of every metric and the throughput. Invalid draws\n"
          "are rejected and counted. Same seed, same rows, whatever the thread count."))
    return 0;
  if (count < 1) throw InputError(fmt::format("--count {} must be at least 1", count));
  if (seed < 0) throw InputError(fmt::format("--seed {} must be at least 0", seed));
  check_threads(threads);
  Registry& reg = load_registry(paths);
  auto space = reg.create_space(space_name, param_map(params));
  Sampler sampler(*space, SamplingLaw::uniform(space->variables()), std::uint64_t(seed));
  // The CSV is opened before the work (a path that cannot be written fails at once) and
  // appears under its name only once complete.
  std::optional<OutputFile> csv_file;
  if (!csv.empty()) csv_file.emplace(csv, "CSV file");

  Progress progress(fmt::format("sampling {}", space_name), std::uint64_t(count), "architectures");
  auto t0 = std::chrono::steady_clock::now();
  auto records = sampler.draw_many(std::uint64_t(count), threads,
                                   [&](std::uint64_t d) { progress.update(d); });
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  progress.update(std::uint64_t(count));
  progress.finish();

  std::int64_t rejected = 0;
  for (const auto& r : records) rejected += r.rejected;
  if (csv_file) {
    std::ostream& csv_out = csv_file->stream();
    csv_out << "hash";
    for (auto n : metric_names) csv_out << "," << n;
    csv_out << "\n";
    for (const auto& r : records) {
      csv_out << r.hash;
      for (auto n : metric_names) csv_out << "," << r.metrics.get(n);
      csv_out << "\n";
    }
    csv_file->commit();
  }
  json stats = json::object();
  for (auto n : metric_names) {
    std::vector<std::int64_t> v;
    v.reserve(records.size());
    for (const auto& r : records) v.push_back(r.metrics.get(n));
    std::sort(v.begin(), v.end());
    double median = v.size() % 2 ? double(v[v.size() / 2])
                                 : (double(v[v.size() / 2 - 1]) + double(v[v.size() / 2])) / 2;
    long double sum = 0;
    for (auto x : v) sum += x;
    stats[std::string(n)] = {{"min", v.front()},
                             {"median", median},
                             {"mean", double(sum / v.size())},
                             {"max", v.back()}};
  }
  const double per_second = seconds > 0 ? double(count) / seconds : 0;
  if (vm.count("json")) {
    print_json(json{{"space", space_name},
                    {"seed", seed},
                    {"threads", threads},
                    {"count", count},
                    {"rejected", rejected},
                    {"seconds", seconds},
                    {"per_second", per_second},
                    {"metrics", stats}});
    return 0;
  }
  fmt::print(
      "space {}: {} architectures, {} rejected, {:.3f} s, {:.0f} per second ({} threads, seed "
      "{})\n",
      space_name, count, rejected, seconds, per_second, threads, seed);
  fmt::print("  {:<22} {:>14} {:>14} {:>14} {:>14}\n", "metric", "min", "median", "mean", "max");
  for (auto n : metric_names) {
    const auto& s = stats[std::string(n)];
    fmt::print("  {:<22} {:>14} {:>14} {:>14.0f} {:>14}\n", n, s["min"].get<std::int64_t>(),
               s["median"].get<double>(), s["mean"].get<double>(), s["max"].get<std::int64_t>());
  }
  if (!csv.empty()) fmt::print("rows written to {}\n", csv);
  return 0;
}

}  // namespace narrow::cli
