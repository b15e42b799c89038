// The Python calculator: what a call returns, its options, the pool under
// concurrency and failure, unisolated mode, and `check_isolation`.
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/error.h"
#include "tests/test_util.h"
#include "tests/tools/tools_test_util.h"
#include "tools/sandbox_check.h"

namespace ponder {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class PythonToolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }
  void TearDown() override { testing::expect_nothing_left_running(); }
};

std::string error_of(const PythonToolOptions& options) {
  try {
    PythonTool tool(options);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST_F(PythonToolTest, ExpressionsReturnTheirReprStatementsTheirOutput) {
  PythonTool tool(testing::quick_python_options());
  EXPECT_EQ(tool.name(), "python");
  const auto output = [&](std::string_view code) {
    const ToolResult r = tool.run(code);
    EXPECT_EQ(r.status, ToolStatus::kOk) << code << ": " << r.output;
    return r.output;
  };
  EXPECT_EQ(output("2 + 3"), "5\n");
  EXPECT_EQ(output("'a' * 3"), "'aaa'\n");
  EXPECT_EQ(output("x = 6\nx * 7"), "42\n");
  EXPECT_EQ(output("print('hi')"), "hi\n");
  EXPECT_EQ(output("print('a')\n1 / 4"), "a\n0.25\n");
  EXPECT_EQ(output("x = 1"), "");
  EXPECT_EQ(output(""), "");
  EXPECT_EQ(output("None"), "");
  EXPECT_EQ(output("import math\nmath.factorial(20)"), "2432902008176640000\n");
  EXPECT_EQ(output("from fractions import Fraction\nFraction(1, 3) + Fraction(1, 6)"),
            "Fraction(1, 2)\n");
  EXPECT_EQ(output("import sys\nprint('err', file=sys.stderr)"), "err\n");
  EXPECT_EQ(output("for i in range(3):\n    print(i)"), "0\n1\n2\n");
  EXPECT_EQ(output("# -*- coding: utf-8 -*-\n'π'"), "'π'\n");
  EXPECT_EQ(output("exit(0)"), "");
  EXPECT_GT(tool.run("1").latency.count(), 0);
}

TEST_F(PythonToolTest, ErrorsShowTheirLastLine) {
  PythonTool tool(testing::quick_python_options());
  const ToolResult div = tool.run("print('before')\n1 / 0");
  EXPECT_EQ(div.status, ToolStatus::kError);
  EXPECT_EQ(div.output, "before\nZeroDivisionError: division by zero\n");
  const ToolResult syntax = tool.run("1 +");
  EXPECT_EQ(syntax.status, ToolStatus::kError);
  EXPECT_THAT(syntax.output, HasSubstr("SyntaxError"));
  EXPECT_EQ(tool.run("raise SystemExit(3)").output, "SystemExit: 3\n");
  EXPECT_EQ(tool.run("import numpy_that_is_not_there").status, ToolStatus::kError);
  EXPECT_EQ(tool.run("import os\nos._exit(7)").output, "the call exited with status 7");
  EXPECT_EQ(tool.run("input()").output, "EOFError: EOF when reading a line\n") << "stdin is empty";
}

TEST_F(PythonToolTest, BadCodeBytesAreErrorsNotCrashes) {
  PythonTool tool(testing::quick_python_options());
  EXPECT_EQ(tool.run(std::string("1 +\0 2", 6)).status, ToolStatus::kError);
  EXPECT_EQ(tool.run("'\xff\xfe'").status, ToolStatus::kError);
  const ToolResult big = tool.run(std::string(kMaxPythonCodeBytes + 1, '1'));
  EXPECT_EQ(big.status, ToolStatus::kError);
  EXPECT_EQ(big.output, "the code is 65537 bytes long; the limit is 65536 bytes");
  const ToolResult at_limit = tool.run("#" + std::string(kMaxPythonCodeBytes - 3, 'x') + "\n1");
  EXPECT_EQ(at_limit.output, "1\n");
}

TEST_F(PythonToolTest, CpuLimitStopsBusyCodeBeforeTheWallClock) {
  PythonToolOptions options = testing::quick_python_options();
  options.cpu_s = 1;
  options.timeout_s = 10;
  PythonTool tool(options);
  const ToolResult r = tool.run("while True:\n    pass");
  EXPECT_EQ(r.status, ToolStatus::kLimit);
  EXPECT_EQ(r.output, "the call ran past the 1 s CPU-time limit");
}

TEST_F(PythonToolTest, OutputCapIsConfigurable) {
  PythonToolOptions options = testing::quick_python_options();
  options.output_bytes = 16;
  PythonTool tool(options);
  EXPECT_EQ(tool.run("'x' * 13").output, "'xxxxxxxxxxxxx'\n");
  const ToolResult r = tool.run("'é' * 20");
  EXPECT_EQ(r.status, ToolStatus::kLimit);
  EXPECT_EQ(r.output, "'ééééééé" + std::string(kTruncationMarker)) << "cut on a character";
}

TEST_F(PythonToolTest, ManyThreadsShareThePool) {
  PythonToolOptions options = testing::quick_python_options();
  options.workers = 2;
  PythonTool tool(options);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 15; ++i) {
        const int n = t * 100 + i;
        const ToolResult r = tool.run(fmt::format("{0} * {0}", n));
        if (r.status != ToolStatus::kOk || r.output != fmt::format("{}\n", n * n)) ++wrong;
      }
    });
  }
  // A slow call in the middle holds one worker; the other keeps serving.
  EXPECT_EQ(tool.run("import time\ntime.sleep(0.3)\n'slow'").output, "'slow'\n");
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(tool.restarts(), 0u);
}

