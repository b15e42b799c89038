// CudaBackend's layers: embedding, RMSNorm, RoPE, SwiGLU, the residual add.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "policy/cuda/cuda_internal.cuh"

namespace ponder {
namespace {

using cuda::grid_for;
using cuda::kThreads;
using cuda::kWarp;

// Rows per chunk of the fixed-order column sums (RMSNorm weight gradient).
constexpr int kChunkRows = 64;

__global__ void embedding_forward_kernel(float* out, const TokenId* ids, const float* table, int n,
                                         int c) {
  PONDER_FOR_EACH(i, static_cast<size_t>(n) * c) {
    const size_t row = i / c, col = i % c;
    out[i] = table[static_cast<size_t>(ids[row]) * c + col];
  }
}

// Block b owns token id unique_ids[b]: it adds that id's rows
// of dout, listed in increasing order in order[starts[b] .. starts[b + 1]).
__global__ void embedding_backward_kernel(float* dtable, const int* unique_ids, const int* starts,
                                          const int* order, const float* dout, int c) {
  const int id = unique_ids[blockIdx.x], first = starts[blockIdx.x], last = starts[blockIdx.x + 1];
  for (int j = threadIdx.x; j < c; j += blockDim.x) {
    float sum = 0;
    for (int p = first; p < last; ++p) sum += dout[static_cast<size_t>(order[p]) * c + j];
    dtable[static_cast<size_t>(id) * c + j] += sum;
  }
}

// One block per row.
__global__ void rmsnorm_forward_kernel(float* out, float* rstd, const float* inp,
                                       const float* weight, int c, double eps) {
  __shared__ float shared[kWarp + 1];
  const size_t row = blockIdx.x;
  const float* x = inp + row * c;
  float sum = 0;
  for (int j = threadIdx.x; j < c; j += blockDim.x) sum += x[j] * x[j];
  sum = cuda::block_sum(sum, shared);
  const float r = static_cast<float>(1.0 / sqrt(static_cast<double>(sum) / c + eps));
  if (threadIdx.x == 0) rstd[row] = r;
  float* y = out + row * c;
  for (int j = threadIdx.x; j < c; j += blockDim.x) y[j] = x[j] * r * weight[j];
}

// dinp += r·(g·w − x·r·mean(g·w·x·r)), one block per row.
__global__ void rmsnorm_backward_input_kernel(float* dinp, const float* dout, const float* inp,
                                              const float* weight, const float* rstd, int c) {
  __shared__ float shared[kWarp + 1];
  const size_t row = blockIdx.x;
  const float *x = inp + row * c, *g = dout + row * c;
  const float r = rstd[row];
  float dot = 0;
  for (int j = threadIdx.x; j < c; j += blockDim.x) dot += g[j] * weight[j] * x[j] * r;
  const float mean = cuda::block_sum(dot, shared) / c;
  float* dx = dinp + row * c;
  for (int j = threadIdx.x; j < c; j += blockDim.x)
    dx[j] += r * (g[j] * weight[j] - x[j] * r * mean);
}

// partial[chunk, j] = Σ over the chunk's rows of g·x·rstd; grid (columns, chunks).
__global__ void rmsnorm_weight_partial_kernel(float* partial, const float* dout, const float* inp,
                                              const float* rstd, int n, int c) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= c) return;
  const int first = blockIdx.y * kChunkRows, last = min(n, first + kChunkRows);
  float sum = 0;
  for (int i = first; i < last; ++i) {
    const size_t at = static_cast<size_t>(i) * c + j;
    sum += dout[at] * inp[at] * rstd[i];
  }
  partial[static_cast<size_t>(blockIdx.y) * c + j] = sum;
}

// sums[j] += Σ_chunk partial[chunk, j], chunks in order.
__global__ void column_sum_kernel(float* sums, const float* partial, int chunks, int c) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= c) return;
  float sum = 0;
  for (int k = 0; k < chunks; ++k) sum += partial[static_cast<size_t>(k) * c + j];
  sums[j] += sum;
}

// One thread per (row, pair j): the angle position·theta^(-2j/head_dim) in
// double, as the CPU backend's table, then every head's pair (j, j + half).
__global__ void rope_kernel(float* x, const int* positions, int n, int heads, int head_dim,
                            double theta, float sign) {
  const int half = head_dim / 2;
  PONDER_FOR_EACH(i, static_cast<size_t>(n) * half) {
    const size_t row = i / half;
    const int j = static_cast<int>(i % half);
    const double angle = positions[row] * pow(theta, -2.0 * j / head_dim);
    const float cs = static_cast<float>(cos(angle)), sn = sign * static_cast<float>(sin(angle));
    for (int h = 0; h < heads; ++h) {
      float* v = x + (row * heads + h) * head_dim;
      const float a = v[j], b = v[j + half];
      v[j] = a * cs - b * sn;
      v[j + half] = b * cs + a * sn;
    }
  }
}

void launch_rope(float* x, const int* positions, int n, int heads, int head_dim, double theta,
                 float sign, cudaStream_t stream) {
  const size_t pairs = static_cast<size_t>(n) * (head_dim / 2);
  if (pairs == 0) return;
  rope_kernel<<<grid_for(pairs), kThreads, 0, stream>>>(x, positions, n, heads, head_dim, theta,
                                                        sign);
  PONDER_CUDA_LAUNCH_CHECK();
}

