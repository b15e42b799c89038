// What the rollout store records: one RolloutRecord per generated sample (with
// its tool calls), one StepMetrics per training step. docs/DATABASE.md maps each
// field to its column.
//
// Text fields (prompt, completion, answers, tool input and output) may hold any
// bytes: model output is hostile input. The store keeps them as TEXT that is
// always valid UTF-8, replacing each byte that is not part of a valid UTF-8
// sequence with U+FFFD; the exact bytes of a completion stay recoverable from
// `token_ids` when those are kept.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ponder {

struct ToolCallRecord {
  std::string tool;    // "python", "search", ...
  std::string input;   // the call's input as the model wrote it
  std::string output;  // what was forced back into the row
  std::string status;  // tools/tool.h status_name: "ok", "error", "timeout", "limit"
  double latency_ms = 0;
};

struct RolloutRecord {
  int64_t step = 0;             // must equal write_step's step
  std::string split = "train";  // "train" or "eval"
  std::string benchmark;        // eval only (non-empty there); empty for train
  std::string family;           // curricula family: "arith", "gsm8k", ...
  std::string task_id;          // curricula Task::id
  std::string prompt;           // the user's words
  std::string completion;       // the generated text, special tokens spelled out (render_text)
  std::string expected_answer;  // the task's gold answer
  std::optional<std::string> extracted_answer;  // none: no final answer found
  bool correct = false;  // the verifier's verdict on extracted_answer; accuracy averages it
  double reward = 0;     // the weighted total
  std::map<std::string, double> rewards;  // per reward function, before weighting
  double advantage = 0;
  int prompt_tokens = 0;
  int completion_tokens = 0;          // everything after the prompt, forced tool results included
  int thinking_tokens = 0;            // inside <|think|> spans
  std::string finish_reason = "end";  // "end", "length", "tool_budget" or "error"
  double seconds = 0;                 // wall time to generate this rollout
  std::vector<ToolCallRecord> tool_calls;  // in call order
  // Optional (empty: not kept): the completion's token ids and the per-token
  // log-probs the engine recorded, stored as little-endian BLOBs.
  std::vector<int32_t> token_ids;
  std::vector<float> logprobs;
};

struct StepMetrics {
  std::map<std::string, double> values;  // "loss", "kl", "lr", ...; NaN/Inf read back as NaN
  double seconds = 0;                    // the step's wall time
};

}  // namespace ponder
