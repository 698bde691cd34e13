// The `narrow` program: parses the command name and dispatches. Every error is caught here
// and printed as one line; exit codes: 0 success, 1 the work failed, 2 bad usage or input.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <boost/program_options/errors.hpp>

#include "commands.hpp"
#include "narrow/config.hpp"
#include "narrow/errors.hpp"

namespace {

void usage(std::FILE* to) {
  fmt::print(to,
             "narrow {}: hardware-constrained neural architecture search for IoT devices\n\n"
             "usage: narrow <command> [options]   (narrow <command> --help for its options)\n\n"
             "commands:\n",
             NARROW_VERSION);
  for (const auto& c : narrow::cli::commands()) fmt::print(to, "  {:<10} {}\n", c.name, c.summary);
  fmt::print(to,
             "\nexit codes: 0 success, 1 the work failed, 2 bad usage or bad input\n"
             "environment: NARROW_PLUGIN_PATH (extra plugin folders, ':'-separated),\n"
             "             NARROW_PROGRESS=off (no progress lines on stderr)\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    usage(stderr);
    return 2;
  }
  const std::string name = args.front();
  if (name == "--help" || name == "-h" || name == "help") {
    usage(stdout);
    return 0;
  }
  if (name == "--version") {
    fmt::print("narrow {}\n", NARROW_VERSION);
    return 0;
  }
  args.erase(args.begin());
  try {
    for (const auto& c : narrow::cli::commands())
      if (name == c.name) return c.run(args);
    std::string names;
    for (const auto& c : narrow::cli::commands())
      names += std::string(names.empty() ? "" : ", ") + c.name;
    fmt::print(stderr, "narrow: error: unknown command '{}' (valid: {})\n", name, names);
    return 2;
  } catch (const narrow::InputError& e) {
    if (e.where().empty()) {
      fmt::print(stderr, "narrow {}: error: {}\n", name, e.what());
    } else {
      fmt::print(stderr, "{}\n", e.what());
    }
    return e.exit_code();
  } catch (const narrow::Error& e) {
    fmt::print(stderr, "narrow {}: error: {}\n", name, e.what());
    return e.exit_code();
  } catch (const boost::program_options::error& e) {
    fmt::print(stderr, "narrow {}: error: {} (see narrow {} --help)\n", name, e.what(), name);
    return 2;
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "narrow {}: error: out of memory\n", name);
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "narrow {}: error: {}\n", name, e.what());
    return 1;
  }
}
