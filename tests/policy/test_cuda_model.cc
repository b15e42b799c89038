// The model on the CUDA backend against the CPU backend, in both precisions:
// a 20-step training run tracks the CPU run's losses; KV-cache decoding gives
// the CPU's logits and greedy tokens and the GPU's own full forward; a
// decoded row gets the same bits whatever the batch. Model, optimizer and
// decoding code are the CPU's, unchanged. Skipped without a CUDA device.
#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>

#include <gtest/gtest.h>

#include "policy/cpu/cpu_backend.h"
#include "policy/model.h"
#include "policy/optimizer.h"
#include "tests/policy/cuda_test_util.h"
#include "tests/policy/decode_test_util.h"

namespace ponder {
namespace {

// Whole-model bounds: a few layers of the per-op bounds.
double model_bound(CudaPrecision p) {
  return p == CudaPrecision::kFp32 ? 1e-4 : 3e-2;
}
// Losses over 20 steps: bf16 gradients steer the parameters a little apart.
double training_bound(CudaPrecision p) {
  return p == CudaPrecision::kFp32 ? 1e-4 : 5e-2;
}

class CudaModel : public cuda_test::CudaTest {
 protected:
  std::vector<TokenId> tokens(int n) {
    return cuda_test::random_ints(rng_, n, cuda_test::small_model_config().vocab_size);
  }

  CpuBackend<float> cpu_;
};

// Trains on one fixed batch (some targets are padding) for `steps` AdamW
// steps with clipping and weight decay; returns every loss.
std::vector<double> train(Model<float>& model, const std::vector<TokenId>& tokens, int batch,
                          int seq, int steps) {
  AdamWConfig adam;
  adam.lr = 1e-2;
  AdamW<float> optimizer(model.backend(), model.specs(), model.params(), model.grads(), adam);
  const int n = batch * seq;
  const std::vector<TokenId> inputs(tokens.begin(), tokens.begin() + n);
  std::vector<TokenId> targets(tokens.begin() + 1, tokens.begin() + n + 1);
  for (int i = seq - 3; i < n; i += seq) targets[i] = -1;
  const std::vector<float> weights(n, 1.0f / n);
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) {
    model.zero_grad();
    losses.push_back(model.forward(inputs.data(), targets.data(), weights.data(), batch, seq));
    model.backward();
    optimizer.step(adam.lr);
  }
  return losses;
}

TEST_P(CudaModel, TwentyTrainingStepsTrackTheCpu) {
  const int batch = 4, seq = 32;
  const std::vector<TokenId> data = tokens(batch * seq + 1);
  Model<float> on_cpu(cpu_, cuda_test::small_model_config()),
      on_gpu(*gpu_, cuda_test::small_model_config());
  on_cpu.init_weights(seed_, 0.02);
  on_gpu.init_weights(seed_, 0.02);
  const std::vector<double> cpu_losses = train(on_cpu, data, batch, seq, 20);
  const std::vector<double> gpu_losses = train(on_gpu, data, batch, seq, 20);
  for (int s = 0; s < 20; ++s) {
    EXPECT_NEAR(gpu_losses[s], cpu_losses[s], training_bound(GetParam()) * cpu_losses[s])
        << "step " << s << " (" << where() << ")";
  }
  // The run learns: one fixed batch is memorised quickly.
  EXPECT_LT(gpu_losses.back(), 0.8 * gpu_losses.front()) << where();
}

TEST_P(CudaModel, GreedyDecodingMatchesTheCpu) {
  const ModelConfig config = cuda_test::small_model_config();
  const int vocab = config.vocab_size, steps = 12;
  Model<float> on_cpu(cpu_, config), on_gpu(*gpu_, config);
  on_cpu.init_weights(seed_, 0.3);
  on_gpu.set_params(on_cpu.get_params());
  const std::vector<std::vector<TokenId>> prompts = {tokens(5), tokens(9), tokens(1)};
  const int rows = static_cast<int>(prompts.size());
  KvCache<float> cpu_cache(on_cpu, rows, 32), gpu_cache(on_gpu, rows, 32);
  // Prefill every prompt in one call, then one token per row per call; both
  // backends are fed the CPU's greedy tokens, so every step compares.
  Entries entries;
  std::vector<int> last(rows), length(rows);
  for (int r = 0; r < rows; ++r) {
    for (size_t t = 0; t < prompts[r].size(); ++t)
      entries.add(r, static_cast<int>(t), prompts[r][t]);
    last[r] = static_cast<int>(entries.tokens.size()) - 1;
    length[r] = static_cast<int>(prompts[r].size());
  }
  const double bound = model_bound(GetParam());
  for (int step = 0; step < steps; ++step) {
    const std::vector<float> cpu_logits = decode(on_cpu, cpu_cache, entries);
    const std::vector<float> gpu_logits = decode(on_gpu, gpu_cache, entries);
    cuda_test::expect_parity(gpu_logits, cpu_logits, bound,
                             "decode step " + std::to_string(step) + " (" + where() + ")");
    Entries next;
    for (int r = 0; r < rows; ++r) {
      const int at = step == 0 ? last[r] : r;
      const float* c = &cpu_logits[static_cast<size_t>(at) * vocab];
      const float* g = &gpu_logits[static_cast<size_t>(at) * vocab];
      std::vector<float> sorted(c, c + vocab);
      std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<>());
      const TokenId cpu_token = static_cast<TokenId>(std::max_element(c, c + vocab) - c);
      const TokenId gpu_token = static_cast<TokenId>(std::max_element(g, g + vocab) - g);
      // A tie within the bound may go either way.
      if (sorted[0] - sorted[1] > 4 * bound * std::abs(sorted[0])) {
        EXPECT_EQ(gpu_token, cpu_token)
            << "row " << r << " step " << step << " (" << where() << ")";
      }
      next.add(r, length[r]++, cpu_token);
    }
    entries = next;
  }
}

