#pragma once
#include <string>
#include <vector>

namespace narrow::cli {

/// One subcommand: its name, a one-line summary and its entry point. Arguments exclude the
/// program and command names. Returns the exit code; throws narrow errors for bad input.
struct Command {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};

const std::vector<Command>& commands();

}  // namespace narrow::cli
