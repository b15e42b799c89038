// The GRPO update on a batch of rollouts, through the one training primitive
// (DESIGN.md): completions are packed into padded micro-batches, one forward
// gives their log-probs, policy/grpo.h turns those into per-token weights,
// Model::set_token_weights swaps them in, and backward() accumulates the
// gradient. The caller owns the optimizer step.
//
// Sequence layout: the model reads prompt + completion[0 .. n−2]; position
// prompt_len − 1 + k predicts completion token k. Prompt positions and padding
// have target −1 and weight 0; forced tool-result tokens (mask 0) are read as
// inputs but weighted 0, so they are never trained on.
//
// Micro-batches hold samples of similar length (sorted by length, ties by
// index), which wastes little padding; the result does not depend on the
// micro-batch size beyond float rounding.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "policy/grpo.h"
#include "policy/model.h"
#include "rollout/engine.h"

namespace ponder {

// One completion to score or train on. The spans must outlive the call.
struct PolicySample {
  std::span<const TokenId> prompt;      // the rendered prompt (what the engine was given)
  std::span<const TokenId> completion;  // Rollout::ids
  std::span<const uint8_t> mask;        // Rollout::mask: 1 sampled, 0 forced
  double advantage = 0;
  bool truncated = false;  // finish reason other than "end"
};

// A sample of `rollout`, prompted by `prompt`, with advantage `advantage`.
PolicySample policy_sample(std::span<const TokenId> prompt, const Rollout& rollout,
                           double advantage);

// log π(completion_k | prefix) under `model` for each sample (0 where mask is
// 0), `micro_batch` samples per forward. Leaves the model's gradients alone.
std::vector<std::vector<float>> completion_logprobs(Model<float>& model,
                                                    std::span<const PolicySample> samples,
                                                    int micro_batch);

struct GrpoUpdateStats {
  double loss = 0;           // the objective over the mini-batch
  double clip_fraction = 0;  // of counted tokens
  double kl = 0;             // mean k3 KL to the reference over counted tokens
  int64_t tokens = 0;        // counted tokens
};

// The counts GRPO normalises by, over `samples`.
GrpoBatchTotals grpo_batch_totals(std::span<const PolicySample> samples, const GrpoConfig& config);

// Accumulates the gradient of the GRPO objective over `samples` (one
// mini-batch: the normalisers count all of them) into model.grads(). With
// `whole` non-zero, `samples` are this rank's share of a mini-batch whose
// counts `whole` gives (app/rl_parallel.h), and the normalisers count those.
// `old_logprobs[i]`: π_old's log-probs of sample i; empty means "the policy
// as it is now" (ρ = 1: the first update on fresh rollouts, which saves a
// forward). `ref_logprobs`: per sample, needed only when config.kl_beta > 0.
// `last_backward` is given to the last micro-batch's backward (a data-parallel
// session's gradient_listener()); with no samples, it is told at once that
// every gradient is final.
GrpoUpdateStats accumulate_grpo_gradients(Model<float>& model,
                                          std::span<const PolicySample> samples,
                                          std::span<const std::vector<float>> old_logprobs,
                                          std::span<const std::vector<float>> ref_logprobs,
                                          const GrpoConfig& config, int micro_batch,
                                          const GrpoBatchTotals& whole = {},
                                          GradientListener* last_backward = nullptr);

}  // namespace ponder
