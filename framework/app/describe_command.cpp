// `narrow describe`: a search space's variables and references, a reference model or an
// architecture file, with their metrics.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "command_support.hpp"
#include "commands.hpp"
#include "narrow/errors.hpp"
#include "narrow/space.hpp"

namespace po = boost::program_options;
using nlohmann::json;

namespace narrow::cli {

namespace {

json variables_json(const SearchSpace& space) {
  json vars = json::array();
  const auto& vs = space.variables();
  for (const auto& v : vs) {
    json j = v.to_json();
    if (v.depends_on >= 0)
      j["depends_on"] = {{"variable", vs[std::size_t(v.depends_on)].name}, {"min", v.depends_min}};
    vars.push_back(std::move(j));
  }
  return vars;
}

}  // namespace

int cmd_describe(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string space_name, reference, arch_file;
  std::vector<std::string> params, paths;
  add_help_option(opts);
  opts.add_options()("space", po::value(&space_name), "search space name")(
      "param", po::value(&params)->composing(), "space parameter NAME=VALUE (repeatable)")(
      "reference", po::value(&reference)->implicit_value(""),
      "show a reference model of the space (default: the first one)")(
      "arch", po::value(&arch_file), "analyse an architecture JSON file instead of a space");
  add_json_option(opts);
  add_plugins_option(opts, paths);
  po::variables_map vm;
  if (!parse(args, opts, vm,
             "narrow describe --space NAME [--param K=V]... [--reference [REF]] [--json]\n"
             "       narrow describe --arch FILE.json [--json]\n\n"
             "Shows a space's variables with their bounds and its reference models, or a\n"
             "reference's architecture with its metrics."))
    return 0;
  const bool as_json = vm.count("json") > 0;

  if (!arch_file.empty()) {
    const Architecture a = read_architecture_file(arch_file);
    auto m = analyse(a);
    if (as_json) {
      print_json(
          json{{"architecture", a.to_json()}, {"hash", a.hash()}, {"metrics", metrics_json(m)}});
    } else {
      fmt::print("{}", architecture_table(a));
      fmt::print("hash {}\n", a.hash());
      print_metrics(m);
    }
    return 0;
  }
  if (space_name.empty())
    throw InputError("describe needs --space NAME or --arch FILE (see narrow describe --help)");
  Registry& reg = load_registry(paths);
  auto space = reg.create_space(space_name, param_map(params));

  if (vm.count("reference")) {
    auto refs = space->references();
    if (reference.empty()) {
      if (refs.empty())
        throw InputError(fmt::format("space '{}' names no reference model", space_name));
      reference = refs.front();
    }
    auto a = space->reference(reference);
    auto arch = space->build(a);
    arch.finalize();
    auto m = analyse(arch);
    if (as_json) {
      print_json(json{{"space", space_name},
                      {"reference", reference},
                      {"assignment", space->assignment_json(a)},
                      {"architecture", arch.to_json()},
                      {"hash", arch.hash()},
                      {"metrics", metrics_json(m)}});
    } else {
      fmt::print("space {}, reference {}\n", space_name, reference);
      fmt::print("{}", architecture_table(arch));
      fmt::print("hash {}\nmetrics:\n", arch.hash());
      print_metrics(m);
    }
    return 0;
  }
  if (as_json) {
    print_json(json{{"space", space_name},
                    {"variables", variables_json(*space)},
                    {"references", space->references()}});
    return 0;
  }
  const auto& vs = space->variables();
  fmt::print("space {}: {} variables\n", space_name, vs.size());
  for (const auto& v : vs) {
    std::string range = v.kind == Variable::Kind::integer
                            ? fmt::format("{}..{}", v.min, v.max)
                            : fmt::format("{{{}}}", fmt::join(v.choices, ", "));
    std::string dep =
        v.depends_on >= 0
            ? fmt::format(" (when {} >= {})", vs[std::size_t(v.depends_on)].name, v.depends_min)
            : "";
    fmt::print("  {:<20} {:<22} {}{}\n", v.name, range, v.help, dep);
  }
  fmt::print("references: {}\n", fmt::join(space->references(), ", "));
  return 0;
}

}  // namespace narrow::cli
