// What the store keeps of a rollout: the engine's Rollout and its Task,
// scored by the task's verifier, as a RolloutRecord (rollout/rollout_record.h).
#pragma once

#include <cstdint>
#include <string>

#include "curricula/task.h"
#include "rollout/engine.h"
#include "rollout/rollout_record.h"

namespace ponder {

// `split` "train" or "eval"; `benchmark` names the eval set (empty for train).
// Rewards and advantage are left for the RL loop to fill in.
RolloutRecord rollout_record(const Task& task, const Rollout& rollout, int64_t step,
                             const std::string& split, const std::string& benchmark);

}  // namespace ponder
