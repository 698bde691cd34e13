#include "run/sqlite_store.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "narrow/errors.hpp"
#include "run/store_schema.hpp"

// The results store: one SQLite file per run (schema and guarantees: docs/results-store.md).
//
// Durability. The file is in WAL mode with `synchronous=NORMAL`. What resume needs is that a
// unit it finds is complete, not that every unit committed just before a crash survives: a
// unit that is lost is simply computed again. WAL gives the first under both settings. A
// transaction becomes visible only when its commit frame is in the log, each frame carries a
// checksum chained to the previous ones, and recovery replays the log up to the last valid
// commit frame and ignores the rest. So neither a killed process (the log is in the OS page
// cache when COMMIT returns) nor a power loss (torn or missing frames fail the checksum) can
// make a half-written transaction visible. `synchronous=FULL` would add an fsync of the log at
// every commit, which only buys durability of the last commits across a power loss or an OS
// crash; with NORMAL those few units may be lost and are redone by resume, while a sampling
// stage committing thousands of small units does not pay one fsync each. The log is synced
// before every checkpoint, so the database file itself never holds a partial transaction.
//
// Threads. A Store is used from one thread at a time: it caches prepared statements, which
// SQLite does not let two threads step at once. The connection is still opened with
// SQLITE_OPEN_FULLMUTEX (serialized mode) so that a mistake makes calls wait rather than
// corrupt memory. Several processes may open the same file; writers wait on each other for up
// to the busy timeout.
//
// A child process created by fork() must not use a Store its parent opened: it opens its own.

namespace narrow {

using sqlite::Query;
using sqlite::Statement;
using sqlite::is_access_error;
using sqlite::throw_open_error;

using namespace store_schema;

namespace {
constexpr int kBusyTimeoutMs = 30000;
}  // namespace

Store::~Store() = default;

void SqliteStore::exec(const std::string& sql, std::string_view what) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return;
  std::string text = message ? message : sqlite3_errstr(rc);
  sqlite3_free(message);
  if (opening_) throw_open_error(db_, path_, sqlite3_extended_errcode(db_), what);
  throw Error(fmt::format("results store {}: {}: {}", path_, what, text));
}

std::int64_t SqliteStore::pragma_int(const char* name) {
  Statement s(db_, path_, fmt::format("PRAGMA {}", name), true);
  Query q(s);
  int rc = q.try_step();
  if (rc == SQLITE_DONE)
    throw Error(fmt::format("results store {}: PRAGMA {} returned nothing", path_, name));
  if (rc != SQLITE_ROW) throw_open_error(db_, path_, rc, fmt::format("cannot read {}", name));
  return q.integer(0);
}

SqliteStore::SqliteStore(std::string path) : path_(std::move(path)) {
  const bool in_memory = path_ == ":memory:";
  if (path_.empty()) throw InputError("the results store needs a file name");
  if (!in_memory) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path p(path_);
    fs::path folder = p.parent_path().empty() ? fs::path(".") : p.parent_path();
    if (!fs::is_directory(folder, ec))
      throw InputError(fmt::format("cannot open results store {}: folder {} does not exist", path_,
                                   folder.string()));
    if (fs::is_directory(p, ec))
      throw InputError(fmt::format("cannot open results store {}: it is a folder", path_));
  }

  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
  int rc = sqlite3_open_v2(path_.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    if (is_access_error(rc))
      throw InputError(fmt::format("cannot open results store {}: {}", path_, message));
    throw Error(fmt::format("cannot open results store {}: {}", path_, message));
  }
  try {
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    // A file the OS lets us read but not write is opened read-only without an error.
    if (sqlite3_db_readonly(db_, "main") == 1)
      throw InputError(
          fmt::format("cannot open results store {}: the file is not writable", path_));
    open_schema();
    prepare();
    opening_ = false;
  } catch (...) {
    finalize();
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw;
  }
}

SqliteStore::~SqliteStore() {
  finalize();
  // The last connection to close checkpoints the log into the file and removes it.
  sqlite3_close_v2(db_);
}

