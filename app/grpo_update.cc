#include "app/grpo_update.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include <fmt/format.h>

#include "policy/error.h"

namespace ponder {
namespace {

// Inputs the model reads for a sample: the prompt and all but the last
// completion token.
size_t input_length(const PolicySample& s) {
  return s.completion.empty() ? 0 : s.prompt.size() + s.completion.size() - 1;
}

// Sample indices in micro-batches of similar length.
std::vector<std::vector<size_t>> micro_batches(std::span<const PolicySample> samples,
                                               int micro_batch) {
  if (micro_batch < 1) throw Error(fmt::format("micro_batch = {}; expected >= 1", micro_batch));
  std::vector<size_t> order;
  for (size_t i = 0; i < samples.size(); ++i) {
    if (!samples[i].completion.empty()) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return input_length(samples[a]) < input_length(samples[b]);
  });
  std::vector<std::vector<size_t>> out;
  for (size_t i = 0; i < order.size(); i += static_cast<size_t>(micro_batch)) {
    const size_t end = std::min(order.size(), i + static_cast<size_t>(micro_batch));
    out.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(i),
                     order.begin() + static_cast<std::ptrdiff_t>(end));
  }
  return out;
}

// One padded forward over `batch` samples; returns each sample's completion
// log-probs (0 where the mask is 0).
struct PackedBatch {
  int rows = 0, seq = 0;
  std::vector<TokenId> inputs, targets;
};

PackedBatch pack(std::span<const PolicySample> samples, const std::vector<size_t>& batch) {
  PackedBatch p;
  p.rows = static_cast<int>(batch.size());
  for (size_t i : batch) p.seq = std::max(p.seq, static_cast<int>(input_length(samples[i])));
  const size_t n = static_cast<size_t>(p.rows) * p.seq;
  p.inputs.assign(n, 0);  // padding: any valid id; its targets are −1
  p.targets.assign(n, -1);
  for (int r = 0; r < p.rows; ++r) {
    const PolicySample& s = samples[batch[r]];
    if (s.mask.size() != s.completion.size()) {
      throw std::logic_error("PolicySample: mask and completion differ in length");
    }
    TokenId* in = &p.inputs[static_cast<size_t>(r) * p.seq];
    TokenId* target = &p.targets[static_cast<size_t>(r) * p.seq];
    std::copy(s.prompt.begin(), s.prompt.end(), in);
    std::copy(s.completion.begin(), s.completion.end() - 1, in + s.prompt.size());
    for (size_t k = 0; k < s.completion.size(); ++k) {
      if (s.mask[k]) target[s.prompt.size() - 1 + k] = s.completion[k];
    }
  }
  return p;
}

// The log-probs of sample batch[r]'s completion, read from the last forward.
std::vector<float> read_logprobs(const Model<float>& model, const PackedBatch& p,
                                 const PolicySample& s, int row) {
  const std::vector<float>& all = model.token_logprobs();
  std::vector<float> out(s.completion.size(), 0.0f);
  const size_t base = static_cast<size_t>(row) * p.seq + s.prompt.size() - 1;
  for (size_t k = 0; k < out.size(); ++k) {
    if (s.mask[k]) out[k] = all[base + k];
  }
  return out;
}

}  // namespace

PolicySample policy_sample(std::span<const TokenId> prompt, const Rollout& rollout,
                           double advantage) {
  return PolicySample{prompt, rollout.ids, rollout.mask, advantage, rollout.finish_reason != "end"};
}

std::vector<std::vector<float>> completion_logprobs(Model<float>& model,
                                                    std::span<const PolicySample> samples,
                                                    int micro_batch) {
  std::vector<std::vector<float>> out(samples.size());
  const auto batches = micro_batches(samples, micro_batch);
  for (const auto& batch : batches) {
    const PackedBatch p = pack(samples, batch);
    const std::vector<float> zeros(p.inputs.size(), 0.0f);
    model.forward(p.inputs.data(), p.targets.data(), zeros.data(), p.rows, p.seq);
    for (int r = 0; r < p.rows; ++r) out[batch[r]] = read_logprobs(model, p, samples[batch[r]], r);
  }
  return out;
}

GrpoBatchTotals grpo_batch_totals(std::span<const PolicySample> samples, const GrpoConfig& config) {
  GrpoBatchTotals totals;
  totals.sequences = static_cast<int64_t>(samples.size());
  for (const PolicySample& s : samples)
    totals.tokens += counted_tokens(s.mask, s.truncated, config);
  return totals;
}

GrpoUpdateStats accumulate_grpo_gradients(Model<float>& model,
                                          std::span<const PolicySample> samples,
                                          std::span<const std::vector<float>> old_logprobs,
                                          std::span<const std::vector<float>> ref_logprobs,
                                          const GrpoConfig& config, int micro_batch,
                                          const GrpoBatchTotals& whole,
                                          GradientListener* last_backward) {
  if ((!old_logprobs.empty() && old_logprobs.size() != samples.size()) ||
      (config.kl_beta > 0 && ref_logprobs.size() != samples.size())) {
    throw std::logic_error("accumulate_grpo_gradients: per-sample arrays differ in count");
  }
  const GrpoBatchTotals totals = whole.sequences > 0 ? whole : grpo_batch_totals(samples, config);

  GrpoUpdateStats stats;
  double clipped = 0, kl = 0;
  const auto batches = micro_batches(samples, micro_batch);
  // A rank with nothing in this mini-batch runs no backward: its (zero)
  // gradients are final now, and its reductions must start before it enters
  // the MPI calls after this, since the other ranks' reductions, already
  // started, wait for them (parallel/nccl_gradient_sync.h).
  if (batches.empty() && last_backward != nullptr) last_backward->gradients_final_from(0);
  for (const auto& batch : batches) {
    const PackedBatch p = pack(samples, batch);
    std::vector<float> weights(p.inputs.size(), 0.0f);
    model.forward(p.inputs.data(), p.targets.data(), weights.data(), p.rows, p.seq);
    std::vector<std::vector<float>> current(batch.size());
    std::vector<GrpoSequence> sequences;
    for (size_t r = 0; r < batch.size(); ++r) {
      const PolicySample& s = samples[batch[r]];
      current[r] = read_logprobs(model, p, s, static_cast<int>(r));
      GrpoSequence seq;
      seq.logprobs = current[r];
      seq.old_logprobs = old_logprobs.empty() ? current[r] : old_logprobs[batch[r]];
      if (config.kl_beta > 0) seq.ref_logprobs = ref_logprobs[batch[r]];
      seq.mask = s.mask;
      seq.advantage = s.advantage;
      seq.truncated = s.truncated;
      sequences.push_back(seq);
    }
    const GrpoWeights w = grpo_token_weights(sequences, config, totals);
    for (size_t r = 0; r < batch.size(); ++r) {
      const size_t base = r * static_cast<size_t>(p.seq) + samples[batch[r]].prompt.size() - 1;
      std::copy(w.weights[r].begin(), w.weights[r].end(), weights.begin() + base);
    }
    model.set_token_weights(weights.data());
    model.backward(&batch == &batches.back() ? last_backward : nullptr);
    stats.loss += w.loss;
    clipped += w.clip_fraction * static_cast<double>(w.tokens);
    kl += w.kl * static_cast<double>(w.tokens);
    stats.tokens += w.tokens;
  }
  if (stats.tokens > 0) {
    stats.clip_fraction = clipped / static_cast<double>(stats.tokens);
    stats.kl = kl / static_cast<double>(stats.tokens);
  }
  return stats;
}

}  // namespace ponder
