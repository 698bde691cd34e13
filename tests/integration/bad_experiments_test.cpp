#define BOOST_TEST_MODULE bad_experiments
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/run.hpp"

// Every file tests/fixtures/bad_experiments/*.yaml is an experiment with exactly one problem.
// `narrow validate FILE` must refuse it with exit code 2, nothing on stdout and exactly one
// line on stderr: FILE:LINE:COLUMN: error: MESSAGE. The table below says where and what.

namespace fs = std::filesystem;
namespace bdata = boost::unit_test::data;
using narrow::test::run_narrow;

namespace {

struct Bad {
  const char* file;      // the experiment, in tests/fixtures/bad_experiments
  const char* reported;  // the file the error is in when it is not the experiment (a law file)
  int line;
  int column;            // 0: not checked
  const char* fragment;  // part of the message
};

// clang-format off
const Bad bad_experiments[] = {
    {"yaml_syntax_error.yaml",              nullptr, 7, 48, "YAML syntax"},
    {"unknown_top_level_key.yaml",          nullptr, 6, 1,  "unknown key 'budget' in the experiment (allowed: ablation, constraints, dataset, device, formats, name, plugins, seed, seeds, spaces, stages)"},
    {"missing_name.yaml",                   nullptr, 1, 0,  "needs 'name'"},
    {"missing_seed.yaml",                   nullptr, 1, 0,  "needs 'seed'"},
    {"missing_spaces.yaml",                 nullptr, 1, 0,  "needs 'spaces'"},
    {"missing_stages.yaml",                 nullptr, 1, 0,  "needs 'stages'"},
    {"bad_name.yaml",                       nullptr, 2, 7,  "'my experiment!' is not a valid name"},
    {"negative_seed.yaml",                  nullptr, 3, 7,  "'seed' must be an integer"},
    {"non_integer_seed.yaml",               nullptr, 3, 7,  "'seed' must be an integer"},
    {"unknown_space_plugin.yaml",           nullptr, 6, 13, "unknown space 'resnt' (valid: densenet, inception, mobilenet, resnet, sequential)"},
    {"unknown_strategy.yaml",               nullptr, 8, 15, "unknown strategy 'grid' (valid: dnas, genetic_law, monte_carlo, precision, random, spectral, statistics, train)"},
    {"unknown_space_parameter.yaml",        nullptr, 8, 7,  "unknown parameter 'depth' of space 'sequential' (valid: classes, input, max_conv_layers, max_fc_layers, max_filters, max_units, min_units)"},
    {"space_parameter_wrong_type.yaml",     nullptr, 7, 16,  "'ten' is not an integer"},
    {"space_parameter_out_of_range.yaml",   nullptr, 8, 24,  "65 is out of range (allowed 1..64)"},
    {"space_parameters_not_a_mapping.yaml", nullptr, 6, 17, "'parameters' must be a mapping"},
    {"space_without_plugin.yaml",           nullptr, 5, 0,  "needs 'plugin'"},
    {"unknown_key_in_space.yaml",           nullptr, 6, 5,  "unknown key 'law' in a space (allowed: laws, name, parameters, plugin)"},
    {"duplicate_space_name.yaml",           nullptr, 7, 11, "space name 'seq' is used twice"},
    {"law_unknown_variable.yaml",           nullptr, 10, 9, "unknown variable 'conv3.filters'"},
    {"law_low_above_high.yaml",             nullptr, 9, 24, "'conv1.filters' has low 16 > high 4"},
    {"law_outside_bounds.yaml",             nullptr, 9, 22, "range [2, 6] is outside its bounds [1, 4]"},
    {"law_unknown_choice.yaml",             nullptr, 8, 31, "'full' is not a choice of 'conv1.padding' (choices: same, valid)"},
    {"law_file_missing.yaml",               nullptr, 7, 14, "laws/no_such_law.yaml"},
    {"law_file_is_a_folder.yaml",           nullptr, 8, 14, "laws"},
    {"law_file_yaml_error.yaml",            "laws/yaml_error.yaml", 3, 22, "YAML syntax"},
    {"law_file_unknown_variable.yaml",      "laws/unknown_variable.yaml", 3, 1, "unknown variable 'conv1.filter'"},
    {"duplicate_law_name.yaml",             nullptr, 8, 7,  "'small'"},
    {"constraint_unknown_metric.yaml",      nullptr, 7, 3,  "unknown metric 'weights' (valid: activation_peak_bytes, fits, flops, latency, layers, macs, memory_eq6_bytes, params, weight_bytes)"},
    {"constraint_bad_unit.yaml",            nullptr, 7, 17, "unknown unit 'KiX'"},
    {"constraint_size_unit_on_count.yaml",  nullptr, 7, 11, "'params' is a count, but '2MB' is a size"},
    {"constraint_latency.yaml",             nullptr, 8, 3,  "'latency' constraints need a 'device' that predicts latency"},
    {"constraint_latency_measuring_device.yaml", nullptr, 9, 3, "'latency' constraints need a device that predicts latency; 'host' only measures"},
    {"constraint_fits_without_device.yaml", nullptr, 7, 3,  "'fits: device' needs a 'device'"},
    {"constraint_fits_unknown_flash.yaml",  nullptr, 10, 9, "device 'analytic' does not know its flash size"},
    {"unknown_dataset.yaml",                nullptr, 5, 9,  "unknown dataset 'fashion_mnist' (valid: cifar, idx, synthetic)"},
    {"dataset_parameter_out_of_range.yaml", nullptr, 6, 28, "parameter 'validation' of dataset 'idx': 0.9 is out of range"},
    {"dataset_folder_missing.yaml",         nullptr, 6, 22, "/nonexistent/narrow-test/fashion-mnist: folder does not exist (parameter 'path' of dataset 'idx')"},
    {"dataset_train_size_too_large.yaml",   nullptr, 8, 28, "dataset 'synthetic': train_size 450 with its validation set of 50 images needs 500 training images; the training set has 480 (allowed: train_size up to 432 with validation 0.1, or 0 for all)"},
    {"dataset_test_size_too_large.yaml",    nullptr, 9, 16, "dataset 'synthetic': test_size 200 is larger than the test set (120 images; allowed: test_size up to 120, or 0 for all)"},
    {"dataset_validation_leaves_nothing.yaml", nullptr, 6, 38, "dataset 'synthetic': validation 0.5 leaves no training images (the training set has 1)"},
    {"device_calibration_missing.yaml",     nullptr, 6, 29, "device 'calibrated': cannot read calibration file '/nonexistent/narrow-test/host.json'"},
    {"device_description_is_a_folder.yaml", nullptr, 7, 18, "device description '/usr' is a folder; expected a YAML file"},
    {"train_without_epochs.yaml",           nullptr, 8, 15, "strategy 'train': training needs 'epochs' > 0 or 'iterations' > 0"},
    {"unknown_format.yaml",                 nullptr, 7, 11, "unknown format 'ieee754' (valid: bfloat16, e4m3, e5m2, fixed, half, ieee, int8, tf32)"},
    {"format_parameter_out_of_range.yaml",  nullptr, 8, 21, "parameter 'w' of format 'ieee': 9 is out of range"},
    {"format_range_out_of_range.yaml",      nullptr, 7, 5,  "parameter 'w' of format 'ieee': 0 is out of range"},
    {"format_bad_range.yaml",               nullptr, 8, 21, "format parameter 'm': '1..x' is not a range LOW..HIGH of integers"},
    {"format_listed_twice.yaml",            nullptr, 8, 5,  "is listed twice (first on line 7)"},
    {"unknown_format_text.yaml",            nullptr, 7, 5,  "unknown format 'ieee754' (valid: bfloat16, e4m3, e5m2, fixed, half, ieee, int8, tf32)"},
    {"plugin_path_missing.yaml",            nullptr, 5, 5,  "no_such_plugin_folder' does not exist"},
    {"empty_stages.yaml",                   nullptr, 6, 9,  "'stages' must be a non-empty list"},
    {"stages_without_value.yaml",           nullptr, 4, 0,  "'stages' must be a non-empty list"},
    {"duplicate_stage_name.yaml",           nullptr, 9, 11, "stage name 'sample' is used twice"},
    {"strategy_parameter_out_of_range.yaml", nullptr, 10, 16, "parameter 'per_law' of strategy 'random': 0 is out of range"},
    {"monte_carlo_ensemble_above_full.yaml", nullptr, 9, 37, "parameter 'ensemble': an ensemble of 5 needs as many fully trained samples ('full' is 4)"},
    {"monte_carlo_ensemble_without_weights.yaml", nullptr, 9, 28, "parameter 'ensemble': an ensemble needs the members' weights: keep_weights must be true"},
    {"monte_carlo_vote_without_ensemble.yaml", nullptr, 9, 24, "parameter 'vote': 'vote' decides an ensemble: give 'ensemble' too"},
    {"monte_carlo_batch_of_one.yaml",      nullptr, 9, 28, "parameter 'dispatch': 'dispatch: batch' decides 'workers' samples together: give workers >= 2"},
    {"monte_carlo_parents_without_moves.yaml", nullptr, 9, 41, "parameter 'parents': 'parents' are where moves start, and 'moves' is false"},
    {"monte_carlo_bound_metrics_without_bounds_from.yaml", nullptr, 9, 33, "parameter 'bound_metrics': 'bound_metrics' needs 'bounds_from'"},
    {"monte_carlo_bounds_from_not_monte_carlo.yaml", nullptr, 11, 31, "parameter 'bounds_from': 'sample' is not a 'monte_carlo' stage before 'search' (such stages before it: none)"},
    {"monte_carlo_fraction_without_bounds_from.yaml", nullptr, 9, 28, "parameter 'fraction': 'fraction' needs 'bounds_from'"},
    {"monte_carlo_unknown_bound_metric.yaml", nullptr, 11, 53, "parameter 'bound_metrics': unknown metric 'memory' (valid: params, macs, flops, weight_bytes, memory_eq6_bytes, activation_peak_bytes, layers)"},
    {"monte_carlo_unknown_regularizer.yaml", nullptr, 9, 31, "'weights' is not one of the choices (params, macs, flops, weight_bytes, memory_eq6_bytes, activation_peak_bytes, layers)"},
    {"dnas_unknown_target.yaml",          nullptr, 9, 42, "parameter 'targets': unknown cost 'memory' (valid: params, macs, flops, weight_bytes, memory_eq6_bytes, activation_peak_bytes, deployed_bytes, latency)"},
    {"dnas_percentage_out_of_range.yaml", nullptr, 9, 42, "'deployed_bytes: 120%': a percentage of the seed must be above 0 and below 100"},
    {"dnas_target_of_another_dimension.yaml", nullptr, 9, 42, "'params: 16KiB' is a size, and params is a count"},
    {"dnas_latency_without_device.yaml",  nullptr, 9, 42, "a latency target needs the experiment's device to predict latency"},
    {"dnas_seed_not_a_reference.yaml",    nullptr, 9, 24, "'resnet9' is not a reference of space 'resnet' (valid: resnet8, resnet20, resnet56)"},
    {"dnas_seed_file_missing.yaml",       nullptr, 9, 29, "parameter 'seed_file': cannot read 'no_such_seed.json'"},
    {"dnas_without_seed.yaml",            nullptr, 8, 15, "give the seed network once"},
    {"dnas_unknown_format.yaml",          nullptr, 9, 73, "parameter 'format': unknown format 'int9' (valid: bfloat16, e4m3, e5m2, fixed, half, ieee, int8, tf32)"},
    {"dnas_without_targets.yaml",         nullptr, 8, 15, "parameter 'targets': give at least one target"},
    {"monte_carlo_unknown_space.yaml",     nullptr, 9, 25, "parameter 'space': 'resnet' is not a space of the experiment (spaces: sequential)"},
    {"random_laws_not_an_earlier_stage.yaml", nullptr, 9, 37, "stage 'sample' (strategy 'random'): parameter 'laws': 'later' is not a stage before 'sample' (earlier stages: none)"},
    {"statistics_unknown_space.yaml",       nullptr, 10, 15, "stage 'stats' (strategy 'statistics'): parameter 'spaces': 'resnet' is not a space of the experiment (spaces: sequential)"},
    {"statistics_bad_range.yaml",           nullptr, 9, 38, "parameter 'range': [7, 3] must be two decades [A, B] with A < B"},
    {"duplicate_key.yaml",                  nullptr, 6, 1,  "'seed'"},
    {"ablation_not_a_list.yaml",            nullptr, 9, 3,  "'ablation' must be a list"},
    {"ablation_variant_without_name.yaml",  nullptr, 11, 5, "needs 'name'"},
    {"ablation_path_past_the_list.yaml",    nullptr, 11, 11, "ablation variant 'longer': '1' in 'stages.1.parameters.per_law': a list index 0..0 is needed here"},
    {"ablation_unknown_strategy.yaml",      nullptr, 12, 26, "ablation variant 'other': unknown strategy 'nonesuch' (valid: "},
    {"ablation_unknown_parameter.yaml",     nullptr, 11, 11, "ablation variant 'typo': unknown parameter 'per_lw' of strategy 'random' (valid: batch, laws, max_rejections, per_law)"},
    {"ablation_sets_the_seed.yaml",         nullptr, 11, 11, "a variant cannot set 'seed'"},
    {"ablation_changes_nothing.yaml",       nullptr, 10, 11, "ablation variant 'same' changes nothing: it is the same experiment as the experiment as written"},
    {"ablation_named_base.yaml",            nullptr, 10, 11, "'base' names the experiment as written"},
    {"seeds_repeated.yaml",                 nullptr, 3, 15, "seed 1 is listed twice"},
    {"train_references_bad_budget.yaml",    nullptr, 8, 47, "stage 'train' (strategy 'train'): parameter 'budgets': unknown unit 'KiX' in '16KiX'"},
};

// Experiments in tests/fixtures/bad_experiments/datasets whose dataset is a folder of
// tests/fixtures/datasets, written DATASETS/<folder>: the test validates a copy with the absolute
// path in its place. The message starts with the path of `data_file` when it is given, then
// `fragment`.
struct BadData {
  const char* file;
  int line, column;
  const char* data_file;  // under tests/fixtures/datasets; the message starts with its path
  const char* fragment;
};

const BadData bad_data[] = {
    {"idx_missing_file.yaml",          7, 11, "idx/missing_file/t10k-labels-idx1-ubyte", ": missing (neither it nor t10k-labels-idx1-ubyte.gz exists)"},
    {"idx_short_header.yaml",          6, 35, "idx/short_header/t10k-labels-idx1-ubyte", ": truncated: 6 bytes, expected at least the 8-byte IDX header"},
    {"idx_bad_magic.yaml",             6, 22, "idx/bad_magic_gz/train-labels-idx1-ubyte.gz", ": wrong magic number 0x00000803, expected 0x00000801 (an IDX file of unsigned-byte labels); this is an image file"},
    {"idx_truncated.yaml",             6, 22, "idx/truncated/t10k-images-idx3-ubyte", ": truncated: the header announces 3 images of 2x3 pixels, the file holds 2"},
    {"cifar_truncated.yaml",           6, 22, "cifar/cifar10_truncated/test_batch.bin", ": truncated: 3173 bytes is not a whole number of 3073-byte records"},
    {"idx_train_size_too_large.yaml",  6, 28, nullptr, "dataset 'valid': train_size 8 with its validation set of 1 images needs 9 training images; the training set has 8"},
    {"cifar_test_size_too_large.yaml", 7, 27, nullptr, "dataset 'cifar-10': test_size 3 is larger than the test set (2 images; allowed: test_size up to 2, or 0 for all)"},
};
// clang-format on

fs::path folder() {
  return fs::path(narrow::test::source_dir()) / "tests" / "fixtures" / "bad_experiments";
}
// A valid experiment with hand-made laws L1..L3 and a random stage first, for --set tests.
std::string handmade() {
  return (fs::path(narrow::test::source_dir()) / "tests" / "fixtures" / "experiments" /
          "handmade_laws.yaml")
      .string();
}

bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// The start of a long text, for messages.
std::string head(const std::string& s) {
  return s.size() <= 300 ? s : s.substr(0, 300) + "...";
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// A fresh folder name under the build tree that does not exist yet.
fs::path fresh_dir(const std::string& stem) {
  static std::atomic<int> n{0};
  const auto t = std::chrono::steady_clock::now().time_since_epoch().count();
  fs::path p = fs::path(narrow::test::build_dir()) / "tests" /
               (stem + "-" + std::to_string(t) + "-" + std::to_string(n++));
  fs::remove_all(p);
  return p;
}

// Checks the one-line error of a refused command: exit 2, nothing on stdout, one line on stderr
// that starts with `prefix`. Returns that line without the prefix.
std::string refused(const narrow::test::RunResult& r, const std::string& prefix) {
  BOOST_TEST(r.exit_code == 2, "exit code " << r.exit_code << ", stderr: " << r.err);
  BOOST_TEST(r.out.empty(), "stdout: " << head(r.out));
  const auto ls = lines_of(r.err);
  BOOST_TEST(ls.size() == 1u, "stderr must be one line, it is:\n" << r.err);
  if (ls.empty()) return "";
  const std::string& l = ls.front();
  BOOST_TEST(l.rfind(prefix, 0) == 0u, "'" << l << "' does not start with '" << prefix << "'");
  return l.rfind(prefix, 0) == 0 ? l.substr(prefix.size()) : l;
}

// The resolved experiment's laws: law name -> variable -> "[low, high]". The laws section is
// found by its key; each law is one level deeper and each variable one level deeper again.
std::map<std::string, std::map<std::string, std::string>> resolved_laws(const std::string& resolved,
                                                                        const std::string& space) {
  std::map<std::string, std::map<std::string, std::string>> laws;
  const auto ls = lines_of(resolved);
  auto indent = [](const std::string& l) { return l.find_first_not_of(' '); };
  bool in_space = false;
  for (std::size_t i = 0; i < ls.size(); ++i) {
    if (ls[i].find("- name: " + space) != std::string::npos) in_space = true;
    if (!in_space || ls[i].substr(indent(ls[i])) != "laws:") continue;
    const std::size_t base = indent(ls[i]);
    std::string law;
    for (++i; i < ls.size() && indent(ls[i]) > base; ++i) {
      const std::string body = ls[i].substr(indent(ls[i]));
      if (indent(ls[i]) == base + 2) {
        law = body.substr(0, body.size() - 1);  // "NAME:"
        laws[law];
      } else {
        const auto colon = body.find(": ");
        laws[law][body.substr(0, colon)] = colon == std::string::npos ? "" : body.substr(colon + 2);
      }
    }
    break;
  }
  return laws;
}

// The lines of the resolved experiment from the top-level key `key` to the next top-level key.
std::string section(const std::string& resolved, const std::string& key) {
  std::string out;
  bool in = false;
  for (const auto& l : lines_of(resolved)) {
    if (!l.empty() && l[0] != ' ' && l[0] != '-') in = l.rfind(key + ":", 0) == 0;
    if (in) out += l + "\n";
  }
  return out;
}

// Validates quickstart with `sets` and returns the resolved experiment (checking success).
std::string validate_quickstart(const std::vector<std::string>& sets) {
  std::vector<std::string> args{"validate", handmade()};
  for (const auto& s : sets) {
    args.push_back("--set");
    args.push_back(s);
  }
  auto r = run_narrow(args);
  BOOST_TEST(r.exit_code == 0, "stderr: " << r.err);
  BOOST_TEST(!r.out.empty());
  return r.out;
}

}  // namespace

BOOST_DATA_TEST_CASE(each_bad_experiment_is_refused_in_one_line,
                     bdata::xrange(std::size(bad_experiments)), i) {
  const Bad& b = bad_experiments[i];
  const std::string file = (folder() / b.file).string();
  BOOST_TEST_CONTEXT(b.file) {
    BOOST_REQUIRE(fs::exists(file));
    auto r = run_narrow({"validate", file});
    BOOST_TEST(r.exit_code == 2, "exit code " << r.exit_code << ", stderr: " << r.err);
    BOOST_TEST(r.out.empty(), "stdout: " << head(r.out));
    const auto ls = lines_of(r.err);
    BOOST_REQUIRE_MESSAGE(ls.size() == 1u, "stderr must be one line, it is:\n" << r.err);
    static const std::regex form(R"(^(.+):([0-9]+):([0-9]+): error: (.+)$)");
    std::smatch m;
    BOOST_REQUIRE_MESSAGE(std::regex_match(ls.front(), m, form),
                          "'" << ls.front() << "' is not FILE:LINE:COLUMN: error: MESSAGE");
    if (b.reported) {
      // A law file's error names that file (spelled as narrow found it).
      const fs::path expected = folder() / b.reported;
      BOOST_TEST(fs::weakly_canonical(fs::path(m[1].str())) == fs::weakly_canonical(expected),
                 "error in '" << m[1].str() << "', expected " << expected);
    } else {
      BOOST_TEST(m[1].str() == file);
    }
    BOOST_TEST(std::stoi(m[2].str()) == b.line, "line of: " << ls.front());
    if (b.column) BOOST_TEST(std::stoi(m[3].str()) == b.column, "column of: " << ls.front());
    BOOST_TEST(has(m[4].str(), b.fragment),
               "message '" << m[4].str() << "' lacks '" << b.fragment << "'");
  }
}

BOOST_AUTO_TEST_CASE(the_table_covers_every_fixture) {
  std::set<std::string> in_table;
  for (const auto& b : bad_experiments) {
    BOOST_TEST(in_table.insert(b.file).second, b.file << " is twice in the table");
    BOOST_TEST(fs::is_regular_file(folder() / b.file),
               b.file << " is in the table but not in " << folder());
  }
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(folder())) {
    if (!e.is_regular_file() || e.path().extension() != ".yaml") continue;
    ++files;
    BOOST_TEST(in_table.count(e.path().filename().string()) == 1u,
               e.path().filename().string() << " is a fixture that the table does not check");
  }
  BOOST_TEST(files == std::size(bad_experiments));
  BOOST_TEST(files >= 24u);
}

