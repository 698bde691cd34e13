#pragma once
#include <string>

#include "narrow/export.hpp"

namespace narrow {

/// A result a strategy keeps of its own kind (a learned law, a search trace, a mask): JSON
/// under a kind, written with one unit of work (docs/results-store.md, table `records`).
struct NARROW_API Record {
  std::string kind;   // what it is, prefixed by the strategy's name: "genetic_law.generation"
  std::string stage;  // set by the store from the unit that writes it
  std::string unit;   // the unit's key, likewise
  std::string data;   // JSON text
};

}  // namespace narrow
