// The moves of adaptive architecture learning (narrow/moves.hpp).
#include "narrow/moves.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include <fmt/format.h>

namespace narrow {

namespace {

// "conv3.filters" -> "filters"; a name without a dot is its own role.
std::string role_of(const std::string& name) {
  const auto dot = name.find('.');
  return dot == std::string::npos ? name : name.substr(dot + 1);
}

// A uniform integer in [lo, hi].
std::int64_t uniform(Rng& rng, std::int64_t lo, std::int64_t hi) {
  return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
}

}  // namespace

std::vector<LayerGroup> layer_groups(const std::vector<Variable>& vars) {
  std::vector<LayerGroup> out;
  for (std::size_t d = 0; d < vars.size(); ++d) {
    LayerGroup g;
    g.depth = d;
    for (std::size_t i = 0; i < vars.size(); ++i) {
      const Variable& v = vars[i];
      if (v.depends_on != int(d) || v.depends_min < 1) continue;
      const auto layer = std::size_t(v.depends_min);
      if (g.layers.size() < layer) g.layers.resize(layer);
      g.layers[layer - 1].push_back(i);
    }
    if (g.layers.empty()) continue;  // not a depth variable
    // Every layer from 1 to the depth's maximum, each with the same roles in the same order.
    bool same = std::int64_t(g.layers.size()) == vars[d].max && !g.layers.front().empty();
    for (std::size_t i : g.layers.front()) g.roles.push_back(role_of(vars[i].name));
    for (const auto& layer : g.layers) {
      if (!same || layer.size() != g.roles.size()) {
        same = false;
        break;
      }
      for (std::size_t r = 0; r < layer.size(); ++r)
        same = same && role_of(vars[layer[r]].name) == g.roles[r] &&
               vars[layer[r]].kind == vars[g.layers.front()[r]].kind;
    }
    if (same) out.push_back(std::move(g));
  }
  return out;
}

std::optional<std::int64_t> scaled_value(const Variable& v, std::int64_t value, int direction,
                                         const MoveFactors& f) {
  std::int64_t next = value;
  if (v.kind == Variable::Kind::choice) {
    next = value + (direction > 0 ? 1 : -1);
  } else {
    const double factor = direction > 0 ? f.up : f.down;
    next = std::llround(double(value) * factor);
    // At least one step, so that small values move too (1 x 1.5 rounds to 2, 2 x 0.66 to 1).
    if (direction > 0 && next <= value) next = value + 1;
    if (direction < 0 && next >= value) next = value - 1;
  }
  next = std::clamp(next, v.min, v.max);
  if (next == value) return std::nullopt;
  return next;
}

std::string Move::text(const std::vector<Variable>& vars,
                       const std::vector<LayerGroup>& groups) const {
  if (kind == Kind::scale)
    return fmt::format("{} {}", vars.at(variable).name, direction > 0 ? "up" : "down");
  const LayerGroup& g = groups.at(group);
  // The layer's prefix as the space names it: "conv2" of "conv2.filters".
  const std::string& first = vars.at(g.layers.at(std::size_t(layer - 1)).front()).name;
  const std::string prefix = first.substr(0, first.find('.'));
  return fmt::format("{} {}", kind == Kind::add_layer ? "add" : "remove", prefix);
}

std::vector<std::size_t> active_coordinates(const std::vector<LayerGroup>& groups,
                                            const Assignment& a) {
  std::vector<std::size_t> out;
  for (const LayerGroup& g : groups)
    for (std::int64_t i = 1; i <= a.at(g.depth) && i <= std::int64_t(g.layers.size()); ++i)
      for (std::size_t v : g.layers[std::size_t(i - 1)]) out.push_back(v);
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<Assignment> apply_move(const std::vector<Variable>& vars,
                                     const std::vector<LayerGroup>& groups, const Assignment& a,
                                     const Move& move, Rng& rng, const MoveFactors& f) {
  Assignment out = a;
  if (move.kind == Move::Kind::scale) {
    const auto coordinates = active_coordinates(groups, a);
    if (!std::binary_search(coordinates.begin(), coordinates.end(), move.variable))
      return std::nullopt;
    const auto next = scaled_value(vars.at(move.variable), a.at(move.variable), move.direction, f);
    if (!next) return std::nullopt;
    out[move.variable] = *next;
    return out;
  }
  const LayerGroup& g = groups.at(move.group);
  const Variable& depth = vars.at(g.depth);
  const std::int64_t n = a.at(g.depth);
  auto copy_layer = [&](std::int64_t from, std::int64_t to) {
    const auto& src = g.layers[std::size_t(from - 1)];
    const auto& dst = g.layers[std::size_t(to - 1)];
    for (std::size_t r = 0; r < src.size(); ++r) out[dst[r]] = out[src[r]];
  };
  if (move.kind == Move::Kind::remove_layer) {
    if (n <= depth.min || move.layer < 1 || move.layer > n) return std::nullopt;
    for (std::int64_t i = move.layer; i < n; ++i) copy_layer(i + 1, i);
    for (std::size_t v : g.layers[std::size_t(n - 1)]) out[v] = vars[v].min;
    out[g.depth] = n - 1;
    return out;
  }
  // add_layer
  if (n >= depth.max || move.layer < 1 || move.layer > n + 1) return std::nullopt;
  for (std::int64_t i = n; i >= move.layer; --i) copy_layer(i, i + 1);
  for (std::size_t v : g.layers[std::size_t(move.layer - 1)])
    out[v] = uniform(rng, vars[v].min, vars[v].max);
  out[g.depth] = n + 1;
  return out;
}

std::optional<Move> random_move(const std::vector<Variable>& vars,
                                const std::vector<LayerGroup>& groups, const Assignment& a,
                                Rng& rng) {
  // Meta moves the depths allow: (group, add?) pairs.
  std::vector<std::pair<std::size_t, bool>> meta;
  for (std::size_t k = 0; k < groups.size(); ++k) {
    const Variable& d = vars.at(groups[k].depth);
    const std::int64_t n = a.at(groups[k].depth);
    if (n < d.max) meta.emplace_back(k, true);
    if (n > d.min) meta.emplace_back(k, false);
  }
  // Layer moves the bounds allow: (coordinate, direction) pairs.
  std::vector<std::pair<std::size_t, int>> layer;
  for (std::size_t v : active_coordinates(groups, a))
    for (int direction : {1, -1})
      if (scaled_value(vars[v], a[v], direction)) layer.emplace_back(v, direction);
  if (meta.empty() && layer.empty()) return std::nullopt;
  const bool take_meta =
      layer.empty() || (!meta.empty() && std::uniform_int_distribution<int>(0, 1)(rng) == 0);
  Move m;
  if (take_meta) {
    const auto [group, add] = meta[std::size_t(uniform(rng, 0, std::int64_t(meta.size()) - 1))];
    const std::int64_t n = a.at(groups[group].depth);
    m.kind = add ? Move::Kind::add_layer : Move::Kind::remove_layer;
    m.group = group;
    m.layer = uniform(rng, 1, add ? n + 1 : n);
  } else {
    const auto [v, direction] =
        layer[std::size_t(uniform(rng, 0, std::int64_t(layer.size()) - 1))];
    m.kind = Move::Kind::scale;
    m.variable = v;
    m.direction = direction;
  }
  return m;
}

}  // namespace narrow
