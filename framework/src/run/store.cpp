#include "narrow/store.hpp"

#include <sqlite3.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <cstdint>
#include <cmath>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "narrow/errors.hpp"
#include "run/sqlite_statement.hpp"

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

Store::~Store() = default;

namespace {

// "NRRW" in the file header's application id: marks a SQLite file as a narrow results store.
constexpr std::int32_t kApplicationId = 0x4E525257;
constexpr int kSchemaVersion = 5;
constexpr int kBusyTimeoutMs = 30000;

// The current time as ISO-8601 UTC with milliseconds, e.g. 2024-05-01T12:34:56.789Z.
constexpr const char* kNow = "strftime('%Y-%m-%dT%H:%M:%fZ','now')";

DrawStatus parse_draw_status(std::string_view name, const std::string& path) {
  if (name == "accepted") return DrawStatus::accepted;
  if (name == "rejected") return DrawStatus::rejected;
  if (name == "invalid") return DrawStatus::invalid;
  throw Error(fmt::format("results store {}: unknown draw status '{}'", path, name));
}

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

std::string schema_sql() {
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
PRAGMA application_id = {};
PRAGMA user_version = {};
)sql",
                     metrics, trainings_sql(), precisions_sql(), latencies_sql(), records_sql(),
                     kApplicationId, kSchemaVersion);
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

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(std::string path);
  ~SqliteStore() override;

  void set_meta(const std::string& key, const std::string& value) override;
  std::optional<std::string> meta(const std::string& key) const override;
  std::int64_t begin_session(bool resumed) override;
  void end_session(std::int64_t id, const std::string& status) override;
  void set_plugins(const std::vector<PluginRecord>& plugins) override;
  std::vector<PluginRecord> plugins() const override;
  std::optional<std::string> unit_result(const std::string& key) const override;
  void commit_unit(const std::string& key, const std::string& kind, const std::string& stage,
                   const std::string& result_json,
                   const std::vector<Store::Architecture>& architectures,
                   const std::vector<DrawRecord>& draws) override;
  std::vector<DrawRecord> draws(const std::string& stage) const override;
  std::int64_t count_architectures() const override;
  std::optional<std::string> architecture_json(const std::string& hash) const override;
  std::vector<Store::Architecture> accepted_architectures(const std::string& stage) const override;
  void commit_training(const std::string& stage, const TrainJob& job, const TrainResult& result,
                       const Metrics& metrics) override;
  std::vector<TrainResult> trainings(const std::string& stage) const override;
  std::optional<std::string> training_weights(const std::string& key) const override;
  DatasetSpec training_dataset(const std::string& key) const override;
  void commit_precision(const PrecisionRecord& record) override;
  std::vector<PrecisionRecord> precisions(const std::string& stage) const override;
  void commit_latency(const LatencyRecord& record) override;
  std::vector<LatencyRecord> latencies(const std::string& stage) const override;
  void commit_records(const std::string& key, const std::string& unit_kind,
                      const std::string& stage, const std::string& result_json,
                      const std::vector<Record>& records) override;
  std::vector<Record> records(const std::string& kind, const std::string& stage) const override;

 private:
  /// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless commit() succeeded.
  class Transaction {
   public:
    explicit Transaction(SqliteStore& s) : s_(s) { s_.exec("BEGIN IMMEDIATE", "cannot begin"); }
    ~Transaction() {
      // SQLite may already have rolled back by itself (after SQLITE_FULL, SQLITE_IOERR...).
      if (!done_ && !sqlite3_get_autocommit(s_.db_))
        sqlite3_exec(s_.db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit() {
      s_.exec("COMMIT", "cannot commit");
      done_ = true;
    }

   private:
    SqliteStore& s_;
    bool done_ = false;
  };

  void exec(const std::string& sql, std::string_view what);
  std::int64_t pragma_int(const char* name);
  /// Inserts a unit row inside the caller's transaction; `what` names the unit in messages
  /// ("training KEY"): storing a key twice is an error, not an overwrite.
  void insert_unit(const std::string& key, std::string_view kind, const std::string& stage,
                   const std::string& result, const std::string& what);
  void open_schema();
  void prepare();
  void finalize();

  std::string path_;
  sqlite3* db_ = nullptr;
  bool opening_ = true;  // failures are reported as throw_open_error says until open succeeds

  // Prepared statements, created once (declared after db_: destroyed before it is closed).
  std::unique_ptr<Statement> set_meta_, get_meta_, begin_session_, end_session_, delete_plugins_,
      insert_plugin_, select_plugins_, unit_result_, insert_unit_, insert_architecture_,
      insert_draw_, select_draws_, select_stage_draws_, count_architectures_, architecture_json_,
      select_accepted_, select_stage_accepted_, insert_training_, select_trainings_,
      select_stage_trainings_, training_weights_, training_dataset_, insert_precision_,
      select_precisions_, select_stage_precisions_, insert_latency_, select_latencies_,
      select_stage_latencies_, insert_record_, select_records_, select_stage_records_;
};

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
    if (kind == Kind::empty) exec(schema_sql(), "cannot create the schema");
    t.commit();
  }
  if (kind == Kind::older) {
    // Version 2 added the trainings table, version 3 the precisions table, version 4 the
    // latencies table, version 5 the records table; nothing else changed. The statements
    // create only what is missing.
    Transaction t(*this);
    if (classify() == Kind::older)
      exec(fmt::format("{}\n{}\n{}\n{}\nPRAGMA user_version = {};", trainings_sql(),
                       precisions_sql(), latencies_sql(), records_sql(), kSchemaVersion),
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
        &select_stage_latencies_, &insert_record_, &select_records_, &select_stage_records_})
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
  select_stage_draws_ =
      make(fmt::format("{} WHERE stage = ?1 ORDER BY stage, space, law, draw", draw_columns));
  count_architectures_ = make("SELECT count(*) FROM architectures");
  architecture_json_ = make("SELECT json FROM architectures WHERE hash = ?1");
  std::string metric_columns;
  for (std::string_view name : metric_names) metric_columns += fmt::format(", a.{}", name);
  const std::string accepted = fmt::format(
      "SELECT a.hash, a.json{} FROM architectures a WHERE a.hash IN (SELECT hash FROM draws "
      "WHERE status = 'accepted'",
      metric_columns);
  select_accepted_ = make(accepted + ") ORDER BY a.hash");
  select_stage_accepted_ = make(accepted + " AND stage = ?1) ORDER BY a.hash");
  insert_training_ = make(
      "INSERT INTO trainings(key, stage, hash, dataset, config, seed, status, reason, epochs, "
      "iterations, val_accuracy, val_loss, test_accuracy, test_loss, seconds, images_per_second, "
      "threads, history, result, weights) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
      "?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)");
  select_trainings_ = make("SELECT result FROM trainings ORDER BY key");
  select_stage_trainings_ = make("SELECT result FROM trainings WHERE stage = ?1 ORDER BY key");
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
  select_stage_precisions_ =
      make(fmt::format("{} WHERE stage = ?1 ORDER BY hash, bits, format, key", precision_columns));
  insert_latency_ = make(
      "INSERT INTO latencies(key, stage, hash, device, mean, median, cv, threads, measurement) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  const char* latency_columns = "SELECT key, stage, hash, device, measurement FROM latencies";
  select_latencies_ = make(fmt::format("{} ORDER BY hash, key", latency_columns));
  select_stage_latencies_ =
      make(fmt::format("{} WHERE stage = ?1 ORDER BY hash, key", latency_columns));
  insert_record_ = make("INSERT INTO records(kind, stage, unit, data) VALUES(?1, ?2, ?3, ?4)");
  select_records_ = make("SELECT kind, stage, unit, data FROM records WHERE kind = ?1 ORDER BY id");
  select_stage_records_ = make(
      "SELECT kind, stage, unit, data FROM records WHERE kind = ?1 AND stage = ?2 ORDER BY id");
}

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
  Query q(*unit_result_);
  q.bind(1, key);
  if (!q.step(fmt::format("cannot read unit {}", key))) return std::nullopt;
  return q.text(0);
}

