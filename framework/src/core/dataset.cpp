#include "narrow/dataset.hpp"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <exception>
#include <mutex>
#include <new>
#include <numeric>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "narrow/errors.hpp"
#include "narrow/hash.hpp"
#include "narrow/random.hpp"
#include "narrow/registry.hpp"

namespace narrow {

using nlohmann::json;

Dataset::~Dataset() = default;

DatasetDescription Dataset::describe() const {
  return narrow::describe(read());
}

DatasetDescription describe(const RawDataset& raw) {
  const auto shape = [](const ImageSet& s) {
    return ImageSetShape{s.size(), s.channels, s.height, s.width};
  };
  return DatasetDescription{raw.name, raw.classes, shape(raw.train), shape(raw.test)};
}

DatasetOptionError::DatasetOptionError(std::string parameter, const std::string& message)
    : InputError(message), parameter_(std::move(parameter)) {}
DatasetOptionError::~DatasetOptionError() = default;

// ------------------------------------------------------------------ options

ParamSchema DataOptions::schema() {
  return {
      ParamSpec::real("validation", 0.1, 0.0, 0.5,
                      "share of the training set held out for validation (stratified)"),
      ParamSpec::integer("train_size", 0, 0, 1'000'000'000,
                         "train on this many images (stratified subset); 0: all the rest"),
      ParamSpec::integer("test_size", 0, 0, 1'000'000'000,
                         "test on this many images (stratified subset); 0: all"),
      ParamSpec::boolean("normalize", true,
                         "normalise each channel by the training split's mean and deviation"),
      ParamSpec::integer("pad", 0, 0, 16,
                         "augmentation: zero-pad training images by this many pixels, then crop "
                         "back at random; 0: off"),
      ParamSpec::boolean("flip", false,
                         "augmentation: flip training images horizontally at random"),
  };
}

DataOptions DataOptions::from(const Parameters& p) {
  DataOptions o;
  o.validation = p.real("validation");
  o.train_size = p.integer("train_size");
  o.test_size = p.integer("test_size");
  o.normalize = p.boolean("normalize");
  o.augmentation.pad = p.integer("pad");
  o.augmentation.flip = p.boolean("flip");
  return o;
}

// ------------------------------------------------------------------ prepare

namespace {

using Indices = std::vector<std::int64_t>;

/// Random streams of the split, under the split seed ("data" in the upper half).
constexpr std::uint64_t validation_stream = 0x6461746100000001ULL;
constexpr std::uint64_t train_stream = 0x6461746100000002ULL;
constexpr std::uint64_t test_stream = 0x6461746100000003ULL;

/// Chooses `count` of `from` (indices into `labels`), stratified: each class gets its
/// proportional share of `count`, rounded down, and the images left over go one each to the
/// classes with the largest remainders (ties to the lower class), so every class is within
/// one image of its exact share. Within a class the images are drawn at random with `rng`.
/// Returns the chosen indices and the others, each in ascending order.
std::pair<Indices, Indices> stratified_pick(const std::vector<std::int32_t>& labels,
                                            const Indices& from, std::int64_t classes,
                                            std::int64_t count, Rng& rng) {
  const auto n = static_cast<std::int64_t>(from.size());
  std::vector<Indices> by_class(static_cast<std::size_t>(classes));
  for (std::int64_t i : from)
    by_class[static_cast<std::size_t>(labels[std::size_t(i)])].push_back(i);

  std::vector<std::int64_t> quota(by_class.size()), remainder(by_class.size());
  std::int64_t given = 0;
  for (std::size_t c = 0; c < by_class.size(); ++c) {
    const auto nc = static_cast<std::int64_t>(by_class[c].size());
    quota[c] = n ? count * nc / n : 0;
    remainder[c] = n ? count * nc % n : 0;
    given += quota[c];
  }
  std::vector<std::size_t> order(by_class.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return remainder[a] > remainder[b]; });
  for (std::size_t k = 0; given < count && k < order.size(); ++k) {
    if (remainder[order[k]] == 0) break;
    ++quota[order[k]];
    ++given;
  }

