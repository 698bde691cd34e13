// The LibTorch trainer and evaluator.
//
// Everything random in a training comes from the job's seed: the weights and the dropout masks
// from one at::Generator of the job, the batch order and the augmentation from narrow's PCG
// stream of (seed, epoch). Nothing reads LibTorch's global generator, so a result depends only
// on the seed and the thread count, not on what other jobs in the process do.
//
// The data is never copied as a whole: the training images are read straight from the
// PreparedData buffers into one batch buffer that is reused for every iteration, with the crop
// and flip of the augmentation applied while copying.
#include "engine/trainer.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <cstring>
#include <functional>
#include <numbers>
#include <sstream>
#include <utility>
#include <vector>

#include "narrow/errors.hpp"
#include "narrow/random.hpp"

namespace narrow {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Flushes denormal floats to zero in this thread for its lifetime (FTZ and DAZ, as
/// torch.set_flush_denormal(True) does), then restores the thread's mode. Values below
/// 1.2e-38 carry nothing a training needs, and x86 cores compute with them many times slower.
class FlushDenormals {
 public:
#if defined(__SSE2__)
  FlushDenormals() : saved_(_mm_getcsr()) {
    _mm_setcsr(saved_ | 0x8040u);
  }
  ~FlushDenormals() {
    _mm_setcsr(saved_);
  }

 private:
  unsigned saved_;
#endif
};

/// The first line of a LibTorch message (they often go on with a C++ backtrace or a hint).
std::string first_line(const std::string& text) {
  const auto end = text.find('\n');
  return end == std::string::npos ? text : text.substr(0, end);
}

std::string shape_text(std::int64_t c, std::int64_t h, std::int64_t w) {
  return "[" + std::to_string(c) + "," + std::to_string(h) + "," + std::to_string(w) + "]";
}

/// The sizes, pixel count and labels of a set must fit the network. Empty sets always fit.
void check_set(const ImageSet& set, const Architecture& arch, std::int64_t classes,
               const std::string& what) {
  const std::int64_t n = set.size();
  if (n == 0) return;
  const Shape& in = arch.input();
  if (set.channels != in.c || set.height != in.h || set.width != in.w)
    throw InputError("the " + what + " images are " +
                     shape_text(set.channels, set.height, set.width) + " but the network takes " +
                     in.to_string());
  if (static_cast<std::int64_t>(set.pixels.size()) != n * set.image_size())
    throw InputError("the " + what + " set has " + std::to_string(set.pixels.size()) +
                     " pixel values for " + std::to_string(n) + " images of " +
                     std::to_string(set.image_size()) + " values");
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int32_t label = set.labels[static_cast<std::size_t>(i)];
    if (label < 0 || label >= classes)
      throw InputError("the " + what + " set has label " + std::to_string(label) + " at image " +
                       std::to_string(i) + ", outside 0.." + std::to_string(classes - 1));
  }
}

/// The images of a set as one [N, C, H, W] tensor over its buffer (no copy; never written).
torch::Tensor wrap_images(const ImageSet& set) {
  return torch::from_blob(const_cast<float*>(set.pixels.data()),
                          {set.size(), set.channels, set.height, set.width}, torch::kFloat);
}

/// Index of the largest of `n` values (the first one on ties; NaN is never the largest).
std::int64_t argmax(const float* v, std::int64_t n) {
  std::int64_t best = 0;
  for (std::int64_t k = 1; k < n; ++k)
    if (v[k] > v[best]) best = k;
  return best;
}

/// Logits as a contiguous float tensor that can be read through a pointer.
torch::Tensor readable(const torch::Tensor& logits) {
  torch::Tensor t = logits.detach();
  return t.is_contiguous() ? t : t.contiguous();
}

// --------------------------------------------------------------------------- initialisation

/// LibTorch's default for conv and linear layers (kaiming_uniform_ with a = sqrt(5), then a
/// uniform bias over +-1/sqrt(fan_in)), drawn from `generator`.
void init_affine(torch::Tensor& weight, torch::Tensor& bias, at::Generator& generator) {
  const std::int64_t fan_in = weight.dim() > 1 ? weight.numel() / weight.size(0) : 0;
  if (fan_in == 0) return;
  const double a = std::sqrt(5.0);
  const double gain = std::sqrt(2.0 / (1.0 + a * a));
  const double bound = gain * std::sqrt(3.0 / static_cast<double>(fan_in));
  weight.uniform_(-bound, bound, generator);
  if (bias.defined()) {
    const double b = 1.0 / std::sqrt(static_cast<double>(fan_in));
    bias.uniform_(-b, b, generator);
  }
}

// --------------------------------------------------------------------------- batches

/// Copies image `src` (C x H x W) to `dst`, cropped from the image zero-padded by `pad` at
/// offset (oy, ox) in 0..2*pad, then mirrored left-right when `flip`. "Zero" is the value a
/// black pixel has after normalisation, `fill[c]` per channel.
void crop_flip(const float* src, float* dst, std::int64_t channels, std::int64_t h, std::int64_t w,
               std::int64_t pad, std::int64_t oy, std::int64_t ox, bool flip, const float* fill) {
  const std::int64_t dy = oy - pad, dx = ox - pad;
  // Output columns x whose source column x + dx (before the flip) is inside the image.
  const std::int64_t x0 = std::max<std::int64_t>(0, -dx);
  const std::int64_t x1 = std::min<std::int64_t>(w, w - dx);
  for (std::int64_t c = 0; c < channels; ++c) {
    const float value = fill[c];
    for (std::int64_t y = 0; y < h; ++y) {
      float* out = dst + (c * h + y) * w;
      const std::int64_t sy = y + dy;
      if (sy < 0 || sy >= h || x0 >= x1) {
        std::fill(out, out + w, value);
        continue;
      }
      const float* row = src + (c * h + sy) * w;
      if (!flip) {
        std::fill(out, out + x0, value);
        std::memcpy(out + x0, row + x0 + dx, static_cast<std::size_t>(x1 - x0) * sizeof(float));
        std::fill(out + x1, out + w, value);
      } else {
        // out[x] = cropped[w-1-x]; cropped[u] = row[u+dx] for u in [x0, x1).
        for (std::int64_t x = 0; x < w; ++x) {
          const std::int64_t u = w - 1 - x;
          out[x] = (u >= x0 && u < x1) ? row[u + dx] : value;
        }
      }
    }
  }
}

/// Reads batches of the training set in the order of a permutation into one buffer.
class BatchReader {
 public:
  BatchReader(const PreparedData& data, std::int64_t batch_size)
      : set_(data.train), augmentation_(data.augmentation) {
    const auto c = set_.channels;
    images_ = torch::empty({batch_size, c, set_.height, set_.width}, torch::kFloat);
    targets_ = torch::empty({batch_size}, torch::kLong);
    fill_.assign(static_cast<std::size_t>(c), 0.0f);
    // Padding stands for black pixels: value 0 before normalisation.
    if (data.mean.size() == static_cast<std::size_t>(c) &&
        data.stddev.size() == static_cast<std::size_t>(c))
      for (std::size_t k = 0; k < fill_.size(); ++k)
        if (data.stddev[k] != 0) fill_[k] = -data.mean[k] / data.stddev[k];
    if (augmentation_.pad < 0)
      throw InputError("augmentation pad must be >= 0, got " + std::to_string(augmentation_.pad));
  }

