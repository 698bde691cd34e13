#include <memory>

#include "int8_format.hpp"
#include "narrow/plugin.hpp"

namespace {

void register_int8(narrow::Registry& registry) {
  registry.add<narrow::formats::Int8Format>("int8",
               "int8 affine quantisation: activations per tensor asymmetric (static ranges "
               "calibrated on training images, or dynamic), weights per channel symmetric, "
               "biases int32",
               narrow::formats::Int8Format::schema(),
               [](const narrow::Parameters& p) -> std::unique_ptr<narrow::formats::Int8Format> {
                 using F = narrow::formats::Int8Format;
                 return std::make_unique<F>(p.string("ranges") == "dynamic"
                                                ? F::Ranges::per_call
                                                : F::Ranges::fixed_by_calibration,
                                            p.integer("calibration"));
               });
}

}  // namespace

NARROW_PLUGIN("int8", "0.2.0", register_int8)
