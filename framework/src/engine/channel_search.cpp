// The channel search in LibTorch (Burrello et al. 2023, PIT-style masks): every channel group
// of the seed gets a trainable alpha per channel, binarised in the forward pass with a
// straight-through gradient; the loss adds, for every cost target, lambda(e) x max(0, cost -
// target) / target, where the cost is the kernel's figure at the current channel counts and
// its gradient flows to the masks through the counts (core/channel_costs.hpp).
#include "engine/channel_search.hpp"

#include <chrono>
#include <cmath>
#include <map>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/channel_costs.hpp"
#include "engine/trainer.hpp"
#include "narrow/channel_search.hpp"
#include "narrow/device.hpp"
#include "narrow/errors.hpp"
#include "narrow/format.hpp"
#include "narrow/registry.hpp"

namespace narrow {

using json = nlohmann::json;

ChannelMasks ChannelMasks::ones(const ChannelGroups& groups, double threshold) {
  ChannelMasks m;
  m.threshold = threshold;
  for (const auto& g : groups.groups())
    m.alpha.push_back(torch::ones({g.channels}, torch::kFloat).requires_grad_(true));
  return m;
}

torch::Tensor ChannelMasks::binary(std::size_t g) const {
  const torch::Tensor& a = alpha.at(g);
  const std::int64_t n = a.size(0);
  const torch::Tensor hard = (a.detach().abs() > threshold).to(torch::kFloat);
  const torch::Tensor ste = hard + (a - a.detach());  // value: hard exactly; gradient: identity
  if (n == 1) return torch::ones({1}, torch::kFloat);
  return torch::cat({ste.narrow(0, 0, n - 1), torch::ones({1}, torch::kFloat)});
}

std::vector<std::int64_t> ChannelMasks::kept(std::size_t g) const {
  const torch::Tensor a = alpha.at(g).detach().abs();
  const auto* v = a.data_ptr<float>();
  const std::int64_t n = a.size(0);
  std::vector<std::int64_t> k;
  for (std::int64_t i = 0; i + 1 < n; ++i)
    if (v[i] > threshold) k.push_back(i);
  k.push_back(n - 1);  // the last channel always lives
  return k;
}

std::vector<std::int64_t> ChannelMasks::counts() const {
  std::vector<std::int64_t> c;
  for (std::size_t g = 0; g < alpha.size(); ++g) c.push_back(static_cast<std::int64_t>(kept(g).size()));
  return c;
}

std::vector<torch::Tensor> layer_masks(const Architecture& arch, const ChannelGroups& groups,
                                       const std::vector<torch::Tensor>& binary) {
  const auto& layers = arch.layers();
  std::vector<torch::Tensor> masks(layers.size());
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Op op = layers[i].op;
    // Layers that can make a removed channel non-zero: weights with biases, and batch norms.
    if (op != Op::conv2d && op != Op::linear && op != Op::batchnorm) continue;
    if (!groups.masked(i)) continue;
    std::vector<torch::Tensor> parts;
    for (const auto& s : groups.segments(i)) {
      torch::Tensor part = s.group < 0 ? torch::ones({s.count}, torch::kFloat)
                                       : binary.at(static_cast<std::size_t>(s.group));
      if (s.per > 1) part = part.repeat_interleave(s.per);
      parts.push_back(part);
    }
    torch::Tensor m = parts.size() == 1 ? parts.front() : torch::cat(parts);
    masks[i] = arch.shape(i).flat ? m.view({1, -1}) : m.view({1, -1, 1, 1});
  }
  return masks;
}

namespace {

torch::Tensor index_tensor(const std::vector<std::int64_t>& v) {
  return torch::tensor(v, torch::kLong);
}

/// Copies a seed tensor's kept rows (dimension 0) and, for a 2-D-or-more weight of a layer
/// that mixes channels, its kept columns (dimension 1) into the exported tensor.
void copy_kept(const torch::Tensor& from, torch::Tensor& to, const torch::Tensor& rows,
               const torch::Tensor* columns) {
  torch::Tensor t = from.dim() == 0 ? from : from.index_select(0, rows);
  if (columns && t.dim() >= 2) t = t.index_select(1, *columns);
  if (t.sizes() != to.sizes())
    throw Error(fmt::format("channel export: a tensor of shape [{}] does not fit [{}]",
                            fmt::join(t.sizes(), ","), fmt::join(to.sizes(), ",")));
  to.copy_(t);
}

}  // namespace

