// The IDX readers of the idx dataset plugin (idx_dataset.hpp): headers checked against the
// files, pixels scaled to [0, 1], every problem one InputError naming its file.
#include "idx_dataset.hpp"

#include <array>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "narrow/data_files.hpp"
#include "narrow/errors.hpp"

namespace narrow::datasets {

namespace {

namespace fs = std::filesystem;

constexpr std::uint32_t images_magic = 0x00000803;
constexpr std::uint32_t labels_magic = 0x00000801;
constexpr const char* files_expected =
    "the idx dataset needs train-images-idx3-ubyte, train-labels-idx1-ubyte, "
    "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte in its folder, each raw or gzipped (.gz)";

/// Pixel byte -> [0, 1], exactly 0 and 1 at the ends.
const std::array<float, 256>& byte_scale() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int i = 0; i < 256; ++i) t[std::size_t(i)] = float(i) / 255.0f;
    return t;
  }();
  return table;
}

/// Big-endian 32-bit value at `offset` (the caller checks the size).
std::uint32_t be32(const std::vector<std::uint8_t>& b, std::size_t offset) {
  return std::uint32_t(b[offset]) << 24 | std::uint32_t(b[offset + 1]) << 16 |
         std::uint32_t(b[offset + 2]) << 8 | std::uint32_t(b[offset + 3]);
}

/// The last component of a folder's path ("fashion-mnist" for "/data/fashion-mnist/").
std::string folder_name(const std::string& folder) {
  fs::path p = fs::path(folder).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  std::string name = p.filename().string();
  if (name.empty() || name == "." || name == "..") {
    std::error_code ec;
    const auto abs = fs::weakly_canonical(folder, ec);
    if (!ec) name = abs.filename().string();
  }
  return name;
}

std::string magic_problem(const std::string& path, std::uint32_t magic, std::uint32_t expected) {
  const char* want = expected == images_magic
                         ? "an IDX file of unsigned-byte images, count x rows x columns"
                         : "an IDX file of unsigned-byte labels";
  std::string hint;
  if (expected == images_magic && magic == labels_magic) hint = "; this is a label file";
  if (expected == labels_magic && magic == images_magic) hint = "; this is an image file";
  return fmt::format("{}: wrong magic number 0x{:08x}, expected 0x{:08x} ({}){}", path, magic,
                     expected, want, hint);
}

/// Reads an image file into `out` (1 channel, scaled to [0, 1]).
void read_images(const std::string& path, ImageSet& out) {
  const auto bytes = read_file(path);
  if (bytes.size() >= 4 && be32(bytes, 0) != images_magic)
    throw InputError(magic_problem(path, be32(bytes, 0), images_magic));
  if (bytes.size() < 16)
    throw InputError(fmt::format(
        "{}: truncated: {} bytes, expected at least the 16-byte IDX header (magic number "
        "0x{:08x}, count, rows, columns)",
        path, bytes.size(), images_magic));
  const std::uint64_t count = be32(bytes, 4), rows = be32(bytes, 8), cols = be32(bytes, 12);
  if (rows == 0 || cols == 0)
    throw InputError(fmt::format("{}: images of {}x{} pixels; expected rows and columns >= 1", path,
                                 rows, cols));
  if (count == 0) throw InputError(fmt::format("{}: holds no images; expected at least one", path));
  const std::uint64_t image = rows * cols;  // each < 2^32: no overflow
  const std::uint64_t available = bytes.size() - 16;
  if (count > available / image)
    throw InputError(fmt::format(
        "{}: truncated: the header announces {} images of {}x{} pixels, the file holds {} "
        "({} bytes after the 16-byte header)",
        path, count, rows, cols, available / image, available));
  if (count * image != available)
    throw InputError(fmt::format(
        "{}: {} bytes after the last of the {} images of {}x{} pixels the header announces; "
        "expected exactly {} bytes after the 16-byte header",
        path, available - count * image, count, rows, cols, count * image));
  out.channels = 1;
  out.height = std::int64_t(rows);
  out.width = std::int64_t(cols);
  const auto& scale = byte_scale();
  out.pixels.resize(count * image);
  const std::uint8_t* src = bytes.data() + 16;
  for (std::size_t i = 0; i < out.pixels.size(); ++i) out.pixels[i] = scale[src[i]];
}

