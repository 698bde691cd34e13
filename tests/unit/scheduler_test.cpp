#define BOOST_TEST_MODULE scheduler
// The local scheduler: results do not depend on how many jobs run at once or on the order in
// which they finish; results reach the caller one at a time; jobs and results are plain,
// serialisable data; errors come back after the running jobs end.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "narrow/architecture.hpp"
#include "narrow/errors.hpp"
#include "narrow/registry.hpp"
#include "narrow/training.hpp"
#include "engine/builder.hpp"
#include "engine/trainer.hpp"
#include "run/torch_engine.hpp"
#include "support/plugins.hpp"

using namespace narrow;

namespace {

std::string arch_json(int channels) {
  return fmt::format(R"({{"input": [1, 8, 8], "classes": 4, "output": "fc", "layers": [
    {{"id": "conv", "op": "conv2d", "inputs": ["input"], "out_channels": {}, "kernel": 3, "padding": 1}},
    {{"id": "relu", "op": "relu", "inputs": ["conv"]}},
    {{"id": "drop", "op": "dropout", "inputs": ["relu"], "p": 0.2}},
    {{"id": "pool", "op": "maxpool", "inputs": ["drop"], "kernel": 2}},
    {{"id": "flat", "op": "flatten", "inputs": ["pool"]}},
    {{"id": "fc", "op": "linear", "inputs": ["flat"], "out_features": 4}}]}})",
                     channels);
}

std::vector<TrainJob> jobs(const Registry& reg) {
  std::vector<TrainJob> out;
  for (int c : {2, 4, 6, 8, 12}) {
    TrainJob j;
    const Architecture a = Architecture::from_json_string(arch_json(c));
    j.architecture_hash = a.hash();
    j.architecture_json = a.to_json_string();
    j.dataset.name = "synthetic";
    j.dataset.parameters = {{"train", "320"}, {"test", "80"}};
    j.dataset.seed = 7;
    j.config.epochs = 2;
    j.config.batch_size = 32;
    j.seed = 100 + std::uint64_t(c);
    j.make_key(reg);
    out.push_back(j);
  }
  return out;
}

// Everything a result says except times and rates.
std::string essence(const TrainResult& r) {
  auto j = r.to_json();
  j.erase("seconds");
  j.erase("images_per_second");
  j.erase("threads");
  for (auto& e : j["history"]) e.erase("seconds");
  return j.dump() + "|" + std::to_string(std::hash<std::string>{}(r.weights));
}

