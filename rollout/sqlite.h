// A thin RAII layer over the SQLite C API for the rollout store: a connection
// and its prepared statements. Every failure is a SqliteError (a ponder::Error)
// whose message names the database file.
//
// Not thread-safe: a Database and its Statements belong to one thread at a time.
// Statements must be destroyed before their Database (which may move).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "policy/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace ponder::sqlite {

class SqliteError : public Error {
 public:
  SqliteError(const std::string& message, int code) : Error(message), code_(code) {}
  int code() const { return code_; }  // the primary SQLite result code (SQLITE_NOTADB, ...)

 private:
  int code_;
};

class Statement {
 public:
  Statement() = default;
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  ~Statement();

  // False for the empty Statement of prepare_next.
  explicit operator bool() const { return stmt_ != nullptr; }

  // Parameters are 1-based, as in SQLite. Text and blobs are not copied: they
  // must stay alive until the next step() or reset().
  void bind(int index, int64_t value);
  void bind(int index, double value);
  void bind_text(int index, std::string_view text);
  void bind_blob(int index, const void* data, size_t bytes);
  void bind_null(int index);

  // True when a row is ready, false when the statement is done.
  bool step();
  // Ready to run again, with every parameter unbound.
  void reset();

  int column_count() const;
  std::string column_name(int column) const;
  int column_type(int column) const;  // SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, ...
  bool column_is_null(int column) const;
  int64_t column_int(int column) const;
  double column_double(int column) const;
  std::string_view column_text(int column) const;  // valid until the next step()
  std::span<const std::byte> column_blob(int column) const;
  // Whether running it cannot change the database (sqlite3_stmt_readonly).
  bool read_only() const;

 private:
  friend class Database;
  Statement(sqlite3_stmt* stmt, std::string path) : stmt_(stmt), path_(std::move(path)) {}
  [[noreturn]] void fail(int rc) const;

  sqlite3_stmt* stmt_ = nullptr;
  std::string path_;  // for error messages
};

class Database {
 public:
  enum class Mode {
    kReadWriteCreate,  // the writer: creates the file when missing
    kReadOnly,         // readers: a missing file is an error; nothing can write through it
  };
  // Throws SqliteError when SQLite cannot open `path`.
  Database(const std::filesystem::path& path, Mode mode);
  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) = delete;
  ~Database();

  void exec(const std::string& sql);
  // The first statement of `sql`. `persistent`: kept for the connection's
  // life (the writer's statements).
  Statement prepare(std::string_view sql, bool persistent = false) const;
  // One statement of `sql` (from `*offset`), advancing `*offset` past it; an
  // empty Statement when only whitespace and comments remain.
  Statement prepare_next(std::string_view sql, size_t* offset) const;

  int64_t last_insert_rowid() const;
  const std::string& path() const { return path_; }
  // "rollout store `PATH`: MESSAGE (while WHAT)" as a SqliteError.
  [[noreturn]] void fail(int rc, std::string_view what) const;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace ponder::sqlite
