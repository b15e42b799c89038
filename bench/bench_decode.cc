// KV-cache decoding on CPU at batch 1, 8 and 64, for the train_step bench's
// model shape: hidden 512, 8 layers, 8 heads, vocab 8192, intermediate 1376.
// Each row prefills a 32-token prompt, then decodes STEPS tokens, one per row
// per Model::decode call (the timed part; prefill is reported separately).
//
// Limits, all measured in the same run on the same threads:
//  - compute: 2·N FLOP per token, N = the matmul parameters (every weight
//    matrix incl. lm_head; not the embedding lookup or norms), at the 2048³
//    sgemm peak (the better of one measurement before the decode runs and one
//    after, as the shared machine's speed drifts). Attention over the cache (4·L·p·C per token at
//    position p) is printed but not counted, as the issue states the limit as 2N.
//  - the decode's own matmuls: the same sgemm calls one decode step makes
//    (m = batch rows, the model's weights), timed alone. Small m runs far
//    below the 2048³ peak; this says how much of the gap is the matmul shape.
//  - memory: at small batch a step is bound by reading every weight once
//    (4·N bytes) plus each row's KV cache. Printed as bytes per step, the
//    implied GB/s, and its ratio to a parallel read of 512 MiB.
// Last line: JSON.
//
//   bench_decode [STEPS]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <vector>

#include <fmt/format.h>

#include "bench/bench_util.h"
#include "policy/cpu/blas.h"
#include "policy/cpu/cpu_backend.h"
#include "policy/model.h"

using ponder::bench::seconds_since;
using ponder::bench::sgemm_gflops;

namespace {

constexpr int kPrompt = 32;

// GB/s of reading a 512 MiB array with all math threads (best of 3). Sums
// 64-bit words into four accumulators, so the adds never limit the reads.
double read_gbs() {
  const size_t n = size_t{64} << 20;  // words
  std::vector<uint64_t> data(n);
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) data[i] = i & 7;
  double best = 1e30;
  uint64_t sink = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    uint64_t sum = 0;
#pragma omp parallel for schedule(static) reduction(+ : sum)
    for (size_t i = 0; i < n; i += 4) {
      sum += (data[i] + data[i + 1]) + (data[i + 2] + data[i + 3]);
    }
    best = std::min(best, seconds_since(t0));
    sink += sum;
  }
  if (sink == 1) fmt::print("\n");  // keeps the reads
  return n * sizeof(uint64_t) / best / 1e9;
}

struct Matmul {
  const float* weight;
  int in, out;
};

// The matmuls of one decode step, in order (x·Wᵀ, as Backend::matmul_forward).
std::vector<Matmul> decode_matmuls(ponder::Model<float>& model) {
  std::vector<Matmul> out;
  for (const auto& spec : model.specs()) {
    if (spec.shape.size() != 2 || spec.name == "model.embed_tokens.weight") continue;
    out.push_back({model.params() + spec.offset, static_cast<int>(spec.shape[1]),
                   static_cast<int>(spec.shape[0])});
  }
  if (model.config().tie_word_embeddings) {
    out.push_back({model.params(), model.config().hidden_size, model.config().vocab_size});
  }
  return out;
}

// Seconds per step of the decode's matmuls alone at `rows` rows.
double matmuls_seconds(const std::vector<Matmul>& matmuls, int rows, int steps) {
  int widest = 0;
  for (const auto& m : matmuls) widest = std::max({widest, m.in, m.out});
  std::vector<float> x(static_cast<size_t>(rows) * widest, 0.01f), y(x.size());
  auto step = [&] {
    for (const auto& m : matmuls) {
      ponder::blas().gemm(false, true, rows, m.out, m.in, 1.0f, x.data(), m.in, m.weight, m.in,
                          0.0f, y.data(), m.out);
    }
  };
  step();
  const auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; ++s) step();
  return seconds_since(t0) / steps;
}

