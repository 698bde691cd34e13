// The file helpers of the plugin SDK (narrow/data_files.hpp): dataset plugins read their
// files through them, raw or gzipped, with errors that name the file.
#include "narrow/data_files.hpp"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <system_error>

#include <fmt/format.h>

#include "narrow/errors.hpp"

namespace narrow {

namespace fs = std::filesystem;

namespace datasets {

void check_folder(const std::string& folder, const std::string& what) {
  if (folder.empty())
    throw InputError(fmt::format("{} is empty; give the folder that holds the data files", what));
  std::error_code ec;
  const auto st = fs::status(folder, ec);
  if (!fs::exists(st))
    throw InputError(fmt::format("{}: folder does not exist ({})", folder, what));
  if (!fs::is_directory(st))
    throw InputError(fmt::format("{}: is not a folder ({} must name the folder of the data files)",
                                 folder, what));
}

std::string find_file(const std::string& folder, const std::string& base,
                      const std::string& expected) {
  const fs::path gz = fs::path(folder) / (base + ".gz");
  const fs::path raw = fs::path(folder) / base;
  std::error_code ec;
  if (fs::is_regular_file(gz, ec)) return gz.string();
  if (fs::is_regular_file(raw, ec)) return raw.string();
  throw InputError(
      fmt::format("{}: missing (neither it nor {}.gz exists); {}", raw.string(), base, expected));
}

namespace {

/// The gzip trailer of a file: the size of its data modulo 2^32 (of the last member only).
/// Empty when the file is not gzip (then its size is its data's size).
std::optional<std::uint64_t> gzip_trailer(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return std::nullopt;
  const auto size = std::streamoff(in.tellg());
  unsigned char head[2] = {0, 0}, tail[4] = {0, 0, 0, 0};
  in.seekg(0);
  if (size < 18 || !in.read(reinterpret_cast<char*>(head), 2) || head[0] != 0x1f || head[1] != 0x8b)
    return std::nullopt;
  in.seekg(size - 4);
  if (!in.read(reinterpret_cast<char*>(tail), 4)) return std::nullopt;
  return std::uint64_t(tail[0]) | std::uint64_t(tail[1]) << 8 | std::uint64_t(tail[2]) << 16 |
         std::uint64_t(tail[3]) << 24;
}

/// How many bytes a file gives when read: its size, or for gzip data the size its trailer
/// records (modulo 2^32, so only a hint). 0 when unknown.
std::size_t size_hint(const std::string& path) {
  if (const auto trailer = gzip_trailer(path)) return std::size_t(*trailer);
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return ec ? 0 : std::size_t(size);
}

/// A file read through zlib (raw files as they are), with errors that name it.
class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path) {
    errno = 0;
    f_ = gzopen(path.c_str(), "rb");
    if (!f_)
      throw InputError(fmt::format("{}: cannot be opened ({})", path,
                                   errno ? std::strerror(errno) : "out of memory"));
    gzbuffer(f_, 1u << 17);
  }
  ~GzReader() { gzclose(f_); }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  /// Up to `n` bytes into `dst`; 0 at the end of the data.
  std::size_t read(std::uint8_t* dst, std::size_t n) {
    const int got = gzread(f_, dst, unsigned(n));
    if (got < 0) {
      int code = 0;
      const char* z = gzerror(f_, &code);
      std::string msg = code == Z_ERRNO ? std::strerror(errno) : (z ? z : "unknown zlib error");
      // zlib's message starts with the path again.
      if (msg.starts_with(path_ + ": ")) msg = msg.substr(path_.size() + 2);
      throw InputError(fmt::format("{}: cannot be read: {}{}", path_, msg,
                                   code == Z_DATA_ERROR ? " (damaged gzip data)" : ""));
    }
    return std::size_t(got);
  }

  /// After the end of the data: throws when the gzip stream ended early.
  void check_complete() {
    int code = Z_OK;
    gzerror(f_, &code);
    if (code == Z_BUF_ERROR)
      throw InputError(fmt::format(
          "{}: truncated gzip data (the compressed stream ends early); expected a whole gzip "
          "file",
          path_));
    if (code != Z_OK)
      throw InputError(fmt::format("{}: cannot be read (zlib error {})", path_, code));
  }

 private:
  std::string path_;
  gzFile f_ = nullptr;
};

constexpr std::size_t chunk = std::size_t(1) << 22;

}  // namespace

std::vector<std::uint8_t> read_file(const std::string& path) {
  const std::size_t hint = size_hint(path);
  GzReader reader(path);
  std::vector<std::uint8_t> data;
  data.reserve(hint + chunk);  // no reallocation when the hint is right
  for (;;) {
    const std::size_t at = data.size();
    data.resize(at + chunk);
    const std::size_t n = reader.read(data.data() + at, chunk);
    data.resize(at + n);
    if (n == 0) break;
  }
  reader.check_complete();
  return data;
}

std::vector<std::uint8_t> read_head(const std::string& path, std::size_t bytes) {
  GzReader reader(path);
  std::vector<std::uint8_t> head(bytes);
  std::size_t at = 0;
  while (at < bytes) {
    const std::size_t n = reader.read(head.data() + at, bytes - at);
    if (n == 0) break;
    at += n;
  }
  head.resize(at);
  return head;
}

std::uint64_t data_size(const std::string& path,
                        const std::function<bool(std::uint64_t)>& plausible) {
  const auto trailer = gzip_trailer(path);
  if (!trailer) {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (ec) throw InputError(fmt::format("{}: cannot be read ({})", path, ec.message()));
    return size;
  }
  if (plausible && plausible(*trailer)) return *trailer;
  GzReader reader(path);
  std::vector<std::uint8_t> scratch(chunk);
  std::uint64_t total = 0;
  while (const std::size_t n = reader.read(scratch.data(), chunk)) total += n;
  reader.check_complete();
  return total;
}

}  // namespace datasets

}  // namespace narrow
