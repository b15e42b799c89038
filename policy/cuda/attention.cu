// CudaBackend's attention: training (cuBLAS strided-batched products per
// query head around a causal softmax kernel, as llm.c's non-cuDNN path) and
// decoding against the KV cache (one block per entry and head).
#include <cmath>

#include "policy/cuda/cuda_internal.cuh"

namespace ponder {
namespace {

using cuda::kThreads;
using cuda::kWarp;

constexpr int kRowsPerBlock = kThreads / kWarp;  // softmax rows, one per warp
constexpr int kCachedThreads = 128;              // attention_cached block

// A warp's row in bf16; each lane rereads the values it wrote itself.
__device__ inline void write_bf16(__nv_bfloat16* dst, const float* src, int n, int lane) {
  for (int s = lane; s < n; s += kWarp) dst[s] = __float2bfloat16(src[s]);
}

// Row r of att[B·H·T, T] is query position t = r % T: softmax over s ≤ t,
// zero above the diagonal. With `copy`, also writes the result there in bf16
// (the next product's operand), saving a pass over att.
__global__ void causal_softmax_kernel(float* att, __nv_bfloat16* copy, int rows, int seq) {
  const int row = blockIdx.x * kRowsPerBlock + threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  if (row >= rows) return;
  const int t = row % seq;
  float* a = att + static_cast<size_t>(row) * seq;
  float max = -INFINITY;
  for (int s = lane; s <= t; s += kWarp) max = fmaxf(max, a[s]);
  max = cuda::warp_max(max);
  float sum = 0;
  for (int s = lane; s <= t; s += kWarp) {
    const float e = expf(a[s] - max);
    a[s] = e;
    sum += e;
  }
  const float inv = 1.0f / cuda::warp_sum(sum);
  for (int s = lane; s <= t; s += kWarp) a[s] *= inv;
  for (int s = t + 1 + lane; s < seq; s += kWarp) a[s] = 0;
  if (copy != nullptr) write_bf16(copy + static_cast<size_t>(row) * seq, a, seq, lane);
}

// In place on d = dP: dS = P ⊙ (dP − Σ_s P·dP) · scale; zero above the
// diagonal. With `copy`, also writes dS there in bf16.
__global__ void causal_softmax_backward_kernel(float* d, __nv_bfloat16* copy, const float* att,
                                               int rows, int seq, float scale) {
  const int row = blockIdx.x * kRowsPerBlock + threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  if (row >= rows) return;
  const int t = row % seq;
  const float* p = att + static_cast<size_t>(row) * seq;
  float* g = d + static_cast<size_t>(row) * seq;
  float dot = 0;
  for (int s = lane; s <= t; s += kWarp) dot += p[s] * g[s];
  dot = cuda::warp_sum(dot);
  for (int s = lane; s <= t; s += kWarp) g[s] = p[s] * (g[s] - dot) * scale;
  for (int s = t + 1 + lane; s < seq; s += kWarp) g[s] = 0;
  if (copy != nullptr) write_bf16(copy + static_cast<size_t>(row) * seq, g, seq, lane);
}

// Block (i, h): entry i's query head h against its cache row's positions
// 0..positions[i]. Scores go to scores[i, h, :]; shared memory holds one
// partial output per warp, added in warp order. Every sum has a fixed order.
__global__ void attention_cached_kernel(float* out, const float* q, const float* cache_k,
                                        const float* cache_v, const int* rows, const int* positions,
                                        int max_pos, int heads, int kv_heads, int head_dim,
                                        float scale, float* scores_all) {
  extern __shared__ float partial[];  // [warps, head_dim]
  __shared__ float shared[kWarp + 1];
  const int i = blockIdx.x, h = blockIdx.y;
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, warps = blockDim.x / kWarp;
  const int width = kv_heads * head_dim, length = positions[i] + 1;
  const size_t base = static_cast<size_t>(rows[i]) * max_pos * width +
                      static_cast<size_t>(h / (heads / kv_heads)) * head_dim;
  const float *keys = cache_k + base, *values = cache_v + base;
  const float* qh = q + (static_cast<size_t>(i) * heads + h) * head_dim;
  float* scores = scores_all + (static_cast<size_t>(i) * heads + h) * max_pos;
  for (int s = warp; s < length; s += warps) {
    const float* key = keys + static_cast<size_t>(s) * width;
    float dot = 0;
    for (int d = lane; d < head_dim; d += kWarp) dot += qh[d] * key[d];
    dot = cuda::warp_sum(dot);
    if (lane == 0) scores[s] = dot * scale;
  }
  __syncthreads();
  float max = -INFINITY;
  for (int s = threadIdx.x; s < length; s += blockDim.x) max = fmaxf(max, scores[s]);
  max = cuda::block_max(max, shared);
  float sum = 0;
  for (int s = threadIdx.x; s < length; s += blockDim.x) {
    const float e = expf(scores[s] - max);
    scores[s] = e;
    sum += e;
  }
  sum = cuda::block_sum(sum, shared);  // its barriers also publish the scores
  for (int d = lane; d < head_dim; d += kWarp) {
    float acc = 0;
    for (int s = warp; s < length; s += warps) {
      acc += scores[s] * values[static_cast<size_t>(s) * width + d];
    }
    partial[warp * head_dim + d] = acc;
  }
  __syncthreads();
  float* o = out + (static_cast<size_t>(i) * heads + h) * head_dim;
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float total = 0;
    for (int w = 0; w < warps; ++w) total += partial[w * head_dim + d];
    o[d] = total / sum;
  }
}

__global__ void cache_write_kernel(float* cache, const float* x, const int* rows,
                                   const int* positions, int n, int max_pos, int width) {
  PONDER_FOR_EACH(e, static_cast<size_t>(n) * width) {
    const size_t i = e / width, j = e % width;
    cache[(static_cast<size_t>(rows[i]) * max_pos + positions[i]) * width + j] = x[e];
  }
}

// The sizes and strides of one attention call: q[B·T, H·D], k, v[B·T, KV·D],
// att[B, H, T, T]; each product is batched over the B sequences.
struct AttentionShape {
  AttentionShape(int batch, int seq, int heads, int kv_heads, int head_dim)
      : group(heads / kv_heads),
        q_stride(heads * head_dim),
        kv_stride(kv_heads * head_dim),
        tt(static_cast<size_t>(seq) * seq),
        q_size(static_cast<size_t>(batch) * seq * q_stride),
        kv_size(static_cast<size_t>(batch) * seq * kv_stride),
        att_size(static_cast<size_t>(batch) * heads * tt),
        q_batch(static_cast<long long>(seq) * q_stride),
        kv_batch(static_cast<long long>(seq) * kv_stride),
        att_batch(static_cast<long long>(heads) * tt),
        scale(static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)))) {}
  int group, q_stride, kv_stride;
  size_t tt, q_size, kv_size, att_size;
  long long q_batch, kv_batch, att_batch;  // strides from one sequence to the next
  float scale;                             // of the scores, 1/√D
};

