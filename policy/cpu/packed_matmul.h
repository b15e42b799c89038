// Decoding's matmuls, against weights packed once per parameter version.
//
// Decoding multiplies a few dozen activation rows by the same weight matrices,
// step after step. A general sgemm re-lays the weights out on every call
// (OpenBLAS has no packed-weight API), which cost a seventh of a decode step.
// Here a weight W[out, in] is packed once into panels of kPackedPanel output
// columns, each stored k-major (panel p holds W[p·kPackedPanel + j, k] at
// [k·kPackedPanel + j], zero past `out`), so the micro-kernel streams it.
//
// Contract (every kernel: AVX-512, AVX2+FMA, portable):
//   out[i, j] = fma(inp[i, in−1], W[j, in−1], … fma(inp[i, 0], W[j, 0], 0) …)
// one fused multiply-add chain in the order k = 0, 1, …, in−1. So a row's
// result does not depend on the rows beside it, on how many there are, on
// which thread computes which columns, or on which kernel the CPU gets.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace ponder {

// Output columns per packed panel.
inline constexpr int kPackedPanel = 32;

inline int packed_panels(int out_dim) {
  return (out_dim + kPackedPanel - 1) / kPackedPanel;
}

// Values a packed copy of a [out_dim, in] weight holds.
inline size_t packed_size(int in, int out_dim) {
  return static_cast<size_t>(packed_panels(out_dim)) * kPackedPanel * in;
}

// Packs panels [first_panel, last_panel) of weight[out_dim, in] into `packed`
// (packed_size(in, out_dim) values, laid out as above).
template <typename T>
void pack_weight_panels(T* packed, const T* weight, int in, int out_dim, int first_panel,
                        int last_panel);

// out[n, out_dim] (row stride out_dim) = inp[n, in] · Wᵀ for the output
// columns of panels [first_panel, last_panel), on the calling thread.
template <typename T>
void matmul_packed_panels(T* out, const T* inp, const T* packed, int n, int in, int out_dim,
                          int first_panel, int last_panel);

// The micro-kernel this CPU runs for float, e.g. "AVX-512".
const char* packed_kernel_name();

// Every float micro-kernel this CPU can run, the one used first (e.g.
// "AVX-512", "AVX2", "portable"), and matmul_packed_panels with the one named:
// tests check that they give the same bits. Throws std::invalid_argument for a
// name not in the list.
std::vector<std::string> packed_kernels();
void matmul_packed_panels_using(const std::string& kernel, float* out, const float* inp,
                                const float* packed, int n, int in, int out_dim, int first_panel,
                                int last_panel);

}  // namespace ponder
