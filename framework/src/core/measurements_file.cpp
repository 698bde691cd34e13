// The measurements file of a calibration (narrow calibrate --save-measurements, read back with
// --measurements): one JSON object a line.
#include <fstream>
#include <ostream>
#include <set>

#include <fmt/format.h>

#include "core/device_calibration.hpp"
#include "narrow/errors.hpp"
#include "narrow/output_file.hpp"

namespace narrow {

using nlohmann::json;

void save_measurements(const std::string& path, const std::vector<CalibrationSample>& samples,
                       const json& device, const LatencyOptions& options) {
  OutputFile file(path, "measurements file");
  std::ostream& out = file.stream();
  out << json{{"narrow_measurements", 1}, {"device", device}, {"options", options.to_json()}}.dump()
      << "\n";
  for (const auto& s : samples)
    out << json{{"space", s.space},
                {"law", s.law},
                {"architecture", s.arch.to_json()},
                {"latency", s.latency.to_json()}}
               .dump()
        << "\n";
  file.commit();
}

std::vector<CalibrationSample> load_measurements(const std::string& path,
                                                 const std::vector<std::string>& features,
                                                 json& device, LatencyOptions& options,
                                                 std::vector<std::string>& spaces) {
  std::ifstream in(path);
  if (!in) throw InputError(fmt::format("cannot read measurements file '{}'", path));
  std::vector<CalibrationSample> samples;
  std::set<std::string> seen;
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    const SourceLocation at{path, number};
    try {
      const json j = json::parse(line);
      if (number == 1) {
        if (!j.is_object() || !j.contains("narrow_measurements"))
          throw InputError("not a file of narrow calibrate --save-measurements", at);
        device = j.at("device");
        options = LatencyOptions::from_json(j.at("options"));
        continue;
      }
      CalibrationSample s;
      s.space = j.at("space").get<std::string>();
      s.law = j.at("law").get<std::string>();
      s.arch = Architecture::from_json(j.at("architecture"));
      s.hash = s.arch.hash();
      s.metrics = analyse(s.arch);
      s.latency = LatencyMeasurement::from_json(j.at("latency"));
      if (!(s.latency.mean > 0)) throw InputError("the latency's mean is not positive", at);
      s.features = latency_features(s.arch, features);
      if (seen.insert(s.space).second) spaces.push_back(s.space);
      samples.push_back(std::move(s));
    } catch (const InputError& e) {
      if (!e.where().empty()) throw;
      throw InputError(e.message(), at);
    } catch (const json::exception& e) {
      throw InputError(fmt::format("not a measurement line: {}", e.what()), at);
    }
  }
  if (number == 0) throw InputError("the measurements file is empty", SourceLocation{path});
  return samples;
}

}  // namespace narrow
