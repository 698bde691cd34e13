#include "narrow/width_scaling.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include <fmt/format.h>

#include "narrow/errors.hpp"
#include "narrow/metrics.hpp"

namespace narrow {
namespace {

// A channel count as a function of the free widths: constant + sum of coef * width(group).
// Groups are indices into WidthPlan::groups before union; `canonical` maps them to roots.
struct WidthExpr {
  std::map<int, std::int64_t> terms;  // group -> coefficient
  std::int64_t constant = 0;
  WidthExpr& operator+=(const WidthExpr& o) {
    for (auto [g, k] : o.terms) terms[g] += k;
    constant += o.constant;
    return *this;
  }
  WidthExpr times(std::int64_t k) const {
    WidthExpr e = *this;
    for (auto& t : e.terms) t.second *= k;
    e.constant *= k;
    return e;
  }
  friend bool operator==(const WidthExpr&, const WidthExpr&) = default;
};

// How each width of an architecture scales: the analysis of the rules in width_scaling.hpp,
// made once per architecture.
class WidthPlan {
 public:
  explicit WidthPlan(const Architecture& a) : arch_(a) {
    if (!arch_.finalized()) arch_.finalize();
    build_expressions();
    tie_widths();
  }

  // The scaled architecture for `factor`.
  Architecture apply(double factor) const {
    std::map<int, std::int64_t> width;  // by root
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      const int r = root(int(g));
      if (r != int(g)) continue;
      const Group& G = groups_[g];
      const std::int64_t m = multiple_.at(r);
      width[r] = G.fixed ? G.width
                         : m * std::max<std::int64_t>(
                                   1, std::llround(double(G.width) * factor / double(m)));
    }
    auto eval = [&](const WidthExpr& e) {
      std::int64_t c = e.constant;
      for (auto [g, k] : e.terms) c += k * width.at(root(g));
      return c;
    };
    Architecture out(arch_.input(), arch_.classes());
    out.reserve(arch_.layers().size());
    for (std::size_t i = 0; i < arch_.layers().size(); ++i) {
      Layer l = arch_.layers()[i];
      if (group_of_[i] >= 0) l.out_channels = width.at(root(group_of_[i]));
      if (depthwise_[i] > 0) {
        const std::int64_t in = eval(input_expr(i, 0));
        l.groups = in;
        l.out_channels = depthwise_[i] * in;
      }
      out.add(std::move(l));
    }
    out.set_output(arch_.output());
    out.finalize();
    return out;
  }

  // Representative factors of the distinct width assignments, ascending (see the header).
  std::vector<double> factors() const {
    // A free group of width W rounded to multiples of m changes at f = (2k+1) m / (2W),
    // k = 0 .. W/m - 1: kept as exact fractions, so that equal change points count once.
    struct Frac {
      std::int64_t num, den;
    };
    std::vector<Frac> points;
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      if (root(int(g)) != int(g) || groups_[g].fixed) continue;
      const std::int64_t W = groups_[g].width, m = multiple_.at(int(g));
      for (std::int64_t k = 0; k < W / m; ++k) points.push_back({(2 * k + 1) * m, 2 * W});
    }
    auto less = [](const Frac& a, const Frac& b) { return a.num * b.den < b.num * a.den; };
    auto same = [](const Frac& a, const Frac& b) { return a.num * b.den == b.num * a.den; };
    std::sort(points.begin(), points.end(), less);
    points.erase(std::unique(points.begin(), points.end(), same), points.end());
    auto value = [](const Frac& f) { return double(f.num) / double(f.den); };
    std::vector<double> out;
    if (points.empty()) return {1.0};
    out.push_back(value(points.front()) / 2);
    for (std::size_t j = 0; j + 1 < points.size(); ++j)
      out.push_back((value(points[j]) + value(points[j + 1])) / 2);
    out.push_back(1.0);
    return out;
  }

 private:
  struct Group {
    std::int64_t width = 0;  // the width before scaling
    bool fixed = false;      // keeps its width
    int parent = -1;         // union-find; -1: a root
  };

  int root(int g) const {
    while (groups_[std::size_t(g)].parent >= 0) g = groups_[std::size_t(g)].parent;
    return g;
  }

  const WidthExpr& input_expr(std::size_t layer, std::size_t k) const {
    const int j = arch_.input_indices(layer)[k];
    return j < 0 ? input_ : expr_[std::size_t(j)];
  }