__global__ void swiglu_forward_kernel(float* h, const float* g, const float* u, size_t n) {
  PONDER_FOR_EACH(i, n) {
    const float sig = 1.0f / (1.0f + expf(-g[i]));
    h[i] = g[i] * sig * u[i];
  }
}

__global__ void swiglu_backward_kernel(float* dg, float* du, const float* dh, const float* g,
                                       const float* u, size_t n) {
  PONDER_FOR_EACH(i, n) {
    const float sig = 1.0f / (1.0f + expf(-g[i]));
    dg[i] += dh[i] * u[i] * sig * (1.0f + g[i] * (1.0f - sig));
    du[i] += dh[i] * g[i] * sig;
  }
}

__global__ void add_kernel(float* out, const float* a, const float* b, size_t n) {
  PONDER_FOR_EACH(i, n) out[i] = a[i] + b[i];
}

}  // namespace

void CudaBackend::embedding_forward(float* out, const TokenId* ids, const float* table, int n,
                                    int c) {
  const size_t count = static_cast<size_t>(n) * c;
  if (count == 0) return;
  embedding_forward_kernel<<<grid_for(count), kThreads, 0, device_->stream>>>(out, ids, table, n,
                                                                              c);
  PONDER_CUDA_LAUNCH_CHECK();
}

void CudaBackend::embedding_backward(float* dtable, const TokenId* ids, const float* dout, int n,
                                     int c) {
  if (n == 0) return;
  // Deterministic without atomics: the host groups the rows by token id
  // (n ids, a few KB), and one block adds each id's rows in order.
  std::vector<TokenId> host(n);
  PONDER_CUDA_CHECK(cudaMemcpyAsync(host.data(), ids, n * sizeof(TokenId), cudaMemcpyDeviceToHost,
                                    device_->stream));
  PONDER_CUDA_CHECK(cudaStreamSynchronize(device_->stream));
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return host[a] < host[b]; });
  std::vector<int> groups;  // unique ids, then starts (unique + 1), then order
  std::vector<int> starts;
  for (int p = 0; p < n; ++p) {
    if (p == 0 || host[order[p]] != host[order[p - 1]]) {
      groups.push_back(host[order[p]]);
      starts.push_back(p);
    }
  }
  starts.push_back(n);
  const int unique = static_cast<int>(groups.size());
  groups.insert(groups.end(), starts.begin(), starts.end());
  groups.insert(groups.end(), order.begin(), order.end());
  int* device_groups = static_cast<int*>(scratch(groups.size() * sizeof(int)));
  upload_ids(device_groups, groups.data(), groups.size());
  embedding_backward_kernel<<<unique, kThreads, 0, device_->stream>>>(
      dtable, device_groups, device_groups + unique, device_groups + 2 * unique + 1, dout, c);
  PONDER_CUDA_LAUNCH_CHECK();
}

void CudaBackend::rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight,
                                  int n, int c, double eps) {
  if (n == 0) return;
  rmsnorm_forward_kernel<<<n, kThreads, 0, device_->stream>>>(out, rstd, inp, weight, c, eps);
  PONDER_CUDA_LAUNCH_CHECK();
}

void CudaBackend::rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp,
                                   const float* weight, const float* rstd, int n, int c) {
  if (n == 0) return;
  rmsnorm_backward_input_kernel<<<n, kThreads, 0, device_->stream>>>(dinp, dout, inp, weight, rstd,
                                                                     c);
  PONDER_CUDA_LAUNCH_CHECK();
  const int chunks = (n + kChunkRows - 1) / kChunkRows;
  const unsigned column_blocks = (c + kThreads - 1) / kThreads;
  float* partial = static_cast<float*>(scratch(static_cast<size_t>(chunks) * c * sizeof(float)));
  rmsnorm_weight_partial_kernel<<<dim3(column_blocks, chunks), kThreads, 0, device_->stream>>>(
      partial, dout, inp, rstd, n, c);
  PONDER_CUDA_LAUNCH_CHECK();
  column_sum_kernel<<<column_blocks, kThreads, 0, device_->stream>>>(dweight, partial, chunks, c);
  PONDER_CUDA_LAUNCH_CHECK();
}

void CudaBackend::rope_forward(float* x, const int* positions, int n, int heads, int head_dim,
                               double theta) {
  launch_rope(x, positions, n, heads, head_dim, theta, 1.0f, device_->stream);
}

void CudaBackend::rope_backward(float* dx, const int* positions, int n, int heads, int head_dim,
                                double theta) {
  // A rotation's transpose is the rotation by the opposite angle.
  launch_rope(dx, positions, n, heads, head_dim, theta, -1.0f, device_->stream);
}

void CudaBackend::swiglu_forward(float* h, const float* g, const float* u, size_t n) {
  if (n == 0) return;
  swiglu_forward_kernel<<<grid_for(n), kThreads, 0, device_->stream>>>(h, g, u, n);
  PONDER_CUDA_LAUNCH_CHECK();
}

void CudaBackend::swiglu_backward(float* dg, float* du, const float* dh, const float* g,
                                  const float* u, size_t n) {
  if (n == 0) return;
  swiglu_backward_kernel<<<grid_for(n), kThreads, 0, device_->stream>>>(dg, du, dh, g, u, n);
  PONDER_CUDA_LAUNCH_CHECK();
}

void CudaBackend::add(float* out, const float* a, const float* b, size_t n) {
  if (n == 0) return;
  add_kernel<<<grid_for(n), kThreads, 0, device_->stream>>>(out, a, b, n);
  PONDER_CUDA_LAUNCH_CHECK();
}

}  // namespace ponder
