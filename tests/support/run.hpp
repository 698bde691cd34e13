#pragma once
// Helpers for tests that run the `narrow` program and look at what it prints.
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <boost/process.hpp>

namespace narrow::test {

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

inline std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

inline std::string source_dir() {
  return env("NARROW_SOURCE_DIR");
}
inline std::string build_dir() {
  return env("NARROW_BUILD_DIR");
}

/// Runs `narrow args...` with extra environment entries ("NAME=value") and captures output.
inline RunResult run_narrow(const std::vector<std::string>& args,
                            const std::vector<std::string>& extra_env = {}) {
  namespace bp = boost::process;
  bp::ipstream out, err;
  auto e = boost::this_process::environment();
  bp::environment child_env = e;
  for (const auto& kv : extra_env) {
    auto eq = kv.find('=');
    child_env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  bp::child c(env("NARROW_EXE"), bp::args(args), bp::std_out > out, bp::std_err > err, child_env);
  RunResult r;
  std::string line;
  // Read both pipes fully; stderr first would block on a full stdout, so drain with threads.
  std::string o, e2;
  std::thread t([&] {
    std::string l;
    while (std::getline(err, l)) e2 += l + "\n";
  });
  while (std::getline(out, line)) o += line + "\n";
  t.join();
  c.wait();
  r.exit_code = c.exit_code();
  r.out = std::move(o);
  r.err = std::move(e2);
  return r;
}

}  // namespace narrow::test