void SqliteStore::insert_unit(const std::string& key, std::string_view kind,
                              const std::string& stage, const std::string& result,
                              const std::string& what) {
  Query q(*insert_unit_);
  q.bind(1, key).bind(2, kind).bind(3, stage).bind(4, result);
  const int rc = q.try_step();
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
    throw Error(fmt::format("results store {}: {} is already stored", path_, what));
  if (rc != SQLITE_DONE) q.fail(fmt::format("cannot commit {}", what));
}

void SqliteStore::commit_unit(const std::string& key, const std::string& kind,
                              const std::string& stage, const std::string& result_json,
                              const std::vector<Store::Architecture>& architectures,
                              const std::vector<DrawRecord>& draws) {
  Transaction t(*this);
  insert_unit(key, kind, stage, result_json, fmt::format("unit {}", key));
  for (const Store::Architecture& a : architectures) {
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
    q.bind(1, d.stage).bind(2, d.space).bind(3, d.law).bind(4, d.draw);
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
  Query q(stage.empty() ? *select_draws_ : *select_stage_draws_);
  if (!stage.empty()) q.bind(1, stage);
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

std::vector<Store::Architecture> SqliteStore::accepted_architectures(
    const std::string& stage) const {
  std::vector<Store::Architecture> out;
  Query q(stage.empty() ? *select_accepted_ : *select_stage_accepted_);
  if (!stage.empty()) q.bind(1, stage);
  while (q.step("cannot read the accepted architectures")) {
    Store::Architecture a;
    a.hash = q.text(0);
    a.json = q.text(1);
    int col = 2;
    for (std::string_view name : metric_names) a.metrics.set(name, q.integer(col++));
    out.push_back(std::move(a));
  }
  return out;
}

void SqliteStore::commit_training(const std::string& stage, const TrainJob& job,
                                  const TrainResult& r, const Metrics& metrics) {
  const std::string what = fmt::format("cannot commit training {}", job.key);
  const nlohmann::json result_json = r.to_json();
  const std::string result = result_json.dump();
  Transaction t(*this);
  insert_unit(job.key, "training", stage, result, fmt::format("training {}", job.key));
  {
    Query q(*insert_architecture_);
    q.bind(1, job.architecture_hash).bind(2, job.architecture_json);
    int i = 3;
    for (std::string_view name : metric_names) q.bind(i++, metrics.get(name));
    int rc = q.try_step();
    if (rc != SQLITE_DONE && rc != SQLITE_CONSTRAINT_PRIMARYKEY) q.fail(what);
  }
  {
    const std::string config = job.config.to_json().dump();
    const std::string seed = std::to_string(job.seed);
    const std::string dataset = job.dataset.to_json().dump();
    const std::string history_text = result_json.at("history").dump();
    Query q(*insert_training_);
    q.bind(1, job.key).bind(2, stage).bind(3, job.architecture_hash).bind(4, dataset);
    q.bind(5, config).bind(6, seed).bind(7, r.status).bind(8, r.reason);
    q.bind(9, r.epochs).bind(10, r.iterations);
    q.bind(11, r.validation.accuracy).bind_real_or_null(12, r.validation.loss);
    q.bind(13, r.test.accuracy).bind_real_or_null(14, r.test.loss);
    q.bind(15, r.seconds).bind(16, r.images_per_second).bind(17, std::int64_t{r.threads});
    q.bind(18, history_text).bind(19, result);
    if (r.weights.empty())
      q.bind_null(20);
    else
      q.bind_blob(20, r.weights);
    if (q.try_step() != SQLITE_DONE) q.fail(what);
  }
  t.commit();
}

std::vector<TrainResult> SqliteStore::trainings(const std::string& stage) const {
  std::vector<TrainResult> out;
  Query q(stage.empty() ? *select_trainings_ : *select_stage_trainings_);
  if (!stage.empty()) q.bind(1, stage);
  while (q.step("cannot read the trainings")) {
    try {
      out.push_back(TrainResult::from_json(nlohmann::json::parse(q.text(0))));
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format("results store {}: a stored training is not readable: {}", path_,
                              e.what()));
    }
  }
  return out;
}

std::optional<std::string> SqliteStore::training_weights(const std::string& key) const {
  Query q(*training_weights_);
  q.bind(1, key);
  if (!q.step(fmt::format("cannot read the weights of training {}", key))) return std::nullopt;
  if (q.is_null(0)) return std::nullopt;
  return q.blob(0);
}

DatasetSpec SqliteStore::training_dataset(const std::string& key) const {
  Query q(*training_dataset_);
  q.bind(1, key);
  if (!q.step(fmt::format("cannot read the dataset of training {}", key)))
    throw Error(fmt::format("results store {}: there is no training {}", path_, key));
  try {
    return DatasetSpec::from_json(nlohmann::json::parse(q.text(0)));
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("results store {}: the dataset of training {} is not readable: {}",
                            path_, key, e.what()));
  }
}

