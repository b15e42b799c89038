// Sampler: picks the next token from a row of logits.
//
// temperature 0 is greedy (argmax, lowest id on ties). Otherwise the logits
// are divided by the temperature, cut to the top_k largest (0 = all) and then
// to the smallest set whose probability reaches top_p (1 = all), renormalised,
// and sampled with the caller's RNG: the same RNG state gives the same token.
//
// Whatever the settings, the recorded log-prob is log softmax(logits)[token] —
// the untempered model's, which is what the training forward computes, so
// GRPO's ratios compare like with like.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "policy/special_tokens.h"

namespace ponder {

struct SamplerOptions {
  double temperature = 1.0;
  int top_k = 0;
  double top_p = 1.0;
};

struct SampledToken {
  TokenId id;
  float logprob;  // log softmax(logits)[id], at temperature 1
  float entropy;  // of softmax(logits), at temperature 1 (nats): GRPO logs its mean
};

// `banned` ids are never chosen (e.g. the tool-call start when tools are
// off). Precondition: at least one id is not banned.
SampledToken sample_token(const float* logits, int vocab, const SamplerOptions& options,
                          std::mt19937_64& rng, const std::vector<TokenId>& banned = {});

}  // namespace ponder