void SqliteStore::open_schema() {
  // Look at the file before changing anything in it: a foreign database must be left as it
  // was (turning on WAL, for one, would rewrite its header).
  enum class Kind { empty, narrow, older, foreign };
  auto classify = [&] {
    Statement s(db_, path_, "SELECT count(*) FROM sqlite_schema", true);
    Query q(s);
    int rc = q.try_step();
    if (rc != SQLITE_ROW) throw_open_error(db_, path_, rc, "cannot read the schema");
    std::int64_t objects = q.integer(0);
    std::int64_t id = pragma_int("application_id");
    std::int64_t version = pragma_int("user_version");
    if (id == kApplicationId) {
      if (version > kSchemaVersion)
        throw InputError(fmt::format(
            "{} is a narrow results store of schema version {}, newer than this narrow reads "
            "({}); use a newer narrow",
            path_, version, kSchemaVersion));
      if (version >= 1 && version < kSchemaVersion) return Kind::older;
      if (version < kSchemaVersion)
        throw InputError(fmt::format("{} is a narrow results store of unknown schema version {}",
                                     path_, version));
      return Kind::narrow;
    }
    if (id == 0 && version == 0 && objects == 0) return Kind::empty;
    return Kind::foreign;
  };
  auto refuse = [&] { throw InputError(fmt::format("{} is not a narrow results store", path_)); };

  Kind kind = classify();
  if (kind == Kind::foreign) refuse();

  // Per-connection settings (none of them can change inside a transaction).
  exec("PRAGMA foreign_keys = ON", "cannot enable foreign keys");
  exec("PRAGMA synchronous = NORMAL", "cannot set synchronous mode");
  {
    Statement s(db_, path_, "PRAGMA journal_mode = WAL", true);
    Query q(s);
    int rc = q.try_step();
    if (rc != SQLITE_ROW) throw_open_error(db_, path_, rc, "cannot enable write-ahead logging");
    std::string mode = q.text(0);
    if (mode != "wal" && !(path_ == ":memory:" && mode == "memory"))
      throw Error(
          fmt::format("results store {}: cannot enable write-ahead logging (journal "
                      "mode stays '{}'); is the file on a network file system?",
                      path_, mode));
  }

  if (kind == Kind::empty) {
    // Another process may be creating the same store: decide again under the write lock.
    Transaction t(*this);
    kind = classify();
    if (kind == Kind::foreign) refuse();
    if (kind == Kind::empty) exec(create_sql(), "cannot create the schema");
    t.commit();
  }
  if (kind == Kind::older) {
    // Version 2 added the trainings table, version 3 the precisions table, version 4 the
    // latencies table, version 5 the records table; nothing else changed. The statements
    // create only what is missing.
    Transaction t(*this);
    if (classify() == Kind::older)
      exec(upgrade_sql(),
           fmt::format("cannot upgrade the schema to version {}", kSchemaVersion));
    t.commit();
  }
}

void SqliteStore::finalize() {
  for (auto* s :
       {&set_meta_, &get_meta_, &begin_session_, &end_session_, &delete_plugins_, &insert_plugin_,
        &select_plugins_, &unit_result_, &insert_unit_, &insert_architecture_, &insert_draw_,
        &select_draws_, &select_stage_draws_, &count_architectures_, &architecture_json_,
        &select_accepted_, &select_stage_accepted_, &insert_training_, &select_trainings_,
        &select_stage_trainings_, &training_weights_, &training_dataset_, &insert_precision_,
        &select_precisions_, &select_stage_precisions_, &insert_latency_, &select_latencies_,
        &select_stage_latencies_, &insert_record_, &select_records_, &select_stage_records_, &insert_use_, &begin_run_,
        &end_run_, &select_runs_, &select_run_units_, &select_unit_stages_})
    s->reset();
}

