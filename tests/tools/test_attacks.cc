// The attack suite: hostile model-written code against the Python sandbox.
// Every case must be contained with a clear status; afterwards the same
// worker must still serve (no restart), and once the tool is gone nothing it
// started may be running (checked in TearDown for every case).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>

#include <fmt/format.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/test_util.h"
#include "tests/tools/tools_test_util.h"

namespace ponder {
namespace {

using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;

class Attack : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

  void SetUp() override { tool_ = std::make_unique<PythonTool>(testing::quick_python_options()); }

  void TearDown() override {
    const ToolResult after = tool_->run("6 * 7");
    EXPECT_EQ(after.status, ToolStatus::kOk) << after.output;
    EXPECT_EQ(after.output, "42\n");
    EXPECT_EQ(tool_->restarts(), 0u) << "the attack cost the pool its worker";
    tool_.reset();
    testing::expect_nothing_left_running();
  }

  ToolResult run(std::string_view code) { return tool_->run(code); }

  std::unique_ptr<PythonTool> tool_;
};

// A listening TCP or bound UDP socket on 127.0.0.1, for the network attacks.
class LocalSocket {
 public:
  explicit LocalSocket(int type) : fd_(socket(AF_INET, type | SOCK_NONBLOCK, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    if (type == SOCK_STREAM) {
      EXPECT_EQ(listen(fd_, 4), 0);
    }
    socklen_t size = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &size);
    port_ = ntohs(addr.sin_port);
  }
  ~LocalSocket() { close(fd_); }
  int port() const { return port_; }
  // Whether anything reached the socket: a connection or a datagram.
  bool reached(int type) const {
    if (type == SOCK_STREAM) {
      const int peer = accept(fd_, nullptr, nullptr);
      if (peer >= 0) close(peer);
      return peer >= 0;
    }
    char byte;
    return recv(fd_, &byte, 1, 0) >= 0;
  }

