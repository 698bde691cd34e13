#pragma once
// Number formats: plugins of kind `format` that round float32 values in place to the values
// of a reduced-precision format (emulation), and report its bit width. No LibTorch here: the
// evaluator applies formats to tensors' data.
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "narrow/component.hpp"
#include "narrow/export.hpp"

namespace narrow {

/// How a value between two representable ones is rounded.
enum class Rounding {
  nearest_even,  // to the nearest, ties to the even significand (IEEE 754 default)
  toward_zero,   // truncation
  up,            // toward +infinity
  down,          // toward -infinity
  stochastic,    // up with probability (x - lower) / (upper - lower), seeded
};
NARROW_API std::string_view rounding_name(Rounding r);  // "nearest_even", ...
/// Parses a rounding name; false when it is not one of rounding_name()'s.
NARROW_API bool parse_rounding(std::string_view name, Rounding& out);
/// Every rounding mode, in declaration order.
NARROW_API std::vector<Rounding> all_roundings();

/// How to round one call. Stochastic rounding draws value i's random bits from
/// (seed, offset + i) alone, so results do not depend on how a tensor is split into calls or
/// on threads.
struct NARROW_API RoundingOptions {
  Rounding mode = Rounding::nearest_even;
  std::uint64_t seed = 0;
  std::uint64_t offset = 0;
};

/// Helpers for format plugins.
/// The 64 random bits of value `index` under `seed` for stochastic rounding: a function of
/// the pair alone.
NARROW_API std::uint64_t stochastic_bits(std::uint64_t seed, std::uint64_t index);
/// Rounds `s` to an integer in the sense of `mode`; `random` (from stochastic_bits) decides
/// stochastic rounding: up with probability frac(s). Exact for any double.
NARROW_API double round_integer(double s, Rounding mode, std::uint64_t random = 0);

/// Rounds every value in place with `one(value, mode, random)`, for formats that round one
/// value at a time: `random` is stochastic_bits(seed, offset + i) for stochastic rounding of
/// value i, and 0 otherwise.
template <class RoundOne>
void round_each(std::span<float> values, const RoundingOptions& options, RoundOne one) {
  const Rounding mode = options.mode;
  if (mode == Rounding::stochastic) {
    for (std::size_t i = 0; i < values.size(); ++i)
      values[i] = one(values[i], mode, stochastic_bits(options.seed, options.offset + i));
  } else {
    for (float& x : values) x = one(x, mode, 0);
  }
}

/// What a tensor is, for formats whose scale depends on it (int8 affine quantisation).
struct NARROW_API TensorInfo {
  enum class Role { activation, weight, bias };
  Role role = Role::activation;
  /// For weights: the number of output channels; the values are laid out channel-major
  /// ([out, ...]) with size() / channels values per channel.
  std::int64_t channels = 1;
  /// For activations under static quantisation: the range [low, high] this tensor took over
  /// the calibration images (see NumberFormat::calibration_images()). Formats with a
  /// per-tensor scale derive it from this range, fixed for every image, instead of from the
  /// values at hand; values outside it saturate.
  bool calibrated = false;
  float low = 0.0f, high = 0.0f;
};

/// A number format. Implementations are stateless after construction and safe to call from
/// several threads at once.
class NARROW_API NumberFormat : public Component {
 public:
  ~NumberFormat() override;
  /// The format as narrow prints it, e.g. "ieee(4,3)", "half", "e4m3", "fixed(3,4)", "int8".
  virtual std::string name() const = 0;
  /// Bits per stored value (the width of a weight).
  virtual int bits() const = 0;
  /// The rounding modes this format supports (all five unless it says otherwise).
  virtual std::vector<Rounding> roundings() const;
  /// Rounds every value in place to the nearest value of the format in the sense of `options`
  /// (overflow, NaN and Inf as the format defines them). A mode not in roundings() is an
  /// InputError.
  virtual void round(std::span<float> values, const RoundingOptions& options = {}) const = 0;
  /// Rounds one tensor of a model. Formats with per-tensor or per-channel scales override it;
  /// the default is round().
  virtual void quantize(std::span<float> values, const TensorInfo& tensor,
                        const RoundingOptions& options = {}) const;
  /// Bits a deployed model stores for one tensor of `values` values: the values themselves
  /// and whatever the format keeps beside them (scales, zero points). The memory of a model
  /// in this format is the sum over its weights, biases and activation tensors, rounded up
  /// to whole bytes (bit-packed). The default: weights and biases bits() each, activations
  /// nothing (they are computed, not stored).
  virtual std::int64_t stored_bits(const TensorInfo& tensor, std::int64_t values) const;
  /// Static quantisation: how many images of the training split the evaluator runs through
  /// the float32 model first, to record the range of every activation tensor; each tensor is
  /// then quantised with TensorInfo::calibrated set and that range. 0 (the default): no
  /// calibration; each call's own values decide.
  virtual std::int64_t calibration_images() const;
};

class Registry;

/// A format as users write it, split into its registered name and parameter values: "NAME"
/// or "NAME(v1,v2,...)", where the values fill the registration's first parameters in order
/// ("ieee(4,3)" is ieee with w=4, t=3). An unknown name is an InputError; the values are not
/// checked against the schema here.
struct NARROW_API FormatText {
  std::string name;
  std::map<std::string, std::string> parameters;
};
NARROW_API FormatText parse_format_text(const Registry& registry, std::string_view text);

/// Builds a format from its text as users write it: "NAME" or "NAME(v1,v2,...)", where the
/// values fill the registration's first parameters in order ("ieee(4,3)" is ieee with w=4,
/// t=3), and `extra` sets parameters by name. Unknown names, values out of range and formats
/// that are not NumberFormats are InputError.
NARROW_API std::unique_ptr<NumberFormat> create_format(
    const Registry& registry, std::string_view text,
    const std::map<std::string, std::string>& extra = {});

/// The content key of a format: "NAME@PLUGIN:VERSION|k=v;..." over its resolved parameters,
/// so that results computed in it are found again (and redone when the plugin changes).
NARROW_API std::string format_key(const Registry& registry, const std::string& name,
                                  const std::map<std::string, std::string>& parameters);

/// Expands ranges in a format's text: each value in parentheses may be `LOW..HIGH`, and the
/// result lists every combination, in order ("ieee(1..8,1..23)" gives the 184 types
/// ieee(1,1), ieee(1,2), ..., ieee(8,23)). Text without ranges comes back alone.
NARROW_API std::vector<std::string> expand_format_spec(std::string_view text);

}  // namespace narrow
