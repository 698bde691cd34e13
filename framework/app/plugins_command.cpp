// `narrow plugins`: lists the plugins found, with their parameters.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "command_support.hpp"
#include "commands.hpp"

namespace po = boost::program_options;
using nlohmann::json;

namespace narrow::cli {

int cmd_plugins(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::vector<std::string> paths;
  add_help_option(opts);
  add_json_option(opts, "print a JSON array on stdout: kind, name, version, library, parameters");
  add_plugins_option(opts, paths, "also load plugins from this folder or file (repeatable)");
  po::variables_map vm;
  if (!parse(args, opts, vm,
             "narrow plugins [--json] [--plugins PATH]...\n\n"
             "Lists every plugin found: in the plugin folder of this narrow, in\n"
             "NARROW_PLUGIN_PATH and in the --plugins paths. Libraries that cannot\n"
             "be used are reported on stderr, one line each."))
    return 0;
  Registry& reg = load_registry(paths);
  if (vm.count("json")) {
    json out = json::array();
    for (const Registration* r : reg.all()) {
      json params = json::array();
      for (const auto& p : r->schema) params.push_back(p.to_json());
      out.push_back({{"kind", std::string(kind_name(r->kind))},
                     {"name", r->name},
                     {"version", r->plugin_version},
                     {"plugin", r->plugin},
                     {"library", r->library},
                     {"help", r->help},
                     {"parameters", params}});
    }
    print_json(out);
    return 0;
  }
  auto all = reg.all();
  if (all.empty())
    fmt::print("no plugins found (looked in: {})\n",
               fmt::join(PluginLoader::default_paths(), ", "));
  for (const Registration* r : all) {
    fmt::print("{} {} {} — {}\n  library: {}\n", kind_name(r->kind), r->name, r->plugin_version,
               r->help, r->library);
    for (const auto& p : r->schema) {
      std::string allowed = p.allowed().empty() ? "" : " (" + p.allowed() + ")";
      fmt::print("    {:<18} {:<9} default {}{}: {}\n", p.name, param_type_name(p.type),
                 to_string(p.default_value), allowed, p.help);
    }
  }
  return 0;
}

}  // namespace narrow::cli
