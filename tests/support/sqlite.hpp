#pragma once
// Runs the sqlite3 shell on a results store, as users do, and returns what it prints.
#include <cstdio>
#include <string>

namespace narrow::test {

inline std::string sql(const std::string& db, const std::string& query) {
  const std::string cmd = "sqlite3 -batch '" + db + "' \"" + query + "\" 2>&1";
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[65536];
    std::size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
  }
  return out;
}

}  // namespace narrow::test
