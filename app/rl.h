// The RL stage: GRPO on the task mixture, from the SFT checkpoint.
//
// One step (rl.* keys, docs/CONFIG.md):
//   1. draw rl.prompts_per_step tasks from the mixture at each family's
//      current difficulty, and sample rl.group_size completions of each with
//      tools (rollout/engine.h);
//   2. score every completion with the run's rewards ([[rl.rewards]]);
//   3. with rl.dynamic_sampling, drop groups whose rewards are all equal and
//      draw up to rl.max_refills more rounds of prompts to refill them;
//   4. advantages per group (rl.scale_rewards), then rl.iterations passes of
//      rl.minibatches optimizer steps each (app/grpo_update.h);
//   5. feed the verdicts to the curriculum (curricula/difficulty.h);
//   6. write every rollout and the step's metrics to <run>/rollouts.db, one
//      transaction, and print one line.
// Every rl.eval_every steps, and before the first, the policy answers a fixed
// held-out set (eval split, the starting difficulty, greedy): those rollouts
// go to the database as split "eval", benchmark "rl_heldout". Before the
// first step the same set is also answered directly (the answer forced right
// after the prompt, no tools: benchmark "rl_heldout_direct"), the baseline
// thinking and tools must beat. With eval.every > 0, the [eval] benchmarks
// (app/eval.h) also run every that many steps and at the last: their rows join
// the step's, their eval/<benchmark>/... figures its metrics.
//
// Determinism: the prompts and sampling seeds of step s are functions of
// (run.seed, s); the checkpoint holds the model, AdamW, the curriculum and the
// held-out result before RL, so a run resumed from a checkpoint (kill -9
// included) equals an unbroken one, and rewrites the same database rows.
//
// Layout: <run>/rl/checkpoints/step_NNNNNNNN/, <run>/rl/metrics.jsonl,
// <run>/rl/summary.json (written when the last step is done), <run>/rollouts.db.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/config.h"

namespace ponder {

// Held-out results of one family (or "all").
struct FamilyReport {
  std::string family;
  int n = 0;
  int correct = 0;
  double thinking_tokens = 0;  // mean per rollout
  double tool_calls = 0;       // mean per rollout
  double accuracy() const { return n > 0 ? static_cast<double>(correct) / n : 0; }
};

struct HeldOutReport {
  int64_t step = 0;
  std::vector<FamilyReport> families;  // sorted by name, then "all"
};

struct RlSummary {
  HeldOutReport before, after;
  HeldOutReport direct;              // before RL, answering at once: no thinking, no tools
  std::filesystem::path checkpoint;  // the last one
  std::filesystem::path database;
};

nlohmann::json to_json(const HeldOutReport& report);
HeldOutReport held_out_report_from_json(const nlohmann::json& json);
nlohmann::json to_json(const RlSummary& summary);
// Throws ponder::Error naming `file` when it is missing or malformed.
RlSummary read_rl_summary(const std::filesystem::path& file);

// Before/after table: family, n, accuracy (and the direct baseline's),
// thinking tokens, tool calls.
std::string format_rl_summary(const RlSummary& summary);

// Runs (or resumes) the RL stage in `run_folder`; with stop_at_step > 0,
// stops after that step (checkpointing it). A finished stage returns its
// summary without training. Throws ponder::Error when there is no checkpoint
// to start from (rl.init empty and no SFT checkpoint in the run).
RlSummary run_rl(const Config& config, const std::filesystem::path& run_folder,
                 int64_t stop_at_step = 0);

}  // namespace ponder
