#include "policy/cpu/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

#include <omp.h>

#include <fmt/format.h>

#include "policy/cpu/blas.h"
#include "policy/cpu/cached_attention.h"
#include "policy/cpu/packed_matmul.h"
#include "policy/error.h"

namespace ponder {
namespace {

// Reductions use a fixed number of chunks, whatever the thread count, so that
// sum_of_squares gives the same bits on 1 or 16 threads.
constexpr size_t kReductionChunks = 64;
// Column block for reductions over rows into one parameter row (rmsnorm
// weight, embedding table): each thread owns whole columns.
constexpr int kColumnBlock = 64;

}  // namespace

template <typename T>
CpuBackend<T>::CpuBackend() {
  blas();  // load OpenBLAS now so that errors surface at construction
}

template <typename T>
std::string CpuBackend<T>::describe() const {
  return fmt::format("cpu ({}, {})", sizeof(T) == 4 ? "fp32" : "fp64", describe_math());
}

template <typename T>
T* CpuBackend<T>::alloc(size_t n) {
  const size_t bytes = std::max<size_t>(64, (n * sizeof(T) + 63) / 64 * 64);
  void* p = std::aligned_alloc(64, bytes);
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  return static_cast<T*>(p);
}

template <typename T>
TokenId* CpuBackend<T>::alloc_ids(size_t n) {
  const size_t bytes = std::max<size_t>(64, (n * sizeof(TokenId) + 63) / 64 * 64);
  void* p = std::aligned_alloc(64, bytes);
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  return static_cast<TokenId*>(p);
}

template <typename T>
void CpuBackend<T>::free(void* p) {
  std::free(p);
}

template <typename T>
void CpuBackend<T>::upload(T* dst, const T* host, size_t n) {
  std::memcpy(dst, host, n * sizeof(T));
}
template <typename T>
void CpuBackend<T>::download(T* host, const T* src, size_t n) {
  std::memcpy(host, src, n * sizeof(T));
}
template <typename T>
void CpuBackend<T>::upload_ids(TokenId* dst, const TokenId* host, size_t n) {
  std::memcpy(dst, host, n * sizeof(TokenId));
}
template <typename T>
void CpuBackend<T>::zero(T* p, size_t n) {
  std::memset(p, 0, n * sizeof(T));
}
template <typename T>
void CpuBackend<T>::copy(T* dst, const T* src, size_t n) {
  std::memcpy(dst, src, n * sizeof(T));
}

// ---- linear layers ----

template <typename T>
void CpuBackend<T>::matmul_forward(T* out, const T* inp, const T* weight, int n, int in,
                                   int out_dim) {
  if (n == 1) {  // one row (decoding a single sequence): gemv streams the weights faster
    blas().gemv(false, out_dim, in, T(1), weight, in, inp, T(0), out);
    return;
  }
  blas().gemm(false, true, n, out_dim, in, T(1), inp, in, weight, in, T(0), out, out_dim);
}

template <typename T>
void CpuBackend<T>::matmul_backward(T* dinp, T* dweight, const T* dout, const T* inp,
                                    const T* weight, int n, int in, int out_dim) {
  if (dinp != nullptr) {
    blas().gemm(false, false, n, in, out_dim, T(1), dout, out_dim, weight, in, T(1), dinp, in);
  }
  blas().gemm(true, false, out_dim, in, n, T(1), dout, out_dim, inp, in, T(1), dweight, in);
}

template <typename T>
size_t CpuBackend<T>::packed_weight_size(int in, int out_dim) {
  return packed_size(in, out_dim);
}

template <typename T>
void CpuBackend<T>::pack_weight(T* packed, const T* weight, int in, int out_dim) {
  const int panels = packed_panels(out_dim);
#pragma omp parallel for schedule(static)
  for (int p = 0; p < panels; ++p) pack_weight_panels(packed, weight, in, out_dim, p, p + 1);
}

template <typename T>
void CpuBackend<T>::matmul_packed(T* out, const T* inp, const T* packed, int n, int in,
                                  int out_dim) {
  // Threads split the output columns: each reads only its panels, and every
  // row's chain of products stays whole (packed_matmul.h).
  const int panels = packed_panels(out_dim);
#pragma omp parallel
  {
    const int threads = omp_get_num_threads(), t = omp_get_thread_num();
    const int first = panels * t / threads, last = panels * (t + 1) / threads;
    matmul_packed_panels(out, inp, packed, n, in, out_dim, first, last);
  }
}

template <typename T>
void CpuBackend<T>::run_tasks(int tasks, const std::function<void(int)>& task) {
#pragma omp parallel for schedule(static, 1)
  for (int t = 0; t < tasks; ++t) task(t);
}

template <typename T>
int CpuBackend<T>::task_slots() {
  return omp_get_max_threads();
}

template <typename T>
void CpuBackend<T>::embedding_forward(T* out, const TokenId* ids, const T* table, int n, int c) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; ++i) {
    std::memcpy(out + static_cast<size_t>(i) * c, table + static_cast<size_t>(ids[i]) * c,
                c * sizeof(T));
  }
}

