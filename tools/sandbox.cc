#define BOOST_PROCESS_USE_STD_FS  // header-only: no Boost.Filesystem library
#include "tools/sandbox.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/io.hpp>
#include <boost/process/pipe.hpp>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <thread>

#include "policy/error.h"
#include "tools/sandbox_plan.h"

namespace ponder {

std::string_view isolation_name(Isolation isolation) {
  return isolation == Isolation::kFull ? "full" : "none";
}

Isolation parse_isolation(std::string_view name, std::string_view what) {
  if (name == "full") return Isolation::kFull;
  if (name == "none") return Isolation::kNone;
  throw Error(fmt::format("{}: expected \"full\" or \"none\", got \"{}\"", what, name));
}

const std::vector<std::string>& sandbox_view() {
  static const std::vector<std::string> view = {"/usr",   "/bin",   "/sbin",  "/lib",
                                                "/lib64", "/lib32", "/libx32"};
  return view;
}

namespace {

namespace bp = boost::process;

// Device nodes a Python program may reasonably open.
constexpr const char* kDevices[] = {"null", "zero", "full", "random", "urandom"};
// Host files the view needs besides its folders: the dynamic loader's cache.
constexpr const char* kEtcFiles[] = {"/etc/ld.so.cache"};

std::string staged(std::string_view path) {
  return std::string(kStagingRoot) + std::string(path);
}

FsStep mount_step(std::string source, std::string target, std::string fstype, unsigned long flags,
                  std::string data, std::string what) {
  return {FsStep::Kind::kMount, std::move(target), std::move(source),
          std::move(fstype),    std::move(data),   flags,
          std::move(what)};
}

// Flags a read-only re-mount of a bind of `path` must keep: in a user
// namespace the kernel refuses to drop nosuid, nodev, noexec or atime flags
// of a mount it inherited.
unsigned long locked_flags(const std::string& path) {
  struct statvfs info;
  if (statvfs(path.c_str(), &info) != 0) return 0;
  unsigned long flags = 0;
  if (info.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (info.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (info.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (info.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  return flags;
}

void add_read_only_bind(std::vector<FsStep>& steps, const std::string& host_path) {
  const std::string target = staged(host_path);
  steps.push_back(mount_step(host_path, target, "", MS_BIND, "", "bind " + host_path));
  steps.push_back(
      mount_step("", target, "",
                 MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | locked_flags(host_path),
                 "", "make " + host_path + " read-only"));
}

std::vector<FsStep> filesystem_steps(const SandboxSpec& spec) {
  std::vector<FsStep> steps;
  // Nothing mounted here may leak back to the host's mount namespace.
  steps.push_back(mount_step("", "/", "", MS_REC | MS_PRIVATE, "", "make mounts private"));
  steps.push_back(mount_step("tmpfs", kStagingRoot, "tmpfs", MS_NOSUID | MS_NODEV,
                             "size=1m,nr_inodes=256,mode=755", "mount the new root (tmpfs)"));
  for (const std::string& dir : sandbox_view()) {
    struct stat info;
    if (lstat(dir.c_str(), &info) != 0) continue;
    if (S_ISLNK(info.st_mode)) {
      std::error_code ec;
      const std::filesystem::path link = std::filesystem::read_symlink(dir, ec);
      if (ec) continue;
      steps.push_back(
          {FsStep::Kind::kSymlink, staged(dir), link.string(), "", "", 0, "symlink " + dir});
    } else if (S_ISDIR(info.st_mode)) {
      steps.push_back({FsStep::Kind::kMkdir, staged(dir), "", "", "", 0, "mkdir " + dir});
      add_read_only_bind(steps, dir);
    }
  }
  steps.push_back({FsStep::Kind::kMkdir, staged("/etc"), "", "", "", 0, "mkdir /etc"});
  for (const char* file : kEtcFiles) {
    if (access(file, R_OK) != 0) continue;
    steps.push_back(
        {FsStep::Kind::kTouch, staged(file), "", "", "", 0, fmt::format("create {}", file)});
    add_read_only_bind(steps, file);
  }
  steps.push_back({FsStep::Kind::kMkdir, staged("/tmp"), "", "", "", 0, "mkdir /tmp"});
  // nr_inodes bounds how long clearing /tmp after a call can take.
  steps.push_back(mount_step("tmpfs", staged("/tmp"), "tmpfs", MS_NOSUID | MS_NODEV,
                             fmt::format("size={}m,nr_inodes=4096,mode=1777", spec.tmp_mb),
                             "mount /tmp (tmpfs)"));
  steps.push_back({FsStep::Kind::kMkdir, staged("/dev"), "", "", "", 0, "mkdir /dev"});
  steps.push_back(mount_step("tmpfs", staged("/dev"), "tmpfs", MS_NOSUID | MS_NOEXEC,
                             "size=16k,nr_inodes=16,mode=755", "mount /dev (tmpfs)"));
  for (const char* device : kDevices) {
    const std::string host = fmt::format("/dev/{}", device);
    if (access(host.c_str(), F_OK) != 0) continue;
    steps.push_back({FsStep::Kind::kTouch, staged(host), "", "", "", 0, "create " + host});
    steps.push_back(mount_step(host, staged(host), "", MS_BIND, "", "bind " + host));
  }
  steps.push_back(mount_step("", staged("/dev"), "", MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC,
                             "", "make /dev read-only"));
  steps.push_back(mount_step("", kStagingRoot, "", MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
                             "", "make the new root read-only"));
  return steps;
}

bool inside_view(const std::filesystem::path& canonical) {
  for (const std::string& dir : sandbox_view()) {
    std::error_code ec;
    const std::filesystem::path real = std::filesystem::canonical(dir, ec);
    if (ec) continue;
    const std::string prefix = real.string() + "/";
    if (canonical.string().rfind(prefix, 0) == 0) return true;
  }
  return false;
}

void check_range(std::string_view what, int64_t value, int64_t min, int64_t max) {
  if (value < min || value > max) {
    throw Error(fmt::format("sandbox {}: expected {} to {}, got {}", what, min, max, value));
  }
}

}  // namespace

void make_sandbox_plan(const SandboxSpec& spec, SandboxPlan& plan) {
  const std::filesystem::path& program = spec.program;
  if (!program.is_absolute()) {
    throw Error(fmt::format("sandbox program `{}`: expected an absolute path", program.string()));
  }
  if (access(program.c_str(), X_OK) != 0) {
    throw Error(fmt::format("sandbox program `{}`: not found or not executable ({})",
                            program.string(), std::strerror(errno)));
  }
  check_range("memory_mb", spec.memory_mb, 16, 1 << 20);
  check_range("processes", spec.processes, 1, 1 << 16);
  check_range("open_files", spec.open_files, 16, 4096);
  check_range("tmp_mb", spec.tmp_mb, 1, 1 << 16);

  plan.isolation = spec.isolation;
  plan.as_root = geteuid() == 0;
  plan.program = program.string();
  plan.exec_what = "exec " + plan.program;
  plan.rlimits = {{RLIMIT_AS, static_cast<rlim_t>(spec.memory_mb) << 20},
                  {RLIMIT_NOFILE, static_cast<rlim_t>(spec.open_files)},
                  {RLIMIT_FSIZE, static_cast<rlim_t>(spec.tmp_mb) << 20},
                  {RLIMIT_CORE, 0}};
  if (spec.isolation == Isolation::kFull) {
    const std::filesystem::path canonical = std::filesystem::canonical(program);
    if (!inside_view(canonical)) {
      throw Error(fmt::format(
          "sandbox program `{}` (really `{}`) lies outside the sandbox's read-only view ({}); "
          "use an interpreter installed there, e.g. /usr/bin/python3",
          program.string(), canonical.string(), fmt::join(sandbox_view(), ", ")));
    }
    // The descriptor the program is exec'd from must lie at or past the
    // sandbox's RLIMIT_NOFILE, so that code inside can never re-create it.
    plan.exec_fd = static_cast<int>(spec.open_files);
    struct rlimit own;
    if (getrlimit(RLIMIT_NOFILE, &own) != 0 || own.rlim_cur <= static_cast<rlim_t>(plan.exec_fd)) {
      throw Error(
          fmt::format("sandbox: this process may open fewer than {} files (ulimit -n); "
                      "raise the limit or lower the sandbox's open_files",
                      plan.exec_fd + 1));
    }
    plan.rlimits.push_back({RLIMIT_NPROC, static_cast<rlim_t>(spec.processes)});
    plan.fs_steps = filesystem_steps(spec);
    plan.seccomp = build_seccomp_filter(plan.exec_fd);
    if (!plan.as_root) {
      plan.uid_map = fmt::format("{0} {0} 1", geteuid());
      plan.gid_map = fmt::format("{0} {0} 1", getegid());
    }
  }
  plan.args.push_back(plan.program);
  plan.args.insert(plan.args.end(), spec.args.begin(), spec.args.end());
  plan.env = spec.env;
  for (std::string& arg : plan.args) plan.argv.push_back(arg.data());
  plan.argv.push_back(nullptr);
  for (std::string& var : plan.env) plan.envp.push_back(var.data());
  plan.envp.push_back(nullptr);
}

Sandbox::Sandbox(SandboxSpec spec)
    : spec_(std::move(spec)), plan_(std::make_unique<SandboxPlan>()) {
  make_sandbox_plan(spec_, *plan_);
}

Sandbox::~Sandbox() = default;

namespace {

struct Pipe {
  int read = -1, write = -1;
  Pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      throw Error(fmt::format("sandbox: cannot make a pipe: {}", std::strerror(errno)));
    }
    read = fds[0];
    write = fds[1];
  }
};

// Boost.Process runs on_exec_setup in the child after its own handlers (the
// pipes) when it is the last argument; enter_sandbox never returns.
struct EnterSandbox : bp::extend::handler {
  const SandboxPlan* plan;
  int report_fd;
  template <typename Executor>
  void on_exec_setup(Executor&) const {
    enter_sandbox(*plan, report_fd);
  }
};

// Reads what `fd` holds until end of file (at most `limit` bytes).
std::string read_all(int fd, std::size_t limit) {
  std::string out;
  char buffer[4096];
  ssize_t n;
  while (out.size() < limit &&
         ((n = read(fd, buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR))) {
    if (n > 0) out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

// The set-up failure in a stderr text, as "set-up step `X` failed: reason";
// "" when there is none.
std::string setup_failure(const std::string& err) {
  const std::size_t at = err.find(kSetupFailurePrefix);
  if (at == std::string::npos) return "";
  std::string line = err.substr(at + kSetupFailurePrefix.size());
  line = line.substr(0, line.find('\n'));
  const std::size_t colon = line.rfind(": ");
  if (colon == std::string::npos) return "";
  const int error = std::atoi(line.c_str() + colon + 2);
  return fmt::format("set-up step `{}` failed: {}", line.substr(0, colon), std::strerror(error));
}

void close_fd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

}  // namespace

std::unique_ptr<SandboxedProcess> Sandbox::start() const {
  Pipe in, out, err, report;
  // bp::pipe owns both ends; the handlers close the child's end in the
  // parent, and the parent's end is released below.
  bp::pipe in_pipe(in.read, in.write), out_pipe(out.read, out.write), err_pipe(err.read, err.write);
  std::error_code ec;
  bp::child setup(bp::exe = plan_->program,
                  bp::args = std::vector<std::string>(plan_->args.begin() + 1, plan_->args.end()),
                  bp::std_in<in_pipe, bp::std_out> out_pipe, bp::std_err > err_pipe,
                  EnterSandbox{{}, plan_.get(), report.write}, ec);
  close_fd(report.write);
  int stdin_fd = in_pipe.native_sink(), stdout_fd = out_pipe.native_source(),
      stderr_fd = err_pipe.native_source();
  in_pipe.assign_sink(-1);
  out_pipe.assign_source(-1);
  err_pipe.assign_source(-1);
  pid_t pid = -1;
  const std::string reported = ec ? "" : read_all(report.read, sizeof pid);
  close_fd(report.read);
  if (!ec) setup.wait(ec);  // it exits as soon as it has reported
  if (reported.size() == sizeof pid) {
    std::memcpy(&pid, reported.data(), sizeof pid);
    return std::unique_ptr<SandboxedProcess>(
        new SandboxedProcess(pid, stdin_fd, stdout_fd, stderr_fd));
  }
  // Nothing reported: the set-up failed before the program's process, and
  // with it every writer of the stderr pipe, is gone.
  std::string why = ec ? fmt::format("cannot start `{}`: {}", plan_->program, ec.message())
                       : setup_failure(read_all(stderr_fd, 65536));
  for (int fd : {stdin_fd, stdout_fd, stderr_fd}) close(fd);
  if (why.empty())
    why = fmt::format("the set-up process ended without starting `{}`", plan_->program);
  throw Error(why);
}

SandboxedProcess::SandboxedProcess(pid_t pid, int stdin_fd, int stdout_fd, int stderr_fd)
    : pid_(pid), stdin_fd_(stdin_fd), stdout_fd_(stdout_fd), stderr_fd_(stderr_fd) {}

SandboxedProcess::~SandboxedProcess() {
  kill();
  close_fd(stdin_fd_);
  close_fd(stdout_fd_);
  close_fd(stderr_fd_);
}

bool SandboxedProcess::exited() {
  if (reaped_) return true;
  const pid_t r = waitpid(pid_, &wait_status_, WNOHANG);
  // ECHILD: something else reaped it (see the contract in the header).
  reaped_ = r == pid_ || (r < 0 && errno == ECHILD);
  return reaped_;
}

void SandboxedProcess::close_stdin() {
  close_fd(stdin_fd_);
}

void SandboxedProcess::stop(std::chrono::milliseconds grace) {
  close_stdin();
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (!exited() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  kill();
}

void SandboxedProcess::kill() {
  if (exited()) return;
  ::kill(pid_, SIGKILL);
  while (waitpid(pid_, &wait_status_, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
}

std::string SandboxedProcess::failure() {
  if (!exited()) return "it is still running";
  const int flags = fcntl(stderr_fd_, F_GETFL);
  fcntl(stderr_fd_, F_SETFL, flags | O_NONBLOCK);  // a process it left may hold the pipe
  std::string err = read_all(stderr_fd_, 65536);
  if (std::string setup = setup_failure(err); !setup.empty()) return setup;
  while (!err.empty() && std::isspace(static_cast<unsigned char>(err.back()))) err.pop_back();
  if (err.size() > 500) err = "..." + err.substr(err.size() - 500);
  for (char& c : err) {
    if (c == '\n') c = ' ';
  }
  const std::string why = WIFSIGNALED(wait_status_)
                              ? fmt::format("was killed by signal {}", WTERMSIG(wait_status_))
                              : fmt::format("exited with status {}", WEXITSTATUS(wait_status_));
  return err.empty() ? why : fmt::format("{}: {}", why, err);
}

}  // namespace ponder
