#pragma once
// Folders for tests' files.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>

namespace narrow::test {

/// A fresh folder for one test case, under the build folder when known, removed afterwards
/// (with its permissions restored first, for tests that make it read-only).
struct TempDir {
  std::filesystem::path dir;
  explicit TempDir(const std::string& prefix) {
    namespace fs = std::filesystem;
    const char* build = std::getenv("NARROW_BUILD_DIR");
    const fs::path base = build && *build ? fs::path(build) / "tmp" : fs::temp_directory_path();
    std::random_device rd;
    dir = base / (prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(dir);
  }
  ~TempDir() {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(dir, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (dir / name).string(); }
};

/// An empty folder $NARROW_BUILD_DIR/tests/NAME for an integration test, kept afterwards so
/// that its runs can be looked at.
inline std::filesystem::path work_dir(const std::string& name) {
  namespace fs = std::filesystem;
  const char* build = std::getenv("NARROW_BUILD_DIR");
  const fs::path dir = fs::path(build ? build : ".") / "tests" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace narrow::test
