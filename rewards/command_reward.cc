#define BOOST_PROCESS_USE_STD_FS  // header-only: no Boost.Filesystem library
#include "rewards/command_reward.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/io.hpp>
#include <boost/process/pipe.hpp>
#include <boost/process/search_path.hpp>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <thread>

#include "policy/error.h"
#include "rewards/shown.h"
#include "tools/sigpipe_block.h"

namespace ponder {
namespace {

namespace bp = boost::process;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

// A reply line longer than this is garbage (a runaway print), not a reward.
constexpr std::size_t kMaxReplyBytes = 1 << 20;
// The stderr kept for messages: enough for the end of a Python traceback.
constexpr std::size_t kStderrTailBytes = 4096;
// How long a process that closed its stdout gets to exit, and one asked to
// stop (stdin closed) gets before it is killed.
constexpr auto kExitGrace = std::chrono::milliseconds(500);

constexpr std::string_view kReplyShape =
    R"(expected {"reward": number or null} or {"rewards": {"name": number or null, ...}})";

// Why the process failed one request; CommandReward::fail turns it into the
// user's message.
struct Failure {
  std::string problem;
};

// A pipe whose ends other processes started meanwhile (tool workers, another
// reward) do not inherit, so that end of file comes when this child exits.
std::pair<int, int> cloexec_pipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    throw Error(fmt::format("cannot make a pipe: {}", std::strerror(errno)));
  }
  return {fds[0], fds[1]};
}

void close_fd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

// A reply value: a finite number, or null for "does not apply".
std::optional<double> reply_number(const json& value, const std::string& what,
                                   const std::string& line) {
  if (value.is_null()) return std::nullopt;
  if (!value.is_number() || !std::isfinite(value.get<double>())) {
    throw Failure{fmt::format("bad reply {}: {} is not a finite number or null; {}", shown(line),
                              what, kReplyShape)};
  }
  return value.get<double>();
}

// The score in one reply line; fills `parts` for a {"rewards": ...} reply.
std::optional<double> parse_reply(const std::string& line, std::map<std::string, double>& parts) {
  const json reply = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (reply.is_discarded()) {
    throw Failure{fmt::format("bad reply {}: not JSON; {}", shown(line), kReplyShape)};
  }
  if (!reply.is_object() || reply.size() != 1 ||
      (!reply.contains("reward") && !reply.contains("rewards"))) {
    throw Failure{fmt::format("bad reply {}: {}", shown(line), kReplyShape)};
  }
  if (reply.contains("reward")) return reply_number(reply["reward"], "\"reward\"", line);
  const json& named = reply["rewards"];
  if (!named.is_object() || named.empty()) {
    throw Failure{
        fmt::format("bad reply {}: \"rewards\" is not an object with at least one "
                    "part; {}",
                    shown(line), kReplyShape)};
  }
  std::optional<double> total;
  for (const auto& [name, value] : named.items()) {
    if (!is_plain_name(name) || name.size() > 64) {
      throw Failure{
          fmt::format("bad reply {}: part name {} is not 1 to 64 letters, digits, '_' "
                      "and '-'",
                      shown(line), shown(name, 64))};
    }
    if (std::optional<double> x = reply_number(value, shown(name, 64), line)) {
      parts[name] = *x;
      total = total.value_or(0) + *x;
    }
  }
  return total;
}

std::string signal_text(int signal) {
  const char* name = strsignal(signal);
  return name ? fmt::format("signal {} ({})", signal, name) : fmt::format("signal {}", signal);
}

}  // namespace

// The child process and its three pipes.
class CommandReward::Process {
 public:
  explicit Process(const std::vector<std::string>& command) {
    std::filesystem::path program = command[0];
    if (command[0].find('/') == std::string::npos) {
      program = bp::search_path(command[0]);
      if (program.empty()) throw Error(fmt::format("`{}` is not on PATH", command[0]));
    }
    const auto [in_read, in_write] = cloexec_pipe();
    const auto [out_read, out_write] = cloexec_pipe();
    const auto [err_read, err_write] = cloexec_pipe();
    // bp::pipe owns both ends; the handlers close the child's end in the
    // parent, and the parent's end is released below.
    bp::pipe in(in_read, in_write), out(out_read, out_write), err(err_read, err_write);
    std::error_code ec;
    child_ = bp::child(bp::exe = program.string(),
                       bp::args = std::vector<std::string>(command.begin() + 1, command.end()),
                       bp::std_in<in, bp::std_out> out, bp::std_err > err, ec);
    stdin_fd_ = in.native_sink();
    stdout_fd_ = out.native_source();
    stderr_fd_ = err.native_source();
    in.assign_sink(-1);
    out.assign_source(-1);
    err.assign_source(-1);
    if (ec) {
      close_fds();
      throw Error(fmt::format("cannot start `{}`: {}", program.string(), ec.message()));
    }
    // Writes wait in poll() with the deadline, never in write().
    fcntl(stdin_fd_, F_SETFL, fcntl(stdin_fd_, F_GETFL) | O_NONBLOCK);
  }

