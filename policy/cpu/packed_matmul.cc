#include "policy/cpu/packed_matmul.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace ponder {
namespace {

// A tile: rows × one panel, out[r, j] for r < rows, j < cols. The function
// pointer type the kernels share.
template <typename T>
using TileFn = void (*)(const T* inp, size_t inp_stride, const T* panel, int in, T* out,
                        size_t out_stride, int cols);

#if defined(__x86_64__)
// Each ISA keeps as many rows' accumulators in registers as it can beside the
// panel's vectors; the panel is loaded once per k and reused by every row.

// 16 floats per zmm: a row's 32 columns take 2 accumulators; 12 rows take 24
// of the 32 registers, the panel 2, and the broadcast row value folds into
// the FMA.
struct Avx512 {
  static constexpr int kRows = 12;
  template <int kTileRows>
  __attribute__((target("avx512f"))) static void tile(const float* inp, size_t inp_stride,
                                                      const float* panel, int in, float* out,
                                                      size_t out_stride, int cols) {
    __m512 acc[kTileRows][2];
#pragma GCC unroll 16
    for (int r = 0; r < kTileRows; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int k = 0; k < in; ++k) {
      const __m512 b0 = _mm512_loadu_ps(panel + static_cast<size_t>(k) * kPackedPanel);
      const __m512 b1 = _mm512_loadu_ps(panel + static_cast<size_t>(k) * kPackedPanel + 16);
#pragma GCC unroll 16
      for (int r = 0; r < kTileRows; ++r) {
        const __m512 a = _mm512_set1_ps(inp[r * inp_stride + k]);
        acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
      }
    }
    const __mmask16 low = cols >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << cols) - 1);
    const __mmask16 high = cols >= 32   ? 0xFFFF
                           : cols <= 16 ? 0
                                        : static_cast<__mmask16>((1u << (cols - 16)) - 1);
#pragma GCC unroll 16
    for (int r = 0; r < kTileRows; ++r) {
      _mm512_mask_storeu_ps(out + r * out_stride, low, acc[r][0]);
      _mm512_mask_storeu_ps(out + r * out_stride + 16, high, acc[r][1]);
    }
  }
};

// 8 floats per ymm: 4 accumulators per row; 3 rows take 12 of the 16
// registers, their broadcast values 3, the panel vector in use 1.
struct Avx2 {
  static constexpr int kRows = 3;
  template <int kTileRows>
  __attribute__((target("avx2,fma"))) static void tile(const float* inp, size_t inp_stride,
                                                       const float* panel, int in, float* out,
                                                       size_t out_stride, int cols) {
    __m256 acc[kTileRows][4];
#pragma GCC unroll 4
    for (int r = 0; r < kTileRows; ++r) {
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) acc[r][c] = _mm256_setzero_ps();
    }
    for (int k = 0; k < in; ++k) {
      __m256 a[kTileRows];
#pragma GCC unroll 4
      for (int r = 0; r < kTileRows; ++r) a[r] = _mm256_broadcast_ss(inp + r * inp_stride + k);
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) {
        const __m256 b = _mm256_loadu_ps(panel + static_cast<size_t>(k) * kPackedPanel + 8 * c);
#pragma GCC unroll 4
        for (int r = 0; r < kTileRows; ++r) acc[r][c] = _mm256_fmadd_ps(a[r], b, acc[r][c]);
      }
    }
    for (int r = 0; r < kTileRows; ++r) {
      alignas(32) float row[kPackedPanel];
      for (int c = 0; c < 4; ++c) _mm256_store_ps(row + 8 * c, acc[r][c]);
      std::copy(row, row + cols, out + r * out_stride);
    }
  }
};

#endif

// Any CPU (and double, for the tests' finite-difference models): the same
// chain through std::fma, which rounds once like the hardware instruction.
template <typename T>
struct Portable {
  static constexpr int kRows = 4;
  template <int kTileRows>
  static void tile(const T* inp, size_t inp_stride, const T* panel, int in, T* out,
                   size_t out_stride, int cols) {
    T acc[kTileRows][kPackedPanel] = {};
    for (int k = 0; k < in; ++k) {
      const T* b = panel + static_cast<size_t>(k) * kPackedPanel;
      for (int r = 0; r < kTileRows; ++r) {
        const T a = inp[r * inp_stride + k];
        for (int j = 0; j < kPackedPanel; ++j) acc[r][j] = std::fma(a, b[j], acc[r][j]);
      }
    }
    for (int r = 0; r < kTileRows; ++r) std::copy(acc[r], acc[r] + cols, out + r * out_stride);
  }
};