// The test process's children: the pool's workers, each PID 1 of its sandbox.
std::vector<pid_t> child_pids() {
  std::vector<pid_t> pids;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream in(task.path() / "children");
    pid_t pid;
    while (in >> pid) pids.push_back(pid);
  }
  return pids;
}

TEST_F(PythonToolTest, ADeadWorkerIsReplaced) {
  PythonTool tool(testing::quick_python_options());
  const std::vector<pid_t> workers = child_pids();
  ASSERT_EQ(workers.size(), 1u) << "only the worker: the process that set it up is gone";
  ASSERT_EQ(kill(workers[0], SIGKILL), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const ToolResult r = tool.run("6 * 7");
  EXPECT_EQ(r.status, ToolStatus::kOk) << r.output;
  EXPECT_EQ(r.output, "42\n");
  EXPECT_EQ(tool.restarts(), 1u);
}

TEST_F(PythonToolTest, AHungWorkerIsKilledAndReplaced) {
  PythonToolOptions options = testing::quick_python_options();
  options.timeout_s = 0.2;
  PythonTool tool(options);
  const std::vector<pid_t> workers = child_pids();
  ASSERT_EQ(workers.size(), 1u);
  ASSERT_EQ(kill(workers[0], SIGSTOP), 0);
  const ToolResult hung = tool.run("1");
  EXPECT_EQ(hung.status, ToolStatus::kTimeout);
  EXPECT_THAT(hung.output, HasSubstr("wall-time limit"));
  const ToolResult after = tool.run("6 * 7");
  EXPECT_EQ(after.output, "42\n");
  EXPECT_EQ(tool.restarts(), 1u);
}

TEST_F(PythonToolTest, BadOptionsNameTheirKey) {
  const auto with = [](auto change) {
    PythonToolOptions options = testing::quick_python_options();
    change(options);
    return error_of(options);
  };
  EXPECT_EQ(with([](auto& o) { o.timeout_s = 0; }),
            "tools.python.timeout_s: expected a number in (0, 3600], got 0");
  EXPECT_EQ(with([](auto& o) { o.cpu_s = 0; }),
            "tools.python.cpu_s: expected an integer in [1, 3600], got 0");
  EXPECT_EQ(with([](auto& o) { o.memory_mb = 8; }),
            "tools.python.memory_mb: expected an integer in [32, 1048576], got 8");
  EXPECT_EQ(with([](auto& o) { o.output_bytes = 0; }),
            "tools.python.output_bytes: expected an integer in [16, 1048576], got 0");
  EXPECT_EQ(with([](auto& o) { o.workers = 0; }),
            "tools.python.workers: expected an integer in [1, 256], got 0");
  EXPECT_EQ(with([](auto& o) { o.processes = 1; }),
            "tools.python.processes: expected an integer in [2, 4096], got 1");
  EXPECT_EQ(with([](auto& o) { o.tmp_mb = 0; }),
            "tools.python.tmp_mb: expected an integer in [1, 65536], got 0");
  EXPECT_EQ(with([](auto& o) { o.interpreter = "python3"; }),
            "tools.python.interpreter: expected an absolute path, got \"python3\"");
  EXPECT_THAT(with([](auto& o) { o.interpreter = "/nonexistent/python3"; }),
              StartsWith("tools.python: sandbox program `/nonexistent/python3`: not found"));
}

TEST_F(PythonToolTest, AnInterpreterOutsideTheViewIsRefused) {
  testing::TempDir dir;
  const auto copy = dir / "python3";
  std::filesystem::copy_file("/usr/bin/python3", copy);
  PythonToolOptions options = testing::quick_python_options();
  options.interpreter = copy;
  EXPECT_THAT(error_of(options), HasSubstr("lies outside the sandbox's read-only view"));
}

TEST_F(PythonToolTest, TheSmallestMemoryLimitStillServes) {
  PythonToolOptions options = testing::quick_python_options();
  options.memory_mb = 32;
  PythonTool tool(options);
  EXPECT_EQ(tool.run("len('a' * 10**6)").output, "1000000\n");
  const ToolResult r = tool.run("len('a' * 10**8)");
  EXPECT_EQ(r.status, ToolStatus::kLimit);
  EXPECT_EQ(r.output, "MemoryError: the call ran past the 32 MiB memory limit");
}

TEST_F(PythonToolTest, UnisolatedModeWorksAndWarns) {
  PythonToolOptions options = testing::quick_python_options();
  options.isolation = Isolation::kNone;
  PythonTool tool(options);
  ASSERT_EQ(tool.warnings().size(), 1u);
  EXPECT_THAT(tool.warnings()[0], HasSubstr("UNISOLATED"));
  EXPECT_EQ(tool.run("2 + 3").output, "5\n");
  EXPECT_EQ(tool.run("import time\ntime.sleep(30)").status, ToolStatus::kTimeout);
  EXPECT_EQ(tool.run("x = bytearray(10**9)").status, ToolStatus::kLimit);
  EXPECT_EQ(tool.run("6 * 7").output, "42\n");
  EXPECT_TRUE(PythonTool(testing::quick_python_options()).warnings().empty());
}

TEST_F(PythonToolTest, CheckIsolationPassesHere) {
  const std::vector<IsolationCheck> checks =
      check_isolation(testing::quick_python_options(), {PONDER_SOURCE_DIR});
  for (const IsolationCheck& check : checks) {
    EXPECT_TRUE(check.ok || !check.required) << check.name << ": " << check.detail;
  }
  EXPECT_TRUE(full_isolation_works(checks));
  EXPECT_GE(checks.size(), 15u);
}

// Where namespaces are forbidden (a container without the capability, a
// locked-down kernel), emulated by a seccomp filter on unshare in a child.
void forbid_namespaces() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 0);
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  seccomp_load(ctx);
  seccomp_release(ctx);
}

