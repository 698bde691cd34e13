#define BOOST_TEST_MODULE precision_analysis
// What a precision analysis evaluates: the trainings of a store that a query chooses (the
// precision stage's and `narrow precision --store`'s one choice), and the jobs made of them.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "narrow/precision_analysis.hpp"
#include "narrow/store.hpp"
#include "support/files.hpp"

using namespace narrow;

namespace {

const std::string weights("\0\1\2weights", 10);

/// A training of architecture `hash` with validation accuracy `accuracy`, stored in `stage`.
std::string train(Store& store, const std::string& stage, const std::string& hash, int seed,
                  double accuracy, bool keep_weights = true, bool ok = true) {
  TrainJob job;
  job.architecture_hash = hash;
  job.architecture_json = "{\"arch\":\"" + hash + "\"}";
  job.dataset.name = "synthetic";
  job.dataset.parameters = {{"train", "100"}};
  job.dataset.seed = 5;
  job.seed = std::uint64_t(seed);
  job.key = "train-" + hash + "-" + std::to_string(seed);
  TrainResult r;
  r.key = job.key;
  r.architecture_hash = hash;
  r.validation.accuracy = accuracy;
  if (!ok) {
    r.status = "failed";
    r.reason = "loss became NaN";
  }
  if (keep_weights && ok) r.weights = weights;
  store.commit_training(stage, job, r, Metrics{});
  return job.key;
}

std::vector<std::string> keys(const TrainedModels& m) {
  std::vector<std::string> out;
  for (const auto& t : m.trainings) out.push_back(t.key);
  return out;
}

using Keys = std::vector<std::string>;

}  // namespace

BOOST_AUTO_TEST_CASE(queries_choose_successful_trainings_with_weights_best_first) {
  test::TempDir tmp("precision_analysis");
  auto store = Store::open(tmp.file("results.db"));
  const auto t1 = train(*store, "train", "aa", 1, 0.9);
  const auto t2 = train(*store, "train", "aa", 2, 0.8);
  const auto t3 = train(*store, "train", "ab", 3, 0.95, false);  // kept no weights
  const auto t4 = train(*store, "train", "ab", 4, 0.7);
  (void)train(*store, "train", "bc", 5, 0.99, true, false);  // failed
  const auto t6 = train(*store, "other", "aa", 6, 0.85);

  const TrainedModels all = trained_models(*store, {});
  BOOST_TEST(keys(all) == (Keys{t1, t6, t2, t4}));
  BOOST_TEST(all.without_weights == 1);
  for (const auto& t : all.trainings) BOOST_TEST(t.weights == weights);

  BOOST_TEST(keys(trained_models(*store, {"train", "", false, 0})) == (Keys{t1, t2, t4}));
  BOOST_TEST(keys(trained_models(*store, {"", "", false, 2})) == (Keys{t1, t6}));
  BOOST_TEST(keys(trained_models(*store, {"", "ab", false, 0})) == (Keys{t4}));

  // The best of each architecture is chosen before weights are looked for: architecture ab's
  // best training kept none, so ab is left out rather than evaluated in a worse training.
  const TrainedModels best = trained_models(*store, {"", "", true, 0});
  BOOST_TEST(keys(best) == (Keys{t1}));
  BOOST_TEST(best.without_weights == 1);
  BOOST_TEST(keys(trained_models(*store, {"other", "a", true, 0})) == (Keys{t6}));
  BOOST_TEST(trained_models(*store, {"", "zz", true, 0}).trainings.empty());
  (void)t3;
}

BOOST_AUTO_TEST_CASE(a_stored_training_becomes_a_plain_job) {
  test::TempDir tmp("precision_analysis_job");
  auto store = Store::open(tmp.file("results.db"));
  const auto key = train(*store, "train", "aa", 1, 0.9);
  TrainedModels chosen = trained_models(*store, {});
  BOOST_REQUIRE(chosen.trainings.size() == 1u);
  TrainResult& t = chosen.trainings.front();
  const std::vector<FormatText> formats{{"half", {}}, {"ieee", {{"w", "4"}, {"t", "3"}}}};
  const RoundingOptions rounding{Rounding::stochastic, 42};
  const PrecisionJob job = stored_precision_job(*store, t, formats, "validation", rounding);
  BOOST_TEST(job.architecture_json == "{\"arch\":\"aa\"}");
  BOOST_TEST(job.weights == weights);
  BOOST_TEST(t.weights.empty());  // the job keeps the only copy
  BOOST_TEST(job.dataset.name == "synthetic");
  BOOST_TEST(job.dataset.seed == 5u);
  BOOST_TEST(job.dataset.parameters.at("train") == "100");
  BOOST_TEST(job.split == "validation");
  BOOST_REQUIRE(job.formats.size() == 2u);
  BOOST_TEST(job.formats[1].name == "ieee");
  BOOST_TEST(job.formats[1].parameters.at("w") == "4");
  BOOST_TEST((job.rounding.mode == Rounding::stochastic));
  BOOST_TEST(job.rounding.seed == 42u);
  (void)key;
}
