#define BOOST_TEST_MODULE sampler
// The strategies' kit: unit keys, parallel chunks, and the sampler's batch of single draws
// under constraints (what the random strategy stores).
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <stdexcept>
#include <vector>

#include <nlohmann/json.hpp>

#include "narrow/hash.hpp"
#include "narrow/parallel.hpp"
#include "narrow/sampler.hpp"
#include "narrow/space.hpp"
#include "narrow/strategy.hpp"
#include "narrow/unit_key.hpp"
#include "support/plugins.hpp"

using namespace narrow;

BOOST_AUTO_TEST_CASE(unit_keys_spell_strategy_version_and_parts_in_order) {
  const UnitKey key = UnitKey("random", 1)
                          .add("per_law", std::int64_t{1000})
                          .add("batch", 10)
                          .add("constraints", "params<=250000;")
                          .add("space|L1|a=[1,2];")
                          .add("seed", std::uint64_t{18446744073709551615u});
  BOOST_TEST(key.text() ==
             "random/1|per_law=1000|batch=10|constraints=params<=250000;|space|L1|a=[1,2];"
             "|seed=18446744073709551615");
  BOOST_TEST(key.hash() == content_hash(key.text()));
  BOOST_TEST(UnitKey("random", 2).hash() != UnitKey("random", 1).hash());
  BOOST_TEST(content_key("train", nlohmann::json{{"a", 1}}) == content_hash("train:{\"a\":1}"));
}

BOOST_AUTO_TEST_CASE(parallel_chunks_cover_every_index_once_and_pass_errors_on) {
  for (int threads : {1, 3}) {
    std::vector<std::atomic<int>> seen(1000);
    parallel_chunks(seen.size(), 7, threads, [&](std::uint64_t b, std::uint64_t e) {
      BOOST_REQUIRE(e - b <= 7);
      for (std::uint64_t i = b; i < e; ++i) ++seen[i];
    });
    int wrong = 0;
    for (auto& s : seen) wrong += s.load() != 1;
    BOOST_TEST(wrong == 0);
  }
  parallel_chunks(0, 1, 2, [](std::uint64_t, std::uint64_t) { throw std::logic_error("never"); });
  BOOST_CHECK_THROW(parallel_chunks(100, 1, 2,
                                    [](std::uint64_t b, std::uint64_t) {
                                      if (b == 42) throw std::runtime_error("chunk 42");
                                    }),
                    std::runtime_error);
}

BOOST_AUTO_TEST_CASE(a_batch_of_draws_depends_on_seed_and_index_only) {
  auto space = test::built_plugins().create_space("sequential", {{"max_conv_layers", "3"}});
  const SamplingLaw law = SamplingLaw::uniform(space->variables());
  const Sampler sampler(*space, law, 7);
  Constraints constraints;
  constraints.bounds.push_back(Constraint{"params", 1000000, "1000000", {}, false});

  const auto one = sampler.draw_batch(0, 200, constraints, 1);
  const auto many = sampler.draw_batch(0, 200, constraints, 4);
  const auto tail = sampler.draw_batch(150, 50, constraints, 2);
  BOOST_REQUIRE(one.size() == 200u);
  int accepted = 0, rejected = 0, invalid = 0;
  for (std::size_t i = 0; i < one.size(); ++i) {
    BOOST_TEST(one[i].hash == many[i].hash);
    BOOST_TEST((one[i].status == many[i].status));
    if (i >= 150) BOOST_TEST(tail[i - 150].hash == one[i].hash);
    switch (one[i].status) {
      case DrawStatus::accepted:
        ++accepted;
        BOOST_TEST(one[i].metrics.params <= 1000000);
        BOOST_TEST(one[i].reason.empty());
        BOOST_TEST(one[i].hash == one[i].architecture.hash());
        break;
      case DrawStatus::rejected:
        ++rejected;
        BOOST_TEST(one[i].metrics.params > 1000000);
        BOOST_TEST(one[i].reason.find("params") == 0u, one[i].reason);
        break;
      case DrawStatus::invalid:
        ++invalid;
        BOOST_TEST(one[i].hash.empty());
        BOOST_TEST(!one[i].reason.empty());
        break;
    }
  }
  BOOST_TEST_MESSAGE(accepted << " accepted, " << rejected << " rejected, " << invalid
                                << " invalid");
  // Uniform draws of this space give all three outcomes.
  BOOST_TEST(accepted > 0);
  BOOST_TEST(rejected > 0);
  BOOST_TEST(invalid > 0);
}
