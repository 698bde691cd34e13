// How fast narrow trains a model, against a plain LibTorch training loop doing the same work.
//
// Model: the `sequential` space's `lenet5` reference (from the build's plugins). Data: a subset
// of Fashion-MNIST's training set (the first --images images, read from the gzipped IDX files
// with zlib; pixels scaled to [0, 1] and normalised with the subset's mean and deviation).
//
// narrow: train_model (the GraphModule of lenet5, seeded initialisation, PCG shuffling, SGD with
// momentum and weight decay, cosine schedule per iteration, NaN check and train accuracy per
// batch), no validation set; its own images_per_second (validation and test evaluation
// excluded).
// plain LibTorch: what a LibTorch user writes: the same network as a torch::nn::Sequential,
// torch::optim::SGD with the same options, torch::randperm shuffling, index_select batches, a
// running loss read with item() per batch, the learning rate set per iteration.
//
// Both run in this process with the same LibTorch thread count, one after the other, in
// alternating order, for --rounds rounds. If Python can import torch, bench/pytorch_loop.py
// runs the plain loop in PyTorch for Python on the same data and threads afterwards.
//
// --accuracy: trains lenet5 with narrow on the whole training set (10 epochs) and reports the
// accuracy on the whole test set.
#include <zlib.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <numbers>
#include <string>
#include <vector>

#include <boost/process.hpp>
#include <boost/program_options.hpp>

#include "bench_support.hpp"
#include "narrow/architecture.hpp"
#include "engine/builder.hpp"
#include "narrow/errors.hpp"
#include "run/loader.hpp"
#include "narrow/registry.hpp"
#include "narrow/space.hpp"
#include "engine/trainer.hpp"

#ifndef NARROW_BENCH_SOURCE_DIR
#define NARROW_BENCH_SOURCE_DIR "."
#endif

namespace {

namespace po = boost::program_options;
constexpr const char* kProgram = "narrow_bench_trainer";
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// CPU seconds of the whole process (all threads): less sensitive than wall time to other
/// work on a shared machine.
double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

std::string fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

// ------------------------------------------------------------------------------ data

std::vector<unsigned char> read_gz(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw narrow::InputError("cannot open " + path);
  std::vector<unsigned char> bytes;
  std::array<unsigned char, 1 << 16> chunk{};
  for (;;) {
    const int got = gzread(f, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (got < 0) {
      gzclose(f);
      throw narrow::InputError(path + ": not a readable gzip file");
    }
    if (got == 0) break;
    bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + got);
  }
  gzclose(f);
  return bytes;
}

std::uint32_t big_endian(const std::vector<unsigned char>& b, std::size_t at) {
  return (std::uint32_t(b[at]) << 24) | (std::uint32_t(b[at + 1]) << 16) |
         (std::uint32_t(b[at + 2]) << 8) | std::uint32_t(b[at + 3]);
}

/// The first `limit` images (all when negative) of an IDX pair, pixels scaled to [0, 1].
narrow::ImageSet read_idx(const std::string& images_path, const std::string& labels_path,
                          std::int64_t limit) {
  const auto images = read_gz(images_path);
  const auto labels = read_gz(labels_path);
  if (images.size() < 16 || big_endian(images, 0) != 0x803)
    throw narrow::InputError(images_path + ": not an IDX image file");
  if (labels.size() < 8 || big_endian(labels, 0) != 0x801)
    throw narrow::InputError(labels_path + ": not an IDX label file");
  const std::int64_t count = big_endian(images, 4), h = big_endian(images, 8),
                     w = big_endian(images, 12);
  if (std::int64_t(big_endian(labels, 4)) != count ||
      std::int64_t(images.size()) < 16 + count * h * w || std::int64_t(labels.size()) < 8 + count)
    throw narrow::InputError(images_path + ": counts disagree or the file is truncated");
  const std::int64_t n = limit >= 0 ? std::min(limit, count) : count;
  narrow::ImageSet set;
  set.channels = 1;
  set.height = h;
  set.width = w;
  set.pixels.resize(std::size_t(n * h * w));
  for (std::size_t i = 0; i < set.pixels.size(); ++i)
    set.pixels[i] = float(images[16 + i]) / 255.0f;
  set.labels.resize(std::size_t(n));
  for (std::int64_t i = 0; i < n; ++i) set.labels[std::size_t(i)] = labels[std::size_t(8 + i)];
  return set;
}

/// Normalises both sets with the training set's mean and deviation; returns them.
std::pair<float, float> normalise(narrow::ImageSet& train, narrow::ImageSet& test) {
  double sum = 0, sq = 0;
  for (float v : train.pixels) {
    sum += v;
    sq += double(v) * v;
  }
  const double n = double(train.pixels.size());
  const double mean = sum / n, sd = std::sqrt(std::max(1e-12, sq / n - mean * mean));
  for (auto* set : {&train, &test})
    for (float& v : set->pixels) v = float((v - mean) / sd);
  return {float(mean), float(sd)};
}

// ------------------------------------------------------------------------------ the plain loop

/// LeNet-5 as a LibTorch user writes it (the layers of the sequential space's lenet5).
torch::nn::Sequential plain_lenet5() {
  namespace nn = torch::nn;
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 6, 5).padding(2)), nn::ReLU(),
                        nn::MaxPool2d(2), nn::Conv2d(6, 16, 5), nn::ReLU(), nn::MaxPool2d(2),
                        nn::Flatten(), nn::Linear(400, 120), nn::ReLU(), nn::Linear(120, 84),
                        nn::ReLU(), nn::Linear(84, 10));
}

