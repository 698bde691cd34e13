#pragma once
// Prepared SQLite statements and their use, for the results store (store.cpp): errors become
// narrow's exceptions naming the file, statements are reset after each use.
#include <sqlite3.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "narrow/errors.hpp"

namespace narrow::sqlite {

// Errors of opening that mean the file cannot be used as given, rather than a failure of
// the work.
inline bool is_access_error(int code) {
  switch (code & 0xff) {
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return true;
    default:
      return false;
  }
}

/// Throws what a failure while opening means: a file that is not a database, or that cannot
/// be opened or written, is bad input (InputError naming the file); anything else is an Error.
[[noreturn]] inline void throw_open_error(sqlite3* db, const std::string& path, int code,
                                   std::string_view what) {
  std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(code);
  if ((code & 0xff) == SQLITE_NOTADB)
    throw InputError(fmt::format("{} is not a narrow results store", path));
  if (is_access_error(code))
    throw InputError(fmt::format(
        "cannot open results store {}: {} (are the file and its folder writable?)", path, message));
  throw Error(fmt::format("results store {}: {}: {}", path, what, message));
}

/// A prepared statement owned for the life of the connection.
class Statement {
 public:
  /// `opening`: the file is being opened, so failures are reported by throw_open_error.
  Statement(sqlite3* db, const std::string& path, std::string_view sql, bool opening = false)
      : db_(db), path_(&path) {
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt_, &tail);
    if (rc == SQLITE_OK) return;
    rc = sqlite3_extended_errcode(db);
    if (opening) throw_open_error(db, path, rc, fmt::format("cannot prepare '{}'", sql));
    throw Error(
        fmt::format("results store {}: cannot prepare '{}': {}", path, sql, sqlite3_errmsg(db)));
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  sqlite3_stmt* get() const { return stmt_; }
  sqlite3* db() const { return db_; }
  const std::string& path() const { return *path_; }

 private:
  sqlite3* db_;
  const std::string* path_;
  sqlite3_stmt* stmt_ = nullptr;
};

/// One use of a Statement: binds, steps, reads columns, and resets it on scope exit so that
/// it neither holds a read transaction open nor keeps pointers to the caller's strings.
class Query {
 public:
  explicit Query(const Statement& s) : s_(s), stmt_(s.get()) {}
  ~Query() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& bind(int i, std::string_view v) {
    // The caller's strings outlive the query, which resets before returning: no copy.
    check(sqlite3_bind_text64(stmt_, i, v.data() ? v.data() : "", v.size(), SQLITE_STATIC,
                              SQLITE_UTF8));
    return *this;
  }
  Query& bind(int i, std::int64_t v) {
    check(sqlite3_bind_int64(stmt_, i, v));
    return *this;
  }
  Query& bind(int i, double v) {
    check(sqlite3_bind_double(stmt_, i, v));
    return *this;
  }
  /// A real that may be NaN or infinite (a failed training's loss): NULL then.
  /// Binds a copy of `v`, for a text that does not outlive the query (a temporary).
  Query& bind_copy(int i, const std::string& v) {
    check(sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
    return *this;
  }
  Query& bind_real_or_null(int i, double v) {
    return std::isfinite(v) ? bind(i, v) : bind_null(i);
  }
  Query& bind_blob(int i, std::string_view v) {
    check(sqlite3_bind_blob64(stmt_, i, v.data(), v.size(), SQLITE_STATIC));
    return *this;
  }
  std::string blob(int col) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    if (!p) return {};
    return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  Query& bind_null(int i) {
    check(sqlite3_bind_null(stmt_, i));
    return *this;
  }

  /// Steps once: true when a row is available, false when done. Throws Error otherwise,
  /// with `what` and SQLite's message.
  bool step(std::string_view what) {
    int rc = try_step();
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(what);
  }
  /// Steps once and returns SQLITE_ROW, SQLITE_DONE or the extended error code.
  int try_step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) return rc;
    return sqlite3_extended_errcode(s_.db());
  }
  /// Runs a statement that returns no rows.
  void run(std::string_view what) {
    while (step(what)) {
    }
  }
  /// Throws Error with `what` and SQLite's message about the last failure.
  [[noreturn]] void fail(std::string_view what) const {
    throw Error(fmt::format("results store {}: {}: {}", s_.path(), what, sqlite3_errmsg(s_.db())));
  }

  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    if (!p) return {};
    return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
  }

 private:
  void check(int rc) const {
    if (rc != SQLITE_OK)
      throw Error(
          fmt::format("results store {}: cannot bind a value: {}", s_.path(), sqlite3_errstr(rc)));
  }
  const Statement& s_;
  sqlite3_stmt* stmt_;
};

}  // namespace narrow::sqlite
