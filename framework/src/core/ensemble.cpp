// Ensembles of trained models: the vote and the metrics (narrow/ensemble.hpp).
#include "narrow/ensemble.hpp"

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "narrow/errors.hpp"
#include "narrow/training.hpp"

namespace narrow {

std::string_view vote_name(Vote v) { return v == Vote::majority ? "majority" : "mean"; }

Vote parse_vote(std::string_view text) {
  if (text == "majority") return Vote::majority;
  if (text == "mean") return Vote::mean;
  throw InputError(fmt::format("unknown vote '{}' (valid: majority, mean)", text));
}

Evaluation vote(const std::vector<std::vector<float>>& probabilities,
                const std::vector<std::int32_t>& labels, std::int64_t classes, Vote v) {
  if (probabilities.empty()) throw InputError("an ensemble needs at least one member");
  if (classes < 1) throw InputError("an ensemble needs at least one class");
  const auto n = std::int64_t(labels.size());
  for (std::size_t m = 0; m < probabilities.size(); ++m)
    if (std::int64_t(probabilities[m].size()) != n * classes)
      throw InputError(fmt::format("member {} gives {} probabilities for {} images of {} classes",
                                   m, probabilities[m].size(), n, classes));
  Evaluation ev;
  ev.count = n;
  ev.confusion.assign(std::size_t(classes), std::vector<std::int64_t>(std::size_t(classes), 0));
  if (n == 0) return ev;
  const double members = double(probabilities.size());
  std::vector<double> mean(static_cast<std::size_t>(classes));
  std::vector<std::int64_t> votes(static_cast<std::size_t>(classes));
  double loss = 0;
  std::int64_t correct = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    std::fill(mean.begin(), mean.end(), 0.0);
    std::fill(votes.begin(), votes.end(), 0);
    for (const auto& p : probabilities) {
      const float* row = p.data() + i * classes;
      std::int64_t best = 0;
      for (std::int64_t c = 0; c < classes; ++c) {
        mean[std::size_t(c)] += double(row[c]) / members;
        if (row[c] > row[best]) best = c;
      }
      ++votes[std::size_t(best)];
    }
    const std::int32_t truth = labels[std::size_t(i)];
    if (truth < 0 || truth >= classes)
      throw InputError(fmt::format("image {} has label {}, outside 0..{}", i, truth, classes - 1));
    // The mean probability of the true class (a zero counts as the smallest positive double).
    loss += -std::log(std::max(mean[std::size_t(truth)], std::numeric_limits<double>::min()));
    std::int64_t guess = 0;
    for (std::int64_t c = 1; c < classes; ++c) {
      const auto k = std::size_t(c), g = std::size_t(guess);
      const bool better = v == Vote::mean
                              ? mean[k] > mean[g]
                              : votes[k] > votes[g] || (votes[k] == votes[g] && mean[k] > mean[g]);
      if (better) guess = c;
    }
    ++ev.confusion[std::size_t(truth)][std::size_t(guess)];
    correct += guess == truth;
  }
  ev.loss = loss / double(n);
  ev.accuracy = double(correct) / double(n);
  return ev;
}

Metrics ensemble_metrics(const std::vector<Metrics>& members) {
  Metrics sum;
  for (const Metrics& m : members)
    for (auto name : metric_names) sum.set(name, sum.get(name) + m.get(name));
  return sum;
}

}  // namespace narrow
