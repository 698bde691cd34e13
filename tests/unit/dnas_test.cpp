#define BOOST_TEST_MODULE dnas
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "narrow/errors.hpp"
#include "narrow/training.hpp"
#include "support/plugins.hpp"
#include "targets.hpp"

using narrow::ParameterError;
using narrow::strategies::parse_targets;

BOOST_AUTO_TEST_CASE(targets_as_written) {
  const auto t = parse_targets("{deployed_bytes: 20%, latency: 2ms, params: 50k}");
  BOOST_REQUIRE(t.size() == 3u);
  BOOST_TEST(t[0].metric == "deployed_bytes");
  BOOST_TEST(t[0].fraction);
  BOOST_TEST(t[0].value == 0.2);
  BOOST_TEST(t[0].resolve(1000) == 200);
  BOOST_TEST(t[1].metric == "latency");
  BOOST_TEST(!t[1].fraction);
  BOOST_TEST(std::abs(t[1].value - 0.002) < 1e-15);
  BOOST_TEST(t[1].resolve(1.0) == t[1].value);
  BOOST_TEST(t[2].value == 50000);
  const auto plain = parse_targets("weight_bytes: 16KiB");
  BOOST_REQUIRE(plain.size() == 1u);
  BOOST_TEST(plain[0].value == 16384);
}

BOOST_AUTO_TEST_CASE(bad_targets_are_refused_naming_the_item) {
  auto refused = [](const std::string& text, const std::string& fragment) {
    try {
      parse_targets(text);
    } catch (const ParameterError& e) {
      BOOST_TEST(e.parameter() == "targets");
      BOOST_TEST(std::string(e.what()).find(fragment) != std::string::npos, e.what());
      return;
    }
    BOOST_ERROR("accepted: " + text);
  };
  refused("{}", "no target given");
  refused("{memory: 20%}", "unknown cost 'memory'");
  refused("{layers: 3}", "unknown cost 'layers'");
  refused("{params: 20%, params: 30%}", "'params' is given twice");
  refused("{params: 0%}", "above 0 and below 100");
  refused("{params: 100%}", "above 0 and below 100");
  refused("{params: x%}", "is not a percentage");
  refused("{latency: 16KiB}", "is a size, and latency is a time");
  refused("{params: 0}", "must be above 0");
  refused("{params 20%}", "is not 'metric: value'");
}

BOOST_AUTO_TEST_CASE(a_search_or_starting_weights_change_the_key) {
  auto& registry = narrow::test::built_plugins();
  narrow::TrainJob job;
  job.architecture_hash = "a";
  job.dataset.name = "idx";
  job.make_key(registry);
  const std::string plain = job.key;
  BOOST_TEST(job.kind() == "train");
  job.init_weights = "weights";
  job.make_key(registry);
  const std::string started = job.key;
  BOOST_TEST(started != plain);
  job.init_weights = "other weights";
  job.make_key(registry);
  BOOST_TEST(job.key != started);
  narrow::ChannelSearch search;
  search.targets.push_back({"params", 100, 1});
  job.search = search;
  job.make_key(registry);
  BOOST_TEST(job.kind() == "channel_search");
  const std::string searched = job.key;
  job.search->targets[0].value = 200;
  job.make_key(registry);
  BOOST_TEST(job.key != searched);
  // The search travels with the job.
  const auto back = narrow::TrainJob::from_json(job.to_json());
  BOOST_REQUIRE(back.search.has_value());
  BOOST_TEST(back.search->targets[0].value == 200);
}
