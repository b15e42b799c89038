#include "tools/python_tool.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "policy/error.h"
#include "tools/python_worker_script.h"
#include "tools/sigpipe_block.h"

namespace ponder {
namespace {

using Clock = std::chrono::steady_clock;

// Reply statuses of tools/python_worker.py.
// The first four equal ToolStatus's values, so a reply's status converts.
enum : uint8_t {
  kReplyOk = 0,
  kReplyError = 1,
  kReplyTimeout = 2,
  kReplyLimit = 3,
  kReplyReady = 255
};
static_assert(static_cast<int>(ToolStatus::kOk) == kReplyOk &&
              static_cast<int>(ToolStatus::kError) == kReplyError &&
              static_cast<int>(ToolStatus::kTimeout) == kReplyTimeout &&
              static_cast<int>(ToolStatus::kLimit) == kReplyLimit);

// A worker has this long past timeout_s to answer before it counts as hung:
// room for stopping the call and emptying /tmp on a loaded machine.
constexpr auto kHungMargin = std::chrono::seconds(2);
constexpr auto kStartupLimit = std::chrono::seconds(10);
constexpr auto kStopGrace = std::chrono::milliseconds(500);
constexpr uint32_t kMaxNoteBytes = 4096;

// The interpreter's command line: reads the worker script (whose length is
// the first argument) from stdin, so that `ps` shows a line, not the script.
// Nothing else is in the pipe until the worker's first reply, so the
// buffered read takes exactly the script.
constexpr std::string_view kBootstrap =
    "import sys; exec(compile(sys.stdin.buffer.read(int(sys.argv.pop(1))), '<ponder-worker>', "
    "'exec'))";

// Waits until `fd` is ready for `events` or the deadline passes.
bool wait_ready(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() < 0) return false;
    struct pollfd p = {fd, events, 0};
    const int n = poll(&p, 1, static_cast<int>(left.count()) + 1);
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

bool write_all(int fd, std::string_view data, Clock::time_point deadline) {
  SigpipeBlock block;
  while (!data.empty()) {
    if (!wait_ready(fd, POLLOUT, deadline)) return false;
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool read_exact(int fd, char* out, std::size_t size, Clock::time_point deadline) {
  while (size > 0) {
    if (!wait_ready(fd, POLLIN, deadline)) return false;
    const ssize_t n = read(fd, out, size);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return false;  // end of file: the worker is gone
    out += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

uint32_t load_u32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

struct Reply {
  uint8_t status = 0;
  bool truncated = false;
  std::string output, note;
};

// False when the worker does not answer in time, is gone, or says nonsense.
bool read_reply(int fd, std::size_t max_output, Clock::time_point deadline, Reply& reply) {
  char header[10];
  if (!read_exact(fd, header, sizeof header, deadline)) return false;
  reply.status = static_cast<uint8_t>(header[0]);
  reply.truncated = header[1] != 0;
  const uint32_t output_size = load_u32(header + 2), note_size = load_u32(header + 6);
  if (output_size > max_output || note_size > kMaxNoteBytes) return false;
  reply.output.resize(output_size);
  reply.note.resize(note_size);
  return read_exact(fd, reply.output.data(), output_size, deadline) &&
         read_exact(fd, reply.note.data(), note_size, deadline);
}

void check_option(bool ok, std::string_view key, std::string_view expected, std::string_view got) {
  if (!ok) throw Error(fmt::format("tools.python.{}: expected {}, got {}", key, expected, got));
}

std::string seconds(double s) {
  return fmt::format("{:g}", s);
}

}  // namespace

void PythonToolOptions::validate() const {
  check_option(!interpreter.empty() && interpreter.is_absolute(), "interpreter", "an absolute path",
               fmt::format("\"{}\"", interpreter.string()));
  check_option(timeout_s > 0 && timeout_s <= 3600, "timeout_s", "a number in (0, 3600]",
               seconds(timeout_s));
  check_option(cpu_s >= 1 && cpu_s <= 3600, "cpu_s", "an integer in [1, 3600]",
               std::to_string(cpu_s));
  check_option(memory_mb >= 32 && memory_mb <= 1 << 20, "memory_mb", "an integer in [32, 1048576]",
               std::to_string(memory_mb));
  check_option(output_bytes >= 16 && output_bytes <= 1 << 20, "output_bytes",
               "an integer in [16, 1048576]", std::to_string(output_bytes));
  check_option(workers >= 1 && workers <= 256, "workers", "an integer in [1, 256]",
               std::to_string(workers));
  // The worker and the call's child: two processes at the least.
  check_option(processes >= 2 && processes <= 4096, "processes", "an integer in [2, 4096]",
               std::to_string(processes));
  check_option(tmp_mb >= 1 && tmp_mb <= 65536, "tmp_mb", "an integer in [1, 65536]",
               std::to_string(tmp_mb));
}

struct PythonTool::Worker {
  std::unique_ptr<SandboxedProcess> process;  // null: start one at the next call
  bool busy = false;
};

PythonTool::PythonTool(PythonToolOptions options) : options_(std::move(options)) {
  options_.validate();
  SandboxSpec spec;
  spec.isolation = options_.isolation;
  spec.program = options_.interpreter;
  spec.args = {"-s",
               "-B",
               "-c",
               std::string(kBootstrap),
               std::to_string(kPythonWorkerScript.size()),
               std::string(isolation_name(options_.isolation)),
               std::to_string(options_.output_bytes),
               fmt::format("{}", options_.timeout_s),
               std::to_string(options_.cpu_s),
               std::to_string(options_.memory_mb),
               std::to_string(options_.tmp_mb)};
  // Nothing of the trainer's environment (tokens, keys, paths) goes in.
  spec.env = {"PATH=/usr/bin:/bin",
              "HOME=/tmp",
              "TMPDIR=/tmp",
              "LANG=C.UTF-8",
              "LC_ALL=C.UTF-8",
              "PYTHONHASHSEED=0",
              "PYTHONDONTWRITEBYTECODE=1"};
  spec.memory_mb = options_.memory_mb;
  spec.processes = options_.processes;
  spec.tmp_mb = options_.tmp_mb;
  try {
    sandbox_ = std::make_unique<Sandbox>(std::move(spec));
  } catch (const Error& e) {
    throw Error(fmt::format("tools.python: {}", e.what()));
  }
  for (int64_t i = 0; i < options_.workers; ++i) {
    workers_.push_back(std::make_unique<Worker>());
    workers_.back()->process = start_worker();
  }
}

PythonTool::~PythonTool() {
  // Closing every worker's stdin first lets them all stop at once.
  for (auto& worker : workers_) {
    if (worker->process) worker->process->close_stdin();
  }
  for (auto& worker : workers_) {
    if (worker->process) worker->process->stop(kStopGrace);
  }
}

std::string_view PythonTool::description() const {
  return "run Python code in a sandbox; returns its output and the value of a final expression";
}

std::vector<std::string> PythonTool::warnings() const {
  if (options_.isolation == Isolation::kFull) return {};
  return {
      "WARNING: tools.python.isolation = \"none\": model-written Python runs UNISOLATED, as "
      "this user, with this machine's files and network; only its time, memory and output "
      "are limited. Use it only where no sandbox can be set up and nothing here needs "
      "protecting."};
}

std::unique_ptr<SandboxedProcess> PythonTool::start_worker() {
  std::string why;
  try {
    std::unique_ptr<SandboxedProcess> process = sandbox_->start();
    const auto deadline = Clock::now() + kStartupLimit;
    Reply ready;
    if (write_all(process->stdin_fd(), kPythonWorkerScript, deadline) &&
        read_reply(process->stdout_fd(), 64, deadline, ready) && ready.status == kReplyReady) {
      if (python_version_.empty()) python_version_ = ready.output;
      return process;
    }
    const auto grace = Clock::now() + std::chrono::seconds(1);
    while (!process->exited() && Clock::now() < grace) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    why = process->exited() ? process->failure() : "it did not answer within 10 s";
  } catch (const Error& e) {
    why = e.what();
  }
  if (options_.isolation == Isolation::kNone) {
    throw Error(fmt::format("tools.python: the Python worker ({}) did not start: {}",
                            options_.interpreter.string(), why));
  }
  throw Error(fmt::format(
      "tools.python: the sandbox for {} could not be set up on this machine: {}; run `ponder "
      "tools check` to see which isolation features work here, or set tools.python.isolation = "
      "\"none\" to run model code unisolated",
      options_.interpreter.string(), why));
}

ToolResult PythonTool::call(std::string_view code) {
  if (code.size() > kMaxPythonCodeBytes) {
    return {ToolStatus::kError, fmt::format("the code is {} bytes long; the limit is {} bytes",
                                            code.size(), kMaxPythonCodeBytes)};
  }
  Worker* worker = nullptr;
  {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [&] {
      for (auto& w : workers_) {
        if (!w->busy) {
          worker = w.get();
          return true;
        }
      }
      return false;
    });
    worker->busy = true;
  }
  // Released however call_worker ends, or the pool would shrink for good.
  struct Release {
    PythonTool* tool;
    Worker* worker;
    ~Release() {
      {
        std::lock_guard lock(tool->mutex_);
        worker->busy = false;
      }
      tool->idle_.notify_one();
    }
  } release{this, worker};
  return call_worker(*worker, code);
}

ToolResult PythonTool::call_worker(Worker& worker, std::string_view code) {
  if (worker.process && worker.process->exited()) worker.process.reset();
  if (!worker.process) {
    try {
      worker.process = start_worker();
    } catch (const Error& e) {
      return {ToolStatus::kError,
              fmt::format("the Python sandbox could not be restarted: {}", e.what())};
    }
    restarts_.fetch_add(1);
  }
  SandboxedProcess& process = *worker.process;
  const auto deadline = Clock::now() +
                        std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(options_.timeout_s)) +
                        kHungMargin;
  std::string request(4, '\0');
  for (int i = 0; i < 4; ++i) request[i] = static_cast<char>((code.size() >> (8 * i)) & 0xFF);
  request.append(code);
  Reply reply;
  if (!write_all(process.stdin_fd(), request, deadline) ||
      !read_reply(process.stdout_fd(), static_cast<std::size_t>(options_.output_bytes), deadline,
                  reply) ||
      reply.status > kReplyLimit) {
    // Dead, hung or garbled: the worker is replaced at its next call.
    const bool hung = Clock::now() >= deadline;
    process.kill();
    worker.process.reset();
    if (hung) {
      return {ToolStatus::kTimeout,
              fmt::format("TimeoutError: the call ran past the {} s wall-time limit",
                          seconds(options_.timeout_s))};
    }
    return {ToolStatus::kError, "the Python sandbox worker died during the call"};
  }
  const auto status = static_cast<ToolStatus>(reply.status);
  std::string output = bounded_output(reply.output, static_cast<std::size_t>(options_.output_bytes),
                                      reply.truncated);
  if (!reply.note.empty()) {
    if (!output.empty() && output.back() != '\n') output += '\n';
    output += bounded_output(reply.note, kMaxNoteBytes);
  }
  return {status, std::move(output)};
}

}  // namespace ponder
