#include "engine/quantized_model.hpp"

#include "core/rounded_ops.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <span>

#include "narrow/architecture.hpp"
#include "narrow/errors.hpp"

namespace narrow {

namespace {

/// Rounds a float tensor in place, `rows` slices of equal size one by one (a batch image by
/// image), each as one tensor of `info`.
void round_rows(torch::Tensor& t, std::int64_t rows, const NumberFormat& format,
                const TensorInfo& info, const RoundingOptions& options, std::uint64_t stream) {
  if (!t.is_contiguous()) t = t.contiguous();
  float* p = t.data_ptr<float>();
  const std::int64_t n = t.numel();
  if (rows < 1 || n == 0) return;
  const std::int64_t per = n / rows;
  for (std::int64_t r = 0; r < rows; ++r) {
    RoundingOptions o = options;
    // Distinct random bits for every value of every tensor of every image.
    o.offset = options.offset + (stream << 40) + static_cast<std::uint64_t>(r * per);
    format.quantize(std::span<float>(p + r * per, static_cast<std::size_t>(per)), info, o);
  }
}

}  // namespace

QuantizedModel::QuantizedModel(const Architecture& arch, GraphModule& trained) : arch_(arch) {
  if (!arch_.finalized()) arch_.finalize();
  const auto& layers = arch_.layers();
  const std::size_t n = layers.size();
  const std::vector<int> folds = batchnorm_folds(arch_);
  std::map<std::string, std::shared_ptr<torch::nn::Module>> children;
  for (const auto& c : trained->named_children()) children[c.key()] = c.value();

  torch::NoGradGuard no_grad;
  steps_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    Step& s = steps_[i];
    s.layer = layers[i];
    s.op = layers[i].op;
    s.inputs = arch_.input_indices(i);
    auto child = children.count(layers[i].id) ? children.at(layers[i].id) : nullptr;
    if (s.op == Op::conv2d || s.op == Op::linear) {
      if (!child) throw Error("precision: layer '" + layers[i].id + "' has no module");
      if (auto* conv = child->as<torch::nn::Conv2dImpl>()) {
        s.weight = conv->weight.detach().clone();
        s.bias = conv->bias.defined() ? conv->bias.detach().clone()
                                      : torch::zeros({conv->weight.size(0)});
      } else if (auto* lin = child->as<torch::nn::LinearImpl>()) {
        s.weight = lin->weight.detach().clone();
        s.bias = lin->bias.defined() ? lin->bias.detach().clone()
                                     : torch::zeros({lin->weight.size(0)});
      }
    } else if (s.op == Op::batchnorm) {
      torch::Tensor gamma, beta, mean, var;
      double eps = 1e-5;
      if (auto* bn = child ? child->as<torch::nn::BatchNorm2dImpl>() : nullptr) {
        gamma = bn->weight, beta = bn->bias, mean = bn->running_mean, var = bn->running_var;
        eps = bn->options.eps();
      } else if (auto* bn1 = child ? child->as<torch::nn::BatchNorm1dImpl>() : nullptr) {
        gamma = bn1->weight, beta = bn1->bias, mean = bn1->running_mean, var = bn1->running_var;
        eps = bn1->options.eps();
      } else {
        throw Error("precision: batch norm '" + layers[i].id + "' has no module");
      }
      const torch::Tensor scale = gamma.detach() / torch::sqrt(var.detach() + eps);
      const torch::Tensor shift = beta.detach() - mean.detach() * scale;
      // Fold into the convolution that feeds only this batch norm.
      if (const int j = folds[i]; j >= 0) {
        Step& conv = steps_[std::size_t(j)];
        conv.weight = conv.weight * scale.view({-1, 1, 1, 1});
        conv.bias = conv.bias * scale + shift;
        s.identity = true;
        ++folded_;
      } else {
        s.weight = scale.clone();
        s.bias = shift.clone();
      }
    }
  }
  for (const Step& s : steps_)
    if (s.weight.defined()) parameters_ += s.weight.numel() + (s.bias.defined() ? s.bias.numel() : 0);
}

bool QuantizedModel::rounds_output(std::size_t i) const {
  return computes_new_values(steps_[i].op) && !steps_[i].identity;
}

