#include "rollout/store_schema.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <string>
#include <vector>

namespace ponder {
namespace {

// Plain tables (not STRICT) so that SQLite builds older than 3.37 (the sqlite3
// shell or Python of many systems) can read a store. REAL columns have no NOT
// NULL: SQLite stores NaN as NULL, and a NaN reward must not lose a step.
constexpr std::string_view kSchema = R"sql(CREATE TABLE schema_version (
  application TEXT NOT NULL,
  version INTEGER NOT NULL
);
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  config TEXT NOT NULL,
  created_at REAL NOT NULL,
  opened_at REAL NOT NULL
);
CREATE TABLE steps (
  run_id INTEGER NOT NULL REFERENCES runs (id),
  step INTEGER NOT NULL,
  logged_at REAL NOT NULL,
  seconds REAL,
  rollouts INTEGER NOT NULL,
  metrics TEXT NOT NULL,
  PRIMARY KEY (run_id, step)
);
CREATE TABLE rollouts (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs (id),
  step INTEGER NOT NULL,
  split TEXT NOT NULL CHECK (split IN ('train', 'eval')),
  benchmark TEXT,
  family TEXT NOT NULL,
  task_id TEXT NOT NULL,
  prompt TEXT NOT NULL,
  completion TEXT NOT NULL,
  expected_answer TEXT NOT NULL,
  extracted_answer TEXT,
  correct INTEGER NOT NULL CHECK (correct IN (0, 1)),
  reward REAL,
  rewards TEXT NOT NULL,
  advantage REAL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  thinking_tokens INTEGER NOT NULL,
  num_tool_calls INTEGER NOT NULL,
  finish_reason TEXT NOT NULL CHECK (finish_reason IN ('end', 'length', 'tool_budget', 'error')),
  seconds REAL,
  token_ids BLOB,
  logprobs BLOB
);
CREATE INDEX rollouts_by_step ON rollouts (run_id, step);
CREATE INDEX rollouts_by_task ON rollouts (task_id, step);
CREATE TABLE tool_calls (
  rollout_id INTEGER NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
  call_index INTEGER NOT NULL,
  tool TEXT NOT NULL,
  input TEXT NOT NULL,
  output TEXT NOT NULL,
  status TEXT NOT NULL,
  latency_ms REAL,
  PRIMARY KEY (rollout_id, call_index)
);
CREATE TABLE evals (
  run_id INTEGER NOT NULL REFERENCES runs (id),
  step INTEGER NOT NULL,
  benchmark TEXT NOT NULL,
  n INTEGER NOT NULL,
  accuracy REAL,
  mean_reward REAL,
  mean_completion_tokens REAL,
  PRIMARY KEY (run_id, step, benchmark)
);
)sql";

std::vector<std::string> table_names(sqlite::Database& db) {
  sqlite::Statement tables =
      db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name");
  std::vector<std::string> names;
  while (tables.step()) names.emplace_back(tables.column_text(0));
  return names;
}

}  // namespace

std::string_view store_schema_sql() {
  return kSchema;
}

StoreState check_store_schema(sqlite::Database& db) {
  std::vector<std::string> tables;
  try {
    tables = table_names(db);
  } catch (const sqlite::SqliteError& e) {
    if (e.code() == SQLITE_NOTADB) {
      throw Error(fmt::format("`{}` is not a SQLite database (expected a ponder rollout store)",
                              db.path()));
    }
    throw;
  }
  if (tables.empty()) return StoreState::kEmpty;
  const std::string foreign = fmt::format(
      "`{}` is a SQLite database but not a ponder rollout store: it has no schema_version "
      "row for application `{}`",
      db.path(), kStoreApplication);
  if (std::find(tables.begin(), tables.end(), "schema_version") == tables.end()) {
    throw Error(foreign);
  }
  std::vector<std::pair<std::string, int64_t>> rows;
  try {
    sqlite::Statement version = db.prepare("SELECT application, version FROM schema_version");
    while (version.step()) rows.emplace_back(version.column_text(0), version.column_int(1));
  } catch (const sqlite::SqliteError&) {
    throw Error(foreign);  // a schema_version table of another shape
  }
  if (rows.size() != 1 || rows[0].first != kStoreApplication) throw Error(foreign);
  const int64_t version = rows[0].second;
  if (version > kStoreSchemaVersion) {
    throw Error(fmt::format(
        "`{}` is a rollout store of schema version {}, written by a newer ponder; this ponder "
        "reads version {}",
        db.path(), version, kStoreSchemaVersion));
  }
  if (version != kStoreSchemaVersion) {
    throw Error(
        fmt::format("`{}` has rollout-store schema version {}; this ponder reads version {}",
                    db.path(), version, kStoreSchemaVersion));
  }
  return StoreState::kCurrent;
}

void create_store_schema(sqlite::Database& db) {
  db.exec(std::string(kSchema));
  db.exec(fmt::format("INSERT INTO schema_version (application, version) VALUES ('{}', {})",
                      kStoreApplication, kStoreSchemaVersion));
}

}  // namespace ponder
