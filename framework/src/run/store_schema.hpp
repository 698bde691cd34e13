#pragma once
// The results store's schema: its tables as SQL, its version, and the way from older
// versions (docs/results-store.md).
#include <cstdint>
#include <string>

namespace narrow::store_schema {

// "NRRW" in the file header's application id: marks a SQLite file as a narrow results store.
inline constexpr std::int32_t kApplicationId = 0x4E525257;
inline constexpr int kSchemaVersion = 6;

// The current time as ISO-8601 UTC with milliseconds, e.g. 2024-05-01T12:34:56.789Z.
inline constexpr const char* kNow = "strftime('%Y-%m-%dT%H:%M:%fZ','now')";

/// Creates every table and index of the current version in an empty file, and marks the file.
std::string create_sql();
/// Brings a store of any older version to the current one: creates only what is missing.
std::string upgrade_sql();
/// Inserts an architecture with every metric; a hash stored already is kept.
std::string insert_architecture_sql();

}  // namespace narrow::store_schema
