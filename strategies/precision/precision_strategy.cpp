#include "precision_strategy.hpp"

#include <algorithm>
#include <ostream>
#include <map>
#include <memory>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "narrow/errors.hpp"
#include "narrow/hash.hpp"
#include "narrow/output_file.hpp"
#include "narrow/pareto.hpp"
#include "narrow/precision_analysis.hpp"
#include "narrow/progress.hpp"
#include "narrow/registry.hpp"
#include "narrow/store.hpp"
#include "narrow/training.hpp"
#include "narrow/unit_key.hpp"

namespace narrow::strategies {

using nlohmann::json;

namespace {

// The grid of the paper when the experiment lists no formats.
constexpr const char* kDefaultFormats = "ieee(1..8,1..23)";

// One trained model and the evaluations it still needs.
struct Work {
  TrainResult training;
  std::vector<std::size_t> formats;  // indices into the stage's formats not stored yet
  bool reference = false;            // the float32 evaluation is not stored yet
};

std::string csv_quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// The largest accuracy of front `front` (indices into `points`, by bytes ascending) within
// `budget` weight bytes; nullopt when no point fits.
std::optional<double> accuracy_within(const std::vector<PrecisionPoint>& points,
                                      const std::vector<std::size_t>& front, std::int64_t budget) {
  std::optional<double> best;
  for (std::size_t i : front)
    if (points[i].result.weight_bytes <= budget) best = points[i].result.evaluation.accuracy;
  return best;
}

}  // namespace

void PrecisionStrategy::summarize(StageContext& ctx, const std::vector<TrainResult>& trainings,
                                  const std::string& rounding) const {
  std::map<std::string, std::string> hash_of;  // training key -> architecture hash
  for (const auto& t : trainings) hash_of[t.key] = t.architecture_hash;
  std::vector<PrecisionPoint> points;  // model: the training key
  for (auto& r : ctx.store().precisions(ctx.stage()))
    if (hash_of.count(r.training_key) && r.split == split_ && r.rounding == rounding)
      points.push_back(PrecisionPoint{r.training_key, std::move(r.result)});

  // Fronts of Figure 5: float32; the best format of each width in front_bits applied to every
  // model; each model in each of its formats (which holds each model's best trade-off).
  struct Front {
    std::string name, format;
    std::vector<std::size_t> points;
  };
  std::vector<Front> fronts;
  auto front_of = [&](const std::string& name, const std::string& format) {
    std::vector<std::size_t> among;
    for (std::size_t i = 0; i < points.size(); ++i)
      if (points[i].result.format == format) among.push_back(i);
    if (!among.empty()) fronts.push_back(Front{name, format, pareto_front(points, among)});
  };
  front_of("float32", "float32");
  for (std::int64_t bits : front_bits_)
    if (const auto f = best_format_of_width(points, int(bits)))
      front_of(fmt::format("best {}-bit ({})", bits, *f), *f);
  fronts.push_back(Front{"each model's best format", "", pareto_front(points)});

  const auto chosen = best_formats(points, max_drop_);
  auto point_json = [&](const PrecisionPoint& p) {
    return json{{"architecture_hash", hash_of.at(p.model)},
                {"training", p.model},
                {"format", p.result.format},
                {"bits", p.result.bits},
                {"weight_bytes", p.result.weight_bytes},
                {"accuracy", p.result.evaluation.accuracy}};
  };

  // The files behind the figure: every evaluation, and the fronts.
  const std::string base = fmt::format("{}/{}", ctx.output_dir(), ctx.stage());
  write_output_file(base + ".precision.csv", [&](std::ostream& out) {
    out << "architecture_hash,training,format,bits,parameters,weight_bytes,accuracy,loss,"
           "seconds\n";
    for (const auto& p : points)
      out << fmt::format("{},{},{},{},{},{},{},{},{}\n", hash_of.at(p.model), p.model,
                         csv_quoted(p.result.format), p.result.bits, p.result.parameters,
                         p.result.weight_bytes, p.result.evaluation.accuracy,
                         p.result.evaluation.loss, p.result.seconds);
  }, "CSV file");
  write_output_file(base + ".fronts.csv", [&](std::ostream& out) {
    out << "front,architecture_hash,format,bits,weight_bytes,accuracy\n";
    for (const auto& f : fronts)
      for (std::size_t i : f.points)
        out << fmt::format("{},{},{},{},{},{}\n", csv_quoted(f.name), hash_of.at(points[i].model),
                           csv_quoted(points[i].result.format), points[i].result.bits,
                           points[i].result.weight_bytes, points[i].result.evaluation.accuracy);
  }, "CSV file");

  // Accuracy within memory budgets (powers of two over the range of the models), per front:
  // how far reduced precision moves the front.
  std::int64_t lo = 0, hi = 0;
  for (const auto& p : points) {
    if (lo == 0 || p.result.weight_bytes < lo) lo = p.result.weight_bytes;
    if (p.result.format == "float32") hi = std::max(hi, p.result.weight_bytes);
  }
  std::vector<std::int64_t> budgets;
  for (std::int64_t b = 1; b < (std::int64_t(1) << 40) && lo > 0; b *= 2)
    if (b >= lo) {
      budgets.push_back(b);
      if (b >= hi) break;
    }

  std::string text = fmt::format("{}: {} models, {} evaluations; best format within {:.1f} "
                                 "points of float32:\n",
                                 ctx.stage(), trainings.size(), points.size(), 100 * max_drop_);
  text += fmt::format("  {:<14} {:>10} {:>8}   {:<14} {:>4} {:>9} {:>8}\n", "model", "parameters",
                      "float32", "format", "bits", "bytes", "accuracy");
  json models = json::array();
  for (const auto& t : trainings) {
    const PrecisionPoint* ref = nullptr;
    for (const auto& p : points)
      if (p.model == t.key && p.result.format == "float32") ref = &p;
    if (!ref) continue;
    const auto it = chosen.find(t.key);
    const PrecisionPoint* b = it == chosen.end() ? nullptr : &points[it->second];
    text += fmt::format("  {:<14} {:>10} {:>8.4f}   {:<14} {:>4} {:>9} {:>8.4f}\n",
                        t.architecture_hash.substr(0, 12), ref->result.parameters,
                        ref->result.evaluation.accuracy, b ? b->result.format : "-",
                        b ? b->result.bits : 0, b ? b->result.weight_bytes : 0,
                        b ? b->result.evaluation.accuracy : 0.0);
    models.push_back({{"architecture_hash", t.architecture_hash},
                      {"training", t.key},
                      {"parameters", ref->result.parameters},
                      {"float32_accuracy", ref->result.evaluation.accuracy},
                      {"best", b ? point_json(*b) : json(nullptr)}});
  }
  text += "  accuracy within a memory budget, per front:\n";
  text += fmt::format("  {:>10}", "budget");
  for (const auto& f : fronts) text += fmt::format("  {:>24}", f.name.substr(0, 24));
  text += "\n";
  json budget_rows = json::array();
  for (std::int64_t b : budgets) {
    text += fmt::format("  {:>10}", b >= 1024 ? fmt::format("{}KiB", b / 1024)
                                               : fmt::format("{}B", b));
    json row{{"weight_bytes", b}};
    for (const auto& f : fronts) {
      const auto a = accuracy_within(points, f.points, b);
      text += a ? fmt::format("  {:>24.4f}", *a) : fmt::format("  {:>24}", "-");
      row[f.name] = a ? json(*a) : json(nullptr);
    }
    text += "\n";
    budget_rows.push_back(std::move(row));
  }
  text += fmt::format("  every evaluation: {}.precision.csv; the fronts: {}.fronts.csv", base,
                      base);
  ctx.info(text);

  json fronts_json = json::array();
  for (const auto& f : fronts) {
    json ps = json::array();
    for (std::size_t i : f.points) ps.push_back(point_json(points[i]));
    fronts_json.push_back({{"name", f.name}, {"format", f.format}, {"points", ps}});
  }
  ctx.set_summary(json{{"models", models},
                       {"evaluations", points.size()},
                       {"split", split_},
                       {"rounding", rounding},
                       {"max_drop", max_drop_},
                       {"fronts", fronts_json},
                       {"budgets", budget_rows}}
                      .dump());
}

ParamSchema PrecisionStrategy::schema() {
  std::vector<std::string> modes;
  for (Rounding r : all_roundings()) modes.emplace_back(rounding_name(r));
  return {
      ParamSpec::string("from", "", "evaluate the trainings of this stage only (default: all)"),
      ParamSpec::integer("count", 0, 0, 1000000,
                         "evaluate only the N trainings with the best validation accuracy "
                         "(0: all)"),
      ParamSpec::choice("split", "test", {"test", "validation"},
                        "the images each model is evaluated on (its own split)"),
      ParamSpec::choice("rounding", "nearest_even", modes,
                        "rounding of weights and activations (stochastic is seeded)"),
      ParamSpec::real("max_drop", 0.01, 0, 1,
                      "accuracy drop (a fraction) allowed when choosing each model's best format"),
      ParamSpec::integers("front_bits", {16, 8}, 1, 64,
                          "a Pareto front for the best format of each of these widths (by mean "
                          "accuracy over the models)"),
  };
}

PrecisionStrategy::PrecisionStrategy(const Parameters& p)
    : from_(p.string("from")),
      split_(p.string("split")),
      count_(p.integer("count")),
      max_drop_(p.real("max_drop")),
      front_bits_(p.integers("front_bits")) {
  (void)parse_rounding(p.string("rounding"), rounding_);  // a choice of the schema
}

void PrecisionStrategy::run(StageContext& ctx) {
  Store& store = ctx.store();
  const Registry& registry = ctx.registry();

  // The formats: the experiment's, or the paper's grid.
  std::vector<FormatEntry> formats = ctx.formats();
  std::vector<std::unique_ptr<NumberFormat>> defaults;
  if (formats.empty()) {
    for (const auto& text : expand_format_spec(kDefaultFormats)) {
      const auto parsed = parse_format_text(registry, text);
      defaults.push_back(create_format(registry, parsed.name, parsed.parameters));
      formats.push_back(FormatEntry{defaults.back()->name(),
                                    format_key(registry, parsed.name, parsed.parameters),
                                    defaults.back().get(), parsed});
    }
    ctx.info(fmt::format("{}: the experiment lists no formats: using the {} types {}",
                         ctx.stage(), formats.size(), kDefaultFormats));
  }
  for (const auto& f : formats) {
    const auto modes = f.format->roundings();
    if (std::find(modes.begin(), modes.end(), rounding_) == modes.end())
      throw InputError(fmt::format("stage '{}': format '{}' does not support rounding '{}'",
                                   ctx.stage(), f.name, rounding_name(rounding_)));
  }

  // The trained models: successful trainings with weights, the most accurate first.
  TrainedModels chosen = trained_models(store, TrainedModelQuery{from_, "", false, count_});
  std::vector<TrainResult>& trainings = chosen.trainings;
  const std::int64_t without_weights = chosen.without_weights;
  if (trainings.empty())
    throw Error(fmt::format(
        "stage '{}': no successful training with stored weights{}{}; put a train stage (with "
        "keep_weights: true) before it",
        ctx.stage(), from_.empty() ? "" : fmt::format(" in stage '{}'", from_),
        without_weights ? fmt::format(" ({} trainings kept no weights)", without_weights) : ""));

  // Units: one per (training, format), and the float32 reference of each training.
  const std::string rounding = std::string(rounding_name(rounding_));
  auto unit_key = [&](const TrainResult& t, const std::string& fkey) {
    return content_key("precision", json{{"training", t.key},
                                         {"format", fkey},
                                         {"split", split_},
                                         {"rounding", rounding},
                                         {"seed", std::to_string(ctx.seed())}});
  };
  std::vector<Work> work;
  std::uint64_t total = 0, to_store = 0, stored_before = 0;
  for (const auto& t : trainings) {
    Work w{t, {}, !store.unit_result(unit_key(t, "float32"))};
    for (std::size_t i = 0; i < formats.size(); ++i) {
      if (store.unit_result(unit_key(t, formats[i].key)))
        ++stored_before;
      else
        w.formats.push_back(i);
    }
    if (!w.reference) ++stored_before;
    if (w.formats.empty() && !w.reference) continue;
    to_store += w.formats.size() + (w.reference ? 1 : 0);
    total += w.formats.size() + 1;  // the reference is evaluated again even when stored
    work.push_back(std::move(w));
  }
  ctx.info(fmt::format("{}: {} models x {} formats (+ float32) on the {} set, rounding {}: {} "
                       "evaluations to do{}",
                       ctx.stage(), trainings.size(), formats.size(), split_, rounding, to_store,
                       stored_before ? fmt::format(", {} stored before", stored_before) : ""));

  if (!work.empty()) {
    // Models in parallel on the training service: J at once, T LibTorch threads each.
    TrainingService& service = ctx.training();
    const int workers = std::max(1, std::min<int>(service.jobs(), int(work.size())));
    const int threads = service.threads_per_job();
    ctx.info(fmt::format("{}: {} models at once, {} LibTorch thread{} each", ctx.stage(), workers,
                         threads, threads == 1 ? "" : "s"));
    std::vector<PrecisionJob> jobs;
    for (Work& w : work) {
      std::vector<FormatText> texts;
      for (std::size_t f : w.formats) texts.push_back(formats[f].text);
      const RoundingOptions rounding_options{
          rounding_, content_seed(fmt::format("{}|precision|{}", ctx.seed(), w.training.key))};
      jobs.push_back(stored_precision_job(store, w.training, std::move(texts), split_,
                                          rounding_options));
    }
    Progress progress(fmt::format("{} precision", ctx.stage()), total, "evaluations");
    std::uint64_t done = 0;
    // Results arrive in order per job: float32 (index 0), then the job's formats.
    service.evaluate_precision(jobs, [&](std::size_t j, std::size_t index,
                                         const PrecisionResult& r) {
      const Work& w = work[j];
      if (index == 0 && !w.reference) {  // float32 stored before
        progress.update(++done);
        return;
      }
      PrecisionRecord rec;
      rec.format_key = index == 0 ? "float32" : formats[w.formats[index - 1]].key;
      rec.key = unit_key(w.training, rec.format_key);
      rec.stage = ctx.stage();
      rec.training_key = w.training.key;
      rec.architecture_hash = w.training.architecture_hash;
      rec.split = split_;
      rec.rounding = rounding;
      rec.result = r;
      store.commit_precision(rec);
      progress.update(++done);
    });
    progress.finish();
  }

  summarize(ctx, trainings, rounding);
}

}  // namespace narrow::strategies