void SqliteStore::commit_precision(const PrecisionRecord& p) {
  const std::string what = fmt::format("cannot commit precision evaluation {}", p.key);
  const std::string result = p.result.to_json().dump();
  Transaction t(*this);
  insert_unit(p.key, "precision", p.stage, result, fmt::format("precision evaluation {}", p.key));
  {
    Query q(*insert_precision_);
    q.bind(1, p.key).bind(2, p.stage).bind(3, p.training_key).bind(4, p.architecture_hash);
    q.bind(5, p.result.format).bind(6, p.format_key).bind(7, std::int64_t{p.result.bits});
    q.bind(8, p.split).bind(9, p.rounding).bind(10, p.result.parameters);
    q.bind(11, p.result.weight_bytes).bind(12, p.result.evaluation.accuracy);
    q.bind_real_or_null(13, p.result.evaluation.loss).bind(14, p.result.seconds).bind(15, result);
    if (q.try_step() != SQLITE_DONE) q.fail(what);
  }
  t.commit();
}

std::vector<PrecisionRecord> SqliteStore::precisions(const std::string& stage) const {
  std::vector<PrecisionRecord> out;
  Query q(stage.empty() ? *select_precisions_ : *select_stage_precisions_);
  if (!stage.empty()) q.bind(1, stage);
  while (q.step("cannot read the precision evaluations")) {
    PrecisionRecord p;
    p.key = q.text(0);
    p.stage = q.text(1);
    p.training_key = q.text(2);
    p.architecture_hash = q.text(3);
    p.format_key = q.text(4);
    p.split = q.text(5);
    p.rounding = q.text(6);
    try {
      p.result = PrecisionResult::from_json(nlohmann::json::parse(q.text(7)));
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format("results store {}: precision evaluation {} is not readable: {}",
                              path_, p.key, e.what()));
    }
    out.push_back(std::move(p));
  }
  return out;
}

