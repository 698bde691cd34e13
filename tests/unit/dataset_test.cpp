#define BOOST_TEST_MODULE dataset
// The kernel's part of datasets: the options every dataset takes, specs and their content
// keys, the stratified split, subsets and normalisation, and the process-wide cache. The
// datasets themselves are plugins (datasets/), tested in dataset_plugins_test.cpp.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "narrow/dataset.hpp"
#include "narrow/errors.hpp"
#include "narrow/registry.hpp"
#include "support/datasets.hpp"
#include "support/plugins.hpp"

using namespace narrow;
using narrow::test::class_counts;
using narrow::test::dataset_fixtures;
using narrow::test::expect_input_error;
using narrow::test::read_dataset;
using narrow::test::same;
namespace tt = boost::test_tools;
using Params = std::map<std::string, std::string>;

namespace {

/// A dataset made in the test: 1 x 1 x 2 images whose first pixel tells their index, classes
/// of the given sizes (in a shuffled order), a test set of `test` images per class.
RawDataset numbered(const std::vector<std::int64_t>& class_sizes, std::int64_t test = 10) {
  RawDataset raw;
  raw.name = "numbered";
  raw.classes = std::int64_t(class_sizes.size());
  std::vector<std::int32_t> labels;
  for (std::size_t c = 0; c < class_sizes.size(); ++c)
    labels.insert(labels.end(), std::size_t(class_sizes[c]), std::int32_t(c));
  std::mt19937 gen(7);
  std::shuffle(labels.begin(), labels.end(), gen);
  const auto fill = [](ImageSet& s, const std::vector<std::int32_t>& ls, float offset) {
    s.channels = 1;
    s.height = 1;
    s.width = 2;
    s.labels = ls;
    for (std::size_t i = 0; i < ls.size(); ++i) {
      s.pixels.push_back(offset + float(i));
      s.pixels.push_back(float(ls[i]) * 0.5f);
    }
  };
  fill(raw.train, labels, 0);
  std::vector<std::int32_t> test_labels;
  for (std::int64_t k = 0; k < test; ++k)
    for (std::size_t c = 0; c < class_sizes.size(); ++c) test_labels.push_back(std::int32_t(c));
  fill(raw.test, test_labels, 100000);
  return raw;
}

/// The indices (first pixels) of the images of a split of `numbered`.
std::vector<std::int64_t> ids(const ImageSet& s) {
  std::vector<std::int64_t> out;
  for (std::int64_t i = 0; i < s.size(); ++i)
    out.push_back(std::int64_t(s.pixels[std::size_t(i * s.image_size())]));
  return out;
}

DataOptions no_normalisation() {
  DataOptions o;
  o.normalize = false;
  return o;
}

}  // namespace

// ------------------------------------------------------------------ registry

BOOST_AUTO_TEST_SUITE(registration)