std::int64_t QuantizedModel::rounded_tensors() const {
  std::int64_t n = 1;  // the input
  for (std::size_t i = 0; i < steps_.size(); ++i) n += rounds_output(i);
  return n;
}

std::int64_t QuantizedModel::stored_bytes(const NumberFormat* format) const {
  std::int64_t bits = 0;
  for (const Step& s : steps_) {
    if (!s.weight.defined()) continue;
    const std::int64_t weights = s.weight.numel(), biases = s.bias.defined() ? s.bias.numel() : 0;
    if (!format) {
      bits += 32 * (weights + biases);
      continue;
    }
    bits += format->stored_bits(TensorInfo{TensorInfo::Role::weight, s.weight.size(0)}, weights);
    if (biases > 0) bits += format->stored_bits(TensorInfo{TensorInfo::Role::bias, 1}, biases);
  }
  if (format) {
    TensorInfo activation;
    activation.calibrated = format->calibration_images() > 0;
    bits += format->stored_bits(activation, arch_.input().volume());
    for (std::size_t i = 0; i < steps_.size(); ++i)
      if (rounds_output(i)) bits += format->stored_bits(activation, arch_.shape(i).volume());
  }
  return (bits + 7) / 8;
}

torch::Tensor QuantizedModel::forward(torch::Tensor x, const std::vector<torch::Tensor>& weights,
                                      const std::vector<torch::Tensor>& biases,
                                      const NumberFormat* format, const RoundingOptions& options,
                                      const Ranges* ranges, Ranges* record) const {
  const std::int64_t batch = x.size(0);
  // Rounds (or records) the tensor of slot k: 0 the input, i + 1 the output of layer i.
  auto visit = [&](torch::Tensor& t, std::size_t k) {
    if (record) {
      const auto [lo, hi] = torch::aminmax(t);
      Range& r = (*record)[k];
      r.low = std::min(r.low, lo.item<float>());
      r.high = std::max(r.high, hi.item<float>());
    } else if (format) {
      TensorInfo info;
      if (ranges) {
        info.calibrated = true;
        info.low = (*ranges)[k].low;
        info.high = (*ranges)[k].high;
      }
      round_rows(t, batch, *format, info, options, k);
    }
  };
  visit(x, 0);
  const std::size_t n = steps_.size();
  std::vector<torch::Tensor> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const Step& s = steps_[i];
    const Layer& l = s.layer;
    auto in = [&](std::size_t k) -> const torch::Tensor& {
      const int j = s.inputs[k];
      return j < 0 ? x : out[static_cast<std::size_t>(j)];
    };
    const torch::Tensor& a = in(0);
    torch::Tensor y;
    switch (s.op) {
      case Op::conv2d:
        y = torch::conv2d(a, weights[i], biases[i], l.stride, l.padding, /*dilation=*/1,
                          l.groups);
        break;
      case Op::linear:
        y = torch::linear(a.dim() > 2 ? a.flatten(1) : a, weights[i], biases[i]);
        break;
      case Op::batchnorm:
        if (s.identity) {
          y = a;
        } else {
          std::vector<std::int64_t> shape(static_cast<std::size_t>(a.dim()), 1);
          shape[1] = -1;
          y = a * weights[i].view(shape) + biases[i].view(shape);
        }
        break;
      case Op::dropout:
        y = a;  // evaluation: dropout passes its input
        break;
      default: {
        std::vector<torch::Tensor> inputs;
        for (std::size_t k = 0; k < s.inputs.size(); ++k) inputs.push_back(in(k));
        y = functional_layer(l, inputs);
        break;
      }
    }
    if (rounds_output(i)) visit(y, i + 1);
    out[i] = std::move(y);
  }
  return out[arch_.output_index()];
}

std::vector<torch::Tensor> QuantizedModel::parameters_in(const NumberFormat* format,
                                                          const RoundingOptions& options,
                                                          std::vector<torch::Tensor>& biases) const {
  std::vector<torch::Tensor> weights(steps_.size());
  biases.assign(steps_.size(), torch::Tensor());
  for (std::size_t i = 0; i < steps_.size(); ++i) {
    const Step& s = steps_[i];
    if (!s.weight.defined()) continue;
    weights[i] = s.weight.clone();
    biases[i] = s.bias.clone();
    if (format) {
      const std::int64_t out_channels = weights[i].size(0);
      RoundingOptions o = options;
      o.offset = options.offset + (std::uint64_t(1) << 62) + (std::uint64_t(i) << 32);
      round_rows(weights[i], 1, *format, TensorInfo{TensorInfo::Role::weight, out_channels}, o,
                 0);
      o.offset += std::uint64_t(1) << 31;
      round_rows(biases[i], 1, *format, TensorInfo{TensorInfo::Role::bias, 1}, o, 0);
    }
  }
  return weights;
}

