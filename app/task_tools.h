// The tools tasks use, for demonstrations now and rollouts later: the
// registry of [tools.*] (tools_commands.h) and, when tools.search.corpus is
// empty, the search stub over the lookup world's documents (both splits; the
// eval split's facts exist only there, never in training text).
#pragma once

#include "app/config.h"
#include "curricula/demonstrations.h"
#include "curricula/lookup.h"
#include "rollout/engine.h"
#include "tools/registry.h"

namespace ponder {

ToolRegistry task_tools(const Config& config, const LookupWorld& world);

// Runs a registry tool; an unknown tool or a failed call is the tool's message.
ToolRunner tool_runner(const ToolRegistry& registry);
// The same, with the call's status and latency, for the rollout engine.
ToolCaller tool_caller(const ToolRegistry& registry);

}  // namespace ponder