void SqliteStore::prepare() {
  auto make = [&](std::string_view sql) { return std::make_unique<Statement>(db_, path_, sql); };
  set_meta_ = make(
      "INSERT INTO meta(key, value) VALUES(?1, ?2) "
      "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  get_meta_ = make("SELECT value FROM meta WHERE key = ?1");
  begin_session_ =
      make(fmt::format("INSERT INTO sessions(started_at, finished_at, status, resumed) "
                       "VALUES({}, NULL, 'running', ?1)",
                       kNow));
  end_session_ =
      make(fmt::format("UPDATE sessions SET finished_at = {}, status = ?2 WHERE id = ?1", kNow));
  delete_plugins_ = make("DELETE FROM plugins");
  insert_plugin_ =
      make("INSERT INTO plugins(kind, name, plugin, version, library) VALUES(?1, ?2, ?3, ?4, ?5)");
  select_plugins_ =
      make("SELECT kind, name, plugin, version, library FROM plugins ORDER BY kind, name");
  unit_result_ = make("SELECT result FROM units WHERE key = ?1");
  insert_unit_ = make(fmt::format(
      "INSERT INTO units(key, kind, stage, result, finished_at) VALUES(?1, ?2, ?3, ?4, {})", kNow));
  insert_architecture_ = make(insert_architecture_sql());
  insert_draw_ = make(
      "INSERT INTO draws(stage, space, law, draw, status, hash, reason, assignment, unit) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  const char* draw_columns =
      "SELECT stage, space, law, draw, status, hash, reason, assignment FROM draws";
  select_draws_ = make(fmt::format("{} ORDER BY stage, space, law, draw", draw_columns));
  // A stage's rows are those of the units the current run's stage used (the `uses` table): a
  // unit another run did and this one reused counts as this run's.
  // the stage's; with ?1 = '' every stage's of the run.
  const char* used = "(SELECT unit FROM uses WHERE run = ?2 AND (?1 = '' OR stage = ?1))";
  select_stage_draws_ = make(
      "SELECT u.stage, d.space, d.law, d.draw, d.status, d.hash, d.reason, d.assignment "
      "FROM draws d JOIN uses u ON u.unit = d.unit WHERE u.run = ?2 AND (?1 = '' OR u.stage = "
      "?1) ORDER BY u.stage, d.space, d.law, d.draw");
  count_architectures_ = make("SELECT count(*) FROM architectures");
  architecture_json_ = make("SELECT json FROM architectures WHERE hash = ?1");
  std::string metric_columns;
  for (std::string_view name : metric_names) metric_columns += fmt::format(", a.{}", name);
  const std::string accepted = fmt::format(
      "SELECT a.hash, a.json{} FROM architectures a WHERE a.hash IN (SELECT hash FROM draws "
      "WHERE status = 'accepted'",
      metric_columns);
  select_accepted_ = make(accepted + ") ORDER BY a.hash");
  select_stage_accepted_ = make(fmt::format("{} AND unit IN {}) ORDER BY a.hash", accepted, used));
  insert_training_ = make(
      "INSERT INTO trainings(key, stage, hash, dataset, config, seed, status, reason, epochs, "
      "iterations, val_accuracy, val_loss, test_accuracy, test_loss, seconds, images_per_second, "
      "threads, history, result, weights) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
      "?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)");
  select_trainings_ = make("SELECT result FROM trainings ORDER BY key");
  select_stage_trainings_ =
      make(fmt::format("SELECT result FROM trainings WHERE key IN {} ORDER BY key", used));
  training_weights_ = make("SELECT weights FROM trainings WHERE key = ?1");
  training_dataset_ = make("SELECT dataset FROM trainings WHERE key = ?1");
  insert_precision_ = make(
      "INSERT INTO precisions(key, stage, training, hash, format, format_key, bits, split, "
      "rounding, parameters, weight_bytes, accuracy, loss, seconds, result) VALUES(?1, ?2, ?3, "
      "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)");
  const char* precision_columns =
      "SELECT key, stage, training, hash, format_key, split, rounding, result FROM precisions";
  select_precisions_ =
      make(fmt::format("{} ORDER BY hash, bits, format, key", precision_columns));
  select_stage_precisions_ = make(fmt::format("{} WHERE key IN {} ORDER BY hash, bits, format, key",
                                              precision_columns, used));
  insert_latency_ = make(
      "INSERT INTO latencies(key, stage, hash, device, mean, median, cv, threads, measurement) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  const char* latency_columns = "SELECT key, stage, hash, device, measurement FROM latencies";
  select_latencies_ = make(fmt::format("{} ORDER BY hash, key", latency_columns));
  select_stage_latencies_ =
      make(fmt::format("{} WHERE key IN {} ORDER BY hash, key", latency_columns, used));
  insert_record_ = make("INSERT INTO records(kind, stage, unit, data) VALUES(?1, ?2, ?3, ?4)");
  select_records_ = make("SELECT kind, stage, unit, data FROM records WHERE kind = ?1 ORDER BY id");
  select_stage_records_ = make(
      fmt::format("SELECT kind, stage, unit, data FROM records WHERE kind = ?3 AND unit IN {} "
                  "ORDER BY id",
                  used));
  insert_use_ = make("INSERT OR IGNORE INTO uses(run, stage, unit) VALUES(?1, ?2, ?3)");
  begin_run_ = make(fmt::format(
      "INSERT INTO runs(id, variant, seed, experiment, status, started_at) "
      "VALUES(?1, ?2, ?3, ?4, 'running', {}) ON CONFLICT(id) DO UPDATE SET status = 'running'",
      kNow));
  end_run_ = make(fmt::format(
      "UPDATE runs SET status = ?2, finished_at = {}, seconds = seconds + ?3, stages = ?4 "
      "WHERE id = ?1",
      kNow));
  select_runs_ = make(
      "SELECT r.id, r.variant, r.seed, r.experiment, r.status, r.seconds, r.stages, "
      "(SELECT count(DISTINCT t.key) FROM uses u JOIN trainings t ON t.key = u.unit "
      "WHERE u.run = r.id) FROM runs r ORDER BY r.rowid");
  select_run_units_ = make("SELECT DISTINCT unit FROM uses WHERE run = ?1 ORDER BY unit");
  // The stage of the first run that used each unit (the one that did it, as runs start in
  // order and a run's first use of a unit is the stage that computed or first reused it).
  select_unit_stages_ = make(
      "SELECT u.unit, u.stage FROM uses u JOIN runs r ON r.id = u.run ORDER BY r.rowid DESC, "
      "u.rowid DESC");
}

std::unique_ptr<Store> Store::open(const std::string& path) {
  return std::make_unique<SqliteStore>(path);
}

}  // namespace narrow
