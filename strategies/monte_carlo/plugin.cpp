#include "monte_carlo_strategy.hpp"
#include "narrow/plugin.hpp"

namespace {
void register_monte_carlo(narrow::Registry& registry) {
  registry.add<narrow::strategies::MonteCarloStrategy>(
      "monte_carlo",
      "constrained Monte Carlo architecture learning (Chan et al.): random draws, then "
      "adaptive samples moved from the best with coordinate descent, traction then full "
      "trainings, synchronous, asynchronous or N-best",
      narrow::strategies::MonteCarloStrategy::schema());
}
}  // namespace

NARROW_PLUGIN("monte_carlo", "0.1.0", register_monte_carlo)
