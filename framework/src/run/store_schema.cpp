#include "run/store_schema.hpp"

#include <string_view>

#include <fmt/format.h>

#include "narrow/metrics.hpp"

namespace narrow::store_schema {

namespace {

// Added in schema version 2 (stores of version 1 gain it when opened).
constexpr const char* trainings_sql() {
  return R"sql(CREATE TABLE IF NOT EXISTS trainings(
  key TEXT PRIMARY KEY REFERENCES units(key),
  stage TEXT NOT NULL,
  hash TEXT NOT NULL,
  dataset TEXT NOT NULL,
  config TEXT NOT NULL,
  seed TEXT NOT NULL,
  status TEXT NOT NULL CHECK(status IN ('ok', 'failed')),
  reason TEXT NOT NULL,
  epochs INTEGER NOT NULL,
  iterations INTEGER NOT NULL,
  val_accuracy REAL NOT NULL,
  val_loss REAL,
  test_accuracy REAL NOT NULL,
  test_loss REAL,
  seconds REAL NOT NULL,
  images_per_second REAL NOT NULL,
  threads INTEGER NOT NULL,
  history TEXT NOT NULL,
  result TEXT NOT NULL,
  weights BLOB);
CREATE INDEX IF NOT EXISTS trainings_by_hash ON trainings(hash);
CREATE INDEX IF NOT EXISTS trainings_by_stage ON trainings(stage);)sql";
}

// Added in schema version 3 (older stores gain it when opened).
constexpr const char* precisions_sql() {
  return R"sql(CREATE TABLE IF NOT EXISTS precisions(
  key TEXT PRIMARY KEY REFERENCES units(key),
  stage TEXT NOT NULL,
  training TEXT NOT NULL REFERENCES trainings(key),
  hash TEXT NOT NULL,
  format TEXT NOT NULL,
  format_key TEXT NOT NULL,
  bits INTEGER NOT NULL,
  split TEXT NOT NULL CHECK(split IN ('test', 'validation')),
  rounding TEXT NOT NULL,
  parameters INTEGER NOT NULL,
  weight_bytes INTEGER NOT NULL,
  accuracy REAL NOT NULL,
  loss REAL,
  seconds REAL NOT NULL,
  result TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS precisions_by_hash ON precisions(hash);
CREATE INDEX IF NOT EXISTS precisions_by_stage ON precisions(stage);)sql";
}

// Added in schema version 4 (older stores gain it when opened).
constexpr const char* latencies_sql() {
  return R"sql(CREATE TABLE IF NOT EXISTS latencies(
  key TEXT PRIMARY KEY REFERENCES units(key),
  stage TEXT NOT NULL,
  hash TEXT NOT NULL REFERENCES architectures(hash),
  device TEXT NOT NULL,
  mean REAL NOT NULL,
  median REAL NOT NULL,
  cv REAL NOT NULL,
  threads INTEGER NOT NULL,
  measurement TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS latencies_by_hash ON latencies(hash);
CREATE INDEX IF NOT EXISTS latencies_by_stage ON latencies(stage);)sql";
}

// Added in schema version 5 (older stores gain it when opened): results of a strategy's own
// kinds, queried with SQLite's JSON functions.
constexpr const char* records_sql() {
  return R"sql(CREATE TABLE IF NOT EXISTS records(
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CHECK(kind <> ''),
  stage TEXT NOT NULL,
  unit TEXT NOT NULL REFERENCES units(key),
  data TEXT NOT NULL CHECK(json_valid(data)));
CREATE INDEX IF NOT EXISTS records_by_kind ON records(kind, stage);
CREATE INDEX IF NOT EXISTS records_by_unit ON records(unit);)sql";
}

// Added in schema version 6: the runs of an experiment file in one store (the base experiment
// and its ablation variants, each at each seed), and which units each run's stages used. A unit
// done by one run and reused by another is stored once and used by both.
constexpr const char* runs_sql() {
  return R"sql(CREATE TABLE IF NOT EXISTS runs(
  id TEXT PRIMARY KEY,
  variant TEXT NOT NULL,
  seed TEXT NOT NULL,
  experiment TEXT NOT NULL,
  status TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  seconds REAL NOT NULL DEFAULT 0,
  stages TEXT NOT NULL DEFAULT '{}' CHECK(json_valid(stages)));