 private:
  int fd_;
  int port_ = 0;
};

TEST_F(Attack, InfiniteLoopTimesOut) {
  const ToolResult r = run("while True:\n    pass");
  EXPECT_EQ(r.status, ToolStatus::kTimeout);
  EXPECT_THAT(r.output, HasSubstr("TimeoutError: the call ran past the 1 s wall-time limit"));
}

TEST_F(Attack, SleepPastTheTimeout) {
  const ToolResult r = run("import time\nprint('before', flush=True)\ntime.sleep(60)");
  EXPECT_EQ(r.status, ToolStatus::kTimeout);
  EXPECT_THAT(r.output, HasSubstr("before\nTimeoutError"));
  EXPECT_LT(r.latency, std::chrono::seconds(3));
}

TEST_F(Attack, IgnoringSigtermDoesNotHelp) {
  const ToolResult r =
      run("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)");
  EXPECT_EQ(r.status, ToolStatus::kTimeout);
}

TEST_F(Attack, ForkBombIsCappedAndCleanedUp) {
  const ToolResult r = run("import os\nwhile True:\n    os.fork()");
  EXPECT_NE(r.status, ToolStatus::kOk) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Resource temporarily unavailable"));
}

TEST_F(Attack, ThreadBombIsCapped) {
  const ToolResult r =
      run("import threading, time\nwhile True:\n"
          "    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()");
  // Usually "can't start new thread"; on a loaded machine a thread can start
  // and die of the exhaustion, leaving Thread.start() waiting: a timeout.
  EXPECT_THAT(r.status, AnyOf(ToolStatus::kError, ToolStatus::kTimeout)) << r.output;
  EXPECT_THAT(r.output, AnyOf(HasSubstr("can't start new thread"), HasSubstr("TimeoutError")));
}

TEST_F(Attack, MemoryBombAtOnce) {
  const ToolResult r = run("x = bytearray(10**9)");
  EXPECT_EQ(r.status, ToolStatus::kLimit);
  EXPECT_THAT(r.output, HasSubstr("MemoryError: the call ran past the 256 MiB memory limit"));
}

TEST_F(Attack, MemoryBombBitByBit) {
  const ToolResult r = run("chunks = []\nwhile True:\n    chunks.append(' ' * 10**6)");
  EXPECT_EQ(r.status, ToolStatus::kLimit);
  EXPECT_THAT(r.output, HasSubstr("MemoryError"));
}

TEST_F(Attack, DeepRecursion) {
  const ToolResult r = run("def f(n):\n    return f(n + 1)\nf(0)");
  EXPECT_EQ(r.status, ToolStatus::kError);
  EXPECT_THAT(r.output, HasSubstr("RecursionError: maximum recursion depth exceeded"));
}

TEST_F(Attack, DeepRecursionPastTheCStack) {
  const ToolResult r =
      run("import sys\nsys.setrecursionlimit(10**8)\ndef f(n):\n    return f(n + 1)\nf(0)");
  EXPECT_NE(r.status, ToolStatus::kOk);
  EXPECT_THAT(r.output,
              AnyOf(HasSubstr("SIGSEGV"), HasSubstr("MemoryError"), HasSubstr("TimeoutError")));
}

TEST_F(Attack, HugeStdoutIsCut) {
  const ToolResult r = run("print('x' * 10**7)");
  EXPECT_EQ(r.status, ToolStatus::kLimit);
  EXPECT_THAT(r.output, EndsWith(std::string(kTruncationMarker)));
  EXPECT_EQ(r.output.size(), 2048 + kTruncationMarker.size());
}

TEST_F(Attack, EndlessPrintingStopsAtTheCapNotTheTimeout) {
  const ToolResult r = run("while True:\n    print('spam')");
  EXPECT_EQ(r.status, ToolStatus::kLimit);
  EXPECT_THAT(r.output, AllOf(HasSubstr("spam\nspam\n"), EndsWith(std::string(kTruncationMarker))));
  EXPECT_LT(r.latency, std::chrono::milliseconds(900));
}

TEST_F(Attack, BinaryOutputBecomesValidUtf8) {
  const ToolResult r = run("import sys\nsys.stdout.buffer.write(bytes(range(256)))\nNone");
  EXPECT_EQ(r.status, ToolStatus::kOk);
  EXPECT_EQ(bounded_output(r.output, 1 << 20), r.output) << "not valid UTF-8";
  EXPECT_THAT(r.output, HasSubstr("\xEF\xBF\xBD"));
}

TEST_F(Attack, InvalidUtf8AndLoneSurrogates) {
  const ToolResult r = run("import os\nos.write(1, b'ok \\xff\\xfe\\xc3( ')\nprint('\\udcff')");
  EXPECT_EQ(r.status, ToolStatus::kOk) << r.output;
  EXPECT_EQ(r.output, "ok \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD( \\udcff\n");
}

TEST_F(Attack, ClosingStdoutAndStderr) {
  const ToolResult r = run("import os\nos.close(1)\nos.close(2)\n42");
  EXPECT_THAT(r.status, AnyOf(ToolStatus::kOk, ToolStatus::kError));
  EXPECT_THAT(r.output, Not(HasSubstr("42")));
}

TEST_F(Attack, FillingTmpIsCappedAndForgotten) {
  const ToolResult r =
      run("with open('/tmp/fill', 'wb') as f:\n    while True:\n        f.write(b'x' * 2**20)");
  EXPECT_THAT(r.status, AnyOf(ToolStatus::kError, ToolStatus::kLimit)) << r.output;
  // RLIMIT_FSIZE (= the size of /tmp) or a full /tmp, whichever comes first.
  EXPECT_THAT(r.output, AnyOf(HasSubstr("File too large"), HasSubstr("No space left on device")));
  EXPECT_EQ(run("import os\nos.listdir('/tmp')").output, "[]\n");
}

TEST_F(Attack, MillionsOfTinyFilesInTmp) {
  const ToolResult r = run("for i in range(10**6):\n    open(f'/tmp/{i}', 'w').close()");
  EXPECT_EQ(r.status, ToolStatus::kError) << r.output;
  EXPECT_THAT(r.output, HasSubstr("No space left on device"));
  EXPECT_EQ(run("import os\nlen(os.listdir('/tmp'))").output, "0\n");
}

TEST_F(Attack, WritingOutsideTmp) {
  for (const char* path : {"/usr/evil", "/evil", "/etc/evil", "/dev/evil", "/bin/python3"}) {
    const ToolResult r = run(fmt::format("open('{}', 'w').write('x')", path));
    EXPECT_EQ(r.status, ToolStatus::kError) << path;
    EXPECT_THAT(r.output, AnyOf(HasSubstr("Read-only file system"), HasSubstr("Permission denied")))
        << path;
  }
}

TEST_F(Attack, ReadingEtcShadow) {
  const ToolResult r = run("open('/etc/shadow').read()");
  EXPECT_EQ(r.status, ToolStatus::kError);
  EXPECT_THAT(r.output, HasSubstr("FileNotFoundError"));
}

TEST_F(Attack, ReadingTheUsersHome) {
  const char* home = std::getenv("HOME");
  ASSERT_NE(home, nullptr);
  ASSERT_TRUE(std::filesystem::exists(home));
  const ToolResult r = run(fmt::format("import os\nos.listdir('{}')", home));
  EXPECT_EQ(r.status, ToolStatus::kError);
  EXPECT_THAT(r.output, HasSubstr("FileNotFoundError"));
}

TEST_F(Attack, ReadingTheProjectsFiles) {
  const std::string file = std::string(PONDER_SOURCE_DIR) + "/CMakeLists.txt";
  ASSERT_TRUE(std::filesystem::exists(file));
  const ToolResult r = run(fmt::format("open('{}').read()", file));
  EXPECT_EQ(r.status, ToolStatus::kError);
  EXPECT_THAT(r.output, HasSubstr("FileNotFoundError"));
}

TEST_F(Attack, ReadingTheRunsCheckpointAndDatabase) {
  testing::TempDir run_dir;  // under the host's /tmp, which the sandbox replaces
  testing::write_file(run_dir / "model.safetensors", "weights");
  testing::write_file(run_dir / "rollouts.sqlite", "rows");
  for (const char* name : {"model.safetensors", "rollouts.sqlite"}) {
    const ToolResult r = run(fmt::format("open('{}').read()", (run_dir / name).string()));
    EXPECT_EQ(r.status, ToolStatus::kError) << name;
    EXPECT_THAT(r.output, HasSubstr("FileNotFoundError")) << name;
  }
}

TEST_F(Attack, TcpConnectToALocalListener) {
  LocalSocket listener(SOCK_STREAM);
  const ToolResult r = run(fmt::format(
      "import socket\nsocket.create_connection(('127.0.0.1', {}), timeout=0.5)", listener.port()));
  EXPECT_EQ(r.status, ToolStatus::kError);
  EXPECT_THAT(r.output, HasSubstr("PermissionError"));
  EXPECT_FALSE(listener.reached(SOCK_STREAM));
}

TEST_F(Attack, DnsLookup) {
  const ToolResult r = run("import socket\nsocket.getaddrinfo('example.com', 80)");
  EXPECT_EQ(r.status, ToolStatus::kError);
  EXPECT_THAT(r.output, AnyOf(HasSubstr("gaierror"), HasSubstr("PermissionError")));
}

TEST_F(Attack, UdpSend) {
  LocalSocket receiver(SOCK_DGRAM);
  const ToolResult r = run(
      fmt::format("import socket\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', "
                  "('127.0.0.1', {}))",
                  receiver.port()));
  EXPECT_EQ(r.status, ToolStatus::kError);
  EXPECT_THAT(r.output, HasSubstr("PermissionError"));
  EXPECT_FALSE(receiver.reached(SOCK_DGRAM));
}

TEST_F(Attack, KillingTheParentWorker) {
  const ToolResult r = run("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n'alive'");
  EXPECT_EQ(r.status, ToolStatus::kOk) << r.output;
  EXPECT_EQ(r.output, "'alive'\n");
}

TEST_F(Attack, KillingEverything) {
  const ToolResult r =
      run("import os, signal, time\n"
          "sibling = os.fork()\n"
          "if sibling == 0:\n"
          "    time.sleep(60)\n"
          "os.kill(-1, signal.SIGKILL)\n"
          "os.waitpid(sibling, 0)[1]");
  EXPECT_EQ(r.status, ToolStatus::kOk) << r.output;
  EXPECT_EQ(r.output, "9\n") << "the sibling died; the worker did not";
}

TEST_F(Attack, BecomingRoot) {
  for (const char* code :
       {"import os\nos.setuid(0)", "import os\nos.setgid(0)", "import os\nos.setgroups([0])"}) {
    const ToolResult r = run(code);
    EXPECT_EQ(r.status, ToolStatus::kError) << code;
    EXPECT_THAT(r.output, HasSubstr("PermissionError")) << code;
  }
}

// C library calls through ctypes print "<return> <errno>": -1 and EPERM (1).
constexpr const char* kLibcCall =
    "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
    "print(libc.{}, ctypes.get_errno())";

TEST_F(Attack, Ptrace) {
  // PTRACE_TRACEME, and PTRACE_ATTACH to the worker.
  for (const char* call : {"ptrace(0, 0, 0, 0)", "ptrace(16, 1, 0, 0)"}) {
    EXPECT_EQ(run(fmt::format(kLibcCall, call)).output, "-1 1\n") << call;
  }
}

TEST_F(Attack, Mount) {
  const ToolResult r = run(fmt::format(kLibcCall, "mount(b'none', b'/tmp', b'tmpfs', 0, None)"));
  EXPECT_EQ(r.output, "-1 1\n");
}

TEST_F(Attack, NewNamespacesAndSysVMemory) {
  // unshare(CLONE_NEWUSER); shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600)
  for (const char* call : {"unshare(0x10000000)", "shmget(0, 4096, 0o1600)"}) {
    EXPECT_EQ(run(fmt::format(kLibcCall, call)).output, "-1 1\n") << call;
  }
}

#if defined(__x86_64__)
TEST_F(Attack, ForeignSyscallAbiIsKilled) {
  // socket() through the x32 ABI, which a filter for x86-64 alone would miss.
  const ToolResult r = run("import ctypes\nctypes.CDLL(None).syscall(0x40000000 + 41, 2, 1, 0)");
  EXPECT_EQ(r.status, ToolStatus::kError);
  EXPECT_THAT(r.output, HasSubstr("SIGSYS"));
}
#endif

TEST_F(Attack, CtypesSegfault) {
  const ToolResult r = run("import ctypes\nctypes.string_at(0)");
  EXPECT_EQ(r.status, ToolStatus::kError);
  EXPECT_THAT(r.output, HasSubstr("killed by SIGSEGV"));
}

TEST_F(Attack, OsSystemRunsNothing) {
  const ToolResult r = run("import os\nos.system('echo pwned')");
  EXPECT_THAT(r.output, Not(HasSubstr("pwned")));
}

TEST_F(Attack, SubprocessRunsNothing) {
  const ToolResult r = run("import subprocess\nsubprocess.run(['/bin/echo', 'pwned'])");
  EXPECT_EQ(r.status, ToolStatus::kError);
  EXPECT_THAT(r.output, AllOf(HasSubstr("PermissionError"), Not(HasSubstr("pwned"))));
}

TEST_F(Attack, ExecFromARecreatedDescriptor) {
  // The program is exec'd from descriptor 64 (= RLIMIT_NOFILE); code cannot
  // put a descriptor there to exec something else.
  const ToolResult r = run("import os\nos.dup2(os.open('/bin/sh', os.O_RDONLY), 64)");
  EXPECT_EQ(r.status, ToolStatus::kError);
  EXPECT_THAT(r.output, HasSubstr("Bad file descriptor"));
}

TEST_F(Attack, RaisingItsOwnLimits) {
  for (const char* limit : {"RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NOFILE", "RLIMIT_NPROC"}) {
    const ToolResult r = run(fmt::format(
        "import resource\nresource.setrlimit(resource.{0}, (resource.RLIM_INFINITY,) * 2)", limit));
    EXPECT_EQ(r.status, ToolStatus::kError) << limit;
    EXPECT_THAT(r.output, HasSubstr("not allowed to raise maximum limit")) << limit;
  }
}

TEST_F(Attack, VariablesDoNotCarryOver) {
  EXPECT_EQ(run("secret = 1234").status, ToolStatus::kOk);
  const ToolResult r = run("secret");
  EXPECT_EQ(r.status, ToolStatus::kError);
  EXPECT_THAT(r.output, HasSubstr("NameError: name 'secret' is not defined"));
}

TEST_F(Attack, ModuleStateDoesNotCarryOver) {
  EXPECT_EQ(run("import math\nmath.pi = 3").status, ToolStatus::kOk);
  EXPECT_EQ(run("import math\nmath.pi").output, "3.141592653589793\n");
}

TEST_F(Attack, RandomStateDoesNotCarryOver) {
  const std::string code = "import random\nrandom.getrandbits(64)";
  EXPECT_NE(run(code).output, run(code).output);
}

TEST_F(Attack, FilesDoNotCarryOver) {
  EXPECT_EQ(run("import os\nos.makedirs('/tmp/a/b')\nopen('/tmp/a/b/note', 'w').write('x')\n"
                "os.chmod('/tmp/a', 0)")
                .status,
            ToolStatus::kOk);
  EXPECT_EQ(run("import os\nos.listdir('/tmp')").output, "[]\n");
}

TEST_F(Attack, SecretsInTheEnvironment) {
  tool_.reset();
  setenv("PONDER_TEST_SECRET", "hunter2", 1);
  tool_ = std::make_unique<PythonTool>(testing::quick_python_options());
  unsetenv("PONDER_TEST_SECRET");
  const ToolResult r = run("import os\ndict(os.environ)");
  EXPECT_EQ(r.status, ToolStatus::kOk);
  EXPECT_THAT(r.output, AllOf(Not(HasSubstr("hunter2")), Not(HasSubstr("PONDER_TEST_SECRET"))));
  EXPECT_EQ(run("open('/proc/1/environ').read()").status, ToolStatus::kError);
}

TEST_F(Attack, DoubleForkedDaemonDiesWithItsCall) {
  const ToolResult r =
      run("import os, time\n"
          "if os.fork() == 0:\n"
          "    os.setsid()\n"
          "    if os.fork() == 0:\n"
          "        while True:\n"
          "            open('/tmp/alive', 'a').write('x')\n"
          "            time.sleep(0.01)\n"
          "    os._exit(0)\n"
          "for _ in range(80):  # wait for the daemon, however loaded the machine\n"
          "    if os.path.exists('/tmp/alive'):\n"
          "        break\n"
          "    time.sleep(0.01)\n"
          "os.path.exists('/tmp/alive')");
  EXPECT_EQ(r.output, "True\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(run("import os\nos.path.exists('/tmp/alive')").output, "False\n");
}

TEST_F(Attack, NothingOfTheHostIsListed) {
  const ToolResult r =
      run("import os\nsorted(set(os.listdir('/')) - {'bin', 'dev', 'etc', 'lib', 'lib32', 'lib64', "
          "'libx32', 'sbin', 'tmp', 'usr'})");
  EXPECT_EQ(r.output, "[]\n");
  EXPECT_EQ(run("import os\nos.listdir('/etc')").output, "['ld.so.cache']\n");
  EXPECT_EQ(run("import socket\nsocket.gethostname()").output, "'sandbox'\n");
}

}  // namespace
}  // namespace ponder
