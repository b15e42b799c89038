// Internal to tools/: a SandboxSpec prepared for starting, and the code that
// runs in the new process.
//
// A sandbox is started by forking the trainer, which is multi-threaded: until
// it execs, the child may only make system calls (no allocation, no locks).
// So everything it needs -- paths, mount options, the seccomp program, argv
// and envp -- is computed here, in the parent, once per Sandbox; the child
// only walks the plan. Invariant: argv and envp point into args and env, so a
// plan is never copied or moved once made (it lives behind a unique_ptr).
#pragma once

#include <linux/filter.h>
#include <sys/resource.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tools/sandbox.h"

namespace ponder {

// One step of building the sandbox's filesystem, under kStagingRoot.
struct FsStep {
  enum class Kind { kMkdir, kSymlink, kTouch, kMount };
  Kind kind;
  std::string target;  // the path acted on
  std::string source;  // kSymlink: the link's text; kMount: the source ("" for none)
  std::string fstype;  // kMount: "" for none
  std::string data;    // kMount: options ("" for none)
  unsigned long flags = 0;
  std::string what;  // names the step in a failure message
};

struct SandboxPlan {
  SandboxPlan() = default;
  SandboxPlan(const SandboxPlan&) = delete;
  SandboxPlan& operator=(const SandboxPlan&) = delete;

  Isolation isolation = Isolation::kFull;
  bool as_root = false;          // drop to kSandboxUid; else map the caller in a user namespace
  std::string uid_map, gid_map;  // not as_root: "inside outside 1"
  std::vector<FsStep> fs_steps;
  std::vector<std::pair<int, rlim_t>> rlimits;  // resource, limit (soft = hard)
  int exec_fd = -1;                             // kFull: the program is exec'd from this descriptor
  std::string program;
  std::string exec_what;          // "exec /usr/bin/python3", for failure messages
  std::vector<std::string> args;  // argv[0...]
  std::vector<std::string> env;
  std::vector<char*> argv, envp;  // null-terminated, into args and env
  std::vector<sock_filter> seccomp;
};

// The new root is assembled on a tmpfs mounted here (in the sandbox's own
// mount namespace only) and then pivoted into.
inline constexpr char kStagingRoot[] = "/tmp";

// The exit status, and the stderr line prefix, of a failed set-up step.
inline constexpr int kSetupFailedStatus = 125;
inline constexpr std::string_view kSetupFailurePrefix = "ponder-sandbox-error: ";

// Throws ponder::Error on a spec a user can fix.
void make_sandbox_plan(const SandboxSpec& spec, SandboxPlan& plan);

// The seccomp program (tools/seccomp_filter.cc): EPERM for what a sandboxed
// calculator never needs; execveat allowed only from `exec_fd`.
std::vector<sock_filter> build_seccomp_filter(int exec_fd);

// Runs in the child right after fork (tools/sandbox_child.cc). Unshares the
// namespaces, then clones the program's process as a child of the forking
// parent (CLONE_PARENT), writes its pid (a pid_t, native byte order) to
// `report_fd` and exits 0. The new process sets up the isolation and execs
// the program. Never returns: a failed step writes
// "<kSetupFailurePrefix><step>: <errno>\n" to stderr and exits with
// kSetupFailedStatus (before the clone: with no pid reported).
[[noreturn]] void enter_sandbox(const SandboxPlan& plan, int report_fd);

// Single steps, for `ponder tools check` (tools/sandbox_check.cc), each run
// in a forked child that exits 0 on success, else with the errno: unshare
// `flags` (with CLONE_NEWUSER added when not root); as root, drop to
// kSandboxUid and create a user namespace; load `filter` and find a socket
// refused (255 when it was not).
[[noreturn]] void probe_unshare(int flags);
[[noreturn]] void probe_user_namespace_as_sandbox_uid();
[[noreturn]] void probe_seccomp(const std::vector<sock_filter>& filter);

}  // namespace ponder
