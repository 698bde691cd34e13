#pragma once
// The report's figures (the paper's Figures 1/4, 2, 5 and 7) and tables, made from what
// report_data.hpp loads. A figure whose data is empty has no plot and says why.
#include <optional>
#include <string>
#include <vector>

#include "run/report/gnuplot.hpp"
#include "run/report/report_data.hpp"
#include "run/report/table.hpp"

namespace narrow::report {

struct Figure {
  std::string name;     // the plot's file stem and the page's anchor
  std::string title;
  std::string caption;  // one paragraph for the page: what is drawn and how
  std::optional<Plot> plot;
  std::string omitted;  // why there is no plot (when plot is empty)
  Table table;          // the figure's data
};

/// The set-up of the plots of test accuracy against a cost (Figures 5 and 7, the variants'
/// fronts): `xlabel` (with its unit) along a log x axis, test accuracy (%) up, the key boxed at
/// the bottom right. Callers add series and further settings.
Plot accuracy_plot(const std::string& name, const std::string& title, const std::string& xlabel);

/// gnuplot's style of the reference models' markers in those plots: open black diamonds.
extern const char* const kReferenceMarker;

/// Every trained model with its metrics, accuracies (%) and latency (ms).
Table models_table(const std::vector<Model>& models);

/// Figures 1 and 4: histograms of log10(params) of what the sampling stages drew, one series
/// per stage and kind of law (uniform, hand-made, learned), as a share of that series' draws.
Figure histogram_figure(const std::vector<Histogram>& histograms);

/// Figure 2: Pearson correlation of the log10 metrics of the accepted architectures, as a
/// heat map with the coefficients written in.
Figure correlation_figure(const std::vector<ArchitecturePoint>& accepted);

/// Figure 5: test accuracy against weight memory, one colour per format family, each family's
/// front as a step line, reference models as open diamonds.
Figure memory_figure(const std::vector<FormatPoint>& points);

/// Figure 7: test accuracy against measured latency of the trained models, with the front.
Figure latency_figure(const std::vector<Model>& models);

/// Pearson correlation of log10(a) and log10(b) over the pairs where both are > 0; nullopt
/// when fewer than 3 pairs or when either side does not vary.
std::optional<double> log_pearson(const std::vector<double>& a, const std::vector<double>& b,
                                  std::size_t& pairs);

}  // namespace narrow::report