  Indices chosen, rest;
  chosen.reserve(std::size_t(count));
  rest.reserve(std::size_t(n - count));
  for (std::size_t c = 0; c < by_class.size(); ++c) {
    auto& xs = by_class[c];
    const auto size = static_cast<std::uint64_t>(xs.size());
    const auto take = static_cast<std::uint64_t>(quota[c]);
    // Partial Fisher-Yates with PCG's unbiased bounded draws: the same on every platform.
    for (std::uint64_t i = 0; i < take; ++i) std::swap(xs[i], xs[i + rng(size - i)]);
    chosen.insert(chosen.end(), xs.begin(), xs.begin() + std::int64_t(take));
    rest.insert(rest.end(), xs.begin() + std::int64_t(take), xs.end());
  }
  std::sort(chosen.begin(), chosen.end());
  std::sort(rest.begin(), rest.end());
  return {std::move(chosen), std::move(rest)};
}

Indices all_of(const ImageSet& s) {
  Indices xs(static_cast<std::size_t>(s.size()));
  std::iota(xs.begin(), xs.end(), std::int64_t{0});
  return xs;
}

ImageSet gather(const ImageSet& s, const Indices& which) {
  ImageSet out;
  out.channels = s.channels;
  out.height = s.height;
  out.width = s.width;
  const auto image = static_cast<std::size_t>(s.image_size());
  out.pixels.resize(which.size() * image);
  out.labels.resize(which.size());
  for (std::size_t k = 0; k < which.size(); ++k) {
    const auto i = static_cast<std::size_t>(which[k]);
    std::copy_n(s.pixels.begin() + std::ptrdiff_t(i * image), image,
                out.pixels.begin() + std::ptrdiff_t(k * image));
    out.labels[k] = s.labels[i];
  }
  return out;
}

/// What a dataset's read() returned must be consistent; shapes that do not fit are a bug of the
/// dataset (Error), labels out of range come from its files (InputError).
void check_raw(const RawDataset& raw) {
  const std::string who = fmt::format("dataset '{}'", raw.name);
  if (raw.classes < 1) throw Error(fmt::format("{} reports {} classes", who, raw.classes));
  if (!raw.class_names.empty() && std::int64_t(raw.class_names.size()) != raw.classes)
    throw Error(
        fmt::format("{} names {} classes but has {}", who, raw.class_names.size(), raw.classes));
  const auto check_set = [&](const ImageSet& s, const char* which) {
    if (s.size() == 0) throw InputError(fmt::format("{} has no {} images", who, which));
    if (s.channels < 1 || s.height < 1 || s.width < 1)
      throw Error(fmt::format("{}: its {} images have shape {}x{}x{}", who, which, s.channels,
                              s.height, s.width));
    if (std::int64_t(s.pixels.size()) != s.size() * s.image_size())
      throw Error(fmt::format(
          "{}: its {} set has {} labels and {} pixel values; expected {} x {}x{}x{} = {}", who,
          which, s.size(), s.pixels.size(), s.size(), s.channels, s.height, s.width,
          s.size() * s.image_size()));
    for (std::size_t i = 0; i < s.labels.size(); ++i)
      if (s.labels[i] < 0 || s.labels[i] >= raw.classes)
        throw InputError(fmt::format("{}: {} label {} at index {} is out of range 0..{}", who,
                                     which, s.labels[i], i, raw.classes - 1));
  };
  check_set(raw.train, "training");
  check_set(raw.test, "test");
  if (raw.test.channels != raw.train.channels || raw.test.height != raw.train.height ||
      raw.test.width != raw.train.width)
    throw Error(fmt::format("{}: its test images are {}x{}x{}, its training images {}x{}x{}", who,
                            raw.test.channels, raw.test.height, raw.test.width, raw.train.channels,
                            raw.train.height, raw.train.width));
}

}  // namespace

