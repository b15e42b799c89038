// CudaBackend's objective (per-token log-probs, the fused weighted
// softmax/cross-entropy backward) and optimizer ops (sum of squares, scale,
// AdamW).
#include <cmath>
#include <vector>

#include "policy/cuda/cuda_internal.cuh"

namespace ponder {
namespace {

using cuda::kThreads;
using cuda::kWarp;

// sum_of_squares: a fixed number of blocks whatever the GPU, each summing a
// fixed grid-stride share in double; the host adds the blocks in order.
constexpr int kSumBlocks = 512;

// The row's max and Σ exp(x − max), in fixed-order block reductions.
__device__ void max_and_sum(const float* x, int vocab, float* shared, float& max, float& sum) {
  max = -INFINITY;
  for (int j = threadIdx.x; j < vocab; j += blockDim.x) max = fmaxf(max, x[j]);
  max = cuda::block_max(max, shared);
  sum = 0;
  for (int j = threadIdx.x; j < vocab; j += blockDim.x) sum += expf(x[j] - max);
  sum = cuda::block_sum(sum, shared);
}

// One block per row.
__global__ void token_logprobs_kernel(float* logprobs, const float* logits, const TokenId* targets,
                                      int vocab) {
  __shared__ float shared[kWarp + 1];
  const size_t row = blockIdx.x;
  const int target = targets[row];
  if (target < 0) {
    if (threadIdx.x == 0) logprobs[row] = 0;
    return;  // the whole block returns: no barrier is left waiting
  }
  const float* x = logits + row * vocab;
  float max, sum;
  max_and_sum(x, vocab, shared, max, sum);
  if (threadIdx.x == 0) logprobs[row] = x[target] - max - logf(sum);
}

// In place, one block per row: weight · (softmax − onehot(target)).
__global__ void weighted_cross_entropy_backward_kernel(float* logits, const TokenId* targets,
                                                       const float* weights, int vocab) {
  __shared__ float shared[kWarp + 1];
  const size_t row = blockIdx.x;
  const int target = targets[row];
  const float w = weights[row];
  float* x = logits + row * vocab;
  if (target < 0 || w == 0.0f) {
    for (int j = threadIdx.x; j < vocab; j += blockDim.x) x[j] = 0;
    return;
  }
  float max, sum;
  max_and_sum(x, vocab, shared, max, sum);
  const float scale = w / sum;
  for (int j = threadIdx.x; j < vocab; j += blockDim.x) {
    const float g = expf(x[j] - max) * scale;
    x[j] = j == target ? g - w : g;
  }
}

__global__ void sum_of_squares_kernel(double* partial, const float* x, size_t n) {
  __shared__ double shared[kWarp + 1];
  double sum = 0;
  PONDER_FOR_EACH(i, n) {
    sum += static_cast<double>(x[i]) * x[i];
  }
  sum = cuda::block_sum(sum, shared);
  if (threadIdx.x == 0) partial[blockIdx.x] = sum;
}

__global__ void scale_kernel(float* x, size_t n, float factor) {
  PONDER_FOR_EACH(i, n) {
    x[i] *= factor;
  }
}

struct AdamWStep {
  float beta1, beta2, correction1, correction2, lr, decay, eps;
};

// The CPU backend's arithmetic, in float, element by element.
__global__ void adamw_kernel(float* params, const float* grads, float* m, float* v, size_t n,
                             AdamWStep s) {
  PONDER_FOR_EACH(i, n) {
    const float g = grads[i];
    m[i] = s.beta1 * m[i] + (1.0f - s.beta1) * g;
    v[i] = s.beta2 * v[i] + (1.0f - s.beta2) * g * g;
    const float m_hat = m[i] / s.correction1;
    const float v_hat = v[i] / s.correction2;
    // Decoupled weight decay (PyTorch AdamW order): shrink, then the Adam step.
    params[i] = params[i] * s.decay - s.lr * m_hat / (sqrtf(v_hat) + s.eps);
  }
}

}  // namespace

void CudaBackend::token_logprobs(float* logprobs, const float* logits, const TokenId* targets,
                                 int n, int vocab) {
  if (n == 0) return;
  token_logprobs_kernel<<<n, kThreads, 0, device_->stream>>>(logprobs, logits, targets, vocab);
  PONDER_CUDA_LAUNCH_CHECK();
}

void CudaBackend::weighted_cross_entropy_backward(float* logits, const TokenId* targets,
                                                  const float* weights, int n, int vocab) {
  if (n == 0) return;
  weighted_cross_entropy_backward_kernel<<<n, kThreads, 0, device_->stream>>>(logits, targets,
                                                                              weights, vocab);
  PONDER_CUDA_LAUNCH_CHECK();
}

double CudaBackend::sum_of_squares(const float* x, size_t n) {
  if (n == 0) return 0;
  double* partial = static_cast<double*>(scratch(kSumBlocks * sizeof(double)));
  sum_of_squares_kernel<<<kSumBlocks, kThreads, 0, device_->stream>>>(partial, x, n);
  PONDER_CUDA_LAUNCH_CHECK();
  std::vector<double> host(kSumBlocks);
  PONDER_CUDA_CHECK(cudaMemcpyAsync(host.data(), partial, kSumBlocks * sizeof(double),
                                    cudaMemcpyDeviceToHost, device_->stream));
  PONDER_CUDA_CHECK(cudaStreamSynchronize(device_->stream));
  double total = 0;
  for (double p : host) total += p;
  return total;
}

void CudaBackend::scale(float* x, size_t n, double factor) {
  if (n == 0) return;
  scale_kernel<<<cuda::grid_for(n), kThreads, 0, device_->stream>>>(x, n,
                                                                    static_cast<float>(factor));
  PONDER_CUDA_LAUNCH_CHECK();
}

void CudaBackend::adamw(float* params, const float* grads, float* m, float* v, size_t n, double lr,
                        double beta1, double beta2, double eps, double weight_decay, int64_t t) {
  if (n == 0) return;
  const AdamWStep step{static_cast<float>(beta1),
                       static_cast<float>(beta2),
                       static_cast<float>(1.0 - std::pow(beta1, static_cast<double>(t))),
                       static_cast<float>(1.0 - std::pow(beta2, static_cast<double>(t))),
                       static_cast<float>(lr),
                       static_cast<float>(1.0 - lr * weight_decay),
                       static_cast<float>(eps)};
  adamw_kernel<<<cuda::grid_for(n), kThreads, 0, device_->stream>>>(params, grads, m, v, n, step);
  PONDER_CUDA_LAUNCH_CHECK();
}

}  // namespace ponder
