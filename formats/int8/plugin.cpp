#include <memory>

#include "int8_format.hpp"
#include "narrow/plugin.hpp"

namespace {

void register_int8(narrow::Registry& registry) {
  registry.add<narrow::formats::Int8Format>("int8",
               "int8 affine quantisation: activations per tensor asymmetric, weights per "
               "channel symmetric, biases float32",
               {}, [](const narrow::Parameters&) -> std::unique_ptr<narrow::formats::Int8Format> {
                 return std::make_unique<narrow::formats::Int8Format>();
               });
}

}  // namespace

NARROW_PLUGIN("int8", "0.1.0", register_int8)