// Element `index` of an operand that is bf16 or fp32.
const void* element(const void* base, size_t index, bool bf16) {
  return static_cast<const char*>(base) + index * (bf16 ? 2 : 4);
}

}  // namespace

void CudaBackend::attention_forward(float* out, float* att, const float* q, const float* k,
                                    const float* v, int batch, int seq, int heads, int kv_heads,
                                    int head_dim) {
  const AttentionShape a(batch, seq, heads, kv_heads, head_dim);
  const bool bf16 = precision_ == CudaPrecision::kBf16;
  // bf16 copies: q, k, v, then the probabilities.
  const size_t k_at = cuda::aligned_bytes(a.q_size * 2),
               v_at = k_at + cuda::aligned_bytes(a.kv_size * 2);
  const size_t att_at = v_at + cuda::aligned_bytes(a.kv_size * 2);
  char* slot =
      bf16 ? static_cast<char*>(scratch(att_at + cuda::aligned_bytes(a.att_size * 2))) : nullptr;
  const void* qa = operand(q, a.q_size, slot);
  const void* ka = operand(k, a.kv_size, slot + k_at);
  const void* va = operand(v, a.kv_size, slot + v_at);
  // S = scale · Q Kᵀ per head, batched over sequences.
  for (int h = 0; h < heads; ++h) {
    gemm(false, true, seq, seq, head_dim, a.scale, element(qa, size_t(h) * head_dim, bf16),
         a.q_stride, a.q_batch, element(ka, size_t(h / a.group) * head_dim, bf16), a.kv_stride,
         a.kv_batch, 0.0f, att + h * a.tt, seq, a.att_batch, batch, bf16);
  }
  const int rows = batch * heads * seq;
  causal_softmax_kernel<<<(rows + kRowsPerBlock - 1) / kRowsPerBlock, kThreads, 0,
                          device_->stream>>>(
      att, bf16 ? reinterpret_cast<__nv_bfloat16*>(slot + att_at) : nullptr, rows, seq);
  PONDER_CUDA_LAUNCH_CHECK();
  const void* pa = bf16 ? static_cast<const void*>(slot + att_at) : att;
  // O = P V per head.
  for (int h = 0; h < heads; ++h) {
    gemm(false, false, seq, head_dim, seq, 1.0f, element(pa, h * a.tt, bf16), seq, a.att_batch,
         element(va, size_t(h / a.group) * head_dim, bf16), a.kv_stride, a.kv_batch, 0.0f,
         out + h * head_dim, a.q_stride, a.q_batch, batch, bf16);
  }
}