BOOST_AUTO_TEST_CASE(run_refuses_a_bad_experiment_before_creating_a_store) {
  const fs::path out = fresh_dir("bad_experiment_run");
  const std::string file = (folder() / "law_low_above_high.yaml").string();
  auto r = run_narrow({"run", file, "--out", out.string(), "--threads", "1"});
  const std::string rest = refused(r, file + ":9:24: error: ");
  BOOST_TEST(has(rest, "has low 16 > high 4"), rest);
  BOOST_TEST(!fs::exists(out / "results.db"));
  fs::remove_all(out);
}

BOOST_AUTO_TEST_CASE(run_refuses_bad_data_before_creating_a_store) {
  for (const char* name : {"dataset_folder_missing.yaml", "dataset_train_size_too_large.yaml",
                           "dataset_test_size_too_large.yaml"}) {
    BOOST_TEST_CONTEXT(name) {
      const fs::path out = fresh_dir("bad_data_run");
      const std::string file = (folder() / name).string();
      auto r = run_narrow({"run", file, "--out", out.string(), "--threads", "1"});
      const std::string rest = refused(r, file + ":");
      BOOST_TEST((has(rest, "error: dataset") || has(rest, "error: /nonexistent/")), rest);
      BOOST_TEST(!fs::exists(out), out << " was created");
      fs::remove_all(out);
    }
  }
}

