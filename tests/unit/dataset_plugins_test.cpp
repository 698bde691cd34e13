#define BOOST_TEST_MODULE dataset_plugins
// The dataset plugins built with narrow (datasets/): their registrations, the synthetic
// generator, and the idx and cifar readers with the one-line errors of bad files.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "narrow/dataset.hpp"
#include "narrow/errors.hpp"
#include "narrow/registry.hpp"
#include "support/datasets.hpp"
#include "support/files.hpp"
#include "support/plugins.hpp"

using namespace narrow;
using narrow::test::class_counts;
using narrow::test::dataset_fixtures;
using narrow::test::expect_input_error;
using narrow::test::expect_input_error_starting;
using narrow::test::read_dataset;
using narrow::test::same;
namespace fs = std::filesystem;
namespace tt = boost::test_tools;
using Params = std::map<std::string, std::string>;

namespace {

const std::string fashion_mnist = "/usr/share/datasets/fashion-mnist";

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

/// What dataset `name` of the built plugins describes with `params`.
DatasetDescription describe_dataset(const std::string& name, const Params& params) {
  const auto dataset = test::built_plugins().make<Dataset>(name, params);
  BOOST_REQUIRE(dataset != nullptr);
  return dataset->describe();
}

/// describe() agrees with what read() returns.
void check_description(const DatasetDescription& d, const RawDataset& raw) {
  BOOST_TEST(d.name == raw.name);
  BOOST_TEST(d.classes == raw.classes);
  for (const auto& [shape, set] :
       {std::pair{&d.train, &raw.train}, std::pair{&d.test, &raw.test}}) {
    BOOST_TEST(shape->size == set->size());
    BOOST_TEST(shape->channels == set->channels);
    BOOST_TEST(shape->height == set->height);
    BOOST_TEST(shape->width == set->width);
  }
}

}  // namespace

// ------------------------------------------------------------------ registry

BOOST_AUTO_TEST_SUITE(registration)

