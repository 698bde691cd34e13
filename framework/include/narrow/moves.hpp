#pragma once
// The moves of adaptive architecture learning (Chan et al., Algorithm II) over the variables of
// a search space: a meta move adds or removes a layer, a layer move scales one coordinate of one
// active layer up or down. They need nothing from a space but its variables: a depth variable
// (one that others depend on) counts layers, and layer i is the variables that depend on it
// from i on (Variable::depends_on, depends_min). `sequential` has two such groups (conv_layers,
// fc_layers), `resnet` and `mobilenet` one (stages), and a plugin space that declares its
// variables this way supports the moves without more code.
//
// A move may give an assignment the space cannot build or that breaks a constraint: the
// strategy builds it, checks it and draws another move, as the paper does.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "narrow/export.hpp"
#include "narrow/random.hpp"
#include "narrow/space.hpp"

namespace narrow {

/// The layers a depth variable counts. Layer i (1-based) is the variables whose depends_on is
/// `depth` and depends_min is i; `roles` names them without their layer prefix ("filters" for
/// "conv3.filters"), in the order the space declared them.
struct NARROW_API LayerGroup {
  std::size_t depth = 0;                       // index of the depth variable
  std::vector<std::string> roles;              // the same in every layer
  std::vector<std::vector<std::size_t>> layers;  // layers[i - 1][r]: role r of layer i
};

/// The layer groups of `vars`, in the order of their depth variables. A depth variable whose
/// layers do not all have the same roles, or that does not count up to its last layer, is no
/// group: its layers cannot take each other's place.
NARROW_API std::vector<LayerGroup> layer_groups(const std::vector<Variable>& vars);

/// The factors of a layer move: a coordinate goes up by `up` or down by `down` (Chan et al.
/// §4: 1.5 and 0.66).
struct NARROW_API MoveFactors {
  double up = 1.5, down = 0.66;
};

/// `value` of `v` one step up (direction > 0) or down: an integer times the factor, rounded,
/// moved by at least 1 and kept inside the variable's bounds; a choice one index. Empty when
/// the value is already at its bound in that direction.
NARROW_API std::optional<std::int64_t> scaled_value(const Variable& v, std::int64_t value,
                                                    int direction, const MoveFactors& f = {});

/// One move. `layer` is 1-based; for `add_layer` it is where the new layer goes (the layers
/// from there on move up by one).
struct NARROW_API Move {
  enum class Kind { add_layer, remove_layer, scale };
  Kind kind = Kind::scale;
  std::size_t group = 0;     // add_layer, remove_layer: index into the groups
  std::int64_t layer = 0;    // add_layer, remove_layer
  std::size_t variable = 0;  // scale: the coordinate
  int direction = 1;         // scale: +1 up, -1 down
  /// "add conv2", "remove fc1", "conv3.filters up": what a stored sample says of its move.
  std::string text(const std::vector<Variable>& vars, const std::vector<LayerGroup>& groups) const;
};

/// The coordinates of `a` a layer move may scale: the variables of the active layers of every
/// group (layer i of a group is active when its depth variable is at least i).
NARROW_API std::vector<std::size_t> active_coordinates(const std::vector<LayerGroup>& groups,
                                                       const Assignment& a);

/// `a` after `move`, or empty when the move cannot apply (the depth at its bound, the layer
/// not active, the coordinate at its bound). Removing a layer moves the layers above it down
/// and sets the freed top layer to its variables' minima; adding one moves the layers from
/// `layer` on up and draws the new layer's variables uniformly within their bounds from `rng`.
NARROW_API std::optional<Assignment> apply_move(const std::vector<Variable>& vars,
                                                const std::vector<LayerGroup>& groups,
                                                const Assignment& a, const Move& move, Rng& rng,
                                                const MoveFactors& f = {});

/// A move of Algorithm II that applies to `a`, drawn from `rng`: meta or layer with equal
/// chance (only one of them when the other has nothing to move); for meta, a group and add or
/// remove among those its depth allows, then the layer; for layer, an active coordinate and a
/// direction its bounds allow. Empty when `a` offers no move at all.
NARROW_API std::optional<Move> random_move(const std::vector<Variable>& vars,
                                           const std::vector<LayerGroup>& groups,
                                           const Assignment& a, Rng& rng);

}  // namespace narrow
