// `narrow precision`: the precision analysis of trained models over number formats.
#include <algorithm>
#include <cmath>
#include <optional>
#include <ostream>

#include <fmt/format.h>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "command_support.hpp"
#include "commands.hpp"
#include "narrow/architecture.hpp"
#include "narrow/errors.hpp"
#include "narrow/output_file.hpp"
#include "narrow/format.hpp"
#include "narrow/pareto.hpp"
#include "narrow/precision_analysis.hpp"
#include "narrow/progress.hpp"
#include "narrow/registry.hpp"
#include "narrow/store.hpp"
#include "narrow/training.hpp"
#include "run/torch_engine.hpp"

namespace po = boost::program_options;
using nlohmann::json;

namespace narrow::cli {

namespace {

/// A trained model with the job that evaluates it.
struct Model {
  std::string hash, label;
  PrecisionJob job;
};

}  // namespace

int cmd_precision(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string arch_file, weights_file, store_file, hash, dataset_name, split = "test",
                                                                      rounding = "nearest_even",
                                                                      csv;
  std::vector<std::string> data, formats, paths;
  std::uint64_t seed = 1;
  double max_drop = 0.01;
  int threads = 0;
  add_help_option(opts);
  opts.add_options()("arch", po::value(&arch_file), "architecture JSON file of the model...")(
      "weights", po::value(&weights_file), "...and its trained weights (narrow train --save)")(
      "store", po::value(&store_file), "or every trained model of this results store")(
      "hash", po::value(&hash), "with --store: only this architecture (first digits suffice)")(
      "dataset", po::value(&dataset_name), "with --arch: dataset name (default idx)")(
      "data", po::value(&data)->composing(), "with --arch: dataset parameter NAME=VALUE")(
      "seed", po::value(&seed)->default_value(seed),
      "with --arch: seed of the validation split; the seed of stochastic rounding")(
      "format", po::value(&formats)->composing(),
      "a format, ranges allowed: 'ieee(1..8,1..23)', half, e4m3, 'fixed(3,4)', int8 "
      "(repeatable; default: the 184 types ieee(1..8,1..23))")(
      "split", po::value(&split)->default_value(split), "evaluate on 'test' or 'validation'")(
      "rounding", po::value(&rounding)->default_value(rounding),
      "nearest_even, toward_zero, up, down or stochastic")(
      "max-drop", po::value(&max_drop)->default_value(max_drop),
      "accuracy drop (a fraction) allowed when choosing each model's best format");
  add_threads_option(opts, threads, "LibTorch threads");
  opts.add_options()("csv", po::value(&csv),
                     "write every (model, format) result to this CSV file");
  add_json_option(opts);
  add_plugins_option(opts, paths);
  po::variables_map vm;
  if (!parse(args, opts, vm,
             "narrow precision --arch FILE.json --weights FILE [--dataset NAME] "
             "[--data K=V]...\n"
             "       narrow precision --store RUN/results.db [--hash H]\n"
             "                        [--format SPEC]... [--split test|validation] "
             "[--rounding MODE] [--max-drop X] [--csv FILE] [--json]\n\n"
             "Evaluates trained models with every parameter, the input and every activation "
             "map\nrounded to each number format (batch norm folded first, as deployment "
             "does), then\nprints each model's best format within --max-drop of its float32 "
             "accuracy and the\nPareto-optimal (memory, accuracy) pairs over all "
             "models and formats."))
    return 0;
  check_threads(threads);
  if (max_drop < 0 || max_drop > 1)
    throw InputError(fmt::format("--max-drop {} must be a fraction in 0..1", max_drop));
  RoundingOptions ropt;
  ropt.mode = rounding_option(rounding);
  ropt.seed = seed;
  if (split != "test" && split != "validation")
    throw InputError(fmt::format("--split '{}' must be test or validation", split));

  Registry& registry = load_registry(paths);
  // The CSV is opened before the work (a path that cannot be written fails at once) and
  // appears under its name only once complete.
  std::optional<OutputFile> csv_file;
  if (!csv.empty()) csv_file.emplace(csv, "CSV file");

  if (formats.empty()) formats.push_back("ieee(1..8,1..23)");
  std::vector<std::string> specs;
  for (const auto& f : formats)
    for (auto& e : expand_format_spec(f)) specs.push_back(std::move(e));
  // Every format made (and so checked) before any work; jobs name them.
  std::vector<FormatText> texts;
  for (const auto& s : specs) {
    (void)create_format(registry, s);
    texts.push_back(parse_format_text(registry, s));
  }

  std::vector<Model> models;
  if (!store_file.empty()) {
    auto store = open_store(store_file);
    // Per architecture, its best training; the same choice as the precision stage's.
    TrainedModelQuery query;
    query.hash_prefix = hash;
    query.best_per_architecture = true;
    TrainedModels chosen = trained_models(*store, query);
    std::sort(chosen.trainings.begin(), chosen.trainings.end(),
              [](const TrainResult& a, const TrainResult& b) {
                return a.architecture_hash < b.architecture_hash;
              });
    for (auto& t : chosen.trainings)
      models.push_back(Model{t.architecture_hash, t.architecture_hash.substr(0, 12),
                             stored_precision_job(*store, t, texts, split, ropt)});
    if (models.empty())
      throw InputError(fmt::format("{} holds no successful training with weights{}", store_file,
                                   hash.empty() ? "" : " for hash " + hash));
  } else {
    if (arch_file.empty() || weights_file.empty())
      throw InputError(
          "precision needs --arch FILE.json with --weights FILE, or --store FILE (see narrow "
          "precision --help)");
    Model m;
    const Architecture a = read_architecture_file(arch_file);
    m.hash = a.hash();
    m.label = arch_file;
    m.job.architecture_json = a.to_json_string();
    m.job.weights = read_file(weights_file, "weights file");
    m.job.dataset = dataset_from_options(dataset_name, data, seed, "--data");
    m.job.split = split;
    m.job.formats = texts;
    m.job.rounding = ropt;
    models.push_back(std::move(m));
  }
  for (const auto& m : models)
    check_fits(Architecture::from_json_string(m.job.architecture_json),
               *load_dataset(registry, m.job.dataset));

  fmt::print(stderr,
             "precision: {} model{} x {} formats (+ float32) on the {} set, rounding {}, "
             "{} thread{}\n",
             models.size(), plural(std::int64_t(models.size())), specs.size(), split, rounding,
             threads, plural(threads));
  // One model at a time on the scheduler that runs the precision stage's jobs.
  auto service = torch_engine().local_scheduler(registry, 1, threads);
  std::vector<PrecisionJob> jobs;
  for (auto& m : models) jobs.push_back(std::move(m.job));
  Progress progress("precision", models.size() * (specs.size() + 1), "evaluations");
  std::uint64_t done = 0;
  std::vector<std::vector<PrecisionResult>> evaluated(models.size());  // per model, in order
  service->evaluate_precision(jobs, [&](std::size_t j, std::size_t, const PrecisionResult& r) {
    evaluated[j].push_back(r);
    progress.update(++done);
  });
  progress.finish();
  std::vector<PrecisionPoint> points;
  std::vector<std::size_t> model_of;  // index into models, per point
  std::vector<PrecisionResult> reference;
  for (std::size_t i = 0; i < models.size(); ++i) {
    reference.push_back(evaluated[i].front());
    for (auto& r : evaluated[i]) {
      points.push_back(PrecisionPoint{models[i].hash, std::move(r)});
      model_of.push_back(i);
    }
  }

  // Per model: the smallest memory within max_drop of float32 (ties: more accurate);
  // and the Pareto-optimal (weight bytes, accuracy) over every model and format.
  const auto chosen = best_formats(points, max_drop);
  std::vector<const PrecisionPoint*> best(models.size(), nullptr);
  for (std::size_t i = 0; i < models.size(); ++i)
    if (auto it = chosen.find(models[i].hash); it != chosen.end()) best[i] = &points[it->second];
  const auto front = pareto_front(points);

  if (csv_file) {
    std::ostream& out = csv_file->stream();
    out << "architecture,format,bits,parameters,weight_bytes,accuracy,loss,seconds\n";
    for (const auto& p : points)
      // Format names hold commas ("ieee(4,3)"): quoted, as CSV readers expect.
      out << fmt::format("{},\"{}\",{},{},{},{},{},{}\n", p.model, p.result.format,
                         p.result.bits, p.result.parameters, p.result.weight_bytes,
                         p.result.evaluation.accuracy, p.result.evaluation.loss, p.result.seconds);
    csv_file->commit();
  }
  auto point_json = [&](const PrecisionPoint& p) {
    return json{{"architecture_hash", p.model},
                {"format", p.result.format},
                {"bits", p.result.bits},
                {"weight_bytes", p.result.weight_bytes},
                {"accuracy", p.result.evaluation.accuracy},
                {"loss", std::isfinite(p.result.evaluation.loss) ? json(p.result.evaluation.loss)
                                                                 : json(nullptr)}};
  };
  if (vm.count("json")) {
    json ms = json::array();
    for (std::size_t i = 0; i < models.size(); ++i) {
      json results = json::array();
      for (std::size_t k = 0; k < points.size(); ++k)
        if (model_of[k] == i) results.push_back(point_json(points[k]));
      ms.push_back({{"architecture_hash", models[i].hash},
                    {"float32_accuracy", reference[i].evaluation.accuracy},
                    {"parameters", reference[i].parameters},
                    {"best", best[i] ? point_json(*best[i]) : json(nullptr)},
                    {"results", results}});
    }
    json fr = json::array();
    for (std::size_t k : front) fr.push_back(point_json(points[k]));
    print_json(json{{"split", split},
                    {"rounding", rounding},
                    {"max_drop", max_drop},
                    {"formats", specs.size()},
                    {"models", ms},
                    {"pareto", fr}});
    return 0;
  }
  fmt::print("{:<14} {:>10} {:>9}   best within {:.1f} points: {:<12} {:>6} {:>9} {:>9}\n",
             "model", "parameters", "float32", 100 * max_drop, "format", "bits", "bytes",
             "accuracy");
  for (std::size_t i = 0; i < models.size(); ++i) {
    const auto* b = best[i];
    fmt::print("{:<14} {:>10} {:>9.4f}   {:<37} {:>6} {:>9} {:>9.4f}\n", models[i].label,
               reference[i].parameters, reference[i].evaluation.accuracy,
               b ? b->result.format : "-", b ? b->result.bits : 0, b ? b->result.weight_bytes : 0,
               b ? b->result.evaluation.accuracy : 0.0);
  }
  fmt::print("\nPareto front (memory, accuracy) over {} models x {} formats:\n",
             models.size(), specs.size() + 1);
  for (std::size_t k : front)
    fmt::print("  {:>9} bytes  {:.4f}  {:<16} {}\n", points[k].result.weight_bytes,
               points[k].result.evaluation.accuracy, points[k].result.format,
               models[model_of[k]].label);
  return 0;
}

}  // namespace narrow::cli
