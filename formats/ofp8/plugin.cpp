#include <memory>

#include "narrow/plugin.hpp"
#include "ofp8_format.hpp"

namespace {

using narrow::formats::Ofp8Format;

void register_ofp8(narrow::Registry& registry) {
  registry.add<Ofp8Format>("e4m3",
               "OCP 8-bit float E4M3: bias 7, max 448, subnormals, no Inf, saturating by default",
               Ofp8Format::schema(Ofp8Format::e4m3(), true),
               [](const narrow::Parameters& p) -> std::unique_ptr<Ofp8Format> {
                 return std::make_unique<Ofp8Format>(Ofp8Format::e4m3(), p.boolean("saturate"));
               });
  registry.add<Ofp8Format>("e5m2",
               "OCP 8-bit float E5M2: bias 15, max 57344, subnormals, Inf and NaN as IEEE 754",
               Ofp8Format::schema(Ofp8Format::e5m2(), false),
               [](const narrow::Parameters& p) -> std::unique_ptr<Ofp8Format> {
                 return std::make_unique<Ofp8Format>(Ofp8Format::e5m2(), p.boolean("saturate"));
               });
}

}  // namespace

NARROW_PLUGIN("ofp8", "0.1.0", register_ofp8)
