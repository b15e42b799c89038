// The `ponder tools` commands, and the tool set a run's config describes.
//
//   ponder tools run python 'CODE' [--json]     run one call by hand ('-': read stdin)
//   ponder tools run search 'QUERY' [--corpus FILE] [--json]
//   ponder tools check                          which isolation features work here
//
// Each takes --config FILE and --set section.key=value for [tools.*]. `run`
// prints the tool's output (with --json, one object: tool, status, output,
// latency_ms) and exits 0 when the call's status is ok, 1 otherwise. `check`
// prints one row per feature and fails (ponder::Error) when full isolation
// does not work here.
#pragma once

#include "app/config.h"
#include "tools/python_tool.h"
#include "tools/registry.h"
#include "tools/search.h"

namespace CLI {
class App;
}

namespace ponder {

// The [tools.python] and [tools.search] sections as tool options.
PythonToolOptions python_tool_options(const Config& config);
SearchToolOptions search_tool_options(const Config& config);

// A run's tools: python, and search when tools.search.corpus is set.
// Throws ponder::Error as the tools' constructors do (a sandbox that cannot
// be set up, a bad corpus).
ToolRegistry make_tool_registry(const Config& config);

void add_tools_commands(CLI::App& app);

}  // namespace ponder
