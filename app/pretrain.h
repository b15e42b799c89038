// Pretraining: `ponder pretrain CONFIG`, and the `pretrain` stage of `ponder train`.
//
// Reads <run>/tokenizer and the token shards of the `shards` stage
// (<run>/shards/train_*.bin, val_*.bin), samples batches of random windows
// with a seeded RNG, trains with AdamW on the schedule of [optim], measures
// the held-out loss every pretrain.eval_every steps, prints a line every
// pretrain.log_every steps, appends metrics to <run>/metrics.jsonl, and
// checkpoints to <run>/checkpoints/step_NNNNNNNN every
// pretrain.checkpoint_every steps and at the end.
//
// Resume: re-running continues from the latest checkpoint; the result equals
// an unbroken run bit for bit (same thread count), because the checkpoint
// holds the parameters, the AdamW moments and step, and the data RNG.
// A step whose loss or gradient norm is not finite is skipped (no update) and
// counted; pretrain.max_bad_steps of them in a row stop the run with an error.
#pragma once

#include <cstdint>
#include <filesystem>

#include "app/config.h"
#include "app/training.h"

namespace ponder {

// Trains until pretrain.steps, or until `stop_at_step` (> 0) when that comes
// first (a time-boxed chunk; re-running resumes).
TrainingSummary run_pretrain(const Config& config, const std::filesystem::path& run_folder,
                             int64_t stop_at_step = 0);

}  // namespace ponder