TEST_F(PythonToolTest, WithoutNamespacesItRefusesWithAClearError) {
  EXPECT_EXIT(
      {
        forbid_namespaces();
        std::fprintf(stderr, "%s", error_of(testing::quick_python_options()).c_str());
        std::exit(0);
      },
      ::testing::ExitedWithCode(0),
      "tools.python: the sandbox for /usr/bin/python3 could not be set up on this machine: "
      "set-up step `unshare\\((user, )?mount, pid, net, ipc, uts namespaces\\)` failed: Operation "
      "not "
      "permitted; run `ponder tools check` .* or set tools.python.isolation = \"none\"");
}

TEST_F(PythonToolTest, WithoutNamespacesTheCheckSaysWhich) {
  EXPECT_EXIT(
      {
        forbid_namespaces();
        const auto checks = check_isolation(testing::quick_python_options(), {});
        for (const auto& c : checks) {
          if (!c.ok) std::fprintf(stderr, "FAIL %s: %s\n", c.name.c_str(), c.detail.c_str());
        }
        std::exit(full_isolation_works(checks) ? 1 : 0);
      },
      ::testing::ExitedWithCode(0),
      "FAIL mount namespace: Operation not permitted\nFAIL pid namespace");
}

}  // namespace
}  // namespace ponder
