#pragma once
#include <chrono>
#include <cstdint>
#include <string>

#include "narrow/export.hpp"

namespace narrow {

/// Progress of long work on stderr: a bar with rate and time left on a terminal, a line every
/// few seconds otherwise. Call update() from one thread at a time.
class NARROW_API Progress {
 public:
  Progress(std::string what, std::uint64_t total, std::string unit = "items");
  ~Progress();
  void update(std::uint64_t done);
  /// Prints the final line (done, rate, elapsed); called by the destructor if not before.
  void finish();
  /// Whether stderr is a terminal (bar) or not (periodic lines). NARROW_PROGRESS=off silences.
  static bool interactive();

 private:
  std::string what_, unit_;
  std::uint64_t total_, done_ = 0;
  std::chrono::steady_clock::time_point start_, last_;
  bool tty_, quiet_, finished_ = false;
};

}  // namespace narrow