template <typename T>
void CpuBackend<T>::embedding_backward(T* dtable, const TokenId* ids, const T* dout, int n, int c) {
#pragma omp parallel for schedule(static)
  for (int j0 = 0; j0 < c; j0 += kColumnBlock) {
    const int j1 = std::min(c, j0 + kColumnBlock);
    for (int i = 0; i < n; ++i) {
      T* row = dtable + static_cast<size_t>(ids[i]) * c;
      const T* g = dout + static_cast<size_t>(i) * c;
      for (int j = j0; j < j1; ++j) row[j] += g[j];
    }
  }
}

// ---- RMSNorm ----

template <typename T>
void CpuBackend<T>::rmsnorm_forward(T* out, T* rstd, const T* inp, const T* weight, int n, int c,
                                    double eps) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; ++i) {
    const T* x = inp + static_cast<size_t>(i) * c;
    double sum = 0;
    for (int j = 0; j < c; ++j) sum += static_cast<double>(x[j]) * x[j];
    const T r = static_cast<T>(1.0 / std::sqrt(sum / c + eps));
    rstd[i] = r;
    T* y = out + static_cast<size_t>(i) * c;
    for (int j = 0; j < c; ++j) y[j] = x[j] * r * weight[j];
  }
}

template <typename T>
void CpuBackend<T>::rmsnorm_backward(T* dinp, T* dweight, const T* dout, const T* inp,
                                     const T* weight, const T* rstd, int n, int c) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; ++i) {
    const T* x = inp + static_cast<size_t>(i) * c;
    const T* g = dout + static_cast<size_t>(i) * c;
    const T r = rstd[i];
    double dot = 0;  // Σ_j g_j w_j x̂_j
    for (int j = 0; j < c; ++j) dot += static_cast<double>(g[j]) * weight[j] * x[j] * r;
    const T mean = static_cast<T>(dot / c);
    T* dx = dinp + static_cast<size_t>(i) * c;
    for (int j = 0; j < c; ++j) dx[j] += r * (g[j] * weight[j] - x[j] * r * mean);
  }
#pragma omp parallel for schedule(static)
  for (int j0 = 0; j0 < c; j0 += kColumnBlock) {
    const int j1 = std::min(c, j0 + kColumnBlock);
    for (int i = 0; i < n; ++i) {
      const T* x = inp + static_cast<size_t>(i) * c;
      const T* g = dout + static_cast<size_t>(i) * c;
      for (int j = j0; j < j1; ++j) dweight[j] += g[j] * x[j] * rstd[i];
    }
  }
}

// ---- RoPE ----

template <typename T>
std::shared_ptr<const typename CpuBackend<T>::RopeTable> CpuBackend<T>::rope_table(
    int head_dim, double theta, int max_position) {
  std::lock_guard lock(rope_mutex_);
  std::shared_ptr<const RopeTable>& current = rope_tables_[{head_dim, theta}];
  if (current && current->positions > max_position) return current;
  auto table = current ? std::make_shared<RopeTable>(*current) : std::make_shared<RopeTable>();
  const int half = head_dim / 2;
  const int positions = std::max(max_position + 1, table->positions * 2);
  table->cos.resize(static_cast<size_t>(positions) * half);
  table->sin.resize(static_cast<size_t>(positions) * half);
  for (int p = table->positions; p < positions; ++p) {
    for (int j = 0; j < half; ++j) {
      // HF Llama: inv_freq_j = theta^(-2j/head_dim); angle = position · inv_freq_j.
      const double angle = p * std::pow(theta, -2.0 * j / head_dim);
      table->cos[static_cast<size_t>(p) * half + j] = static_cast<T>(std::cos(angle));
      table->sin[static_cast<size_t>(p) * half + j] = static_cast<T>(std::sin(angle));
    }
  }
  table->positions = positions;
  current = table;
  return current;
}

