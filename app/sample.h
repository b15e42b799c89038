// `ponder sample CKPT --family count --n 200`: greedy-decodes task prompts
// with the KV cache, many rows at once, and reports how many responses are
// well formed (one answer span, thinking closed, nothing after the answer)
// and how many are correct by the task's verifier.
//
// Tools do not run yet (the rollout engine will run them live): a response
// that calls a tool ends at the end of its call, and counts as malformed.
// With `direct`, the prompt ends with <|answer|>, forcing an answer without
// thinking or tools: the same checkpoint's direct-answer baseline.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "curricula/task.h"
#include "policy/tokenizer.h"

namespace ponder {

struct SampleOptions {
  int n = 200;
  Split split = Split::kEval;
  int difficulty = 1;
  uint64_t seed = 0;
  int max_new_tokens = 256;
  bool direct = false;
  int batch = 64;  // rows decoded together
  int show = 3;    // responses printed in full
};

struct SampleReport {
  int n = 0;
  int well_formed = 0;
  int correct = 0;
  int tool_calls = 0;  // responses that ended at a tool call
  double mean_response_tokens = 0;
};

struct SampledResponse {
  std::string text;  // special tokens spelled out; model text cannot spell them
  int tokens = 0;
  bool ended_at_tool_call = false;
};

// Greedy responses of the checkpoint's model to `tasks` (prompt = the task's
// user turn).
std::vector<SampledResponse> sample_responses(const std::filesystem::path& checkpoint,
                                              const std::vector<Task>& tasks,
                                              const SampleOptions& options);

// Scores responses against their tasks.
SampleReport score_responses(const std::vector<Task>& tasks,
                             const std::vector<SampledResponse>& responses);

}  // namespace ponder