namespace {

/// Images [start, start + count) of `set` as a tensor (copied: rounding works in place).
torch::Tensor images_of(const ImageSet& set, std::int64_t start, std::int64_t count) {
  return torch::from_blob(const_cast<float*>(set.pixels.data() + start * set.image_size()),
                          {count, set.channels, set.height, set.width}, torch::kFloat)
      .clone();
}

}  // namespace

QuantizedModel::Ranges QuantizedModel::calibrate(const ImageSet& images, std::int64_t count,
                                                 std::int64_t batch_size) const {
  Ranges ranges(steps_.size() + 1, Range{std::numeric_limits<float>::infinity(),
                                         -std::numeric_limits<float>::infinity()});
  const std::int64_t n = std::min(count, images.size());
  if (n < 1) throw InputError("precision: no images to calibrate activation ranges with");
  c10::InferenceMode inference;
  std::vector<torch::Tensor> biases;
  const std::vector<torch::Tensor> weights = parameters_in(nullptr, {}, biases);
  // Images spread evenly over the set (k * size / n for k < n), so that a file sorted by
  // class still calibrates on every class.
  const torch::Tensor all =
      torch::from_blob(const_cast<float*>(images.pixels.data()),
                       {images.size(), images.channels, images.height, images.width}, torch::kFloat);
  std::vector<std::int64_t> index(static_cast<std::size_t>(n));
  for (std::int64_t k = 0; k < n; ++k) index[std::size_t(k)] = k * images.size() / n;
  const torch::Tensor picked = all.index_select(
      0, torch::from_blob(index.data(), {n}, torch::kLong));
  for (std::int64_t start = 0; start < n; start += batch_size)
    forward(picked.narrow(0, start, std::min(batch_size, n - start)).clone(), weights, biases,
            nullptr, {}, nullptr, &ranges);
  return ranges;
}

Evaluation QuantizedModel::evaluate(const ImageSet& set, std::int64_t classes,
                                    const NumberFormat* format, const RoundingOptions& options,
                                    std::int64_t batch_size, const Ranges* ranges) const {
  Evaluation ev;
  ev.count = set.size();
  ev.confusion.assign(std::size_t(classes), std::vector<std::int64_t>(std::size_t(classes), 0));
  if (set.size() == 0) return ev;
  if (ranges && ranges->size() != steps_.size() + 1)
    throw Error("internal: activation ranges of another model");
  c10::InferenceMode inference;
  // The rounded weights of this format, once.
  std::vector<torch::Tensor> biases;
  const std::vector<torch::Tensor> weights = parameters_in(format, options, biases);
  const std::int64_t n = set.size();
  double loss_sum = 0;
  std::int64_t correct = 0;
  for (std::int64_t start = 0; start < n; start += batch_size) {
    const std::int64_t count = std::min(batch_size, n - start);
    RoundingOptions o = options;
    o.offset = options.offset + static_cast<std::uint64_t>(start) * 1000003ULL;
    const torch::Tensor logits =
        forward(images_of(set, start, count), weights, biases, format, o, ranges, nullptr);
    const torch::Tensor labels =
        torch::from_blob(const_cast<std::int32_t*>(set.labels.data() + start), {count},
                         torch::kInt)
            .to(torch::kLong);
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, labels,
                    torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    const torch::Tensor predicted = logits.argmax(1);
    const auto* p = predicted.data_ptr<std::int64_t>();
    for (std::int64_t k = 0; k < count; ++k) {
      const auto t = set.labels[std::size_t(start + k)];
      ++ev.confusion[std::size_t(t)][std::size_t(p[k])];
      correct += p[k] == t;
    }
  }
  ev.loss = loss_sum / double(n);
  ev.accuracy = double(correct) / double(n);
  return ev;
}

}  // namespace narrow
