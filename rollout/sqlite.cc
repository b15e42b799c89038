#include "rollout/sqlite.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <utility>

namespace ponder::sqlite {
namespace {

std::string message(sqlite3* db, int rc, std::string_view path, std::string_view what) {
  const char* text = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if (what.empty()) return fmt::format("rollout store `{}`: {}", path, text);
  return fmt::format("rollout store `{}`: {} (while {})", path, text, what);
}

}  // namespace

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), path_(std::move(other.path_)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

Statement::~Statement() {
  sqlite3_finalize(stmt_);
}

void Statement::fail(int rc) const {
  throw SqliteError(message(sqlite3_db_handle(stmt_), rc, path_, ""), rc & 0xff);
}

void Statement::bind(int index, int64_t value) {
  if (int rc = sqlite3_bind_int64(stmt_, index, value); rc != SQLITE_OK) fail(rc);
}

void Statement::bind(int index, double value) {
  if (int rc = sqlite3_bind_double(stmt_, index, value); rc != SQLITE_OK) fail(rc);
}

void Statement::bind_text(int index, std::string_view text) {
  // SQLITE_STATIC: the caller keeps the bytes alive until step(); no copy.
  int rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
  if (rc != SQLITE_OK) fail(rc);
}

void Statement::bind_blob(int index, const void* data, size_t bytes) {
  if (int rc = sqlite3_bind_blob64(stmt_, index, data, bytes, SQLITE_STATIC); rc != SQLITE_OK) {
    fail(rc);
  }
}

void Statement::bind_null(int index) {
  if (int rc = sqlite3_bind_null(stmt_, index); rc != SQLITE_OK) fail(rc);
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(rc);
}

void Statement::reset() {
  // reset() repeats the last step's error, which step() has already thrown.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int Statement::column_count() const {
  return sqlite3_column_count(stmt_);
}

std::string Statement::column_name(int column) const {
  const char* name = sqlite3_column_name(stmt_, column);
  return name ? name : "";
}

int Statement::column_type(int column) const {
  return sqlite3_column_type(stmt_, column);
}

bool Statement::column_is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t Statement::column_int(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

double Statement::column_double(int column) const {
  return sqlite3_column_double(stmt_, column);
}

std::string_view Statement::column_text(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  return {text ? text : "", static_cast<size_t>(sqlite3_column_bytes(stmt_, column))};
}

std::span<const std::byte> Statement::column_blob(int column) const {
  const auto* data = static_cast<const std::byte*>(sqlite3_column_blob(stmt_, column));
  return {data, data ? static_cast<size_t>(sqlite3_column_bytes(stmt_, column)) : 0};
}

bool Statement::read_only() const {
  return sqlite3_stmt_readonly(stmt_) != 0;
}

Database::Database(const std::filesystem::path& path, Mode mode) : path_(path.string()) {
  // No SQLITE_OPEN_URI: a path is a path, whatever characters it holds.
  const int flags =
      mode == Mode::kReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  const int rc = sqlite3_open_v2(path_.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    const std::string text = message(db_, rc, path_, "opening it");
    sqlite3_close(db_);
    db_ = nullptr;
    throw SqliteError(text, rc & 0xff);
  }
  sqlite3_extended_result_codes(db_, 1);
  // A store file may come from anywhere: its schema (views, triggers) must not
  // call functions with side effects, and no statement may corrupt it on purpose.
  sqlite3_db_config(db_, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  sqlite3_db_config(db_, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  // Readers and the writer wait for each other's locks instead of failing at
  // once (WAL needs this only around checkpoints and recovery).
  sqlite3_busy_timeout(db_, 10'000);
}

Database::Database(Database&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), path_(std::move(other.path_)) {}

Database::~Database() {
  sqlite3_close(db_);
}

void Database::fail(int rc, std::string_view what) const {
  throw SqliteError(message(db_, rc, path_, what), rc & 0xff);
}

int64_t Database::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(db_);
}

void Database::exec(const std::string& sql) {
  if (int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr); rc != SQLITE_OK) {
    fail(rc, "");
  }
}

Statement Database::prepare(std::string_view sql, bool persistent) const {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    persistent ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, nullptr);
  if (rc != SQLITE_OK) fail(rc, "");
  return Statement(stmt, path_);
}

Statement Database::prepare_next(std::string_view sql, size_t* offset) const {
  while (*offset < sql.size()) {
    const std::string_view rest = sql.substr(*offset);
    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    const int rc =
        sqlite3_prepare_v3(db_, rest.data(), static_cast<int>(rest.size()), 0, &stmt, &tail);
    if (rc != SQLITE_OK) fail(rc, "");
    *offset += static_cast<size_t>(tail - rest.data());
    // A null statement with progress: only a comment or a lone ';' was there.
    if (stmt) return Statement(stmt, path_);
    if (tail == rest.data()) break;
  }
  *offset = sql.size();
  return Statement();
}

}  // namespace ponder::sqlite
