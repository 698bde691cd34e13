#pragma once
// What a report reads from a results store: trained models with their metrics, accuracies and
// latencies; every (model, number format) evaluation; the parameter counts that sampling
// stages drew, grouped by kind of law; the metrics of the accepted architectures.
//
// Every loader takes an optional set of unit keys: when given, only units in it count
// (trainings, precision evaluations, latency measurements, sampling units), so that a report
// can be restricted to one run of a store that holds several.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "narrow/metrics.hpp"
#include "run/fronts.hpp"  // format_family, family_rank

namespace narrow {
class Store;
struct ModelTable;
}

namespace narrow::report {

using UnitFilter = const std::set<std::string>*;

/// One trained model.
struct Model {
  std::string key, stage, hash, status, reason;
  Metrics metrics;
  double val_accuracy = 0, test_accuracy = 0;  // fractions in [0, 1]
  std::int64_t epochs = 0;
  double seconds = 0;
  std::optional<double> latency_seconds;  // mean per inference, measured or predicted
  std::string latency_source;             // "measured", "predicted", or empty without one
  std::string reference;                  // its reference model's name, when a record marks it
};

/// Trained models in the order the store keeps them (by key); `db` is the store's file.
std::vector<Model> load_models(const Store& store, const std::string& db, UnitFilter units = nullptr);

/// One trained model evaluated (test split) in one number format, or its float32 training
/// result when no precision stage evaluated it.
struct FormatPoint {
  std::string training, hash, format, family, reference;
  int bits = 32;
  std::int64_t weight_bytes = 0;  // what a device stores in this format
  double accuracy = 0;            // fraction
  bool front = false;             // on its family's Pareto front (weight bytes, accuracy)
};

/// Every ok model of the model table (run/model_table.hpp; loaded for the same units) with a
/// test accuracy: as trained (float32) and in every format a precision stage evaluated on the
/// test split, with each family's front marked.
std::vector<FormatPoint> load_format_points(const ModelTable& table,
                                            const std::vector<Model>& models);

/// The three kinds of sampling law the paper compares.
std::string law_group(const std::string& law, bool learned);

/// A histogram of log10(params) of what one law of one stage drew: bin b holds values with
/// b / bins_per_decade <= log10(params) < (b + 1) / bins_per_decade.
struct Histogram {
  std::string stage, space, law, group, source;  // source: "draws" or "statistics"
  int bins_per_decade = 10;
  std::map<std::int64_t, std::int64_t> bins;
  std::int64_t count = 0;
};

/// Histograms of the accepted draws of every sampling stage (the `draws` table, 10 bins per
/// decade) and of every statistics stage whose metric is params (their stored bins).
std::vector<Histogram> load_histograms(const Store& store, const std::string& db,
                                       UnitFilter units = nullptr);

/// The metrics of each distinct accepted architecture, with its latency when measured.
struct ArchitecturePoint {
  std::string hash;
  Metrics metrics;
  std::optional<double> latency_seconds;
};
std::vector<ArchitecturePoint> load_accepted(const Store& store, const std::string& db,
                                             UnitFilter units = nullptr);

/// Rows of a read-only SQL query on the store file (every column as text; NULL as "").
std::vector<std::vector<std::string>> query_rows(const std::string& db, const std::string& sql);

}  // namespace narrow::report