void CudaBackend::attention_backward(float* dq, float* dk, float* dv, float* scratch_att,
                                     const float* dout, const float* att, const float* q,
                                     const float* k, const float* v, int batch, int seq, int heads,
                                     int kv_heads, int head_dim) {
  const AttentionShape a(batch, seq, heads, kv_heads, head_dim);
  const bool bf16 = precision_ == CudaPrecision::kBf16;
  // bf16 copies: dout, q, k, v, P, dS.
  const size_t q_at = cuda::aligned_bytes(a.q_size * 2),
               k_at = q_at + cuda::aligned_bytes(a.q_size * 2);
  const size_t v_at = k_at + cuda::aligned_bytes(a.kv_size * 2);
  const size_t p_at = v_at + cuda::aligned_bytes(a.kv_size * 2);
  const size_t ds_at = p_at + cuda::aligned_bytes(a.att_size * 2);
  char* slot =
      bf16 ? static_cast<char*>(scratch(ds_at + cuda::aligned_bytes(a.att_size * 2))) : nullptr;
  const void* ga = operand(dout, a.q_size, slot);
  const void* qa = operand(q, a.q_size, slot + q_at);
  const void* ka = operand(k, a.kv_size, slot + k_at);
  const void* va = operand(v, a.kv_size, slot + v_at);
  const void* pa = operand(att, a.att_size, slot + p_at);
  // dP = dO Vᵀ
  for (int h = 0; h < heads; ++h) {
    gemm(false, true, seq, seq, head_dim, 1.0f, element(ga, size_t(h) * head_dim, bf16), a.q_stride,
         a.q_batch, element(va, size_t(h / a.group) * head_dim, bf16), a.kv_stride, a.kv_batch,
         0.0f, scratch_att + h * a.tt, seq, a.att_batch, batch, bf16);
  }
  const int rows = batch * heads * seq;
  causal_softmax_backward_kernel<<<(rows + kRowsPerBlock - 1) / kRowsPerBlock, kThreads, 0,
                                   device_->stream>>>(
      scratch_att, bf16 ? reinterpret_cast<__nv_bfloat16*>(slot + ds_at) : nullptr, att, rows, seq,
      a.scale);
  PONDER_CUDA_LAUNCH_CHECK();
  const void* dsa = bf16 ? static_cast<const void*>(slot + ds_at) : scratch_att;
  // dQ += dS K ; dK += dSᵀ Q ; dV += Pᵀ dO. Heads of one group add into the
  // same dK, dV slice one after another, in head order.
  for (int h = 0; h < heads; ++h) {
    const size_t qh = size_t(h) * head_dim, kvh = size_t(h / a.group) * head_dim;
    gemm(false, false, seq, head_dim, seq, 1.0f, element(dsa, h * a.tt, bf16), seq, a.att_batch,
         element(ka, kvh, bf16), a.kv_stride, a.kv_batch, 1.0f, dq + qh, a.q_stride, a.q_batch,
         batch, bf16);
    gemm(true, false, seq, head_dim, seq, 1.0f, element(dsa, h * a.tt, bf16), seq, a.att_batch,
         element(qa, qh, bf16), a.q_stride, a.q_batch, 1.0f, dk + kvh, a.kv_stride, a.kv_batch,
         batch, bf16);
    gemm(true, false, seq, head_dim, seq, 1.0f, element(pa, h * a.tt, bf16), seq, a.att_batch,
         element(ga, qh, bf16), a.q_stride, a.q_batch, 1.0f, dv + kvh, a.kv_stride, a.kv_batch,
         batch, bf16);
  }
}

void CudaBackend::attention_cached(float* out, const float* q, const float* cache_k,
                                   const float* cache_v, const int* rows, const int* positions,
                                   int n, int max_pos, int heads, int kv_heads, int head_dim) {
  if (n == 0) return;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  float* scores =
      static_cast<float*>(scratch(static_cast<size_t>(n) * heads * max_pos * sizeof(float)));
  const size_t shared_bytes =
      static_cast<size_t>(kCachedThreads / kWarp) * head_dim * sizeof(float);
  attention_cached_kernel<<<dim3(n, heads), kCachedThreads, shared_bytes, device_->stream>>>(
      out, q, cache_k, cache_v, rows, positions, max_pos, heads, kv_heads, head_dim, scale, scores);
  PONDER_CUDA_LAUNCH_CHECK();
}

void CudaBackend::cache_write(float* cache, const float* x, const int* rows, const int* positions,
                              int n, int max_pos, int width) {
  const size_t count = static_cast<size_t>(n) * width;
  if (count == 0) return;
  cache_write_kernel<<<cuda::grid_for(count), kThreads, 0, device_->stream>>>(
      cache, x, rows, positions, n, max_pos, width);
  PONDER_CUDA_LAUNCH_CHECK();
}

}  // namespace ponder
