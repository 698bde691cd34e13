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

/// Every command, in the order `narrow --help` lists them.
const std::vector<Command>& commands();

// One file each, app/<name>_command.cpp.
int cmd_plugins(const std::vector<std::string>& args);
int cmd_describe(const std::vector<std::string>& args);
int cmd_sample(const std::vector<std::string>& args);
int cmd_validate(const std::vector<std::string>& args);
int cmd_run(const std::vector<std::string>& args);
int cmd_train(const std::vector<std::string>& args);
int cmd_evaluate(const std::vector<std::string>& args);
/// Rounds numbers from stdin to a number format.
int cmd_round(const std::vector<std::string>& args);
/// Trained models evaluated in number formats.
int cmd_precision(const std::vector<std::string>& args);
/// Measures architectures on a device and fits a latency model on analytical features.
int cmd_calibrate(const std::vector<std::string>& args);
/// Writes the laws a run learned as a law file.
int cmd_laws(const std::vector<std::string>& args);
/// The best stored model within bounds on its metrics, or a Pareto front of a run.
int cmd_query(const std::vector<std::string>& args);
int cmd_report(const std::vector<std::string>& args);

}  // namespace narrow::cli