/// Reads a label file into `out.labels`; the images are read already, from `images_path`.
void read_labels(const std::string& path, const std::string& images_path, std::int64_t classes,
                 ImageSet& out) {
  const auto bytes = read_file(path);
  if (bytes.size() >= 4 && be32(bytes, 0) != labels_magic)
    throw InputError(magic_problem(path, be32(bytes, 0), labels_magic));
  if (bytes.size() < 8)
    throw InputError(fmt::format(
        "{}: truncated: {} bytes, expected at least the 8-byte IDX header (magic number "
        "0x{:08x}, count)",
        path, bytes.size(), labels_magic));
  const std::uint64_t count = be32(bytes, 4);
  const std::uint64_t available = bytes.size() - 8;
  if (count > available)
    throw InputError(fmt::format("{}: truncated: the header announces {} labels, the file holds {}",
                                 path, count, available));
  if (count != available)
    throw InputError(fmt::format(
        "{}: {} bytes after the last of the {} labels the header announces; expected exactly {} "
        "bytes after the 8-byte header",
        path, available - count, count, count));
  const auto images = std::uint64_t(out.pixels.size() / std::size_t(out.image_size()));
  if (count != images)
    throw InputError(
        fmt::format("{}: {} labels, but {} holds {} images; expected one label per "
                    "image",
                    path, count, images_path, images));
  out.labels.resize(count);
  const std::uint8_t* src = bytes.data() + 8;
  for (std::size_t i = 0; i < count; ++i) {
    if (src[i] >= classes)
      throw InputError(
          fmt::format("{}: label {} at index {} is out of range 0..{} (parameter 'classes' is {})",
                      path, int(src[i]), i, classes - 1, classes));
    out.labels[i] = src[i];
  }
}

/// Names of the classes of the well-known members of the family, by folder name.
std::vector<std::string> known_class_names(const std::string& name, std::int64_t classes) {
  if (classes != 10) return {};
  if (name == "fashion-mnist" || name == "fashion_mnist" || name == "FashionMNIST")
    return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  if (name == "mnist" || name == "MNIST") return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  return {};
}

}  // namespace

ParamSchema IdxDataset::schema() {
  return {
      ParamSpec::string("path", "/usr/share/datasets/fashion-mnist",
                        "folder with train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                        "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each .gz or raw)"),
      ParamSpec::integer("classes", 10, 2, 256, "number of classes; labels are 0..classes-1"),
  };
}

IdxDataset::IdxDataset(const Parameters& p)
    : folder_(p.string("path")), classes_(p.integer("classes")) {}

RawDataset IdxDataset::read() const {
  check_folder(folder_, "parameter 'path' of dataset 'idx'");
  // Every file must be there before any is read.
  const std::string train_images = find_file(folder_, "train-images-idx3-ubyte", files_expected);
  const std::string train_labels = find_file(folder_, "train-labels-idx1-ubyte", files_expected);
  const std::string test_images = find_file(folder_, "t10k-images-idx3-ubyte", files_expected);
  const std::string test_labels = find_file(folder_, "t10k-labels-idx1-ubyte", files_expected);

  RawDataset raw;
  raw.name = folder_name(folder_);
  raw.classes = classes_;
  read_images(train_images, raw.train);
  read_labels(train_labels, train_images, classes_, raw.train);
  read_images(test_images, raw.test);
  if (raw.test.height != raw.train.height || raw.test.width != raw.train.width)
    throw InputError(fmt::format(
        "{}: images of {}x{} pixels, but the training images ({}) are {}x{}; expected the "
        "same size",
        test_images, raw.test.height, raw.test.width, train_images, raw.train.height,
        raw.train.width));
  read_labels(test_labels, test_images, classes_, raw.test);
  raw.class_names = known_class_names(raw.name, classes_);
  return raw;
}

}  // namespace narrow::datasets
