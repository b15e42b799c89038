// The CUDA backend on a ~124M-parameter Llama (hidden 768, 12 layers, 12
// heads, intermediate 2048, vocab 50304, tied embeddings): training tokens/s
// and MFU at sequence 1024, and KV-cache decoding tokens/s at 1, 64 and 256
// rows, each against a limit measured in the same run on the same GPU:
//  - matmul peak: a 8192³ cuBLAS GEMM in the backend's precision (bf16
//    operands, fp32 output and accumulation; or fp32);
//  - memory bandwidth: a 1 GiB device-to-device copy (bytes read + written).
// Training FLOP per token = 6·N + 6·L·T·C as bench_train_step (N: the matmul
// weights incl. lm_head; causal attention counted once); MFU = achieved
// FLOP/s ÷ the measured matmul peak. A decoding step reads every packed
// weight and each row's keys and values once: its bandwidth bound is
// rows ÷ (those bytes ÷ bandwidth), its matmul bound peak ÷ 2N tokens/s.
// Decoding times Model::decode, logits copied to the host included (the
// engine samples there). With NCCL in the build, the training step is timed
// again with the trainers' NCCL gradient sync in a world of one (buckets
// all-reduced on their own stream as backward finishes each layer): with one
// rank NCCL's in-place sum moves no data, so its ratio to the plain step is
// the cost of the sync's events and launches, not of a reduction. Last line: JSON.
//
//   bench_gpu [--precision bf16|fp32] [--batch 8] [--steps 10] [--decode-steps 64]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <cuda_bf16.h>
#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "bench/bench_util.h"
#include "parallel/gradient_sync.h"
#include "policy/cuda/cuda_backend.h"
#include "policy/cuda/cuda_check.h"
#include "policy/model.h"
#include "policy/optimizer.h"
#ifdef PONDER_NCCL_SYNC
#include "parallel/nccl_gradient_sync.h"
#endif

namespace {

using ponder::CudaBackend;
using ponder::CudaPrecision;
using ponder::TokenId;
using ponder::bench::seconds_since;

ponder::ModelConfig llama_124m() {
  ponder::ModelConfig config;
  config.vocab_size = 50304;
  config.hidden_size = 768;
  config.intermediate_size = 2048;
  config.num_hidden_layers = 12;
  config.num_attention_heads = 12;
  config.num_key_value_heads = 12;
  config.max_position_embeddings = 1024;
  config.tie_word_embeddings = true;
  return config;
}

// Matmul weights: every layer's projections and lm_head (the embedding
// lookup is no matmul).
double matmul_params(const ponder::ModelConfig& c) {
  const double qd = c.num_attention_heads * c.head_dim(), kvd = c.kv_dim();
  const double per_layer = c.hidden_size * (qd + 2 * kvd) + qd * c.hidden_size +
                           3.0 * c.hidden_size * c.intermediate_size;
  return per_layer * c.num_hidden_layers + static_cast<double>(c.vocab_size) * c.hidden_size;
}

// Events on the default stream around `reps` calls of `work`, after one warm-up.
template <typename Work>
double seconds_per_call(int reps, Work work) {
  cudaEvent_t start, stop;
  PONDER_CUDA_CHECK(cudaEventCreate(&start));
  PONDER_CUDA_CHECK(cudaEventCreate(&stop));
  work();
  PONDER_CUDA_CHECK(cudaEventRecord(start));
  for (int i = 0; i < reps; ++i) work();
  PONDER_CUDA_CHECK(cudaEventRecord(stop));
  PONDER_CUDA_CHECK(cudaEventSynchronize(stop));
  float ms = 0;
  PONDER_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
  PONDER_CUDA_CHECK(cudaEventDestroy(start));
  PONDER_CUDA_CHECK(cudaEventDestroy(stop));
  return ms / 1e3 / reps;
}

// TFLOP/s of a size³ GEMM as the backend runs its matmuls.
double matmul_peak_tflops(CudaPrecision precision, int size = 8192) {
  const bool bf16 = precision == CudaPrecision::kBf16;
  const size_t values = static_cast<size_t>(size) * size;
  void *a, *b, *c;
  PONDER_CUDA_CHECK(cudaMalloc(&a, values * (bf16 ? 2 : 4)));
  PONDER_CUDA_CHECK(cudaMalloc(&b, values * (bf16 ? 2 : 4)));
  PONDER_CUDA_CHECK(cudaMalloc(&c, values * 4));
  PONDER_CUDA_CHECK(cudaMemset(a, 0, values * (bf16 ? 2 : 4)));
  PONDER_CUDA_CHECK(cudaMemset(b, 0, values * (bf16 ? 2 : 4)));
  cublasHandle_t handle;
  PONDER_CUBLAS_CHECK(cublasCreate(&handle));
  const cudaDataType type = bf16 ? CUDA_R_16BF : CUDA_R_32F;
  const float one = 1, zero = 0;
  const double seconds = seconds_per_call(10, [&] {
    PONDER_CUBLAS_CHECK(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, size, size, size, &one, a,
                                     type, size, b, type, size, &zero, c, CUDA_R_32F, size,
                                     CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  });
  PONDER_CUBLAS_CHECK(cublasDestroy(handle));
  for (void* p : {a, b, c}) PONDER_CUDA_CHECK(cudaFree(p));
  return 2.0 * size * size * size / seconds / 1e12;
}

// GB/s of a device-to-device copy (bytes read plus written).
double bandwidth_gbs(size_t bytes = size_t{1} << 30) {
  void *src, *dst;
  PONDER_CUDA_CHECK(cudaMalloc(&src, bytes));
  PONDER_CUDA_CHECK(cudaMalloc(&dst, bytes));
  const double seconds = seconds_per_call(
      5, [&] { PONDER_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice)); });
  PONDER_CUDA_CHECK(cudaFree(src));
  PONDER_CUDA_CHECK(cudaFree(dst));
  return 2.0 * bytes / seconds / 1e9;
}

