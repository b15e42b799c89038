// RolloutStore: writes every rollout, tool call and step metric of a run into a
// SQLite database (docs/DATABASE.md) from a background thread, so that logging
// never waits on the disk while the trainer generates.
//
//   RolloutStore store = RolloutStore::open("runs/out/x/rollouts.db", "x", config_toml);
//   store.write_step(step, std::move(rollouts), metrics);   // returns at once
//   ...
//   store.flush();   // everything written so far is committed, or an Error
//
// Contract:
//  - Each write_step is one transaction: its metrics row, its rollouts with
//    their tool calls, and its `evals` rows (one per benchmark among the eval
//    rollouts) commit together or not at all. Steps commit in call order.
//  - Durability: the database is in WAL mode with synchronous=NORMAL. A process
//    killed at any moment (kill -9) leaves a database that opens, passes
//    PRAGMA integrity_check and holds every step whose transaction committed —
//    at least every step before the last flush() that returned. A power cut may
//    also lose the last steps committed before it, never the database.
//  - Back-pressure: at most `queue_steps` steps wait for the writer thread.
//    write_step blocks while the queue is full, so memory stays bounded and no
//    row is ever dropped; a disk slower than the run slows the run instead.
//  - Errors: a failure on the writer thread (disk full, a read-only file) is
//    kept and thrown as ponder::Error by the next write_step or flush, and by
//    every call after it. Steps queued after the failing one are not written.
//    The destructor cannot throw: it drains the queue and, if an error was never
//    thrown to the caller, prints it to stderr rather than lose it silently.
//  - Writing a step that is already in the database replaces it (a resumed run
//    re-does the steps after its checkpoint; being deterministic, it re-writes
//    the same rows).
//  - Readers (`ponder inspect`, the sqlite3 shell) may read while it writes.
//  - write_step and flush may be called from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "rollout/rollout_record.h"

namespace ponder {

struct RolloutStoreOptions {
  int queue_steps = 4;  // steps waiting for the writer before write_step blocks; >= 1
};

class RolloutStore {
 public:
  // Opens (creating when missing) the store at `path` and the run named
  // `run_name` in it: a new run, or the run of that name resumed, its config
  // replaced by `config_toml`. Throws ponder::Error when the file cannot be
  // opened or created, is not a SQLite database, is a SQLite database but not a
  // rollout store, or has a newer schema.
  static RolloutStore open(const std::filesystem::path& path, const std::string& run_name,
                           const std::string& config_toml, RolloutStoreOptions options = {});

  RolloutStore(RolloutStore&&) noexcept;
  RolloutStore& operator=(RolloutStore&&) noexcept;
  ~RolloutStore();  // drains: every queued step is written before it returns

  // Queues one step. Every record's step must equal `step`, its split be
  // "train" (benchmark empty) or "eval" (benchmark set), its finish_reason one
  // of "end", "length", "tool_budget", "error" (std::invalid_argument
  // otherwise: a caller's bug). Blocks only while the queue is full.
  void write_step(int64_t step, std::vector<RolloutRecord> rollouts, StepMetrics metrics);

  // Returns once every step queued before it is committed; throws the writer's
  // error if one happened.
  void flush();

  int64_t run_id() const;  // the run's `runs.id`

 private:
  struct Impl;
  explicit RolloutStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ponder