  bool augments() const { return augmentation_.pad > 0 || augmentation_.flip; }

  /// Images order[first .. first+count) as a batch [count, C, H, W] and their labels; the
  /// augmentation draws from `rng`.
  std::pair<torch::Tensor, torch::Tensor> read(const std::vector<std::int64_t>& order,
                                               std::int64_t first, std::int64_t count, Rng& rng) {
    const std::int64_t size = set_.image_size();
    float* dst = images_.data_ptr<float>();
    std::int64_t* labels = targets_.data_ptr<std::int64_t>();
    const float* pixels = set_.pixels.data();
    const std::int64_t pad = augmentation_.pad;
    for (std::int64_t k = 0; k < count; ++k) {
      const std::int64_t i = order[static_cast<std::size_t>(first + k)];
      const float* src = pixels + i * size;
      labels[k] = set_.labels[static_cast<std::size_t>(i)];
      if (!augments()) {
        std::memcpy(dst + k * size, src, static_cast<std::size_t>(size) * sizeof(float));
        continue;
      }
      std::int64_t oy = pad, ox = pad;
      if (pad > 0) {
        const auto span = static_cast<std::uint64_t>(2 * pad + 1);
        oy = static_cast<std::int64_t>(rng(span));
        ox = static_cast<std::int64_t>(rng(span));
      }
      const bool flip = augmentation_.flip && (rng() >> 63) != 0;
      crop_flip(src, dst + k * size, set_.channels, set_.height, set_.width, pad, oy, ox, flip,
                fill_.data());
    }
    if (count == images_.size(0)) return {images_, targets_};
    return {images_.narrow(0, 0, count), targets_.narrow(0, 0, count)};
  }

