#define BOOST_TEST_MODULE describe_matches_torch
// What `narrow describe --reference R --json` prints equals what LibTorch counts on the module
// built from the printed architecture: parameters, MACs from the real layer shapes, and the
// output shape.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "narrow/architecture.hpp"
#include "engine/builder.hpp"
#include "support/run.hpp"
#include "support/spaces.hpp"

using nlohmann::json;

using narrow::test::torch_macs;

BOOST_AUTO_TEST_CASE(every_reference_matches_libtorch) {
  torch::set_num_threads(1);
  torch::NoGradGuard no_grad;
  // Every space built with narrow, every reference, at the space's default input and at another.
  auto spaces = narrow::test::run_narrow({"plugins", "--json"});
  BOOST_REQUIRE_EQUAL(spaces.exit_code, 0);
  const json plugins = json::parse(spaces.out);
  int checked = 0;
  for (const auto& plugin : plugins) {
    if (plugin["kind"] != "space") continue;
    const std::string space = plugin["name"];
    auto d = narrow::test::run_narrow({"describe", "--space", space, "--json"});
    BOOST_REQUIRE_EQUAL(d.exit_code, 0);
    const json described = json::parse(d.out);
    for (const std::string params : {"classes=10", "input=[1,28,28]"}) {
      for (const auto& ref : described["references"]) {
        const std::string name = ref;
        auto r = narrow::test::run_narrow(
            {"describe", "--space", space, "--param", params, "--reference", name, "--json"});
        BOOST_REQUIRE_MESSAGE(r.exit_code == 0, space << " " << name << ": " << r.err);
        auto j = json::parse(r.out);
        auto arch = narrow::Architecture::from_json(j["architecture"]);
        auto module = narrow::build_module(arch);
        module->eval();
        BOOST_TEST(narrow::count_parameters(*module) == j["metrics"]["params"].get<std::int64_t>(),
                   space << "/" << name << " " << params);
        BOOST_TEST(torch_macs(module, arch) == j["metrics"]["macs"].get<std::int64_t>(),
                   space << "/" << name << " " << params);
        const auto& in = arch.input();
        auto out = module->forward(torch::zeros({1, in.c, in.h, in.w}));
        BOOST_TEST(out.size(1) == arch.classes());
        ++checked;
      }
    }
  }
  BOOST_TEST(checked >= 2 * 11);  // 5 spaces, 11 references
}