BOOST_AUTO_TEST_CASE(a_new_registry_has_no_dataset_until_the_plugins_are_loaded) {
  Registry reg;
  BOOST_TEST(reg.names(Kind::dataset).empty());
  DatasetSpec s;
  expect_input_error([&] { (void)s.key(reg); },
                     "unknown dataset 'idx' (no dataset is registered; are the plugins loaded?)");
  // What a program registers itself is built in, without a plugin name.
  reg.add(Kind::format, "later", "", {},
          [](const Parameters&, const Registry&) -> std::unique_ptr<Component> { return nullptr; });
  BOOST_TEST(reg.find(Kind::format, "later").plugin.empty());
  BOOST_TEST(reg.find(Kind::format, "later").library == "(built in)");
  test::load_built_plugins(reg);
  BOOST_TEST(reg.names(Kind::dataset) == (std::vector<std::string>{"cifar", "idx", "synthetic"}),
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(a_plugin_dataset_gets_the_common_options_but_keeps_its_own) {
  Registry reg;
  reg.set_origin("someone", "1.0", "/x/libsomeone.so");
  reg.add(Kind::dataset, "mine", "a dataset of a plugin",
          {ParamSpec::integer("size", 3, 1, 9, "a size"),
           ParamSpec::integer("pad", 4, 0, 4, "its own pad")},
          [](const Parameters&, const Registry&) -> std::unique_ptr<Component> { return nullptr; });
  reg.add(Kind::format, "fmt", "not a dataset", {},
          [](const Parameters&, const Registry&) -> std::unique_ptr<Component> { return nullptr; });
  std::vector<std::string> names;
  for (const auto& p : reg.find(Kind::dataset, "mine").schema) names.push_back(p.name);
  BOOST_TEST(names == (std::vector<std::string>{"size", "pad", "validation", "train_size",
                                                "test_size", "normalize", "flip"}),
             tt::per_element());
  BOOST_TEST(std::get<std::int64_t>(reg.find(Kind::dataset, "mine").schema[1].default_value) == 4);
  BOOST_TEST(reg.find(Kind::format, "fmt").schema.empty());
  // A plugin cannot take the name of a dataset another plugin registered.
  test::load_built_plugins(reg);
  reg.set_origin("someone", "1.0", "/x/libsomeone.so");
  BOOST_CHECK_EXCEPTION(
      reg.add(
          Kind::dataset, "idx", "", {},
          [](const Parameters&, const Registry&) -> std::unique_ptr<Component> { return nullptr; }),
      PluginError, [](const PluginError& e) {
        return std::string(e.what()).find(
                   "plugin 'someone' (library /x/libsomeone.so) registers dataset 'idx', which is "
                   "already registered by plugin 'idx' (library ") != std::string::npos;
      });
}

BOOST_AUTO_TEST_CASE(data_options_come_from_parameters) {
  const auto defaults = DataOptions::from(Parameters::resolve(DataOptions::schema(), {}, "t"));
  BOOST_TEST(defaults.validation == 0.1);
  BOOST_TEST(defaults.train_size == 0);
  BOOST_TEST(defaults.test_size == 0);
  BOOST_TEST(defaults.normalize);
  BOOST_TEST(defaults.augmentation.pad == 0);
  BOOST_TEST(!defaults.augmentation.flip);
  const auto o = DataOptions::from(Parameters::resolve(DataOptions::schema(),
                                                       {{"validation", "0.25"},
                                                        {"train_size", "100"},
                                                        {"test_size", "50"},
                                                        {"normalize", "no"},
                                                        {"pad", "4"},
                                                        {"flip", "yes"}},
                                                       "t"));
  BOOST_TEST(o.validation == 0.25);
  BOOST_TEST(o.train_size == 100);
  BOOST_TEST(o.test_size == 50);
  BOOST_TEST(!o.normalize);
  BOOST_TEST(o.augmentation.pad == 4);
  BOOST_TEST(o.augmentation.flip);
  BOOST_CHECK_THROW(Parameters::resolve(DataOptions::schema(), {{"validation", "0.6"}}, "t"),
                    InputError);
  BOOST_CHECK_THROW(Parameters::resolve(DataOptions::schema(), {{"pad", "17"}}, "t"), InputError);
}

BOOST_AUTO_TEST_SUITE_END()

// ------------------------------------------------------------------ spec

BOOST_AUTO_TEST_SUITE(spec)

BOOST_AUTO_TEST_CASE(json_round_trip) {
  DatasetSpec s;
  s.name = "synthetic";
  s.parameters = {{"classes", "7"}, {"noise", "0.25"}, {"normalize", "false"}};
  s.seed = 18446744073709551557ULL;  // beyond what a double holds
  const auto j = s.to_json();
  BOOST_TEST((j["seed"] == "18446744073709551557"));
  const auto back = DatasetSpec::from_json(nlohmann::json::parse(j.dump()));
  BOOST_TEST(back.name == s.name);
  BOOST_TEST((back.parameters == s.parameters));
  BOOST_TEST(back.seed == s.seed);
  BOOST_TEST((back.to_json() == j));

  // Numbers and booleans are taken as their text; seeds as numbers too.
  const auto loose = DatasetSpec::from_json(nlohmann::json::parse(
      R"({"name": "synthetic", "parameters": {"classes": 7, "noise": 0.25, "flip": true},
          "seed": 12})"));
  BOOST_TEST((loose.parameters == Params{{"classes", "7"}, {"noise", "0.25"}, {"flip", "true"}}));
  BOOST_TEST(loose.seed == 12u);
  const auto defaults = DatasetSpec::from_json(nlohmann::json::object());
  BOOST_TEST(defaults.name == "idx");
  BOOST_TEST(defaults.parameters.empty());
  BOOST_TEST(defaults.seed == 0u);

  BOOST_CHECK_THROW(DatasetSpec::from_json(nlohmann::json::array()), InputError);
  BOOST_CHECK_THROW(DatasetSpec::from_json(nlohmann::json::parse(R"({"seed": "-3"})")), InputError);
  BOOST_CHECK_THROW(DatasetSpec::from_json(nlohmann::json::parse(R"({"seed": "12x"})")),
                    InputError);
  BOOST_CHECK_THROW(DatasetSpec::from_json(nlohmann::json::parse(R"({"parameters": [1]})")),
                    InputError);
  BOOST_CHECK_THROW(DatasetSpec::from_json(nlohmann::json::parse(R"({"name": 3})")), InputError);
}

BOOST_AUTO_TEST_CASE(key_is_the_content_of_the_resolved_spec) {
  DatasetSpec a;
  a.name = "synthetic";
  a.seed = 3;
  const auto key = a.key(test::built_plugins());
  BOOST_TEST(key.size() == 32u);
  BOOST_TEST(key.find_first_not_of("0123456789abcdef") == std::string::npos);
  // Defaults written out and values written differently resolve to the same spec.
  DatasetSpec b = a;
  b.parameters = {{"classes", "4"}, {"noise", "0.50"}, {"normalize", "yes"}};
  BOOST_TEST(b.key(test::built_plugins()) == key);
  // Anything else that changes the data changes the key.
  DatasetSpec c = a;
  c.seed = 4;
  BOOST_TEST(c.key(test::built_plugins()) != key);
  DatasetSpec d = a;
  d.parameters = {{"flip", "true"}};
  BOOST_TEST(d.key(test::built_plugins()) != key);
  DatasetSpec e = a;
  e.name = "idx";
  BOOST_TEST(e.key(test::built_plugins()) != key);

  DatasetSpec unknown;
  unknown.name = "mnist";
  expect_input_error([&] { (void)unknown.key(test::built_plugins()); },
                     "unknown dataset 'mnist' (valid: cifar, idx, synthetic)");
  DatasetSpec bad = a;
  bad.parameters = {{"colour", "3"}};
  BOOST_CHECK_THROW((void)bad.key(test::built_plugins()), InputError);
}

BOOST_AUTO_TEST_SUITE_END()

// ------------------------------------------------------------------ prepare

BOOST_AUTO_TEST_SUITE(split)

BOOST_AUTO_TEST_CASE(validation_split_is_stratified_disjoint_and_leaves_the_test_set) {
  const std::vector<std::int64_t> sizes{50, 30, 17, 3, 100};
  const RawDataset raw = numbered(sizes);
  auto options = no_normalisation();
  options.validation = 0.2;
  const PreparedData d = prepare(raw, options, 5);
  BOOST_TEST(d.name == "numbered");
  BOOST_TEST(d.classes == 5);
  BOOST_TEST(d.validation.size() == 40);  // round(0.2 * 200)
  BOOST_TEST(d.train.size() == 160);
  const auto val = class_counts(d.validation, 5);
  for (std::size_t c = 0; c < sizes.size(); ++c)
    BOOST_TEST(std::abs(double(val[c]) - 0.2 * double(sizes[c])) <= 1.0, "class " << c);

  // Train and validation are disjoint and together the whole training set; labels travel
  // with their images.
  auto t = ids(d.train), v = ids(d.validation);
  std::set<std::int64_t> all(t.begin(), t.end());
  for (auto i : v) BOOST_TEST(all.insert(i).second, "image " << i << " is in both");
  BOOST_TEST(all.size() == 200u);
  for (const ImageSet* s : {&d.train, &d.validation})
    for (std::int64_t i = 0; i < s->size(); ++i) {
      const auto id = std::size_t(s->pixels[std::size_t(2 * i)]);
      BOOST_TEST(s->labels[std::size_t(i)] == raw.train.labels[id]);
      BOOST_TEST(s->pixels[std::size_t(2 * i + 1)] == raw.train.pixels[2 * id + 1]);
    }
  // Splits keep the order of the file.
  BOOST_TEST(std::is_sorted(t.begin(), t.end()));
  BOOST_TEST(std::is_sorted(v.begin(), v.end()));
  BOOST_TEST(same(d.test, raw.test));
  BOOST_TEST(d.mean == std::vector<float>{0.0f});
  BOOST_TEST(d.stddev == std::vector<float>{1.0f});
}

BOOST_AUTO_TEST_CASE(same_seed_same_split_other_seed_other_split) {
  const RawDataset raw = numbered({40, 40, 40});
  const auto o = no_normalisation();
  const PreparedData a = prepare(raw, o, 11), b = prepare(raw, o, 11), c = prepare(raw, o, 12);
  BOOST_TEST(same(a.train, b.train));
  BOOST_TEST(same(a.validation, b.validation));
  BOOST_TEST(!same(a.validation, c.validation));
  BOOST_TEST(a.validation.size() == c.validation.size());
  BOOST_TEST(class_counts(a.validation, 3) == class_counts(c.validation, 3), tt::per_element());
}

BOOST_AUTO_TEST_CASE(no_validation_keeps_the_whole_training_set) {
  const RawDataset raw = numbered({5, 7});
  auto o = no_normalisation();
  o.validation = 0;
  const PreparedData d = prepare(raw, o, 1);
  BOOST_TEST(d.validation.size() == 0);
  BOOST_TEST(same(d.train, raw.train));
}

BOOST_AUTO_TEST_CASE(subsets_have_their_sizes_and_proportions) {
  const std::vector<std::int64_t> sizes{300, 200, 100, 400};
  const RawDataset raw = numbered(sizes, 50);  // 200 test images
  auto o = no_normalisation();
  o.train_size = 100;
  o.test_size = 30;
  const PreparedData d = prepare(raw, o, 9);
  BOOST_TEST(d.train.size() == 100);
  BOOST_TEST(d.validation.size() == 11);  // round(100 * 0.1 / 0.9)
  BOOST_TEST(d.test.size() == 30);
  const auto train = class_counts(d.train, 4), val = class_counts(d.validation, 4),
             test = class_counts(d.test, 4);
  for (std::size_t c = 0; c < sizes.size(); ++c) {
    BOOST_TEST(std::abs(double(train[c]) - 100.0 * double(sizes[c]) / 1000) <= 1.0, c);
    BOOST_TEST(std::abs(double(val[c]) - 11.0 * double(sizes[c]) / 1000) <= 1.0, c);
    BOOST_TEST(std::abs(double(test[c]) - 7.5) <= 1.0, c);
  }
  auto t = ids(d.train), v = ids(d.validation);
  std::set<std::int64_t> all(t.begin(), t.end());
  for (auto i : v) BOOST_TEST(all.insert(i).second);
  // The validation set of a subset is the one of the full split, cut to its size: a subset
  // with more images than the training set holds is refused.
  o.train_size = 950;
  expect_input_error(
      [&] { (void)prepare(raw, o, 9); },
      "dataset 'numbered': train_size 950 with its validation set of 106 images "
      "needs 1056 training images; the training set has 1000 (allowed: train_size up "
      "to 900 with validation 0.1, or 0 for all)");
  o.train_size = 0;
  o.test_size = 201;
  expect_input_error([&] { (void)prepare(raw, o, 9); },
                     "dataset 'numbered': test_size 201 is larger than the test set (200 images; "
                     "allowed: test_size up to 200, or 0 for all)");
  o.test_size = 200;
  BOOST_TEST(same(prepare(raw, o, 9).test, raw.test));
}

BOOST_AUTO_TEST_CASE(normalisation_uses_the_training_split_for_every_split) {
  const RawDataset raw =
      read_dataset("synthetic", {{"channels", "3"}, {"height", "5"}, {"width", "6"}});
  DataOptions o;
  o.augmentation.pad = 4;
  o.augmentation.flip = true;
  const PreparedData d = prepare(raw, o, 2);
  const PreparedData plain = prepare(raw, no_normalisation(), 2);
  BOOST_TEST(d.augmentation.pad == 4);
  BOOST_TEST(d.augmentation.flip);
  BOOST_TEST_REQUIRE(d.mean.size() == 3u);
  BOOST_TEST_REQUIRE(d.stddev.size() == 3u);
  const std::size_t plane = 30;
  for (std::size_t c = 0; c < 3; ++c) {
    double s = 0, s2 = 0, n = 0;
    for (std::int64_t i = 0; i < d.train.size(); ++i)
      for (std::size_t k = 0; k < plane; ++k) {
        const double x = d.train.pixels[(std::size_t(i) * 3 + c) * plane + k];
        s += x;
        s2 += x * x;
        ++n;
      }
    BOOST_TEST(std::abs(s / n) < 1e-4, "channel " << c << " mean " << s / n);
    BOOST_TEST(std::abs(std::sqrt(s2 / n - (s / n) * (s / n)) - 1) < 1e-3, "channel " << c);
    BOOST_TEST(d.mean[c] > 0.2f);
    BOOST_TEST(d.stddev[c] > 0.1f);
  }
  // The same mean and deviation on the validation and test sets.
  for (const auto& [normed, raw_set] :
       {std::pair{&d.validation, &plain.validation}, std::pair{&d.test, &plain.test}}) {
    BOOST_TEST_REQUIRE(normed->pixels.size() == raw_set->pixels.size());
    for (std::size_t i = 0; i < normed->pixels.size(); i += 7) {
      const std::size_t c = (i / plane) % 3;
      const float expected = (raw_set->pixels[i] - d.mean[c]) / d.stddev[c];
      BOOST_TEST(std::abs(normed->pixels[i] - expected) <= 1e-5f, i);
    }
  }
  BOOST_TEST(same(plain.test, raw.test));
}

BOOST_AUTO_TEST_CASE(bad_data_from_a_dataset_is_refused) {
  RawDataset raw = numbered({4, 4});
  raw.train.labels[5] = 2;
  expect_input_error([&] { (void)prepare(raw, DataOptions(), 1); },
                     "dataset 'numbered': training label 2 at index 5 is out of range 0..1");
  raw = numbered({4, 4});
  raw.train.pixels.pop_back();
  BOOST_CHECK_THROW((void)prepare(raw, DataOptions(), 1), Error);
  raw = numbered({1});
  raw.classes = 1;
  auto o = DataOptions();
  o.validation = 0.5;
  expect_input_error([&] { (void)prepare(raw, o, 1); },
                     "dataset 'numbered': validation 0.5 leaves no training images (the "
                     "training set has 1)");
}

BOOST_AUTO_TEST_SUITE_END()

// ------------------------------------------------------------------ check_dataset

BOOST_AUTO_TEST_SUITE(checking)

namespace {

DatasetSpec synthetic(std::map<std::string, std::string> options) {
  DatasetSpec s;
  s.name = "synthetic";
  s.parameters = {{"train", "480"}, {"test", "120"}};
  for (auto& [k, v] : options) s.parameters[k] = v;
  return s;
}

/// The option check_dataset() names, or "" when it accepts the spec.
std::string refused_option(const DatasetSpec& s) {
  try {
    (void)check_dataset(test::built_plugins(), s);
    return "";
  } catch (const DatasetOptionError& e) {
    BOOST_TEST(e.message().find('\n') == std::string::npos);
    return e.parameter();
  }
}

/// Whether prepare() accepts the options of `s` for the data the plugin reads.
bool prepare_accepts(const DatasetSpec& s) {
  const Registration& r = test::built_plugins().find(Kind::dataset, s.name);
  const auto options = DataOptions::from(Parameters::resolve(r.schema, s.parameters, "dataset"));
  try {
    (void)prepare(read_dataset(s.name, s.parameters), options, 1);
    return true;
  } catch (const InputError&) {
    return false;
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(describes_the_data_and_names_the_option_that_does_not_fit) {
  const DatasetDescription d = check_dataset(test::built_plugins(), synthetic({}));
  BOOST_TEST(d.name == "synthetic");
  BOOST_TEST(d.train.size == 480);
  BOOST_TEST(d.test.size == 120);
  BOOST_TEST(refused_option(synthetic({{"train_size", "450"}})) == "train_size");
  BOOST_TEST(refused_option(synthetic({{"test_size", "121"}})) == "test_size");
  BOOST_TEST(refused_option(synthetic({{"train", "1"}, {"validation", "0.5"}})) == "validation");
  expect_input_error(
      [] {
        (void)check_dataset(test::built_plugins(), synthetic({{"test_size", "121"}}));
      },
      "dataset 'synthetic': test_size 121 is larger than the test set (120 images; allowed: "
      "test_size up to 120, or 0 for all)");
}

BOOST_AUTO_TEST_CASE(accepts_exactly_what_prepare_accepts) {
  // The largest train_size of each validation share: check_dataset() accepts it and refuses
  // one more, saying so; prepare() agrees on both.
  for (const char* v : {"0", "0.1", "0.25", "0.33", "0.5"}) {
    BOOST_TEST_CONTEXT("validation " << v) {
      const auto with = [&](int t) {
        return synthetic({{"validation", v}, {"train_size", std::to_string(t)}});
      };
      int edge = 0;
      for (int t = 1; t <= 480 && !edge; ++t)
        if (refused_option(with(t + 1)) == "train_size") edge = t;
      BOOST_TEST_REQUIRE(edge > 0);
      BOOST_TEST(refused_option(with(edge)).empty());
      BOOST_TEST(prepare_accepts(with(edge)));
      BOOST_TEST(!prepare_accepts(with(edge + 1)));
      try {
        (void)check_dataset(test::built_plugins(), with(edge + 1));
      } catch (const DatasetOptionError& e) {
        const std::string says = fmt::format("allowed: train_size up to {} with", edge);
        BOOST_TEST(e.message().find(says) != std::string::npos, e.message());
      }
    }
  }
  for (int t : {119, 120, 121})
    BOOST_TEST(refused_option(synthetic({{"test_size", std::to_string(t)}})).empty() ==
               prepare_accepts(synthetic({{"test_size", std::to_string(t)}})));
}

BOOST_AUTO_TEST_SUITE_END()

// ------------------------------------------------------------------ load_dataset

BOOST_AUTO_TEST_SUITE(loading)

BOOST_AUTO_TEST_CASE(results_are_cached_by_key) {
  DatasetSpec s;
  s.name = "synthetic";
  s.parameters = {{"train", "100"}, {"test", "20"}};
  s.seed = 4;
  const auto a = load_dataset(test::built_plugins(), s);
  BOOST_TEST(a->key == s.key(test::built_plugins()));
  BOOST_TEST(a->name == "synthetic");
  BOOST_TEST(a->train.size() == 90);
  BOOST_TEST(a->validation.size() == 10);
  BOOST_TEST(a->test.size() == 20);
  DatasetSpec same_spec = s;
  same_spec.parameters["classes"] = "4";  // the default
  BOOST_TEST(load_dataset(test::built_plugins(), same_spec) == a);
  DatasetSpec other = s;
  other.seed = 5;
  const auto b = load_dataset(test::built_plugins(), other);
  BOOST_TEST(b != a);
  BOOST_TEST(!same(b->validation, a->validation));
  // Another registry with the same datasets gives the same data.
  Registry second;
  test::load_built_plugins(second);
  BOOST_TEST(load_dataset(second, s) == a);
}

BOOST_AUTO_TEST_CASE(concurrent_callers_read_once) {
  static std::atomic<int> reads{0};
  struct Counting : Dataset {
    RawDataset read() const override {
      ++reads;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      RawDataset raw = numbered({20, 20});
      raw.name = "counting";
      return raw;
    }
  };
  Registry reg;
  reg.add(Kind::dataset, "counting", "counts its reads", {},
          [](const Parameters&, const Registry&) -> std::unique_ptr<Component> {
            return std::make_unique<Counting>();
          });
  DatasetSpec s;
  s.name = "counting";
  s.parameters = {{"validation", "0.25"}};
  std::vector<std::shared_ptr<const PreparedData>> got(6);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < got.size(); ++i)
    threads.emplace_back([&, i] { got[i] = load_dataset(reg, s); });
  for (auto& t : threads) t.join();
  BOOST_TEST(reads.load() == 1);
  for (const auto& p : got) BOOST_TEST(p == got[0]);
  BOOST_TEST(got[0]->validation.size() == 10);
  BOOST_TEST(got[0]->name == "counting");
}

BOOST_AUTO_TEST_CASE(errors_are_not_cached) {
  DatasetSpec s;
  s.name = "idx";
  s.parameters = {{"path", dataset_fixtures() + "/idx/label_range"}};
  for (int i = 0; i < 2; ++i)
    BOOST_CHECK_THROW((void)load_dataset(test::built_plugins(), s), InputError);
  s.parameters["classes"] = "13";
  BOOST_TEST(load_dataset(test::built_plugins(), s)->train.size() == 7);  // 8 less round(0.8)
}

BOOST_AUTO_TEST_CASE(a_factory_that_makes_no_dataset_is_an_error) {
  struct NotADataset : Component {};
  Registry reg;
  reg.add(Kind::dataset, "impostor", "not a dataset", {},
          [](const Parameters&, const Registry&) -> std::unique_ptr<Component> {
            return std::make_unique<NotADataset>();
          });
  DatasetSpec s;
  s.name = "impostor";
  BOOST_CHECK_EXCEPTION((void)load_dataset(reg, s), Error, [](const Error& e) {
    return dynamic_cast<const InputError*>(&e) == nullptr &&
           std::string(e.what()).find("does not derive from narrow::Dataset") != std::string::npos;
  });
}

BOOST_AUTO_TEST_SUITE_END()
