#include "statistics_strategy.hpp"
#include "correlation_sums.hpp"
#include "coverage.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <ostream>
#include <limits>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "narrow/errors.hpp"
#include "narrow/hash.hpp"
#include "narrow/laws.hpp"
#include "narrow/name_lists.hpp"
#include "narrow/metrics.hpp"
#include "narrow/output_file.hpp"
#include "narrow/parallel.hpp"
#include "narrow/progress.hpp"
#include "narrow/sampler.hpp"
#include "narrow/store.hpp"

namespace narrow::strategies {

namespace {

void check_metric(const std::string& m, const char* parameter) {
  if (std::find(metric_names.begin(), metric_names.end(), m) == metric_names.end())
    throw InputError(
        fmt::format("parameter '{}' of strategy 'statistics': unknown metric '{}' (valid: {})",
                    parameter, m, fmt::join(metric_names, ", ")));
}

}  // namespace

using Sums = CorrelationSums;

// What one law (or, pooled, one space) came to.
struct LawResult {
  std::string space, law;
  std::int64_t count = 0, rejected = 0, min = 0, max = 0;
  double log_sum = 0, log_sum2 = 0;           // of log10 of the metric (values of 0 as 1)
  std::map<std::int64_t, std::int64_t> bins;  // bin index -> count
  std::vector<std::int64_t> below;            // per threshold
  Sums sums;