struct DecodeTiming {
  double prefill_s = 0, step_s = 0;
};

// Prefill kPrompt tokens in every row, then `steps` single-token steps per row.
DecodeTiming time_decode(ponder::Model<float>& model, int batch, int steps, std::mt19937& rng) {
  const int vocab = model.config().vocab_size;
  ponder::KvCache<float> cache(model, batch, kPrompt + steps);
  std::vector<int> rows, positions;
  std::vector<ponder::TokenId> tokens;
  for (int r = 0; r < batch; ++r) {
    for (int t = 0; t < kPrompt; ++t) {
      rows.push_back(r);
      positions.push_back(t);
      tokens.push_back(static_cast<ponder::TokenId>(rng() % vocab));
    }
  }
  std::vector<float> logits(tokens.size() * vocab);
  DecodeTiming timing;
  auto t0 = std::chrono::steady_clock::now();
  model.decode(cache, rows, positions, tokens, logits.data());
  timing.prefill_s = seconds_since(t0);

  std::vector<int> step_rows(batch), step_positions(batch);
  std::vector<ponder::TokenId> step_tokens(batch);
  for (int r = 0; r < batch; ++r) step_rows[r] = r;
  t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; ++s) {
    for (int r = 0; r < batch; ++r) {
      step_positions[r] = kPrompt + s;
      step_tokens[r] = static_cast<ponder::TokenId>(rng() % vocab);
    }
    model.decode(cache, step_rows, step_positions, step_tokens, logits.data());
  }
  timing.step_s = seconds_since(t0) / steps;
  return timing;
}

}  // namespace

