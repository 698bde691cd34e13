#include "narrow/progress.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace narrow {

namespace {
std::string duration(double s) {
  if (s < 60) return fmt::format("{:.1f}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", int(s) / 60, int(s) % 60);
  return fmt::format("{}h{:02}m", int(s) / 3600, (int(s) % 3600) / 60);
}
// A rate that stays readable when work is slow: 1,234/s, 2.5/s, 12.0/min, 3.0/h.
std::string rate_text(double per_second) {
  if (per_second >= 10) return fmt::format("{:.0f}/s", per_second);
  if (per_second >= 1) return fmt::format("{:.1f}/s", per_second);
  if (per_second * 60 >= 1) return fmt::format("{:.1f}/min", per_second * 60);
  return fmt::format("{:.1f}/h", per_second * 3600);
}
}  // namespace

bool Progress::interactive() {
  return isatty(STDERR_FILENO) != 0;
}

Progress::Progress(std::string what, std::uint64_t total, std::string unit)
    : what_(std::move(what)),
      unit_(std::move(unit)),
      total_(total),
      start_(std::chrono::steady_clock::now()),
      last_(start_),
      tty_(interactive()) {
  const char* env = std::getenv("NARROW_PROGRESS");
  quiet_ = env && std::strcmp(env, "off") == 0;
}

Progress::~Progress() {
  finish();
}

void Progress::update(std::uint64_t done) {
  done_ = done;
  if (quiet_ || finished_) return;
  auto now = std::chrono::steady_clock::now();
  double since_last = std::chrono::duration<double>(now - last_).count();
  if (since_last < (tty_ ? 0.1 : 5.0)) return;
  last_ = now;
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double rate = elapsed > 0 ? double(done) / elapsed : 0;
  double left = rate > 0 && total_ > done ? double(total_ - done) / rate : 0;
  double frac = total_ ? double(done) / double(total_) : 0;
  if (tty_) {
    constexpr int width = 30;
    int filled = int(frac * width);
    std::string bar(std::size_t(filled), '#');
    bar.resize(width, '.');
    fmt::print(stderr, "\r{} [{}] {}/{} {} {}, {} left   ", what_, bar, done, total_, unit_,
               rate_text(rate), duration(left));
  } else {
    fmt::print(stderr, "{}: {}/{} {} ({:.0f}%), {}, {} left\n", what_, done, total_, unit_,
               100 * frac, rate_text(rate), duration(left));
  }
  std::fflush(stderr);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (quiet_) return;
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = elapsed > 0 ? double(done_) / elapsed : 0;
  fmt::print(stderr, "{}{}: {} {} in {}, {}\n", tty_ ? "\r\033[K" : "", what_, done_, unit_,
             duration(elapsed), rate_text(rate));
}

}  // namespace narrow
