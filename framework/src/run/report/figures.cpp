#include "run/report/figures.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "narrow/pareto.hpp"

namespace narrow::report {

namespace {

// Colours of the series, the format families' first (float32, 16-bit, 8-bit, below 8 bits).
const std::vector<std::string> kColours{"#1f77b4", "#2ca02c", "#ff7f0e", "#d62728",
                                        "#9467bd", "#8c564b", "#e377c2", "#17becf"};

// A reference model's name beside its marker (float32 in Figure 5).
constexpr const char* kReferenceLabels = "labels left offset char 1.2,0.9 font ',10' tc rgb 'black' noenhanced";

std::string colour(std::size_t i) { return kColours[i % kColours.size()]; }

// The colour of the n-th series of a kind of law: greys for the uniform law, blues for
// hand-made laws, reds for learned laws.
std::string group_colour(const std::string& group, std::size_t n) {
  static const std::vector<std::string> uniform{"#595959", "#a6a6a6"},
      handmade{"#1f77b4", "#17becf", "#6baed6"}, learned{"#d62728", "#ff7f0e", "#e377c2"};
  const auto& list = group == "uniform law"      ? uniform
                     : group == "hand-made laws" ? handmade
                     : group == "learned laws"   ? learned
                                                 : kColours;
  return list[n % list.size()];
}

Cell optional_ms(const std::optional<double>& seconds) {
  return seconds ? real_cell(*seconds * 1e3) : Cell{std::monostate{}};
}

// The front of (cost, accuracy) pairs, by narrow/pareto.hpp's pareto_front: the cost goes
// where it reads weight bytes (an integer: callers scale it to keep its resolution).
std::vector<std::size_t> front_of(const std::vector<std::pair<std::int64_t, double>>& points) {
  std::vector<PrecisionPoint> p(points.size());
  for (std::size_t i = 0; i < points.size(); ++i) {
    p[i].result.weight_bytes = points[i].first;
    p[i].result.evaluation.accuracy = points[i].second;
  }
  return pareto_front(p);
}

}  // namespace

const char* const kReferenceMarker = "points pt 12 ps 2.2 lw 2 lc rgb 'black'";

Plot accuracy_plot(const std::string& name, const std::string& title, const std::string& xlabel) {
  Plot p;
  p.name = name;
  p.title = title;
  p.xlabel = xlabel;
  p.ylabel = "test accuracy (%)";
  p.logx = true;
  p.settings = {"set key bottom right box opaque"};
  return p;
}

Table models_table(const std::vector<Model>& models) {
  Table t{"models", "Trained models", {}, {}};
  t.columns = {"training", "stage", "hash", "status", "reference"};
  for (auto name : metric_names) t.columns.emplace_back(name);
  for (const char* c : {"val_accuracy_pct", "test_accuracy_pct", "latency_ms", "latency_source",
                        "epochs", "seconds"})
    t.columns.emplace_back(c);
  for (const auto& m : models) {
    std::vector<Cell> row{m.key, m.stage, m.hash, m.status, m.reference};
    for (auto name : metric_names) row.emplace_back(m.metrics.get(name));
    row.push_back(real_cell(m.val_accuracy * 100));
    row.push_back(real_cell(m.test_accuracy * 100));
    row.push_back(optional_ms(m.latency_seconds));
    row.emplace_back(m.latency_source);
    row.emplace_back(m.epochs);
    row.push_back(real_cell(m.seconds));
    t.add(std::move(row));
  }
  return t;
}

Figure histogram_figure(const std::vector<Histogram>& histograms) {
  Figure f;
  f.name = "fig1_4_params_histograms";
  f.title = "Figures 1 and 4: parameters of the sampled architectures";
  f.caption =
      "Histograms of log10(parameters) of the architectures each sampling stage drew, one "
      "series per stage and kind of law: the uniform law over the whole space, hand-made laws "
      "and laws learned by a law search (greys, blues and reds). Each step is the share of that "
      "series' draws per tenth of a decade (statistics stages keep bins of their own width: a "
      "bin's share is divided by the tenths of a decade it spans).";
  f.table = Table{"fig1_4_params_histograms", "Histogram bins per stage and law",
                  {"stage", "space", "law", "group", "source", "params_from", "params_to", "count",
                   "share_pct"},
                  {}};
  // One series per (stage, group, bins per decade): the laws of the group pooled.
  std::map<std::tuple<std::string, std::string, int>, std::pair<std::map<std::int64_t, std::int64_t>,
                                                                std::int64_t>>
      pooled;
  for (const auto& h : histograms) {
    const double bpd = h.bins_per_decade;
    for (const auto& [b, n] : h.bins)
      f.table.add({h.stage, h.space, h.law, h.group, h.source, real_cell(std::pow(10.0, b / bpd)),
                   real_cell(std::pow(10.0, (b + 1) / bpd)), n,
                   real_cell(100.0 * double(n) / double(h.count))});
    auto& [bins, count] = pooled[{h.stage, h.group, h.bins_per_decade}];
    for (const auto& [b, n] : h.bins) bins[b] += n;
    count += h.count;
  }
  if (pooled.empty()) {
    f.omitted = "the store holds no accepted draws of a sampling stage and no statistics stage "
                "of params";
    return f;
  }
  Plot p;
  p.name = f.name;
  p.title = "Parameters of the sampled architectures";
  p.xlabel = "parameters (count, log10 scale)";
  p.ylabel = "share of the series' draws per tenth of a decade (%)";
  p.settings = {"set format x '10^{%.0f}'", "set xtics 1", "set key below", "set yrange [0:*]"};
  p.height = 640;
  std::map<std::string, std::size_t> per_group;
  for (const auto& [key, value] : pooled) {
    const auto& [stage, group, bpd] = key;
    Series s;
    s.title = fmt::format("{}: {} ({} draws)", stage, group, value.second);
    s.style = fmt::format("histeps lw 2 lc rgb '{}'", group_colour(group, per_group[group]++));
    // Every bin from one below the first to one above the last, empty ones as 0, so that the
    // outline starts and ends on the axis and crosses gaps at 0.
    const auto& bins = value.first;
    for (std::int64_t b = bins.begin()->first - 1; b <= bins.rbegin()->first + 1; ++b) {
      const auto it = bins.find(b);
      const double n = it == bins.end() ? 0.0 : double(it->second);
      // Per tenth of a decade, so that stages of other bin widths compare.
      s.rows.push_back({(double(b) + 0.5) / bpd, 100.0 * n / double(value.second) * bpd / 10.0});
    }
    p.series.push_back(std::move(s));
  }
  f.plot = std::move(p);
  return f;
}

std::optional<double> log_pearson(const std::vector<double>& a, const std::vector<double>& b,
                                  std::size_t& pairs) {
  double sxx = 0, syy = 0, sxy = 0;
  pairs = 0;
  std::vector<std::pair<double, double>> v;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i)
    if (a[i] > 0 && b[i] > 0 && std::isfinite(a[i]) && std::isfinite(b[i]))
      v.emplace_back(std::log10(a[i]), std::log10(b[i]));
  pairs = v.size();
  if (v.size() < 3) return std::nullopt;
  double mx = 0, my = 0;
  for (const auto& [x, y] : v) mx += x, my += y;
  mx /= double(v.size());
  my /= double(v.size());
  for (const auto& [x, y] : v) {
    sxx += (x - mx) * (x - mx);
    syy += (y - my) * (y - my);
    sxy += (x - mx) * (y - my);
  }
  if (sxx <= 1e-24 || syy <= 1e-24) return std::nullopt;
  return std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
}

