#pragma once
// Runs the sqlite3 shell on a results store, as users do, and returns what it prints. A query
// that fails (sqlite3 exits with a status other than 0, or writes to stderr) throws, so that
// the test fails: two stores compared with a query that fails on both must not compare equal.
#include <stdexcept>
#include <string>
#include <thread>

#include <boost/process.hpp>

namespace narrow::test {

inline std::string sql(const std::string& db, const std::string& query) {
  namespace bp = boost::process;
  const auto shell = bp::search_path("sqlite3");
  if (shell.empty()) throw std::runtime_error("the sqlite3 shell is not on PATH");
  bp::ipstream out, err;
  bp::child c(shell, bp::args({"-batch", db, query}), bp::std_out > out, bp::std_err > err,
              bp::std_in < bp::null);
  std::string o, e;
  std::thread drain([&] {
    std::string line;
    while (std::getline(err, line)) e += line + "\n";
  });
  std::string line;
  while (std::getline(out, line)) o += line + "\n";
  drain.join();
  c.wait();
  if (c.exit_code() != 0 || !e.empty())
    throw std::runtime_error("sqlite3 " + db + " \"" + query + "\" failed (exit status " +
                             std::to_string(c.exit_code()) + "): " + e);
  return o;
}

}  // namespace narrow::test
