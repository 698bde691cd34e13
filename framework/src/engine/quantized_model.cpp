#include "engine/quantized_model.hpp"

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

bool computes_new_values(Op op) {
  switch (op) {
    case Op::conv2d:
    case Op::linear:
    case Op::batchnorm:
    case Op::add:
    case Op::avgpool:
    case Op::global_avgpool:
      return true;
    default:
      return false;
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

torch::Tensor QuantizedModel::forward(torch::Tensor x, const std::vector<torch::Tensor>& weights,
                                      const std::vector<torch::Tensor>& biases,
                                      const NumberFormat* format,
                                      const RoundingOptions& options) const {
  const std::int64_t batch = x.size(0);
  if (format) round_rows(x, batch, *format, TensorInfo{}, options, 0);
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
    if (format && computes_new_values(s.op) && !s.identity)
      round_rows(y, batch, *format, TensorInfo{}, options, i + 1);
    out[i] = std::move(y);
  }
  return out[arch_.output_index()];
}

Evaluation QuantizedModel::evaluate(const ImageSet& set, std::int64_t classes,
                                    const NumberFormat* format, const RoundingOptions& options,
                                    std::int64_t batch_size) const {
  Evaluation ev;
  ev.count = set.size();
  ev.confusion.assign(std::size_t(classes), std::vector<std::int64_t>(std::size_t(classes), 0));
  if (set.size() == 0) return ev;
  c10::InferenceMode inference;
  // The rounded weights of this format, once.
  std::vector<torch::Tensor> weights(steps_.size()), biases(steps_.size());
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
  const std::int64_t n = set.size();
  const auto image = set.image_size();
  double loss_sum = 0;
  std::int64_t correct = 0;
  for (std::int64_t start = 0; start < n; start += batch_size) {
    const std::int64_t count = std::min(batch_size, n - start);
    torch::Tensor x =
        torch::from_blob(const_cast<float*>(set.pixels.data() + start * image),
                         {count, set.channels, set.height, set.width}, torch::kFloat)
            .clone();
    RoundingOptions o = options;
    o.offset = options.offset + static_cast<std::uint64_t>(start) * 1000003ULL;
    const torch::Tensor logits = forward(x, weights, biases, format, o);
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