BOOST_AUTO_TEST_CASE(each_dataset_is_its_own_plugin_with_the_common_options) {
  const Registry& reg = test::built_plugins();
  BOOST_TEST(reg.names(Kind::dataset) == (std::vector<std::string>{"cifar", "idx", "synthetic"}),
             tt::per_element());
  const auto common = DataOptions::schema();
  BOOST_TEST(common.size() == 6u);
  for (const auto& name : reg.names(Kind::dataset)) {
    BOOST_TEST_CONTEXT("dataset " << name) {
      const Registration& r = reg.find(Kind::dataset, name);
      BOOST_TEST(fs::path(r.library).filename() == "libnarrow_dataset_" + name + ".so");
      BOOST_TEST(r.plugin == name);
      BOOST_TEST(r.plugin_version == "0.1.0");
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
      BOOST_CHECK_NO_THROW(reg.make<Dataset>(name, {}));  // no file is read yet
    }
  }
  const auto& idx = reg.find(Kind::dataset, "idx").schema;
  BOOST_TEST(idx[0].name == "path");
  BOOST_TEST(std::get<std::string>(idx[0].default_value) == fashion_mnist);
  BOOST_TEST(idx[1].name == "classes");
  const auto& cifar = reg.find(Kind::dataset, "cifar").schema;
  BOOST_TEST(cifar[1].choices == (std::vector<std::string>{"cifar10", "cifar100"}),
             tt::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

// ------------------------------------------------------------------ synthetic

BOOST_AUTO_TEST_SUITE(synthetic)

BOOST_AUTO_TEST_CASE(shape_and_determinism) {
  const Params p{{"channels", "3"}, {"height", "5"}, {"width", "7"},
                 {"classes", "6"},  {"train", "60"}, {"test", "13"}};
  const RawDataset a = read_dataset("synthetic", p), b = read_dataset("synthetic", p);
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
  BOOST_TEST(!same(read_dataset("synthetic", other).train, a.train));
  // The same images, whatever the count: sample i does not depend on the others.
  auto more = p;
  more["train"] = "90";
  const RawDataset m = read_dataset("synthetic", more);
  BOOST_TEST(std::equal(a.train.pixels.begin(), a.train.pixels.end(), m.train.pixels.begin()));
  // Without noise every image is its class's prototype.
  auto clean = p;
  clean["noise"] = "0";
  const RawDataset c = read_dataset("synthetic", clean);
  BOOST_TEST(std::equal(c.train.pixels.begin(), c.train.pixels.begin() + 105,
                        c.train.pixels.begin() + 6 * 105));
}

BOOST_AUTO_TEST_CASE(describe_gives_the_shapes_without_generating) {
  const Params p{{"channels", "3"}, {"height", "5"}, {"width", "7"},
                 {"classes", "6"},  {"train", "40"}, {"test", "9"}};
  const DatasetDescription d = describe_dataset("synthetic", p);
  BOOST_TEST(d.train.size == 40);
  BOOST_TEST(d.test.size == 9);
  BOOST_TEST(d.train.channels == 3);
  BOOST_TEST(d.test.width == 7);
  check_description(d, read_dataset("synthetic", p));
}

BOOST_AUTO_TEST_CASE(default_synthetic_data_is_learnable) {
  // A nearest-class-mean classifier, far weaker than a CNN, already separates the classes.
  const PreparedData d = prepare(read_dataset("synthetic", {}), DataOptions(), 1);
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
  const RawDataset d = read_dataset("idx", {{"path", dataset_fixtures() + "/idx/valid"}});
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
  BOOST_TEST(read_dataset("idx", {{"path", dataset_fixtures() + "/idx/valid/"}}).name == "valid");
  // describe() says the same from the headers.
  const DatasetDescription desc =
      describe_dataset("idx", {{"path", dataset_fixtures() + "/idx/valid"}});
  BOOST_TEST(desc.train.size == 8);
  BOOST_TEST(desc.test.size == 3);
  check_description(desc, d);
}

BOOST_AUTO_TEST_CASE(reads_fashion_mnist,
                     *boost::unit_test::precondition([](boost::unit_test::test_unit_id) {
                       return fs::exists(fashion_mnist);
                     })) {
  const RawDataset d = read_dataset("idx", {});
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

  check_description(describe_dataset("idx", {}), d);

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
  const std::string dir = dataset_fixtures() + "/idx/";
  // read() and describe() refuse a bad file alike (describe() from the headers and sizes).
  const auto check = [&](const std::string& folder, const std::string& message) {
    BOOST_TEST_CONTEXT(folder) {
      expect_input_error([&] { (void)read_dataset("idx", {{"path", dir + folder}}); }, message);
      expect_input_error([&] { (void)describe_dataset("idx", {{"path", dir + folder}}); }, message);
    }
  };
  // Only read() looks at the labels.
  const auto check_read = [&](const std::string& folder, const std::string& message) {
    BOOST_TEST_CONTEXT(folder) {
      expect_input_error([&] { (void)read_dataset("idx", {{"path", dir + folder}}); }, message);
      const DatasetDescription d = describe_dataset("idx", {{"path", dir + folder}});
      BOOST_TEST(d.train.size == 8);
      BOOST_TEST(d.test.size == 3);
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
  check_read("label_range",
             dir +
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
  const auto read_damaged = [&] { (void)read_dataset("idx", {{"path", dir + "damaged_gz"}}); };
  // Its trailer is damaged too, so describe() inflates the data to count it, and fails alike.
  const auto describe_damaged = [&] {
    (void)describe_dataset("idx", {{"path", dir + "damaged_gz"}});
  };
  for (const auto& f :
       {std::function<void()>(read_damaged), std::function<void()>(describe_damaged)}) {
    expect_input_error_starting(f, damaged + ": cannot be read: ");
    try {
      f();
    } catch (const InputError& e) {
      BOOST_TEST(e.message().find(damaged, 1) == std::string::npos, e.message());
      BOOST_TEST(e.message().find("(damaged gzip data)") != std::string::npos, e.message());
    }
  }
  // More classes make the label valid.
  BOOST_CHECK_NO_THROW(read_dataset("idx", {{"path", dir + "label_range"}, {"classes", "13"}}));
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
  const RawDataset d = read_dataset("cifar", {{"path", tmp.dir.string()}});
  check_description(describe_dataset("cifar", {{"path", tmp.dir.string()}}), d);
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
  BOOST_TEST(read_dataset("cifar", {{"path", tmp.dir.string()}}).class_names[9] == "j");
}

BOOST_AUTO_TEST_CASE(reads_cifar100_fine_labels) {
  TempDir tmp;
  write_file(tmp.file("train.bin"), record(3, 99, 1) + record(19, 0, 2) + record(0, 42, 3));
  write_file(tmp.file("test.bin"), record(1, 7, 4) + record(2, 8, 5), true);
  const RawDataset d = read_dataset("cifar", {{"path", tmp.dir.string()}, {"variant", "cifar100"}});
  check_description(
      describe_dataset("cifar", {{"path", tmp.dir.string()}, {"variant", "cifar100"}}), d);
  BOOST_TEST(d.name == "cifar-100");
  BOOST_TEST(d.classes == 100);
  BOOST_TEST(d.class_names.empty());
  BOOST_TEST(d.train.labels == (std::vector<std::int32_t>{99, 0, 42}), tt::per_element());
  BOOST_TEST(d.test.labels == (std::vector<std::int32_t>{7, 8}), tt::per_element());
  BOOST_TEST(d.test.pixels[3072 + 7] == float((7 * 5 + 5) % 256) / 255.0f);
  std::ofstream names(tmp.file("fine_label_names.txt"));
  for (int c = 0; c < 100; ++c) names << "class" << c << "\n";
  names.close();
  BOOST_TEST(read_dataset("cifar", {{"path", tmp.dir.string()}, {"variant", "cifar100"}})
                 .class_names[42] == "class42");
}

BOOST_AUTO_TEST_CASE(bad_files_are_one_line_input_errors) {
  const std::string dir = dataset_fixtures() + "/cifar/";
  // read() and describe() refuse a bad file alike; only read() looks at the labels.
  const auto check = [&](const std::string& folder, const std::string& variant,
                         const std::string& message, bool labels = false) {
    BOOST_TEST_CONTEXT(folder) {
      const Params p{{"path", dir + folder}, {"variant", variant}};
      expect_input_error([&] { (void)read_dataset("cifar", p); }, message);
      if (labels)
        BOOST_CHECK_NO_THROW(describe_dataset("cifar", p));
      else
        expect_input_error([&] { (void)describe_dataset("cifar", p); }, message);
    }
  };
  check("cifar10_truncated", "cifar10",
        dir +
            "cifar10_truncated/test_batch.bin: truncated: 3173 bytes is not a whole number of "
            "3073-byte records (1 label byte and 3072 pixel bytes); the last record has 100 "
            "bytes");
  check("cifar10_label_range", "cifar10",
        dir + "cifar10_label_range/test_batch.bin.gz: label 10 at index 1 is out of range 0..9",
        true);
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
            "0..99",
        true);
  check("cifar100_coarse_range", "cifar100",
        dir +
            "cifar100_coarse_range/test.bin.gz: coarse label 20 at index 1 is out of range "
            "0..19",
        true);
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
  expect_input_error([&] { (void)read_dataset("cifar", {}); },
                     "parameter 'path' of dataset 'cifar' (the folder of the CIFAR-10 binary "
                     "version) is empty; give the folder that holds the data files");
}

BOOST_AUTO_TEST_SUITE_END()
