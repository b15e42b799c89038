// What the RL stage measures and reports: the per-step metrics of its
// rollouts (the keys docs/RL.md lists), the held-out report per family, and
// the JSON and table forms of both (app/rl.h declares the report types).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "app/rl.h"
#include "rollout/rollout_record.h"

namespace ponder {

// Per-family held-out results of `records`, families by name, then "all".
HeldOutReport held_out_report(int64_t step, std::span<const RolloutRecord> records);

// Adds the rollout metrics of a step to `m`: reward_mean, reward_std,
// reward/<name>, accuracy, accuracy/<family>, response_tokens,
// thinking_tokens, tool_calls_per_rollout, tool_error_rate, truncation_rate,
// entropy. `entropy[i]` is the engine's Rollout::entropy behind `records[i]`.
void add_rollout_metrics(const std::vector<RolloutRecord>& records, std::span<const double> entropy,
                         StepMetrics& m);

}  // namespace ponder
