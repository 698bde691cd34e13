#include <memory>

#include "ieee_format.hpp"
#include "narrow/plugin.hpp"

namespace {
using narrow::Component;
using narrow::Parameters;
using narrow::formats::IeeeFormat;

void add_alias(narrow::Registry& registry, const char* name, int w, int t, const char* help) {
  registry.add<IeeeFormat>(name, help, IeeeFormat::alias_schema(),
               [name, w, t](const Parameters& p) -> std::unique_ptr<IeeeFormat> {
                 return std::make_unique<IeeeFormat>(p, name, w, t);
               });
}

void register_ieee(narrow::Registry& registry) {
  registry.add<IeeeFormat>("ieee",
               "IEEE-754-style binary type T(w,t): w exponent bits, t trailing significand bits",
               IeeeFormat::schema());
  add_alias(registry, "half", 5, 10, "IEEE 754 binary16, T(5,10), 16 bits");
  add_alias(registry, "bfloat16", 8, 7, "bfloat16, T(8,7), 16 bits");
  add_alias(registry, "tf32", 8, 10, "NVIDIA TensorFloat-32, T(8,10), 19 bits");
}
}  // namespace

NARROW_PLUGIN("ieee", "0.1.0", register_ieee)
