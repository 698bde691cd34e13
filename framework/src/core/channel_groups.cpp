// Channel groups: which output channels a channel search may remove, tied across adds.
#include "core/channel_groups.hpp"

#include <numeric>
#include <string>

#include <fmt/format.h>

#include "narrow/errors.hpp"

namespace narrow {
namespace {

/// Union-find over provisional group ids, with a "fixed" mark on each root.
struct Ties {
  std::vector<int> parent;
  std::vector<char> fixed;
  int make() {
    parent.push_back(static_cast<int>(parent.size()));
    fixed.push_back(0);
    return parent.back();
  }
  int find(int g) {
    while (parent[static_cast<std::size_t>(g)] != g) {
      auto& p = parent[static_cast<std::size_t>(g)];
      p = parent[static_cast<std::size_t>(p)];
      g = p;
    }
    return g;
  }
  void fix(int g) {
    if (g >= 0) fixed[static_cast<std::size_t>(find(g))] = 1;
  }
  void unite(int a, int b) {
    if (a < 0 || b < 0) {  // a fixed run meets a group: the group is fixed
      fix(a);
      fix(b);
      return;
    }
    a = find(a), b = find(b);
    if (a == b) return;
    parent[static_cast<std::size_t>(b)] = a;
    fixed[static_cast<std::size_t>(a)] |= fixed[static_cast<std::size_t>(b)];
  }
};

void fix_all(Ties& ties, const std::vector<ChannelSegment>& runs) {
  for (const auto& s : runs) ties.fix(s.group);
}

std::int64_t channel_total(const std::vector<ChannelSegment>& runs) {
  std::int64_t n = 0;
  for (const auto& s : runs) n += s.count;
  return n;
}

bool depthwise(const Layer& l, std::int64_t in_channels) {
  return l.groups > 1 && l.groups == in_channels && l.out_channels == in_channels;
}

}  // namespace

ChannelGroups ChannelGroups::of(const Architecture& arch) {
  if (!arch.finalized())
    throw InvalidArchitecture("channel groups need a finalized architecture");
  ChannelGroups out;
  const auto& layers = arch.layers();
  const std::size_t n = layers.size();
  const Shape& in = arch.input();
  out.input_segments_ = {ChannelSegment{-1, in.c, 1}};

  Ties ties;
  std::vector<int> producer_of(n, -1);  // provisional group a layer makes
  std::vector<std::vector<ChannelSegment>> runs(n);
  auto input_runs = [&](std::size_t i, std::size_t k) -> const std::vector<ChannelSegment>& {
    const int j = arch.input_indices(i).at(k);
    return j < 0 ? out.input_segments_ : runs[static_cast<std::size_t>(j)];
  };

  for (std::size_t i = 0; i < n; ++i) {
    const Layer& l = layers[i];
    const bool is_output = i == arch.output_index();
    const auto& a = input_runs(i, 0);
    switch (l.op) {
      case Op::conv2d: {
        if (depthwise(l, channel_total(a))) {
          runs[i] = a;
          break;
        }
        if (l.groups > 1) fix_all(ties, a);  // the exported groups must still divide
        const int g = ties.make();
        producer_of[i] = g;
        if (is_output || l.groups > 1) ties.fix(g);
        runs[i] = {ChannelSegment{g, l.out_channels, 1}};
        break;
      }
      case Op::linear: {
        const int g = ties.make();
        producer_of[i] = g;
        if (is_output) ties.fix(g);
        runs[i] = {ChannelSegment{g, l.out_channels, 1}};
        break;
      }
      case Op::flatten: {
        const int j = arch.input_indices(i).front();
        const Shape& from = j < 0 ? in : arch.shape(static_cast<std::size_t>(j));
        runs[i] = a;
        if (!from.flat)
          for (auto& r : runs[i]) r.per *= from.h * from.w;
        break;
      }
      case Op::concat: {
        for (std::size_t k = 0; k < arch.input_indices(i).size(); ++k) {
          const auto& r = input_runs(i, k);
          runs[i].insert(runs[i].end(), r.begin(), r.end());
        }
        break;
      }
      case Op::add: {
        runs[i] = a;
        for (std::size_t k = 1; k < arch.input_indices(i).size(); ++k) {
          const auto& b = input_runs(i, k);
          bool same = b.size() == a.size();
          for (std::size_t s = 0; same && s < a.size(); ++s)
            same = a[s].count == b[s].count && a[s].per == b[s].per;
          if (!same) {
            fix_all(ties, a);
            fix_all(ties, b);
            continue;
          }
          for (std::size_t s = 0; s < a.size(); ++s) ties.unite(a[s].group, b[s].group);
        }
        break;
      }
      case Op::batchnorm:
      case Op::relu:
      case Op::relu6:
      case Op::maxpool:
      case Op::avgpool:
      case Op::global_avgpool:
      case Op::dropout:
        runs[i] = a;
        break;
    }
    if (is_output) fix_all(ties, runs[i]);
  }

  // Number the groups that are not fixed, in the order of their first producer.
  std::vector<int> number(ties.parent.size(), -1);
  for (std::size_t i = 0; i < n; ++i) {
    if (producer_of[i] < 0) continue;
    const int root = ties.find(producer_of[i]);
    if (ties.fixed[static_cast<std::size_t>(root)]) continue;
    if (number[static_cast<std::size_t>(root)] < 0) {
      number[static_cast<std::size_t>(root)] = static_cast<int>(out.groups_.size());
      out.groups_.push_back(Group{layers[i].out_channels, {}});
    }
    out.groups_[static_cast<std::size_t>(number[static_cast<std::size_t>(root)])]
        .producers.push_back(static_cast<int>(i));
  }
  out.segments_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    for (ChannelSegment s : runs[i]) {
      if (s.group >= 0) {
        const int root = ties.find(s.group);
        s.group = ties.fixed[static_cast<std::size_t>(root)] ? -1
                                                             : number[static_cast<std::size_t>(root)];
      }
      // Neighbouring fixed runs of one width merge: a fixed tensor is one run.
      auto& list = out.segments_[i];
      if (s.group < 0 && !list.empty() && list.back().group < 0 && list.back().per == s.per)
        list.back().count += s.count;
      else
        list.push_back(s);
    }
  }
  return out;
}

