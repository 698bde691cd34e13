#pragma once
// A sampling-only experiment that runs long enough to be killed in the middle, and what its
// store holds, for the tests that kill, resume or lock a run and compare stores.
#include <string>

#include "support/sqlite.hpp"

namespace narrow::test {

/// Two laws of the sequential space under a 48 KiB weight budget, one random stage of
/// `per_law` accepted draws per law in batches of 50.
inline std::string sampling_experiment(const std::string& name, int seed, int per_law) {
  return "name: " + name + "\nseed: " + std::to_string(seed) + R"(
spaces:
  - name: seq
    plugin: sequential
    parameters: {max_conv_layers: 4, max_fc_layers: 1}
    laws:
      small: {conv_layers: [1, 3], conv1.filters: [2, 24], conv2.filters: [2, 24], conv3.filters: [2, 24]}
      wide: {conv_layers: [2, 4], conv1.filters: [8, 64], conv2.filters: [8, 64]}
constraints:
  weight_bytes: 48KiB
stages:
  - name: sample
    strategy: random
    parameters: {per_law: )" + std::to_string(per_law) +
         R"(, batch: 50, max_rejections: 100000}
)";
}

/// Everything a run stores, except timestamps.
inline std::string store_contents(const std::string& db) {
  return sql(db,
             "SELECT stage, space, law, draw, status, hash, reason, assignment, unit FROM draws "
             "ORDER BY stage, space, law, draw;") +
         sql(db, "SELECT * FROM architectures ORDER BY hash;") +
         sql(db, "SELECT key, kind, stage, result FROM units ORDER BY key;") +
         sql(db,
             "SELECT key, value FROM meta WHERE key NOT IN ('started_at', 'finished_at') ORDER BY "
             "key;");
}

}  // namespace narrow::test
