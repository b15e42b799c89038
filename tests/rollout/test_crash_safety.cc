// kill -9 at any moment: a child process writes steps and reports each one
// whose flush() returned; the parent kills it mid-write after a varying number
// of steps and delay. The database must open, pass PRAGMA integrity_check, hold
// every reported step whole, and hold only whole steps.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <thread>

#include "rollout/rollout_store.h"
#include "rollout/sqlite.h"
#include "rollout/store_reader.h"
#include "tests/rollout/store_test_util.h"
#include "tests/test_util.h"

namespace ponder {
namespace {

constexpr int kRowsPerStep = 40;

// The child: writes steps for ever, reporting each committed one on `fd`.
// Never returns; it only ever dies of SIGKILL (or exits 3 on an error).
[[noreturn]] void write_until_killed(const std::filesystem::path& path, int fd) {
  try {
    RolloutStore store = RolloutStore::open(path, "crash", "", {.queue_steps = 2});
    for (int64_t step = 0;; ++step) {
      std::vector<RolloutRecord> rows = testing::make_step(step, kRowsPerStep);
      for (RolloutRecord& r : rows) r.completion.append(2000, 'x');  // make each commit work
      store.write_step(step, std::move(rows), {{{"loss", 1.0 / (step + 1)}}, 0.1});
      // Every other step waits for its commit: the others are still in the
      // queue when the kill lands.
      if (step % 2 == 0) {
        store.flush();
        if (write(fd, &step, sizeof step) != sizeof step) _exit(3);
      }
    }
  } catch (...) {
    _exit(3);
  }
}

struct Killed {
  int64_t last_reported = -1;
};

Killed run_and_kill(const std::filesystem::path& path, int reports_before_kill,
                    std::chrono::microseconds delay) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    write_until_killed(path, fds[1]);
  }
  close(fds[1]);
  Killed killed;
  int64_t step = 0;
  for (int i = 0; i < reports_before_kill; ++i) {
    EXPECT_EQ(read(fds[0], &step, sizeof step), static_cast<ssize_t>(sizeof step));
    killed.last_reported = step;
  }
  std::this_thread::sleep_for(delay);
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child exited early";
  // Steps reported between the last read and the kill committed too.
  while (read(fds[0], &step, sizeof step) == static_cast<ssize_t>(sizeof step)) {
    killed.last_reported = step;
  }
  close(fds[0]);
  return killed;
}

void expect_intact(const std::filesystem::path& path, int64_t last_reported) {
  // First as `ponder inspect` reads it: read-only, the killed writer's WAL still there.
  {
    const StoreReader reader = StoreReader::open(path);
    EXPECT_EQ(testing::query_one(reader, "PRAGMA integrity_check"), "ok");
    const auto steps = testing::query_rows(
        reader,
        "SELECT s.step, s.rollouts, (SELECT count(*) FROM rollouts r WHERE r.step = s.step), "
        "(SELECT count(*) FROM tool_calls t JOIN rollouts r ON r.id = t.rollout_id "
        "WHERE r.step = s.step) FROM steps s ORDER BY s.step");
    ASSERT_GE(static_cast<int64_t>(steps.size()), last_reported + 1);
    for (size_t i = 0; i < steps.size(); ++i) {
      SCOPED_TRACE(i);
      // Steps commit in order: what is there is a prefix, each step whole.
      EXPECT_EQ(steps[i], (std::vector<std::string>{std::to_string(i), std::to_string(kRowsPerStep),
                                                    std::to_string(kRowsPerStep),
                                                    std::to_string(kRowsPerStep / 2)}));
    }
    EXPECT_EQ(testing::query_one(reader, "SELECT count(*) FROM rollouts"),
              std::to_string(steps.size() * kRowsPerStep));
  }
  // Then read-write, as the resumed run opens it.
  sqlite::Database db(path, sqlite::Database::Mode::kReadWriteCreate);
  sqlite::Statement check = db.prepare("PRAGMA integrity_check");
  ASSERT_TRUE(check.step());
  EXPECT_EQ(check.column_text(0), "ok");
}

TEST(CrashSafety, KillNineMidWriteKeepsEveryCommittedStep) {
  std::mt19937 rng(7);
  for (int round = 0; round < 6; ++round) {
    SCOPED_TRACE(round);
    testing::TempDir dir;
    const auto path = dir / "rollouts.db";
    const int reports = 1 + static_cast<int>(rng() % 6);
    const auto delay = std::chrono::microseconds(rng() % 20'000);
    const Killed killed = run_and_kill(path, reports, delay);
    ASSERT_GE(killed.last_reported, 2 * (reports - 1));
    expect_intact(path, killed.last_reported);
    // The run resumes: the store opens and writes after the crash.
    {
      RolloutStore store = RolloutStore::open(path, "crash", "");
      store.write_step(1000, testing::make_step(1000, 2), {});
      store.flush();
    }
    EXPECT_EQ(testing::query_one(StoreReader::open(path),
                                 "SELECT count(*) FROM rollouts WHERE step = 1000"),
              "2");
  }
}

}  // namespace
}  // namespace ponder