  // The expression of every layer's output channel count, and the free widths.
  void build_expressions() {
    const auto& layers = arch_.layers();
    input_.constant = arch_.input().c;
    expr_.resize(layers.size());
    group_of_.assign(layers.size(), -1);
    depthwise_.assign(layers.size(), 0);
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const Layer& l = layers[i];
      const auto& ins = arch_.input_indices(i);
      auto in_shape = [&](std::size_t k) {
        return ins[k] < 0 ? arch_.input() : arch_.shape(std::size_t(ins[k]));
      };
      WidthExpr e;
      switch (l.op) {
        case Op::conv2d:
          if (l.groups > 1 && l.groups == in_shape(0).c) {
            depthwise_[i] = l.out_channels / l.groups;
            e = input_expr(i, 0).times(depthwise_[i]);
            break;
          }
          [[fallthrough]];
        case Op::linear:
          group_of_[i] = int(groups_.size());
          groups_.push_back(Group{l.out_channels, false, -1});
          e.terms[group_of_[i]] = 1;
          break;
        case Op::flatten: {
          const Shape s = in_shape(0);
          e = input_expr(i, 0).times(s.h * s.w);
          break;
        }
        case Op::concat:
          for (std::size_t k = 0; k < ins.size(); ++k) e += input_expr(i, k);
          break;
        default:  // add and the ops that keep channels
          e = input_expr(i, 0);
      }
      expr_[i] = std::move(e);
    }
  }

  // The expression in roots, with fixed widths folded into the constant.
  WidthExpr canonical(const WidthExpr& e) const {
    WidthExpr c;
    c.constant = e.constant;
    for (auto [g, k] : e.terms) {
      const int r = root(g);
      if (groups_[std::size_t(r)].fixed)
        c.constant += k * groups_[std::size_t(r)].width;
      else
        c.terms[r] += k;
    }
    return c;
  }

  bool fix(const WidthExpr& canon) {
    bool changed = false;
    for (auto [r, k] : canon.terms) {
      changed = changed || !groups_[std::size_t(r)].fixed;
      groups_[std::size_t(r)].fixed = true;
    }
    return changed;
  }

  static bool single(const WidthExpr& e) {
    return e.constant == 0 && e.terms.size() == 1 && e.terms.begin()->second == 1;
  }

  // Ties the widths of adds, fixes what cannot scale, and finds the multiple each free width
  // is rounded to; repeated until nothing changes (each pass only ties or fixes more).
  void tie_widths() {
    const auto& layers = arch_.layers();
    fix(canonical(expr_[arch_.output_index()]));
    for (bool changed = true; changed;) {
      changed = false;
      for (std::size_t i = 0; i < layers.size(); ++i) {
        if (layers[i].op != Op::add) continue;
        const WidthExpr first = canonical(input_expr(i, 0));
        for (std::size_t k = 1; k < arch_.input_indices(i).size(); ++k) {
          const WidthExpr other = canonical(input_expr(i, k));
          if (other == first) continue;
          if (single(first) && single(other)) {
            groups_[std::size_t(other.terms.begin()->first)].parent = first.terms.begin()->first;
          } else {
            fix(first);
            fix(other);
          }
          changed = true;
        }
      }
      if (changed) continue;
      // Grouped convolutions: what they read and write must stay a multiple of their groups.
      multiple_.clear();
      for (std::size_t g = 0; g < groups_.size(); ++g) multiple_[root(int(g))] = 1;
      auto need = [&](int r, std::int64_t m) { multiple_[r] = std::lcm(multiple_[r], m); };
      for (std::size_t i = 0; i < layers.size() && !changed; ++i) {
        const Layer& l = layers[i];
        if (l.op != Op::conv2d || l.groups <= 1 || depthwise_[i] > 0) continue;
        const WidthExpr in = canonical(input_expr(i, 0));
        if (in.constant % l.groups != 0) {
          changed = fix(in);
          continue;
        }
        for (auto [r, k] : in.terms) need(r, l.groups / std::gcd(l.groups, k));
        const int own = root(group_of_[i]);
        if (!groups_[std::size_t(own)].fixed) need(own, l.groups);
      }
      if (changed) continue;
      for (auto& [r, m] : multiple_) {
        Group& G = groups_[std::size_t(r)];
        if (!G.fixed && G.width % m != 0) G.fixed = changed = true;
      }
    }
  }

  Architecture arch_;
  WidthExpr input_;
  std::vector<WidthExpr> expr_;
  std::vector<Group> groups_;
  std::vector<int> group_of_;             // by layer: its width group, or -1
  std::vector<std::int64_t> depthwise_;   // by layer: channel multiplier of a depthwise conv
  std::map<int, std::int64_t> multiple_;  // by root: free widths round to multiples of it
};

}  // namespace

Architecture scale_widths(const Architecture& a, double factor) {
  if (!(factor > 0) || !std::isfinite(factor))
    throw InputError(fmt::format("width factor {} must be a number > 0", factor));
  return WidthPlan(a).apply(factor);
}

std::vector<double> distinct_width_factors(const Architecture& a) {
  return WidthPlan(a).factors();
}

ShrunkModel shrink_to_budget(const Architecture& a, const std::string& metric, double budget) {
  Metrics probe;
  (void)probe.get(metric);  // an unknown name is an InputError before any work
  const WidthPlan plan(a);
  const std::vector<double> factors = plan.factors();
  // The metric of every assignment tried, by index into `factors`.
  std::map<std::size_t, std::pair<Architecture, std::int64_t>> tried;
  auto at = [&](std::size_t j) -> const std::pair<Architecture, std::int64_t>& {
    auto it = tried.find(j);
    if (it == tried.end()) {
      Architecture s = plan.apply(factors[j]);
      const std::int64_t v = analyse(s).get(metric);
      it = tried.emplace(j, std::pair{std::move(s), v}).first;
    }
    return it->second;
  };
  auto fits = [&](std::size_t j) { return double(at(j).second) <= budget; };

  ShrunkModel out;
  if (!fits(0)) {
    out.architecture = at(0).first;
    out.value = at(0).second;
    out.factor = factors[0];
    out.next_factor = factors.size() > 1 ? std::optional(factors[1]) : std::nullopt;
    return out;
  }
  // Bisection: factors[lo] fits; factors[hi] does not (or hi is one past the end).
  std::size_t lo = 0, hi = factors.size();
  while (hi - lo > 1) {
    const std::size_t mid = lo + (hi - lo) / 2;
    (fits(mid) ? lo : hi) = mid;
  }
  // The metrics of narrow grow with every width, so this is the answer; the wider neighbours
  // are checked all the same, so that a metric with a rounding step downwards is not missed.
  while (lo + 1 < factors.size() && fits(lo + 1)) ++lo;
  out.fits = true;
  out.architecture = at(lo).first;
  out.value = at(lo).second;
  out.factor = factors[lo];
  if (lo + 1 < factors.size()) out.next_factor = factors[lo + 1];
  return out;
}

}  // namespace narrow