Figure correlation_figure(const std::vector<ArchitecturePoint>& accepted) {
  Figure f;
  f.name = "fig2_metric_correlation";
  f.title = "Figure 2: correlation of the metrics";
  f.caption =
      "Pearson correlation coefficient r of the log10 values of each pair of metrics over the "
      "distinct accepted architectures (latency: those measured), drawn as a heat map with r "
      "written in each cell.";
  f.table = Table{"fig2_metric_correlation", "Pearson r of log10 metrics",
                  {"metric_a", "metric_b", "pearson_log10", "count"}, {}};
  std::vector<std::pair<std::string, std::vector<double>>> columns;
  for (const char* m : {"params", "macs", "weight_bytes", "activation_peak_bytes", "memory_eq6_bytes"}) {
    std::vector<double> v;
    for (const auto& a : accepted) v.push_back(double(a.metrics.get(m)));
    columns.emplace_back(m, std::move(v));
  }
  std::vector<double> latency;
  std::size_t measured = 0;
  for (const auto& a : accepted) {
    latency.push_back(a.latency_seconds ? *a.latency_seconds * 1e3 : std::nan(""));
    measured += a.latency_seconds.has_value();
  }
  if (measured >= 3) columns.emplace_back("latency_ms", std::move(latency));
  if (accepted.size() < 3) {
    f.omitted = fmt::format("{} accepted architectures in the store; a correlation needs at least 3",
                            accepted.size());
    return f;
  }
  Plot p;
  p.name = f.name;
  p.title = fmt::format("Pearson r of log10 metrics over {} accepted architectures", accepted.size());
  p.xlabel = "metric (log10 of its value)";
  p.ylabel = "metric (log10 of its value)";
  p.width = 820;
  p.height = 720;
  const int n = int(columns.size());
  std::string tics;
  for (int i = 0; i < n; ++i) tics += fmt::format("{}{} {}", i ? ", " : "", gnuplot_quote(columns[i].first), i);
  p.settings = {fmt::format("set xtics ({}) rotate by 30 right noenhanced", tics),
                fmt::format("set ytics ({}) noenhanced", tics),
                fmt::format("set xrange [-0.5:{}]", n - 0.5),
                fmt::format("set yrange [{}:-0.5]", n - 0.5),
                "unset grid", "set size ratio -1",
                "set palette defined (-1 '#2166ac', 0 '#f7f7f7', 1 '#b2182b')",
                "set cbrange [-1:1]", "set cblabel 'Pearson r'", "set style fill solid 1.0 noborder"};
  Series cells, labels;
  cells.using_columns = "1:2:(0.5):(0.5):3";
  cells.style = "boxxyerror lc palette";
  labels.using_columns = "1:2:4";
  labels.style = "labels font ',11'";
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      std::size_t pairs = 0;
      const auto r = log_pearson(columns[i].second, columns[j].second, pairs);
      f.table.add({columns[i].first, columns[j].first, r ? Cell{*r} : Cell{}, std::int64_t(pairs)});
      if (!r) continue;
      cells.rows.push_back({double(j), double(i), *r});
      labels.rows.push_back({double(j), double(i), *r});
      labels.labels.push_back(fmt::format("{:.2f}", *r));
    }
  if (cells.rows.empty()) {
    f.omitted = "no pair of metrics varies over the accepted architectures";
    return f;
  }
  p.series = {std::move(cells), std::move(labels)};
  f.plot = std::move(p);
  return f;
}

