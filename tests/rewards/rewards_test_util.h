// Hand-made tasks and rollouts for the reward tests: a rollout here is what
// the engine would report, written out by hand (text with special tokens
// spelled, token counts, tool outcomes).
#pragma once

#include <string>
#include <vector>

#include "curricula/task.h"
#include "rollout/engine.h"

namespace ponder::testing {

inline Task arith_task(std::string answer = "42") {
  Task task;
  task.id = "arith/train/s0-d1-7";
  task.family = Family::kArith;
  task.prompt = "Compute 6 * 7.";
  task.answer = std::move(answer);
  task.metadata = {{"expression", "6 * 7"}};
  return task;
}

// `tokens` completion tokens, the first `forced` of them forced (mask 0).
inline Rollout rollout(std::string text, int tokens = 10, std::string finish_reason = "end",
                       int forced = 0) {
  Rollout r;
  r.text = std::move(text);
  r.ids.assign(tokens, 0);
  r.logprobs.assign(tokens, 0.0f);
  r.mask.assign(tokens, 1);
  for (int i = 0; i < forced && i < tokens; ++i) r.mask[i] = 0;
  r.finish_reason = std::move(finish_reason);
  return r;
}

inline ToolCallSegment tool_call(std::string status) {
  ToolCallSegment call;
  call.tool = "python";
  call.input = "6*7";
  call.outcome.output = status == "ok" ? "42" : "error: " + status;
  call.outcome.status = std::move(status);
  return call;
}

}  // namespace ponder::testing
