// What the store keeps of a rollout: the engine's Rollout and its Task,
// scored by the task's verifier, as a RolloutRecord (rollout/rollout_record.h).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "curricula/task.h"
#include "rollout/engine.h"
#include "rollout/rollout_record.h"

namespace ponder {

// `split` "train" or "eval"; `benchmark` names the eval set (empty for train).
// Rewards and advantage are left for the RL loop to fill in.
RolloutRecord rollout_record(const Task& task, const Rollout& rollout, int64_t step,
                             const std::string& split, const std::string& benchmark);

// Records as bytes, to send between the ranks of a run (parallel/): every
// field exactly, text of any bytes (model output need not be UTF-8), floats
// to the bit. decode_records throws ponder::Error on bytes encode_records did
// not write.
std::string encode_records(std::span<const RolloutRecord> records);
std::vector<RolloutRecord> decode_records(std::string_view bytes);

}  // namespace ponder
