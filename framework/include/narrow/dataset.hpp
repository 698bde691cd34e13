#pragma once
// Datasets: images with labels, read by dataset plugins (kind `dataset`), then split,
// subset and normalised by the kernel. No LibTorch here: the trainer wraps these buffers.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "narrow/component.hpp"
#include "narrow/errors.hpp"
#include "narrow/export.hpp"
#include "narrow/parameters.hpp"

namespace narrow {

class Registry;

/// Images with labels: size() samples of channels x height x width float32 values, NCHW.
struct NARROW_API ImageSet {
  std::int64_t channels = 0, height = 0, width = 0;
  std::vector<float> pixels;         // size() * image_size() values
  std::vector<std::int32_t> labels;  // each in 0..classes-1
  std::int64_t size() const { return static_cast<std::int64_t>(labels.size()); }
  std::int64_t image_size() const { return channels * height * width; }
};

/// What a dataset plugin reads: its training and test sets, pixel values scaled to [0, 1].
struct NARROW_API RawDataset {
  std::string name;  // what the data is, e.g. "fashion-mnist", "cifar-10"
  std::int64_t classes = 0;
  std::vector<std::string> class_names;  // may be empty
  ImageSet train, test;
};

/// The shape of one set of a dataset: how many images, of what size.
struct NARROW_API ImageSetShape {
  std::int64_t size = 0, channels = 0, height = 0, width = 0;
};

/// What a dataset holds, as its files' headers say: enough to check an experiment's options
/// (train_size, test_size, validation) before any work, without reading the data.
struct NARROW_API DatasetDescription {
  std::string name;
  std::int64_t classes = 0;
  ImageSetShape train, test;
};

/// A dataset plugin. Factories get their parameters resolved against their schema, which
/// the registry extends with the options every dataset takes (DataOptions::schema()).
class NARROW_API Dataset : public Component {
 public:
  ~Dataset() override;
  /// Reads the whole data set. Bad files (wrong magic number, truncated, counts that
  /// disagree, labels out of range) throw InputError naming the file and what is wrong.
  virtual RawDataset read() const = 0;
  /// Says what read() would return, cheaply: checks that the files are there and that their
  /// headers are well formed and agree with their sizes, and throws InputError naming the
  /// file as read() would. It need not look at every pixel or label (read() still checks
  /// those). The default reads the whole data set with read(); plugins whose files have
  /// headers override it.
  virtual DatasetDescription describe() const;
};

/// The description of data read already (what Dataset::describe() returns by default).
NARROW_API DatasetDescription describe(const RawDataset& raw);

/// Augmentation of training batches (applied by the trainer, seeded per job).
struct NARROW_API Augmentation {
  std::int64_t pad = 0;  // > 0: zero-pad by this many pixels, then crop back at random
  bool flip = false;     // horizontal flip with probability 0.5
};

/// Options every dataset takes, handled by the kernel: the validation split, subsets,
/// normalisation and augmentation.
struct NARROW_API DataOptions {
  double validation = 0.1;      // share of the training set held out (0 .. 0.5)
  std::int64_t train_size = 0;  // use this many training images (stratified); 0: all
  std::int64_t test_size = 0;   // use this many test images (stratified); 0: all
  bool normalize = true;        // per-channel mean/std of the training split
  Augmentation augmentation;

  /// The parameters: validation, train_size, test_size, normalize, pad, flip.
  static ParamSchema schema();
  static DataOptions from(const Parameters& p);
};

/// A dataset ready for training.
struct NARROW_API PreparedData {
  std::string name;
  std::string key;  // content key of the spec (dataset, its parameters, the split seed)
  std::int64_t classes = 0;
  std::vector<std::string> class_names;
  ImageSet train, validation, test;
  std::vector<float> mean, stddev;  // per channel; applied already (1 and 0 when off)
  Augmentation augmentation;
};

/// Splits off a stratified validation set (seeded), takes the stratified subsets, and
/// normalises every split with the training split's per-channel mean and deviation.
NARROW_API PreparedData prepare(RawDataset raw, const DataOptions& options, std::uint64_t seed);

/// A dataset named by an experiment or the command line: a registered dataset, its raw
/// parameters, and the seed of its split. Serialisable, so that jobs carry it.
struct NARROW_API DatasetSpec {
  std::string name = "idx";
  std::map<std::string, std::string> parameters;
  std::uint64_t seed = 0;

  nlohmann::json to_json() const;
  static DatasetSpec from_json(const nlohmann::json& j);
  /// Content key: name, parameters resolved against the registry's schema, seed.
  std::string key(const Registry& registry) const;
};

/// Checks, without reading the data, that a dataset named by an experiment can be prepared:
/// its files are there with sound headers (Dataset::describe()), and train_size, test_size
/// and validation fit its sets as prepare() splits them. Throws DatasetOptionError for an
/// option that does not fit, InputError (from the plugin) for its files. Returns the
/// description.
NARROW_API DatasetDescription check_dataset(const Registry& registry, const DatasetSpec& spec);

/// An option of a dataset that does not fit its data (train_size larger than the training
/// set, ...): `parameter()` names the option, so that the experiment can point at it.
class NARROW_API DatasetOptionError : public InputError {
 public:
  DatasetOptionError(std::string parameter, const std::string& message);
  ~DatasetOptionError() override;
  const std::string& parameter() const noexcept { return parameter_; }

 private:
  std::string parameter_;
};

/// Reads and prepares a dataset. Results are cached for the life of the process (keyed by
/// DatasetSpec::key), so jobs that share a dataset read its files once. Thread-safe.
NARROW_API std::shared_ptr<const PreparedData> load_dataset(const Registry& registry,
                                                            const DatasetSpec& spec);

}  // namespace narrow
