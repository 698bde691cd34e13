#include <memory>

#include "fixed_format.hpp"
#include "narrow/plugin.hpp"

namespace {

void register_fixed(narrow::Registry& registry) {
  registry.add<narrow::formats::FixedFormat>("fixed",
               "two's-complement fixed point Q(m,n): sign + m integer + n fractional bits, "
               "saturating",
               narrow::formats::FixedFormat::schema(),
               [](const narrow::Parameters& p) -> std::unique_ptr<narrow::formats::FixedFormat> {
                 return std::make_unique<narrow::formats::FixedFormat>(int(p.integer("m")),
                                                                       int(p.integer("n")));
               });
}

}  // namespace

NARROW_PLUGIN("fixed", "0.1.0", register_fixed)