  // Adds the draws of `other` to the counts, range, log sums and histogram (not to `below`
  // and `sums`, which only the chunks of one law share).
  void merge(const LawResult& other) {
    count += other.count;
    rejected += other.rejected;
    min = std::min(min, other.min);
    max = std::max(max, other.max);
    log_sum += other.log_sum;
    log_sum2 += other.log_sum2;
    for (const auto& [b, n] : other.bins) bins[b] += n;
  }
};

ParamSchema StatisticsStrategy::schema() {
  return {
      ParamSpec::integer("per_law", 10000, 1, 100000000, "valid architectures drawn from each law"),
      ParamSpec::choice("metric", "params",
                        std::vector<std::string>(metric_names.begin(), metric_names.end()),
                        "metric of the histogram"),
      ParamSpec::integer("bins_per_decade", 10, 1, 1000, "histogram bins per factor of 10"),
      ParamSpec::integers("below", {}, 0, std::int64_t(1) << 62,
                          "thresholds: count the draws whose metric is below each"),
      ParamSpec::string("correlate", "params,macs,activation_peak_bytes",
                        "metrics whose log10 values are correlated (Pearson), comma-separated"),
      ParamSpec::string("spaces", "",
                        "spaces of the experiment to use, comma-separated (empty: all)"),
      ParamSpec::string("laws", "",
                        "an earlier stage whose learned laws to draw from, in place of the "
                        "experiment's (empty: the experiment's laws)"),
      ParamSpec::boolean("pool", false,
                         "also a histogram and coverage of all the laws of each space together"),
      ParamSpec::integers("range", {}, -30, 30,
                          "decades [A, B]: the fullest over the emptiest decade of the metric "
                          "from 10^A to 10^B (empty: none)"),
  };
}

StatisticsStrategy::StatisticsStrategy(const Parameters& p)
    : per_law_(p.integer("per_law")),
      bins_per_decade_(p.integer("bins_per_decade")),
      metric_(p.string("metric")),
      below_(p.integers("below")),
      correlate_(comma_list(p.string("correlate"))),
      spaces_(comma_list(p.string("spaces"))),
      laws_(p.string("laws")),
      pool_(p.boolean("pool")),
      range_(p.integers("range")) {
  if (!range_.empty() && (range_.size() != 2 || range_[0] >= range_[1]))
    throw ParameterError("range", fmt::format("[{}] must be two decades [A, B] with A < B, e.g. "
                                              "[3, 7] for 10^3 to 10^7",
                                              fmt::join(range_, ", ")));
  for (const auto& m : correlate_) check_metric(m, "correlate");
  if (correlate_.size() == 1)
    throw InputError(
        "parameter 'correlate' of strategy 'statistics' needs at least 2 metrics (or none)");
}

namespace {

// Mean and standard deviation (n - 1) of log10 of the metric; sigma 0 for fewer than 2 draws.
std::pair<double, double> log_mean_sigma(const LawResult& r) {
  if (r.count == 0) return {0, 0};
  const double n = double(r.count), mean = r.log_sum / n;
  if (r.count < 2) return {mean, 0};
  return {mean, std::sqrt(std::max(0.0, (r.log_sum2 - n * mean * mean) / (n - 1)))};
}

}  // namespace

// STAGE-coverage.csv: per law (and per space, pooled) the decades holding at least 1 % of the
// draws and, with `range`, the fullest over the emptiest decade of the range.
nlohmann::json StatisticsStrategy::write_coverage(StageContext& ctx,
                                                  const std::vector<const LawResult*>& rows) const {
  namespace fs = std::filesystem;
  const auto path = (fs::path(ctx.output_dir()) / (ctx.stage() + "-coverage.csv")).string();
  nlohmann::json out = nlohmann::json::array();
  OutputFile file(path, "CSV file");
  file.stream() << "space,law,count,decades_1pct,range_from,range_to,fullest_decade,"
                   "emptiest_decade,fullest_over_emptiest\n";
  for (const LawResult* r : rows) {
    const auto decades = decade_counts(r->bins, bins_per_decade_);
    const std::int64_t held = decades_holding(decades, 0.01);
    nlohmann::json j{{"space", r->space}, {"law", r->law}, {"count", r->count},
                     {"decades_1pct", held}};
    std::string spread = ",,,,";
    std::string line = fmt::format("{} {}/{}: {} of {} in at least 1 % of the draws in {} decades",
                                   ctx.stage(), r->space, r->law, metric_, r->count, held);
    if (!range_.empty()) {
      const DecadeSpread d = decade_spread(decades, range_[0], range_[1]);
      const auto ratio = d.ratio();
      spread = fmt::format("{},{},{},{},{}", range_[0], range_[1], d.fullest, d.emptiest,
                           ratio ? fmt::format("{:.4g}", *ratio) : "inf");
      j["range"] = range_;
      j["fullest_decade"] = d.fullest;
      j["emptiest_decade"] = d.emptiest;
      j["fullest_over_emptiest"] = ratio ? nlohmann::json(*ratio) : nlohmann::json(nullptr);
      line += fmt::format("; fullest over emptiest decade of 10^{}..10^{}: {}", range_[0],
                          range_[1], ratio ? fmt::format("{:.3g}", *ratio) : "unbounded (an empty decade)");
    }
    file.stream() << fmt::format("{},{},{},{},{}\n", r->space, r->law, r->count, held, spread);
    if (pool_ ? r->law == "(all)" : true) ctx.info(line);
    out.push_back(std::move(j));
  }
  file.commit();
  return out;
}

// STAGE-windows.csv, for learned laws aimed at a window of this metric: whether the mean ± one
// standard deviation of log10 of the metric of the draws lies within the window.
nlohmann::json StatisticsStrategy::write_windows(
    StageContext& ctx, const std::vector<LawResult>& results,
    const std::map<std::pair<std::string, std::string>, LawTarget>& targets) const {
  nlohmann::json out = nlohmann::json::object();
  std::vector<std::string> lines;
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> per_space;  // within, laws
  std::vector<std::string> order;
  for (const auto& r : results) {
    const auto t = targets.find({r.space, r.law});
    if (t == targets.end() || t->second.metric != metric_) continue;
    const auto [mean, sigma] = log_mean_sigma(r);
    const bool within = r.count > 0 && mean - sigma >= std::log10(t->second.low) &&
                        mean + sigma <= std::log10(t->second.high);
    lines.push_back(fmt::format("{},{},{},{:.6g},{:.6g},{:.6f},{:.6f},{}", r.space, r.law,
                                metric_, t->second.low, t->second.high, mean, sigma,
                                within ? 1 : 0));
    if (!per_space.count(r.space)) order.push_back(r.space);
    auto& [in, all] = per_space[r.space];
    in += within;
    ++all;
  }
  if (lines.empty()) return out;
  namespace fs = std::filesystem;
  const auto path = (fs::path(ctx.output_dir()) / (ctx.stage() + "-windows.csv")).string();
  OutputFile file(path, "CSV file");
  file.stream() << "space,law,metric,window_from,window_to,mean_log10,sigma_log10,within\n";
  for (const auto& l : lines) file.stream() << l << '\n';
  file.commit();
  for (const auto& space : order) {
    const auto [in, all] = per_space[space];
    out[space] = {{"laws", all}, {"within", in}, {"fraction", double(in) / double(all)}};
    ctx.info(fmt::format("{} {}: mean ± sigma of log10 {} within the law's window for {} of {} "
                         "laws ({:.0f} %)",
                         ctx.stage(), space, metric_, in, all, 100.0 * double(in) / double(all)));
  }
  return out;
}

void StatisticsStrategy::check(const StagePlan& plan) const {
  require_spaces(plan, "spaces", spaces_);
  if (!laws_.empty()) plan.require_earlier("laws", laws_);
}

void StatisticsStrategy::run(StageContext& ctx) {
  const std::size_t k = correlate_.size();
  // Version 2: the law key is SpaceEntry::law_key (variables named), for keys and streams.
  // Version 3: results hold the sums of log10 of the metric.
  const UnitKey config = ctx.unit_key(3)
                             .add("per_law", per_law_)
                             .add("metric", metric_)
                             .add("bpd", bins_per_decade_)
                             .add("below", fmt::format("{}", fmt::join(below_, ",")))
                             .add("correlate", fmt::format("{}", fmt::join(correlate_, ",")));
  std::vector<LawResult> results;
  const std::vector<SpaceEntry> spaces = laws_.empty() ? ctx.spaces() : ctx.learned_spaces(laws_);
  // The windows learned laws were aimed at, by space and law name.
  std::map<std::pair<std::string, std::string>, LawTarget> targets;
  if (!laws_.empty())
    for (const LearnedLaw& l : stored_laws(ctx.store(), laws_))
      if (l.target) targets[{l.space, l.law.name}] = *l.target;

  for (const SpaceEntry& entry : spaces) {
    if (!spaces_.empty() && std::find(spaces_.begin(), spaces_.end(), entry.name) == spaces_.end())
      continue;
    for (const SamplingLaw& law : entry.laws) {
      const std::string law_key = entry.law_key(law);
      const UnitKey key = UnitKey(config).add(law_key).add("seed", ctx.seed());
      LawResult r;
      r.space = entry.name;
      r.law = law.name;
      r.sums.resize(k);
      const std::string stored = ctx.once(key, "statistics.law", [&] {
        Sampler sampler(*entry.space, law,
                        content_seed(fmt::format("{}|{}", ctx.seed(), law_key)));
        // Fixed chunks, reduced in chunk order: the same sums whatever the thread count.
        constexpr std::int64_t chunk = 4096;
        const std::int64_t chunks = (per_law_ + chunk - 1) / chunk;
        std::vector<LawResult> parts(static_cast<std::size_t>(chunks));
        Progress progress(fmt::format("{} {}/{}", ctx.stage(), entry.name, law.name),
                          std::uint64_t(per_law_), "architectures");
        parallel_chunks(std::uint64_t(chunks), 1, ctx.threads(),
                        [&](std::uint64_t first, std::uint64_t last) {
          for (std::int64_t c = std::int64_t(first); c < std::int64_t(last); ++c) {
            LawResult& part = parts[std::size_t(c)];
            part.sums.resize(k);
            part.below.assign(below_.size(), 0);
            part.min = std::numeric_limits<std::int64_t>::max();
            std::vector<double> x(k);
            const std::int64_t end = std::min(per_law_, (c + 1) * chunk);
            for (std::int64_t i = c * chunk; i < end; ++i) {
              const auto s = sampler.draw(std::uint64_t(i));
              part.rejected += s.rejected;
              ++part.count;
              const std::int64_t v = s.metrics.get(metric_);
              part.min = std::min(part.min, v);
              part.max = std::max(part.max, v);
              const std::int64_t bin =
                  v > 0 ? std::int64_t(std::floor(std::log10(double(v)) * double(bins_per_decade_)))
                        : -1;
              ++part.bins[bin];
              for (std::size_t t = 0; t < below_.size(); ++t) part.below[t] += v < below_[t];
              const double lv = std::log10(std::max<double>(1, double(v)));
              part.log_sum += lv;
              part.log_sum2 += lv * lv;
              for (std::size_t m = 0; m < k; ++m)
                x[m] = std::log10(std::max<double>(1, double(s.metrics.get(correlate_[m]))));
              if (k) part.sums.add(x);
            }
          }
        });
        progress.update(std::uint64_t(per_law_));
        progress.finish();
        LawResult total;
        total.sums.resize(k);
        total.below.assign(below_.size(), 0);
        total.min = std::numeric_limits<std::int64_t>::max();
        for (const auto& part : parts) {
          total.merge(part);
          for (std::size_t t = 0; t < below_.size(); ++t) total.below[t] += part.below[t];
          if (k) total.sums.merge(part.sums);
        }
        nlohmann::json bins = nlohmann::json::array();
        for (const auto& [b, n] : total.bins) bins.push_back({b, n});
        return StageContext::UnitOutput{nlohmann::json{{"space", entry.name},
                                                       {"law", law.name},
                                                       {"count", total.count},
                                                       {"rejected", total.rejected},
                                                       {"min", total.min},
                                                       {"max", total.max},
                                                       {"log_sum", total.log_sum},
                                                       {"log_sum2", total.log_sum2},
                                                       {"bins", bins},
                                                       {"below", below_},
                                                       {"below_counts", total.below},
                                                       {"sums", total.sums.to_json()}}
                                            .dump(),
                                        {}};
      });
      // A result computed now and one stored before read the same way.
      const auto j = nlohmann::json::parse(stored);
      r.count = j.at("count");
      r.rejected = j.at("rejected");
      r.min = j.at("min");
      r.max = j.at("max");
      r.log_sum = j.at("log_sum");
      r.log_sum2 = j.at("log_sum2");
      for (const auto& b : j.at("bins"))
        r.bins[b.at(0).get<std::int64_t>()] = b.at(1).get<std::int64_t>();
      r.below = j.at("below_counts").get<std::vector<std::int64_t>>();
      r.sums = Sums::from_json(j.at("sums"));
      results.push_back(std::move(r));
    }
  }

  // All the laws of each space together, when asked.
  std::vector<LawResult> pooled;
  if (pool_)
    for (const auto& r : results) {
      if (pooled.empty() || pooled.back().space != r.space) {
        pooled.emplace_back();
        pooled.back().space = r.space;
        pooled.back().law = "(all)";
        pooled.back().min = std::numeric_limits<std::int64_t>::max();
      }
      pooled.back().merge(r);
    }
  std::vector<const LawResult*> rows;
  for (const auto& r : results) rows.push_back(&r);
  for (const auto& r : pooled) rows.push_back(&r);

  // Tables next to the store.
  namespace fs = std::filesystem;
  const auto hist_path = (fs::path(ctx.output_dir()) / (ctx.stage() + "-histogram.csv")).string();
  const auto corr_path = (fs::path(ctx.output_dir()) / (ctx.stage() + "-correlation.csv")).string();
  {
    OutputFile file(hist_path, "CSV file");
    std::ostream& out = file.stream();
    out << "space,law," << metric_ << "_from," << metric_ << "_to,count\n";
    for (const LawResult* r : rows)
      for (const auto& [b, n] : r->bins) {
        const double lo = b < 0 ? 0 : std::pow(10.0, double(b) / double(bins_per_decade_));
        const double hi = b < 0 ? 1 : std::pow(10.0, double(b + 1) / double(bins_per_decade_));
        out << fmt::format("{},{},{:.6g},{:.6g},{}\n", r->space, r->law, lo, hi, n);
      }
    file.commit();
  }
  const nlohmann::json coverage = write_coverage(ctx, rows);
  const nlohmann::json windows = write_windows(ctx, results, targets);
  nlohmann::json correlations = nlohmann::json::array();
  {
    OutputFile file(corr_path, "CSV file");
    std::ostream& out = file.stream();
    out << "scope,metric_a,metric_b,pearson_log10,count\n";
    auto write = [&](const std::string& scope, const Sums& s) {
      std::size_t p = 0;
      for (std::size_t i = 0; i < k; ++i)
        for (std::size_t j = i + 1; j < k; ++j, ++p) {
          const double r = s.pearson(i, j, p);
          out << fmt::format("{},{},{},{:.6f},{}\n", scope, correlate_[i], correlate_[j], r, s.n);
          correlations.push_back(
              {{"scope", scope}, {"a", correlate_[i]}, {"b", correlate_[j]}, {"pearson", r}});
        }
    };
    if (k) {
      Sums all;
      all.resize(k);
      std::map<std::string, Sums> per_space;
      std::vector<std::string> order;
      for (const auto& r : results) {
        write(r.space + "/" + r.law, r.sums);
        if (!per_space.count(r.space)) {
          per_space[r.space].resize(k);
          order.push_back(r.space);
        }
        per_space[r.space].merge(r.sums);
        all.merge(r.sums);
      }
      for (const auto& sp : order) write(sp, per_space[sp]);
      write("all", all);
    }
    file.commit();
  }

  nlohmann::json laws = nlohmann::json::array();
  for (const auto& r : results) {
    nlohmann::json below = nlohmann::json::object();
    for (std::size_t t = 0; t < below_.size(); ++t) below[std::to_string(below_[t])] = r.below[t];
    laws.push_back({{"space", r.space},
                    {"law", r.law},
                    {"count", r.count},
                    {"rejected", r.rejected},
                    {"min", r.min},
                    {"max", r.max},
                    {"below", below}});
    std::string b;
    for (std::size_t t = 0; t < below_.size(); ++t)
      b += fmt::format(", {} below {}", r.below[t], below_[t]);
    ctx.info(fmt::format("{} {}/{}: {} architectures, {} {}..{}{}", ctx.stage(), r.space, r.law,
                         r.count, metric_, r.min, r.max, b));
  }
  ctx.set_summary(nlohmann::json{
      {"metric", metric_},
      {"laws", laws},
      {"correlations", correlations},
      {"coverage", coverage},
      {"windows", windows},
      {"histogram_csv", hist_path},
      {"correlation_csv",
       corr_path}}.dump());
}

}  // namespace narrow::strategies
