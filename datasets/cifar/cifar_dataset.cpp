// The readers of the cifar dataset plugin (cifar_dataset.hpp): every file found before any is
// read, records checked, a folder of the other variant named in the message.
#include "cifar_dataset.hpp"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "narrow/data_files.hpp"
#include "narrow/errors.hpp"

namespace narrow::datasets {

namespace {

constexpr std::int64_t side = 32;
constexpr std::size_t image_bytes = 3 * side * side;  // 3072

struct Variant {
  const char* name;  // what the data is
  std::int64_t classes;
  std::size_t label_bytes;
  std::vector<std::string> train_files, test_files;
  const char* names_file;  // class names, one a line, in the binary distribution
  const char* expected;
};

const Variant& variant(const std::string& v) {
  static const Variant cifar10{
      "cifar-10",
      10,
      1,
      {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
       "data_batch_5.bin"},
      {"test_batch.bin"},
      "batches.meta.txt",
      "dataset 'cifar' (variant cifar10) needs data_batch_1.bin .. data_batch_5.bin and "
      "test_batch.bin of the CIFAR-10 binary version in its folder, each raw or gzipped (.gz)"};
  static const Variant cifar100{
      "cifar-100",
      100,
      2,
      {"train.bin"},
      {"test.bin"},
      "fine_label_names.txt",
      "dataset 'cifar' (variant cifar100) needs train.bin and test.bin of the CIFAR-100 binary "
      "version in its folder, each raw or gzipped (.gz)"};
  return v == "cifar100" ? cifar100 : cifar10;
}

/// How many records a file of `size` bytes holds; throws when it is not a whole number.
std::size_t record_count(const std::string& path, const Variant& v, std::uint64_t size) {
  const std::size_t record = v.label_bytes + image_bytes;
  const std::string form =
      fmt::format("{}-byte records ({} label byte{} and {} pixel bytes)", record, v.label_bytes,
                  v.label_bytes > 1 ? "s" : "", image_bytes);
  if (size == 0) throw InputError(fmt::format("{}: empty; expected {}", path, form));
  if (size % record != 0) {
    // A whole number of the other variant's records: say so.
    const std::size_t other = (v.label_bytes == 1 ? 2 : 1) + image_bytes;
    const std::string hint =
        size % other == 0 ? fmt::format(
                                "; it is a whole number of {}-byte records: is it {}? (parameter "
                                "'variant')",
                                other, v.label_bytes == 1 ? "CIFAR-100" : "CIFAR-10")
                          : std::string();
    throw InputError(fmt::format(
        "{}: truncated: {} bytes is not a whole number of {}; the last record has {} bytes{}", path,
        size, form, size % record, hint));
  }
  return std::size_t(size / record);
}

/// Appends the records of one file to `out`.
void read_records(const std::string& path, const Variant& v, ImageSet& out) {
  const auto bytes = read_file(path);
  const std::size_t record = v.label_bytes + image_bytes;
  const std::size_t count = record_count(path, v, bytes.size());
  const std::size_t start = out.labels.size();
  out.labels.resize(start + count);
  out.pixels.resize((start + count) * image_bytes);
  float* dst = out.pixels.data() + start * image_bytes;
  for (std::size_t r = 0; r < count; ++r) {
    const std::uint8_t* rec = bytes.data() + r * record;
    if (v.label_bytes == 2 && rec[0] >= 20)
      throw InputError(fmt::format("{}: coarse label {} at index {} is out of range 0..19", path,
                                   int(rec[0]), r));
    const int label = rec[v.label_bytes - 1];
    if (label >= v.classes)
      throw InputError(fmt::format("{}: {}label {} at index {} is out of range 0..{}", path,
                                   v.label_bytes == 2 ? "fine " : "", label, r, v.classes - 1));
    out.labels[start + r] = label;
    const std::uint8_t* src = rec + v.label_bytes;
    for (std::size_t k = 0; k < image_bytes; ++k) dst[k] = float(src[k]) / 255.0f;
    dst += image_bytes;
  }
}

/// Class names from the distribution's text file when it has one name per class.
std::vector<std::string> read_names(const std::string& folder, const Variant& v) {
  std::ifstream in(std::filesystem::path(folder) / v.names_file);
  std::vector<std::string> names;
  for (std::string line; in && std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  if (std::int64_t(names.size()) == v.classes) return names;
  if (v.classes == 10)
    return {"airplane", "automobile", "bird",  "cat",  "deer",
            "dog",      "frog",       "horse", "ship", "truck"};
  return {};
}

}  // namespace

ParamSchema CifarDataset::schema() {
  return {
      ParamSpec::string("path", "",
                        "folder with data_batch_1.bin .. data_batch_5.bin and test_batch.bin "
                        "(CIFAR-10) or train.bin and test.bin (CIFAR-100); required"),
      ParamSpec::choice("variant", "cifar10", {"cifar10", "cifar100"},
                        "cifar10: 10 classes; cifar100: the 100 fine classes"),
  };
}

CifarDataset::CifarDataset(const Parameters& p)
    : folder_(p.string("path")), variant_(p.string("variant")) {}

CifarDataset::Files CifarDataset::files() const {
  const Variant& v = variant(variant_);
  check_folder(folder_, fmt::format("parameter 'path' of dataset 'cifar' (the folder of the "
                                    "{} binary version)",
                                    v.classes == 10 ? "CIFAR-10" : "CIFAR-100"));
  // Every file must be there before any is read. A folder of the other variant is named.
  const Variant& other = variant(variant_ == "cifar100" ? "cifar10" : "cifar100");
  std::error_code ec;
  const bool other_there =
      std::filesystem::exists(std::filesystem::path(folder_) / other.test_files[0], ec) ||
      std::filesystem::exists(std::filesystem::path(folder_) / (other.test_files[0] + ".gz"), ec);
  const std::string expected =
      other_there ? fmt::format("{}; the folder has {}: set variant {}", v.expected,
                                other.test_files[0], v.classes == 10 ? "cifar100" : "cifar10")
                  : std::string(v.expected);
  Files files;
  for (const auto& f : v.train_files) files.train.push_back(find_file(folder_, f, expected));
  for (const auto& f : v.test_files) files.test.push_back(find_file(folder_, f, expected));
  return files;
}

RawDataset CifarDataset::read() const {
  const Variant& v = variant(variant_);
  const Files files = this->files();
  RawDataset raw;
  raw.name = v.name;
  raw.classes = v.classes;
  for (ImageSet* s : {&raw.train, &raw.test}) {
    s->channels = 3;
    s->height = side;
    s->width = side;
  }
  for (const auto& f : files.train) read_records(f, v, raw.train);
  for (const auto& f : files.test) read_records(f, v, raw.test);
  raw.class_names = read_names(folder_, v);
  return raw;
}

DatasetDescription CifarDataset::describe() const {
  const Variant& v = variant(variant_);
  const Files files = this->files();
  const std::uint64_t record = v.label_bytes + image_bytes;
  const auto count = [&](const std::vector<std::string>& paths) {
    std::int64_t n = 0;
    for (const auto& f : paths)
      n += std::int64_t(record_count(
          f, v, data_size(f, [&](std::uint64_t size) { return size > 0 && size % record == 0; })));
    return n;
  };
  DatasetDescription d;
  d.name = v.name;
  d.classes = v.classes;
  d.train = ImageSetShape{count(files.train), 3, side, side};
  d.test = ImageSetShape{count(files.test), 3, side, side};
  return d;
}

}  // namespace narrow::datasets
