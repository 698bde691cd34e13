#pragma once
// Helpers of the dataset tests: reading a dataset of the built plugins, checking one-line
// InputErrors, and comparing image sets.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "narrow/dataset.hpp"
#include "narrow/errors.hpp"
#include "narrow/registry.hpp"
#include "support/plugins.hpp"

namespace narrow::test {

/// The folder of the dataset fixtures, tests/fixtures/datasets.
inline std::string dataset_fixtures() {
  namespace fs = std::filesystem;
  const char* src = std::getenv("NARROW_SOURCE_DIR");
  const fs::path root =
      src && *src ? fs::path(src) : fs::path(__FILE__).parent_path().parent_path().parent_path();
  return (root / "tests" / "fixtures" / "datasets").lexically_normal().string();
}

/// What dataset `name` of the built plugins reads with `params`.
inline RawDataset read_dataset(const std::string& name,
                               const std::map<std::string, std::string>& params) {
  const auto dataset = built_plugins().make<Dataset>(name, params);
  BOOST_REQUIRE(dataset != nullptr);
  return dataset->read();
}

/// Runs `f`, which must throw InputError with exactly `message`, on one line.
inline void expect_input_error(const std::function<void()>& f, const std::string& message) {
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
inline void expect_input_error_starting(const std::function<void()>& f, const std::string& start) {
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

/// How many images of each class a set has.
inline std::vector<std::int64_t> class_counts(const ImageSet& s, std::int64_t classes) {
  std::vector<std::int64_t> n(std::size_t(classes), 0);
  for (auto l : s.labels) ++n[std::size_t(l)];
  return n;
}

/// Same shape, labels and pixels.
inline bool same(const ImageSet& a, const ImageSet& b) {
  return a.channels == b.channels && a.height == b.height && a.width == b.width &&
         a.labels == b.labels && a.pixels == b.pixels;
}

}  // namespace narrow::test
