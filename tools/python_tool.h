// The Python calculator: runs model-written Python in the sandbox
// (tools/sandbox.h) on a pool of warm workers.
//
// What a call returns: the code's stdout and stderr; when the last statement
// is an expression, its value's repr() follows (like the interactive
// prompt). An exception shows as its last traceback line (status kError).
// A call that runs past timeout_s is stopped (kTimeout); past cpu_s of CPU
// time, memory_mb of address space, a file of tmp_mb, or output_bytes of
// output, it is stopped too (kLimit). The output is cut to output_bytes and
// marked "…[truncated]"; a note saying why a call was stopped follows it.
//
// The pool: `workers` sandboxed Python processes, started with the tool.
// Each call runs in a fresh child that a worker forks, inside the worker's
// sandbox, so no state passes between calls; after each call the worker kills
// whatever the call left running and empties /tmp. A worker that dies, hangs
// (no reply within timeout_s + 2 s) or fails to clean up is killed and
// replaced at its next call. Calls beyond `workers` at once wait for a free
// worker.
//
// Contract: run() is thread-safe and never throws for anything the code does
// (see tools/tool.h). The destructor must not run while a call is in flight;
// when it returns, every process the tool started has been killed.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tools/sandbox.h"
#include "tools/tool.h"

namespace ponder {

struct PythonToolOptions {
  std::filesystem::path interpreter = "/usr/bin/python3";
  double timeout_s = 2;         // wall time per call
  int64_t cpu_s = 2;            // CPU time per call (whole seconds: RLIMIT_CPU)
  int64_t memory_mb = 256;      // address space of a call (and of its worker)
  int64_t output_bytes = 2048;  // output shown to the model
  int64_t workers = 2;          // warm workers
  Isolation isolation = Isolation::kFull;
  int64_t processes = 16;  // processes + threads per worker, the worker included
  int64_t tmp_mb = 16;     // private /tmp, and the largest file a call may write

  // Throws ponder::Error naming the option (as its config key,
  // tools.python.<name>) and the accepted range.
  void validate() const;
};

// Longest code accepted; longer is a kError result.
inline constexpr std::size_t kMaxPythonCodeBytes = 64 * 1024;

class PythonTool final : public Tool {
 public:
  // Starts the workers. Throws ponder::Error on bad options, or when the
  // sandbox cannot be set up here: the message names the failing step and
  // points to `ponder tools check` and isolation = "none".
  explicit PythonTool(PythonToolOptions options);
  ~PythonTool() override;

  std::string_view name() const override { return "python"; }
  std::string_view description() const override;

  const PythonToolOptions& options() const { return options_; }

  // Lines the caller should show the user at start (e.g. that model code
  // runs unisolated); empty with full isolation.
  std::vector<std::string> warnings() const;

  // Workers replaced after dying, hanging or failing to clean up.
  uint64_t restarts() const { return restarts_.load(); }

  // The interpreter's version, e.g. "3.11.2", as its first worker reported it.
  const std::string& python_version() const { return python_version_; }

 private:
  struct Worker;

  ToolResult call(std::string_view code) override;
  std::unique_ptr<SandboxedProcess> start_worker();
  ToolResult call_worker(Worker& worker, std::string_view code);

  PythonToolOptions options_;
  std::unique_ptr<Sandbox> sandbox_;
  std::string python_version_;
  std::mutex mutex_;
  std::condition_variable idle_;
  std::vector<std::unique_ptr<Worker>> workers_;  // guarded by mutex_ (busy flags)
  std::atomic<uint64_t> restarts_{0};
};

}  // namespace ponder
