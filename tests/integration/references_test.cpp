#define BOOST_TEST_MODULE references
// `select: references` of the train stage, end to end: the reference models of the sequential
// space shrunk to 4 KiB and 16 KiB of float32 weights and trained on a few hundred
// Fashion-MNIST images (experiments/smoke/references.yaml).
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/files.hpp"
#include "support/run.hpp"
#include "support/sqlite.hpp"

namespace fs = std::filesystem;
using narrow::test::run_narrow;
using narrow::test::source_dir;
using narrow::test::sql;
using narrow::test::work_dir;
using nlohmann::json;
using Args = std::vector<std::string>;

namespace {
std::string smoke() {
  return (fs::path(source_dir()) / "experiments" / "smoke" / "references.yaml").string();
}
bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}
}  // namespace

BOOST_AUTO_TEST_CASE(shrunk_references_fit_their_budgets_and_train) {
  const auto work = work_dir("references");
  const auto out = (work / "run").string();
  auto r = run_narrow(
      Args{"run", smoke(), "--out", out, "--jobs", "1", "--torch-threads", "1", "--json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const json summary = json::parse(r.out)["stages"][0]["summary"];
  const json& refs = summary["references"];
  BOOST_REQUIRE_EQUAL(refs.size(), 4u);
  for (const auto& ref : refs) {
    BOOST_TEST_CONTEXT(ref.dump()) {
      BOOST_TEST(ref["space"] == "seq");
      BOOST_TEST(ref["metric"] == "weight_bytes");
      BOOST_TEST(double(ref["weight_bytes"]) <= double(ref["budget"]));
      BOOST_TEST(ref["value"] == ref["weight_bytes"]);
      BOOST_TEST(double(ref["factor"]) > 0.0);
      BOOST_TEST(double(ref["factor"]) < 1.0);
      BOOST_TEST(ref["status"] == "ok");
      BOOST_TEST(double(ref["val_accuracy"]) > 0.0);
      BOOST_TEST(double(ref["test_accuracy"]) > 0.0);
    }
  }
  // One line per shrunk reference.
  for (const char* line : {"references: seq/fig1@4KiB: factor", "references: seq/fig1@16KiB: factor",
                           "references: seq/lenet5@4KiB: factor",
                           "references: seq/lenet5@16KiB: factor"})
    BOOST_TEST(has(r.err, line), line << "\n" << r.err);

  const auto db = out + "/results.db";
  BOOST_TEST(sql(db, "SELECT COUNT(*) FROM records WHERE kind='train.reference';") == "4\n");
  // Every record names a stored architecture within its budget and the training of it.
  BOOST_TEST(sql(db,
                 "SELECT COUNT(*) FROM records r JOIN architectures a ON a.hash = "
                 "json_extract(r.data, '$.hash') JOIN trainings t ON t.key = json_extract(r.data, "
                 "'$.training') AND t.hash = a.hash WHERE r.kind = 'train.reference' AND "
                 "a.weight_bytes <= json_extract(r.data, '$.budget') AND a.weight_bytes = "
                 "json_extract(r.data, '$.value');") == "4\n");
  BOOST_TEST(sql(db,
                 "SELECT json_extract(data, '$.reference') || '@' || json_extract(data, "
                 "'$.budget') FROM records WHERE kind='train.reference' ORDER BY rowid;") ==
             "fig1@4096\nfig1@16384\nlenet5@4096\nlenet5@16384\n");
  BOOST_TEST(sql(db, "SELECT COUNT(*) FROM trainings WHERE epochs = 1;") == "4\n");

  // A resumed run redoes nothing and stores no record twice.
  auto again = run_narrow(Args{"run", smoke(), "--out", out, "--resume", "--jobs", "1",
                               "--torch-threads", "1"});
  BOOST_REQUIRE_MESSAGE(again.exit_code == 0, again.err);
  BOOST_TEST(has(again.err, "0 to train, 4 trained before"), again.err);
  BOOST_TEST(sql(db, "SELECT COUNT(*) FROM records WHERE kind='train.reference';") == "4\n");
}

BOOST_AUTO_TEST_CASE(a_bad_budget_is_refused_where_it_is_written) {
  const auto file = (fs::path(source_dir()) / "tests" / "fixtures" / "bad_experiments" /
                     "train_references_bad_budget.yaml")
                        .string();
  auto r = run_narrow(Args{"validate", file});
  BOOST_TEST(r.exit_code == 2, r.err);
  BOOST_TEST(r.out.empty(), r.out);
  BOOST_TEST(r.err.rfind(file + ":8:47: error: ", 0) == 0u, r.err);
  BOOST_TEST(has(r.err, "parameter 'budgets'"), r.err);

  // A budget of the wrong kind for the metric, and budgets with another selection.
  const auto work = work_dir("references_bad");
  auto write = [&](const std::string& name, const std::string& params) {
    const auto path = (work / name).string();
    std::ofstream(path) << "name: x\nseed: 1\nspaces:\n  - plugin: sequential\nstages:\n"
                           "  - strategy: train\n    parameters: "
                        << params << "\n";
    return path;
  };
  auto count = run_narrow(
      Args{"validate", write("count.yaml", "{select: references, budgets: [4KiB], metric: params}")});
  BOOST_TEST(count.exit_code == 2, count.err);
  BOOST_TEST(has(count.err, "'4KiB' is a size, not a count (write a list like 1k,5k)"), count.err);
  auto other = run_narrow(Args{"validate", write("other.yaml", "{select: all, budgets: [4KiB]}")});
  BOOST_TEST(other.exit_code == 2, other.err);
  BOOST_TEST(has(other.err, "only 'select: references' and 'select: grid' use 'budgets' (select is 'all')"),
             other.err);
  auto none = run_narrow(Args{"validate", write("none.yaml", "{select: references}")});
  BOOST_TEST(none.exit_code == 2, none.err);
  BOOST_TEST(has(none.err, "parameter 'budgets': needs at least one value"), none.err);
  auto space = run_narrow(Args{"validate", write("space.yaml",
                                                 "{select: references, budgets: [4KiB], "
                                                 "spaces: resnet}")});
  BOOST_TEST(space.exit_code == 2, space.err);
  BOOST_TEST(has(space.err, "'resnet' is not a space of the experiment"), space.err);
}

BOOST_AUTO_TEST_CASE(budgets_below_the_smallest_model_are_skipped_and_unknown_references_refused) {
  const auto work = work_dir("references_skip");
  auto write = [&](const std::string& name, const std::string& params) {
    const auto path = (work / name).string();
    std::ofstream(path) << "name: x\nseed: 1\ndataset: {name: idx, parameters: {train_size: 100, "
                           "test_size: 50}}\nspaces:\n  - {name: seq, plugin: sequential}\n"
                           "stages:\n  - name: refs\n    strategy: train\n    parameters: "
                        << params << "\n";
    return path;
  };
  auto r = run_narrow(Args{"run",
                           write("skip.yaml", "{select: references, references: lenet5, budgets: "
                                              "[16B, 4KiB], iterations: 1}"),
                           "--out", (work / "skip").string(), "--jobs", "1", "--torch-threads",
                           "1", "--json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  BOOST_TEST(has(r.err, "refs: seq/lenet5@16B skipped: even every width 1 has weight_bytes "), r.err);
  BOOST_TEST(has(r.err, "refs: seq/lenet5@4KiB: factor "), r.err);
  BOOST_TEST(json::parse(r.out)["stages"][0]["summary"]["references"].size() == 1u);
  // Nothing fits: the stage fails.
  auto none = run_narrow(Args{"run", write("none.yaml", "{select: references, budgets: [16B], "
                                                        "iterations: 1}"),
                              "--out", (work / "none").string()});
  BOOST_TEST(none.exit_code == 1, none.err);
  BOOST_TEST(has(none.err, "no reference fits any of the budgets 16B"), none.err);
  // A reference that no space has: refused when the experiment is validated, at the
  // parameter, before any work (the run would start with the stage's trainings).
  auto unknown = run_narrow(Args{"run", write("unknown.yaml", "{select: references, references: "
                                                              "alexnet, budgets: [4KiB], "
                                                              "iterations: 1}"),
                                 "--out", (work / "unknown").string()});
  BOOST_TEST(unknown.exit_code == 2, unknown.err);
  BOOST_TEST(has(unknown.err, "unknown.yaml:9:"), unknown.err);
  BOOST_TEST(has(unknown.err, "'alexnet' is not a reference of the spaces it shrinks "
                              "(references: fig1, lenet5, vgg_small)"),
             unknown.err);
  BOOST_TEST(!std::filesystem::exists(work / "unknown" / "results.db"));
  // A named reference that the space's parameters cannot hold, refused at validation too.
  const auto narrow_space = (work / "narrow_space.yaml").string();
  std::ofstream(narrow_space) << "name: x\nseed: 1\nspaces:\n  - {name: seq, plugin: sequential, "
                                 "parameters: {min_units: 100}}\nstages:\n  - name: refs\n"
                                 "    strategy: train\n    parameters: {select: references, "
                                 "references: lenet5, budgets: [4KiB]}\n";
  auto held = run_narrow(Args{"validate", narrow_space});
  BOOST_TEST(held.exit_code == 2, held.err);
  BOOST_TEST(has(held.err, "narrow_space.yaml:8:"), held.err);
  BOOST_TEST(has(held.err, "'lenet5' cannot be built in space 'seq': reference 'lenet5' needs "
                           "min_units <= 84 (this space has 100)"),
             held.err);
}
