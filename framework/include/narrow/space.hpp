#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "narrow/architecture.hpp"
#include "narrow/component.hpp"
#include "narrow/export.hpp"
#include "narrow/random.hpp"

namespace narrow {

/// One variable of a search space. Integer variables take values min..max; choice variables
/// take an index 0..choices.size()-1 into `choices` (min and max are then indices too).
/// A variable may exist only when a depth variable allows it: it is active when the value of
/// variable `depends_on` is at least `depends_min`. A depth variable comes before every
/// variable that depends on it (the registry refuses a space that breaks this).
struct NARROW_API Variable {
  enum class Kind { integer, choice };
  std::string name;
  Kind kind = Kind::integer;
  std::int64_t min = 0, max = 0;     // absolute bounds (indices for choices)
  std::vector<std::string> choices;  // labels of a choice variable
  int depends_on = -1;               // index of the depth variable, -1: always active
  std::int64_t depends_min = 0;
  std::string help;
  nlohmann::json to_json() const;
  /// The label of a value: the number itself, or the choice label.
  std::string label(std::int64_t value) const;
};

/// Appends a variable to a space's list and returns its index. Spaces declare their
/// variables in order with it, depth variables first.
NARROW_API std::size_t add_variable(std::vector<Variable>& vars, std::string name,
                                    Variable::Kind kind, std::int64_t min, std::int64_t max,
                                    std::vector<std::string> choices, int depends_on,
                                    std::int64_t depends_min, std::string help);

/// Throws InputError "unknown reference 'NAME' of space 'SPACE' (valid: ...)".
[[noreturn]] NARROW_API void throw_unknown_reference(std::string_view space,
                                                     const std::string& name,
                                                     const std::vector<std::string>& valid);

/// The names of a table of reference models (anything iterable whose items have `name`).
template <class Table>
std::vector<std::string> reference_names(const Table& table) {
  std::vector<std::string> names;
  for (const auto& r : table) names.emplace_back(r.name);
  return names;
}

/// The reference called `name` in such a table; throws InputError listing the valid names.
template <class Table>
const auto& find_reference(const Table& table, const std::string& name, std::string_view space) {
  for (const auto& r : table)
    if (r.name == name) return r;
  throw_unknown_reference(space, name, reference_names(table));
}

/// Values of every variable of a space, by position. The values of inactive variables do
/// not matter (draws give them the law's low bound, references the absolute minimum).
using Assignment = std::vector<std::int64_t>;

/// An ordered set of uniform laws U[low_x, high_x], one per variable, inside the absolute
/// bounds of the space.
struct NARROW_API SamplingLaw {
  std::string name;
  std::vector<std::int64_t> low, high;
  /// The uniform law over the absolute bounds.
  static SamplingLaw uniform(const std::vector<Variable>& vars);
};

/// A search space: variables with bounds, a builder from an Assignment to an Architecture,
/// and the reference model(s) it was built around, given as assignments.
class NARROW_API SearchSpace : public Component {
 public:
  ~SearchSpace() override;
  virtual const std::vector<Variable>& variables() const = 0;
  /// Builds the architecture of an assignment (not yet finalized). Throws
  /// InvalidArchitecture when the assignment gives no valid network.
  virtual Architecture build(const Assignment& a) const = 0;
  /// Like build() without exceptions for invalid assignments: returns false and says why.
  /// Samplers call this; spaces where invalid draws are common override it to stay fast.
  virtual bool try_build(const Assignment& a, Architecture& out, std::string& reason) const;
  /// Reference models by name, in the order they are documented.
  virtual std::vector<std::string> references() const = 0;
  /// The assignment of a reference; throws InputError listing the valid names.
  virtual Assignment reference(const std::string& name) const = 0;

  /// Whether variable i is active under assignment a.
  bool active(const Assignment& a, std::size_t i) const;
  /// Draws an assignment from a law: each active variable uniformly in [low, high].
  Assignment draw(const SamplingLaw& law, Rng& rng) const;
  /// Checks that a law fits the space (one range per variable, inside bounds, low <= high);
  /// throws InputError naming the variable.
  void check_law(const SamplingLaw& law) const;
  /// Checks an assignment against the absolute bounds; throws InputError.
  void check_assignment(const Assignment& a) const;
  /// Assignment as JSON {"variable": value-or-label, ...} of the active variables.
  nlohmann::json assignment_json(const Assignment& a) const;
  /// Index of a variable by name; throws InputError listing valid names.
  std::size_t variable_index(const std::string& name) const;
};

}  // namespace narrow
