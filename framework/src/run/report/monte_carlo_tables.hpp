#pragma once
// The tables of Chan et al. for the Monte Carlo searches of a store (strategy monte_carlo),
// read from each run's stage summaries:
// - Table 1 layout (`monte_carlo_variants`): per variant and stage, the accepted model's test
//   accuracy, parameters, memory (eq. 6) and FLOPs, the trainings and the stage's wall time,
//   and the ensemble's when there is one, as mean ± standard deviation over the seeds;
// - Table 2 layout (`monte_carlo_bounds`): per seed, the search without bounds, then each
//   search bounded by a fraction of its accepted model (`bounds_from`): target %, test
//   accuracy, parameters, memory and FLOPs, and the actual % of memory and FLOPs.
#include <string>
#include <vector>

#include "run/report/table.hpp"

namespace narrow {
struct StoredRun;
}

namespace narrow::report {

struct MonteCarloTables {
  Table variants, bounds;
  std::vector<std::string> summary;  // one sentence per bounded target
};

/// The tables of the runs' monte_carlo stages; both without rows when no run has one.
MonteCarloTables monte_carlo_tables(const std::vector<StoredRun>& runs);

}  // namespace narrow::report
