#pragma once
// What the benchmark programs share: reading the command line, loading the plugins, and
// turning errors into one line and an exit code (2 for bad usage, as the narrow program does).
#include <exception>
#include <functional>
#include <iostream>
#include <optional>
#include <string>

#include <boost/program_options.hpp>

#include "narrow/errors.hpp"
#include "run/loader.hpp"

namespace narrow::bench {

/// Reads the command line against `options`, then runs `check` (which throws InputError for a
/// bad value). --help prints the options and gives 0; a bad option gives 2 and a bad value its
/// error's exit code, each after one line "PROGRAM: error: ...". std::nullopt: go on.
inline std::optional<int> read_options(const char* program, int argc, char** argv,
                                       const boost::program_options::options_description& options,
                                       const std::function<void()>& check = {}) {
  namespace po = boost::program_options;
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, options), vm);
    if (vm.count("help")) {
      std::cout << options << "\n";
      return 0;
    }
    po::notify(vm);
    if (check) check();
  } catch (const po::error& e) {
    std::cerr << program << ": error: " << e.what() << "\n";
    return 2;
  } catch (const Error& e) {
    std::cerr << program << ": error: " << e.what() << "\n";
    return e.exit_code();
  }
  return std::nullopt;
}

/// Loads the plugins of `dir`, or of the build's (or install's) plugin folder when it is empty;
/// a library that does not load is a warning.
inline void load_plugins(PluginLoader& loader, const std::string& dir) {
  if (dir.empty())
    loader.load_defaults();
  else
    loader.load_path(dir);
  for (const auto& f : loader.failures()) std::cerr << "warning: " << f.error << "\n";
}

/// Runs a benchmark's body: a narrow Error prints "PROGRAM: error: ..." and gives its exit
/// code, any other exception the same line and 1.
inline int guarded(const char* program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const Error& e) {
    std::cerr << program << ": error: " << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << program << ": error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace narrow::bench
