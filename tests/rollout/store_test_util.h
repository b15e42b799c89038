// Helpers for the rollout-store tests: varied records and query results as
// strings.
#pragma once

#include <fmt/format.h>

#include <string>
#include <variant>
#include <vector>

#include "rollout/rollout_record.h"
#include "rollout/store_reader.h"

namespace ponder::testing {

// Rollout `i` of `step`: every field set, varied with i (a tool call on odd i,
// correct on i % 3 == 0, token ids and log-probs on even i).
inline RolloutRecord make_rollout(int64_t step, int i, std::string split = "train") {
  RolloutRecord r;
  r.step = step;
  r.split = split;
  if (split == "eval") r.benchmark = "arith-eval";
  r.family = i % 2 ? "count" : "arith";
  r.task_id = fmt::format("{}/{}/s0-d1-{}", r.family, split, i % 4);
  r.prompt = fmt::format("What is {} + {}?", i, step);
  r.expected_answer = std::to_string(i + step);
  r.correct = i % 3 == 0;
  r.extracted_answer = r.correct ? r.expected_answer : std::to_string(i + step + 1);
  r.completion =
      fmt::format("<|think|>add them<|/think|><|answer|>{}<|/answer|><|end|>", *r.extracted_answer);
  r.reward = r.correct ? 1.0 : 0.1 * i;
  r.rewards = {{"correct", r.correct ? 1.0 : 0.0}, {"format", 0.5}};
  r.advantage = r.reward - 0.5;
  r.prompt_tokens = 10 + i;
  r.completion_tokens = 20 + i;
  r.thinking_tokens = 5;
  r.finish_reason = i % 5 == 4 ? "length" : "end";
  r.seconds = 0.25 * i;
  if (i % 2) {
    r.tool_calls.push_back({"python", fmt::format("{}+{}", i, step), std::to_string(i + step),
                            i % 4 == 1 ? "ok" : "error", 1.5 * i});
  }
  if (i % 2 == 0) {
    r.token_ids = {1, 2, 3, i};
    r.logprobs = {-0.5f, -1.0f, 0.0f, -0.25f * static_cast<float>(i)};
  }
  return r;
}

inline std::vector<RolloutRecord> make_step(int64_t step, int n, std::string split = "train") {
  std::vector<RolloutRecord> rows;
  for (int i = 0; i < n; ++i) rows.push_back(make_rollout(step, i, split));
  return rows;
}

inline std::string sql_text(const SqlValue& v) {
  if (std::holds_alternative<std::monostate>(v)) return "NULL";
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) return fmt::format("{}", *d);
  if (const auto* t = std::get_if<std::string>(&v)) return *t;
  return fmt::format("blob:{}", std::get<SqlBlob>(v).bytes.size());
}

// Every row of a read-only query, each value as text ("NULL" for NULL).
inline std::vector<std::vector<std::string>> query_rows(const StoreReader& reader,
                                                        const std::string& sql) {
  std::vector<std::vector<std::string>> rows;
  reader.query(
      sql, [](const std::vector<std::string>&) {},
      [&](const std::vector<SqlValue>& row) {
        std::vector<std::string>& out = rows.emplace_back();
        for (const SqlValue& v : row) out.push_back(sql_text(v));
      });
  return rows;
}

inline std::string query_one(const StoreReader& reader, const std::string& sql) {
  const auto rows = query_rows(reader, sql);
  return rows.empty() || rows[0].empty() ? "(no rows)" : rows[0][0];
}

}  // namespace ponder::testing