namespace {

/// The sizes of prepare()'s splits of a training set of `n` and a test set of `n_test` images.
struct SplitSizes {
  std::int64_t train = 0, validation = 0;
};

/// The validation images that come with a training subset of `t` images (see split_sizes).
std::int64_t validation_for(std::int64_t t, double v) {
  return std::llround(double(t) * v / (1 - v));
}

/// The largest train_size that a training set of `n` images allows with validation `v`.
std::int64_t max_train_size(std::int64_t n, double v) {
  auto t = std::int64_t(double(n) * (1 - v));
  while (t + 1 + validation_for(t + 1, v) <= n) ++t;
  while (t > 0 && t + validation_for(t, v) > n) --t;
  return t;
}

SplitSizes split_sizes(std::int64_t n, std::int64_t n_test, const DataOptions& options,
                       const std::string& who) {
  const double v = options.validation;
  if (!(v >= 0 && v <= 0.5))
    throw DatasetOptionError(
        "validation", fmt::format("{}: validation {} is out of range (allowed 0..0.5)", who, v));
  if (options.train_size < 0)
    throw DatasetOptionError("train_size", fmt::format("{}: train_size must be >= 0", who));
  if (options.test_size < 0)
    throw DatasetOptionError("test_size", fmt::format("{}: test_size must be >= 0", who));
  if (options.augmentation.pad < 0 || options.augmentation.pad > 16)
    throw DatasetOptionError("pad", fmt::format("{}: pad {} is out of range (allowed 0..16)", who,
                                                options.augmentation.pad));

  // The validation set comes out of the whole training set first; the training subset, when
  // asked for, out of what is left. With train_size T, validation holds round(T v / (1 - v))
  // images, so that the two keep the proportion of a full split.
  SplitSizes out;
  if (options.train_size > 0) {
    out.train = options.train_size;
    out.validation = validation_for(out.train, v);
    if (out.train + out.validation > n)
      throw DatasetOptionError(
          "train_size",
          fmt::format("{}: train_size {} with its validation set of {} images needs {} training "
                      "images; the training set has {} (allowed: train_size up to {} with "
                      "validation {}, or 0 for all)",
                      who, out.train, out.validation, out.train + out.validation, n,
                      max_train_size(n, v), v));
  } else {
    out.validation = std::llround(double(n) * v);
    out.train = n - out.validation;
  }
  if (out.train < 1)
    throw DatasetOptionError(
        "validation",
        fmt::format("{}: validation {} leaves no training images (the training set has {})", who, v,
                    n));
  if (options.test_size > n_test)
    throw DatasetOptionError("test_size",
                             fmt::format("{}: test_size {} is larger than the test set ({} images; "
                                         "allowed: test_size up to {}, or 0 for all)",
                                         who, options.test_size, n_test, n_test));
  return out;
}

}  // namespace

PreparedData prepare(RawDataset raw, const DataOptions& options, std::uint64_t seed) {
  check_raw(raw);
  const std::string who = fmt::format("dataset '{}'", raw.name);
  const auto [n_train, n_val] = split_sizes(raw.train.size(), raw.test.size(), options, who);

  Rng val_rng = stream_rng(seed, validation_stream);
  auto [val_idx, rest] =
      stratified_pick(raw.train.labels, all_of(raw.train), raw.classes, n_val, val_rng);
  Indices train_idx = std::move(rest);
  if (std::int64_t(train_idx.size()) > n_train) {
    Rng train_rng = stream_rng(seed, train_stream);
    train_idx = stratified_pick(raw.train.labels, train_idx, raw.classes, n_train, train_rng).first;
  }

  PreparedData out;
  out.name = raw.name;
  out.classes = raw.classes;
  out.class_names = std::move(raw.class_names);
  out.augmentation = options.augmentation;
  out.train = gather(raw.train, train_idx);
  out.validation = gather(raw.train, val_idx);
  raw.train = ImageSet();  // free it before the test set is copied
  if (options.test_size > 0 && options.test_size < raw.test.size()) {
    Rng test_rng = stream_rng(seed, test_stream);
    out.test = gather(raw.test, stratified_pick(raw.test.labels, all_of(raw.test), raw.classes,
                                                options.test_size, test_rng)
                                    .first);
  } else {
    out.test = std::move(raw.test);
  }

  // Per-channel mean and (population) deviation of the training split.
  const auto channels = static_cast<std::size_t>(out.train.channels);
  const auto plane = static_cast<std::size_t>(out.train.height * out.train.width);
  out.mean.assign(channels, 0.0f);
  out.stddev.assign(channels, 1.0f);
  if (options.normalize) {
    std::vector<double> sum(channels, 0.0), sum2(channels, 0.0);
    const std::size_t images = out.train.labels.size();
    for (std::size_t i = 0; i < images; ++i)
      for (std::size_t c = 0; c < channels; ++c) {
        const float* p = out.train.pixels.data() + (i * channels + c) * plane;
        double s = 0, s2 = 0;
        for (std::size_t k = 0; k < plane; ++k) {
          s += p[k];
          s2 += double(p[k]) * p[k];
        }
        sum[c] += s;
        sum2[c] += s2;
      }
    const double count = double(images) * double(plane);
    for (std::size_t c = 0; c < channels; ++c) {
      const double mean = sum[c] / count;
      const double var = std::max(0.0, sum2[c] / count - mean * mean);
      const double sd = std::sqrt(var);
      out.mean[c] = float(mean);
      out.stddev[c] = sd > 1e-6 ? float(sd) : 1.0f;  // a constant channel is only centred
    }
    for (ImageSet* s : {&out.train, &out.validation, &out.test}) {
      const std::size_t m = s->labels.size();
      for (std::size_t i = 0; i < m; ++i)
        for (std::size_t c = 0; c < channels; ++c) {
          float* p = s->pixels.data() + (i * channels + c) * plane;
          const float mu = out.mean[c], inv = 1.0f / out.stddev[c];
          for (std::size_t k = 0; k < plane; ++k) p[k] = (p[k] - mu) * inv;
        }
    }
  }
  return out;
}

