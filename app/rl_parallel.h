// How the RL loop shares a step between the ranks of a data-parallel run
// (docs/SCALING.md). Rank r samples the prompts of rank_slice(P, r, N), every
// group whole on one rank; what every rank must agree on crosses over here:
//  - the rewards and verdicts of every rollout, so that each rank keeps the
//    same groups (dynamic sampling), computes the same advantages (batch
//    scaling needs them all) and feeds the curriculum the same results;
//  - a mini-batch's sequence and token counts, the GRPO normalisers, so that
//    the ranks' gradients add up to the single-process gradient;
//  - the update's statistics, and the rollout records, which rank 0 alone
//    writes to the store.
// Every function is a collective (parallel/communicator.h): every rank calls
// it, in the same order. In a world of one each is what one process has.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "app/grpo_update.h"
#include "parallel/communicator.h"
#include "rollout/rollout_record.h"

namespace ponder {

// Every rollout of a round, prompt-major ([p0 s0, p0 s1, ..., p1 s0, ...]).
struct RoundVerdicts {
  std::vector<double> rewards;
  std::vector<bool> correct;
};

// `local`: this rank's records, of prompts `rows` (of `prompts`), `group`
// each. Exact: each value travels unchanged.
RoundVerdicts share_verdicts(Communicator& comm, std::span<const RolloutRecord> local, Slice rows,
                             int prompts, int group);

// This rank's records of a step, round by round, with each rollout's entropy.
struct RankRollouts {
  std::vector<std::vector<RolloutRecord>> rounds;
  std::vector<std::vector<double>> entropy;
};

// Every rank's, in the order of the prompts: round by round, and within a
// round rank by rank (ranks hold consecutive prompts). On rank 0; empty
// elsewhere.
struct StepRollouts {
  std::vector<RolloutRecord> records;
  std::vector<double> entropy;
};
StepRollouts gather_rollouts(Communicator& comm, RankRollouts local);

// The counts of a mini-batch whose share on this rank is `samples`.
GrpoBatchTotals global_totals(Communicator& comm, std::span<const PolicySample> samples,
                              const GrpoConfig& config);

// One update's statistics over every rank: the losses add up (each rank's is
// normalised by the global counts); clip fraction and KL are token means.
GrpoUpdateStats sum_over_ranks(Communicator& comm, const GrpoUpdateStats& local);

}  // namespace ponder
