#include "narrow/precision_analysis.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "narrow/errors.hpp"
#include "narrow/store.hpp"

namespace narrow {

TrainedModels trained_models(const Store& store, const TrainedModelQuery& query) {
  std::vector<TrainResult> chosen;
  for (auto& t : store.trainings(query.stage))
    if (t.status == "ok" && t.architecture_hash.starts_with(query.hash_prefix))
      chosen.push_back(std::move(t));
  if (query.best_per_architecture) {
    std::map<std::string, TrainResult> best;  // by architecture hash
    for (auto& t : chosen) {
      auto it = best.find(t.architecture_hash);
      if (it == best.end() || ranks_before(t, it->second)) best[t.architecture_hash] = t;
    }
    chosen.clear();
    for (auto& [hash, t] : best) chosen.push_back(std::move(t));
  }
  TrainedModels out;
  for (auto& t : chosen) {
    auto weights = store.training_weights(t.key);
    if (!weights) {
      ++out.without_weights;
      continue;
    }
    t.weights = std::move(*weights);
    out.trainings.push_back(std::move(t));
  }
  std::sort(out.trainings.begin(), out.trainings.end(), ranks_before);
  if (query.count > 0 && std::int64_t(out.trainings.size()) > query.count)
    out.trainings.resize(std::size_t(query.count));
  return out;
}

PrecisionJob stored_precision_job(const Store& store, TrainResult& training,
                                  std::vector<FormatText> formats, const std::string& split,
                                  const RoundingOptions& rounding) {
  PrecisionJob job;
  job.dataset = store.training_dataset(training.key);
  const auto a = store.architecture_json(training.architecture_hash);
  if (!a)
    throw Error(fmt::format("the store has no architecture {} for training {}",
                            training.architecture_hash, training.key));
  job.architecture_json = *a;
  job.weights = std::move(training.weights);
  job.split = split;
  job.formats = std::move(formats);
  job.rounding = rounding;
  return job;
}

}  // namespace narrow