template <typename T>
void CpuBackend<T>::rope_rotate(T* x, const int* positions, int n, int heads, int head_dim,
                                double theta, T sign) {
  int max_position = 0;
  for (int i = 0; i < n; ++i) max_position = std::max(max_position, positions[i]);
  const std::shared_ptr<const RopeTable> table = rope_table(head_dim, theta, max_position);
  const int half = head_dim / 2;
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; ++i) {
    const T* cs = table->cos.data() + static_cast<size_t>(positions[i]) * half;
    const T* sn = table->sin.data() + static_cast<size_t>(positions[i]) * half;
    for (int h = 0; h < heads; ++h) {
      T* v = x + (static_cast<size_t>(i) * heads + h) * head_dim;
      for (int j = 0; j < half; ++j) {
        const T a = v[j], b = v[j + half], s = sign * sn[j];
        v[j] = a * cs[j] - b * s;
        v[j + half] = b * cs[j] + a * s;
      }
    }
  }
}

template <typename T>
void CpuBackend<T>::rope_forward(T* x, const int* positions, int n, int heads, int head_dim,
                                 double theta) {
  rope_rotate(x, positions, n, heads, head_dim, theta, T(1));
}

template <typename T>
void CpuBackend<T>::rope_backward(T* dx, const int* positions, int n, int heads, int head_dim,
                                  double theta) {
  // A rotation's transpose is the rotation by the opposite angle.
  rope_rotate(dx, positions, n, heads, head_dim, theta, T(-1));
}

// ---- attention ----

template <typename T>
void CpuBackend<T>::attention_forward(T* out, T* att, const T* q, const T* k, const T* v, int batch,
                                      int seq, int heads, int kv_heads, int head_dim) {
  const int group = heads / kv_heads;
  const int q_stride = heads * head_dim, kv_stride = kv_heads * head_dim;
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  const size_t tt = static_cast<size_t>(seq) * seq;
  for (int b = 0; b < batch; ++b) {
    for (int h = 0; h < heads; ++h) {
      const size_t q_off =
          static_cast<size_t>(b) * seq * q_stride + static_cast<size_t>(h) * head_dim;
      const size_t kv_off =
          static_cast<size_t>(b) * seq * kv_stride + static_cast<size_t>(h / group) * head_dim;
      blas().gemm(false, true, seq, seq, head_dim, scale, q + q_off, q_stride, k + kv_off,
                  kv_stride, T(0), att + (static_cast<size_t>(b) * heads + h) * tt, seq);
    }
  }
  const int rows = batch * heads * seq;
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    const int t = r % seq;
    T* a = att + static_cast<size_t>(r) * seq;
    T max = a[0];
    for (int s = 1; s <= t; ++s) max = std::max(max, a[s]);
    T sum = 0;
    for (int s = 0; s <= t; ++s) {
      a[s] = std::exp(a[s] - max);
      sum += a[s];
    }
    const T inv = T(1) / sum;
    for (int s = 0; s <= t; ++s) a[s] *= inv;
    for (int s = t + 1; s < seq; ++s) a[s] = 0;
  }
  for (int b = 0; b < batch; ++b) {
    for (int h = 0; h < heads; ++h) {
      const size_t q_off =
          static_cast<size_t>(b) * seq * q_stride + static_cast<size_t>(h) * head_dim;
      const size_t kv_off =
          static_cast<size_t>(b) * seq * kv_stride + static_cast<size_t>(h / group) * head_dim;
      blas().gemm(false, false, seq, head_dim, seq, T(1),
                  att + (static_cast<size_t>(b) * heads + h) * tt, seq, v + kv_off, kv_stride, T(0),
                  out + q_off, q_stride);
    }
  }
}

