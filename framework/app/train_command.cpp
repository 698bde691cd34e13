// `narrow train`: trains and evaluates one model with LibTorch on this machine.
#include <cstdlib>
#include <optional>
#include <ostream>

#include <fmt/format.h>

#include "command_support.hpp"
#include "commands.hpp"
#include "narrow/errors.hpp"
#include "narrow/output_file.hpp"
#include "narrow/training.hpp"
#include "run/runner.hpp"
#include "run/torch_engine.hpp"

namespace po = boost::program_options;
using nlohmann::json;

namespace narrow::cli {

namespace {

/// Keeps the entries of `given` whose names `schema` knows.
std::map<std::string, std::string> only_schema(const std::map<std::string, std::string>& given,
                                               const ParamSchema& schema) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : given)
    for (const auto& p : schema)
      if (p.name == k) out[k] = v;
  return out;
}

}  // namespace

int cmd_train(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string space_name, reference, arch_file, experiment_file, stage_name, dataset_name, save;
  std::vector<std::string> params, data, train, paths;
  std::uint64_t seed = 1;
  int threads = 0;
  add_help_option(opts);
  opts.add_options()("arch", po::value(&arch_file), "train the architecture of this JSON file")(
      "space", po::value(&space_name), "train a reference model of this search space")(
      "reference", po::value(&reference), "the reference model (default: the space's first)")(
      "param", po::value(&params)->composing(), "space parameter NAME=VALUE (repeatable)")(
      "experiment", po::value(&experiment_file),
      "take the dataset and the training options from this experiment (its seed too)")(
      "stage", po::value(&stage_name),
      "with --experiment: the train stage whose options apply (default: the first)")(
      "dataset", po::value(&dataset_name), "dataset name (default idx: Fashion-MNIST)")(
      "data", po::value(&data)->composing(),
      "dataset parameter NAME=VALUE, e.g. train_size=5000 (repeatable)")(
      "epochs", po::value<std::int64_t>(), "passes over the training set")(
      "iterations", po::value<std::int64_t>(), "stop after this many batches (traction)")(
      "batch-size", po::value<std::int64_t>(), "images per batch")("lr", po::value<double>(),
                                                                   "initial learning rate")(
      "train", po::value(&train)->composing(),
      "training parameter NAME=VALUE (repeatable; see below)")(
      "seed", po::value(&seed)->default_value(seed), "seed of weights, batches and the split");
  add_threads_option(opts, threads, "LibTorch threads");
  opts.add_options()("save", po::value(&save), "write the trained weights to this file");
  add_json_option(opts);
  add_plugins_option(opts, paths);
  po::variables_map vm;
  std::string training_help;
  for (const auto& p : TrainingConfig::schema())
    training_help += fmt::format("  {:<16} {:<10} {}{}\n", p.name, to_string(p.default_value),
                                 p.help, p.allowed().empty() ? "" : " (" + p.allowed() + ")");
  const std::string usage =
      "narrow train (--arch FILE.json | --space S [--reference R] [--param K=V]...)\n"
      "             [--experiment FILE [--stage NAME]] [--dataset NAME] [--data K=V]...\n"
      "             [--epochs N] [--iterations N] [--batch-size N] [--lr X] [--train K=V]...\n"
      "             [--seed S] [--threads T] [--save FILE] [--json]\n\n"
      "Trains one model with LibTorch on this machine, evaluates it on the validation and\n"
      "test sets and prints accuracy and time. With no dataset named, Fashion-MNIST.\n\n"
      "training parameters (--train NAME=VALUE):\n" +
      training_help;
  if (!parse(args, opts, vm, usage.c_str())) return 0;
  if (arch_file.empty() == space_name.empty())
    throw InputError(
        "train needs either --arch FILE.json or --space NAME (see narrow train --help)");
  check_threads(threads);
  Registry& reg = load_registry(paths);

  // The architecture.
  std::string what;
  Architecture arch =
      architecture_from_options(reg, arch_file, space_name, reference, params, what);

  // Dataset and training options: the experiment's first, then the command line's.
  TrainJob job;
  std::map<std::string, std::string> training;
  if (!experiment_file.empty()) {
    auto x = load_experiment(reg, experiment_file, {});
    if (vm["seed"].defaulted()) seed = x.seed;
    if (x.dataset) {
      job.dataset.name = x.dataset->name;
      job.dataset.parameters = x.dataset->parameters;
    }
    const ExperimentStage* stage = nullptr;
    for (const auto& st : x.stages)
      if (stage_name.empty() ? st.strategy.name == "train" : st.name == stage_name) {
        stage = &st;
        break;
      }
    if (!stage && !stage_name.empty())
      throw InputError(fmt::format("{} has no stage '{}'", experiment_file, stage_name));
    if (stage) training = only_schema(stage->strategy.parameters, TrainingConfig::schema());
  }
  if (!dataset_name.empty()) {
    if (dataset_name != job.dataset.name) job.dataset.parameters.clear();
    job.dataset.name = dataset_name;
  }
  for (const auto& [k, v] : param_map(data)) job.dataset.parameters[k] = v;
  for (const auto& [k, v] : param_map(train)) training[k] = v;
  if (vm.count("epochs")) training["epochs"] = std::to_string(vm["epochs"].as<std::int64_t>());
  if (vm.count("iterations"))
    training["iterations"] = std::to_string(vm["iterations"].as<std::int64_t>());
  if (vm.count("batch-size"))
    training["batch_size"] = std::to_string(vm["batch-size"].as<std::int64_t>());
  if (vm.count("lr")) training["learning_rate"] = fmt::format("{}", vm["lr"].as<double>());
  job.config = TrainingConfig::from(
      Parameters::resolve(TrainingConfig::schema(), training, "training options"));
  job.dataset.seed = dataset_split_seed(seed);
  // Reads the data (the engine finds it cached) and checks that the model fits it before
  // LibTorch loads.
  check_fits(arch, *load_dataset(reg, job.dataset));
  job.architecture_hash = arch.hash();
  job.architecture_json = arch.to_json_string();
  job.seed = seed;
  job.threads = threads;
  job.keep_weights = !save.empty();
  // The weights file is opened before the training (a path that cannot be written fails at
  // once) and appears under its name only once complete.
  std::optional<OutputFile> weights_file;
  if (!save.empty()) weights_file.emplace(save, "weights file");
  job.make_key(reg);

  const bool as_json = vm.count("json") > 0;
  const bool quiet =
      std::getenv("NARROW_PROGRESS") && std::string(std::getenv("NARROW_PROGRESS")) == "off";
  const auto metrics = analyse(arch);
  fmt::print(stderr, "train {} ({} parameters, {} MACs) on {}, {} epochs{}, {} thread{}\n", what,
             human(metrics.params), human(metrics.macs), job.dataset.name, job.config.epochs,
             job.config.iterations ? fmt::format(" or {} iterations", job.config.iterations) : "",
             threads, plural(threads));
  TorchEngine& engine = torch_engine();
  const auto total_epochs = job.config.epochs;
  const TrainResult r = engine.train(reg, job, [&](const EpochRecord& e) {
    if (quiet) return;
    fmt::print(stderr,
               "epoch {}/{}  lr {:.4g}  train loss {:.4f} acc {:.4f}  val loss {:.4f} acc {:.4f}  "
               "({:.1f} s)\n",
               e.epoch, total_epochs, e.learning_rate, e.train_loss, e.train_accuracy, e.val_loss,
               e.val_accuracy, e.seconds);
  });
  if (!save.empty() && !r.weights.empty()) {
    weights_file->stream().write(r.weights.data(), std::streamsize(r.weights.size()));
    weights_file->commit();
  }
  if (as_json) {
    json j = r.to_json();
    j["val_accuracy"] = r.validation.accuracy;
    j["test_accuracy"] = r.test.accuracy;
    j["val_loss"] = j["validation"]["loss"];
    j["test_loss"] = j["test"]["loss"];
    j["dataset"] = job.dataset.to_json();
    j["training"] = job.config.to_json();
    j["metrics"] = metrics_json(metrics);
    j["seed"] = seed;
    if (!save.empty()) j["saved"] = save;
    print_json(j);
  } else if (r.status == "ok") {
    fmt::print(
        "{}: val accuracy {:.4f}, test accuracy {:.4f} (loss {:.4f}); {} epochs, "
        "{} iterations in {:.1f} s, {:.0f} images/s, {} thread{}\n",
        arch.hash(), r.validation.accuracy, r.test.accuracy, r.test.loss, r.epochs, r.iterations,
        r.seconds, r.images_per_second, r.threads, plural(r.threads));
    if (!save.empty()) fmt::print("weights: {}\n", save);
  }
  if (r.status != "ok") {
    fmt::print(stderr, "narrow train: the training failed: {}\n", r.reason);
    return 1;
  }
  return 0;
}

}  // namespace narrow::cli
