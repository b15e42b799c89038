// The rollout store's SQLite schema (docs/DATABASE.md shows it and explains
// every column) and the check that a file holds a store this ponder can read.
//
// Invariant: a rollout store has a `schema_version` table with exactly one row,
// (application = kStoreApplication, version = kStoreSchemaVersion). A SQLite
// file without it is foreign; a higher version was written by a newer ponder.
#pragma once

#include <string_view>

#include "rollout/sqlite.h"

namespace ponder {

inline constexpr int kStoreSchemaVersion = 1;
inline constexpr std::string_view kStoreApplication = "ponder-rollouts";

// The CREATE TABLE / CREATE INDEX statements of the current version.
std::string_view store_schema_sql();

enum class StoreState {
  kEmpty,    // a SQLite database with no tables (a new file)
  kCurrent,  // a rollout store of kStoreSchemaVersion
};

// Throws ponder::Error naming the file when it is not a SQLite database, is a
// SQLite database but not a rollout store, or has another schema version.
StoreState check_store_schema(sqlite::Database& db);

// Creates the tables and the version row in an empty database.
void create_store_schema(sqlite::Database& db);

}  // namespace ponder