// ------------------------------------------------------------------ datasets in folders

namespace {

fs::path data_fixtures() {
  return fs::path(narrow::test::source_dir()) / "tests" / "fixtures" / "datasets";
}

// A copy of tests/fixtures/bad_experiments/datasets/NAME with DATASETS replaced by the absolute
// path of tests/fixtures/datasets, in a fresh folder.
std::string with_data_path(const std::string& name, const fs::path& dir) {
  std::ifstream in(folder() / "datasets" / name);
  BOOST_REQUIRE_MESSAGE(in, "cannot read fixture " << name);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string placeholder = "DATASETS";
  const auto at = text.find(placeholder);
  BOOST_REQUIRE_MESSAGE(at != std::string::npos, name << " does not name DATASETS/...");
  text.replace(at, placeholder.size(), data_fixtures().string());
  fs::create_directories(dir);
  const fs::path copy = dir / name;
  std::ofstream(copy) << text;
  return copy.string();
}

}  // namespace

BOOST_DATA_TEST_CASE(each_bad_data_folder_is_refused_at_its_parameter,
                     bdata::xrange(std::size(bad_data)), i) {
  const BadData& b = bad_data[i];
  BOOST_TEST_CONTEXT(b.file) {
    const fs::path dir = fresh_dir("bad_data");
    const std::string file = with_data_path(b.file, dir);
    const std::string where = fmt::format("{}:{}:{}: error: ", file, b.line, b.column);
    const std::string message =
        (b.data_file ? (data_fixtures() / b.data_file).string() : std::string()) + b.fragment;
    const std::string rest = refused(run_narrow({"validate", file}), where);
    BOOST_TEST(rest.rfind(message, 0) == 0u,
               "'" << rest << "' does not start with '" << message << "'");
    // run refuses it the same way, before it creates the run's folder.
    const fs::path out = dir / "run";
    const std::string run_rest =
        refused(run_narrow({"run", file, "--out", out.string(), "--threads", "1"}), where);
    BOOST_TEST(run_rest == rest);
    BOOST_TEST(!fs::exists(out), out << " was created");
    fs::remove_all(dir);
  }
}

