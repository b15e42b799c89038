// The sandbox that model-written code runs in (DESIGN.md, "The sandbox"),
// built from Linux primitives so that it needs no bubblewrap or container
// runtime: namespaces, a private read-only view of the filesystem, rlimits,
// no_new_privs, a seccomp filter and an unprivileged uid.
//
// With Isolation::kFull a started process has:
//  - its own mount, PID, network (no interfaces up), IPC and UTS namespaces,
//    and when ponder runs as an ordinary user, its own user namespace;
//  - as its whole filesystem: the host's /usr, /bin, /sbin, /lib* and
//    /etc/ld.so.cache read-only (nothing else of the host: no /home, /root,
//    /work, rest of /etc, /proc or /sys), a /dev holding only null, zero,
//    full, random and urandom, and a private size-capped tmpfs at /tmp;
//  - uid/gid 65534 when ponder runs as root (and then, where the kernel lets
//    an unprivileged user create one, a user namespace of its own, so its
//    process count is its own); otherwise the caller's uid;
//  - RLIMIT_AS, RLIMIT_NPROC, RLIMIT_NOFILE and RLIMIT_FSIZE from the spec,
//    no core dumps, no_new_privs, and a seccomp filter that fails with EPERM
//    what a calculator never needs (sockets, ptrace, mount, bpf, keyctl, new
//    namespaces, SysV IPC, execve, ...). Only the spec's program can be
//    exec'd, once, at start: it is exec'd from a descriptor numbered
//    open_files, which RLIMIT_NOFILE keeps the program from recreating.
//  - exactly the environment in the spec.
// The started program is PID 1 of its namespace and a child of the process
// that started it (so no forked copy of the trainer lingers: the process that
// set it up exits at once). kill() SIGKILLs it, and with it the kernel kills
// every process in the namespace. The trainer must leave the reaping of its
// children to SandboxedProcess (no waitpid(-1), no SIGCHLD set to SIG_IGN).
//
// With Isolation::kNone only the rlimits other than RLIMIT_NPROC (which would
// count every process of the calling user), no_new_privs and the environment
// apply: the program runs as the caller, with the caller's filesystem.
//
// Thread-safety: a Sandbox is immutable once made; start() may be called
// from many threads at once. A SandboxedProcess is used by one thread at a
// time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ponder {

enum class Isolation { kFull, kNone };

// "full" or "none"; parse_isolation throws ponder::Error naming `what` (a
// config key or option) on anything else.
std::string_view isolation_name(Isolation isolation);
Isolation parse_isolation(std::string_view name, std::string_view what);

// The uid and gid a sandbox started by root runs as ("nobody", "nogroup").
inline constexpr uid_t kSandboxUid = 65534;
inline constexpr gid_t kSandboxGid = 65534;

// The host folders the sandbox sees (read-only), where they exist.
const std::vector<std::string>& sandbox_view();

struct SandboxSpec {
  Isolation isolation = Isolation::kFull;
  std::filesystem::path program;  // absolute; with kFull, inside sandbox_view()
  std::vector<std::string> args;  // argv[1...]; argv[0] is `program`
  std::vector<std::string> env;   // the whole environment, each "NAME=value"
  int64_t memory_mb = 256;        // RLIMIT_AS
  int64_t processes = 16;         // RLIMIT_NPROC, counting threads (kFull only)
  int64_t open_files = 64;        // RLIMIT_NOFILE
  int64_t tmp_mb = 16;            // size of /tmp (kFull), and RLIMIT_FSIZE
};

class SandboxedProcess;
struct SandboxPlan;  // tools/sandbox_plan.h

class Sandbox {
 public:
  // Checks the spec and prepares everything a start needs (the seccomp
  // program, the mount list). Throws ponder::Error on a spec a user can fix:
  // a program that is missing or outside the view, limits out of range.
  explicit Sandbox(SandboxSpec spec);
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  const SandboxSpec& spec() const { return spec_; }

  // Starts the program (through Boost.Process). Throws ponder::Error when no
  // process can be created, or when a set-up step before the program's own
  // process fails (unsharing the namespaces): the message names the step and
  // the system's reason. A step that fails later, inside that process, shows
  // as it exiting at once, with SandboxedProcess::failure() naming the step.
  std::unique_ptr<SandboxedProcess> start() const;

 private:
  SandboxSpec spec_;
  std::unique_ptr<SandboxPlan> plan_;
};

class SandboxedProcess {
 public:
  ~SandboxedProcess();  // kill()
  SandboxedProcess(const SandboxedProcess&) = delete;
  SandboxedProcess& operator=(const SandboxedProcess&) = delete;

  // The parent's ends of the program's stdin, stdout and stderr (close-on-
  // exec, blocking). The process owns them.
  int stdin_fd() const { return stdin_fd_; }
  int stdout_fd() const { return stdout_fd_; }
  int stderr_fd() const { return stderr_fd_; }

  // Whether it has exited; reaps it when so.
  bool exited();

  // Closes its stdin: a polite "stop" to a program that reads it. Idempotent.
  void close_stdin();

  // close_stdin(), waits up to `grace` for it to exit, then kill()s it.
  void stop(std::chrono::milliseconds grace);

  // SIGKILLs it and reaps it; with kFull every process in its namespace dies
  // too. Idempotent.
  void kill();

  // Its pid, as seen by the caller.
  pid_t pid() const { return pid_; }

  // After it has exited: why, in one line, e.g. "set-up step `mount /tmp`
  // failed: Operation not permitted" or "exited with status 1: <stderr>".
  std::string failure();

 private:
  friend class Sandbox;
  SandboxedProcess(pid_t pid, int stdin_fd, int stdout_fd, int stderr_fd);
  pid_t pid_;
  bool reaped_ = false;
  int wait_status_ = 0;  // valid once reaped_
  int stdin_fd_, stdout_fd_, stderr_fd_;
};

}  // namespace ponder