// tiles[r − 1] handles r rows, for r = 1 … Isa::kRows.
template <typename T, typename Isa, size_t... R>
constexpr std::array<TileFn<T>, sizeof...(R)> tile_table(std::index_sequence<R...>) {
  return {&Isa::template tile<static_cast<int>(R) + 1>...};
}

template <typename T>
struct Kernel {
  const char* name;
  int rows;
  const TileFn<T>* tiles;
};

template <typename T, typename Isa>
Kernel<T> kernel_of(const char* name) {
  static constexpr auto tiles = tile_table<T, Isa>(std::make_index_sequence<Isa::kRows>());
  return {name, Isa::kRows, tiles.data()};
}

// The float kernels this CPU can run, fastest first.
const std::vector<Kernel<float>>& float_kernels() {
  static const std::vector<Kernel<float>> kernels = [] {
    std::vector<Kernel<float>> usable;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) usable.push_back(kernel_of<float, Avx512>("AVX-512"));
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
      usable.push_back(kernel_of<float, Avx2>("AVX2"));
    }
#endif
    usable.push_back(kernel_of<float, Portable<float>>("portable"));
    return usable;
  }();
  return kernels;
}

template <typename T>
const Kernel<T>& kernel_for() {
  if constexpr (std::is_same_v<T, float>) {
    return float_kernels().front();
  } else {
    static const Kernel<T> kernel = kernel_of<T, Portable<T>>("portable");
    return kernel;
  }
}

template <typename T>
void run_panels(const Kernel<T>& kernel, T* out, const T* inp, const T* packed, int n, int in,
                int out_dim, int first_panel, int last_panel) {
  // Panel by panel: a panel is read from memory once and stays in cache while
  // every row tile passes over it; the rows (n × in) stay in L2.
  for (int p = first_panel; p < last_panel; ++p) {
    const T* panel = packed + static_cast<size_t>(p) * in * kPackedPanel;
    const int col = p * kPackedPanel, cols = std::min(kPackedPanel, out_dim - col);
    for (int r = 0; r < n; r += kernel.rows) {
      const int rows = std::min(kernel.rows, n - r);
      kernel.tiles[rows - 1](inp + static_cast<size_t>(r) * in, in, panel, in,
                             out + static_cast<size_t>(r) * out_dim + col, out_dim, cols);
    }
  }
}

}  // namespace

template <typename T>
void pack_weight_panels(T* packed, const T* weight, int in, int out_dim, int first_panel,
                        int last_panel) {
  for (int p = first_panel; p < last_panel; ++p) {
    T* dst = packed + static_cast<size_t>(p) * in * kPackedPanel;
    for (int j = 0; j < kPackedPanel; ++j) {
      const int row = p * kPackedPanel + j;
      const T* src = weight + static_cast<size_t>(row) * in;
      for (int k = 0; k < in; ++k) {
        dst[static_cast<size_t>(k) * kPackedPanel + j] = row < out_dim ? src[k] : T(0);
      }
    }
  }
}

template <typename T>
void matmul_packed_panels(T* out, const T* inp, const T* packed, int n, int in, int out_dim,
                          int first_panel, int last_panel) {
  run_panels(kernel_for<T>(), out, inp, packed, n, in, out_dim, first_panel, last_panel);
}

std::vector<std::string> packed_kernels() {
  std::vector<std::string> names;
  for (const auto& kernel : float_kernels()) names.push_back(kernel.name);
  return names;
}

void matmul_packed_panels_using(const std::string& kernel, float* out, const float* inp,
                                const float* packed, int n, int in, int out_dim, int first_panel,
                                int last_panel) {
  for (const auto& k : float_kernels()) {
    if (k.name == kernel) {
      run_panels(k, out, inp, packed, n, in, out_dim, first_panel, last_panel);
      return;
    }
  }
  throw std::invalid_argument("no packed matmul kernel " + kernel + " on this CPU");
}

const char* packed_kernel_name() {
  return float_kernels().front().name;
}

template void pack_weight_panels(float*, const float*, int, int, int, int);
template void pack_weight_panels(double*, const double*, int, int, int, int);
template void matmul_packed_panels(float*, const float*, const float*, int, int, int, int, int);
template void matmul_packed_panels(double*, const double*, const double*, int, int, int, int, int);

}  // namespace ponder
