#pragma once
#include <map>
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

/// `--param NAME=VALUE` options as a map; InputError for an entry without a name and '='.
std::map<std::string, std::string> param_map(const std::vector<std::string>& kvs);

/// `narrow round` (app/round.cpp): rounds numbers from stdin to a number format.
int cmd_round(const std::vector<std::string>& args);

/// `narrow precision` (app/precision.cpp): trained models evaluated in number formats.
int cmd_precision(const std::vector<std::string>& args);

/// `narrow calibrate` (app/calibrate.cpp): measures architectures on a device and fits a latency
/// model on analytical features.
int cmd_calibrate(const std::vector<std::string>& args);

}  // namespace narrow::cli