CREATE TABLE IF NOT EXISTS uses(
  run TEXT NOT NULL,
  stage TEXT NOT NULL,
  unit TEXT NOT NULL REFERENCES units(key) ON DELETE CASCADE,
  PRIMARY KEY(run, stage, unit));
CREATE INDEX IF NOT EXISTS uses_by_unit ON uses(unit);)sql";
}

// A store of version 5 or older holds one run: its base experiment at its seed. Its units are
// that run's, each used by the stage that did it.
constexpr const char* runs_upgrade_sql() {
  return R"sql(INSERT OR IGNORE INTO runs(id, variant, seed, experiment, status, started_at,
  finished_at)
  SELECT '', 'base', coalesce((SELECT value FROM meta WHERE key = 'seed'), '0'),
         coalesce((SELECT value FROM meta WHERE key = 'experiment'), ''),
         coalesce((SELECT value FROM meta WHERE key = 'status'), 'unknown'),
         coalesce((SELECT value FROM meta WHERE key = 'started_at'), ''),
         (SELECT value FROM meta WHERE key = 'finished_at')
  WHERE EXISTS (SELECT 1 FROM meta WHERE key = 'experiment');
INSERT OR IGNORE INTO uses(run, stage, unit) SELECT '', stage, key FROM units;)sql";
}

}  // namespace

std::string create_sql() {
  std::string metrics;
  for (std::string_view name : metric_names)
    metrics += fmt::format(",\n  {} INTEGER NOT NULL", name);
  return fmt::format(R"sql(
CREATE TABLE meta(
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL);
CREATE TABLE sessions(
  id INTEGER PRIMARY KEY,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  status TEXT NOT NULL,
  resumed INTEGER NOT NULL CHECK(resumed IN (0, 1)));
CREATE TABLE plugins(
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  plugin TEXT NOT NULL,
  version TEXT NOT NULL,
  library TEXT NOT NULL,
  PRIMARY KEY(kind, name));
CREATE TABLE units(
  key TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  stage TEXT NOT NULL,
  result TEXT NOT NULL,
  finished_at TEXT NOT NULL);
CREATE INDEX units_by_stage ON units(stage, kind);
CREATE TABLE architectures(
  hash TEXT PRIMARY KEY,
  json TEXT NOT NULL{});
CREATE TABLE draws(
  stage TEXT NOT NULL,
  space TEXT NOT NULL,
  law TEXT NOT NULL,
  draw INTEGER NOT NULL,
  status TEXT NOT NULL CHECK(status IN ('accepted', 'rejected', 'invalid')),
  hash TEXT REFERENCES architectures(hash),
  reason TEXT NOT NULL,
  assignment TEXT NOT NULL,
  unit TEXT NOT NULL REFERENCES units(key),
  PRIMARY KEY(stage, space, law, draw));
CREATE INDEX draws_by_hash ON draws(hash);
CREATE INDEX draws_by_status ON draws(status, stage);
CREATE INDEX draws_by_unit ON draws(unit);
{}
{}
{}
{}
{}
PRAGMA application_id = {};
PRAGMA user_version = {};
)sql",
                     metrics, trainings_sql(), precisions_sql(), latencies_sql(), records_sql(),
                     runs_sql(), kApplicationId, kSchemaVersion);
}

std::string upgrade_sql() {
  // Version 2 added the trainings table, version 3 the precisions table, version 4 the
  // latencies table, version 5 the records table, version 6 the runs and uses tables (filled
  // with the one run an older store holds); nothing else changed.
  return fmt::format("{}\n{}\n{}\n{}\n{}\n{}\nPRAGMA user_version = {};", trainings_sql(),
                     precisions_sql(), latencies_sql(), records_sql(), runs_sql(),
                     runs_upgrade_sql(), kSchemaVersion);
}

std::string insert_architecture_sql() {
  std::string columns = "hash, json", values = "?1, ?2";
  int i = 3;
  for (std::string_view name : metric_names) {
    columns += fmt::format(", {}", name);
    values += fmt::format(", ?{}", i++);
  }
  // Only a conflict on the hash is ignored: any other constraint failure is an error.
  return fmt::format("INSERT INTO architectures({}) VALUES({}) ON CONFLICT(hash) DO NOTHING",
                     columns, values);
}

}  // namespace narrow::store_schema
