// The child side of starting a sandbox: runs between fork and exec in a copy
// of a multi-threaded process, so it makes system calls only -- no
// allocation, no stdio, no locks (see tools/sandbox_plan.h).
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstring>

#include "tools/sandbox_plan.h"

namespace ponder {
namespace {

constexpr int kNamespaces = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
constexpr char kHostname[] = "sandbox";

void write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

void write_text(int fd, const char* text) {
  write_all(fd, text, std::strlen(text));
}

// "<prefix><what>: <errno>\n" on stderr; the parent turns the number into
// words (strerror is not async-signal-safe).
[[noreturn]] void fail(const char* what) {
  const int error = errno;
  char number[16];
  int i = sizeof number;
  number[--i] = '\0';
  int value = error;
  do {
    number[--i] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0 && i > 0);
  write_all(2, kSetupFailurePrefix.data(), kSetupFailurePrefix.size());
  write_text(2, what);
  write_text(2, ": ");
  write_text(2, number + i);
  write_text(2, "\n");
  _exit(kSetupFailedStatus);
}

void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

void write_proc_file(const char* path, const char* text) {
  const int fd = open(path, O_WRONLY | O_CLOEXEC);
  check(fd >= 0, path);
  const std::size_t size = std::strlen(text);
  check(write(fd, text, size) == static_cast<ssize_t>(size), path);
  close(fd);
}

// Closes every descriptor in [first, last]; close_range needs Linux 5.9.
void close_descriptors(unsigned first, unsigned last) {
  if (first > last) return;
  if (syscall(SYS_close_range, first, last, 0) == 0) return;
  struct rlimit limit;
  unsigned end = 65536;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < end) {
    end = static_cast<unsigned>(limit.rlim_cur);
  }
  for (unsigned fd = first; fd <= last && fd < end; ++fd) close(static_cast<int>(fd));
}

void close_all_but(int keep) {
  close_descriptors(3, static_cast<unsigned>(keep) - 1);
  close_descriptors(static_cast<unsigned>(keep) + 1, UINT_MAX);
}

void set_limits(const SandboxPlan& plan) {
  for (const auto& [resource, value] : plan.rlimits) {
    const struct rlimit limit = {value, value};
    check(setrlimit(static_cast<__rlimit_resource>(resource), &limit) == 0, "setrlimit");
  }
}

void run_fs_step(const FsStep& step) {
  const char* target = step.target.c_str();
  switch (step.kind) {
    case FsStep::Kind::kMkdir:
      check(mkdir(target, 0755) == 0, step.what.c_str());
      break;
    case FsStep::Kind::kSymlink:
      check(symlink(step.source.c_str(), target) == 0, step.what.c_str());
      break;
    case FsStep::Kind::kTouch: {
      const int fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      check(fd >= 0, step.what.c_str());
      close(fd);
      break;
    }
    case FsStep::Kind::kMount: {
      const auto or_null = [](const std::string& s) { return s.empty() ? nullptr : s.c_str(); };
      check(mount(or_null(step.source), target, or_null(step.fstype), step.flags,
                  or_null(step.data)) == 0,
            step.what.c_str());
      break;
    }
  }
}

// Creates the program's process as a sibling of this one: a child of the
// trainer, which waits for it and kills it directly. This process (a forked
// copy of the trainer) reports the pid and exits at once, so no copy of the
// trainer's memory outlives the start. Returns in the new process only.
void start_as_sibling(int report_fd) {
  const long pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  check(pid >= 0, "clone the sandbox's first process");
  if (pid > 0) {
    const pid_t child = static_cast<pid_t>(pid);
    write_all(report_fd, reinterpret_cast<const char*>(&child), sizeof child);
    _exit(0);
  }
  close(report_fd);
}

[[noreturn]] void exec_unisolated(const SandboxPlan& plan) {
  set_limits(plan);
  close_descriptors(3, UINT_MAX);
  check(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "prctl(PR_SET_NO_NEW_PRIVS)");
  execve(plan.program.c_str(), plan.argv.data(), plan.envp.data());
  fail(plan.exec_what.c_str());
}

}  // namespace

