#pragma once
#include "narrow/export.hpp"

namespace narrow {

/// Base of every object a plugin factory makes (search spaces, strategies, devices, formats,
/// datasets). It has an out-of-line virtual destructor, so its type information lives in the
/// kernel and casts work across library boundaries.
class NARROW_API Component {
 public:
  virtual ~Component();
  Component() = default;
  Component(const Component&) = default;
  Component& operator=(const Component&) = default;
};

}  // namespace narrow