BOOST_AUTO_TEST_CASE(the_data_table_covers_every_fixture) {
  std::set<std::string> in_table;
  for (const auto& b : bad_data) in_table.insert(b.file);
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(folder() / "datasets")) {
    if (e.path().extension() != ".yaml") continue;
    ++files;
    BOOST_TEST(in_table.count(e.path().filename().string()) == 1u,
               e.path().filename().string() << " is a fixture that the table does not check");
  }
  BOOST_TEST(files == std::size(bad_data));
}

BOOST_AUTO_TEST_CASE(a_bad_data_option_from_the_command_line_is_reported_there) {
  auto r = run_narrow({"validate", (folder() / "dataset_test_size_too_large.yaml").string(),
                       "--set", "dataset.parameters.test_size=121"});
  const std::string rest = refused(r, "--set: error: ");
  BOOST_TEST(has(rest, "test_size 121 is larger than the test set (120 images"), rest);
}

// ------------------------------------------------------------------ --set

BOOST_AUTO_TEST_CASE(set_overrides_the_seed) {
  const auto y = validate_quickstart({"seed=7"});
  BOOST_TEST(has(y, "\nseed: 7\n"), y);
  BOOST_TEST(!has(y, "\nseed: 1\n"));
}

BOOST_AUTO_TEST_CASE(set_overrides_a_space_parameter) {
  const auto y = validate_quickstart({"spaces.0.parameters.classes=5"});
  const auto spaces = section(y, "spaces");
  BOOST_TEST(has(spaces, " classes: 5\n"), spaces);
  BOOST_TEST(!has(spaces, " classes: 10\n"));
  BOOST_TEST(has(spaces, " max_conv_layers: 6\n"));  // the file's other parameters stay
}

