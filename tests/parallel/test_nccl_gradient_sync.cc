// The NCCL gradient sync on one GPU (built with the CUDA backend and NCCL,
// skipped without a device). With NCCL in a world of one the path runs end
// to end, but an in-place sum over one rank writes nothing, so it cannot show
// a bucket reduced too early. The stream order is checked with a reduction
// that writes: doubling each bucket (cuBLAS, on the reduction stream) must
// train exactly as doubling all gradients after backward does, which holds
// only if each reduction waits for backward's writes to its bucket and the
// optimizer waits for the reductions.
#include "parallel/nccl_gradient_sync.h"

#include <cublas_v2.h>
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "policy/model.h"
#include "policy/optimizer.h"
#include "tests/policy/cuda_test_util.h"

namespace ponder {
namespace {

// Three AdamW steps of two micro-batches each; with `sync`, the last backward
// of each step reports to it and the step waits for its finish(); with
// `after_backward`, that runs on the gradients instead.
std::vector<float> train(Model<float>& model, GradientSync* sync,
                         const std::function<void()>& after_backward = {}) {
  AdamW<float> optimizer(model.backend(), model.specs(), model.params(), model.grads(), {});
  const int batch = 2, seq = 16, n = batch * seq;
  std::mt19937 rng(11);
  std::vector<TokenId> inputs(n), targets(n);
  const std::vector<float> weights(n, 1.0f / (2 * n));
  const int vocab = model.config().vocab_size;
  for (int step = 0; step < 3; ++step) {
    model.zero_grad();
    for (int micro = 0; micro < 2; ++micro) {
      for (int i = 0; i < n; ++i) {
        inputs[i] = static_cast<TokenId>(rng() % vocab);
        targets[i] = static_cast<TokenId>(rng() % vocab);
      }
      model.forward(inputs.data(), targets.data(), weights.data(), batch, seq);
      model.backward(micro == 1 ? sync : nullptr);
    }
    if (sync != nullptr) sync->finish();
    if (after_backward) after_backward();
    optimizer.step(1e-2);
  }
  return model.get_params();
}

TEST(NcclGradientSync, AWorldOfOneTrainsExactlyAsWithoutIt) {
  PONDER_REQUIRE_CUDA_DEVICE();
  std::string why;
  if (nccl_library(&why) == nullptr) GTEST_SKIP() << "NCCL could not be loaded: " << why;
  CudaBackend plain_gpu(CudaPrecision::kBf16), synced_gpu(CudaPrecision::kBf16);
  Model<float> plain(plain_gpu, cuda_test::small_model_config()),
      synced(synced_gpu, cuda_test::small_model_config());
  plain.init_weights(5, 0.05);
  synced.init_weights(5, 0.05);
  NcclGradientSync sync(Communicator::world(), synced_gpu.device(), synced_gpu.stream(),
                        synced.grads(), synced.num_parameters(), 4096);
  EXPECT_EQ(train(synced, &sync), train(plain, nullptr));
}

// Doubles `count` floats in place on `stream`, slowly (there and back twice
// more), so that a reduction started too early overlaps backward's writes.
class SlowDoubling {
 public:
  SlowDoubling() { EXPECT_EQ(cublasCreate(&handle_), CUBLAS_STATUS_SUCCESS); }
  ~SlowDoubling() { cublasDestroy(handle_); }
  void operator()(float* data, size_t count, cudaStream_t stream) {
    ASSERT_EQ(cublasSetStream(handle_, stream), CUBLAS_STATUS_SUCCESS);
    for (float factor : {2.0f, 0.5f, 2.0f, 0.5f, 2.0f}) {
      ASSERT_EQ(cublasSscal(handle_, static_cast<int>(count), &factor, data, 1),
                CUBLAS_STATUS_SUCCESS);
    }
  }

 private:
  cublasHandle_t handle_ = nullptr;
};

TEST(NcclGradientSync, EachBucketIsReducedAfterBackwardAndBeforeTheStep) {
  PONDER_REQUIRE_CUDA_DEVICE();
  for (CudaPrecision precision : {CudaPrecision::kFp32, CudaPrecision::kBf16}) {
    SCOPED_TRACE(cuda_test::name_of(precision));
    CudaBackend plain_gpu(precision), synced_gpu(precision);
    Model<float> plain(plain_gpu, cuda_test::small_model_config()),
        synced(synced_gpu, cuda_test::small_model_config());
    plain.init_weights(5, 0.05);
    synced.init_weights(5, 0.05);
    SlowDoubling doubling;
    // Small buckets: several per layer, so most start while backward runs.
    NcclGradientSync sync(std::ref(doubling), synced_gpu.device(), synced_gpu.stream(),
                          synced.grads(), synced.num_parameters(), 4096);
    const std::vector<float> expected =
        train(plain, nullptr, [&] { plain_gpu.scale(plain.grads(), plain.num_parameters(), 2.0); });
    EXPECT_EQ(train(synced, &sync), expected);
  }
}

TEST(NcclGradientSync, AStepWithoutBackwardReducesEveryBucket) {
  PONDER_REQUIRE_CUDA_DEVICE();
  std::string why;
  if (nccl_library(&why) == nullptr) GTEST_SKIP() << "NCCL could not be loaded: " << why;
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
