// Architecture -> LibTorch module.
//
// Layers with weights (conv2d, batchnorm, linear) are registered submodules named after their
// layer id, so a module's parameters and state dict read like the architecture. Every other
// layer is applied functionally. The graph runs in the architecture's execution order; a
// layer's output is released as soon as its last consumer has run.
#include "engine/builder.hpp"

#include <chrono>
#include <sstream>
#include <utility>

#include "narrow/errors.hpp"

namespace narrow {
namespace {

std::string describe(const Layer& layer) {
  return "layer '" + layer.id + "' (" + std::string(op_name(layer.op)) + ")";
}

std::string sizes_text(const torch::Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

/// The shape of the k-th input of layer i.
const Shape& input_shape(const Architecture& arch, std::size_t i, std::size_t k) {
  const int j = arch.input_indices(i).at(k);
  return j < 0 ? arch.input() : arch.shape(static_cast<std::size_t>(j));
}

/// The submodule of a layer with weights, or an empty AnyModule for a functional layer.
torch::nn::AnyModule make_module(const Architecture& arch, std::size_t i) {
  const Layer& layer = arch.layers()[i];
  switch (layer.op) {
    case Op::conv2d: {
      const Shape& in = input_shape(arch, i, 0);
      auto options = torch::nn::Conv2dOptions(in.c, layer.out_channels, layer.kernel)
                         .stride(layer.stride)
                         .padding(torch::ExpandingArray<2>(layer.padding))
                         .groups(layer.groups)
                         .bias(layer.bias);
      return torch::nn::AnyModule(torch::nn::Conv2d(options));
    }
    case Op::batchnorm: {
      const Shape& in = input_shape(arch, i, 0);
      if (in.flat) return torch::nn::AnyModule(torch::nn::BatchNorm1d(in.c));
      return torch::nn::AnyModule(torch::nn::BatchNorm2d(in.c));
    }
    case Op::linear: {
      const Shape& in = input_shape(arch, i, 0);
      auto options = torch::nn::LinearOptions(in.volume(), layer.out_channels).bias(layer.bias);
      return torch::nn::AnyModule(torch::nn::Linear(options));
    }
    case Op::relu:
    case Op::relu6:
    case Op::maxpool:
    case Op::avgpool:
    case Op::global_avgpool:
    case Op::add:
    case Op::concat:
    case Op::flatten:
    case Op::dropout:
      return {};
  }
  return {};
}

}  // namespace

GraphModuleImpl::GraphModuleImpl(const Architecture& arch) : arch_(arch) {
  if (!arch_.finalized())
    throw InvalidArchitecture(
        "cannot build a LibTorch module from an architecture that is not finalized "
        "(call finalize() first)");
  const auto& layers = arch_.layers();
  modules_.reserve(layers.size());
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Layer& layer = layers[i];
    if (arch_.input_indices(i).empty())
      throw InvalidArchitecture(describe(layer) + " has no input");
    try {
      modules_.push_back(make_module(arch_, i));
      if (!modules_.back().is_empty()) register_module(layer.id, modules_.back().ptr());
    } catch (const c10::Error& e) {
      throw InvalidArchitecture(describe(layer) +
                                ": LibTorch cannot build it: " + e.what_without_backtrace());
    }
  }
}

torch::Tensor GraphModuleImpl::forward(torch::Tensor x) {
  return run(std::move(x), nullptr);
}

torch::Tensor GraphModuleImpl::forward_recording(torch::Tensor x,
                                                 std::vector<std::vector<std::int64_t>>& shapes) {
  return run(std::move(x), &shapes);
}

torch::Tensor GraphModuleImpl::forward_timed(torch::Tensor x, std::vector<double>& seconds) {
  if (seconds.size() != arch_.layers().size()) seconds.assign(arch_.layers().size(), 0.0);
  return run(std::move(x), nullptr, &seconds);
}

torch::Tensor GraphModuleImpl::run(torch::Tensor x, std::vector<std::vector<std::int64_t>>* shapes,
                                   std::vector<double>* seconds) {
  const Shape& in = arch_.input();
  const std::int64_t expected_dims = in.flat ? 2 : 4;
  bool fits = x.defined() && x.dim() == expected_dims && x.size(1) == in.c;
  if (fits && !in.flat) fits = x.size(2) == in.h && x.size(3) == in.w;
  if (!fits)
    throw InputError("the network expects input [N," + in.to_string().substr(1) + ", got " +
                     (x.defined() ? sizes_text(x) : std::string("an undefined tensor")));

  const auto& layers = arch_.layers();
  const std::size_t n = layers.size();
  const int output = static_cast<int>(arch_.output_index());
  if (shapes) shapes->assign(n, {});

  std::vector<torch::Tensor> outputs(n);
  std::vector<torch::Tensor> inputs;
  for (std::size_t i = 0; i < n; ++i) {
    const Layer& layer = layers[i];
    const auto& input_indices = arch_.input_indices(i);
    inputs.clear();
    for (int j : input_indices) inputs.push_back(j < 0 ? x : outputs[static_cast<std::size_t>(j)]);

    torch::Tensor y;
    const auto started = seconds ? std::chrono::steady_clock::now()
                                 : std::chrono::steady_clock::time_point{};
    try {
      const torch::Tensor& a = inputs.front();
      switch (layer.op) {
        case Op::conv2d:
        case Op::batchnorm:
          y = modules_[i].forward(a);
          break;
        case Op::linear:
          y = modules_[i].forward(a.dim() > 2 ? a.flatten(1) : a);
          break;
        case Op::dropout:
          y = dropout(a, layer.p);
          break;
        default:
          y = functional_layer(layer, inputs);
          break;
      }
    } catch (const c10::Error& e) {
      std::string got;
      for (const auto& t : inputs) {
        if (!got.empty()) got += ", ";
        got += sizes_text(t);
      }
      throw Error(describe(layer) + " failed in LibTorch on input " + got + ": " +
                  e.what_without_backtrace());
    }
    inputs.clear();
    if (!masks_.empty() && masks_[i].defined()) y = y * masks_[i];
    if (seconds)
      (*seconds)[i] +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    if (shapes) {
      auto sizes = y.sizes();
      (*shapes)[i].assign(sizes.begin() + 1, sizes.end());
    }
    outputs[i] = std::move(y);

    // Release what no later layer reads.
    for (int j : input_indices) {
      if (j < 0) {
        if (arch_.last_consumer_of_input() == static_cast<int>(i)) x.reset();
      } else if (j != output &&
                 arch_.last_consumer(static_cast<std::size_t>(j)) == static_cast<int>(i)) {
        outputs[static_cast<std::size_t>(j)].reset();
      }
    }
  }
  return std::move(outputs[static_cast<std::size_t>(output)]);
}

torch::Tensor GraphModuleImpl::dropout(const torch::Tensor& a, double p) {
  if (!generator_ || !is_training()) return torch::dropout(a, p, is_training());
  if (p <= 0) return a;
  if (p >= 1) return a * torch::zeros_like(a);  // keeps the graph: zero gradient
  // Inverted dropout with the job's generator: keep with probability 1-p, scale by 1/(1-p).
  torch::Tensor mask = torch::empty_like(a, torch::MemoryFormat::Contiguous);
  mask.bernoulli_(1.0 - p, *generator_);
  mask.div_(1.0 - p);
  return a * mask;
}

torch::Tensor functional_layer(const Layer& layer, const std::vector<torch::Tensor>& inputs) {
  const torch::Tensor& a = inputs.front();
  switch (layer.op) {
    case Op::relu:
      return torch::relu(a);
    case Op::relu6:
      return torch::hardtanh(a, 0.0, 6.0);
    case Op::maxpool:
      return torch::max_pool2d(a, layer.kernel, layer.stride, layer.padding, /*dilation=*/1,
                               /*ceil_mode=*/false);
    case Op::avgpool:
      return torch::avg_pool2d(a, layer.kernel, layer.stride, layer.padding,
                               /*ceil_mode=*/false, /*count_include_pad=*/true);
    case Op::global_avgpool:
      return torch::adaptive_avg_pool2d(a, {1, 1});
    case Op::add: {
      if (inputs.size() == 1) return a;
      torch::Tensor y = inputs[0] + inputs[1];  // a fresh tensor: accumulating into it is safe
      for (std::size_t k = 2; k < inputs.size(); ++k) y.add_(inputs[k]);
      return y;
    }
    case Op::concat:
      return inputs.size() == 1 ? a : torch::cat(inputs, 1);
    case Op::flatten:
      return a.flatten(1);
    default:
      throw Error(describe(layer) + " has weights or a mode; it is not a functional layer");
  }
}

GraphModule build_module(const Architecture& arch) {
  if (!arch.finalized())
    throw InvalidArchitecture(
        "build_module needs a finalized architecture (call finalize() first)");
  return GraphModule(arch);
}

std::int64_t count_parameters(torch::nn::Module& module) {
  std::int64_t total = 0;
  for (const auto& p : module.parameters(/*recurse=*/true))
    if (p.requires_grad()) total += p.numel();
  return total;
}

}  // namespace narrow
