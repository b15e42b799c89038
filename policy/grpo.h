// GRPO's math, on the host: group advantages, and the per-token weights that
// turn the clipped, KL-regularised policy-gradient objective into the one
// training primitive of DESIGN.md (loss = −Σ w_t · log π(a_t | a_<t)).
//
// For token t of sequence i with advantage A_i, ρ = exp(logπ − logπ_old):
//   surrogate  = min(ρ·A, clip(ρ, 1 − clip_low, 1 + clip_high)·A)
//   its gradient w.r.t. logπ is ρ·A, or 0 where the clip is active
//   (A > 0 and ρ > 1 + clip_high, or A < 0 and ρ < 1 − clip_low);
//   KL (k3) = exp(logπ_ref − logπ) − (logπ_ref − logπ) − 1, whose gradient
//   w.r.t. logπ is 1 − exp(logπ_ref − logπ).
// The objective is loss = Σ_t n_t·(−surrogate_t + kl_beta·KL_t), so
//   w_t = n_t·(ρ·A·[not clipped] − kl_beta·(1 − exp(logπ_ref − logπ))),
// with n_t the aggregation's normaliser:
//   grpo     1 / (|seq_i| · sequences)   (mean over each sequence, then over sequences)
//   dapo     1 / (tokens in the batch)   (token mean)
//   dr_grpo  1 / (max_new_tokens · sequences)   (a constant)
// Tokens with mask 0 (tool results, padding) get w = 0 and count nowhere;
// with mask_truncated, so does every token of a truncated sequence.
//
// Sequence-level ratios (GSPO, Zheng et al. 2025; TRL's
// importance_sampling_level = "sequence"): every counted token of sequence i
// uses one ratio s_i = exp(mean over its counted tokens of logπ − logπ_old),
// clipped as a whole, so the surrogate is a per-sequence value repeated on its
// tokens. Its gradient w.r.t. logπ_t is s_i·A/|seq_i| per token it appears
// on, and it appears on |seq_i| tokens, each with the same n_t: so
//   w_t = n_t·(s_i·A·[sequence not clipped] − kl_beta·(1 − exp(logπ_ref − logπ))),
// the token formula with ρ replaced by s_i. A sequence's ratio is a mean of
// small log-ratios, so GSPO's clip ranges are far narrower (3e-4, 4e-4).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace ponder {

enum class ScaleRewards { kGroup, kBatch, kNone };
enum class LossAggregation { kGrpo, kDapo, kDrGrpo };
enum class ImportanceLevel { kToken, kSequence };

// Population mean and standard deviation (0 for no values): the normalisers
// of group_advantages, also what the RL loop logs as reward mean and std.
double mean_of(std::span<const double> x);
double std_of(std::span<const double> x);

// Throw ponder::Error listing the choices for an unknown name.
ScaleRewards parse_scale_rewards(std::string_view name);
LossAggregation parse_loss_aggregation(std::string_view name);
ImportanceLevel parse_importance_level(std::string_view name);

// A_i = r_i − mean(group of i), divided by the group's std, the whole batch's
// std, or nothing. rewards.size() must be a multiple of group_size; a std of
// 0 leaves the (zero) advantages as they are.
std::vector<double> group_advantages(std::span<const double> rewards, int group_size,
                                     ScaleRewards scale);

// Per group: false when every reward in it is equal (no learning signal;
// dynamic sampling drops such groups).
std::vector<bool> informative_groups(std::span<const double> rewards, int group_size);

struct GrpoConfig {
  double clip_low = 0.2;
  double clip_high = 0.28;
  double kl_beta = 0;  // 0: no KL term, no reference log-probs needed
  LossAggregation aggregation = LossAggregation::kDapo;
  ImportanceLevel importance = ImportanceLevel::kToken;
  int max_new_tokens = 256;  // dr_grpo's constant
  bool mask_truncated = false;
};

// One sequence's completion tokens. ref_logprobs may be empty when kl_beta is 0.
struct GrpoSequence {
  std::span<const float> logprobs;      // under the policy being trained
  std::span<const float> old_logprobs;  // under the policy that sampled
  std::span<const float> ref_logprobs;  // under the reference policy
  std::span<const uint8_t> mask;        // 1: the policy's own token
  double advantage = 0;
  bool truncated = false;
};

struct GrpoWeights {
  std::vector<std::vector<float>> weights;  // per sequence, per token
  double loss = 0;                          // the objective's value (for logging)
  double clip_fraction = 0;  // of counted tokens, those where the clip is active (its sequence's)
  double kl = 0;             // mean k3 KL over counted tokens
  int64_t tokens = 0;        // counted tokens
};

// The mini-batch a call's sequences belong to, when they are only part of it
// (micro-batches: one forward each, one optimizer step for all). The
// normalisers count the whole mini-batch, so the micro-batches' gradients
// add up to the mini-batch's. Zeros: the sequences are the whole batch.
struct GrpoBatchTotals {
  int64_t sequences = 0;
  int64_t tokens = 0;  // counted tokens (see counted_tokens)
};

// The tokens of one sequence that count towards the objective.
int64_t counted_tokens(std::span<const uint8_t> mask, bool truncated, const GrpoConfig& config);

GrpoWeights grpo_token_weights(std::span<const GrpoSequence> sequences, const GrpoConfig& config,
                               const GrpoBatchTotals& totals = {});

}  // namespace ponder