void enter_sandbox(const SandboxPlan& plan, int report_fd) {
  if (plan.isolation == Isolation::kNone) {
    start_as_sibling(report_fd);
    exec_unisolated(plan);
  }

  if (plan.as_root) {
    check(unshare(kNamespaces) == 0, "unshare(mount, pid, net, ipc, uts namespaces)");
  } else {
    check(unshare(CLONE_NEWUSER | kNamespaces) == 0,
          "unshare(user, mount, pid, net, ipc, uts namespaces)");
    write_proc_file("/proc/self/setgroups", "deny");
    write_proc_file("/proc/self/uid_map", plan.uid_map.c_str());
    write_proc_file("/proc/self/gid_map", plan.gid_map.c_str());
  }

  // The first process created after unshare(CLONE_NEWPID) is the
  // namespace's PID 1: when it dies, the kernel kills every process inside.
  start_as_sibling(report_fd);

  check(sethostname(kHostname, sizeof kHostname - 1) == 0, "sethostname");
  for (const FsStep& step : plan.fs_steps) run_fs_step(step);
  check(chdir(kStagingRoot) == 0, "chdir to the new root");
  // pivot_root(".", ".") stacks the old root on the new one; detaching it
  // leaves only the new root, with no path back to the host's files.
  check(syscall(SYS_pivot_root, ".", ".") == 0, "pivot_root");
  check(umount2(".", MNT_DETACH) == 0, "detach the host's root");
  check(chdir("/") == 0, "chdir /");

  // Opened inside the new root, so the program is known to be in the view.
  const int program = open(plan.program.c_str(), O_PATH | O_CLOEXEC);
  check(program >= 0, plan.exec_what.c_str());
  check(dup3(program, plan.exec_fd, O_CLOEXEC) == plan.exec_fd, "dup3 the program's descriptor");
  close(program);

  if (plan.as_root) {
    check(syscall(SYS_setgroups, 0, nullptr) == 0, "setgroups");
    check(syscall(SYS_setresgid, kSandboxGid, kSandboxGid, kSandboxGid) == 0, "setresgid");
    check(syscall(SYS_setresuid, kSandboxUid, kSandboxUid, kSandboxUid) == 0, "setresuid");
    // A user namespace of its own makes the kernel count this sandbox's
    // processes apart from other sandboxes' (RLIMIT_NPROC is per user and
    // namespace). Optional: where unprivileged users may not create one, the
    // sandboxes share the count.
    unshare(CLONE_NEWUSER);
  }
  set_limits(plan);
  close_all_but(plan.exec_fd);
  check(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "prctl(PR_SET_NO_NEW_PRIVS)");
  const struct sock_fprog filter = {static_cast<unsigned short>(plan.seccomp.size()),
                                    const_cast<sock_filter*>(plan.seccomp.data())};
  check(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &filter, 0, 0) == 0, "load the seccomp filter");
  syscall(SYS_execveat, plan.exec_fd, "", plan.argv.data(), plan.envp.data(), AT_EMPTY_PATH);
  fail(plan.exec_what.c_str());
}

void probe_unshare(int flags) {
  if (geteuid() != 0 && !(flags & CLONE_NEWUSER)) flags |= CLONE_NEWUSER;
  _exit(unshare(flags) == 0 ? 0 : errno);
}

void probe_user_namespace_as_sandbox_uid() {
  if (syscall(SYS_setgroups, 0, nullptr) != 0 ||
      syscall(SYS_setresgid, kSandboxGid, kSandboxGid, kSandboxGid) != 0 ||
      syscall(SYS_setresuid, kSandboxUid, kSandboxUid, kSandboxUid) != 0) {
    _exit(errno);
  }
  _exit(unshare(CLONE_NEWUSER) == 0 ? 0 : errno);
}

void probe_seccomp(const std::vector<sock_filter>& filter) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(errno);
  const struct sock_fprog program = {static_cast<unsigned short>(filter.size()),
                                     const_cast<sock_filter*>(filter.data())};
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) != 0) _exit(errno);
  // The filter works when a socket is refused with EPERM.
  const long fd = syscall(SYS_socket, 2 /* AF_INET */, 1 /* SOCK_STREAM */, 0);
  _exit(fd < 0 && errno == EPERM ? 0 : 255);
}

}  // namespace ponder
