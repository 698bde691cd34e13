#define BOOST_TEST_MODULE dataset
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "narrow/config.hpp"
#include "narrow/dataset.hpp"
#include "narrow/errors.hpp"
#include "narrow/registry.hpp"
#include "support/files.hpp"

using namespace narrow;
namespace fs = std::filesystem;
namespace tt = boost::test_tools;
using Params = std::map<std::string, std::string>;

namespace {

const std::string fashion_mnist = "/usr/share/datasets/fashion-mnist";

Registry& registry() {
  static Registry reg;
  return reg;
}

std::string fixtures() {
  const char* src = std::getenv("NARROW_SOURCE_DIR");
  const fs::path root =
      src && *src ? fs::path(src) : fs::path(__FILE__).parent_path().parent_path().parent_path();
  return (root / "tests" / "fixtures" / "datasets").lexically_normal().string();
}

struct TempDir : narrow::test::TempDir {
  TempDir() : narrow::test::TempDir("dataset-test") {}
};

/// Writes `bytes` to `path`, or gzipped to `path`.gz (with the gzip program: the test does
/// not link zlib).
void write_file(const std::string& path, const std::string& bytes, bool gz = false) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  if (gz) BOOST_REQUIRE(std::system(("gzip -n -f '" + path + "'").c_str()) == 0);
}

RawDataset read(const std::string& name, const Params& params) {
  auto made = registry().create(Kind::dataset, name, params);
  const auto* dataset = dynamic_cast<const Dataset*>(made.get());
  BOOST_REQUIRE(dataset != nullptr);
  return dataset->read();
}

/// Runs `f`, which must throw InputError with exactly `message`, on one line.
void expect_input_error(const std::function<void()>& f, const std::string& message) {
  try {
    f();
    BOOST_ERROR("no InputError; expected: " << message);
  } catch (const InputError& e) {
    BOOST_TEST(e.message() == message);
    BOOST_TEST(e.message().find('\n') == std::string::npos);
  } catch (const std::exception& e) {
    BOOST_ERROR("not an InputError: " << e.what());
  }
}
/// The same, for messages that end in text from elsewhere (zlib): only their start is fixed.
void expect_input_error_starting(const std::function<void()>& f, const std::string& start) {
  try {
    f();
    BOOST_ERROR("no InputError; expected: " << start << "...");
  } catch (const InputError& e) {
    BOOST_TEST(e.message().rfind(start, 0) == 0u, e.message() << " does not start with " << start);
    BOOST_TEST(e.message().find('\n') == std::string::npos);
  } catch (const std::exception& e) {
    BOOST_ERROR("not an InputError: " << e.what());
  }
}

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

std::vector<std::int64_t> class_counts(const ImageSet& s, std::int64_t classes) {
  std::vector<std::int64_t> n(std::size_t(classes), 0);
  for (auto l : s.labels) ++n[std::size_t(l)];
  return n;
}

DataOptions no_normalisation() {
  DataOptions o;
  o.normalize = false;
  return o;
}

bool same(const ImageSet& a, const ImageSet& b) {
  return a.channels == b.channels && a.height == b.height && a.width == b.width &&
         a.labels == b.labels && a.pixels == b.pixels;
}

}  // namespace

// ------------------------------------------------------------------ registry

BOOST_AUTO_TEST_SUITE(registration)

