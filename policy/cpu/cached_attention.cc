#include "policy/cpu/cached_attention.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <type_traits>

namespace ponder {
namespace {

// Turns scores[h · length + s] into exp(score − the head's max), and writes
// each head's sum to scores[heads · length + h].
template <typename T>
void exponentiate(T* scores, int heads, int length) {
  T* sums = scores + static_cast<size_t>(heads) * length;
  for (int h = 0; h < heads; ++h) {
    T* row = scores + static_cast<size_t>(h) * length;
    const T max = *std::max_element(row, row + length);
    T sum = 0;
    for (int s = 0; s < length; ++s) {
      row[s] = std::exp(row[s] - max);
      sum += row[s];
    }
    sums[h] = sum;
  }
}

template <typename T>
void attend_portable(T* out, const T* q, const T* keys, const T* values, int length, int heads,
                     int kv_heads, int head_dim, T* scores) {
  const int group = heads / kv_heads, width = kv_heads * head_dim;
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  for (int s = 0; s < length; ++s) {
    const T* key = keys + static_cast<size_t>(s) * width;
    for (int h = 0; h < heads; ++h) {
      const T* qh = q + static_cast<size_t>(h) * head_dim;
      const T* kh = key + static_cast<size_t>(h / group) * head_dim;
      T dot = 0;
      for (int d = 0; d < head_dim; ++d) dot += qh[d] * kh[d];
      scores[static_cast<size_t>(h) * length + s] = scale * dot;
    }
  }
  exponentiate(scores, heads, length);
  const T* sums = scores + static_cast<size_t>(heads) * length;
  std::fill(out, out + static_cast<size_t>(heads) * head_dim, T(0));
  for (int s = 0; s < length; ++s) {
    const T* value = values + static_cast<size_t>(s) * width;
    for (int h = 0; h < heads; ++h) {
      const T p = scores[static_cast<size_t>(h) * length + s];
      const T* vh = value + static_cast<size_t>(h / group) * head_dim;
      T* oh = out + static_cast<size_t>(h) * head_dim;
      for (int d = 0; d < head_dim; ++d) oh[d] += p * vh[d];
    }
  }
  for (int h = 0; h < heads; ++h) {
    const T inv = T(1) / sums[h];
    for (int d = 0; d < head_dim; ++d) out[static_cast<size_t>(h) * head_dim + d] *= inv;
  }
}

#if defined(__x86_64__)
// The 16 lanes' sum, as a tree. (_mm512_reduce_add_ps trips a false
// uninitialised-variable warning in GCC 12's header.)
__attribute__((target("avx512f"))) float lane_sum(__m512 v) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  for (int width = 8; width > 0; width /= 2) {
    for (int i = 0; i < width; ++i) lanes[i] += lanes[i + width];
  }
  return lanes[0];
}

// The same steps, 16 lanes at a time along head_dim (a multiple of 16).
__attribute__((target("avx512f"))) void attend_avx512(float* out, const float* q, const float* keys,
                                                      const float* values, int length, int heads,
                                                      int kv_heads, int head_dim, float* scores) {
  const int group = heads / kv_heads, width = kv_heads * head_dim;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  for (int s = 0; s < length; ++s) {
    const float* key = keys + static_cast<size_t>(s) * width;
    for (int h = 0; h < heads; ++h) {
      const float* qh = q + static_cast<size_t>(h) * head_dim;
      const float* kh = key + static_cast<size_t>(h / group) * head_dim;
      __m512 dot = _mm512_setzero_ps();
      for (int d = 0; d < head_dim; d += 16) {
        dot = _mm512_fmadd_ps(_mm512_loadu_ps(qh + d), _mm512_loadu_ps(kh + d), dot);
      }
      scores[static_cast<size_t>(h) * length + s] = scale * lane_sum(dot);
    }
  }
  exponentiate(scores, heads, length);
  const float* sums = scores + static_cast<size_t>(heads) * length;
  std::fill(out, out + static_cast<size_t>(heads) * head_dim, 0.0f);
  for (int s = 0; s < length; ++s) {
    const float* value = values + static_cast<size_t>(s) * width;
    for (int h = 0; h < heads; ++h) {
      const __m512 p = _mm512_set1_ps(scores[static_cast<size_t>(h) * length + s]);
      const float* vh = value + static_cast<size_t>(h / group) * head_dim;
      float* oh = out + static_cast<size_t>(h) * head_dim;
      for (int d = 0; d < head_dim; d += 16) {
        _mm512_storeu_ps(oh + d,
                         _mm512_fmadd_ps(p, _mm512_loadu_ps(vh + d), _mm512_loadu_ps(oh + d)));
      }
    }
  }
  for (int h = 0; h < heads; ++h) {
    const __m512 inv = _mm512_set1_ps(1.0f / sums[h]);
    float* oh = out + static_cast<size_t>(h) * head_dim;
    for (int d = 0; d < head_dim; d += 16) {
      _mm512_storeu_ps(oh + d, _mm512_mul_ps(inv, _mm512_loadu_ps(oh + d)));
    }
  }
}

bool cpu_has_avx512() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return has;
}
#endif

}  // namespace

template <typename T>
void attend_cached(T* out, const T* q, const T* keys, const T* values, int length, int heads,
                   int kv_heads, int head_dim, T* scratch) {
#if defined(__x86_64__)
  if constexpr (std::is_same_v<T, float>) {
    if (head_dim % 16 == 0 && cpu_has_avx512()) {
      attend_avx512(out, q, keys, values, length, heads, kv_heads, head_dim, scratch);
      return;
    }
  }
#endif
  attend_portable(out, q, keys, values, length, heads, kv_heads, head_dim, scratch);
}

template void attend_cached(float*, const float*, const float*, const float*, int, int, int, int,
                            float*);
template void attend_cached(double*, const double*, const double*, const double*, int, int, int,
                            int, double*);

}  // namespace ponder
