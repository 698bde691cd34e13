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

/// What the header of an image file says.
struct ImagesHeader {
  std::uint64_t count = 0, rows = 0, cols = 0;
  std::uint64_t data_bytes() const { return 16 + count * rows * cols; }  // each < 2^32
};

/// Checks the header of an image file (its first 16 bytes or fewer, `head`).
ImagesHeader images_header(const std::string& path, const std::vector<std::uint8_t>& head) {
  if (head.size() >= 4 && be32(head, 0) != images_magic)
    throw InputError(magic_problem(path, be32(head, 0), images_magic));
  if (head.size() < 16)
    throw InputError(fmt::format(
        "{}: truncated: {} bytes, expected at least the 16-byte IDX header (magic number "
        "0x{:08x}, count, rows, columns)",
        path, head.size(), images_magic));
  const ImagesHeader h{be32(head, 4), be32(head, 8), be32(head, 12)};
  if (h.rows == 0 || h.cols == 0)
    throw InputError(fmt::format("{}: images of {}x{} pixels; expected rows and columns >= 1", path,
                                 h.rows, h.cols));
  if (h.count == 0)
    throw InputError(fmt::format("{}: holds no images; expected at least one", path));
  return h;
}

/// Checks that an image file of `size` bytes holds exactly what its header announces.
void check_images_size(const std::string& path, const ImagesHeader& h, std::uint64_t size) {
  const std::uint64_t image = h.rows * h.cols;
  const std::uint64_t available = size - 16;
  if (h.count > available / image)
    throw InputError(fmt::format(
        "{}: truncated: the header announces {} images of {}x{} pixels, the file holds {} "
        "({} bytes after the 16-byte header)",
        path, h.count, h.rows, h.cols, available / image, available));
  if (h.count * image != available)
    throw InputError(fmt::format(
        "{}: {} bytes after the last of the {} images of {}x{} pixels the header announces; "
        "expected exactly {} bytes after the 16-byte header",
        path, available - h.count * image, h.count, h.rows, h.cols, h.count * image));
}

/// Checks the header of a label file (its first 8 bytes or fewer); returns the label count.
std::uint64_t labels_header(const std::string& path, const std::vector<std::uint8_t>& head) {
  if (head.size() >= 4 && be32(head, 0) != labels_magic)
    throw InputError(magic_problem(path, be32(head, 0), labels_magic));
  if (head.size() < 8)
    throw InputError(fmt::format(
        "{}: truncated: {} bytes, expected at least the 8-byte IDX header (magic number "
        "0x{:08x}, count)",
        path, head.size(), labels_magic));
  return be32(head, 4);
}

/// Checks that a label file of `size` bytes holds exactly `count` labels, one per image of
/// `images_path`, which holds `images`.
void check_labels_size(const std::string& path, std::uint64_t count, std::uint64_t size,
                       const std::string& images_path, std::uint64_t images) {
  const std::uint64_t available = size - 8;
  if (count > available)
    throw InputError(fmt::format("{}: truncated: the header announces {} labels, the file holds {}",
                                 path, count, available));
  if (count != available)
    throw InputError(fmt::format(
        "{}: {} bytes after the last of the {} labels the header announces; expected exactly {} "
        "bytes after the 8-byte header",
        path, available - count, count, count));
  if (count != images)
    throw InputError(
        fmt::format("{}: {} labels, but {} holds {} images; expected one label per "
                    "image",
                    path, count, images_path, images));
}

/// Reads an image file into `out` (1 channel, scaled to [0, 1]).
void read_images(const std::string& path, ImageSet& out) {
  const auto bytes = read_file(path);
  const auto h = images_header(path, bytes);
  check_images_size(path, h, bytes.size());
  out.channels = 1;
  out.height = std::int64_t(h.rows);
  out.width = std::int64_t(h.cols);
  const auto& scale = byte_scale();
  out.pixels.resize(h.count * h.rows * h.cols);
  const std::uint8_t* src = bytes.data() + 16;
  for (std::size_t i = 0; i < out.pixels.size(); ++i) out.pixels[i] = scale[src[i]];
}

/// Reads a label file into `out.labels`; the images are read already, from `images_path`.
void read_labels(const std::string& path, const std::string& images_path, std::int64_t classes,
                 ImageSet& out) {
  const auto bytes = read_file(path);
  const std::uint64_t count = labels_header(path, bytes);
  const auto images = std::uint64_t(out.pixels.size() / std::size_t(out.image_size()));
  check_labels_size(path, count, bytes.size(), images_path, images);
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

/// The shape of one set from the headers of its two files, and their sizes.
ImageSetShape describe_set(const std::string& images_path, const std::string& labels_path) {
  const auto h = images_header(images_path, read_head(images_path, 16));
  check_images_size(images_path, h,
                    data_size(images_path, [&](std::uint64_t n) { return n == h.data_bytes(); }));
  const std::uint64_t count = labels_header(labels_path, read_head(labels_path, 8));
  check_labels_size(labels_path, count,
                    data_size(labels_path, [&](std::uint64_t n) { return n == 8 + count; }),
                    images_path, h.count);
  return ImageSetShape{std::int64_t(h.count), 1, std::int64_t(h.rows), std::int64_t(h.cols)};
}

/// The test images must have the training images' size.
void check_same_size(const std::string& test_images, const ImageSetShape& test,
                     const std::string& train_images, const ImageSetShape& train) {
  if (test.height != train.height || test.width != train.width)
    throw InputError(fmt::format(
        "{}: images of {}x{} pixels, but the training images ({}) are {}x{}; expected the "
        "same size",
        test_images, test.height, test.width, train_images, train.height, train.width));
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

IdxDataset::Files IdxDataset::files() const {
  check_folder(folder_, "parameter 'path' of dataset 'idx'");
  // Every file must be there before any is read.
  return Files{find_file(folder_, "train-images-idx3-ubyte", files_expected),
               find_file(folder_, "train-labels-idx1-ubyte", files_expected),
               find_file(folder_, "t10k-images-idx3-ubyte", files_expected),
               find_file(folder_, "t10k-labels-idx1-ubyte", files_expected)};
}

RawDataset IdxDataset::read() const {
  const Files f = files();
  RawDataset raw;
  raw.name = folder_name(folder_);
  raw.classes = classes_;
  read_images(f.train_images, raw.train);
  read_labels(f.train_labels, f.train_images, classes_, raw.train);
  read_images(f.test_images, raw.test);
  check_same_size(f.test_images, ImageSetShape{0, 1, raw.test.height, raw.test.width},
                  f.train_images, ImageSetShape{0, 1, raw.train.height, raw.train.width});
  read_labels(f.test_labels, f.test_images, classes_, raw.test);
  raw.class_names = known_class_names(raw.name, classes_);
  return raw;
}

DatasetDescription IdxDataset::describe() const {
  const Files f = files();
  DatasetDescription d;
  d.name = folder_name(folder_);
  d.classes = classes_;
  d.train = describe_set(f.train_images, f.train_labels);
  // As read() does: the test images' size is checked before their labels.
  const auto h = images_header(f.test_images, read_head(f.test_images, 16));
  check_same_size(f.test_images, ImageSetShape{0, 1, std::int64_t(h.rows), std::int64_t(h.cols)},
                  f.train_images, d.train);
  d.test = describe_set(f.test_images, f.test_labels);
  return d;
}

}  // namespace narrow::datasets
