#pragma once
// Trained models that classify together (Chan et al. Table 1, "Async Ensemble"): each member
// gives class probabilities for every image, and the ensemble decides by majority vote or by
// the mean of the probabilities. No LibTorch here: the probabilities come from the training
// service (TrainingService::evaluate_ensemble), and the vote is plain arithmetic.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "narrow/dataset.hpp"
#include "narrow/export.hpp"
#include "narrow/metrics.hpp"

namespace narrow {

struct Evaluation;

/// How members decide together. `majority`: each member votes for its most probable class,
/// the class with most votes wins, a tie goes to the tied class with the highest mean
/// probability (then to the lowest index). `mean`: the class with the highest mean probability.
enum class Vote { majority, mean };
NARROW_API std::string_view vote_name(Vote v);
/// Throws InputError naming the valid votes.
NARROW_API Vote parse_vote(std::string_view text);

/// The ensemble's evaluation on one set of images: `probabilities[m]` holds member m's class
/// probabilities, image by image (images x classes values), `labels` the true classes. The
/// loss is the mean cross-entropy of the members' mean probability (whatever the vote);
/// accuracy and confusion matrix follow the vote. Throws InputError when the sizes disagree.
NARROW_API Evaluation vote(const std::vector<std::vector<float>>& probabilities,
                           const std::vector<std::int32_t>& labels, std::int64_t classes, Vote v);

/// What an ensemble stores and computes: every member's metrics summed (all members are
/// stored and all run for one classification), layers included.
NARROW_API Metrics ensemble_metrics(const std::vector<Metrics>& members);

/// Trained models to evaluate as one ensemble on the validation and test splits of a dataset.
struct NARROW_API EnsembleJob {
  std::vector<std::string> architecture_json;  // canonical JSON, one per member
  std::vector<std::string> weights;            // as TrainResult keeps them, one per member
  DatasetSpec dataset;
  Vote vote = Vote::majority;
};

}  // namespace narrow