std::vector<TokenId> random_tokens(std::mt19937& rng, size_t n, int vocab) {
  std::vector<TokenId> ids(n);
  for (auto& id : ids) id = static_cast<TokenId>(rng() % vocab);
  return ids;
}

// `with_sync`: each step's gradients go through the NCCL gradient sync.
nlohmann::json train(CudaBackend& backend, const ponder::ModelConfig& config, int batch, int steps,
                     double peak_tflops, bool with_sync) {
  const int seq = config.max_position_embeddings, n = batch * seq;
  ponder::Model<float> model(backend, config);
  model.init_weights(1, 0.02);
  ponder::AdamW<float> optimizer(backend, model.specs(), model.params(), model.grads(), {});
  std::mt19937 rng(5);
  const std::vector<TokenId> inputs = random_tokens(rng, n, config.vocab_size);
  const std::vector<TokenId> targets = random_tokens(rng, n, config.vocab_size);
  const std::vector<float> weights(n, 1.0f / n);
  std::unique_ptr<ponder::GradientSync> sync;
  if (with_sync) {
#ifdef PONDER_NCCL_SYNC
    sync = std::make_unique<ponder::NcclGradientSync>(
        ponder::Communicator::world(), backend.device(), backend.stream(), model.grads(),
        model.num_parameters(), (size_t{25} << 20) / sizeof(float));
#else
    throw std::logic_error("bench_gpu was built without NCCL");
#endif
  }
  double loss = 0;
  auto step = [&] {
    model.zero_grad();
    loss = model.forward(inputs.data(), targets.data(), weights.data(), batch, seq);
    model.backward(sync.get());
    if (sync) sync->finish();
    optimizer.step(3e-4);
  };
  step();  // warm-up: allocations, cuBLAS heuristics
  step();
  backend.synchronize();
  const auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; ++s) step();
  backend.synchronize();
  const double seconds = seconds_since(t0) / steps;
  const double flop_per_token =
      6 * matmul_params(config) + 6.0 * config.num_hidden_layers * seq * config.hidden_size;
  const double tokens_per_s = n / seconds;
  const double tflops = tokens_per_s * flop_per_token / 1e12;
  fmt::print(
      "train{}: {} params, batch {} x {}: {:.1f} ms/step, {:.0f} tokens/s, {:.1f} TFLOP/s, "
      "MFU {:.1f}% of the measured peak (loss {:.3f})\n",
      sync ? " with the NCCL gradient sync" : "", model.num_parameters(), batch, seq, seconds * 1e3,
      tokens_per_s, tflops, 100 * tflops / peak_tflops, loss);
  return {{"params", model.num_parameters()},
          {"batch", batch},
          {"seq", seq},
          {"step_ms", seconds * 1e3},
          {"tokens_per_s", tokens_per_s},
          {"tflops", tflops},
          {"mfu", tflops / peak_tflops},
          {"loss", loss}};
}