void SqliteStore::commit_latency(const LatencyRecord& r) {
  const std::string what = fmt::format("cannot commit latency measurement {}", r.key);
  const std::string measurement = r.measurement.to_json().dump();
  Transaction t(*this);
  insert_unit(r.key, "latency", r.stage, measurement,
              fmt::format("latency measurement {}", r.key));
  {
    Query q(*insert_latency_);
    q.bind(1, r.key).bind(2, r.stage).bind(3, r.architecture_hash).bind(4, r.device);
    q.bind(5, r.measurement.mean).bind(6, r.measurement.median).bind(7, r.measurement.cv);
    q.bind(8, std::int64_t{r.measurement.threads}).bind(9, measurement);
    if (q.try_step() != SQLITE_DONE) q.fail(what);
  }
  t.commit();
}

std::vector<LatencyRecord> SqliteStore::latencies(const std::string& stage) const {
  std::vector<LatencyRecord> out;
  Query q(stage.empty() ? *select_latencies_ : *select_stage_latencies_);
  if (!stage.empty()) q.bind(1, stage);
  while (q.step("cannot read the latency measurements")) {
    LatencyRecord r;
    r.key = q.text(0);
    r.stage = q.text(1);
    r.architecture_hash = q.text(2);
    r.device = q.text(3);
    try {
      r.measurement = LatencyMeasurement::from_json(nlohmann::json::parse(q.text(4)));
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format("results store {}: latency measurement {} is not readable: {}",
                              path_, r.key, e.what()));
    }
    out.push_back(std::move(r));
  }
  return out;
}

void SqliteStore::commit_records(const std::string& key, const std::string& unit_kind,
                                 const std::string& stage, const std::string& result_json,
                                 const std::vector<Record>& records) {
  const std::string what = fmt::format("cannot commit unit {}", key);
  Transaction t(*this);
  insert_unit(key, unit_kind, stage, result_json, fmt::format("unit {}", key));
  for (const Record& r : records) {
    Query q(*insert_record_);
    q.bind(1, r.kind).bind(2, stage).bind(3, key).bind(4, r.data);
    if (q.try_step() != SQLITE_DONE)
      q.fail(fmt::format("{}: record of kind '{}' (its data must be JSON, its kind not empty)",
                         what, r.kind));
  }
  t.commit();
}

std::vector<Record> SqliteStore::records(const std::string& kind, const std::string& stage) const {
  std::vector<Record> out;
  Query q(stage.empty() ? *select_records_ : *select_stage_records_);
  q.bind(1, kind);
  if (!stage.empty()) q.bind(2, stage);
  while (q.step(fmt::format("cannot read the records of kind '{}'", kind)))
    out.push_back(Record{q.text(0), q.text(1), q.text(2), q.text(3)});
  return out;
}

}  // namespace

std::unique_ptr<Store> Store::open(const std::string& path) {
  return std::make_unique<SqliteStore>(path);
}

}  // namespace narrow