  ~Process() {
    // End of input is the polite way to stop; a process that ignores it is
    // killed.
    close_fd(stdin_fd_);
    const auto deadline = Clock::now() + kExitGrace;
    std::error_code ec;
    while (child_.running(ec) && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    child_.terminate(ec);
    close_fds();
  }

  // Sends `request` (one line, no newline) and returns the reply line.
  // Throws Failure when the process exits, takes longer than `timeout`, or
  // writes anything but exactly one line.
  std::string exchange(const std::string& request, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    pump(Clock::now());
    if (!stdout_buffer_.empty()) {
      throw Failure{fmt::format("bad reply: output before any request: {}", shown(first_line()))};
    }
    const std::string data = request + "\n";
    std::size_t written = 0;
    std::size_t newline;
    while ((newline = stdout_buffer_.find('\n')) == std::string::npos) {
      if (stdout_buffer_.size() > kMaxReplyBytes) {
        throw Failure{fmt::format("bad reply: a line over {} bytes (it starts {})", kMaxReplyBytes,
                                  shown(stdout_buffer_))};
      }
      if (written < data.size() && stdin_fd_ >= 0) {
        written += write_some(std::string_view(data).substr(written));
      }
      if (!pump(deadline, written < data.size())) {
        throw Failure{fmt::format(
            "no reply within {:g} s (a reply is one line on stdout, flushed after writing)",
            std::chrono::duration<double>(timeout).count())};
      }
    }
    std::string line = stdout_buffer_.substr(0, newline);
    stdout_buffer_.erase(0, newline + 1);
    if (!stdout_buffer_.empty()) {
      throw Failure{fmt::format("bad reply: more than one line for one request (the next is {})",
                                shown(first_line()))};
    }
    return line;
  }

  // The last non-empty line the process wrote to stderr, or "".
  std::string stderr_last_line() const {
    std::string_view tail = stderr_tail_;
    while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r' || tail.back() == ' ')) {
      tail.remove_suffix(1);
    }
    const std::size_t start = tail.rfind('\n');
    return std::string(start == std::string_view::npos ? tail : tail.substr(start + 1));
  }

  // Kills the process now, without the grace the destructor gives.
  void kill() {
    std::error_code ec;
    child_.terminate(ec);
  }

 private:
  std::string first_line() const { return stdout_buffer_.substr(0, stdout_buffer_.find('\n')); }

