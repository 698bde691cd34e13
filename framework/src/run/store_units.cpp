// Meta facts, sessions, plugins, units, draws and architectures of the results store.
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "narrow/errors.hpp"
#include "run/sqlite_store.hpp"
#include "run/store_schema.hpp"

namespace narrow {

using sqlite::Query;
using sqlite::Statement;

namespace {

DrawStatus parse_draw_status(std::string_view name, const std::string& path) {
  if (name == "accepted") return DrawStatus::accepted;
  if (name == "rejected") return DrawStatus::rejected;
  if (name == "invalid") return DrawStatus::invalid;
  throw Error(fmt::format("results store {}: unknown draw status '{}'", path, name));
}

}  // namespace

void SqliteStore::set_meta(const std::string& key, const std::string& value) {
  Query q(*set_meta_);
  q.bind(1, key).bind(2, value).run(fmt::format("cannot set meta '{}'", key));
}

std::optional<std::string> SqliteStore::meta(const std::string& key) const {
  Query q(*get_meta_);
  q.bind(1, key);
  if (!q.step(fmt::format("cannot read meta '{}'", key))) return std::nullopt;
  return q.text(0);
}

std::int64_t SqliteStore::begin_session(bool resumed) {
  Query q(*begin_session_);
  q.bind(1, std::int64_t{resumed ? 1 : 0}).run("cannot begin a session");
  return sqlite3_last_insert_rowid(db_);
}

void SqliteStore::end_session(std::int64_t id, const std::string& status) {
  Query q(*end_session_);
  q.bind(1, id).bind(2, status).run(fmt::format("cannot end session {}", id));
  if (sqlite3_changes(db_) == 0)
    throw Error(fmt::format("results store {}: there is no session {}", path_, id));
}

void SqliteStore::set_plugins(const std::vector<PluginRecord>& plugins) {
  Transaction t(*this);
  Query(*delete_plugins_).run("cannot clear the plugins");
  for (const PluginRecord& p : plugins) {
    Query q(*insert_plugin_);
    q.bind(1, p.kind).bind(2, p.name).bind(3, p.plugin).bind(4, p.version).bind(5, p.library);
    q.run(fmt::format("cannot record plugin {} '{}'", p.kind, p.name));
  }
  t.commit();
}

std::vector<PluginRecord> SqliteStore::plugins() const {
  std::vector<PluginRecord> out;
  Query q(*select_plugins_);
  while (q.step("cannot read the plugins"))
    out.push_back(PluginRecord{q.text(0), q.text(1), q.text(2), q.text(3), q.text(4)});
  return out;
}

std::optional<std::string> SqliteStore::unit_result(const std::string& key) const {
  std::string result;
  {
    Query q(*unit_result_);
    q.bind(1, key);
    if (!q.step(fmt::format("cannot read unit {}", key))) return std::nullopt;
    result = q.text(0);
  }
  if (!scope_stage_.empty()) use_unit(scope_stage_, key);  // the stage reuses it
  return result;
}

void SqliteStore::insert_unit(const std::string& key, std::string_view kind,
                              const std::string& stage, const std::string& result,
                              const std::string& what) {
  Query q(*insert_unit_);
  q.bind(1, key).bind(2, kind).bind_copy(3, stored_stage(stage)).bind(4, result);
  const int rc = q.try_step();
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
    throw Error(fmt::format("results store {}: {} is already stored", path_, what));
  if (rc != SQLITE_DONE) q.fail(fmt::format("cannot commit {}", what));
  use_unit(stage, key);
}

void SqliteStore::commit_unit(const std::string& key, const std::string& kind,
                              const std::string& stage, const std::string& result_json,
                              const std::vector<ArchitectureRecord>& architectures,
                              const std::vector<DrawRecord>& draws) {
  Transaction t(*this);
  insert_unit(key, kind, stage, result_json, fmt::format("unit {}", key));
  for (const ArchitectureRecord& a : architectures) {
    Query q(*insert_architecture_);
    q.bind(1, a.hash).bind(2, a.json);
    int i = 3;
    for (std::string_view name : metric_names) q.bind(i++, a.metrics.get(name));
    // Messages are formatted only on failure: a unit may hold many thousands of rows.
    if (q.try_step() != SQLITE_DONE)
      q.fail(fmt::format("cannot commit unit {}: architecture {}", key, a.hash));
  }
  for (const DrawRecord& d : draws) {
    Query q(*insert_draw_);
    q.bind_copy(1, stored_stage(d.stage)).bind(2, d.space).bind(3, d.law).bind(4, d.draw);
    q.bind(5, draw_status_name(d.status));
    if (d.hash.empty())
      q.bind_null(6);
    else
      q.bind(6, d.hash);
    q.bind(7, d.reason).bind(8, d.assignment).bind(9, key);
    if (q.try_step() != SQLITE_DONE)
      q.fail(fmt::format("cannot commit unit {}: draw {} of stage '{}', space '{}', law '{}'", key,
                         d.draw, d.stage, d.space, d.law));
  }
  t.commit();
}

std::vector<DrawRecord> SqliteStore::draws(const std::string& stage) const {
  std::vector<DrawRecord> out;
  const bool all = stage.empty() && !scoped_;
  Query q(all ? *select_draws_ : *select_stage_draws_);
  if (!all) q.bind(1, stage).bind(2, run_);
  while (q.step("cannot read the draws")) {
    DrawRecord d;
    d.stage = q.text(0);
    d.space = q.text(1);
    d.law = q.text(2);
    d.draw = q.integer(3);
    d.status = parse_draw_status(q.text(4), path_);
    d.hash = q.is_null(5) ? std::string() : q.text(5);
    d.reason = q.text(6);
    d.assignment = q.text(7);
    out.push_back(std::move(d));
  }
  return out;
}

std::int64_t SqliteStore::count_architectures() const {
  Query q(*count_architectures_);
  if (!q.step("cannot count the architectures")) return 0;
  return q.integer(0);
}

std::optional<std::string> SqliteStore::architecture_json(const std::string& hash) const {
  Query q(*architecture_json_);
  q.bind(1, hash);
  if (!q.step(fmt::format("cannot read architecture {}", hash))) return std::nullopt;
  return q.text(0);
}

std::vector<ArchitectureRecord> SqliteStore::accepted_architectures(
    const std::string& stage) const {
  std::vector<ArchitectureRecord> out;
  const bool all = stage.empty() && !scoped_;
  Query q(all ? *select_accepted_ : *select_stage_accepted_);
  if (!all) q.bind(1, stage).bind(2, run_);
  while (q.step("cannot read the accepted architectures")) {
    ArchitectureRecord a;
    a.hash = q.text(0);
    a.json = q.text(1);
    int col = 2;
    for (std::string_view name : metric_names) a.metrics.set(name, q.integer(col++));
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace narrow
