// StoreReader: the read side of the rollout store (`ponder inspect`, tests).
//
// Contract:
//  - It holds a read-only connection: nothing done through it can change the
//    file, `query` included (a statement that would write is refused first).
//  - It reads while a RolloutStore writes the same file (WAL). Each call sees
//    one consistent snapshot: the steps committed when it began, whole.
//  - Text comes back as stored: valid UTF-8 for what a RolloutStore wrote, any
//    bytes for a file edited by other tools. Printing it safely is the caller's
//    job (a completion may hold terminal escape sequences).
//  - REAL columns that hold NULL (SQLite's NaN) read back as NaN.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "rollout/rollout_record.h"

namespace ponder {

struct StoredRollout {
  int64_t id = 0;  // rollouts.id
  std::string run;
  RolloutRecord record;
};

// One row of `list`: a rollout without its texts, tool calls and tokens.
struct RolloutListing {
  int64_t id = 0;
  std::string run;
  int64_t step = 0;
  std::string split, benchmark, family, task_id;
  std::string expected_answer;
  std::optional<std::string> extracted_answer;
  bool correct = false;
  double reward = 0, advantage = 0, seconds = 0;
  int64_t completion_tokens = 0, thinking_tokens = 0, num_tool_calls = 0;
  std::string finish_reason;
};

enum class RolloutSort {
  kId,
  kStep,
  kReward,
  kAdvantage,
  kTokens,
  kThinking,
  kToolCalls,
  kSeconds
};

// Which rollouts `list` and `for_each` visit. Empty strings and unset optionals
// match everything; ranges are inclusive; an empty range matches nothing.
struct RolloutFilter {
  std::string run;
  std::string split;
  std::optional<int64_t> min_step, max_step;
  std::string family;
  std::optional<double> min_reward, max_reward;
  std::string finish_reason;
  std::optional<bool> has_tool_calls;
  std::optional<bool> correct;
  std::string search;  // a substring of the prompt or completion; ASCII letters match either case
  RolloutSort sort = RolloutSort::kId;
  bool descending = false;
  int64_t limit = 0;  // 0: no limit
};

// Train rollouts of one step, averaged.
struct StepSummary {
  std::string run;
  int64_t step = 0;
  int64_t rollouts = 0;
  double reward = 0, accuracy = 0;
  double completion_tokens = 0, thinking_tokens = 0;
  double with_tool_calls = 0;  // fraction of rollouts that called a tool
  double tool_calls = 0;       // calls per rollout
  double truncated = 0;        // fraction that hit the token budget (finish_reason "length")
};

// A row of the `evals` table.
struct EvalSummary {
  std::string run;
  int64_t step = 0;
  std::string benchmark;
  int64_t n = 0;
  double accuracy = 0, reward = 0, completion_tokens = 0;
};

struct StoreSummary {
  std::vector<StepSummary> steps;  // by run, then step
  std::vector<EvalSummary> evals;  // by run, step, benchmark
};

// A value of a `query` row. Blobs are their bytes in a std::string.
struct SqlBlob {
  std::string bytes;
};
using SqlValue = std::variant<std::monostate, int64_t, double, std::string, SqlBlob>;

class StoreReader {
 public:
  // Throws ponder::Error naming `path` when it is missing, a folder, not a
  // SQLite database, not a rollout store, or of another schema version.
  static StoreReader open(const std::filesystem::path& path);

  StoreReader(StoreReader&&) noexcept;
  StoreReader& operator=(StoreReader&&) noexcept;
  ~StoreReader();

  const std::string& path() const;
  std::vector<std::string> runs() const;  // in creation order

  // `run` empty: every run. Throws ponder::Error when `run` is not in the file
  // (here and wherever a filter names a run).
  StoreSummary summary(const std::string& run) const;
  std::vector<RolloutListing> list(const RolloutFilter& filter) const;
  // Whole rollouts (tool calls, tokens) in filter order, one at a time.
  void for_each(const RolloutFilter& filter,
                const std::function<void(const StoredRollout&)>& visit) const;
  // Throws ponder::Error when there is no rollout `id`.
  StoredRollout get(int64_t id) const;

  // Runs one read-only SQL statement: `columns` once with the column names,
  // then `row` per result row. Throws ponder::Error for SQL that does not
  // compile, holds no or several statements, or would write.
  void query(std::string_view sql,
             const std::function<void(const std::vector<std::string>&)>& columns,
             const std::function<void(const std::vector<SqlValue>&)>& row) const;

 private:
  struct Impl;
  explicit StoreReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ponder
