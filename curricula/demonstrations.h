// Demonstrations: the ideal assistant turn for a task, for SFT.
//
// Each family shows the behaviour RL will strengthen later:
//   count      restates the word and letter, then spells the word (or list) one
//              item per line with a running count, one letter per token; some
//              demos check with a Python call
//   arith      a Python calculator call for anything beyond a small table
//   wordprob,
//   gsm8k      the worked solution, each step's arithmetic a calculator call
//   lookup     a search call, then the answer taken from its result (a
//              calculator call when two facts are combined)
//   countdown  a short search in the thinking, then the expression
// A fraction of demos (DemoOptions::direct_fraction) answer directly, with no
// thinking and no tools, so that RL has something to discover.
//
// Tool outputs are never invented: every call goes through `run_tool`, which
// the caller wires to the real tools (the sandboxed calculator, the search
// stub), so demos show exactly what the model will see at rollout time.
// Deterministic: the same task, options and tool outputs give the same demo.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "curricula/task.h"
#include "policy/chat.h"

namespace ponder {

// Runs `tool` ("python" or "search") on `input` and returns what the model is
// shown (the tool's output, or its error message).
using ToolRunner = std::function<std::string(std::string_view tool, std::string_view input)>;

struct DemoOptions {
  double direct_fraction = 0.1;  // share of demos answering directly
  double verify_fraction = 0.3;  // share of letter-count demos that also check with Python
  uint64_t seed = 0;             // picks which demos are direct (with the task id)
};

// The assistant turn that solves `task`. Throws ponder::Error when the task's
// metadata lacks what its family's demo needs.
ChatTurn demonstration(const Task& task, const ToolRunner& run_tool, const DemoOptions& options);

// The whole conversation: the task's prompt as the user turn, then the demo.
std::vector<ChatTurn> demonstration_chat(const Task& task, const ToolRunner& run_tool,
                                         const DemoOptions& options);

}  // namespace ponder
