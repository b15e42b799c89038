// Generation throughput of the rollout engine: 64 rows (8 prompts x 8
// samples), a 32-token prompt, 128 new tokens each, temperature 1, tools off,
// for a ~10M-parameter model (hidden 384, 6 layers, 6 heads, intermediate
// 1024, vocab 4096). Limit: 2N FLOP per generated token (N = matmul
// parameters incl. lm_head) at a 2048³ sgemm measured in the same run.
// Last line: JSON.
//
//   bench_generate [ROWS]
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <vector>

#include <fmt/format.h>

#include "bench/bench_util.h"
#include "policy/cpu/blas.h"
#include "policy/cpu/cpu_backend.h"
#include "rollout/engine.h"

using ponder::bench::sgemm_gflops;

int main(int argc, char** argv) {
  ponder::use_passive_openmp_wait(argv);
  const int rows = argc > 1 ? std::max(8, std::atoi(argv[1])) : 64;
  ponder::CpuBackend<float> backend;
  fmt::print("math: {}\n", ponder::describe_math());
  const double peak = sgemm_gflops();

  ponder::ModelConfig config;
  config.vocab_size = 4096;
  config.hidden_size = 384;
  config.intermediate_size = 1024;
  config.num_hidden_layers = 6;
  config.num_attention_heads = 6;
  config.num_key_value_heads = 6;
  config.max_position_embeddings = 256;
  ponder::Model<float> model(backend, config);
  model.init_weights(1, 0.02);
  double matmul_params = 0;
  for (const auto& spec : model.specs()) {
    if (spec.shape.size() == 2 && spec.name != "model.embed_tokens.weight") {
      matmul_params += static_cast<double>(spec.size);
    }
  }
  // A tokenizer whose vocabulary matches the model's (distinct synthetic merges).
  std::vector<std::pair<ponder::TokenId, ponder::TokenId>> merges;
  for (int r = 0; r < config.vocab_size - ponder::kMinVocabSize; ++r)
    merges.push_back({r % 256, r / 256});
  const ponder::Tokenizer tokenizer(merges, ponder::gpt4_style_pattern(1));
  ponder::ModelDecoder decoder(model);
  ponder::Engine engine(decoder, tokenizer, {});
  const int samples = 8, prompts_n = rows / samples, new_tokens = 128;
  std::vector<std::vector<ponder::TokenId>> prompts(prompts_n);
  for (int p = 0; p < prompts_n; ++p) {
    for (int t = 0; t < 32; ++t)
      prompts[p].push_back(static_cast<ponder::TokenId>((p * 31 + t * 7) % 256));
  }
  ponder::GenerationOptions options;
  options.tools = false;
  options.max_new_tokens = new_tokens;
  options.batch_rows = rows;
  // The end token must not stop rows early: every row generates new_tokens.
  engine.generate(prompts, samples, options);  // warm-up
  const auto t0 = std::chrono::steady_clock::now();
  const auto rollouts = engine.generate(prompts, samples, options);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  size_t tokens = 0;
  for (const auto& r : rollouts) tokens += r.ids.size();
  const double tokens_per_s = tokens / seconds;
  const double gflops = 2 * matmul_params * tokens_per_s / 1e9;
  fmt::print("sgemm 2048^3: {:.1f} GFLOP/s\n", peak);
  fmt::print("model: {:.1f}M matmul parameters; {} rows x {} new tokens ({} generated)\n",
             matmul_params / 1e6, rows, new_tokens, tokens);
  fmt::print("generation: {:.0f} tokens/s, {:.1f} GFLOP/s = {:.2f} of the matmul-bound limit\n",
             tokens_per_s, gflops, gflops / peak);
  fmt::print(
      "{{\"rows\": {}, \"tokens\": {}, \"seconds\": {:.3f}, \"tokens_per_s\": {:.1f}, "
      "\"gflops\": {:.2f}, \"sgemm_gflops\": {:.2f}, \"fraction_of_limit\": {:.3f}}}\n",
      rows, tokens, seconds, tokens_per_s, gflops, peak, gflops / peak);
}