struct PlainRun {
  double seconds = 0;
  std::int64_t images = 0;
  double last_loss = 0;
  double test_accuracy = 0;
};

PlainRun plain_loop(const narrow::ImageSet& train, const narrow::ImageSet& test,
                    const narrow::TrainingConfig& config, std::uint64_t seed) {
  torch::manual_seed(seed);
  auto model = plain_lenet5();
  const std::int64_t n = train.size();
  const torch::Tensor images =
      torch::from_blob(const_cast<float*>(train.pixels.data()), {n, 1, 28, 28});
  const torch::Tensor labels =
      torch::from_blob(const_cast<std::int32_t*>(train.labels.data()), {n}, torch::kInt)
          .to(torch::kLong);
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(config.learning_rate)
                                                       .momentum(config.momentum)
                                                       .weight_decay(config.weight_decay));
  const std::int64_t batch = config.batch_size;
  const std::int64_t per_epoch = (n + batch - 1) / batch;
  const std::int64_t total = config.epochs * per_epoch;
  PlainRun run;
  model->train();
  const auto start = Clock::now();
  std::int64_t it = 0;
  for (std::int64_t epoch = 0; epoch < config.epochs; ++epoch) {
    const torch::Tensor order = torch::randperm(n, torch::kLong);
    double running = 0;
    for (std::int64_t first = 0; first < n; first += batch) {
      const torch::Tensor idx = order.narrow(0, first, std::min(batch, n - first));
      const torch::Tensor x = images.index_select(0, idx);
      const torch::Tensor y = labels.index_select(0, idx);
      const double lr = config.learning_rate * 0.5 *
                        (1 + std::cos(std::numbers::pi * double(it) / double(total)));
      for (auto& group : optimizer.param_groups())
        static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
      optimizer.zero_grad();
      const torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(x), y);
      loss.backward();
      optimizer.step();
      running += loss.item<double>() * double(x.size(0));
      run.images += x.size(0);
      ++it;
    }
    run.last_loss = running / double(n);
  }
  run.seconds = seconds_since(start);

  // Test accuracy (not timed).
  torch::NoGradGuard no_grad;
  model->eval();
  const torch::Tensor test_images =
      torch::from_blob(const_cast<float*>(test.pixels.data()), {test.size(), 1, 28, 28});
  const torch::Tensor test_labels =
      torch::from_blob(const_cast<std::int32_t*>(test.labels.data()), {test.size()}, torch::kInt)
          .to(torch::kLong);
  std::int64_t correct = 0;
  for (std::int64_t first = 0; first < test.size(); first += 256) {
    const std::int64_t count = std::min<std::int64_t>(256, test.size() - first);
    const auto pred = model->forward(test_images.narrow(0, first, count)).argmax(1);
    correct += pred.eq(test_labels.narrow(0, first, count)).sum().item<std::int64_t>();
  }
  run.test_accuracy = test.size() > 0 ? double(correct) / double(test.size()) : 0.0;
  return run;
}

// ------------------------------------------------------------------------------ python

/// The program `python` names: a path as it is, a bare name found on PATH; empty when none.
boost::filesystem::path program(const std::string& python) {
  if (python.find('/') != std::string::npos) return python;
  return boost::process::search_path(python);
}