template <typename T>
void CpuBackend<T>::attention_backward(T* dq, T* dk, T* dv, T* scratch, const T* dout, const T* att,
                                       const T* q, const T* k, const T* v, int batch, int seq,
                                       int heads, int kv_heads, int head_dim) {
  const int group = heads / kv_heads;
  const int q_stride = heads * head_dim, kv_stride = kv_heads * head_dim;
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  const size_t tt = static_cast<size_t>(seq) * seq;
  auto offsets = [&](int b, int h) {
    return std::pair<size_t, size_t>{
        static_cast<size_t>(b) * seq * q_stride + static_cast<size_t>(h) * head_dim,
        static_cast<size_t>(b) * seq * kv_stride + static_cast<size_t>(h / group) * head_dim};
  };
  // dP = dO · Vᵀ
  for (int b = 0; b < batch; ++b) {
    for (int h = 0; h < heads; ++h) {
      const auto [q_off, kv_off] = offsets(b, h);
      blas().gemm(false, true, seq, seq, head_dim, T(1), dout + q_off, q_stride, v + kv_off,
                  kv_stride, T(0), scratch + (static_cast<size_t>(b) * heads + h) * tt, seq);
    }
  }
  // dS = P ⊙ (dP − rowsum(P ⊙ dP)) · scale, in place; zero above the diagonal.
  const int rows = batch * heads * seq;
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    const int t = r % seq;
    const T* p = att + static_cast<size_t>(r) * seq;
    T* d = scratch + static_cast<size_t>(r) * seq;
    T dot = 0;
    for (int s = 0; s <= t; ++s) dot += p[s] * d[s];
    for (int s = 0; s <= t; ++s) d[s] = p[s] * (d[s] - dot) * scale;
    for (int s = t + 1; s < seq; ++s) d[s] = 0;
  }
  // dQ += dS · K ; dK += dSᵀ · Q ; dV += Pᵀ · dO
  for (int b = 0; b < batch; ++b) {
    for (int h = 0; h < heads; ++h) {
      const auto [q_off, kv_off] = offsets(b, h);
      const T* ds = scratch + (static_cast<size_t>(b) * heads + h) * tt;
      const T* p = att + (static_cast<size_t>(b) * heads + h) * tt;
      blas().gemm(false, false, seq, head_dim, seq, T(1), ds, seq, k + kv_off, kv_stride, T(1),
                  dq + q_off, q_stride);
      blas().gemm(true, false, seq, head_dim, seq, T(1), ds, seq, q + q_off, q_stride, T(1),
                  dk + kv_off, kv_stride);
      blas().gemm(true, false, seq, head_dim, seq, T(1), p, seq, dout + q_off, q_stride, T(1),
                  dv + kv_off, kv_stride);
    }
  }
}

template <typename T>
void CpuBackend<T>::attention_cached(T* out, const T* q, const T* cache_k, const T* cache_v,
                                     const int* rows, const int* positions, int n, int max_pos,
                                     int heads, int kv_heads, int head_dim) {
  const size_t row_size = static_cast<size_t>(max_pos) * kv_heads * head_dim;
  const size_t width = static_cast<size_t>(heads) * head_dim;
#pragma omp parallel
  {
    std::vector<T> scratch(static_cast<size_t>(heads) * (max_pos + 1));
#pragma omp for schedule(static)
    for (int i = 0; i < n; ++i) {
      const size_t row = rows[i] * row_size;
      attend_cached(out + i * width, q + i * width, cache_k + row, cache_v + row, positions[i] + 1,
                    heads, kv_heads, head_dim, scratch.data());
    }
  }
}

template <typename T>
void CpuBackend<T>::cache_write(T* cache, const T* x, const int* rows, const int* positions, int n,
                                int max_pos, int width) {
  for (int i = 0; i < n; ++i) {
    std::memcpy(cache + (static_cast<size_t>(rows[i]) * max_pos + positions[i]) * width,
                x + static_cast<size_t>(i) * width, width * sizeof(T));
  }
}

// ---- elementwise ----

