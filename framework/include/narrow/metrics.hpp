#pragma once
#include <array>
#include <cstdint>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "narrow/architecture.hpp"
#include "narrow/export.hpp"

namespace narrow {

class NumberFormat;

/// Analytical properties of an architecture, computed from the graph alone (batch size 1).
struct NARROW_API Metrics {
  std::int64_t params = 0;                 // trainable parameters, as LibTorch counts them
  std::int64_t macs = 0;                   // multiply-accumulates of conv2d and linear, no bias
  std::int64_t flops = 0;                  // 2 * macs
  std::int64_t weight_bytes = 0;           // params * bits / 8, rounded up (32 bits default)
  std::int64_t memory_eq6_bytes = 0;       // Chan et al. eq. 6, float32
  std::int64_t activation_peak_bytes = 0;  // exact peak of live float32 tensors
  std::int64_t layers = 0;                 // conv2d + linear count

  /// Value of a metric by its name (see metric_names); throws InputError for unknown names.
  std::int64_t get(std::string_view name) const;
  void set(std::string_view name, std::int64_t value);

 private:
  std::int64_t& at(std::string_view name);
};

/// The metric names, in the order narrow prints them.
inline constexpr std::array<std::string_view, 7> metric_names{
    "params", "macs", "flops", "weight_bytes", "memory_eq6_bytes", "activation_peak_bytes",
    "layers"};

/// Computes every metric of a finalized architecture; `weight_bits` sets weight_bytes.
NARROW_API Metrics analyse(const Architecture& arch, int weight_bits = 32);

/// Every metric by name, as a JSON object {"params": ..., ...}.
NARROW_API nlohmann::json metrics_json(const Metrics& m);

/// What a device stores for a finalized architecture in `format` (nullptr: float32), in bytes,
/// computed from the graph: batch norms folded as inference folds them (batchnorm_folds); every
/// convolution and linear layer stores its weights and one bias per output channel (a zero
/// bias when it has none), a batch norm left unfolded its scale and shift; the format's
/// NumberFormat::stored_bits of each (scales and zero points included), plus, with a format,
/// its stored_bits of the input and of every tensor the evaluator rounds (the outputs of
/// conv2d, linear, unfolded batch norms, add, avgpool and global_avgpool). Rounded up to
/// whole bytes. The precision evaluator reports the same number from the tensors themselves.
NARROW_API std::int64_t deployed_bytes(const Architecture& arch, const NumberFormat* format);

/// Weight bytes for `params` values of `bits` bits each, bit-packed: ceil(params*bits/8).
NARROW_API std::int64_t weight_bytes_for(std::int64_t params, int bits);

}  // namespace narrow
