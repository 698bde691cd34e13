#pragma once
// The SQLite implementation of Store (narrow/store.hpp): the connection and its prepared
// statements (store.cpp), units, draws and architectures (store_units.cpp), and trainings,
// precisions, latencies and records (store_results.cpp).
#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "narrow/store.hpp"
#include "run/runs.hpp"
#include "run/sqlite_statement.hpp"

namespace narrow {

/// A Store in one SQLite file, with one connection and its statements prepared once.
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
                   const std::vector<ArchitectureRecord>& architectures,
                   const std::vector<DrawRecord>& draws) override;
  std::vector<DrawRecord> draws(const std::string& stage) const override;
  std::int64_t count_architectures() const override;
  std::optional<std::string> architecture_json(const std::string& hash) const override;
  std::vector<ArchitectureRecord> accepted_architectures(const std::string& stage) const override;
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

  // Runs (schema version 6; run/runs.hpp is the interface the rest of the program uses).
  /// The run and stage that the following calls work for. Rows a unit commits are stored under
  /// the stage qualified by the run ("RUN/STAGE"; the stage alone for the base run ""), and
  /// the unit is recorded as used by (run, stage). A stored unit found by unit_result() while
  /// a stage is set is recorded as used by it too (it is being reused). Queries by stage return
  /// the rows of the units that (run, stage) used, and queries of every stage (stage "") the
  /// rows of the units of every stage of the run. Before set_scope, queries read every row.
  void set_scope(std::string run, std::string stage);
  void begin_run(const std::string& id, const std::string& variant, std::uint64_t seed,
                 const std::string& experiment);
  void end_run(const std::string& id, const std::string& status, double seconds,
               const std::string& stages_json);
  std::vector<StoredRun> runs() const;
  std::set<std::string> run_units(const std::string& run) const;
  std::map<std::string, std::string> unit_stages() const;

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
  /// The stage column of rows committed now: the stage, qualified by the run.
  std::string stored_stage(const std::string& stage) const;
  void use_unit(const std::string& stage, const std::string& key) const;
  void prepare();
  void finalize();

  std::string path_;
  sqlite3* db_ = nullptr;
  bool opening_ = true;  // failures are reported as throw_open_error says until open succeeds
  std::string run_, scope_stage_;  // set_scope
  bool scoped_ = false;  // set_scope was called: queries of every stage mean the run's stages

  // Prepared statements, created once (declared after db_: destroyed before it is closed).
  std::unique_ptr<sqlite::Statement> set_meta_, get_meta_, begin_session_, end_session_, delete_plugins_,
      insert_plugin_, select_plugins_, unit_result_, insert_unit_, insert_architecture_,
      insert_draw_, select_draws_, select_stage_draws_, count_architectures_, architecture_json_,
      select_accepted_, select_stage_accepted_, insert_training_, select_trainings_,
      select_stage_trainings_, training_weights_, training_dataset_, insert_precision_,
      select_precisions_, select_stage_precisions_, insert_latency_, select_latencies_,
      select_stage_latencies_, insert_record_, select_records_, select_stage_records_, insert_use_,
      begin_run_, end_run_, select_runs_, select_run_units_, select_unit_stages_;
};

}  // namespace narrow
