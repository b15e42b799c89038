// A reward computed by a program: a persistent child process that reads one
// JSON request per line on stdin and writes one JSON reply per line on stdout
// (docs/REWARDS.md has the protocol; rewards/examples/ a script).
//
// Request (one line, valid UTF-8: each invalid byte of model output becomes
// U+FFFD):
//   {"task": {"id", "family", "split", "difficulty"}, "prompt", "completion",
//    "final_answer" (string or null), "expected_answer", "metadata",
//    "thinking", "finish_reason", "completion_tokens", "thinking_tokens",
//    "tool_calls": [{"tool", "input", "output", "status"}]}
// Reply (one line):
//   {"reward": x}                   x a number, or null: not applicable
//   {"rewards": {"part": x, ...}}   the score is the sum of the parts that are
//                                   not null (none: not applicable); part
//                                   names are letters, digits, '_' and '-'
//
// Failures: a process that exits before replying, does not reply within the
// timeout (stdin full, or no full line on stdout), or replies with anything
// else (not JSON, another shape, more than one line, a line over 1 MiB) makes
// score() throw ponder::Error naming the reward, the command, the task and
// the offending line (or the last line of the process's stderr). The process
// is then killed, and a new one started at the next request.
//
// Lifetime: the process starts in the constructor and lives until the
// destructor closes its stdin and, after a short grace, kills it. Not
// thread-safe: one request at a time.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rewards/reward.h"

namespace ponder {

class CommandReward final : public Reward {
 public:
  // Starts `command` (program, then arguments; a program without '/' is
  // looked up on PATH). Throws ponder::Error when it cannot start.
  CommandReward(std::string name, std::vector<std::string> command,
                std::chrono::milliseconds timeout);
  ~CommandReward() override;

  std::optional<double> score(const RewardInput& input) override;
  std::optional<double> score_with_parts(const RewardInput& input,
                                         std::map<std::string, double>& parts) override;

  // How many processes were started, the first included.
  int starts() const { return starts_; }

 private:
  class Process;

  [[noreturn]] void fail(const RewardInput& input, const std::string& problem);

  std::string name_;
  std::vector<std::string> command_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<Process> process_;  // null after a failure, until the next request
  int starts_ = 0;
};

}  // namespace ponder
