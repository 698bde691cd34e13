#pragma once
// Which layers compute new values that a reduced-precision deployment stores rounded: what the
// precision evaluator rounds and what deployed_bytes counts.
#include "narrow/architecture.hpp"
#include "narrow/export.hpp"

namespace narrow {

/// conv2d, linear, batchnorm, add, avgpool and global_avgpool compute new values; the other
/// ops select, reshape or copy values they were given.
NARROW_API bool computes_new_values(Op op);

}  // namespace narrow
