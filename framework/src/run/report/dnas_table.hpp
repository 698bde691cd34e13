#pragma once
// The channel searches of a store (strategy dnas), read from each run's stage summaries: one
// row per run and stage with the seed, the targets and what the export reached, the accuracy
// after fine-tuning beside the seed trained alone, and the time of a search epoch against a
// training epoch; with one sentence per search.
#include <string>
#include <vector>

#include "run/report/table.hpp"

namespace narrow {
struct StoredRun;
}

namespace narrow::report {

struct DnasTable {
  Table searches;
  std::vector<std::string> summary;
};

/// The table of the runs' dnas stages; without rows when no run has one.
DnasTable dnas_table(const std::vector<StoredRun>& runs);

}  // namespace narrow::report