 private:
  const ImageSet& set_;
  Augmentation augmentation_;
  torch::Tensor images_, targets_;
  std::vector<float> fill_;
};

/// The images of one epoch in the order of `rng` (Fisher-Yates).
void shuffle(std::vector<std::int64_t>& order, Rng& rng) {
  for (std::size_t i = order.size(); i > 1; --i) {
    const auto j = static_cast<std::size_t>(rng(static_cast<std::uint64_t>(i)));
    std::swap(order[i - 1], order[j]);
  }
}

// --------------------------------------------------------------------------- configuration

enum class Schedule { cosine, step, constant };

Schedule check_config(const TrainingConfig& c, int threads) {
  auto bad = [](const std::string& what) { throw InputError("training: " + what); };
  if (threads < 1) bad("threads must be >= 1, got " + std::to_string(threads));
  if (c.batch_size < 1) bad("batch_size must be >= 1, got " + std::to_string(c.batch_size));
  if (c.epochs < 0) bad("epochs must be >= 0, got " + std::to_string(c.epochs));
  if (c.iterations < 0) bad("iterations must be >= 0, got " + std::to_string(c.iterations));
  if (!(c.learning_rate >= 0) || !std::isfinite(c.learning_rate))
    bad("learning_rate must be a finite number >= 0");
  if (!(c.momentum >= 0) || !std::isfinite(c.momentum)) bad("momentum must be >= 0");
  if (c.nesterov && c.momentum <= 0) bad("nesterov needs a momentum > 0");
  if (!(c.weight_decay >= 0) || !std::isfinite(c.weight_decay)) bad("weight_decay must be >= 0");
  if (!(c.label_smoothing >= 0 && c.label_smoothing <= 1)) bad("label_smoothing must be in [0, 1]");
  if (c.schedule == "cosine") return Schedule::cosine;
  if (c.schedule == "constant") return Schedule::constant;
  if (c.schedule == "step") {
    if (c.step_epochs < 1) bad("step_epochs must be >= 1, got " + std::to_string(c.step_epochs));
    if (!(c.gamma >= 0) || !std::isfinite(c.gamma)) bad("gamma must be >= 0");
    return Schedule::step;
  }
  bad("unknown schedule '" + c.schedule + "' (valid: constant, cosine, step)");
  return Schedule::constant;
}

/// The learning rate of iteration `it` (0-based) of `total`, in epoch `epoch` (0-based).
double learning_rate(const TrainingConfig& c, Schedule s, std::int64_t it, std::int64_t total,
                     std::int64_t epoch) {
  switch (s) {
    case Schedule::cosine:
      if (total <= 0) return c.learning_rate;
      return c.learning_rate * 0.5 *
             (1.0 +
              std::cos(std::numbers::pi * static_cast<double>(it) / static_cast<double>(total)));
    case Schedule::step:
      return c.learning_rate * std::pow(c.gamma, static_cast<double>(epoch / c.step_epochs));
    case Schedule::constant:
      break;
  }
  return c.learning_rate;
}

std::string number_text(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

}  // namespace

// ------------------------------------------------------------------------------ init_weights

void init_weights(GraphModule& module, at::Generator& generator) {
  torch::NoGradGuard no_grad;
  for (const auto& item : module->named_modules("", /*include_self=*/false)) {
    torch::nn::Module& m = *item.value();
    if (auto* conv = m.as<torch::nn::Conv2dImpl>()) {
      init_affine(conv->weight, conv->bias, generator);
    } else if (auto* fc = m.as<torch::nn::LinearImpl>()) {
      init_affine(fc->weight, fc->bias, generator);
    } else if (auto* bn2 = m.as<torch::nn::BatchNorm2dImpl>()) {
      bn2->reset_parameters();  // weight 1, bias 0, running mean 0, variance 1, count 0
    } else if (auto* bn1 = m.as<torch::nn::BatchNorm1dImpl>()) {
      bn1->reset_parameters();
    } else if (!m.parameters(/*recurse=*/false).empty()) {
      throw Error("init_weights: layer '" + item.key() + "' is a " + m.name() +
                  ", which narrow does not know how to initialise");
    }
  }
}

// ------------------------------------------------------------------------------- evaluate

namespace {

/// Runs `module` in inference mode over `set`, `batch_size` images at a time, and hands each
/// batch's logits to `use(logits, first, count)`; checks the arguments first, and puts the
/// module back in the mode it was in, whatever happens.
void for_each_batch(GraphModule& module, const ImageSet& set, std::int64_t classes,
                    std::int64_t batch_size,
                    const std::function<void(const torch::Tensor&, std::int64_t, std::int64_t)>&
                        use) {
  if (batch_size < 1)
    throw InputError("evaluate: batch size must be >= 1, got " + std::to_string(batch_size));
  if (classes < 1) throw InputError("evaluate: classes must be >= 1");
  check_set(set, module->architecture(), classes, "evaluated");
  if (module->architecture().classes() != classes)
    throw InputError("evaluate: the network has " +
                     std::to_string(module->architecture().classes()) + " outputs, not " +
                     std::to_string(classes) + " classes");
  const std::int64_t n = set.size();
  if (n == 0) return;
  FlushDenormals flush;
  const bool was_training = module->is_training();
  module->eval();
  try {
    c10::InferenceMode inference;
    const torch::Tensor images = wrap_images(set);
    for (std::int64_t first = 0; first < n; first += batch_size) {
      const std::int64_t count = std::min(batch_size, n - first);
      use(module->forward(images.narrow(0, first, count)), first, count);
    }
  } catch (const c10::Error& e) {
    module->train(was_training);
    throw Error("evaluation failed in LibTorch: " + first_line(e.what_without_backtrace()));
  } catch (...) {
    module->train(was_training);
    throw;
  }
  module->train(was_training);
}

}  // namespace

Evaluation evaluate(GraphModule& module, const ImageSet& set, std::int64_t classes,
                    std::int64_t batch_size) {
  Evaluation ev;
  const std::int64_t n = set.size();
  ev.count = n;
  const auto width = static_cast<std::size_t>(std::max<std::int64_t>(classes, 0));
  ev.confusion.assign(width, std::vector<std::int64_t>(width, 0));
  double loss_sum = 0;
  std::int64_t correct = 0;
  namespace F = torch::nn::functional;
  // The labels are read once for_each_batch has checked the set.
  for_each_batch(module, set, classes, batch_size,
                 [&](const torch::Tensor& logits, std::int64_t first, std::int64_t count) {
                   const std::int32_t* label = set.labels.data() + first;
                   const torch::Tensor targets =
                       torch::from_blob(const_cast<std::int32_t*>(label), {count}, torch::kInt)
                           .to(torch::kLong);
                   loss_sum += F::cross_entropy(logits, targets,
                                                F::CrossEntropyFuncOptions().reduction(torch::kSum))
                                   .item<double>();
                   const torch::Tensor out = readable(logits);
                   const float* v = out.data_ptr<float>();
                   for (std::int64_t k = 0; k < count; ++k) {
                     const std::int64_t truth = label[k];
                     const std::int64_t guess = argmax(v + k * classes, classes);
                     ++ev.confusion[static_cast<std::size_t>(truth)]
                                   [static_cast<std::size_t>(guess)];
                     correct += guess == truth;
                   }
                 });
  if (n == 0) return ev;
  ev.loss = loss_sum / static_cast<double>(n);
  ev.accuracy = static_cast<double>(correct) / static_cast<double>(n);
  return ev;
}

std::vector<float> probabilities(GraphModule& module, const ImageSet& set, std::int64_t classes,
                                 std::int64_t batch_size) {
  std::vector<float> out(static_cast<std::size_t>(set.size() * std::max<std::int64_t>(classes, 0)));
  for_each_batch(module, set, classes, batch_size,
                 [&](const torch::Tensor& logits, std::int64_t first, std::int64_t count) {
                   const torch::Tensor p = readable(torch::softmax(logits, 1));
                   std::copy_n(p.data_ptr<float>(), count * classes,
                               out.data() + first * classes);
                 });
  return out;
}

// ------------------------------------------------------------------------------ train_model

TrainResult train_model(const Architecture& arch, const PreparedData& data,
                        const TrainingConfig& config, std::uint64_t seed, int threads,
                        bool keep_weights, const std::function<void(const EpochRecord&)>& on_epoch,
                        GraphModule* module_out, const TrainingExtras* extras) {
  const Schedule schedule = check_config(config, threads);
  // LibTorch (OpenMP) sets a thread's count lazily on its first parallel call, from the value
  // another thread may have set last; settle that first, then set this thread's count.
  at::internal::lazy_init_num_threads();
  at::set_num_threads(threads);
  FlushDenormals flush;

  if (!arch.finalized()) throw InvalidArchitecture("train_model needs a finalized architecture");
  if (arch.classes() != data.classes)
    throw InputError("the network has " + std::to_string(arch.classes()) +
                     " outputs but the data set '" + data.name + "' has " +
                     std::to_string(data.classes) + " classes");
  if (data.train.size() == 0)
    throw InputError("the data set '" + data.name + "' has no training images");
  check_set(data.train, arch, data.classes, "training");
  check_set(data.validation, arch, data.classes, "validation");
  check_set(data.test, arch, data.classes, "test");

  TrainResult result;
  result.architecture_hash = arch.hash();
  result.threads = threads;

  const std::int64_t n = data.train.size();
  const std::int64_t batch = std::min(config.batch_size, n);
  // A last batch of one image is dropped: batch norm cannot train on a single sample.
  std::int64_t per_epoch = (n + batch - 1) / batch;
  if (per_epoch > 1 && n % batch == 1) --per_epoch;
  const std::int64_t total = config.iterations > 0 ? config.iterations : config.epochs * per_epoch;
  const std::int64_t eval_batch = std::max<std::int64_t>(256, batch);

  try {
    GraphModule module = build_module(arch);
    // mt19937 keeps 32 bits of a seed: spread all 64 over them.
    const std::uint64_t mixed = mix64(seed);
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(mixed ^ (mixed >> 32));
    if (extras && !extras->init_weights.empty())
      load_weights(module, extras->init_weights);
    else
      init_weights(module, generator);
    module->set_generator(generator);
    result.parameters = count_parameters(*module);

    namespace F = torch::nn::functional;
    std::vector<torch::Tensor> parameters = module->parameters();
    torch::optim::SGD optimizer(parameters, torch::optim::SGDOptions(config.learning_rate)
                                                .momentum(config.momentum)
                                                .nesterov(config.nesterov)
                                                .weight_decay(config.weight_decay));
    std::optional<torch::optim::SGD> extra_optimizer;
    if (extras && !extras->parameters.empty())
      extra_optimizer.emplace(extras->parameters, torch::optim::SGDOptions(extras->learning_rate)
                                                      .momentum(0)
                                                      .weight_decay(0));
    auto& sgd = static_cast<torch::optim::SGDOptions&>(optimizer.param_groups().at(0).options());
    const auto loss_options = F::CrossEntropyFuncOptions().label_smoothing(config.label_smoothing);

    BatchReader reader(data, batch);
    std::vector<std::int64_t> order(static_cast<std::size_t>(n));
    std::int64_t images_trained = 0;
    std::int64_t it = 0;
    double train_seconds = 0;
    Evaluation last_validation;
    bool validation_current = false;
    module->train();

    for (std::int64_t epoch = 0; it < total; ++epoch) {
      const auto start = Clock::now();
      Rng rng = stream_rng(seed, static_cast<std::uint64_t>(epoch));
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int64_t>(i);
      shuffle(order, rng);

      EpochRecord record;
      record.epoch = epoch + 1;
      record.learning_rate = learning_rate(config, schedule, it, total, epoch);
      double loss_sum = 0;
      std::int64_t correct = 0, seen = 0;
      for (std::int64_t b = 0; b < per_epoch && it < total; ++b) {
        const std::int64_t first = b * batch;
        const std::int64_t count = std::min(batch, n - first);
        auto [images, targets] = reader.read(order, first, count, rng);
        const double lr = learning_rate(config, schedule, it, total, epoch);

        for (auto& p : parameters) p.mutable_grad().reset();  // "set to none"
        torch::Tensor penalty;
        if (extras) {
          for (auto p : extras->parameters) p.mutable_grad().reset();
          if (extras->before_step) penalty = extras->before_step(module, epoch);
        }
        const torch::Tensor logits = module->forward(images);
        torch::Tensor loss = F::cross_entropy(logits, targets, loss_options);
        const double value = loss.item<double>();
        if (penalty.defined()) loss = loss + penalty;
        if (!std::isfinite(value) || (penalty.defined() && !std::isfinite(loss.item<double>()))) {
          result.status = "failed";
          result.reason = std::string("loss became ") + (std::isnan(value) ? "NaN" : "Inf") +
                          " at epoch " + std::to_string(epoch + 1) + ", iteration " +
                          std::to_string(it + 1) + " (learning rate " + number_text(lr) + ")";
          break;
        }
        loss.backward();
        sgd.lr(lr);
        optimizer.step();
        if (extra_optimizer) {
          // The masks follow the weights' schedule: their rate falls as the weights' does.
          auto& o = static_cast<torch::optim::SGDOptions&>(
              extra_optimizer->param_groups().at(0).options());
          o.lr(config.learning_rate > 0 ? extras->learning_rate * lr / config.learning_rate
                                        : extras->learning_rate);
          extra_optimizer->step();
        }
        ++it;

        const torch::Tensor out = readable(logits);
        const float* v = out.data_ptr<float>();
        const std::int64_t* label = targets.data_ptr<std::int64_t>();
        const std::int64_t classes = data.classes;
        for (std::int64_t k = 0; k < count; ++k)
          correct += argmax(v + k * classes, classes) == label[k];
        loss_sum += value * static_cast<double>(count);
        seen += count;
      }
      record.seconds = seconds_since(start);
      train_seconds += record.seconds;
      images_trained += seen;
      result.epochs = epoch + 1;
      if (seen > 0) {
        record.train_loss = loss_sum / static_cast<double>(seen);
        record.train_accuracy = static_cast<double>(correct) / static_cast<double>(seen);
      }
      if (result.status == "failed") {
        if (seen > 0) result.history.push_back(record);
        break;
      }
      if (data.validation.size() > 0) {
        last_validation = evaluate(module, data.validation, data.classes, eval_batch);
        validation_current = true;
        record.val_loss = last_validation.loss;
        record.val_accuracy = last_validation.accuracy;
      }
      result.history.push_back(record);
      if (on_epoch) on_epoch(record);
    }

    result.iterations = it;
    result.seconds = train_seconds;
    result.images_per_second =
        train_seconds > 0 ? static_cast<double>(images_trained) / train_seconds : 0.0;
    if (result.status != "failed" && (!extras || extras->final_evaluation)) {
      if (data.validation.size() > 0)
        result.validation = validation_current
                                ? std::move(last_validation)
                                : evaluate(module, data.validation, data.classes, eval_batch);
      result.test = evaluate(module, data.test, data.classes, eval_batch);
    }
    if (keep_weights) result.weights = save_weights(module);
    if (module_out) *module_out = module;
  } catch (const c10::Error& e) {
    throw Error("training failed in LibTorch: " + first_line(e.what_without_backtrace()));
  }
  return result;
}

// ------------------------------------------------------------------------------ weights

std::string save_weights(GraphModule& module) {
  try {
    torch::serialize::OutputArchive archive;
    module->save(archive);
    std::ostringstream out;
    archive.save_to(out);
    return std::move(out).str();
  } catch (const c10::Error& e) {
    throw Error("cannot save the weights: " + first_line(e.what_without_backtrace()));
  }
}

namespace {

/// Copies the parameters and buffers of `module` (and its children, recursively) from
/// `archive`, checking that each one is there with the same shape. `path` names the module.
void load_into(torch::nn::Module& module, torch::serialize::InputArchive& archive,
               const std::string& path) {
  auto copy = [&](const std::string& key, torch::Tensor& target, bool buffer) {
    const std::string name = path.empty() ? key : path + "." + key;
    torch::Tensor stored;
    if (!archive.try_read(key, stored, buffer) || !stored.defined())
      throw Error("cannot load the weights: '" + name + "' is missing");
    if (stored.sizes() != target.sizes()) {
      std::ostringstream msg;
      msg << "cannot load the weights: '" << name << "' has shape " << stored.sizes()
          << " but the network's is " << target.sizes();
      throw Error(msg.str());
    }
    if (stored.scalar_type() != target.scalar_type())
      throw Error("cannot load the weights: '" + name + "' has type " +
                  std::string(c10::toString(stored.scalar_type())) + " but the network's is " +
                  std::string(c10::toString(target.scalar_type())));
    target.copy_(stored);
  };
  for (auto& item : module.named_parameters(/*recurse=*/false))
    copy(item.key(), item.value(), false);
  for (auto& item : module.named_buffers(/*recurse=*/false)) copy(item.key(), item.value(), true);
  for (const auto& child : module.named_children()) {
    const std::string name = path.empty() ? child.key() : path + "." + child.key();
    torch::serialize::InputArchive child_archive;
    if (!archive.try_read(child.key(), child_archive))
      throw Error("cannot load the weights: layer '" + name + "' is missing");
    load_into(*child.value(), child_archive, name);
  }
}

}  // namespace

void load_weights(GraphModule& module, const std::string& bytes) {
  try {
    torch::serialize::InputArchive archive;
    std::istringstream in(bytes);
    archive.load_from(in);
    torch::NoGradGuard no_grad;
    load_into(*module, archive, "");
  } catch (const c10::Error& e) {
    throw Error("cannot load the weights: " + first_line(e.what_without_backtrace()));
  }
}

}  // namespace narrow