  // Writes what the pipe takes now; throws Failure when the process is gone.
  std::size_t write_some(std::string_view data) {
    SigpipeBlock block;
    const ssize_t n = write(stdin_fd_, data.data(), data.size());
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EAGAIN || errno == EINTR) return 0;
    exited(Stream::kStdin);
  }

  // Waits until output arrives on stdout or stderr, or (when `want_write`)
  // stdin takes more, or `deadline` passes; reads what arrived. Returns
  // false at the deadline. Throws Failure at the end of stdout.
  bool pump(Clock::time_point deadline, bool want_write = false) {
    struct pollfd fds[3] = {{stdout_fd_, POLLIN, 0},
                            {stderr_fd_, POLLIN, 0},
                            {want_write ? stdin_fd_ : -1, POLLOUT, 0}};
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    const int n = poll(fds, 3, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (n < 0 && errno == EINTR) return true;
    if (n <= 0) return Clock::now() < deadline;
    if (fds[1].revents) read_stderr();
    if (fds[0].revents) {
      char buffer[65536];
      const ssize_t got = read(stdout_fd_, buffer, sizeof buffer);
      if (got == 0) exited(Stream::kStdout);
      if (got > 0) stdout_buffer_.append(buffer, static_cast<std::size_t>(got));
    }
    if (fds[2].revents & (POLLERR | POLLHUP)) exited(Stream::kStdin);
    return true;
  }

  void read_stderr() {
    char buffer[65536];
    const ssize_t got = read(stderr_fd_, buffer, sizeof buffer);
    if (got <= 0) {
      if (got == 0 || (errno != EINTR && errno != EAGAIN)) close_fd(stderr_fd_);
      return;
    }
    stderr_tail_.append(buffer, static_cast<std::size_t>(got));
    if (stderr_tail_.size() > kStderrTailBytes) {
      stderr_tail_.erase(0, stderr_tail_.size() - kStderrTailBytes);
    }
  }

  enum class Stream { kStdin, kStdout };

  // The process closed `stream` (it no longer reads requests, or writes
  // replies): waits briefly for it to exit, and says how it ended.
  [[noreturn]] void exited(Stream stream) {
    const std::string_view when =
        stream == Stream::kStdin ? "before reading the request" : "before replying";
    const auto deadline = Clock::now() + kExitGrace;
    std::error_code ec;
    bool running = true;
    while ((running = child_.running(ec)) && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    // What it wrote to stderr last is usually why.
    while (stderr_fd_ >= 0 && Clock::now() < deadline + kExitGrace) {
      struct pollfd p = {stderr_fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) break;
      read_stderr();
    }
    std::string how;
    const int status = child_.native_exit_code();
    if (running) {
      how = stream == Stream::kStdin ? "closed its stdin" : "closed its stdout";
    } else if (WIFSIGNALED(status)) {
      how = fmt::format("was killed by {}", signal_text(WTERMSIG(status)));
    } else {
      how = fmt::format("exited with status {}", WEXITSTATUS(status));
    }
    const std::string last = stderr_last_line();
    throw Failure{
        fmt::format("the process {} {}{}", how, when,
                    last.empty() ? "" : fmt::format("; its stderr ends {}", shown(last)))};
  }

  void close_fds() {
    close_fd(stdin_fd_);
    close_fd(stdout_fd_);
    close_fd(stderr_fd_);
  }

  bp::child child_;
  int stdin_fd_ = -1, stdout_fd_ = -1, stderr_fd_ = -1;
  std::string stdout_buffer_, stderr_tail_;
};

CommandReward::CommandReward(std::string name, std::vector<std::string> command,
                             std::chrono::milliseconds timeout)
    : name_(std::move(name)), command_(std::move(command)), timeout_(timeout) {
  if (command_.empty() || command_[0].empty()) {
    throw Error(fmt::format("reward `{}`: the command names no program", name_));
  }
  try {
    process_ = std::make_unique<Process>(command_);
  } catch (const Error& e) {
    throw Error(fmt::format("reward `{}` (`{}`): {}", name_, fmt::join(command_, " "), e.what()));
  }
  ++starts_;
}

CommandReward::~CommandReward() = default;

std::optional<double> CommandReward::score(const RewardInput& input) {
  std::map<std::string, double> parts;
  return score_with_parts(input, parts);
}

std::optional<double> CommandReward::score_with_parts(const RewardInput& input,
                                                      std::map<std::string, double>& parts) {
  parts.clear();
  if (!process_) {
    try {
      process_ = std::make_unique<Process>(command_);
    } catch (const Error& e) {
      fail(input, fmt::format("cannot restart: {}", e.what()));
    }
    ++starts_;
  }
  const Rollout& r = input.rollout;
  json calls = json::array();
  for (const ToolCallSegment& call : r.tool_calls) {
    calls.push_back({{"tool", call.tool},
                     {"input", call.input},
                     {"output", call.outcome.output},
                     {"status", call.outcome.status}});
  }
  const json request = {
      {"task",
       {{"id", input.task.id},
        {"family", family_name(input.task.family)},
        {"split", split_name(input.task.split)},
        {"difficulty", input.task.difficulty}}},
      {"prompt", input.prompt},
      {"completion", r.text},
      {"final_answer", input.final_answer ? json(*input.final_answer) : json(nullptr)},
      {"expected_answer", input.task.answer},
      {"metadata", input.task.metadata},
      {"thinking", r.thinking},
      {"finish_reason", r.finish_reason},
      {"completion_tokens", r.ids.size()},
      {"thinking_tokens", r.thinking_tokens},
      {"tool_calls", std::move(calls)},
  };
  // Model output may hold any bytes; JSON lines must be UTF-8.
  const std::string line = request.dump(-1, ' ', false, json::error_handler_t::replace);
  try {
    return parse_reply(process_->exchange(line, timeout_), parts);
  } catch (const Failure& failure) {
    parts.clear();
    fail(input, failure.problem);
  }
}

void CommandReward::fail(const RewardInput& input, const std::string& problem) {
  // A fresh process starts at the next request: this one may be stuck, or
  // out of step with the requests.
  if (process_) process_->kill();
  process_.reset();
  throw Error(
      fmt::format("reward `{}` (`{}`): {} while scoring task {}; the process was stopped "
                  "and starts again at the next request",
                  name_, fmt::join(command_, " "), problem, input.task.id));
}

}  // namespace ponder
