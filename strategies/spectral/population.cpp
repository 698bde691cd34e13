#include "population.hpp"

#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "narrow/errors.hpp"

namespace narrow::spectral {

namespace {

double number_or(const nlohmann::json& j, const char* field, double if_null) {
  const auto& v = j.at(field);
  if (v.is_null()) return if_null;
  if (!v.is_number()) throw Error(fmt::format("'{}' is not a number or null", field));
  return v.get<double>();
}

}  // namespace

Population parse_population(const std::string& json, const std::string& what) {
  Population p;
  long at = -1;  // the law being read, for messages
  try {
    const auto j = nlohmann::json::parse(json);
    p.space = j.at("space").get<std::string>();
    p.space_key = j.at("space_key").get<std::string>();
    p.metric = j.at("metric").get<std::string>();
    const auto window = j.at("window").get<std::vector<double>>();
    if (window.size() != 2 || !(window[0] < window[1]))
      throw Error(fmt::format("'window' is not [low, high] with low < high"));
    p.low = window[0];
    p.high = window[1];
    p.window_name = j.at("window_name").get<std::string>();
    for (const auto& law : j.at("population")) {
      ++at;
      PopulationLaw l;
      l.law.low = law.at("low").get<std::vector<std::int64_t>>();
      l.law.high = law.at("high").get<std::vector<std::int64_t>>();
      if (l.law.low.size() != l.law.high.size())
        throw Error(fmt::format("{} low and {} high limits", l.law.low.size(), l.law.high.size()));
      const double nan = std::numeric_limits<double>::quiet_NaN();
      l.law.cost = number_or(law, "cost", std::numeric_limits<double>::infinity());
      l.mean = number_or(law, "mean", nan);
      l.sigma = number_or(law, "sigma", nan);
      l.accepted = law.at("accepted").get<long>();
      l.refused = law.at("refused").get<long>();
      p.laws.push_back(std::move(l));
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{} cannot be read{}: {}", what,
                            at >= 0 ? fmt::format(" (law {})", at) : "", e.what()));
  } catch (const Error& e) {
    throw Error(fmt::format("{} cannot be read{}: {}", what,
                            at >= 0 ? fmt::format(" (law {})", at) : "", e.what()));
  }
  return p;
}

std::string short_number(double value) {
  if (value > 0 && std::isfinite(value)) {
    const double e = std::floor(std::log10(value));
    const double m = value / std::pow(10.0, e);
    const double r = std::round(m);
    if (std::abs(m - r) < 1e-9 && r >= 1 && r <= 9) return fmt::format("{}e{}", int(r), int(e));
  }
  return fmt::format("{:g}", value);
}

}  // namespace narrow::spectral
