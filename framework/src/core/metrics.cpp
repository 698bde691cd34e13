#include "narrow/metrics.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

#include <fmt/format.h>

#include "narrow/errors.hpp"

namespace narrow {

std::int64_t weight_bytes_for(std::int64_t params, int bits) {
  return (params * bits + 7) / 8;
}

std::int64_t Metrics::get(std::string_view name) const {
  return const_cast<Metrics&>(*this).at(name);
}

void Metrics::set(std::string_view name, std::int64_t value) {
  at(name) = value;
}

std::int64_t& Metrics::at(std::string_view name) {
  if (name == "params") return params;
  if (name == "macs") return macs;
  if (name == "flops") return flops;
  if (name == "weight_bytes") return weight_bytes;
  if (name == "memory_eq6_bytes") return memory_eq6_bytes;
  if (name == "activation_peak_bytes") return activation_peak_bytes;
  if (name == "layers") return layers;
  throw InputError(fmt::format("unknown metric '{}' (valid: {})", name,
                               "activation_peak_bytes, flops, layers, macs, memory_eq6_bytes, "
                               "params, weight_bytes"));
}

Metrics analyse(const Architecture& arch, int weight_bits) {
  if (!arch.finalized()) throw Error("internal: analyse() needs a finalized architecture");
  constexpr std::int64_t f32 = 4;
  Metrics m;
  const auto& layers = arch.layers();
  const std::size_t n = layers.size();
  std::int64_t largest_io = arch.input().volume();
  std::int64_t live = arch.input().volume();
  std::int64_t peak = live;
  bool input_freed = false;
  std::vector<char> freed(n, 0);

  for (std::size_t i = 0; i < n; ++i) {
    const Layer& l = layers[i];
    const auto& ins = arch.input_indices(i);
    const Shape& out = arch.shape(i);
    const Shape& in = ins[0] < 0 ? arch.input() : arch.shape(std::size_t(ins[0]));
    switch (l.op) {
      case Op::conv2d: {
        std::int64_t per_out = (in.c / l.groups) * l.kernel[0] * l.kernel[1];
        m.params += l.out_channels * per_out + (l.bias ? l.out_channels : 0);
        m.macs += l.out_channels * out.h * out.w * per_out;
        ++m.layers;
        break;
      }
      case Op::linear:
        m.params += in.volume() * l.out_channels + (l.bias ? l.out_channels : 0);
        m.macs += in.volume() * l.out_channels;
        ++m.layers;
        break;
      case Op::batchnorm:
        m.params += 2 * in.c;
        break;
      default:
        break;
    }
    // Chan et al. eq. 6: the largest input or output volume of any layer.
    largest_io = std::max(largest_io, out.volume());
    for (int k : ins)
      largest_io =
          std::max(largest_io, k < 0 ? arch.input().volume() : arch.shape(std::size_t(k)).volume());
    // Exact peak: inputs still alive, plus this layer's output.
    live += out.volume();
    peak = std::max(peak, live);
    for (int k : ins) {
      if (k < 0) {
        if (!input_freed && arch.last_consumer_of_input() == int(i)) {
          live -= arch.input().volume();
          input_freed = true;
        }
      } else if (!freed[std::size_t(k)] && arch.last_consumer(std::size_t(k)) == int(i)) {
        live -= arch.shape(std::size_t(k)).volume();
        freed[std::size_t(k)] = 1;
      }
    }
  }
  m.flops = 2 * m.macs;
  m.weight_bytes = weight_bytes_for(m.params, weight_bits);
  m.memory_eq6_bytes = f32 * (m.params + largest_io);
  m.activation_peak_bytes = f32 * peak;
  return m;
}

nlohmann::json metrics_json(const Metrics& m) {
  nlohmann::json j = nlohmann::json::object();
  for (auto name : metric_names) j[std::string(name)] = m.get(name);
  return j;
}

}  // namespace narrow