BOOST_AUTO_TEST_CASE(registry_lists_the_built_in_datasets_with_the_common_options) {
  Registry reg;
  BOOST_TEST(reg.names(Kind::dataset) == (std::vector<std::string>{"cifar", "idx", "synthetic"}),
             tt::per_element());
  const auto common = DataOptions::schema();
  BOOST_TEST(common.size() == 6u);
  for (const auto& name : reg.names(Kind::dataset)) {
    BOOST_TEST_CONTEXT("dataset " << name) {
      const Registration& r = reg.find(Kind::dataset, name);
      BOOST_TEST(r.library == "(built in)");
      BOOST_TEST(r.plugin == "narrow");
      BOOST_TEST(r.plugin_version == NARROW_VERSION);
      BOOST_TEST(!r.help.empty());
      std::vector<std::string> names;
      for (const auto& p : r.schema) {
        names.push_back(p.name);
        BOOST_TEST(!p.help.empty(), p.name);
      }
      // The dataset's own parameters, then the common ones, in their order.
      BOOST_TEST_REQUIRE(names.size() > common.size());
      for (std::size_t i = 0; i < common.size(); ++i)
        BOOST_TEST(names[names.size() - common.size() + i] == common[i].name);
      BOOST_CHECK_NO_THROW(reg.create(Kind::dataset, name, {}));  // no file is read yet
    }
  }
  const auto& idx = reg.find(Kind::dataset, "idx").schema;
  BOOST_TEST(idx[0].name == "path");
  BOOST_TEST(std::get<std::string>(idx[0].default_value) == fashion_mnist);
  BOOST_TEST(idx[1].name == "classes");
  const auto& cifar = reg.find(Kind::dataset, "cifar").schema;
  BOOST_TEST(cifar[1].choices == (std::vector<std::string>{"cifar10", "cifar100"}),
             tt::per_element());
  // Programs' own later registrations stay "built in" without a plugin name.
  reg.add(Kind::format, "later", "", {},
          [](const Parameters&, const Registry&) -> std::unique_ptr<Component> { return nullptr; });
  BOOST_TEST(reg.find(Kind::format, "later").plugin.empty());
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
  // A plugin cannot take a built-in name.
  BOOST_CHECK_EXCEPTION(
      reg.add(Kind::dataset, "idx", "", {},
              [](const Parameters&, const Registry&) -> std::unique_ptr<Component> { return nullptr; }),
      PluginError, [](const PluginError& e) {
        return std::string(e.what()).find("already registered by narrow (built in)") !=
               std::string::npos;
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
  const auto key = a.key(registry());
  BOOST_TEST(key.size() == 32u);
  BOOST_TEST(key.find_first_not_of("0123456789abcdef") == std::string::npos);
  // Defaults written out and values written differently resolve to the same spec.
  DatasetSpec b = a;
  b.parameters = {{"classes", "4"}, {"noise", "0.50"}, {"normalize", "yes"}};
  BOOST_TEST(b.key(registry()) == key);
  // Anything else that changes the data changes the key.
  DatasetSpec c = a;
  c.seed = 4;
  BOOST_TEST(c.key(registry()) != key);
  DatasetSpec d = a;
  d.parameters = {{"flip", "true"}};
  BOOST_TEST(d.key(registry()) != key);
  DatasetSpec e = a;
  e.name = "idx";
  BOOST_TEST(e.key(registry()) != key);

  DatasetSpec unknown;
  unknown.name = "mnist";
  expect_input_error([&] { (void)unknown.key(registry()); },
                     "unknown dataset 'mnist' (valid: cifar, idx, synthetic)");
  DatasetSpec bad = a;
  bad.parameters = {{"colour", "3"}};
  BOOST_CHECK_THROW((void)bad.key(registry()), InputError);
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
  expect_input_error([&] { (void)prepare(raw, o, 9); },
                     "dataset 'numbered': train_size 950 with its validation set of 106 images "
                     "needs 1056 training images; the training set has 1000");
  o.train_size = 0;
  o.test_size = 201;
  expect_input_error([&] { (void)prepare(raw, o, 9); },
                     "dataset 'numbered': test_size 201 is larger than the test set (200 images)");
  o.test_size = 200;
  BOOST_TEST(same(prepare(raw, o, 9).test, raw.test));
}

BOOST_AUTO_TEST_CASE(normalisation_uses_the_training_split_for_every_split) {
  const RawDataset raw = read("synthetic", {{"channels", "3"}, {"height", "5"}, {"width", "6"}});
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

// ------------------------------------------------------------------ synthetic

BOOST_AUTO_TEST_SUITE(synthetic)

BOOST_AUTO_TEST_CASE(shape_and_determinism) {
  const Params p{{"channels", "3"}, {"height", "5"}, {"width", "7"},
                 {"classes", "6"},  {"train", "60"}, {"test", "13"}};
  const RawDataset a = read("synthetic", p), b = read("synthetic", p);
  BOOST_TEST(a.name == "synthetic");
  BOOST_TEST(a.classes == 6);
  BOOST_TEST(a.train.size() == 60);
  BOOST_TEST(a.test.size() == 13);
  for (const ImageSet* s : {&a.train, &a.test}) {
    BOOST_TEST(s->channels == 3);
    BOOST_TEST(s->height == 5);
    BOOST_TEST(s->width == 7);
    BOOST_TEST(s->pixels.size() == std::size_t(s->size() * 105));
    BOOST_TEST(*std::min_element(s->pixels.begin(), s->pixels.end()) >= 0.0f);
    BOOST_TEST(*std::max_element(s->pixels.begin(), s->pixels.end()) <= 1.0f);
  }
  BOOST_TEST(class_counts(a.train, 6) == std::vector<std::int64_t>(6, 10), tt::per_element());
  BOOST_TEST(same(a.train, b.train));
  BOOST_TEST(same(a.test, b.test));
  BOOST_TEST((a.train.pixels != a.test.pixels));
  auto other = p;
  other["seed"] = "2";
  BOOST_TEST(!same(read("synthetic", other).train, a.train));
  // The same images, whatever the count: sample i does not depend on the others.
  auto more = p;
  more["train"] = "90";
  const RawDataset m = read("synthetic", more);
  BOOST_TEST(std::equal(a.train.pixels.begin(), a.train.pixels.end(), m.train.pixels.begin()));
  // Without noise every image is its class's prototype.
  auto clean = p;
  clean["noise"] = "0";
  const RawDataset c = read("synthetic", clean);
  BOOST_TEST(std::equal(c.train.pixels.begin(), c.train.pixels.begin() + 105,
                        c.train.pixels.begin() + 6 * 105));
}

BOOST_AUTO_TEST_CASE(default_synthetic_data_is_learnable) {
  // A nearest-class-mean classifier, far weaker than a CNN, already separates the classes.
  const PreparedData d = prepare(read("synthetic", {}), DataOptions(), 1);
  BOOST_TEST(d.train.size() + d.validation.size() == 512);
  BOOST_TEST(d.test.size() == 128);
  const auto n = std::size_t(d.train.image_size());
  std::vector<std::vector<double>> means(4, std::vector<double>(n, 0.0));
  const auto counts = class_counts(d.train, 4);
  for (std::int64_t i = 0; i < d.train.size(); ++i)
    for (std::size_t k = 0; k < n; ++k)
      means[std::size_t(d.train.labels[std::size_t(i)])][k] +=
          d.train.pixels[std::size_t(i) * n + k] /
          double(counts[std::size_t(d.train.labels[std::size_t(i)])]);
  std::int64_t right = 0;
  for (std::int64_t i = 0; i < d.test.size(); ++i) {
    std::size_t best = 0;
    double best_distance = 1e300;
    for (std::size_t c = 0; c < 4; ++c) {
      double dist = 0;
      for (std::size_t k = 0; k < n; ++k) {
        const double x = d.test.pixels[std::size_t(i) * n + k] - means[c][k];
        dist += x * x;
      }
      if (dist < best_distance) {
        best_distance = dist;
        best = c;
      }
    }
    right += best == std::size_t(d.test.labels[std::size_t(i)]);
  }
  BOOST_TEST(double(right) / double(d.test.size()) > 0.9, right << " of " << d.test.size());
}

BOOST_AUTO_TEST_SUITE_END()

// ------------------------------------------------------------------ idx

BOOST_AUTO_TEST_SUITE(idx)

BOOST_AUTO_TEST_CASE(reads_a_small_folder_of_raw_and_gzipped_files) {
  const RawDataset d = read("idx", {{"path", fixtures() + "/idx/valid"}});
  BOOST_TEST(d.name == "valid");
  BOOST_TEST(d.classes == 10);
  BOOST_TEST(d.class_names.empty());
  BOOST_TEST(d.train.size() == 8);
  BOOST_TEST(d.test.size() == 3);
  BOOST_TEST(d.train.channels == 1);
  BOOST_TEST(d.train.height == 2);
  BOOST_TEST(d.train.width == 3);
  BOOST_TEST(d.train.labels == (std::vector<std::int32_t>{0, 1, 2, 3, 4, 5, 6, 7}),
             tt::per_element());
  BOOST_TEST(d.test.labels == (std::vector<std::int32_t>{9, 8, 7}), tt::per_element());
  for (std::size_t i = 0; i < d.train.pixels.size(); ++i)
    BOOST_TEST(d.train.pixels[i] == float((i * 37) % 256) / 255.0f);
  // A trailing slash names the same folder.
  BOOST_TEST(read("idx", {{"path", fixtures() + "/idx/valid/"}}).name == "valid");
}

BOOST_AUTO_TEST_CASE(reads_fashion_mnist,
                     *boost::unit_test::precondition([](boost::unit_test::test_unit_id) {
                       return fs::exists(fashion_mnist);
                     })) {
  const RawDataset d = read("idx", {});
  BOOST_TEST(d.name == "fashion-mnist");
  BOOST_TEST(d.classes == 10);
  BOOST_TEST_REQUIRE(d.class_names.size() == 10u);
  BOOST_TEST(d.class_names[0] == "T-shirt/top");
  BOOST_TEST(d.class_names[9] == "Ankle boot");
  BOOST_TEST(d.train.size() == 60000);
  BOOST_TEST(d.test.size() == 10000);
  for (const ImageSet* s : {&d.train, &d.test}) {
    BOOST_TEST(s->channels == 1);
    BOOST_TEST(s->height == 28);
    BOOST_TEST(s->width == 28);
    BOOST_TEST(s->pixels.size() == std::size_t(s->size()) * 784u);
    const auto [lo, hi] = std::minmax_element(s->pixels.begin(), s->pixels.end());
    BOOST_TEST(*lo == 0.0f);
    BOOST_TEST(*hi == 1.0f);
  }
  // Fashion-MNIST is balanced: 6000 training and 1000 test images per class.
  BOOST_TEST(class_counts(d.train, 10) == std::vector<std::int64_t>(10, 6000), tt::per_element());
  BOOST_TEST(class_counts(d.test, 10) == std::vector<std::int64_t>(10, 1000), tt::per_element());

  const PreparedData p = prepare(d, DataOptions(), 1);
  BOOST_TEST(p.train.size() == 54000);
  BOOST_TEST(p.validation.size() == 6000);
  BOOST_TEST(p.test.size() == 10000);
  BOOST_TEST(class_counts(p.validation, 10) == std::vector<std::int64_t>(10, 600),
             tt::per_element());
  BOOST_TEST(p.mean[0] == 0.286f, tt::tolerance(0.01f));
  BOOST_TEST(p.stddev[0] == 0.353f, tt::tolerance(0.01f));
}

BOOST_AUTO_TEST_CASE(bad_files_are_one_line_input_errors) {
  const std::string dir = fixtures() + "/idx/";
  const auto check = [&](const std::string& folder, const std::string& message) {
    BOOST_TEST_CONTEXT(folder) {
      expect_input_error([&] { (void)read("idx", {{"path", dir + folder}}); }, message);
    }
  };
  check("bad_magic",
        dir +
            "bad_magic/train-images-idx3-ubyte: wrong magic number 0x12345678, expected "
            "0x00000803 (an IDX file of unsigned-byte images, count x rows x columns)");
  check("bad_magic_gz",
        dir +
            "bad_magic_gz/train-labels-idx1-ubyte.gz: wrong magic number 0x00000803, expected "
            "0x00000801 (an IDX file of unsigned-byte labels); this is an image file");
  check("short_header", dir +
                            "short_header/t10k-labels-idx1-ubyte: truncated: 6 bytes, expected at "
                            "least the 8-byte IDX header (magic number 0x00000801, count)");
  check("truncated",
        dir +
            "truncated/t10k-images-idx3-ubyte: truncated: the header announces 3 images of 2x3 "
            "pixels, the file holds 2 (14 bytes after the 16-byte header)");
  check("truncated_gz", dir +
                            "truncated_gz/train-images-idx3-ubyte.gz: truncated gzip data (the "
                            "compressed stream ends early); expected a whole gzip file");
  check("trailing_bytes",
        dir +
            "trailing_bytes/t10k-labels-idx1-ubyte: 2 bytes after the last of the 3 labels the "
            "header announces; expected exactly 3 bytes after the 8-byte header");
  check("count_mismatch", dir + "count_mismatch/train-labels-idx1-ubyte.gz: 7 labels, but " + dir +
                              "count_mismatch/train-images-idx3-ubyte.gz holds 8 images; expected "
                              "one label per image");
  check("label_range", dir +
                           "label_range/train-labels-idx1-ubyte.gz: label 12 at index 5 is out of "
                           "range 0..9 (parameter 'classes' is 10)");
  check("size_mismatch",
        dir +
            "size_mismatch/t10k-images-idx3-ubyte: images of 3x2 pixels, but the training "
            "images (" +
            dir + "size_mismatch/train-images-idx3-ubyte.gz) are 2x3; expected the same size");
  check("missing_file",
        dir +
            "missing_file/t10k-labels-idx1-ubyte: missing (neither it nor "
            "t10k-labels-idx1-ubyte.gz exists); the idx dataset needs train-images-idx3-ubyte, "
            "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte in its "
            "folder, each raw or gzipped (.gz)");
  check("no_such_folder", dir +
                              "no_such_folder: folder does not exist (parameter 'path' of "
                              "dataset 'idx')");
  check("valid/t10k-labels-idx1-ubyte",
        dir +
            "valid/t10k-labels-idx1-ubyte: is not a folder (parameter 'path' of dataset 'idx' "
            "must name the folder of the data files)");
  // The rest of this message is zlib's ("invalid block type"), without the path again.
  const std::string damaged = dir + "damaged_gz/train-images-idx3-ubyte.gz";
  const auto read_damaged = [&] { (void)read("idx", {{"path", dir + "damaged_gz"}}); };
  expect_input_error_starting(read_damaged, damaged + ": cannot be read: ");
  try {
    read_damaged();
  } catch (const InputError& e) {
    BOOST_TEST(e.message().find(damaged, 1) == std::string::npos, e.message());
    BOOST_TEST(e.message().find("(damaged gzip data)") != std::string::npos, e.message());
  }
  // More classes make the label valid.
  BOOST_CHECK_NO_THROW(read("idx", {{"path", dir + "label_range"}, {"classes", "13"}}));
}

BOOST_AUTO_TEST_SUITE_END()

// ------------------------------------------------------------------ cifar

BOOST_AUTO_TEST_SUITE(cifar)

namespace {
std::string record(int coarse, int label, int seed) {
  std::string r;
  if (coarse >= 0) r += char(coarse);
  r += char(label);
  for (int k = 0; k < 3072; ++k) r += char((k * 5 + seed) % 256);
  return r;
}
}  // namespace

BOOST_AUTO_TEST_CASE(reads_cifar10_raw_and_gzipped) {
  TempDir tmp;
  // Batch b holds two images, labels b and b + 5 (mod 10); the test batch three.
  for (int b = 1; b <= 5; ++b)
    write_file(tmp.file("data_batch_" + std::to_string(b) + ".bin"),
               record(-1, b % 10, b) + record(-1, (b + 5) % 10, b + 10), b % 2 == 0);
  write_file(tmp.file("test_batch.bin"), record(-1, 0, 1) + record(-1, 9, 2) + record(-1, 4, 3),
             true);
  const RawDataset d = read("cifar", {{"path", tmp.dir.string()}});
  BOOST_TEST(d.name == "cifar-10");
  BOOST_TEST(d.classes == 10);
  BOOST_TEST_REQUIRE(d.class_names.size() == 10u);
  BOOST_TEST(d.class_names[0] == "airplane");
  BOOST_TEST(d.train.size() == 10);
  BOOST_TEST(d.test.size() == 3);
  BOOST_TEST(d.train.channels == 3);
  BOOST_TEST(d.train.height == 32);
  BOOST_TEST(d.train.width == 32);
  BOOST_TEST(d.train.labels == (std::vector<std::int32_t>{1, 6, 2, 7, 3, 8, 4, 9, 5, 0}),
             tt::per_element());
  BOOST_TEST(d.test.labels == (std::vector<std::int32_t>{0, 9, 4}), tt::per_element());
  // Image 3 (batch 2, second record, seed 12): pixel k (CHW order) is byte (5k + 12) mod 256.
  for (std::size_t k = 0; k < 3072; k += 101)
    BOOST_TEST(d.train.pixels[3 * 3072 + k] == float((k * 5 + 12) % 256) / 255.0f);
  // The class names of the distribution's batches.meta.txt win.
  std::ofstream(tmp.file("batches.meta.txt")) << "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n";
  BOOST_TEST(read("cifar", {{"path", tmp.dir.string()}}).class_names[9] == "j");
}

BOOST_AUTO_TEST_CASE(reads_cifar100_fine_labels) {
  TempDir tmp;
  write_file(tmp.file("train.bin"), record(3, 99, 1) + record(19, 0, 2) + record(0, 42, 3));
  write_file(tmp.file("test.bin"), record(1, 7, 4) + record(2, 8, 5), true);
  const RawDataset d = read("cifar", {{"path", tmp.dir.string()}, {"variant", "cifar100"}});
  BOOST_TEST(d.name == "cifar-100");
  BOOST_TEST(d.classes == 100);
  BOOST_TEST(d.class_names.empty());
  BOOST_TEST(d.train.labels == (std::vector<std::int32_t>{99, 0, 42}), tt::per_element());
  BOOST_TEST(d.test.labels == (std::vector<std::int32_t>{7, 8}), tt::per_element());
  BOOST_TEST(d.test.pixels[3072 + 7] == float((7 * 5 + 5) % 256) / 255.0f);
  std::ofstream names(tmp.file("fine_label_names.txt"));
  for (int c = 0; c < 100; ++c) names << "class" << c << "\n";
  names.close();
  BOOST_TEST(read("cifar", {{"path", tmp.dir.string()}, {"variant", "cifar100"}}).class_names[42] ==
             "class42");
}

BOOST_AUTO_TEST_CASE(bad_files_are_one_line_input_errors) {
  const std::string dir = fixtures() + "/cifar/";
  const auto check = [&](const std::string& folder, const std::string& variant,
                         const std::string& message) {
    BOOST_TEST_CONTEXT(folder) {
      expect_input_error(
          [&] {
            (void)read("cifar", {{"path", dir + folder}, {"variant", variant}});
          },
          message);
    }
  };
  check("cifar10_truncated", "cifar10",
        dir +
            "cifar10_truncated/test_batch.bin: truncated: 3173 bytes is not a whole number of "
            "3073-byte records (1 label byte and 3072 pixel bytes); the last record has 100 "
            "bytes");
  check("cifar10_label_range", "cifar10",
        dir + "cifar10_label_range/test_batch.bin.gz: label 10 at index 1 is out of range 0..9");
  check("cifar10_empty", "cifar10",
        dir +
            "cifar10_empty/test_batch.bin: empty; expected 3073-byte records (1 label byte and "
            "3072 pixel bytes)");
  check("cifar10_missing", "cifar10",
        dir +
            "cifar10_missing/data_batch_5.bin: missing (neither it nor data_batch_5.bin.gz "
            "exists); dataset 'cifar' (variant cifar10) needs data_batch_1.bin .. "
            "data_batch_5.bin and test_batch.bin of the CIFAR-10 binary version in its folder, "
            "each raw or gzipped (.gz)");
  check("cifar10_wrong_variant", "cifar10",
        dir +
            "cifar10_wrong_variant/data_batch_1.bin.gz: truncated: 9222 bytes is not a whole "
            "number of 3073-byte records (1 label byte and 3072 pixel bytes); the last record "
            "has 3 bytes; it is a whole number of 3074-byte records: is it CIFAR-100? "
            "(parameter 'variant')");
  check("cifar100_label_range", "cifar100",
        dir +
            "cifar100_label_range/train.bin.gz: fine label 100 at index 1 is out of range "
            "0..99");
  check("cifar100_coarse_range", "cifar100",
        dir +
            "cifar100_coarse_range/test.bin.gz: coarse label 20 at index 1 is out of range "
            "0..19");
  check("cifar10_truncated", "cifar100",
        dir +
            "cifar10_truncated/train.bin: missing (neither it nor train.bin.gz exists); "
            "dataset 'cifar' (variant cifar100) needs train.bin and test.bin of the CIFAR-100 "
            "binary version in its folder, each raw or gzipped (.gz); the folder has "
            "test_batch.bin: set variant cifar10");
  check("cifar100_label_range", "cifar10",
        dir +
            "cifar100_label_range/data_batch_1.bin: missing (neither it nor "
            "data_batch_1.bin.gz exists); dataset 'cifar' (variant cifar10) needs "
            "data_batch_1.bin .. data_batch_5.bin and test_batch.bin of the CIFAR-10 binary "
            "version in its folder, each raw or gzipped (.gz); the folder has test.bin: set "
            "variant cifar100");
  check("no_such_folder", "cifar10",
        dir +
            "no_such_folder: folder does not exist (parameter 'path' of dataset 'cifar' (the "
            "folder of the CIFAR-10 binary version))");
  expect_input_error([&] { (void)read("cifar", {}); },
                     "parameter 'path' of dataset 'cifar' (the folder of the CIFAR-10 binary "
                     "version) is empty; give the folder that holds the data files");
}

BOOST_AUTO_TEST_SUITE_END()

// ------------------------------------------------------------------ load_dataset

BOOST_AUTO_TEST_SUITE(loading)

BOOST_AUTO_TEST_CASE(results_are_cached_by_key) {
  DatasetSpec s;
  s.name = "synthetic";
  s.parameters = {{"train", "100"}, {"test", "20"}};
  s.seed = 4;
  const auto a = load_dataset(registry(), s);
  BOOST_TEST(a->key == s.key(registry()));
  BOOST_TEST(a->name == "synthetic");
  BOOST_TEST(a->train.size() == 90);
  BOOST_TEST(a->validation.size() == 10);
  BOOST_TEST(a->test.size() == 20);
  DatasetSpec same_spec = s;
  same_spec.parameters["classes"] = "4";  // the default
  BOOST_TEST(load_dataset(registry(), same_spec) == a);
  DatasetSpec other = s;
  other.seed = 5;
  const auto b = load_dataset(registry(), other);
  BOOST_TEST(b != a);
  BOOST_TEST(!same(b->validation, a->validation));
  // Another registry with the same datasets gives the same data.
  Registry second;
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
  reg.add(
      Kind::dataset, "counting", "counts its reads", {},
      [](const Parameters&, const Registry&) -> std::unique_ptr<Component> { return std::make_unique<Counting>(); });
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
  s.parameters = {{"path", fixtures() + "/idx/label_range"}};
  for (int i = 0; i < 2; ++i) BOOST_CHECK_THROW((void)load_dataset(registry(), s), InputError);
  s.parameters["classes"] = "13";
  BOOST_TEST(load_dataset(registry(), s)->train.size() == 7);  // 8 less round(0.8)
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
