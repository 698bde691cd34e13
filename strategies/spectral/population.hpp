#pragma once
// The final population of one law search, as the `genetic_law` strategy stores it: a record of
// kind "genetic_law.population" per search (one space, one window of a metric).
#include <string>
#include <vector>

#include "clustering.hpp"

namespace narrow::spectral {

/// The kind of the records read.
inline constexpr const char* population_kind = "genetic_law.population";

/// One law of the population with the statistics of its draws.
struct PopulationLaw {
  LawPoint law;       // limits and cost (+inf when the record says null)
  double mean = 0;    // of log10 of the metric over the law's draws (NaN when null)
  double sigma = 0;   // likewise
  long accepted = 0;  // draws that counted
  long refused = 0;   // invalid or refused draws
};

struct Population {
  std::string space, space_key, metric;
  double low = 0, high = 0;  // the window (tau1, tau2), values of the metric
  std::string window_name;   // e.g. "1e3-2e3"
  std::vector<PopulationLaw> laws;
};

/// Reads a population record's JSON: {"space", "space_key", "metric", "window": [t1, t2],
/// "window_name", "population": [{"low", "high", "cost", "mean", "sigma", "accepted",
/// "refused"}, ...]}. Throws narrow::Error naming `what` (e.g. "population of stage 'search'")
/// and the field at fault when the text is not such a record.
Population parse_population(const std::string& json, const std::string& what);

/// A window bound as the grid writes it: 1e3, 2e3, 5e3 ... (a number in %g form when it is
/// not a one-digit multiple of a power of ten).
std::string short_number(double value);

}  // namespace narrow::spectral
