// The sandbox's seccomp program, built with libseccomp in the parent and
// exported as BPF, so that the forked child only has to load it.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstring>
#include <memory>

#include "policy/error.h"
#include "tools/sandbox_plan.h"

namespace ponder {
namespace {

// Calls a calculator never needs. Each fails with EPERM, which Python shows
// as a PermissionError the model can read. The namespaces and the dropped
// uid already make most of these harmless; the filter is the second wall.
constexpr const char* kDenied[] = {
    // network
    "socket",
    "socketpair",
    // other processes' memory, and the kernel's
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "iopl",
    "ioperm",
    "reboot",
    "swapon",
    "swapoff",
    "syslog",
    "acct",
    "quotactl",
    "lookup_dcookie",
    // mounts and namespaces
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "unshare",
    "setns",
    "name_to_handle_at",
    "open_by_handle_at",
    "fanotify_init",
    // identities, clocks, host name
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setgroups",
    "setfsuid",
    "setfsgid",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "sethostname",
    "setdomainname",
    // keys
    "keyctl",
    "add_key",
    "request_key",
    // state that outlives a call inside the sandbox's IPC namespace
    "shmget",
    "shmat",
    "semget",
    "semop",
    "semtimedop",
    "msgget",
    "msgsnd",
    "msgrcv",
    "mq_open",
    "mq_timedsend",
    "mq_timedreceive",
    "mq_notify",
    "mq_unlink",
    // io_uring runs work outside the filter's view
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    // only the one exec at start (below)
    "execve",
};

// CLONE_NEW* flags that clone() may not set: no namespaces from inside.
constexpr unsigned long kNamespaceFlags[] = {CLONE_NEWNS,    CLONE_NEWUTS, CLONE_NEWIPC,
                                             CLONE_NEWUSER,  CLONE_NEWPID, CLONE_NEWNET,
                                             CLONE_NEWCGROUP};

struct ContextDeleter {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};

void check(int rc, std::string_view what) {
  if (rc < 0) {
    throw Error(fmt::format("seccomp filter: {} failed: {}", what, std::strerror(-rc)));
  }
}

}  // namespace

std::vector<sock_filter> build_seccomp_filter(int exec_fd) {
  std::unique_ptr<void, ContextDeleter> ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) throw Error("seccomp filter: seccomp_init failed (out of memory)");
  // A syscall of another ABI (int 0x80, x32) would bypass the rules: kill.
  check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS),
        "setting the bad-architecture action");
  // A binary tree rather than a list: every system call runs the program.
  check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2), "setting the optimizer");

  const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
  for (const char* name : kDenied) {
    const int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;  // not a system call on this architecture
    check(seccomp_rule_add(ctx.get(), eperm, nr, 0), fmt::format("denying {}", name));
  }
  for (unsigned long flag : kNamespaceFlags) {
    check(seccomp_rule_add(ctx.get(), eperm, SCMP_SYS(clone), 1,
                           SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag)),
          "denying clone with namespace flags");
  }
  // clone3 passes its flags in memory, out of the filter's reach; ENOSYS
  // makes the C library fall back to clone, whose flags are checked above.
  check(seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0), "denying clone3");
  // execveat only as the sandbox's own start: from exec_fd with an empty path.
  check(seccomp_rule_add(ctx.get(), eperm, SCMP_SYS(execveat), 1,
                         SCMP_A0(SCMP_CMP_NE, static_cast<scmp_datum_t>(exec_fd))),
        "restricting execveat");
  check(seccomp_rule_add(ctx.get(), eperm, SCMP_SYS(execveat), 1,
                         SCMP_A4(SCMP_CMP_NE, static_cast<scmp_datum_t>(AT_EMPTY_PATH))),
        "restricting execveat");

  // libseccomp 2.5 exports to a descriptor only: go through a memfd.
  const int fd = memfd_create("ponder-seccomp", MFD_CLOEXEC);
  if (fd < 0)
    throw Error(fmt::format("seccomp filter: memfd_create failed: {}", std::strerror(errno)));
  std::vector<sock_filter> program;
  try {
    check(seccomp_export_bpf(ctx.get(), fd), "exporting the program");
    const off_t size = lseek(fd, 0, SEEK_END);
    if (size <= 0 || size % sizeof(sock_filter) != 0) {
      throw Error("seccomp filter: the exported program has a bad size");
    }
    program.resize(size / sizeof(sock_filter));
    if (pread(fd, program.data(), size, 0) != size) {
      throw Error("seccomp filter: reading the exported program failed");
    }
  } catch (...) {
    close(fd);
    throw;
  }
  close(fd);
  return program;
}

}  // namespace ponder
