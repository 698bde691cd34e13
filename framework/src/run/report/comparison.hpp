#pragma once
// The comparisons of a store that holds several runs (ablation variants, seeds): per variant
// and weight budget, the best model the search found against the reference models shrunk to
// that budget and against the other variants, as mean ± standard deviation over the seeds;
// and a plot of each variant's front. What the paper's Figure 5 compares at equal memory.
#include <string>
#include <vector>

#include "run/report/figures.hpp"

namespace narrow {
class Store;
struct StoredRun;
}

namespace narrow::report {

struct Comparison {
  Table ablation;      // one row per variant and budget
  Table references;    // one row per reference model and budget, over the experiment's seeds
  Figure fronts;       // each variant's float32 front, the references marked
  std::vector<std::string> summary;  // one sentence per budget: where the search stands
};

/// The budgets (bytes) a comparison uses: those the stored `train.reference` records name, else
/// 4 KiB and 16 KiB.
std::vector<double> default_budgets(const Store& store);

/// Compares the runs of the store at each budget of weight memory (bytes):
/// - the search's best model of a run within a budget is its trained model that is not a shrunk
///   reference, whose float32 weight bytes fit, with the highest validation accuracy (the
///   selection split; ties to fewer bytes, then the hash); its test accuracy is reported;
/// - the best format within a budget is the run's (model, format) pair that fits it with the
///   highest test accuracy (precision stages evaluate the test split), references excluded;
/// - a reference's accuracy is the test accuracy of its shrunk model at that budget.
/// Means and sample standard deviations are over the seeds of a variant (the standard deviation
/// is empty for one seed). `db` is the store's file; `runs` its runs (stored_runs).
Comparison compare_runs(const Store& store, const std::string& db,
                        const std::vector<StoredRun>& runs, const std::vector<double>& budgets);

}  // namespace narrow::report
