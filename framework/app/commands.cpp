// The commands of the `narrow` program; each lives in app/<name>_command.cpp.
#include "commands.hpp"

namespace narrow::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> list{
      {"plugins", "list the plugins found, with their parameters", &cmd_plugins},
      {"describe", "show a search space, a reference model or an architecture file", &cmd_describe},
      {"sample", "draw and analyse architectures of a space", &cmd_sample},
      {"validate", "check an experiment file without running it", &cmd_validate},
      {"run", "run an experiment's stages into a results store", &cmd_run},
      {"train", "train and evaluate one model (LibTorch, this machine)", &cmd_train},
      {"evaluate", "evaluate trained weights on the validation and test sets", &cmd_evaluate},
      {"round", "round numbers from stdin to a number format", &cmd_round},
      {"precision", "accuracy of trained models in reduced-precision number formats",
       &cmd_precision},
      {"calibrate", "measure latency on a device and fit a latency model", &cmd_calibrate},
      {"laws", "write the sampling laws a run learned as a law file", &cmd_laws},
      {"query", "the best stored model within bounds on its metrics, or a Pareto front",
       &cmd_query},
      {"report", "tables, plots and one HTML page of a run's results", &cmd_report},
  };
  return list;
}

}  // namespace narrow::cli