GraphModule export_pruned(const Architecture& seed, GraphModule& seeded,
                          const ChannelGroups& groups, const ChannelMasks& masks) {
  std::vector<std::vector<std::int64_t>> kept;
  for (std::size_t g = 0; g < groups.groups().size(); ++g) kept.push_back(masks.kept(g));
  const Architecture pruned = groups.with_channels(seed, masks.counts());
  GraphModule out = build_module(pruned);
  torch::NoGradGuard no_grad;
  auto from_children = seeded->named_children();
  auto to_children = out->named_children();
  const auto& layers = seed.layers();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Layer& l = layers[i];
    if (!from_children.contains(l.id)) continue;
    auto& from = *from_children[l.id];
    auto& to = *to_children[l.id];
    const torch::Tensor rows = index_tensor(kept_values(groups.segments(i), kept));
    const bool mixes = l.op == Op::linear || (l.op == Op::conv2d && l.groups == 1);
    const torch::Tensor columns =
        index_tensor(kept_values(groups.input_segments(seed, i), kept));
    auto to_params = to.named_parameters(/*recurse=*/false);
    for (const auto& p : from.named_parameters(/*recurse=*/false)) {
      torch::Tensor target = to_params[p.key()];
      copy_kept(p.value(), target, rows, mixes && p.key() == "weight" ? &columns : nullptr);
    }
    auto to_buffers = to.named_buffers(/*recurse=*/false);
    for (const auto& b : from.named_buffers(/*recurse=*/false)) {
      torch::Tensor target = to_buffers[b.key()];
      copy_kept(b.value(), target, rows, nullptr);
    }
  }
  return out;
}

namespace {

bool meets(const std::vector<double>& values, const std::vector<double>& targets) {
  for (std::size_t i = 0; i < targets.size(); ++i)
    if (values[i] > targets[i]) return false;
  return true;
}

}  // namespace

ChannelFit fit_to_targets(ChannelMasks& masks, ChannelCosts& costs,
                          const std::vector<double>& targets) {
  torch::NoGradGuard no_grad;
  ChannelFit fit;
  const float removed = 0.0f, revived = static_cast<float>(masks.threshold) + 1e-3f;
  struct Channel {
    float weight;
    std::size_t group;
    std::int64_t index;
  };
  auto channels = [&](bool living) {
    std::vector<Channel> list;
    for (std::size_t g = 0; g < masks.alpha.size(); ++g) {
      const torch::Tensor a = masks.alpha[g].detach().abs();
      const auto* v = a.data_ptr<float>();
      for (std::int64_t i = 0; i + 1 < a.size(0); ++i)  // the last always lives
        if ((v[i] > masks.threshold) == living) list.push_back(Channel{v[i], g, i});
    }
    return list;
  };
  auto set = [&](const Channel& c, float value) {
    masks.alpha[c.group].detach()[c.index].fill_(value);
  };
  // Trim: the weakest living channel first, until every target is met.
  std::vector<std::int64_t> counts = masks.counts();
  if (!meets(costs.values(counts), targets)) {
    auto living = channels(true);
    std::stable_sort(living.begin(), living.end(),
                     [](const Channel& a, const Channel& b) { return a.weight < b.weight; });
    for (const Channel& c : living) {
      set(c, removed);
      --counts[c.group];
      ++fit.trimmed;
      if (meets(costs.values(counts), targets)) break;
    }
  }
  // Fill: the strongest removed channel first, each one that keeps every target met.
  auto dead = channels(false);
  std::stable_sort(dead.begin(), dead.end(),
                   [](const Channel& a, const Channel& b) { return a.weight > b.weight; });
  for (const Channel& c : dead) {
    ++counts[c.group];
    if (meets(costs.values(counts), targets)) {
      set(c, revived);
      ++fit.filled;
    } else {
      --counts[c.group];
    }
  }
  return fit;
}

namespace {

std::unique_ptr<NumberFormat> search_format(const Registry& registry, const ChannelSearch& s) {
  if (s.format.empty()) return nullptr;
  return create_format(registry, s.format);
}

std::unique_ptr<Device> search_device(const Registry& registry, const ChannelSearch& s) {
  if (s.device.empty()) return nullptr;
  const json d = json::parse(s.device);
  std::map<std::string, std::string> params;
  if (d.contains("parameters"))
    for (const auto& [k, v] : d.at("parameters").items()) params[k] = v.get<std::string>();
  return create_device(registry, d.at("name").get<std::string>(), params);
}

}  // namespace

