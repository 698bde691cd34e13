// `narrow evaluate`: evaluates trained weights on the validation and test sets.
#include <algorithm>
#include <chrono>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "command_support.hpp"
#include "commands.hpp"
#include "narrow/errors.hpp"
#include "narrow/training.hpp"
#include "run/torch_engine.hpp"

namespace po = boost::program_options;
using nlohmann::json;

namespace narrow::cli {

int cmd_evaluate(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string space_name, reference, arch_file, weights_file, store_file, hash, dataset_name;
  std::vector<std::string> params, data, paths;
  std::uint64_t seed = 1;
  int threads = 0;
  add_help_option(opts);
  opts.add_options()("arch", po::value(&arch_file), "the architecture JSON file")(
      "space", po::value(&space_name), "or a reference model of this search space")(
      "reference", po::value(&reference), "the reference model (default: the space's first)")(
      "param", po::value(&params)->composing(), "space parameter NAME=VALUE (repeatable)")(
      "weights", po::value(&weights_file), "trained weights, as narrow train --save wrote them")(
      "store", po::value(&store_file),
      "or take architecture, weights and dataset from this results store...")(
      "hash", po::value(&hash), "...for the architecture with this hash (or its first digits)")(
      "dataset", po::value(&dataset_name), "dataset name (default idx: Fashion-MNIST)")(
      "data", po::value(&data)->composing(), "dataset parameter NAME=VALUE (repeatable)")(
      "seed", po::value(&seed)->default_value(seed), "seed of the validation split");
  add_threads_option(opts, threads, "LibTorch threads");
  add_json_option(opts);
  add_plugins_option(opts, paths);
  po::variables_map vm;
  if (!parse(args, opts, vm,
             "narrow evaluate (--arch FILE.json | --space S [--reference R]) --weights FILE\n"
             "                [--dataset NAME] [--data K=V]... [--seed S] [--json]\n"
             "       narrow evaluate --store RUN/results.db --hash H [--json]\n\n"
             "Evaluates a trained model on the validation and test sets: loss, top-1 accuracy\n"
             "and the confusion matrix. From a store, the model's best training is used, with\n"
             "the dataset and split it was trained with."))
    return 0;
  check_threads(threads);
  Registry& reg = load_registry(paths);
  std::string arch_json, weights, what;
  DatasetSpec dataset;
  if (!store_file.empty()) {
    if (hash.empty()) throw InputError("--store needs --hash, the architecture to evaluate");
    auto store = open_store(store_file);
    std::vector<TrainResult> trainings = store->trainings();
    std::erase_if(trainings,
                  [&](const TrainResult& t) { return !t.architecture_hash.starts_with(hash); });
    const TrainResult* best = best_training(trainings);
    if (!best)
      throw InputError(
          fmt::format("{} holds no successful training of an architecture whose "
                      "hash starts with '{}'",
                      store_file, hash));
    auto w = store->training_weights(best->key);
    if (!w)
      throw InputError(fmt::format("the training {} in {} kept no weights (keep_weights: no)",
                                   best->key, store_file));
    weights = std::move(*w);
    arch_json = *store->architecture_json(best->architecture_hash);
    dataset = store->training_dataset(best->key);
    what = fmt::format("{} from {}", best->architecture_hash, store_file);
  } else {
    if (arch_file.empty() == space_name.empty())
      throw InputError(
          "evaluate needs --arch FILE.json, --space NAME or --store FILE (see narrow evaluate "
          "--help)");
    if (weights_file.empty()) throw InputError("evaluate needs --weights FILE");
    weights = read_file(weights_file, "weights file");
    arch_json = architecture_from_options(reg, arch_file, space_name, reference, params, what)
                    .to_json_string();
    // --data errors name --param, as they always did.
    dataset = dataset_from_options(dataset_name, data, seed, "--param");
  }
  const Architecture arch = Architecture::from_json_string(arch_json);
  check_fits(arch, *load_dataset(reg, dataset));
  const auto t0 = std::chrono::steady_clock::now();
  const auto [validation, test] =
      torch_engine().evaluate(reg, arch_json, weights, dataset, threads);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (vm.count("json")) {
    json v = validation.to_json(), t = test.to_json();
    print_json(json{{"architecture_hash", arch.hash()},
                    {"dataset", dataset.to_json()},
                    {"val_accuracy", validation.accuracy},
                    {"test_accuracy", test.accuracy},
                    {"validation", v},
                    {"test", t},
                    {"seconds", seconds},
                    {"threads", threads}});
  } else {
    fmt::print(
        "{}: val accuracy {:.4f} (loss {:.4f}, {} images), test accuracy {:.4f} (loss "
        "{:.4f}, {} images); {:.1f} s, {} thread{}\n",
        what, validation.accuracy, validation.loss, validation.count, test.accuracy, test.loss,
        test.count, seconds, threads, plural(threads));
    fmt::print("test confusion matrix (rows: true class, columns: predicted):\n");
    for (const auto& row : test.confusion) fmt::print("  {}\n", fmt::join(row, " "));
  }
  return 0;
}

}  // namespace narrow::cli
