// One training step of the policy on CPU (forward, backward, AdamW), for the
// issue's reference shape: hidden 512, 8 layers, 8 heads, seq 256, batch 8,
// vocab 8192 (intermediate 1376 = 8/3·512 rounded up to a multiple of 32).
//
// FLOP per token = 6·N + 6·L·T·C, where N counts the matmul parameters (every
// weight matrix incl. lm_head; not the embedding lookup or norms) and
// 6·L·T·C is causal attention (QKᵀ and PV: 2·2·(T/2)·C per layer forward,
// ×3 for forward + backward). The limit is a 2048³ sgemm measured in the same
// run on the same threads. Last line: JSON.
//
//   bench_train_step [STEPS]
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <random>
#include <vector>

#include <fmt/format.h>

#include "bench/bench_util.h"
#include "policy/cpu/blas.h"
#include "policy/cpu/cpu_backend.h"
#include "policy/model.h"
#include "policy/optimizer.h"

using ponder::bench::seconds_since;
using ponder::bench::sgemm_gflops;

int main(int argc, char** argv) {
  ponder::use_passive_openmp_wait(argv);
  const int steps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  ponder::CpuBackend<float> backend;
  fmt::print("math: {}\n", ponder::describe_math());
  const double peak = sgemm_gflops(2048);
  fmt::print("sgemm 2048^3: {:.1f} GFLOP/s\n", peak);

  ponder::ModelConfig config;
  config.vocab_size = 8192;
  config.hidden_size = 512;
  config.intermediate_size = 1376;
  config.num_hidden_layers = 8;
  config.num_attention_heads = 8;
  config.num_key_value_heads = 8;
  config.max_position_embeddings = 256;
  const int batch = 8, seq = 256, n = batch * seq;
  ponder::Model<float> model(backend, config);
  model.init_weights(1, 0.02);
  ponder::AdamW<float> optimizer(backend, model.specs(), model.params(), model.grads(), {});

  std::mt19937 rng(5);
  std::vector<ponder::TokenId> inputs(n), targets(n);
  for (int i = 0; i < n; ++i) {
    inputs[i] = static_cast<ponder::TokenId>(rng() % config.vocab_size);
    targets[i] = static_cast<ponder::TokenId>(rng() % config.vocab_size);
  }
  const std::vector<float> weights(n, 1.0f / n);
  auto step = [&] {
    model.zero_grad();
    const double loss = model.forward(inputs.data(), targets.data(), weights.data(), batch, seq);
    model.backward();
    optimizer.step(1e-3);
    return loss;
  };
  step();  // warm-up: allocation, RoPE tables, page faults
  double forward_s = 0, total_s = 0;
  for (int s = 0; s < steps; ++s) {
    const auto t0 = std::chrono::steady_clock::now();
    model.zero_grad();
    model.forward(inputs.data(), targets.data(), weights.data(), batch, seq);
    forward_s += seconds_since(t0);
    model.backward();
    optimizer.step(1e-3);
    total_s += seconds_since(t0);
  }
  forward_s /= steps;
  total_s /= steps;

  double matmul_params = 0;
  for (const auto& spec : model.specs()) {
    if (spec.shape.size() == 2 && spec.name != "model.embed_tokens.weight") {
      matmul_params += static_cast<double>(spec.size);
    }
  }
  if (config.tie_word_embeddings) matmul_params += 1.0 * config.vocab_size * config.hidden_size;
  const double flop_per_token =
      6 * matmul_params + 6.0 * config.num_hidden_layers * seq * config.hidden_size;
  const double tokens_per_s = n / total_s;
  const double gflops = flop_per_token * tokens_per_s / 1e9;
  fmt::print("model: {:.1f}M parameters ({:.1f}M in matmuls); batch {} x seq {}\n",
             model.num_parameters() / 1e6, matmul_params / 1e6, batch, seq);
  fmt::print(
      "step: {:.3f} s (forward {:.3f} s), {:.0f} tokens/s, {:.1f} GFLOP/s = {:.2f} of the "
      "sgemm peak\n",
      total_s, forward_s, tokens_per_s, gflops, gflops / peak);
  fmt::print(
      "{{\"sgemm_gflops\": {:.2f}, \"step_seconds\": {:.4f}, \"forward_seconds\": {:.4f}, "
      "\"tokens_per_s\": {:.1f}, \"gflops\": {:.2f}, \"fraction_of_sgemm_peak\": {:.3f}, "
      "\"flop_per_token\": {:.0f}}}\n",
      peak, total_s, forward_s, tokens_per_s, gflops, gflops / peak, flop_per_token);
}
