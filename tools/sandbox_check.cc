#include "tools/sandbox_check.h"

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "policy/error.h"
#include "tools/sandbox_plan.h"

namespace ponder {
namespace {

// Runs `probe` in a forked child; "" when it exited 0, else why not.
std::string in_child(const std::function<void()>& probe) {
  const pid_t pid = fork();
  if (pid < 0) return fmt::format("fork failed: {}", std::strerror(errno));
  if (pid == 0) {
    probe();
    _exit(0);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
  const int code = WEXITSTATUS(status);
  if (code == 0) return "";
  if (code == 255) return "the filter loaded but did not refuse a socket";
  return std::strerror(code);
}

IsolationCheck from_probe(std::string name, bool required, const std::string& failure,
                          std::string detail_when_ok) {
  return {std::move(name), failure.empty(), required,
          failure.empty() ? std::move(detail_when_ok) : failure};
}

// Runs inside the sandbox as an ordinary call; prints "ok|name|detail" or
// "FAIL|name|detail" per feature. HOST_PATHS and MEMORY_MB are prepended.
constexpr std::string_view kInsideChecks = R"PY(
import os, resource, socket

def report(name, ok, detail):
    print(("ok" if ok else "FAIL") + "|inside: " + name + "|" + detail)

report("unprivileged uid", os.getuid() != 0, f"uid {os.getuid()}, gid {os.getgid()}")
report("own PID namespace", os.getppid() == 1, f"the worker is PID {os.getppid()} of the namespace")
try:
    socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
    report("no network", False, "a socket could be created")
except PermissionError:
    report("no network", True, "socket() is refused")
try:
    open("/usr/.ponder-check", "w").close()
    report("read-only view", False, "/usr is writable")
except OSError as error:
    report("read-only view", True, f"writing /usr: {error.strerror}")
seen = [path for path in HOST_PATHS if os.path.exists(path)]
report("host files out of view", not seen,
       "visible: " + ", ".join(seen) if seen else ", ".join(HOST_PATHS) + " are not visible")
with open("/tmp/.ponder-check", "w") as f:
    f.write("x")
tmp = os.statvfs("/tmp")
report("private /tmp", True, f"{tmp.f_blocks * tmp.f_frsize / 2**20:.0f} MiB tmpfs")
try:
    os.execv("/bin/true", ["true"])
except PermissionError:
    report("no exec", True, "execve is refused")
address_space = resource.getrlimit(resource.RLIMIT_AS)[0]
report("memory limit", address_space == MEMORY_MB << 20, f"RLIMIT_AS {address_space >> 20} MiB")
extra = sorted(set(os.environ) - {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "PYTHONHASHSEED",
                                  "PYTHONDONTWRITEBYTECODE", "LC_CTYPE"})
report("scrubbed environment", not extra, "extra: " + ", ".join(extra) if extra else
       f"{len(os.environ)} variables, all ponder's own")
)PY";

}  // namespace

std::vector<IsolationCheck> check_isolation(PythonToolOptions options,
                                            const std::vector<std::string>& host_paths) {
  std::vector<IsolationCheck> checks;
  const bool root = geteuid() == 0;
  checks.push_back({"runs as", true, true,
                    root ? fmt::format("root: sandboxes drop to uid {}", kSandboxUid)
                         : fmt::format("uid {}: sandboxes need a user namespace", geteuid())});
  if (root) {
    checks.push_back(from_probe("user namespace", false,
                                in_child([] { probe_user_namespace_as_sandbox_uid(); }),
                                "each sandbox counts its own processes"));
  } else {
    checks.push_back(from_probe("user namespace", true,
                                in_child([] { probe_unshare(CLONE_NEWUSER); }),
                                "unprivileged sandboxes can map their uid"));
  }
  const std::pair<const char*, int> namespaces[] = {{"mount namespace", CLONE_NEWNS},
                                                    {"pid namespace", CLONE_NEWPID},
                                                    {"network namespace", CLONE_NEWNET},
                                                    {"ipc namespace", CLONE_NEWIPC},
                                                    {"uts namespace", CLONE_NEWUTS}};
  for (const auto& [name, flag] : namespaces) {
    const int f = flag;
    checks.push_back(from_probe(name, true, in_child([f] { probe_unshare(f); }), "available"));
  }
  try {
    const std::vector<sock_filter> filter = build_seccomp_filter(64);
    checks.push_back(
        from_probe("seccomp filter", true, in_child([&] { probe_seccomp(filter); }),
                   fmt::format("{} BPF instructions; sockets refused", filter.size())));
  } catch (const Error& e) {
    checks.push_back({"seccomp filter", false, true, e.what()});
  }

  options.isolation = Isolation::kFull;
  options.workers = 1;
  try {
    PythonTool tool(options);
    checks.push_back(
        {"sandbox starts", true, true,
         fmt::format("Python {} at {}", tool.python_version(), options.interpreter.string())});
    const std::string code =
        fmt::format("HOST_PATHS = {}\nMEMORY_MB = {}\n{}", nlohmann::json(host_paths).dump(),
                    options.memory_mb, kInsideChecks);
    const ToolResult result = tool.run(code);
    if (result.status != ToolStatus::kOk) {
      checks.push_back({"inside checks", false, true,
                        fmt::format("{}: {}", status_name(result.status), result.output)});
    }
    std::istringstream lines(result.output);
    std::string line;
    while (std::getline(lines, line)) {
      const std::size_t a = line.find('|'), b = line.find('|', a + 1);
      if (a == std::string::npos || b == std::string::npos) continue;
      checks.push_back(
          {line.substr(a + 1, b - a - 1), line.substr(0, a) == "ok", true, line.substr(b + 1)});
    }
  } catch (const Error& e) {
    checks.push_back({"sandbox starts", false, true, e.what()});
  }
  return checks;
}

bool full_isolation_works(const std::vector<IsolationCheck>& checks) {
  for (const IsolationCheck& check : checks) {
    if (check.required && !check.ok) return false;
  }
  return true;
}

}  // namespace ponder
