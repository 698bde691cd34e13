// `narrow round`: rounds numbers from stdin to a number format and writes them to stdout.
#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/program_options.hpp>

#include "command_support.hpp"
#include "commands.hpp"
#include "narrow/errors.hpp"
#include "narrow/format.hpp"
#include "narrow/registry.hpp"

namespace po = boost::program_options;

namespace narrow::cli {

namespace {

/// Values read and rounded at once by default: the whole input up to this many (256 MiB of
/// float32) is one tensor, which is what formats with a per-tensor scale (int8) need.
constexpr std::size_t default_chunk = std::size_t(1) << 26;

constexpr const char* usage_text =
    "narrow round --format F [--rounding MODE] [--seed S] [--binary] [--param K=V]...\n"
    "             [--chunk N] [--plugins PATH]...\n\n"
    "Reads numbers from stdin, rounds each to the number format F and writes the results\n"
    "to stdout, in the same order.\n\n"
    "Text (default): one number per line, decimal (0.1, -3e-5) or hexadecimal float\n"
    "(0x1.8p-3), also inf, -inf and nan; each is read correctly rounded to float32. Blank\n"
    "lines are skipped; any other line that is not one number is an error naming the line.\n"
    "Output: one exact hexadecimal float per line (0x1.8p-3), or nan, inf, -inf.\n"
    "Binary (--binary): raw little-endian float32 values in and out.\n\n"
    "F is as in experiments: 'ieee(4,3)', half, e4m3, e5m2, 'fixed(3,4)', int8, ...;\n"
    "--param sets the format's other parameters by name (narrow plugins lists them).\n"
    "Stochastic rounding draws value i's randomness from (--seed, i), i counting from 0\n"
    "over the whole input, so results do not depend on --chunk.\n\n"
    "The input is rounded in chunks of --chunk values (default 67108864 = 64Mi, 256 MiB).\n"
    "Formats that round each value alone give the same results whatever the chunk size;\n"
    "formats with a per-tensor scale (int8) treat each chunk as one tensor, so an input\n"
    "that fits in one chunk is quantised as one tensor.\n\n"
    "examples:\n"
    "  printf '0.1\\n-3.5\\n1000\\n' | narrow round --format e4m3\n"
    "  printf '0x1.8p-3\\n' | narrow round --format 'fixed(3,4)' --rounding down\n"
    "  narrow round --format 'ieee(5,10)' --binary < weights.f32 > weights_half.f32\n"
    "  narrow round --format e5m2 --param saturate=yes --rounding stochastic --seed 7 < x.txt";

std::uint32_t swap_bytes(std::uint32_t b) {
  return (b >> 24) | ((b >> 8) & 0xff00u) | ((b << 8) & 0xff0000u) | (b << 24);
}

/// Writes to stdout through a large buffer; a failed write is an Error (exit 1).
class Output {
 public:
  ~Output() { flush_quietly(); }
  void write(const void* data, std::size_t n) {
    if (buffer_.size() + n > capacity) flush();
    const auto* p = static_cast<const char*>(data);
    buffer_.insert(buffer_.end(), p, p + n);
  }
  void flush() {
    if (!buffer_.empty() &&
        std::fwrite(buffer_.data(), 1, buffer_.size(), stdout) != buffer_.size())
      throw Error(fmt::format("cannot write to stdout: {}", std::strerror(errno)));
    buffer_.clear();
    if (std::fflush(stdout) != 0)
      throw Error(fmt::format("cannot write to stdout: {}", std::strerror(errno)));
  }

 private:
  static constexpr std::size_t capacity = std::size_t(1) << 20;
  void flush_quietly() {
    if (!buffer_.empty()) std::fwrite(buffer_.data(), 1, buffer_.size(), stdout);
    std::fflush(stdout);
  }
  std::vector<char> buffer_;
};

void write_text(Output& out, std::span<const float> values) {
  char buf[64];
  for (float v : values) {
    int n;
    if (std::isnan(v))
      n = std::snprintf(buf, sizeof buf, "nan\n");
    else if (std::isinf(v))
      n = std::snprintf(buf, sizeof buf, v > 0 ? "inf\n" : "-inf\n");
    else
      n = std::snprintf(buf, sizeof buf, "%a\n", double(v));  // exact
    out.write(buf, std::size_t(n));
  }
}

void write_binary(Output& out, std::span<const float> values) {
  if constexpr (std::endian::native == std::endian::little) {
    out.write(values.data(), values.size() * sizeof(float));
  } else {
    for (float v : values) {
      const std::uint32_t b = swap_bytes(std::bit_cast<std::uint32_t>(v));
      out.write(&b, sizeof b);
    }
  }
}

/// A line as an error message shows it: bytes outside printable ASCII escaped, long lines cut.
std::string printable(std::string_view text) {
  constexpr std::size_t longest = 60;
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < longest; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c >= 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out += char(c);
  }
  if (text.size() > longest) out += "...";
  return out;
}

/// Reads text numbers into `values` until it holds `limit` or stdin ends; false at the end.
class TextReader {
 public:
  ~TextReader() { std::free(line_); }
  bool read(std::vector<float>& values, std::size_t limit) {
    values.clear();
    while (values.size() < limit) {
      const ssize_t got = ::getline(&line_, &capacity_, stdin);
      if (got < 0) {
        if (std::ferror(stdin))
          throw Error(fmt::format("cannot read stdin: {}", std::strerror(errno)));
        return false;
      }
      ++line_number_;
      std::string_view text(line_, std::size_t(got));
      const auto b = text.find_first_not_of(" \t\r\n");
      if (b == std::string_view::npos) continue;  // blank line
      text = text.substr(b, text.find_last_not_of(" \t\r\n") - b + 1);
      values.push_back(parse(std::string(text)));
    }
    return true;
  }

