// `ponder sample CKPT --family count --n 200`: decodes task prompts with the
// rollout engine (greedy by default, tools live) and reports how many
// responses are well formed (they end, with one answer span outside thinking
// and nothing after it) and how many are correct by the task's verifier.
//
// With `direct`, the prompt ends with <|answer|>: the model must answer with
// no thinking and no tools — the same checkpoint's direct-answer baseline.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "curricula/task.h"
#include "policy/device.h"
#include "rollout/engine.h"

namespace ponder {

struct SampleOptions {
  int n = 200;
  Split split = Split::kEval;
  int difficulty = 1;
  uint64_t seed = 0;
  double temperature = 0;  // 0: greedy
  int max_new_tokens = 256;
  bool direct = false;
  int show = 3;         // responses printed in full
  DeviceChoice device;  // the backend the model runs on
};

struct SampleReport {
  int n = 0;
  int well_formed = 0;
  int correct = 0;
  int tool_calls = 0;
  double mean_response_tokens = 0;
};

// Rollouts of the checkpoint's model on `tasks` (prompt = the task's user
// turn), one each. With options.direct, each text starts with <|answer|>.
std::vector<Rollout> sample_responses(const std::filesystem::path& checkpoint,
                                      const std::vector<Task>& tasks, const SampleOptions& options,
                                      const ToolCaller& tools);

SampleReport score_responses(const std::vector<Task>& tasks, const std::vector<Rollout>& responses);

}  // namespace ponder
