#include "calibrated_device.hpp"

#include <fmt/format.h>

#include "narrow/errors.hpp"
#include "narrow/registry.hpp"

namespace narrow::devices {

ParamSchema CalibratedDevice::schema() {
  return {
      ParamSpec::string("calibration", "", "the calibration file `narrow calibrate` wrote"),
      ParamSpec::string("device", "",
                        "the measuring device the calibration was made on (default: the one "
                        "the file names); another device is an error"),
  };
}

CalibratedDevice::CalibratedDevice(const Parameters& p, const Registry& registry)
    : parameters_(p) {
  const std::string& file = p.string("calibration");
  if (file.empty())
    throw InputError("'calibration' must name a calibration file (narrow calibrate --out FILE)");
  calibration_ = Calibration::load(file);
  const std::string made_on = calibration_.device.at("name").get<std::string>();
  const std::string& asked = p.string("device");
  if (!asked.empty() && asked != made_on)
    throw InputError(fmt::format("calibration '{}' was made on device '{}', not '{}'", file,
                                 made_on, asked),
                     SourceLocation{file});
  if (made_on == "calibrated")
    throw InputError("a calibration of a calibrated device cannot be wrapped again",
                     SourceLocation{file});
  // The wrapped device with the parameters it was calibrated with: it measures as it did then.
  std::map<std::string, std::string> params;
  if (calibration_.device.contains("parameters") && calibration_.device["parameters"].is_object())
    for (const auto& [k, v] : calibration_.device["parameters"].items()) {
      if (!v.is_string())
        throw InputError(fmt::format("calibration: 'device.parameters.{}' must be a string", k),
                         SourceLocation{file});
      params[k] = v.get<std::string>();
    }
  wrapped_ = create_device(registry, made_on, params, SourceLocation{file});
}

nlohmann::json CalibratedDevice::description() const {
  return {{"name", name()},
          {"parameters", parameter_texts(parameters_)},
          {"device", wrapped_->description()},
          {"calibration_date", calibration_.date},
          {"held_out", calibration_.held_out.to_json()}};
}

LatencyMeasurement CalibratedDevice::measure(const Architecture& arch,
                                             const LatencyOptions& options) {
  return wrapped_->measure(arch, options);
}

std::optional<double> CalibratedDevice::predict(const Architecture& arch, const Metrics&) const {
  return calibration_.model.predict(arch);
}

}  // namespace narrow::devices