Figure memory_figure(const std::vector<FormatPoint>& points) {
  Figure f;
  f.name = "fig5_accuracy_memory";
  f.title = "Figure 5: accuracy against weight memory";
  f.caption =
      "Test accuracy of every trained model in every number format it was evaluated in, against "
      "the bytes a device stores for its weights in that format, one colour per format family "
      "(float32; 16-bit: 9 to 31 bits; 8-bit; below 8 bits). The step lines are each family's "
      "Pareto front; open diamonds mark the reference models.";
  f.table = Table{"fig5_accuracy_memory", "Models in number formats",
                  {"training", "hash", "reference", "format", "family", "bits", "weight_bytes",
                   "test_accuracy_pct", "front"},
                  {}};
  for (const auto& p : points)
    f.table.add({p.training, p.hash, p.reference, p.format, p.family, std::int64_t(p.bits),
                 p.weight_bytes, real_cell(p.accuracy * 100), std::int64_t(p.front)});
  if (points.empty()) {
    f.omitted = "the store holds no successful training";
    return f;
  }
  Plot p = accuracy_plot(f.name, "Test accuracy against weight memory",
                         "weight memory (bytes, log scale)");
  std::map<int, std::string> families;
  for (const auto& q : points) families[family_rank(q.family)] = q.family;
  for (const auto& [rank, family] : families) {
    Series dots, front;
    dots.title = family;
    dots.style = fmt::format("points pt 7 ps 0.7 lc rgb '{}'", colour(std::size_t(rank)));
    front.title = family + " front";
    front.style = fmt::format("steps lw 2 lc rgb '{}'", colour(std::size_t(rank)));
    std::vector<std::pair<double, double>> line;
    for (const auto& q : points) {
      if (q.family != family) continue;
      dots.rows.push_back({double(q.weight_bytes), q.accuracy * 100});
      if (q.front) line.emplace_back(double(q.weight_bytes), q.accuracy * 100);
    }
    std::sort(line.begin(), line.end());
    for (const auto& [x, y] : line) front.rows.push_back({x, y});
    p.series.push_back(std::move(dots));
    p.series.push_back(std::move(front));
  }
  Series refs, names;
  refs.title = "reference models";
  refs.style = kReferenceMarker;
  names.using_columns = "1:2:3";
  names.style = kReferenceLabels;
  for (const auto& q : points) {
    if (q.reference.empty()) continue;
    refs.rows.push_back({double(q.weight_bytes), q.accuracy * 100});
    if (q.family != "float32") continue;
    names.rows.push_back({double(q.weight_bytes), q.accuracy * 100});
    names.labels.push_back(q.reference);
  }
  if (!refs.rows.empty()) p.series.push_back(std::move(refs));
  if (!names.rows.empty()) p.series.push_back(std::move(names));
  f.plot = std::move(p);
  return f;
}

