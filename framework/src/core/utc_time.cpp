#include "core/utc_time.hpp"

#include <ctime>
#include <string>

#include "narrow/latency_model.hpp"

namespace narrow {

std::string utc_now(const char* format) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

std::string utc_timestamp() {
  return utc_now(utc_iso_format);
}

}  // namespace narrow