// ------------------------------------------------------------------ spec

json DatasetSpec::to_json() const {
  json params = json::object();
  for (const auto& [k, v] : parameters) params[k] = v;
  // The seed as text, like the other 64-bit seeds of jobs: JSON readers elsewhere keep 53 bits.
  return json{{"name", name}, {"parameters", params}, {"seed", std::to_string(seed)}};
}

DatasetSpec DatasetSpec::from_json(const json& j) {
  const auto bad = [](const std::string& what) { return InputError("dataset spec: " + what); };
  if (!j.is_object()) throw bad("expected a JSON object with name, parameters and seed");
  DatasetSpec spec;
  if (j.contains("name")) {
    if (!j["name"].is_string() || j["name"].get<std::string>().empty())
      throw bad("'name' must be a non-empty string");
    spec.name = j["name"].get<std::string>();
  }
  if (j.contains("parameters") && !j["parameters"].is_null()) {
    if (!j["parameters"].is_object()) throw bad("'parameters' must be an object");
    for (const auto& [k, v] : j["parameters"].items()) {
      if (v.is_string())
        spec.parameters[k] = v.get<std::string>();
      else if (v.is_boolean())
        spec.parameters[k] = v.get<bool>() ? "true" : "false";
      else if (v.is_number_unsigned())
        spec.parameters[k] = std::to_string(v.get<std::uint64_t>());
      else if (v.is_number_integer())
        spec.parameters[k] = std::to_string(v.get<std::int64_t>());
      else if (v.is_number_float())
        spec.parameters[k] = fmt::format("{}", v.get<double>());
      else
        throw bad(fmt::format("parameter '{}' must be a string, number or boolean", k));
    }
  }
  if (j.contains("seed")) {
    const auto& s = j["seed"];
    if (s.is_number_unsigned()) {
      spec.seed = s.get<std::uint64_t>();
    } else if (s.is_string()) {
      const std::string text = s.get<std::string>();
      std::size_t used = 0;
      bool ok = !text.empty() && std::isdigit(static_cast<unsigned char>(text[0]));
      if (ok) {
        try {
          spec.seed = std::stoull(text, &used);
        } catch (const std::exception&) {
          ok = false;
        }
      }
      if (!ok || used != text.size())
        throw bad(fmt::format("'seed' '{}' is not an unsigned 64-bit integer", text));
    } else {
      throw bad("'seed' must be an unsigned integer (or its text)");
    }
  }
  return spec;
}