TEST_P(CudaModel, DecodingEqualsTheFullForward) {
  const ModelConfig config = cuda_test::small_model_config();
  const int vocab = config.vocab_size, seq = 20;
  Model<float> model(*gpu_, config);
  model.init_weights(seed_, 0.3);
  const std::vector<TokenId> ids = tokens(seq);
  const std::vector<TokenId> targets(seq, -1);
  const std::vector<float> weights(seq, 0.0f);
  model.forward(ids.data(), targets.data(), weights.data(), 1, seq);
  const std::vector<float> full = model.logits();
  KvCache<float> cache(model, 1, seq);
  Entries prefill, rest;
  for (int t = 0; t < seq; ++t) (t < 8 ? prefill : rest).add(0, t, ids[t]);
  std::vector<float> decoded = decode(model, cache, prefill);
  for (size_t i = 0; i < rest.tokens.size(); ++i) {
    Entries one;
    one.add(0, rest.positions[i], rest.tokens[i]);
    const std::vector<float> logits = decode(model, cache, one);
    decoded.insert(decoded.end(), logits.begin(), logits.end());
  }
  ASSERT_EQ(decoded.size(), static_cast<size_t>(seq) * vocab);
  // In bf16 the forward rounds activations and weights, decoding weights only.
  cuda_test::expect_parity(decoded, full, model_bound(GetParam()),
                           "decode vs forward (" + where() + ")");
}

TEST_P(CudaModel, ARowGetsTheSameBitsWhateverTheBatch) {
  const ModelConfig config = cuda_test::small_model_config();
  const int vocab = config.vocab_size;
  Model<float> model(*gpu_, config);
  model.init_weights(seed_, 0.3);
  const std::vector<TokenId> a = tokens(6), b = tokens(11), c = tokens(3);
  KvCache<float> alone(model, 1, 32), batch(model, 3, 32);
  Entries only_a, all;
  for (int t = 0; t < 6; ++t) only_a.add(0, t, a[t]);
  for (int t = 0; t < 11; ++t) all.add(0, t, b[t]);
  for (int t = 0; t < 6; ++t) all.add(2, t, a[t]);  // row 2, after another row's 11 entries
  for (int t = 0; t < 3; ++t) all.add(1, t, c[t]);
  const std::vector<float> single = decode(model, alone, only_a);
  const std::vector<float> many = decode(model, batch, all);
  EXPECT_TRUE(std::equal(single.begin(), single.end(), many.begin() + 11 * vocab)) << where();
  // And a step after the prefill.
  Entries step_alone, step_all;
  step_alone.add(0, 6, b[0]);
  step_all.add(1, 3, c[0]);
  step_all.add(2, 6, b[0]);
  const std::vector<float> next_single = decode(model, alone, step_alone);
  const std::vector<float> next_many = decode(model, batch, step_all);
  EXPECT_TRUE(std::equal(next_single.begin(), next_single.end(), next_many.begin() + vocab))
      << where();
}

INSTANTIATE_TEST_SUITE_P(Precisions, CudaModel,
                         ::testing::Values(CudaPrecision::kFp32, CudaPrecision::kBf16),
                         [](const auto& info) { return cuda_test::name_of(info.param); });

}  // namespace
}  // namespace ponder
