// The NCCL gradient sync in a world of one on one GPU (built with the CUDA
// backend and NCCL, skipped without a device): reductions queued on their own
// stream as backward reports each layer final must leave training exactly as
// it is without them, which holds only if every reduction waits for the
// backward writes to its bucket and the optimizer waits for the reductions.
#include "parallel/nccl_gradient_sync.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "policy/model.h"
#include "policy/optimizer.h"
#include "tests/policy/cuda_test_util.h"

namespace ponder {
namespace {

ModelConfig sync_test_config() {
  ModelConfig config;
  config.vocab_size = 96;
  config.hidden_size = 64;
  config.intermediate_size = 96;
  config.num_hidden_layers = 3;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.max_position_embeddings = 32;
  return config;
}

// Three AdamW steps of two micro-batches each; with `sync`, the last backward
// of each step reports to it and the step waits for its finish().
std::vector<float> train(Model<float>& model, NcclGradientSync* sync) {
  AdamW<float> optimizer(model.backend(), model.specs(), model.params(), model.grads(), {});
  const int batch = 2, seq = 16, n = batch * seq;
  std::mt19937 rng(11);
  std::vector<TokenId> inputs(n), targets(n);
  const std::vector<float> weights(n, 1.0f / (2 * n));
  for (int step = 0; step < 3; ++step) {
    model.zero_grad();
    for (int micro = 0; micro < 2; ++micro) {
      for (int i = 0; i < n; ++i) {
        inputs[i] = static_cast<TokenId>(rng() % 96);
        targets[i] = static_cast<TokenId>(rng() % 96);
      }
      model.forward(inputs.data(), targets.data(), weights.data(), batch, seq);
      model.backward(micro == 1 ? sync : nullptr);
    }
    if (sync != nullptr) sync->finish();
    optimizer.step(1e-2);
  }
  return model.get_params();
}

TEST(NcclGradientSync, AWorldOfOneTrainsExactlyAsWithoutIt) {
  PONDER_REQUIRE_CUDA_DEVICE();
  for (CudaPrecision precision : {CudaPrecision::kFp32, CudaPrecision::kBf16}) {
    SCOPED_TRACE(cuda_test::name_of(precision));
    CudaBackend plain_gpu(precision), synced_gpu(precision);
    Model<float> plain(plain_gpu, sync_test_config()), synced(synced_gpu, sync_test_config());
    plain.init_weights(5, 0.05);
    synced.init_weights(5, 0.05);
    // Small buckets: several per layer, so most launch while backward runs.
    NcclGradientSync sync(Communicator::world(), synced_gpu.device(), synced_gpu.stream(),
                          synced.grads(), synced.num_parameters(), 4096);
    EXPECT_EQ(train(synced, &sync), train(plain, nullptr));
  }
}

TEST(NcclGradientSync, AStepWithoutBackwardReducesEveryBucket) {
  PONDER_REQUIRE_CUDA_DEVICE();
  CudaBackend gpu(CudaPrecision::kFp32);
  cuda_test::Buffers buffers(gpu);
  std::mt19937_64 rng(3);
  const std::vector<float> host = cuda_test::random_values(rng, 10000);
  float* grads = buffers.values(host);
  NcclGradientSync sync(Communicator::world(), gpu.device(), gpu.stream(), grads, host.size(), 999);
  sync.finish();
  sync.gradients_final_from(5000);
  sync.finish();
  EXPECT_EQ(buffers.read(grads, host.size()), host);
}

}  // namespace
}  // namespace ponder