std::string DatasetSpec::key(const Registry& registry) const {
  const Registration& r = registry.find(Kind::dataset, name);
  const Parameters p = Parameters::resolve(r.schema, parameters, fmt::format("dataset '{}'", name));
  json values = json::object();  // sorted by name, every parameter, defaults included
  for (const auto& [k, v] : p.values()) values[k] = to_string(v);
  const json what{{"name", name}, {"parameters", values}, {"seed", std::to_string(seed)}};
  return content_hash("dataset:" + what.dump());
}

// ------------------------------------------------------------------ load

namespace {

struct CacheEntry {
  std::mutex mutex;  // held while the data is read, so that one caller reads it
  std::shared_ptr<const PreparedData> data;
};

/// Calls a dataset plugin's `f`: narrow's errors pass, anything else it throws becomes an
/// Error that names the dataset and `doing`.
template <class F>
auto call_plugin(const std::string& who, const char* doing, F f) {
  try {
    return f();
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(fmt::format("{} failed to {}: {}", who, doing, e.what()));
  }
}

std::shared_ptr<const PreparedData> read_and_prepare(const Registry& registry,
                                                     const DatasetSpec& spec,
                                                     const std::string& key) {
  const std::string who = fmt::format("dataset '{}'", spec.name);
  const Registration& r = registry.find(Kind::dataset, spec.name);
  const Parameters params = Parameters::resolve(r.schema, spec.parameters, who);
  const DataOptions options = DataOptions::from(params);
  const auto dataset = registry.make<Dataset>(spec.name, spec.parameters);
  RawDataset raw = call_plugin(who, "read its data", [&] { return dataset->read(); });
  if (raw.name.empty()) raw.name = spec.name;
  auto data = std::make_shared<PreparedData>(prepare(std::move(raw), options, spec.seed));
  data->key = key;
  return data;
}

}  // namespace

DatasetDescription check_dataset(const Registry& registry, const DatasetSpec& spec) {
  const std::string who = fmt::format("dataset '{}'", spec.name);
  const Registration& r = registry.find(Kind::dataset, spec.name);
  const Parameters params = Parameters::resolve(r.schema, spec.parameters, who);
  const DataOptions options = DataOptions::from(params);
  const auto dataset = registry.make<Dataset>(spec.name, spec.parameters);
  DatasetDescription d = call_plugin(who, "describe its data", [&] { return dataset->describe(); });
  if (d.name.empty()) d.name = spec.name;
  // What check_raw() checks of the data, as far as a description tells it.
  const std::string what = fmt::format("dataset '{}'", d.name);
  if (d.classes < 1) throw Error(fmt::format("{} reports {} classes", what, d.classes));
  for (const auto& [s, which] : {std::pair{&d.train, "training"}, std::pair{&d.test, "test"}}) {
    if (s->size < 1) throw InputError(fmt::format("{} has no {} images", what, which));
    if (s->channels < 1 || s->height < 1 || s->width < 1)
      throw Error(fmt::format("{}: its {} images have shape {}x{}x{}", what, which, s->channels,
                              s->height, s->width));
  }
  if (d.test.channels != d.train.channels || d.test.height != d.train.height ||
      d.test.width != d.train.width)
    throw Error(fmt::format("{}: its test images are {}x{}x{}, its training images {}x{}x{}", what,
                            d.test.channels, d.test.height, d.test.width, d.train.channels,
                            d.train.height, d.train.width));
  (void)split_sizes(d.train.size, d.test.size, options, what);
  return d;
}

std::shared_ptr<const PreparedData> load_dataset(const Registry& registry,
                                                 const DatasetSpec& spec) {
  static std::mutex cache_mutex;
  static std::map<std::string, std::shared_ptr<CacheEntry>> cache;
  const std::string key = spec.key(registry);
  std::shared_ptr<CacheEntry> entry;
  {
    std::lock_guard lock(cache_mutex);
    auto& slot = cache[key];
    if (!slot) slot = std::make_shared<CacheEntry>();
    entry = slot;
  }
  // Callers of other datasets go on; callers of this one wait for the first to read it. A read
  // that fails caches nothing, so the next caller tries again (and gets the same error).
  std::lock_guard lock(entry->mutex);
  if (!entry->data) entry->data = read_and_prepare(registry, spec, key);
  return entry->data;
}

}  // namespace narrow