template <typename T>
void CpuBackend<T>::swiglu_forward(T* h, const T* g, const T* u, size_t n) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) {
    const T sig = T(1) / (T(1) + std::exp(-g[i]));
    h[i] = g[i] * sig * u[i];
  }
}

template <typename T>
void CpuBackend<T>::swiglu_backward(T* dg, T* du, const T* dh, const T* g, const T* u, size_t n) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) {
    const T sig = T(1) / (T(1) + std::exp(-g[i]));
    const T silu = g[i] * sig;
    dg[i] += dh[i] * u[i] * sig * (T(1) + g[i] * (T(1) - sig));
    du[i] += dh[i] * silu;
  }
}

template <typename T>
void CpuBackend<T>::add(T* out, const T* a, const T* b, size_t n) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

// ---- the objective ----

template <typename T>
void CpuBackend<T>::token_logprobs(T* logprobs, const T* logits, const TokenId* targets, int n,
                                   int vocab) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; ++i) {
    if (targets[i] < 0) {
      logprobs[i] = 0;
      continue;
    }
    const T* x = logits + static_cast<size_t>(i) * vocab;
    T max = x[0];
    for (int j = 1; j < vocab; ++j) max = std::max(max, x[j]);
    double sum = 0;
    for (int j = 0; j < vocab; ++j) sum += std::exp(x[j] - max);
    logprobs[i] = static_cast<T>(x[targets[i]] - max - std::log(sum));
  }
}

template <typename T>
void CpuBackend<T>::weighted_cross_entropy_backward(T* logits, const TokenId* targets,
                                                    const T* weights, int n, int vocab) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; ++i) {
    T* x = logits + static_cast<size_t>(i) * vocab;
    const T w = weights[i];
    if (targets[i] < 0 || w == T(0)) {
      std::fill(x, x + vocab, T(0));
      continue;
    }
    T max = x[0];
    for (int j = 1; j < vocab; ++j) max = std::max(max, x[j]);
    double sum = 0;
    for (int j = 0; j < vocab; ++j) {
      x[j] = std::exp(x[j] - max);
      sum += x[j];
    }
    const T scale = static_cast<T>(w / sum);
    for (int j = 0; j < vocab; ++j) x[j] *= scale;
    x[targets[i]] -= w;
  }
}

// ---- optimizer ----

template <typename T>
double CpuBackend<T>::sum_of_squares(const T* x, size_t n) {
  double partial[kReductionChunks] = {};
  const size_t chunk = (n + kReductionChunks - 1) / kReductionChunks;
#pragma omp parallel for schedule(static)
  for (size_t c = 0; c < kReductionChunks; ++c) {
    const size_t begin = c * chunk, end = std::min(n, begin + chunk);
    double sum = 0;
    for (size_t i = begin; i < end; ++i) sum += static_cast<double>(x[i]) * x[i];
    partial[c] = sum;
  }
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

template <typename T>
void CpuBackend<T>::scale(T* x, size_t n, double factor) {
  const T f = static_cast<T>(factor);
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) x[i] *= f;
}

template <typename T>
void CpuBackend<T>::adamw(T* params, const T* grads, T* m, T* v, size_t n, double lr, double beta1,
                          double beta2, double eps, double weight_decay, int64_t t) {
  const T b1 = static_cast<T>(beta1), b2 = static_cast<T>(beta2);
  const T correction1 = static_cast<T>(1.0 - std::pow(beta1, static_cast<double>(t)));
  const T correction2 = static_cast<T>(1.0 - std::pow(beta2, static_cast<double>(t)));
  const T step = static_cast<T>(lr), decay = static_cast<T>(1.0 - lr * weight_decay);
  const T epsilon = static_cast<T>(eps);
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) {
    const T g = grads[i];
    m[i] = b1 * m[i] + (T(1) - b1) * g;
    v[i] = b2 * v[i] + (T(1) - b2) * g * g;
    const T m_hat = m[i] / correction1;
    const T v_hat = v[i] / correction2;
    // Decoupled weight decay (PyTorch AdamW order): shrink, then the Adam step.
    params[i] = params[i] * decay - step * m_hat / (std::sqrt(v_hat) + epsilon);
  }
}

template class CpuBackend<float>;
template class CpuBackend<double>;

}  // namespace ponder