Figure latency_figure(const std::vector<Model>& models) {
  Figure f;
  f.name = "fig7_accuracy_latency";
  f.title = "Figure 7: accuracy against latency";
  f.caption =
      "Test accuracy (float32) of the trained models against their latency on the experiment's "
      "device (per inference, batch 1): measured where a stage measured it (filled dots), else "
      "predicted by the device (open circles), with the Pareto front as a step line; open "
      "diamonds mark the reference models.";
  f.table = Table{"fig7_accuracy_latency", "Models with a measured or predicted latency",
                  {"training", "hash", "reference", "latency_ms", "latency_source",
                   "test_accuracy_pct", "front"},
                  {}};
  std::vector<const Model*> measured;
  for (const auto& m : models)
    if (m.status == "ok" && m.latency_seconds && *m.latency_seconds > 0) measured.push_back(&m);
  std::vector<std::pair<std::int64_t, double>> costs;
  for (const auto* m : measured)
    costs.emplace_back(std::llround(*m->latency_seconds * 1e9), m->test_accuracy);  // ns
  std::vector<bool> on_front(measured.size(), false);
  for (std::size_t i : front_of(costs)) on_front[i] = true;
  for (std::size_t i = 0; i < measured.size(); ++i)
    f.table.add({measured[i]->key, measured[i]->hash, measured[i]->reference,
                 real_cell(*measured[i]->latency_seconds * 1e3), measured[i]->latency_source,
                 real_cell(measured[i]->test_accuracy * 100), std::int64_t(on_front[i])});
  if (measured.empty()) {
    f.omitted = "no trained model has a measured or predicted latency (a train stage measures "
                "latency when the experiment has a latency bound and its device measures; a "
                "device that predicts, such as `calibrated` or `analytic`, gives the rest)";
    return f;
  }
  Plot p = accuracy_plot(f.name, "Test accuracy against latency",
                         "latency (ms per inference, log scale)");
  Series dots, front, refs, names;
  names.using_columns = "1:2:3";
  names.style = kReferenceLabels;
  Series predicted;
  dots.title = "trained models, measured";
  dots.style = fmt::format("points pt 7 ps 0.8 lc rgb '{}'", colour(0));
  predicted.title = "trained models, predicted";
  predicted.style = fmt::format("points pt 6 ps 0.9 lc rgb '{}'", colour(0));
  front.title = "front";
  front.style = fmt::format("steps lw 2 lc rgb '{}'", colour(3));
  refs.title = "reference models";
  refs.style = kReferenceMarker;
  std::vector<std::pair<double, double>> line;
  for (std::size_t i = 0; i < measured.size(); ++i) {
    const double x = *measured[i]->latency_seconds * 1e3, y = measured[i]->test_accuracy * 100;
    (measured[i]->latency_source == "predicted" ? predicted : dots).rows.push_back({x, y});
    if (on_front[i]) line.emplace_back(x, y);
    if (measured[i]->reference.empty()) continue;
    refs.rows.push_back({x, y});
    names.rows.push_back({x, y});
    names.labels.push_back(measured[i]->reference);
  }
  std::sort(line.begin(), line.end());
  for (const auto& [x, y] : line) front.rows.push_back({x, y});
  p.series.clear();
  if (!dots.rows.empty()) p.series.push_back(std::move(dots));
  if (!predicted.rows.empty()) p.series.push_back(std::move(predicted));
  p.series.push_back(std::move(front));
  if (!refs.rows.empty()) p.series.push_back(std::move(refs));
  if (!names.rows.empty()) p.series.push_back(std::move(names));
  f.plot = std::move(p);
  return f;
}

}  // namespace narrow::report
