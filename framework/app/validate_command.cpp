// `narrow validate`: checks an experiment file without running it.
#include <iostream>

#include <fmt/format.h>

#include "command_support.hpp"
#include "commands.hpp"
#include "narrow/errors.hpp"

namespace po = boost::program_options;
using nlohmann::json;

namespace narrow::cli {

int cmd_validate(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string file;
  std::vector<std::string> sets, paths;
  std::string seeds;
  add_help_option(opts);
  opts.add_options()("file", po::value(&file), "experiment file")(
      "set", po::value(&sets)->composing(), "override a key: path.to.key=value (repeatable)");
  add_seeds_option(opts, seeds);
  add_json_option(opts, "print the resolved experiment as JSON {\"name\", \"resolved\"}");
  add_plugins_option(opts, paths);
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  if (!parse(args, opts, vm,
             "narrow validate FILE [--set path.to.key=value]... [--json]\n\n"
             "Checks an experiment file without running its stages: keys, plugin names, parameters,\n"
             "laws, constraints and units, and the dataset's files (headers and counts). Prints\n"
             "the resolved experiment (every default filled in, laws expanded) on success; one\n"
             "line FILE:LINE:COLUMN: error: ... otherwise. The plugins the file names under\n"
             "plugins: are loaded, which runs their code: validate only files you trust.",
             &pos))
    return 0;
  if (file.empty())
    throw InputError("validate needs an experiment FILE (see narrow validate --help)");
  add_seeds_set(seeds, sets);
  Registry& reg = load_registry(paths);
  auto x = load_experiment(reg, file, sets);
  if (vm.count("json")) {
    print_json(json{{"name", x.name}, {"file", file}, {"resolved", x.resolved}});
  } else {
    std::cout << x.resolved;
    fmt::print(stderr, "{}: valid ({} spaces, {} stages)\n", file, x.spaces.size(),
               x.stages.size());
  }
  return 0;
}

}  // namespace narrow::cli