BOOST_AUTO_TEST_CASE(set_overrides_a_law_range_with_a_dotted_variable_name) {
  const auto y = validate_quickstart({"spaces.0.laws.L1.conv1.filters=[2,4]"});
  auto laws = resolved_laws(y, "seq");
  BOOST_TEST(laws["L1"]["conv1.filters"] == "[2, 4]");
  BOOST_TEST(laws["L1"]["conv2.filters"] == "[2, 16]");  // the rest of L1 stays
  BOOST_TEST(laws["L2"]["conv1.filters"] == "[4, 32]");  // other laws stay
}

BOOST_AUTO_TEST_CASE(set_gives_a_range_to_a_variable_the_law_does_not_list) {
  // L1 of the quickstart does not name conv4.filters (it takes the full range [1, 512]); a
  // --set must be able to narrow it like any variable the law lists.
  const auto y = validate_quickstart({"spaces.0.laws.L1.conv4.filters=[2,4]"});
  auto laws = resolved_laws(y, "seq");
  BOOST_TEST(laws["L1"]["conv4.filters"] == "[2, 4]");
  BOOST_TEST(laws["L2"]["conv4.filters"] == "[4, 32]");
}

BOOST_AUTO_TEST_CASE(set_overrides_and_adds_constraints) {
  const auto y = validate_quickstart({"constraints.weight_bytes=32KiB", "constraints.params=250k"});
  const auto c = section(y, "constraints");
  BOOST_TEST(has(c, "  weight_bytes: 32768\n"), c);
  BOOST_TEST(has(c, "  activation_peak_bytes: 65536\n"), c);
  BOOST_TEST(has(c, "  params: 250000\n"), c);
}

