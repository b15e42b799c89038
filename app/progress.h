// Progress of long work (training a tokenizer, writing shards, a training
// run): how much is done of how much, the rate, the time elapsed and the ETA.
//
// On a terminal the display redraws one line in place with '\r', at most ten
// times a second. Anywhere else (a CI log, a file) it prints a plain line
// every `period_s` seconds instead, so logs stay readable, and finish() prints
// a last line in both cases.
//
// Cost: advance() adds to a counter and reads the clock (a vDSO call, not a
// syscall); it formats and writes only when a line is due, so calling it once
// per item in a hot loop is fine.
//
// Not thread-safe: one thread calls advance() and finish().
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>

namespace ponder {

struct ProgressOptions {
  // Seconds between plain lines when the output is not a terminal.
  double period_s = 10;
  // Whether to draw as on a terminal; unset: whether `out` is one (isatty).
  std::optional<bool> terminal;
  // Monotonic time in seconds; unset: std::chrono::steady_clock. Tests inject
  // a fake one to check the output without sleeping.
  std::function<double()> clock;
};

class Progress {
 public:
  // `label` names the work ("tokenizer"), `unit` what is counted ("merges");
  // `total` 0 means unknown: no percentage or ETA then. `out` must outlive this.
  Progress(std::string label, uint64_t total, std::string unit, std::FILE* out = stdout,
           ProgressOptions options = {});
  // Ends a half-drawn terminal line (e.g. when an error unwinds past), so what
  // is printed next starts on a line of its own. Does not print a final line.
  ~Progress();

  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Counts `n` more units done; prints if a line is due. Ignored after finish().
  void advance(uint64_t n = 1);

  // Prints the final line (amount done, time taken, average rate). Idempotent.
  void finish();

  uint64_t done() const { return done_; }

 private:
  double now() const;
  void print(const std::string& line, bool final);
  std::string status_line(double elapsed) const;
  std::string final_line(double elapsed) const;

  std::string label_;
  uint64_t total_;
  std::string unit_;
  std::FILE* out_;
  ProgressOptions options_;
  bool terminal_;

  uint64_t done_ = 0;
  double start_;
  double next_print_;        // earliest time the next line may be printed
  bool line_drawn_ = false;  // a terminal line without its newline is showing
  bool finished_ = false;
};

}  // namespace ponder
