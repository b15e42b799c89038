// What the C++ benchmarks share: wall time, and the limit they compare against
// — this machine's sgemm rate, measured in the same run on the same threads.
#pragma once

#include <algorithm>
#include <chrono>
#include <vector>

#include "policy/cpu/blas.h"

namespace ponder::bench {

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// GFLOP/s of a size³ sgemm through ponder's BLAS, best of 4.
inline double sgemm_gflops(int size = 2048) {
  std::vector<float> a(static_cast<size_t>(size) * size, 0.5f), b(a.size(), 0.25f), c(a.size());
  double best = 1e30;
  for (int rep = 0; rep < 4; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    blas().gemm(false, false, size, size, size, 1.0f, a.data(), size, b.data(), size, 0.0f,
                c.data(), size);
    best = std::min(best, seconds_since(t0));
  }
  return 2.0 * size * size * size / best / 1e9;
}

}  // namespace ponder::bench
