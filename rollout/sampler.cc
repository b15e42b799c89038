#include "rollout/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ponder {

SampledToken sample_token(const float* logits, int vocab, const SamplerOptions& options,
                          std::mt19937_64& rng, const std::vector<TokenId>& banned) {
  thread_local std::vector<float> scores;
  scores.assign(logits, logits + vocab);
  for (TokenId id : banned) scores[id] = -INFINITY;

  const float max = *std::max_element(scores.begin(), scores.end());
  // Over the raw logits: the model's distribution. H = log Z − Σ p_j·l_j.
  double sum = 0, weighted_logits = 0;
  for (int j = 0; j < vocab; ++j) {
    const double e = std::exp(static_cast<double>(logits[j]) - max);
    sum += e;
    weighted_logits += e * logits[j];
  }
  const double log_z = max + std::log(sum);
  const auto entropy = static_cast<float>(log_z - weighted_logits / sum);
  auto result = [&](TokenId id) {
    return SampledToken{id, static_cast<float>(logits[id] - log_z), entropy};
  };

  if (options.temperature <= 0) {
    return result(
        static_cast<TokenId>(std::max_element(scores.begin(), scores.end()) - scores.begin()));
  }
  if (options.top_k <= 0 && options.top_p >= 1) {
    // No cut: invert the CDF in id order, without sorting the vocabulary.
    const float inv_t = static_cast<float>(1.0 / options.temperature);
    double total = 0;
    for (int j = 0; j < vocab; ++j) {
      scores[j] = std::isfinite(scores[j]) ? std::exp((scores[j] - max) * inv_t) : 0.0f;
      total += scores[j];
    }
    const double u = std::uniform_real_distribution<double>(0.0, total)(rng);
    double acc = 0;
    TokenId last = 0;
    for (int j = 0; j < vocab; ++j) {
      if (scores[j] == 0.0f) continue;
      acc += scores[j];
      last = j;
      if (u < acc) return result(j);
    }
    return result(last);  // u == total after rounding
  }
  // Candidates in descending score order (ties: lower id first), cut by top_k.
  thread_local std::vector<TokenId> order;
  order.resize(vocab);
  std::iota(order.begin(), order.end(), 0);
  // Banned ids (score −inf) are never candidates.
  const int allowed = static_cast<int>(
      std::count_if(scores.begin(), scores.end(), [](float s) { return std::isfinite(s); }));
  const int k = options.top_k > 0 ? std::min(options.top_k, allowed) : allowed;
  auto by_score = [&](TokenId a, TokenId b) {
    return scores[a] != scores[b] ? scores[a] > scores[b] : a < b;
  };
  std::partial_sort(order.begin(), order.begin() + k, order.end(), by_score);
  order.resize(k);
  thread_local std::vector<double> probs;
  probs.resize(k);
  double total = 0;
  for (int i = 0; i < k; ++i) {
    probs[i] = std::exp((static_cast<double>(scores[order[i]]) - max) / options.temperature);
    total += probs[i];
  }
  // top_p: keep the shortest prefix whose mass reaches top_p of the total.
  int keep = k;
  if (options.top_p < 1) {
    double mass = 0;
    for (int i = 0; i < k; ++i) {
      mass += probs[i];
      if (mass >= options.top_p * total) {
        keep = i + 1;
        break;
      }
    }
    total = mass;
  }
  const double u = std::uniform_real_distribution<double>(0.0, total)(rng);
  double acc = 0;
  for (int i = 0; i < keep; ++i) {
    acc += probs[i];
    if (u < acc) return result(order[i]);
  }
  return result(order[keep - 1]);  // u == total after rounding
}

}  // namespace ponder
