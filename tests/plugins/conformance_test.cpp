#define BOOST_TEST_MODULE conformance
// Conformance of every plugin built with narrow: it loads without failures, each registered
// factory builds with its defaults (or names the parameter it needs), parameter schemas are
// well-formed, every dataset takes the kernel's data options, and every search space keeps its
// contract (depth variables come first, references are valid assignments that build valid
// networks, draws under the uniform law give valid networks).
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "narrow/dataset.hpp"
#include "narrow/errors.hpp"
#include "run/loader.hpp"
#include "narrow/metrics.hpp"
#include "narrow/registry.hpp"
#include "narrow/sampler.hpp"
#include "narrow/space.hpp"

using namespace narrow;

BOOST_AUTO_TEST_CASE(every_built_plugin_conforms) {
  Registry reg;
  PluginLoader loader(reg);
  loader.load_path(std::string(std::getenv("NARROW_BUILD_DIR")) + "/lib/narrow/plugins");
  for (const auto& f : loader.failures()) BOOST_ERROR(f.error);
  BOOST_REQUIRE(!reg.all().empty());
  for (const Registration* r : reg.all()) {
    BOOST_TEST_CONTEXT(kind_name(r->kind) << " '" << r->name << "' from " << r->library) {
      BOOST_TEST(!r->plugin.empty());
      BOOST_TEST(!r->plugin_version.empty());
      BOOST_TEST(!r->help.empty());
      std::set<std::string> names;
      for (const auto& p : r->schema) {
        BOOST_TEST(names.insert(p.name).second, "parameter " << p.name << " twice");
        BOOST_TEST(!p.help.empty(), p.name);
        if (p.type == ParamType::choice) {
          const auto& def = std::get<std::string>(p.default_value);
          BOOST_TEST((std::find(p.choices.begin(), p.choices.end(), def) != p.choices.end()),
                     p.name);
        }
        if (p.type == ParamType::integer && p.min && p.max) {
          auto def = double(std::get<std::int64_t>(p.default_value));
          BOOST_TEST((def >= *p.min && def <= *p.max), p.name);
        }
      }
      // A factory builds with its defaults, unless a parameter has no meaningful default (a
      // calibrated device needs its calibration file): then it refuses with an InputError
      // that names that parameter.
      try {
        auto object = reg.create(r->kind, r->name, {});
        BOOST_REQUIRE(object);
      } catch (const InputError& e) {
        const std::string what = e.what();
        const bool names_one = std::any_of(r->schema.begin(), r->schema.end(), [&](const auto& p) {
          return what.find("'" + p.name + "'") != std::string::npos;
        });
        BOOST_TEST(names_one, "built with its defaults, it says: " << what);
      }
      // A dataset takes the options the kernel handles (split, subsets, normalisation).
      if (r->kind == Kind::dataset)
        for (const auto& common : DataOptions::schema())
          BOOST_TEST(names.count(common.name) == 1u, "dataset option " << common.name);
      if (r->kind != Kind::space) continue;
      auto space = reg.create_space(r->name, {});
      const auto& vars = space->variables();
      BOOST_REQUIRE(!vars.empty());
      for (std::size_t i = 0; i < vars.size(); ++i) {
        BOOST_TEST(vars[i].min <= vars[i].max, vars[i].name);
        if (vars[i].kind == Variable::Kind::choice)
          BOOST_TEST(vars[i].max < std::int64_t(vars[i].choices.size()), vars[i].name);
        if (vars[i].depends_on >= 0) BOOST_TEST(std::size_t(vars[i].depends_on) < i, vars[i].name);
      }
      BOOST_TEST(!space->references().empty(), "a space names the model(s) it was built around");
      for (const auto& ref : space->references()) {
        auto a = space->reference(ref);
        space->check_assignment(a);
        auto arch = space->build(a);
        arch.finalize();
        BOOST_TEST(analyse(arch).params > 0, ref);
      }
      Sampler sampler(*space, SamplingLaw::uniform(vars), 1);
      for (std::uint64_t i = 0; i < 500; ++i)
        BOOST_REQUIRE(sampler.draw(i).architecture.finalized());
    }
  }
}
