// What `ponder tools check` reports: which isolation features work on this
// machine, each tried on its own, then the Python sandbox started for real
// and examined from inside.
#pragma once

#include <string>
#include <vector>

#include "tools/python_tool.h"

namespace ponder {

struct IsolationCheck {
  std::string name;  // e.g. "network namespace", "inside: no network"
  bool ok = false;
  bool required = true;  // full isolation cannot work without it
  std::string detail;    // what was found, or why it failed
};

// Runs every check with `options` (its isolation is taken as "full", its
// worker count as 1). `host_paths` are paths that must be out of the
// sandbox's view (the user's home, the project, ...). Never throws for a
// failed check; each failure is a row.
std::vector<IsolationCheck> check_isolation(PythonToolOptions options,
                                            const std::vector<std::string>& host_paths);

// Whether every required check passed.
bool full_isolation_works(const std::vector<IsolationCheck>& checks);

}  // namespace ponder
