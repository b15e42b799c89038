// Supervised fine-tuning: `ponder sft CONFIG`, and the `sft` stage.
//
// Starts from a pretrained checkpoint (sft.init, or the latest checkpoint of
// the run's pretraining), and trains on demonstrations (curricula/
// demonstrations.h) of tasks drawn from the [tasks] mixture, rendered by the
// chat renderer with its loss mask: the one primitive with
// w_t = mask_t / Σ mask over the batch. Each demonstration is one row, padded
// to sft.seq_len (pad targets are ignored); a demonstration longer than that
// is skipped and counted. Tool outputs in demonstrations come from the real
// tools: the sandboxed Python calculator and the search stub over the lookup
// world's corpus.
//
// Demonstration i of step s is a pure function of (run.seed, s·batch + i), so
// resuming from <run>/sft/checkpoints equals an unbroken run. The held-out
// loss is over fixed eval-split demonstrations.
#pragma once

#include <cstdint>
#include <filesystem>

#include "app/config.h"
#include "app/training.h"

namespace ponder {

TrainingSummary run_sft(const Config& config, const std::filesystem::path& run_folder,
                        int64_t stop_at_step = 0);

}  // namespace ponder
