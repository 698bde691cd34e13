// `narrow laws`: the laws a run learned, as law files that experiments read under `laws:`.
#include <algorithm>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "command_support.hpp"
#include "commands.hpp"
#include "narrow/errors.hpp"
#include "narrow/laws.hpp"
#include "narrow/output_file.hpp"
#include "narrow/store.hpp"
#include "run/runs.hpp"

namespace po = boost::program_options;
using nlohmann::json;

namespace narrow::cli {

int cmd_laws(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string run, stage, space, out, only;
  add_help_option(opts);
  opts.add_options()("run", po::value(&run), "run folder (or its results.db)")(
      "stage", po::value(&stage), "only the laws of this stage (default: every stage's)")(
      "space", po::value(&space), "the space whose laws to write (needed when there are several)")(
      "out", po::value(&out), "write the law file here (default: stdout)")(
      "only", po::value(&only),
      "the laws of one run of the store: its id, as `narrow run` names it (e.g. uniform@2); "
      "default: the experiment at its own seed ('') for --stage, every run's without it");
  add_json_option(opts, "list the laws as JSON instead of writing a law file");
  po::positional_options_description pos;
  pos.add("run", 1);
  po::variables_map vm;
  if (!parse(args, opts, vm,
             "narrow laws RUN [--stage STAGE] [--only RUN-ID] [--space NAME] [--out FILE] "
             "[--json]\n\n"
             "Writes the sampling laws a run learned (the genetic_law and spectral strategies\n"
             "store them) as a law file of one space: `NAME: {variable: [low, high], ...}`,\n"
             "each law after a comment saying how it was learned. An experiment reads it with\n"
             "`laws: FILE` under a space built the same way (plugin and parameters).",
             &pos))
    return 0;
  if (run.empty()) throw InputError("laws needs a RUN folder (see narrow laws --help)");
  const std::string db = run_store_path(run);
  auto store = open_store(db);
  if (vm.count("only")) {
    require_run(stored_runs(*store), only, db);
    set_store_scope(*store, only, "");  // reads only: stage "" records no use
  }
  const std::vector<LearnedLaw> laws = stored_laws(*store, stage);
  if (laws.empty())
    throw InputError(stage.empty() ? fmt::format("'{}' holds no learned laws", db)
                                   : fmt::format("stage '{}' of '{}' stored no learned laws (is "
                                                 "it a stage of that run, and did it finish?)",
                                                 stage, db));
  const auto groups = laws_by_space(laws);
  std::vector<std::string> names;
  for (const auto& g : groups) names.push_back(g.first);
  if (vm.count("json")) {
    json list = json::array();
    for (const auto& law : laws) {
      if (!space.empty() && law.space != space) continue;
      json ranges = json::object();
      for (const auto& r : law.ranges) ranges[r.variable] = {r.low, r.high};
      json j{{"space", law.space}, {"name", law.law.name}, {"ranges", ranges}, {"note", law.note}};
      if (law.target)
        j["target"] = {{"metric", law.target->metric}, {"low", law.target->low},
                       {"high", law.target->high}};
      list.push_back(std::move(j));
    }
    print_json(list);
    return 0;
  }
  if (space.empty() && groups.size() > 1)
    throw InputError(fmt::format("the laws are of {} spaces; a law file holds one space's: "
                                 "choose it with --space (spaces: {})",
                                 groups.size(), fmt::join(names, ", ")));
  const std::string chosen = space.empty() ? groups.front().first : space;
  const auto group = std::find_if(groups.begin(), groups.end(),
                                  [&](const auto& g) { return g.first == chosen; });
  if (group == groups.end())
    throw InputError(fmt::format("--space '{}': no learned laws of that space (spaces: {})", chosen,
                                 fmt::join(names, ", ")));
  const std::string text = learned_law_file(group->second, stage);
  if (out.empty()) {
    std::cout << text;
  } else {
    write_output_file(out, text, "law file");
    fmt::print(stderr, "{}: {} laws of space '{}'\n", out, group->second.size(), chosen);
  }
  return 0;
}

}  // namespace narrow::cli
