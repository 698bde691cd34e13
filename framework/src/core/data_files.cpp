// The file helpers of the plugin SDK (narrow/data_files.hpp): dataset plugins read their
// files through them, raw or gzipped, with errors that name the file.
#include "narrow/data_files.hpp"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
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

/// How many bytes a file gives when read: its size, or for gzip data the size its trailer
/// records (modulo 2^32, so only a hint). 0 when unknown.
std::size_t size_hint(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return 0;
  const auto size = std::streamoff(in.tellg());
  unsigned char head[2] = {0, 0}, tail[4] = {0, 0, 0, 0};
  in.seekg(0);
  if (size < 18 || !in.read(reinterpret_cast<char*>(head), 2) || head[0] != 0x1f || head[1] != 0x8b)
    return size > 0 ? std::size_t(size) : 0;
  in.seekg(size - 4);
  if (!in.read(reinterpret_cast<char*>(tail), 4)) return 0;
  return std::size_t(tail[0]) | std::size_t(tail[1]) << 8 | std::size_t(tail[2]) << 16 |
         std::size_t(tail[3]) << 24;
}

}  // namespace

std::vector<std::uint8_t> read_file(const std::string& path) {
  const std::size_t hint = size_hint(path);
  errno = 0;
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f)
    throw InputError(fmt::format("{}: cannot be opened ({})", path,
                                 errno ? std::strerror(errno) : "out of memory"));
  struct Closer {
    gzFile f;
    ~Closer() { gzclose(f); }
  } closer{f};
  gzbuffer(f, 1u << 17);
  constexpr std::size_t chunk = std::size_t(1) << 22;
  std::vector<std::uint8_t> data;
  data.reserve(hint + chunk);  // no reallocation when the hint is right
  for (;;) {
    const std::size_t at = data.size();
    data.resize(at + chunk);
    const int n = gzread(f, data.data() + at, unsigned(chunk));
    if (n < 0) {
      int code = 0;
      const char* z = gzerror(f, &code);
      std::string msg = code == Z_ERRNO ? std::strerror(errno) : (z ? z : "unknown zlib error");
      // zlib's message starts with the path again.
      if (msg.starts_with(path + ": ")) msg = msg.substr(path.size() + 2);
      throw InputError(fmt::format("{}: cannot be read: {}{}", path, msg,
                                   code == Z_DATA_ERROR ? " (damaged gzip data)" : ""));
    }
    data.resize(at + std::size_t(n));
    if (n == 0) break;
  }
  int code = Z_OK;
  gzerror(f, &code);
  if (code == Z_BUF_ERROR)
    throw InputError(fmt::format(
        "{}: truncated gzip data (the compressed stream ends early); expected a whole gzip file",
        path));
  if (code != Z_OK) throw InputError(fmt::format("{}: cannot be read (zlib error {})", path, code));
  return data;
}

}  // namespace datasets

}  // namespace narrow
