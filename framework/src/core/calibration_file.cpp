// The calibration file: a latency model of one device with its error statistics, as JSON.
#include <cmath>
#include <cstdint>
#include <exception>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "narrow/errors.hpp"
#include "narrow/latency_model.hpp"
#include "narrow/output_file.hpp"

namespace narrow {

using nlohmann::json;

json Calibration::to_json() const {
  json coefficients = json::object();
  for (std::size_t c = 0; c < model.features.size(); ++c)
    coefficients[model.features[c]] = model.coefficients[c];
  return json{{"format", "narrow-calibration"},
              {"version", 1},
              {"date", date},
              {"device", device},
              {"measurement", options.to_json()},
              {"features", model.features},
              {"coefficients", model.coefficients},
              {"fit", fit},
              {"samples", samples},
              {"training", training.to_json()},
              {"held_out", held_out.to_json()},
              {"noise_cv_median", noise_cv_median},
              {"spaces", spaces},
              {"seed", std::to_string(seed)}};
}

namespace {

/// Field `key` of a calibration object, of the JSON type `what` names; InputError otherwise.
const json& field(const json& j, const char* key, json::value_t type, const char* what,
                  const std::string& source, const std::string& path = "") {
  const std::string where = path.empty() ? key : path + "." + key;
  if (!j.contains(key))
    throw InputError(fmt::format("calibration: '{}' is missing", where), SourceLocation{source});
  const json& v = j.at(key);
  const bool ok = type == json::value_t::number_float ? v.is_number() : v.type() == type ||
                  (type == json::value_t::number_unsigned && v.is_number_integer() &&
                   v.get<std::int64_t>() >= 0);
  if (!ok)
    throw InputError(fmt::format("calibration: '{}' must be {}, not {}", where, what, v.dump()),
                     SourceLocation{source});
  return v;
}

FitStatistics statistics_from(const json& j, const char* key, const std::string& source) {
  const json& s = field(j, key, json::value_t::object, "an object", source);
  FitStatistics f;
  f.count = field(s, "count", json::value_t::number_unsigned, "a count", source, key)
                .get<std::int64_t>();
  auto number = [&](const char* name) {
    return field(s, name, json::value_t::number_float, "a number", source, key).get<double>();
  };
  f.r2 = number("r2");
  f.r2_log = number("r2_log");
  f.median_abs_pct_error = number("median_abs_pct_error");
  f.mean_abs_pct_error = number("mean_abs_pct_error");
  f.max_abs_pct_error = number("max_abs_pct_error");
  f.within_10pct = number("within_10pct");
  if (f.within_10pct < 0 || f.within_10pct > 1)
    throw InputError(fmt::format("calibration: '{}.within_10pct' {} is not a share in 0..1", key,
                                 f.within_10pct),
                     SourceLocation{source});
  return f;
}

}  // namespace

Calibration Calibration::from_json(const json& j, const std::string& source) {
  const SourceLocation at{source};
  if (!j.is_object()) throw InputError("calibration: the file must hold one JSON object", at);
  const auto& format = field(j, "format", json::value_t::string, "a string", source);
  if (format.get<std::string>() != "narrow-calibration")
    throw InputError(fmt::format("calibration: 'format' is '{}', not 'narrow-calibration'",
                                 format.get<std::string>()),
                     at);
  const auto version = field(j, "version", json::value_t::number_unsigned, "a version number",
                             source)
                           .get<std::int64_t>();
  if (version != 1)
    throw InputError(
        fmt::format("calibration: version {} is not supported (this narrow reads version 1)",
                    version),
        at);
  Calibration c;
  c.date = field(j, "date", json::value_t::string, "a string", source).get<std::string>();
  c.device = field(j, "device", json::value_t::object, "an object", source);
  if (!c.device.contains("name") || !c.device.at("name").is_string())
    throw InputError("calibration: 'device.name' is missing or not a string", at);
  const json& m = field(j, "measurement", json::value_t::object, "an object", source);
  try {
    c.options = LatencyOptions::from_json(m);
  } catch (const json::exception&) {
    throw InputError("calibration: 'measurement' needs runs, warmup, threads, max_cv, "
                     "max_repeats and min_run_seconds as numbers",
                     at);
  }
  const json& features = field(j, "features", json::value_t::array, "an array", source);
  for (const auto& f : features) {
    if (!f.is_string())
      throw InputError(fmt::format("calibration: 'features' holds {}, not a feature name",
                                   f.dump()),
                       at);
    c.model.features.push_back(f.get<std::string>());
  }
  try {
    check_latency_features(c.model.features);
  } catch (const InputError& e) {
    throw InputError("calibration: " + e.message(), at);
  }
  const json& coefficients =
      field(j, "coefficients", json::value_t::array, "an array", source);
  if (coefficients.size() != features.size())
    throw InputError(fmt::format("calibration: {} coefficients for {} features",
                                 coefficients.size(), features.size()),
                     at);
  for (std::size_t k = 0; k < coefficients.size(); ++k) {
    const auto& v = coefficients[k];
    if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0)
      throw InputError(fmt::format("calibration: coefficient {} ('{}') is {}, not a finite "
                                   "number >= 0",
                                   k, c.model.features[k], v.dump()),
                       at);
    c.model.coefficients.push_back(v.get<double>());
  }
  // "fit" is "layers" or "totals"; files written before layered fits described the method.
  if (j.contains("fit") && j["fit"].is_string() && j["fit"].get<std::string>() == "layers")
    c.fit = "layers";
  c.samples = field(j, "samples", json::value_t::number_unsigned, "a count", source)
                  .get<std::int64_t>();
  c.training = statistics_from(j, "training", source);
  c.held_out = statistics_from(j, "held_out", source);
  c.noise_cv_median =
      field(j, "noise_cv_median", json::value_t::number_float, "a number", source).get<double>();
  for (const auto& s : field(j, "spaces", json::value_t::array, "an array", source)) {
    if (!s.is_string())
      throw InputError(fmt::format("calibration: 'spaces' holds {}, not a name", s.dump()), at);
    c.spaces.push_back(s.get<std::string>());
  }
  const std::string seed =
      field(j, "seed", json::value_t::string, "a string of digits", source).get<std::string>();
  try {
    std::size_t used = 0;
    c.seed = std::stoull(seed, &used);
    if (used != seed.size()) throw std::invalid_argument(seed);
  } catch (const std::exception&) {
    throw InputError(fmt::format("calibration: 'seed' '{}' is not a number", seed), at);
  }
  return c;
}

void Calibration::save(const std::string& path) const {
  write_output_file(path, to_json().dump(2) + "\n", "calibration file");
}

Calibration Calibration::load(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw InputError(fmt::format(
        "calibration file '{}' is a folder; expected the file narrow calibrate --out wrote", path));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("cannot read calibration file '{}'", path));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    // Where the parser stopped, as a line and column of the file.
    SourceLocation at{path, 1, 1};
    for (std::size_t i = 0; i + 1 < e.byte && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++at.line;
        at.column = 1;
      } else {
        ++at.column;
      }
    }
    std::string what = e.what();
    if (const auto p = what.find("parse error"); p != std::string::npos) what = what.substr(p);
    throw InputError("calibration: not valid JSON: " + what, at);
  }
  return from_json(j, path);
}

}  // namespace narrow