BOOST_AUTO_TEST_CASE(set_overrides_a_stage_parameter) {
  const auto y = validate_quickstart({"stages.0.parameters.per_law=5"});
  const auto s = section(y, "stages");
  BOOST_TEST(has(s, " per_law: 5\n"), s);
  BOOST_TEST(has(s, " max_rejections: 20000\n"), s);
}

BOOST_AUTO_TEST_CASE(a_bad_set_is_reported_against_the_command_line) {
  struct Case {
    const char* set;
    const char* fragment;
  };
  const Case cases[] = {
      {"seed=abc", "'seed' must be an integer"},
      {"seed=[1", "not valid YAML"},
      {"seed", "path.to.key=value"},
      {"spaces.3.name=x", "list index"},
      {"budget=1", "unknown key 'budget'"},
      {"constraints.params=2MB", "'params' is a count, but '2MB' is a size"},
      {"spaces.0.laws.L1.conv1.filters=[4,2]", "has low 4 > high 2"},
      // The bad value comes from the command line, not from the file (which holds 2000 and 10).
      {"stages.0.parameters.per_law=0", "0 is out of range"},
      {"spaces.0.parameters.classes=0", "0 is out of range"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.set) {
      auto r = run_narrow({"validate", handmade(), "--set", c.set});
      const std::string rest = refused(r, "--set: error: ");
      BOOST_TEST(has(rest, c.fragment), "'" << rest << "' lacks '" << c.fragment << "'");
    }
  }
}

