// Helpers for the tools suites: quick sandbox options, and a check that no
// process a test started is still running.
//
// "Nothing left running" works by making the test process a child subreaper:
// every process a sandbox started that outlives its parent is re-parented to
// the test process instead of to init, so once the tools are destroyed, the
// test process must end up with no children at all.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tools/python_tool.h"

namespace ponder::testing {

// Short limits keep the attack suite fast; cpu_s stays above timeout_s so an
// endless loop reliably ends as a timeout (tests of the CPU limit set their own).
inline PythonToolOptions quick_python_options() {
  PythonToolOptions options;
  options.timeout_s = 1.0;
  options.cpu_s = 5;
  options.workers = 1;
  options.tmp_mb = 8;
  return options;
}

inline void become_subreaper() {
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
}

// The test process's child processes, as "pid (name)" words.
inline std::string describe_children() {
  std::string out;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream in(task.path() / "children");
    std::string pid;
    while (in >> pid) {
      std::ifstream comm("/proc/" + pid + "/comm");
      std::string name;
      std::getline(comm, name);
      out += pid + " (" + name + ") ";
    }
  }
  return out;
}

// Reaps what has exited and fails when some child of the test process is
// still alive after `patience`.
inline void expect_nothing_left_running(
    std::chrono::milliseconds patience = std::chrono::milliseconds(3000)) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  for (;;) {
    const pid_t pid = waitpid(-1, nullptr, WNOHANG);
    if (pid > 0) continue;
    if (pid < 0) return;  // ECHILD: no children left
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ADD_FAILURE() << "still running: " << describe_children();
}

}  // namespace ponder::testing
