// Runs and the units they used (schema version 6): the SQLite side of run/runs.hpp.
#include <charconv>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "narrow/errors.hpp"
#include "run/runs.hpp"
#include "run/sqlite_store.hpp"

namespace narrow {

using sqlite::Query;

namespace {

SqliteStore& sqlite_of(const Store& store) {
  auto* s = dynamic_cast<const SqliteStore*>(&store);
  if (!s) throw Error("runs are kept only by narrow's SQLite results store");
  return const_cast<SqliteStore&>(*s);
}

}  // namespace

std::string run_id(const std::string& variant, std::uint64_t seed, std::uint64_t base_seed) {
  if (variant == "base" && seed == base_seed) return "";
  return fmt::format("{}@{}", variant, seed);
}

std::string SqliteStore::stored_stage(const std::string& stage) const {
  return run_.empty() ? stage : run_ + "/" + stage;
}

void SqliteStore::use_unit(const std::string& stage, const std::string& key) const {
  Query q(*insert_use_);
  q.bind(1, run_).bind(2, stage).bind(3, key);
  q.run(fmt::format("cannot record that stage '{}' uses unit {}", stage, key));
}

void SqliteStore::set_scope(std::string run, std::string stage) {
  run_ = std::move(run);
  scope_stage_ = std::move(stage);
  scoped_ = true;
}

void SqliteStore::begin_run(const std::string& id, const std::string& variant,
                            std::uint64_t seed, const std::string& experiment) {
  Query q(*begin_run_);
  q.bind(1, id).bind(2, variant).bind(3, std::to_string(seed)).bind(4, experiment);
  q.run(fmt::format("cannot record run '{}'", id));
}

void SqliteStore::end_run(const std::string& id, const std::string& status, double seconds,
                          const std::string& stages_json) {
  Query q(*end_run_);
  q.bind(1, id).bind(2, status).bind(3, seconds).bind(4, stages_json);
  q.run(fmt::format("cannot end run '{}'", id));
}

std::vector<StoredRun> SqliteStore::runs() const {
  std::vector<StoredRun> out;
  Query q(*select_runs_);
  while (q.step("cannot read the runs")) {
    StoredRun r;
    r.id = q.text(0);
    r.variant = q.text(1);
    const std::string seed = q.text(2);
    std::from_chars(seed.data(), seed.data() + seed.size(), r.seed);
    r.experiment = q.text(3);
    r.status = q.text(4);
    r.seconds = q.real(5);
    r.stages = q.text(6);
    r.trainings = q.integer(7);
    out.push_back(std::move(r));
  }
  return out;
}

std::set<std::string> SqliteStore::run_units(const std::string& run) const {
  std::set<std::string> out;
  Query q(*select_run_units_);
  q.bind(1, run);
  while (q.step(fmt::format("cannot read the units of run '{}'", run))) out.insert(q.text(0));
  return out;
}

std::map<std::string, std::string> SqliteStore::unit_stages() const {
  std::map<std::string, std::string> out;
  Query q(*select_unit_stages_);
  // Latest first, so that the earliest use is the one left in the map.
  while (q.step("cannot read the stages of the units")) out[q.text(0)] = q.text(1);
  return out;
}

std::vector<StoredRun> stored_runs(const Store& store) { return sqlite_of(store).runs(); }

std::map<std::string, std::string> unit_stages(const Store& store) {
  return sqlite_of(store).unit_stages();
}

std::set<std::string> run_unit_keys(const Store& store, const std::string& id) {
  return sqlite_of(store).run_units(id);
}

void require_run(const std::vector<StoredRun>& runs, const std::string& id,
                 const std::string& db, const std::string& option) {
  std::vector<std::string> ids;
  for (const auto& r : runs) {
    if (r.id == id) return;
    ids.push_back(r.id.empty() ? "''" : r.id);
  }
  throw InputError(fmt::format("{}: '{}' is not a run of {} (runs: {})", option, id, db,
                               fmt::join(ids, ", ")));
}

void set_store_scope(Store& store, const std::string& run, const std::string& stage) {
  sqlite_of(store).set_scope(run, stage);
}

void begin_stored_run(Store& store, const std::string& id, const std::string& variant,
                      std::uint64_t seed, const std::string& experiment) {
  sqlite_of(store).begin_run(id, variant, seed, experiment);
}

void end_stored_run(Store& store, const std::string& id, const std::string& status,
                    double seconds, const std::string& stages_json) {
  sqlite_of(store).end_run(id, status, seconds, stages_json);
}

}  // namespace narrow