TrainResult search_channels(const Registry& registry, const TrainJob& job,
                            const PreparedData& data, int threads,
                            const std::function<void(const EpochRecord&)>& on_epoch) {
  if (!job.search) throw Error("internal: search_channels needs a job with a search");
  const ChannelSearch& search = *job.search;
  if (job.init_weights.empty())
    throw InputError("a channel search starts from warmed-up weights; the job has none");
  const Architecture seed = Architecture::from_json_string(job.architecture_json);
  check_fits(seed, data);
  const ChannelGroups groups = ChannelGroups::of(seed);
  if (groups.groups().empty())
    throw InputError("the seed network has no channels a search can remove (every convolution "
                     "and linear layer is the output layer's or tied to fixed channels)");
  const auto format = search_format(registry, search);
  const auto device = search_device(registry, search);
  std::vector<std::string> metrics;
  for (const auto& t : search.targets) {
    if (!(t.value > 0)) throw InputError(fmt::format("cost target {} must be > 0", t.metric));
    metrics.push_back(t.metric);
  }
  ChannelCosts costs(seed, groups, metrics, format.get(), device.get());
  const std::vector<double> seed_costs = costs.values(groups.full_counts());

  ChannelMasks masks = ChannelMasks::ones(groups, search.threshold);
  const std::int64_t epochs = std::max<std::int64_t>(job.config.epochs, 1);
  json history = json::array();

  TrainingExtras extras;
  extras.init_weights = job.init_weights;
  extras.parameters = masks.alpha;
  extras.learning_rate = search.mask_learning_rate;
  extras.final_evaluation = false;  // the export is evaluated instead
  std::vector<std::int64_t> last_counts;
  extras.before_step = [&](GraphModule& module, std::int64_t epoch) -> torch::Tensor {
    std::vector<torch::Tensor> binary;
    std::vector<std::int64_t> counts;
    for (std::size_t g = 0; g < masks.alpha.size(); ++g) {
      binary.push_back(masks.binary(g));
      counts.push_back(static_cast<std::int64_t>(
          std::llround(binary.back().detach().sum().item<double>())));
    }
    module->set_output_masks(layer_masks(seed, groups, binary));
    const ChannelCosts::Point& p = costs.at(counts);
    last_counts = counts;
    torch::Tensor penalty = torch::zeros({}, torch::kFloat);
    for (std::size_t i = 0; i < search.targets.size(); ++i) {
      const CostTarget& t = search.targets[i];
      // The cost's value at these counts, with a slope along every group's channel count.
      torch::Tensor cost = torch::full({}, p.value[i], torch::kFloat);
      for (std::size_t g = 0; g < binary.size(); ++g) {
        if (p.slope[i][g] == 0) continue;
        const torch::Tensor n = binary[g].sum();
        cost = cost + p.slope[i][g] * (n - n.detach());
      }
      const double lambda = lambda_at(t.lambda, search.ramp, epoch, epochs);
      penalty = penalty + (lambda / t.value) * (cost - t.value).clamp_min(0.0);
    }
    return penalty;
  };
  auto record_epoch = [&](const EpochRecord& e) {
    const auto counts = masks.counts();
    const std::vector<double> v = costs.at(counts).value;
    json lambdas = json::array(), values = json::object();
    for (std::size_t i = 0; i < search.targets.size(); ++i) {
      lambdas.push_back(lambda_at(search.targets[i].lambda, search.ramp, e.epoch - 1, epochs));
      values[search.targets[i].metric] = v[i];
    }
    history.push_back(json{{"epoch", e.epoch}, {"lambda", lambdas}, {"costs", values},
                           {"channels", counts}});
    if (on_epoch) on_epoch(e);
  };

  GraphModule trained{nullptr};
  TrainResult r = train_model(seed, data, job.config, job.seed, threads, /*keep_weights=*/false,
                              record_epoch, &trained, &extras);
  r.key = job.key;
  if (r.status != "ok") {
    r.architecture_hash = job.architecture_hash;
    return r;
  }

  // Export: the channels the masks keep, brought to the targets' edge, with their weights,
  // evaluated as they are (before fine-tuning).
  const auto started = std::chrono::steady_clock::now();
  const auto searched_counts = masks.counts();
  std::vector<double> target_values;
  for (const auto& t : search.targets) target_values.push_back(t.value);
  const ChannelFit fit = fit_to_targets(masks, costs, target_values);
  GraphModule pruned = export_pruned(seed, trained, groups, masks);
  const Architecture& exported = pruned->architecture();
  const std::int64_t eval_batch = std::max<std::int64_t>(256, job.config.batch_size);
  if (data.validation.size() > 0)
    r.validation = evaluate(pruned, data.validation, data.classes, eval_batch);
  r.test = evaluate(pruned, data.test, data.classes, eval_batch);
  r.architecture_json = exported.to_json_string();
  r.architecture_hash = exported.hash();
  r.parameters = count_parameters(*pruned);
  if (job.keep_weights) r.weights = save_weights(pruned);

  const auto counts = masks.counts();
  json group_list = json::array();
  for (std::size_t g = 0; g < groups.groups().size(); ++g) {
    json producers = json::array();
    for (int i : groups.groups()[g].producers) producers.push_back(seed.layers()[std::size_t(i)].id);
    group_list.push_back(json{{"layers", producers},
                              {"channels", groups.groups()[g].channels},
                              {"searched", searched_counts[g]},
                              {"kept", counts[g]}});
  }
  json target_list = json::array();
  for (std::size_t i = 0; i < search.targets.size(); ++i) {
    const auto& t = search.targets[i];
    const double value = channel_cost(t.metric, exported, format.get(), device.get());
    target_list.push_back(json{{"metric", t.metric},
                               {"target", t.value},
                               {"lambda", t.lambda},
                               {"seed", seed_costs[i]},
                               {"exported", value},
                               {"met", value <= t.value}});
  }
  const double export_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  r.details = json{{"kind", "channel_search"},
                   {"seed", job.architecture_hash},
                   {"groups", group_list},
                   {"targets", target_list},
                   {"history", history},
                   {"trimmed", fit.trimmed},
                   {"filled", fit.filled},
                   {"cost_evaluations", costs.evaluations()},
                   {"export_seconds", export_seconds}}
                  .dump();
  return r;
}

}  // namespace narrow