const std::vector<ChannelSegment>& ChannelGroups::input_segments(const Architecture& arch,
                                                                 std::size_t layer,
                                                                 std::size_t k) const {
  const int j = arch.input_indices(layer).at(k);
  return j < 0 ? input_segments_ : segments_.at(static_cast<std::size_t>(j));
}

bool ChannelGroups::masked(std::size_t layer) const {
  for (const auto& s : segments_.at(layer))
    if (s.group >= 0) return true;
  return false;
}

std::vector<std::int64_t> ChannelGroups::full_counts() const {
  std::vector<std::int64_t> c;
  for (const auto& g : groups_) c.push_back(g.channels);
  return c;
}

Architecture ChannelGroups::with_channels(const Architecture& arch,
                                          const std::vector<std::int64_t>& counts) const {
  if (counts.size() != groups_.size())
    throw InputError(fmt::format("channel counts: {} given for {} groups", counts.size(),
                                 groups_.size()));
  for (std::size_t g = 0; g < counts.size(); ++g)
    if (counts[g] < 1 || counts[g] > groups_[g].channels)
      throw InputError(fmt::format("channel group {} keeps {} channels; allowed 1..{}", g,
                                   counts[g], groups_[g].channels));
  auto effective = [&](const std::vector<ChannelSegment>& runs) {
    std::int64_t c = 0;
    for (const auto& s : runs) c += s.group < 0 ? s.count : counts[static_cast<std::size_t>(s.group)];
    return c;
  };
  Architecture out(arch.input(), arch.classes());
  out.reserve(arch.layers().size());
  for (std::size_t i = 0; i < arch.layers().size(); ++i) {
    Layer l = arch.layers()[i];
    if (l.op == Op::conv2d || l.op == Op::linear) {
      // A producer's runs are its group (or fixed); a depthwise convolution's are its input's,
      // and its groups follow its width.
      const std::int64_t before = l.out_channels;
      l.out_channels = effective(segments_[i]);
      if (l.op == Op::conv2d && l.groups > 1 && l.groups == before) l.groups = l.out_channels;
    }
    out.add(std::move(l));
  }
  out.set_output(arch.output());
  out.finalize();
  return out;
}

std::vector<std::int64_t> kept_values(const std::vector<ChannelSegment>& segments,
                                      const std::vector<std::vector<std::int64_t>>& kept) {
  std::vector<std::int64_t> values;
  std::int64_t offset = 0;
  for (const auto& s : segments) {
    if (s.group < 0) {
      for (std::int64_t v = 0; v < s.count * s.per; ++v) values.push_back(offset + v);
    } else {
      for (std::int64_t c : kept.at(static_cast<std::size_t>(s.group)))
        for (std::int64_t v = 0; v < s.per; ++v) values.push_back(offset + c * s.per + v);
    }
    offset += s.count * s.per;
  }
  return values;
}

}  // namespace narrow
