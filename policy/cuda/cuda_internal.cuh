// What the CUDA backend's .cu files share: the device state behind
// CudaBackend, launch sizes, and fixed-order reductions. Not an interface.
#pragma once

#include <cuda_bf16.h>

#include <algorithm>
#include <cstddef>

#include "policy/cuda/cuda_backend.h"
#include "policy/cuda/cuda_check.h"

// Grid-stride loop: `i` takes every index below n once, over all threads.
#define PONDER_FOR_EACH(i, n)                                             \
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < (n); \
       i += size_t{gridDim.x} * blockDim.x)

namespace ponder {

struct CudaBackend::Device {
  int ordinal = 0;
  cudaDeviceProp properties{};
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  void* cublas_workspace = nullptr;
  void* scratch = nullptr;
  size_t scratch_bytes = 0;
};

namespace cuda {

constexpr int kThreads = 256;  // block size of element-wise and per-row kernels
constexpr int kWarp = 32;

// Blocks for a grid-stride loop over n elements: enough to fill any GPU, and
// the result never depends on the count (each element is computed alone).
inline unsigned grid_for(size_t n) {
  const size_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(std::clamp<size_t>(blocks, 1, 65536));
}

// Bytes rounded up to 256, so that views carved one after another from one
// scratch block stay aligned for vector loads.
inline size_t aligned_bytes(size_t bytes) {
  return (bytes + 255) / 256 * 256;
}

// Sum over a warp as a butterfly: every lane ends with the same bits, since
// each step adds the same two values in either order.
template <typename V>
__device__ inline V warp_sum(V v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

template <typename V>
__device__ inline V warp_max(V v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    v = max(v, __shfl_xor_sync(0xffffffffu, v, offset));
  }
  return v;
}

// Block-wide reductions in a fixed tree (warps, then warp 0 over the warps'
// results); every thread gets the result. All threads must call them.
// `shared` holds kWarp + 1 values.
template <typename V, typename Op>
__device__ inline V block_reduce(V v, V* shared, V identity, Op warp_op) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int warps = (blockDim.x + kWarp - 1) / kWarp;
  v = warp_op(v);
  __syncthreads();  // an earlier call's readers of shared[kWarp] are done
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = warp_op(lane < warps ? shared[lane] : identity);
    if (lane == 0) shared[kWarp] = v;
  }
  __syncthreads();
  return shared[kWarp];
}

template <typename V>
__device__ inline V block_sum(V v, V* shared) {
  return block_reduce(v, shared, V(0), [](V x) { return warp_sum(x); });
}

__device__ inline float block_max(float v, float* shared) {
  return block_reduce(v, shared, -INFINITY, [](float x) { return warp_max(x); });
}

// dst[i] = bf16(src[i]) on `stream`.
void to_bf16(__nv_bfloat16* dst, const float* src, size_t n, cudaStream_t stream);

}  // namespace cuda
}  // namespace ponder