nlohmann::json decode(CudaBackend& backend, const ponder::ModelConfig& config, int rows, int prompt,
                      int steps, double peak_tflops, double bandwidth) {
  ponder::Model<float> model(backend, config);
  model.init_weights(2, 0.02);
  ponder::KvCache<float> cache(model, rows, prompt + steps);
  std::mt19937 rng(rows);
  const int vocab = config.vocab_size;
  // Prefill a few rows per call (each call copies its logits to the host).
  const int rows_per_call = std::max(1, 2048 / prompt);
  std::vector<float> logits(static_cast<size_t>(rows_per_call) * prompt * vocab);
  for (int r0 = 0; r0 < rows; r0 += rows_per_call) {
    std::vector<int> row_of, position_of;
    for (int r = r0; r < std::min(rows, r0 + rows_per_call); ++r) {
      for (int t = 0; t < prompt; ++t) row_of.push_back(r), position_of.push_back(t);
    }
    model.decode(cache, row_of, position_of, random_tokens(rng, row_of.size(), vocab),
                 logits.data());
  }
  std::vector<int> all(rows), positions(rows);
  for (int r = 0; r < rows; ++r) all[r] = r;
  const std::vector<TokenId> tokens = random_tokens(rng, rows, vocab);
  const auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; ++s) {
    std::fill(positions.begin(), positions.end(), prompt + s);
    model.decode(cache, all, positions, tokens, logits.data());
  }
  const double seconds = seconds_since(t0);
  const double tokens_per_s = static_cast<double>(rows) * steps / seconds;
  const double weight_bytes =
      matmul_params(config) * (backend.precision() == CudaPrecision::kBf16 ? 2 : 4);
  const double kv_bytes =
      2.0 * 4 * config.num_hidden_layers * config.kv_dim() * rows * (prompt + steps / 2.0);
  const double bandwidth_bound = rows / ((weight_bytes + kv_bytes) / (bandwidth * 1e9));
  const double matmul_bound = peak_tflops * 1e12 / (2 * matmul_params(config));
  const double bound = std::min(bandwidth_bound, matmul_bound);
  fmt::print(
      "decode: {:3} rows: {:.0f} tokens/s; bounds {:.0f} (bandwidth), {:.0f} (matmul): "
      "{:.1f}% of the lower\n",
      rows, tokens_per_s, bandwidth_bound, matmul_bound, 100 * tokens_per_s / bound);
  return {{"rows", rows},
          {"tokens_per_s", tokens_per_s},
          {"bandwidth_bound", bandwidth_bound},
          {"matmul_bound", matmul_bound},
          {"fraction_of_bound", tokens_per_s / bound}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"the CUDA backend: training MFU and decoding tokens/s of a 124M Llama"};
  std::string precision = "bf16";
  int batch = 8, steps = 10, decode_steps = 64;
  app.add_option("--precision", precision, "bf16 or fp32")
      ->check(CLI::IsMember({"bf16", "fp32"}))
      ->capture_default_str();
  app.add_option("--batch", batch, "training sequences per step")->capture_default_str();
  app.add_option("--steps", steps, "timed training steps")->capture_default_str();
  app.add_option("--decode-steps", decode_steps, "timed decoding steps")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    CudaBackend backend(precision == "bf16" ? CudaPrecision::kBf16 : CudaPrecision::kFp32);
    fmt::print("device: {}\n", backend.describe());
    const double peak = matmul_peak_tflops(backend.precision());
    const double bandwidth = bandwidth_gbs();
    fmt::print("matmul peak ({} 8192^3 GEMM): {:.1f} TFLOP/s; copy bandwidth {:.0f} GB/s\n",
               precision, peak, bandwidth);
    const ponder::ModelConfig config = llama_124m();
    nlohmann::json result = {{"device", backend.describe()},
                             {"precision", precision},
                             {"peak_tflops", peak},
                             {"bandwidth_gbs", bandwidth}};
    result["train"] = train(backend, config, batch, steps, peak, false);
#ifdef PONDER_NCCL_SYNC
    std::string why;
    if (ponder::nccl_library(&why) != nullptr) {
      result["train_nccl_sync"] = train(backend, config, batch, steps, peak, true);
      result["nccl_sync_step_ratio"] = result["train_nccl_sync"]["step_ms"].get<double>() /
                                       result["train"]["step_ms"].get<double>();
      fmt::print("NCCL gradient sync, world of one: {:.3f} x the plain step time\n",
                 result["nccl_sync_step_ratio"].get<double>());
    } else {
      fmt::print("NCCL gradient sync: skipped, NCCL could not be loaded ({})\n", why);
    }
#endif
    for (int rows : {1, 64, 256}) {
      result["decode"].push_back(decode(backend, config, rows, 32, decode_steps, peak, bandwidth));
    }
    fmt::print("{}\n", result.dump());
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_gpu: {}\n", e.what());
    return 1;
  }
}