std::map<std::string, std::string> run(const Registry& reg, int jobs_at_once,
                                       const std::vector<TrainJob>& js) {
  auto service = torch_engine().local_scheduler(reg, jobs_at_once, 1);
  BOOST_TEST(service->jobs() == jobs_at_once);
  BOOST_TEST(service->threads_per_job() == 1);
  std::map<std::string, std::string> out;
  std::atomic<int> inside{0};
  bool overlapped = false;
  service->run(js, [&](const TrainResult& r) {
    if (inside.fetch_add(1) != 0) overlapped = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    out[r.key] = essence(r);
    inside.fetch_sub(1);
  });
  BOOST_TEST(!overlapped, "on_result was called by two threads at once");
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(results_do_not_depend_on_jobs_at_once) {
  const Registry& reg = test::built_plugins();
  const auto js = jobs(reg);
  const auto one = run(reg, 1, js);
  const auto two = run(reg, 2, js);
  const auto three = run(reg, 3, js);
  BOOST_TEST(one.size() == js.size());
  BOOST_TEST(one == two);
  BOOST_TEST(one == three);
}

BOOST_AUTO_TEST_CASE(jobs_and_results_are_serialisable) {
  const Registry& reg = test::built_plugins();
  auto js = jobs(reg);
  const TrainJob& j = js.front();
  const TrainJob back = TrainJob::from_json(nlohmann::json::parse(j.to_json().dump()));
  BOOST_TEST(back.to_json() == j.to_json());
  // What does not change the training does not change the key.
  TrainJob k = j;
  k.threads = 4;
  k.keep_weights = false;
  k.make_key(reg);
  BOOST_TEST(k.key == j.key);
  k.seed += 1;
  k.make_key(reg);
  BOOST_TEST(k.key != j.key);
  k = j;
  k.config.learning_rate = 0.01;
  k.make_key(reg);
  BOOST_TEST(k.key != j.key);
  k = j;
  k.dataset.parameters["train"] = "321";
  k.make_key(reg);
  BOOST_TEST(k.key != j.key);

  const TrainResult r = torch_engine().train(reg, j, {});
  BOOST_TEST(r.status == "ok");
  BOOST_TEST(r.key == j.key);
  const TrainResult rb = TrainResult::from_json(nlohmann::json::parse(r.to_json().dump()));
  BOOST_TEST(rb.to_json() == r.to_json());
  BOOST_TEST(rb.test.confusion == r.test.confusion);
}

BOOST_AUTO_TEST_CASE(an_error_comes_back_after_the_running_jobs) {
  const Registry& reg = test::built_plugins();
  auto js = jobs(reg);
  // Jobs start longest first (most MACs): 12 channels, then 8, ...
  js[3].dataset.parameters["classes"] = "3";  // the architectures have 4 outputs
  std::vector<std::string> finished;
  auto service = torch_engine().local_scheduler(reg, 1, 1);
  BOOST_CHECK_THROW(
      service->run(js, [&](const TrainResult& r) { finished.push_back(r.key); }), InputError);
  // With one job at a time, the largest finished, the second failed, the rest never started.
  BOOST_REQUIRE(finished.size() == 1u);
  BOOST_TEST(finished.front() == js[4].key);
}

// A stream that offers job i only once the result of job i - 1 is in: one job at a time on
// any number of workers, with the same results as run().
BOOST_AUTO_TEST_CASE(a_stream_offers_jobs_as_results_come_back) {
  const Registry& reg = test::built_plugins();
  const auto js = jobs(reg);
  const auto expected = run(reg, 2, js);
  auto service = torch_engine().local_scheduler(reg, 2, 1);
  std::size_t offered = 0, returned = 0;
  int running = 0, most = 0;
  std::map<std::string, std::string> got;
  service->run_stream(
      [&]() -> std::optional<TrainJob> {
        if (offered == js.size() || offered > returned) return std::nullopt;
        ++running;
        most = std::max(most, running);
        return js[offered++];
      },
      [&](const TrainResult& r) {
        --running;
        ++returned;
        got[r.key] = essence(r);
      });
  BOOST_TEST(most == 1);
  BOOST_TEST(got == expected);

  // Offered all at once: two may run together; results are the same.
  offered = 0;
  most = 0;
  running = 0;
  got.clear();
  service->run_stream(
      [&]() -> std::optional<TrainJob> {
        if (offered == js.size()) return std::nullopt;
        ++running;
        most = std::max(most, running);
        return js[offered++];
      },
      [&](const TrainResult& r) {
        --running;
        got[r.key] = essence(r);
      });
  // Never more than the service's two jobs at once (whether two overlap depends on timing).
  BOOST_TEST(most <= 2);
  BOOST_TEST(got == expected);
}

BOOST_AUTO_TEST_CASE(a_stream_stops_at_an_error_and_reports_it) {
  const Registry& reg = test::built_plugins();
  auto js = jobs(reg);
  js[1].dataset.parameters["classes"] = "3";  // the architectures have 4 outputs
  auto service = torch_engine().local_scheduler(reg, 1, 1);
  std::size_t offered = 0;
  std::vector<std::string> finished;
  BOOST_CHECK_THROW(service->run_stream(
                        [&]() -> std::optional<TrainJob> {
                          if (offered == js.size()) return std::nullopt;
                          return js[offered++];
                        },
                        [&](const TrainResult& r) { finished.push_back(r.key); }),
                    InputError);
  // The first finished, the second failed, none was offered after it.
  BOOST_TEST(finished.size() == 1u);
  BOOST_TEST(offered == 2u);
}

// An ensemble of one member is that model: the same accuracy and loss as evaluating it alone.
// Two members by the mean of their softmax decide as narrow::vote does on their probabilities.
BOOST_AUTO_TEST_CASE(an_ensemble_of_one_is_the_model_itself) {
  const Registry& reg = test::built_plugins();
  const auto js = jobs(reg);
  std::vector<TrainResult> trained;
  for (std::size_t i : {1u, 4u}) trained.push_back(torch_engine().train(reg, js[i], {}));
  auto service = torch_engine().local_scheduler(reg, 2, 1);
  for (std::size_t m = 0; m < 2; ++m) {
    EnsembleJob one;
    one.architecture_json = {js[m == 0 ? 1 : 4].architecture_json};
    one.weights = {trained[m].weights};
    one.dataset = js[1].dataset;
    for (Vote v : {Vote::majority, Vote::mean}) {
      one.vote = v;
      const auto [validation, test] = service->evaluate_ensemble(one);
      const auto alone = torch_engine().evaluate(reg, one.architecture_json[0], one.weights[0],
                                                 one.dataset, 1);
      BOOST_TEST(validation.accuracy == alone.first.accuracy);
      BOOST_TEST(test.accuracy == alone.second.accuracy);
      BOOST_TEST(test.confusion == alone.second.confusion);
      BOOST_TEST(test.loss == alone.second.loss, boost::test_tools::tolerance(1e-4));
    }
  }
  EnsembleJob two;
  two.architecture_json = {js[1].architecture_json, js[4].architecture_json};
  two.weights = {trained[0].weights, trained[1].weights};
  two.dataset = js[1].dataset;
  two.vote = Vote::mean;
  const auto [validation, test] = service->evaluate_ensemble(two);
  // The same vote on the members' probabilities, each member built and loaded here.
  const auto data = load_dataset(reg, two.dataset);
  at::set_num_threads(1);  // as the service's jobs: the same arithmetic
  std::vector<std::vector<float>> on_validation, on_test;
  for (std::size_t m = 0; m < 2; ++m) {
    GraphModule module = build_module(Architecture::from_json_string(two.architecture_json[m]));
    load_weights(module, two.weights[m]);
    on_validation.push_back(probabilities(module, data->validation, data->classes));
    on_test.push_back(probabilities(module, data->test, data->classes));
  }
  const Evaluation expected_test = vote(on_test, data->test.labels, data->classes, Vote::mean);
  BOOST_TEST(test.count == 80);
  BOOST_TEST(test.confusion == expected_test.confusion);
  BOOST_TEST(test.loss == expected_test.loss, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(validation.confusion ==
             vote(on_validation, data->validation.labels, data->classes, Vote::mean).confusion);
  // The members disagree somewhere, or the check above would not tell the vote from one member.
  BOOST_TEST(on_test[0] != on_test[1]);
  // Weights that are not the architecture's are bad input.
  two.weights = {trained[1].weights, trained[0].weights};
  BOOST_CHECK_THROW(service->evaluate_ensemble(two), InputError);
  two.weights.pop_back();
  BOOST_CHECK_THROW(service->evaluate_ensemble(two), InputError);
}