// ------------------------------------------------------------------ the resolved experiment

BOOST_AUTO_TEST_CASE(an_experiment_validates_and_prints_the_resolved_experiment) {
  auto r = run_narrow({"validate", handmade()});
  BOOST_REQUIRE_EQUAL(r.exit_code, 0);
  const auto err = lines_of(r.err);
  BOOST_TEST(err.size() == 1u, r.err);
  BOOST_TEST(has(r.err, "valid (1 spaces, 3 stages)"), r.err);
  const std::string& y = r.out;
  BOOST_TEST(has(y, "name: handmade_laws\n"));
  BOOST_TEST(has(y, "\nseed: 1\n"));
  // Formats resolved one by one, every parameter filled in ("ieee(4,3)" is ieee w=4, t=3).
  const auto formats = section(y, "formats");
  BOOST_TEST(has(formats, "name: e4m3"), formats);
  BOOST_TEST(has(formats, "saturate: true"), formats);
  BOOST_TEST(has(formats, "t: 3"), formats);
  BOOST_TEST(has(formats, "w: 4"), formats);

  // Every variable of the space, in every law; unnamed variables take their full bounds.
  auto d = run_narrow({"describe", "--space", "sequential", "--param", "max_conv_layers=6",
                       "--param", "max_fc_layers=1", "--json"});
  BOOST_REQUIRE_EQUAL(d.exit_code, 0);
  const auto vars = nlohmann::json::parse(d.out)["variables"];
  BOOST_TEST(vars.size() == 3u + 9u * 6u + 1u);
  auto laws = resolved_laws(y, "seq");
  BOOST_TEST(laws.size() == 3u);
  for (const char* law : {"L1", "L2", "L3"}) {
    BOOST_TEST_CONTEXT(law) {
      BOOST_TEST(laws[law].size() == vars.size());
      for (const auto& v : vars)
        BOOST_TEST(laws[law].count(v["name"].get<std::string>()) == 1u, v["name"]);
    }
  }
  BOOST_TEST(laws["L1"]["conv_layers"] == "[1, 3]");
  BOOST_TEST(laws["L1"]["conv4.filters"] == "[1, 512]");
  BOOST_TEST(laws["L1"]["batchnorm"] == "[\"no\", \"yes\"]");
  BOOST_TEST(laws["L3"]["batchnorm"] == "[\"yes\", \"yes\"]");
  BOOST_TEST(laws["L3"]["conv1.padding"] == "[\"same\", \"same\"]");

  // Space parameters and stage parameters with their defaults filled in.
  const auto spaces = section(y, "spaces");
  for (const char* p : {" classes: 10\n", " max_conv_layers: 6\n", " max_fc_layers: 1\n",
                        " max_filters: 512\n", " max_units: 1024\n"})
    BOOST_TEST(has(spaces, p), p);
  const auto stages = section(y, "stages");
  BOOST_TEST(has(stages, "name: sample\n"), stages);
  BOOST_TEST(has(stages, "strategy: random\n"), stages);
  for (const char* p : {" per_law: 1000\n", " max_rejections: 20000\n", " batch: 1000\n"})
    BOOST_TEST(has(stages, p), p);
  const auto c = section(y, "constraints");
  BOOST_TEST(has(c, "  weight_bytes: 65536\n"), c);
  BOOST_TEST(has(c, "  activation_peak_bytes: 65536\n"), c);

  // The same file gives the same text.
  auto again = run_narrow({"validate", handmade()});
  BOOST_TEST(again.out == r.out);
}
