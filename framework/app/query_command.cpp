// `narrow query`: the best stored model within bounds on its metrics, or the Pareto front of
// accuracy against one metric, from a run's results store.
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "command_support.hpp"
#include "commands.hpp"
#include "narrow/errors.hpp"
#include "narrow/units.hpp"
#include "run/fronts.hpp"
#include "run/model_query.hpp"
#include "run/model_table.hpp"
#include "run/runs.hpp"

namespace po = boost::program_options;
using nlohmann::json;

namespace narrow::cli {

namespace {

json optional_json(const std::optional<double>& v) {
  return v ? json(*v) : json(nullptr);
}

json row_json(const ModelRow& r) {
  json m = metrics_json(r.metrics);
  return json{{"architecture_hash", r.architecture_hash},
              {"training", r.training_key},
              {"stage", r.stage},
              {"space", r.space},
              {"format", r.format},
              {"rounding", r.rounding},
              {"bits", r.bits},
              {"weight_bytes", r.weight_bytes},
              {"metrics", m},
              {"latency", r.latency ? json{{"seconds", *r.latency},
                                           {"source", latency_source_name(r.latency_source)}}
                                    : json(nullptr)},
              {"val_accuracy", optional_json(r.val_accuracy)},
              {"test_accuracy", optional_json(r.test_accuracy)}};
}

/// A metric's value as text: counts and bytes with a readable form, latency with its source.
std::string value_text(const ModelRow& r, const std::string& metric) {
  if (metric == "latency")
    return r.latency ? fmt::format("{} ({})", seconds_text(*r.latency),
                                   latency_source_name(r.latency_source))
                     : "-";
  const auto v = std::int64_t(*metric_value(r, metric));
  const std::string short_form = human(v);
  return short_form == std::to_string(v) ? short_form : fmt::format("{} ({})", v, short_form);
}

std::string accuracy_text(const std::optional<double>& a) {
  return a ? fmt::format("{:.4f}", *a) : "-";
}

void print_row(const ModelRow& r) {
  fmt::print("  {:<22} {}\n", "architecture", r.architecture_hash);
  fmt::print("  {:<22} {} / {}\n", "space / stage", r.space.empty() ? "-" : r.space,
             r.stage.empty() ? "-" : r.stage);
  fmt::print("  {:<22} {}\n", "training", r.training_key);
  fmt::print("  {:<22} {} ({} bits{})\n", "format", r.format, r.bits,
             r.rounding.empty() ? "" : ", rounding " + r.rounding);
  for (const auto& m : table_metrics()) fmt::print("  {:<22} {}\n", m, value_text(r, m));
  fmt::print("  {:<22} {}\n", "validation accuracy", accuracy_text(r.val_accuracy));
  fmt::print("  {:<22} {}\n", "test accuracy", accuracy_text(r.test_accuracy));
}

/// Says on stderr which rows the query could not judge.
void print_left_out(const QueryAnswer& a, Split split) {
  if (a.without_accuracy)
    fmt::print(stderr,
               "note: {} row{} left out: no {} accuracy (a precision stage evaluates one split; "
               "--select {} ranks by the other)\n",
               a.without_accuracy, plural(std::int64_t(a.without_accuracy)), split_name(split),
               split == Split::validation ? "test" : "val");
  if (a.without_latency)
    fmt::print(stderr, "note: {} row{} left out: no latency measured or predicted\n",
               a.without_latency, plural(std::int64_t(a.without_latency)));
}

}  // namespace

int cmd_query(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string run, format = "float32", front, select = "val", only;
  std::vector<std::string> maxima, paths;
  double min_accuracy = 0;
  add_help_option(opts);
  opts.add_options()("run", po::value(&run), "run folder (or its results.db)")(
      "max", po::value(&maxima)->composing(),
      "an upper bound METRIC=VALUE, e.g. weight_bytes=16KiB, macs=2M, latency=2ms "
      "(repeatable; all must hold)")("min-accuracy",
                                     po::value(&min_accuracy)->default_value(min_accuracy),
                                     "the least accuracy (a fraction) on the --select split")(
      "format", po::value(&format)->default_value(format),
      "float32 (the models as trained), a format a precision stage evaluated (e.g. int8), a "
      "family of them (16-bit, 8-bit, 'below 8 bits'), or any (the best model and format "
      "pair)")(
      "front", po::value(&front), "print the Pareto front of accuracy against this metric")(
      "select", po::value(&select)->default_value(select),
      "the accuracy that ranks: val (selection) or test (for reporting only)")(
      "only", po::value(&only),
      "the models of one run of the store only: its id, as `narrow run` names it ('' is the "
      "experiment at its own seed, e.g. uniform@2 a variant at seed 2); default: every run's");
  add_json_option(opts);
  add_plugins_option(opts, paths,
                     "also load plugins from this folder or file (the run's own, its "
                     "experiment's plugins:, load by themselves)");
  po::positional_options_description pos;
  pos.add("run", 1);
  po::variables_map vm;
  if (!parse(args, opts, vm,
             "narrow query RUN [--max METRIC=VALUE]... [--min-accuracy X] [--format F|any]\n"
             "                 [--front METRIC] [--select val|test] [--only RUN-ID] [--json]\n\n"
             "The most accurate stored model whose metrics meet every bound (the constraint\n"
             "search of Scheidegger et al. 2019, section 4), with its architecture, or with\n"
             "--front the Pareto front of accuracy against a metric. Metrics: weight_bytes (of\n"
             "the format, as a device stores it), params, macs, flops, activation_peak_bytes,\n"
             "memory_eq6_bytes, latency (measured when stored, else predicted by the run's\n"
             "device). Exit 1 when no model meets the bounds.",
             &pos))
    return 0;
  if (run.empty()) throw InputError("query needs a RUN folder (see narrow query --help)");
  std::vector<MetricBound> bounds;
  for (const auto& m : maxima) bounds.push_back(parse_bound(m));
  if (!front.empty() && !is_table_metric(front))
    throw InputError(fmt::format("--front: unknown metric '{}' (valid: {})", front,
                                 fmt::join(table_metrics(), ", ")));
  if (select != "val" && select != "validation" && select != "test")
    throw InputError(fmt::format("--select '{}' must be val or test", select));
  const Split split = select == "test" ? Split::test : Split::validation;
  if (!(min_accuracy >= 0 && min_accuracy <= 1))
    throw InputError(fmt::format("--min-accuracy {} must be a fraction in 0..1", min_accuracy));

  const std::string db = run_store_path(run);
  auto store = open_store(db);
  const auto units = only_run_units(vm, only, *store, stored_runs(*store), db);
  const Registry& registry = load_run_registry(paths, *store);
  const ModelTable table = load_model_table(*store, &registry, units ? &*units : nullptr);
  if (table.rows.empty())
    throw InputError(fmt::format("'{}' holds no successful training to query", db));
  const std::vector<std::size_t> rows = rows_of_format(table, format);
  const QueryAnswer answer = query_best(table, rows, bounds, min_accuracy, split);
  print_left_out(answer, split);
  std::vector<std::string> bound_texts;
  for (const auto& b : bounds) bound_texts.push_back(fmt::format("{} <= {}", b.metric, b.text));
  if (min_accuracy > 0)
    bound_texts.push_back(fmt::format("{} accuracy >= {}", split_name(split), min_accuracy));
  const std::string within =
      bound_texts.empty() ? "" : fmt::format(" within {}", fmt::join(bound_texts, ", "));

  if (!front.empty()) {
    require_metric(table, answer.meeting, front);
    const auto points = model_front(table, answer.meeting, front, split);
    if (vm.count("json")) {
      json list = json::array();
      for (std::size_t i : points) list.push_back(row_json(table.rows[i]));
      print_json(json{{"metric", front},
                      {"format", format},
                      {"select", split_name(split)},
                      {"rows", answer.meeting.size()},
                      {"front", list}});
      return 0;
    }
    fmt::print("Pareto front of {} accuracy against {}: {} of {} {} rows{}\n", split_name(split),
               front, points.size(), answer.meeting.size(), format, within);
    fmt::print("  {:<28} {:>9} {:>9}  {:<16} {:<12} {}\n", front, "val", "test", "format",
               "architecture", "space / stage");
    for (std::size_t i : points) {
      const ModelRow& r = table.rows[i];
      fmt::print("  {:<28} {:>9} {:>9}  {:<16} {:<12} {} / {}\n", value_text(r, front),
                 accuracy_text(r.val_accuracy), accuracy_text(r.test_accuracy), r.format,
                 r.architecture_hash.substr(0, 12), r.space.empty() ? "-" : r.space,
                 r.stage.empty() ? "-" : r.stage);
    }
    return 0;
  }

  if (!answer.best) {
    if (vm.count("json"))
      print_json(json{{"model", nullptr}, {"format", format}, {"rows", answer.candidates}});
    else
      fmt::print("no stored model meets every bound: {} {} row{}{}\n", answer.candidates, format,
                 plural(std::int64_t(answer.candidates)), within);
    return 1;
  }
  const ModelRow& best = table.rows[*answer.best];
  const Architecture& arch = table.architecture(best.architecture_hash);
  if (vm.count("json")) {
    print_json(json{{"model", row_json(best)},
                    {"format", format},
                    {"select", split_name(split)},
                    {"rows", answer.candidates},
                    {"meeting", answer.meeting.size()},
                    {"architecture", arch.to_json()}});
    return 0;
  }
  fmt::print("best of {} {} row{} by {} accuracy{} ({} meet{}):\n", answer.candidates, format,
             plural(std::int64_t(answer.candidates)), split_name(split), within,
             answer.meeting.size(), answer.meeting.size() == 1 ? "s" : "");
  print_row(best);
  fmt::print("architecture:\n{}", architecture_table(arch));
  return 0;
}

}  // namespace narrow::cli