/// The first of `candidates` that can import torch, or "" (then says so). Run without a shell,
/// so that a name or path with quotes or spaces is only a name.
std::string python_with_torch(const std::vector<std::string>& candidates) {
  namespace bp = boost::process;
  for (const auto& python : candidates) {
    const auto exe = program(python);
    if (exe.empty()) continue;
    try {
      bp::child c(exe, bp::args({"-c", "import torch"}), bp::std_out > bp::null,
                  bp::std_err > bp::null, bp::std_in < bp::null);
      c.wait();
      if (c.exit_code() == 0) return python;
    } catch (const bp::process_error&) {
      // cannot be started: try the next one
    }
  }
  std::string tried;
  for (const auto& python : candidates) tried += (tried.empty() ? "" : ", ") + python;
  std::cout << "PyTorch for Python: skipped (" << tried << ": cannot import torch)\n";
  return {};
}

/// Runs bench/pytorch_loop.py; returns its images per second, or a negative value with a
/// message printed when Python or PyTorch is not there. Its arguments go to it as they are
/// (no shell).
double python_rate(const std::vector<std::string>& pythons, const std::string& script,
                   const std::string& data_dir, int threads, std::int64_t images,
                   std::int64_t epochs, std::int64_t batch) {
  namespace bp = boost::process;
  const std::string python = python_with_torch(pythons);
  if (python.empty()) return -1;
  const std::vector<std::string> args{script,
                                      "--data",
                                      data_dir,
                                      "--threads",
                                      std::to_string(threads),
                                      "--images",
                                      std::to_string(images),
                                      "--epochs",
                                      std::to_string(epochs),
                                      "--batch",
                                      std::to_string(batch)};
  std::string output;
  int status = -1;
  try {
    bp::ipstream out;  // stdout and stderr together, as the script's messages come
    bp::child c(program(python), bp::args(args), (bp::std_out & bp::std_err) > out,
                bp::std_in < bp::null);
    for (std::string line; std::getline(out, line);) output += line + "\n";
    c.wait();
    status = c.exit_code();
  } catch (const bp::process_error& e) {
    std::cout << "PyTorch for Python: skipped (cannot run " << python << ": " << e.what() << ")\n";
    return -1;
  }
  const std::string key = "images_per_second=";
  const auto at = output.rfind(key);
  if (status != 0 || at == std::string::npos) {
    std::cout << "PyTorch for Python: failed (exit status " << status << "):\n" << output;
    return -1;
  }
  std::cout << output;
  return std::stod(output.substr(at + key.size()));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1;
  std::int64_t images = 10000, epochs = 1, batch = 64, rounds = 3, test_images = 2000;
  std::uint64_t seed = 1;
  bool accuracy = false, no_python = false;
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::string script = std::string(NARROW_BENCH_SOURCE_DIR) + "/pytorch_loop.py";
  std::string plugin_dir, only, python;
  po::options_description opts("narrow_bench_trainer options");
  opts.add_options()("help,h", "this help")("threads", po::value(&threads)->default_value(threads),
                                            "LibTorch threads of both loops")(
      "images", po::value(&images)->default_value(images),
      "training images (Fashion-MNIST subset)")("epochs", po::value(&epochs)->default_value(epochs),
                                                "epochs per run")(
      "batch", po::value(&batch)->default_value(batch), "batch size")(
      "rounds", po::value(&rounds)->default_value(rounds),
      "runs of each loop, in alternating order")(
      "test-images", po::value(&test_images)->default_value(test_images),
      "test images for the accuracy check of each run (not timed)")(
      "seed", po::value(&seed)->default_value(seed), "seed of the first round")(
      "data", po::value(&data_dir)->default_value(data_dir), "folder of the Fashion-MNIST files")(
      "python-script", po::value(&script)->default_value(script), "the PyTorch loop")(
      "python", po::value(&python),
      "Python interpreter (default: python3, else /usr/bin/python3, whichever imports torch)")(
      "no-python", po::bool_switch(&no_python), "do not run the PyTorch loop")(
      "plugins", po::value(&plugin_dir), "plugin folder (default: the build's)")(
      "only", po::value(&only),
      "run only 'narrow' or only 'plain' (for profilers; no ratio, no Python)")(
      "accuracy", po::bool_switch(&accuracy),
      "train lenet5 with narrow on all 60,000 training images for 10 epochs and report the "
      "accuracy on all 10,000 test images");
  if (const auto code = narrow::bench::read_options(kProgram, argc, argv, opts, [&] {
        if (!only.empty() && only != "narrow" && only != "plain")
          throw narrow::InputError("--only takes 'narrow' or 'plain', not '" + only + "'");
        if (threads < 1 || images < 1 || epochs < 1 || batch < 1 || rounds < 1 ||
            test_images < 0)
          throw narrow::InputError(
              "--threads, --images, --epochs, --batch and --rounds must be >= 1");
      }))
    return *code;

  return narrow::bench::guarded(kProgram, [&] {
    narrow::Registry registry;
    narrow::PluginLoader loader(registry);
    narrow::bench::load_plugins(loader, plugin_dir);
    const auto space = registry.create_space("sequential", {});
    narrow::Architecture arch = space->build(space->reference("lenet5"));
    if (!arch.finalized()) arch.finalize();

    narrow::PreparedData data;
    data.name = "fashion-mnist";
    data.classes = 10;
    data.train = read_idx(data_dir + "/train-images-idx3-ubyte.gz",
                          data_dir + "/train-labels-idx1-ubyte.gz", accuracy ? -1 : images);
    data.test = read_idx(data_dir + "/t10k-images-idx3-ubyte.gz",
                         data_dir + "/t10k-labels-idx1-ubyte.gz", accuracy ? -1 : test_images);
    const auto [mean, sd] = normalise(data.train, data.test);
    data.mean = {mean};
    data.stddev = {sd};

    narrow::TrainingConfig config;
    config.batch_size = batch;
    config.learning_rate = 0.05;
    config.momentum = 0.9;
    config.weight_decay = 5e-4;
    config.schedule = "cosine";

    torch::set_num_threads(threads);
    std::cout << "narrow trainer benchmark: lenet5 of the sequential space ("
              << narrow::count_parameters(*narrow::build_module(arch))
              << " parameters), Fashion-MNIST from " << data_dir << "\n"
              << "LibTorch " << TORCH_VERSION << ", " << threads << " LibTorch thread"
              << (threads == 1 ? "" : "s") << " (" << torch::get_num_threads()
              << " in this thread), batch " << batch << ", SGD lr 0.05 momentum 0.9 weight decay "
              << "5e-4, cosine schedule\n\n"
              << std::flush;

    if (accuracy) {
      config.epochs = 10;
      std::cout << "accuracy run: " << data.train.size() << " training images, " << config.epochs
                << " epochs, " << data.test.size() << " test images\n"
                << std::flush;
      const auto start = Clock::now();
      const auto result = narrow::train_model(
          arch, data, config, seed, threads, false, [](const narrow::EpochRecord& e) {
            std::cout << "  epoch " << e.epoch << ": lr " << fixed(e.learning_rate, 4)
                      << ", train loss " << fixed(e.train_loss, 4) << ", train accuracy "
                      << fixed(100 * e.train_accuracy, 2) << "%, " << fixed(e.seconds, 1) << " s\n"
                      << std::flush;
          });
      std::cout << "status " << result.status << (result.reason.empty() ? "" : ": ")
                << result.reason << "\ntest accuracy " << fixed(100 * result.test.accuracy, 2)
                << "% on " << result.test.count << " images (test loss "
                << fixed(result.test.loss, 4) << "), " << fixed(result.images_per_second, 0)
                << " images/s, " << fixed(seconds_since(start), 1) << " s in all, " << threads
                << " thread" << (threads == 1 ? "" : "s") << "\n";
      return result.status == "ok" && result.test.accuracy >= 0.89 ? 0 : 1;
    }

    // Same network on both sides.
    auto plain = plain_lenet5();
    const std::int64_t plain_params = narrow::count_parameters(*plain);
    const std::int64_t narrow_params = narrow::count_parameters(*narrow::build_module(arch));
    if (plain_params != narrow_params) {
      std::cerr << "narrow_bench_trainer: the plain model has " << plain_params
                << " parameters, narrow's lenet5 " << narrow_params << "\n";
      return 1;
    }

    config.epochs = epochs;
    std::cout << "each run: " << data.train.size() << " images x " << epochs << " epoch"
              << (epochs == 1 ? "" : "s") << "; " << rounds << " rounds, alternating order\n\n"
              << "round  narrow images/s  plain images/s  ratio  test accuracy narrow/plain\n"
              << std::flush;
    // Warm-up of both (allocator, oneDNN primitives), not counted.
    {
      narrow::PreparedData warm = data;
      const std::int64_t keep = std::min<std::int64_t>(512, warm.train.size());
      warm.train.labels.resize(std::size_t(keep));
      warm.train.pixels.resize(std::size_t(keep * warm.train.image_size()));
      warm.test = {};
      narrow::TrainingConfig one = config;
      one.epochs = 1;
      narrow::train_model(arch, warm, one, seed, threads, false, {});
      plain_loop(warm.train, warm.test, one, seed);
    }
    std::vector<double> narrow_rates, plain_rates, ratios;
    double narrow_images = 0, narrow_seconds = 0, plain_images = 0, plain_seconds = 0;
    double narrow_cpu = 0, plain_cpu = 0;
    bool ok = true;
    for (std::int64_t r = 0; r < rounds; ++r) {
      narrow::TrainResult nr;
      PlainRun pr;
      auto run_narrow = [&] {
        const double cpu = process_cpu_seconds();
        nr = narrow::train_model(arch, data, config, seed + std::uint64_t(r), threads, false, {});
        narrow_cpu += process_cpu_seconds() - cpu;
      };
      auto run_plain = [&] {
        const double cpu = process_cpu_seconds();
        pr = plain_loop(data.train, data.test, config, seed + std::uint64_t(r));
        plain_cpu += process_cpu_seconds() - cpu;
      };
      if (only == "narrow") {
        run_narrow();
        std::printf("%5lld  %15.0f\n", (long long)r + 1, nr.images_per_second);
        continue;
      }
      if (only == "plain") {
        run_plain();
        std::printf("%5lld  %15s  %14.0f\n", (long long)r + 1, "-", double(pr.images) / pr.seconds);
        continue;
      }
      if (r % 2 == 0) {
        run_narrow();
        run_plain();
      } else {
        run_plain();
        run_narrow();
      }
      const double plain_rate = double(pr.images) / pr.seconds;
      narrow_rates.push_back(nr.images_per_second);
      plain_rates.push_back(plain_rate);
      ratios.push_back(nr.images_per_second / plain_rate);
      narrow_images += nr.images_per_second * nr.seconds;
      narrow_seconds += nr.seconds;
      plain_images += double(pr.images);
      plain_seconds += pr.seconds;
      std::printf("%5lld  %15.0f  %14.0f  %5.3f", (long long)r + 1, nr.images_per_second,
                  plain_rate, ratios.back());
      if (data.test.size() > 0)
        std::printf("  %6.2f%% / %6.2f%%", 100 * nr.test.accuracy, 100 * pr.test_accuracy);
      std::printf("\n");
      std::fflush(stdout);
      if (nr.status != "ok") {
        std::cerr << "narrow_bench_trainer: narrow's training failed: " << nr.reason << "\n";
        ok = false;
      }
    }
    if (!only.empty()) return ok ? 0 : 1;
    const double narrow_rate = narrow_images / narrow_seconds;
    const double plain_rate = plain_images / plain_seconds;
    std::cout << "\nnarrow train_model:   " << fixed(narrow_rate, 0) << " images/s (median "
              << fixed(median(narrow_rates), 0) << ")\n"
              << "plain LibTorch loop:  " << fixed(plain_rate, 0) << " images/s (median "
              << fixed(median(plain_rates), 0) << ")\n"
              << "ratio narrow/plain:   " << fixed(narrow_rate / plain_rate, 3)
              << " (median of rounds " << fixed(median(ratios), 3) << "), " << threads << " thread"
              << (threads == 1 ? "" : "s") << "\n"
              << "CPU time of whole runs (training and test evaluation, all threads): narrow "
              << fixed(narrow_cpu, 2) << " s, plain " << fixed(plain_cpu, 2)
              << " s, ratio plain/narrow " << fixed(plain_cpu / narrow_cpu, 3) << "\n\n"
              << std::flush;

    if (!no_python) {
      const std::vector<std::string> pythons =
          python.empty() ? std::vector<std::string>{"python3", "/usr/bin/python3"}
                         : std::vector<std::string>{python};
      const double py =
          python_rate(pythons, script, data_dir, threads, data.train.size(), epochs, batch);
      if (py > 0)
        std::cout << "ratio narrow/PyTorch: " << fixed(narrow_rate / py, 3) << " (" << threads
                  << " thread" << (threads == 1 ? "" : "s") << ")\n";
    }
    return ok ? 0 : 1;
  });
}
