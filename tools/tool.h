// The tool interface: what a rollout row calls when the model emits a tool
// call, and what it forces back into the row.
//
// Contract:
//  - Tool::run never throws for anything the input does. A bad input, a
//    crash, a timeout or a resource limit is a ToolResult with a non-ok status
//    and, in `output`, a message meant for the model. A failed tool call is
//    part of training, never a reason to stop it.
//  - Tool::run is safe to call from many threads at once.
//  - ToolResult::output is valid UTF-8 and at most the tool's output cap plus
//    kTruncationMarker (bounded_output below makes it so).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace ponder {

enum class ToolStatus {
  kOk,       // the tool did what was asked
  kError,    // the input was wrong: a syntax error, an exception, an empty query
  kTimeout,  // it ran past its wall-time limit and was stopped
  kLimit,    // it ran into another limit: memory, CPU time, output size, ...
};

// "ok", "error", "timeout", "limit": the names in JSON output and the store.
std::string_view status_name(ToolStatus status);

struct ToolResult {
  ToolStatus status = ToolStatus::kOk;
  std::string output;  // what the model is shown
  std::chrono::microseconds latency{0};
};

class Tool {
 public:
  virtual ~Tool() = default;

  virtual std::string_view name() const = 0;         // how the model calls it, e.g. "python"
  virtual std::string_view description() const = 0;  // one line, for prompts and help

  // Runs one call and times it. Any exception that escapes call() (a bug or
  // an allocation failure, never the input) becomes a kError result too.
  ToolResult run(std::string_view input);

 private:
  // The work of one call; latency is filled in by run().
  virtual ToolResult call(std::string_view input) = 0;
};

// Appended where output was cut short.
inline constexpr std::string_view kTruncationMarker = "…[truncated]";

// `bytes` as valid UTF-8 (each invalid byte becomes U+FFFD), cut to at most
// `cap` bytes on a character boundary. `marker` follows when it was cut, or
// when `truncated` says the bytes were already cut upstream.
std::string bounded_output(std::string_view bytes, std::size_t cap, bool truncated = false,
                           std::string_view marker = kTruncationMarker);

}  // namespace ponder
