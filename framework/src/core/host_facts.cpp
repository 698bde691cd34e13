// Facts of this machine: its CPU model and physical memory (declared in narrow/device.hpp).
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "narrow/device.hpp"

namespace narrow {

std::string host_cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("model name")) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto b = line.find_first_not_of(" \t", colon + 1);
    if (b != std::string::npos) return line.substr(b);
  }
  return "unknown";
}

std::int64_t host_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long size = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? std::int64_t(pages) * std::int64_t(size) : 0;
}

}  // namespace narrow
