#pragma once
// The whole text of a file a test reads back (a CSV, a law file, a log).
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace narrow::test {

/// The contents of `path`; throws (the test case fails, naming the file) when it cannot be
/// read, so that a missing file never passes for an empty one.
inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace narrow::test