int main(int argc, char** argv) {
  ponder::use_passive_openmp_wait(argv);
  const int steps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 128;
  ponder::CpuBackend<float> backend;
  fmt::print("math: {}\n", ponder::describe_math());
  const double peak_before = sgemm_gflops(2048);
  const double bandwidth = read_gbs();
  fmt::print("sgemm 2048^3: {:.1f} GFLOP/s; parallel read of 512 MiB: {:.1f} GB/s\n", peak_before,
             bandwidth);

  ponder::ModelConfig config;
  config.vocab_size = 8192;
  config.hidden_size = 512;
  config.intermediate_size = 1376;
  config.num_hidden_layers = 8;
  config.num_attention_heads = 8;
  config.num_key_value_heads = 8;
  config.max_position_embeddings = 256;
  ponder::Model<float> model(backend, config);
  model.init_weights(1, 0.02);
  const std::vector<Matmul> matmuls = decode_matmuls(model);
  double matmul_params = 0;
  for (const auto& m : matmuls) matmul_params += 1.0 * m.in * m.out;
  const double flop_per_token = 2 * matmul_params;
  const double weight_bytes = 4 * matmul_params;
  // Keys and values read per row per step, at the mean position of the timed steps.
  const double mean_position = kPrompt + (steps - 1) / 2.0;
  const double kv_bytes_per_row =
      2.0 * 4 * config.num_hidden_layers * (mean_position + 1) * config.kv_dim();
  const double attention_flop =
      4.0 * config.num_hidden_layers * (mean_position + 1) * config.hidden_size;
  fmt::print(
      "model: {:.1f}M parameters ({:.1f}M in matmuls); {}-token prompt, then {} steps\n"
      "2N = {:.1f} MFLOP per token (attention at the mean position adds {:.2f} MFLOP, "
      "not counted); weights read per step: {:.1f} MB\n",
      model.num_parameters() / 1e6, matmul_params / 1e6, kPrompt, steps, flop_per_token / 1e6,
      attention_flop / 1e6, weight_bytes / 1e6);

  std::mt19937 rng(5);
  time_decode(model, 1, 8, rng);  // warm-up: buffers, RoPE tables, page faults
  struct Result {
    int batch;
    DecodeTiming timing;
    double matmul_s;
  };
  std::vector<Result> results;
  for (const int batch : {1, 8, 64}) {
    DecodeTiming best{1e30, 1e30};
    for (int rep = 0; rep < 2; ++rep) {
      const DecodeTiming t = time_decode(model, batch, steps, rng);
      best.prefill_s = std::min(best.prefill_s, t.prefill_s);
      best.step_s = std::min(best.step_s, t.step_s);
    }
    results.push_back({batch, best, matmuls_seconds(matmuls, batch, std::max(8, steps / 4))});
  }
  const double peak_after = sgemm_gflops(2048);
  const double peak = std::max(peak_before, peak_after);
  fmt::print("sgemm 2048^3 after the runs: {:.1f} GFLOP/s; the limit below is {:.1f}\n", peak_after,
             peak);

  std::string json_batches;
  for (const auto& [batch, best, matmul_s] : results) {
    const double tokens_per_s = batch / best.step_s;
    const double gflops = flop_per_token * tokens_per_s / 1e9;
    const double matmul_gflops = flop_per_token * batch / matmul_s / 1e9;
    const double bytes_per_step = weight_bytes + batch * kv_bytes_per_row;
    const double gbs = bytes_per_step / best.step_s / 1e9;
    const double prefill_tokens_per_s = batch * kPrompt / best.prefill_s;
    fmt::print(
        "batch {:2}: {:8.0f} tokens/s ({:.2f} ms/step), {:6.1f} GFLOP/s = {:.3f} of the sgemm "
        "peak\n"
        "          its matmuls alone: {:.2f} ms/step = {:.1f} GFLOP/s; decode reaches {:.2f} of "
        "that\n"
        "          reads {:.1f} MB/step (weights {:.1f} + KV {:.1f}) = {:.1f} GB/s = {:.2f} of the "
        "read bandwidth; prefill {:.0f} tokens/s\n",
        batch, tokens_per_s, best.step_s * 1e3, gflops, gflops / peak, matmul_s * 1e3,
        matmul_gflops, matmul_s / best.step_s, bytes_per_step / 1e6, weight_bytes / 1e6,
        batch * kv_bytes_per_row / 1e6, gbs, gbs / bandwidth, prefill_tokens_per_s);
    json_batches += fmt::format(
        "{}{{\"batch\": {}, \"tokens_per_s\": {:.1f}, \"step_ms\": {:.3f}, \"gflops\": {:.2f}, "
        "\"fraction_of_sgemm_peak\": {:.4f}, \"matmul_only_step_ms\": {:.3f}, "
        "\"matmul_only_gflops\": {:.2f}, \"fraction_of_matmul_only\": {:.3f}, "
        "\"bytes_per_step\": {:.0f}, \"gbs\": {:.2f}, \"fraction_of_read_bandwidth\": {:.3f}, "
        "\"prefill_tokens_per_s\": {:.1f}}}",
        json_batches.empty() ? "" : ", ", batch, tokens_per_s, best.step_s * 1e3, gflops,
        gflops / peak, matmul_s * 1e3, matmul_gflops, matmul_s / best.step_s, bytes_per_step, gbs,
        gbs / bandwidth, prefill_tokens_per_s);
  }
  fmt::print(
      "{{\"sgemm_gflops\": {:.2f}, \"sgemm_gflops_before\": {:.2f}, "
      "\"sgemm_gflops_after\": {:.2f}, \"read_gbs\": {:.2f}, \"threads\": {}, \"steps\": {}, "
      "\"prompt\": {}, \"flop_per_token\": {:.0f}, \"weight_bytes_per_step\": {:.0f}, "
      "\"kv_bytes_per_row_step\": {:.0f}, \"batches\": [{}]}}\n",
      peak, peak_before, peak_after, bandwidth, ponder::math_threads(), steps, kPrompt,
      flop_per_token, weight_bytes, kv_bytes_per_row, json_batches);
}
