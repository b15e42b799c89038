// Opening what is not a rollout store this ponder can use: clear errors, and
// the file left as it was.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/error.h"
#include "rollout/rollout_store.h"
#include "rollout/sqlite.h"
#include "rollout/store_reader.h"
#include "tests/rollout/store_test_util.h"
#include "tests/test_util.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;

std::string open_error(const std::filesystem::path& path, bool writer) {
  try {
    if (writer) {
      RolloutStore::open(path, "run", "");
    } else {
      StoreReader::open(path);
    }
  } catch (const Error& e) {
    return e.what();
  }
  return "(opened)";
}

TEST(StoreErrors, AMissingFileOrFolder) {
  testing::TempDir dir;
  EXPECT_EQ(open_error(dir / "none.db", false),
            fmt::format("rollout database `{}` not found", (dir / "none.db").string()));
  EXPECT_EQ(open_error(dir.path(), false),
            fmt::format("`{}` is a folder, not a rollout database", dir.path().string()));
  EXPECT_EQ(open_error(dir / "no" / "r.db", true),
            fmt::format("rollout store `{}`: folder `{}` does not exist",
                        (dir / "no" / "r.db").string(), (dir / "no").string()));
}

TEST(StoreErrors, AFileThatIsNotSQLite) {
  testing::TempDir dir;
  const std::string text = "step,reward\n1,0.5\n" + std::string(4096, 'x');
  testing::write_file(dir / "r.csv", text);
  for (bool writer : {true, false}) {
    EXPECT_EQ(open_error(dir / "r.csv", writer),
              fmt::format("`{}` is not a SQLite database (expected a ponder rollout store)",
                          (dir / "r.csv").string()));
  }
  EXPECT_EQ(testing::read_file(dir / "r.csv"), text);
}

TEST(StoreErrors, AForeignSQLiteDatabaseIsLeftAlone) {
  testing::TempDir dir;
  {
    sqlite::Database db(dir / "app.db", sqlite::Database::Mode::kReadWriteCreate);
    db.exec("CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('ada')");
    sqlite::Database other(dir / "other.db", sqlite::Database::Mode::kReadWriteCreate);
    other.exec(
        "CREATE TABLE schema_version (application TEXT, version INTEGER);"
        "INSERT INTO schema_version VALUES ('flyway', 7)");
  }
  for (bool writer : {true, false}) {
    for (const char* name : {"app.db", "other.db"}) {
      EXPECT_EQ(open_error(dir / name, writer),
                fmt::format("`{}` is a SQLite database but not a ponder rollout store: it has "
                            "no schema_version row for application `ponder-rollouts`",
                            (dir / name).string()));
    }
  }
  sqlite::Database db(dir / "app.db", sqlite::Database::Mode::kReadOnly);
  sqlite::Statement tables = db.prepare("SELECT group_concat(name) FROM sqlite_schema");
  ASSERT_TRUE(tables.step());
  EXPECT_EQ(tables.column_text(0), "users");
  sqlite::Statement mode = db.prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.step());
  EXPECT_EQ(mode.column_text(0), "delete");  // not switched to WAL
}

TEST(StoreErrors, ANewerSchemaVersion) {
  testing::TempDir dir;
  RolloutStore::open(dir / "r.db", "run", "");
  {
    sqlite::Database db(dir / "r.db", sqlite::Database::Mode::kReadWriteCreate);
    db.exec("UPDATE schema_version SET version = 2");
  }
  for (bool writer : {true, false}) {
    EXPECT_EQ(open_error(dir / "r.db", writer),
              fmt::format("`{}` is a rollout store of schema version 2, written by a newer "
                          "ponder; this ponder reads version 1",
                          (dir / "r.db").string()));
  }
}

TEST(StoreErrors, AnEmptySQLiteFileIsNotAStoreToRead) {
  testing::TempDir dir;
  testing::write_file(dir / "empty.db", "");
  EXPECT_EQ(open_error(dir / "empty.db", false),
            fmt::format("`{}` is a SQLite database but not a ponder rollout store: it has no "
                        "tables",
                        (dir / "empty.db").string()));
  // The writer makes it one.
  EXPECT_EQ(open_error(dir / "empty.db", true), "(opened)");
  EXPECT_EQ(open_error(dir / "empty.db", false), "(opened)");
}

TEST(StoreErrors, ReadOnlyQueriesRefuseWrites) {
  testing::TempDir dir;
  {
    RolloutStore store = RolloutStore::open(dir / "r.db", "run", "");
    store.write_step(1, testing::make_step(1, 3), {});
  }
  const StoreReader reader = StoreReader::open(dir / "r.db");
  for (const char* sql :
       {"DELETE FROM rollouts", "UPDATE rollouts SET reward = 1", "DROP TABLE tool_calls",
        "INSERT INTO runs (name, config, created_at, opened_at) VALUES ('x', '', 0, 0)",
        "CREATE TABLE t (x)", "PRAGMA journal_mode = DELETE", "VACUUM"}) {
    SCOPED_TRACE(sql);
    try {
      testing::query_rows(reader, sql);
      ADD_FAILURE() << "not refused";
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr("would change the database")) << e.what();
    }
  }
  EXPECT_THROW(testing::query_rows(reader, "SELECT 1; DELETE FROM rollouts"), Error);
  EXPECT_THROW(testing::query_rows(reader, "  -- nothing\n"), Error);
  EXPECT_THROW(testing::query_rows(reader, "SELECT nope FROM rollouts"), Error);
  EXPECT_EQ(testing::query_one(reader, "SELECT count(*) FROM rollouts; -- trailing comment"), "3");
}

}  // namespace
}  // namespace ponder