 private:
  float parse(const std::string& text) const {
    // strtof reads decimal and hexadecimal floats, inf and nan, correctly rounded to float32
    // (out-of-range values become +-inf or a subnormal or zero, as rounding says).
    char* end = nullptr;
    const float v = std::strtof(text.c_str(), &end);
    if (end == text.c_str() || end != text.c_str() + text.size())  // also a NUL inside
      throw InputError(fmt::format("'{}' is not a number", printable(text)),
                       SourceLocation{"stdin", line_number_, 0});
    return v;
  }
  char* line_ = nullptr;
  std::size_t capacity_ = 0;
  int line_number_ = 0;
};

/// Reads raw little-endian float32 values into `values` until it holds `limit` or stdin
/// ends; false at the end. Reads in blocks, so a small input takes little memory.
bool read_binary(std::vector<float>& values, std::size_t limit, std::uint64_t already) {
  constexpr std::size_t block = std::size_t(1) << 20;
  values.clear();
  std::size_t bytes = 0;  // of the last, partial value
  bool more = true;
  while (values.size() < limit) {
    const std::size_t start = values.size();
    const std::size_t count = std::min(block, limit - start);
    values.resize(start + count);
    auto* p = reinterpret_cast<char*>(values.data() + start);
    const std::size_t want = count * sizeof(float);
    std::size_t got = 0;
    while (got < want) {
      const std::size_t n = std::fread(p + got, 1, want - got, stdin);
      if (n == 0) break;
      got += n;
    }
    values.resize(start + got / sizeof(float));
    if (got < want) {
      if (std::ferror(stdin))
        throw Error(fmt::format("cannot read stdin: {}", std::strerror(errno)));
      bytes = got % sizeof(float);
      more = false;
      break;
    }
  }
  if (bytes != 0)
    throw InputError(
        fmt::format("the input ends with {} byte{} after {} float32 values; binary input must "
                    "be a whole number of 4-byte values",
                    bytes, plural(std::int64_t(bytes)), already + values.size()),
        SourceLocation{"stdin"});
  if constexpr (std::endian::native == std::endian::big)
    for (float& v : values) v = std::bit_cast<float>(swap_bytes(std::bit_cast<std::uint32_t>(v)));
  return more;
}

}  // namespace

int cmd_round(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string format_text, rounding_text = "nearest_even";
  std::uint64_t seed = 0;
  std::size_t chunk = default_chunk;
  std::vector<std::string> params, paths;
  add_help_option(opts);
  opts.add_options()(
      "format", po::value(&format_text), "number format, e.g. e4m3, 'fixed(3,4)', int8, half")(
      "rounding", po::value(&rounding_text),
      "nearest_even (default), toward_zero, up, down or stochastic")(
      "seed", po::value(&seed), "seed of stochastic rounding (default 0)")(
      "binary", "read and write raw little-endian float32 instead of text")(
      "param", po::value(&params)->composing(), "format parameter NAME=VALUE (repeatable)")(
      "chunk", po::value(&chunk), "values rounded at once (default 67108864)");
  add_plugins_option(opts, paths, "also load plugins from this folder or file (repeatable)");
  po::variables_map vm;
  if (!parse(args, opts, vm, usage_text)) return 0;
  if (format_text.empty()) throw InputError("--format is required (see narrow round --help)");
  if (chunk == 0) throw InputError("--chunk must be at least 1");
  RoundingOptions options;
  options.mode = rounding_option(rounding_text);
  options.seed = seed;
  Registry& registry = load_registry(paths);
  const auto format = create_format(registry, format_text, param_map(params));
  {
    const auto supported = format->roundings();
    if (std::find(supported.begin(), supported.end(), options.mode) == supported.end()) {
      std::vector<std::string> names;
      for (Rounding r : supported) names.emplace_back(rounding_name(r));
      throw InputError(fmt::format("format '{}' does not support rounding '{}' (it supports: {})",
                                   format->name(), rounding_text, fmt::join(names, ", ")));
    }
  }

  const bool binary = vm.count("binary") > 0;
  Output out;
  TextReader text;
  std::vector<float> values;
  std::uint64_t done = 0;
  for (bool more = true; more;) {
    more = binary ? read_binary(values, chunk, done) : text.read(values, chunk);
    if (values.empty()) break;
    options.offset = done;
    format->round(values, options);
    if (binary)
      write_binary(out, values);
    else
      write_text(out, values);
    done += values.size();
  }
  out.flush();
  return 0;
}

}  // namespace narrow::cli
