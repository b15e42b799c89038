// Decoding's packed matmul (policy/cpu/packed_matmul.h, through CpuBackend):
// it agrees with a float64 reference on shapes that are not multiples of the
// panel or of the row tile; each element is exactly the documented chain of
// fused multiply-adds; so a row's bits do not depend on the rows beside it or
// on the thread count.
#include "policy/cpu/packed_matmul.h"

#include <cfloat>
#include <cmath>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "policy/cpu/blas.h"
#include "policy/cpu/cpu_backend.h"

namespace ponder {
namespace {

// Sets the math threads for one test; back to the default after.
class MathThreads {
 public:
  explicit MathThreads(int threads) { set_math_threads(threads); }
  ~MathThreads() { set_math_threads(0); }
};

template <typename T>
std::vector<T> random_values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(normal(rng));
  return v;
}

// out = x · wᵀ through pack_weight and matmul_packed.
template <typename T>
std::vector<T> packed_product(CpuBackend<T>& be, const T* x, const std::vector<T>& w, int n, int in,
                              int out_dim) {
  std::vector<T> packed(be.packed_weight_size(in, out_dim));
  be.pack_weight(packed.data(), w.data(), in, out_dim);
  std::vector<T> y(static_cast<size_t>(n) * out_dim);
  be.matmul_packed(y.data(), x, packed.data(), n, in, out_dim);
  return y;
}

struct Shape {
  int n, in, out;
};

// Odd K and N (not multiples of the 32-column panel), and row counts below,
// at and above the row tile.
const Shape kShapes[] = {{1, 1, 1},    {1, 45, 33},   {3, 7, 31},   {3, 130, 70},
                         {64, 45, 33}, {64, 384, 97}, {13, 64, 64}, {64, 1, 5}};

TEST(PackedMatmul, AgreesWithAFloat64Reference) {
  CpuBackend<float> be;
  for (const Shape& s : kShapes) {
    const auto x = random_values<float>(static_cast<size_t>(s.n) * s.in, 1);
    const auto w = random_values<float>(static_cast<size_t>(s.out) * s.in, 2);
    const auto y = packed_product(be, x.data(), w, s.n, s.in, s.out);
    for (int i = 0; i < s.n; ++i) {
      for (int j = 0; j < s.out; ++j) {
        double exact = 0, magnitude = 0;
        for (int k = 0; k < s.in; ++k) {
          const double term = static_cast<double>(x[i * s.in + k]) * w[j * s.in + k];
          exact += term;
          magnitude += std::abs(term);
        }
        // A chain of `in` roundings, each within FLT_EPSILON/2 of its partial sum.
        EXPECT_NEAR(y[i * s.out + j], exact, s.in * FLT_EPSILON * magnitude + 1e-30)
            << s.n << "x" << s.in << " -> " << s.out << " at (" << i << ", " << j << ")";
      }
    }
  }
}

// The contract itself: out[i, j] = fma(x[i, K−1], w[j, K−1], … fma(x[i, 0], w[j, 0], 0)).
template <typename T>
void expect_fma_chains(const std::function<std::vector<T>(const T* x, const std::vector<T>& w,
                                                          const Shape& s)>& product,
                       const std::string& what) {
  for (const Shape& s : kShapes) {
    const auto x = random_values<T>(static_cast<size_t>(s.n) * s.in, 3);
    const auto w = random_values<T>(static_cast<size_t>(s.out) * s.in, 4);
    const auto y = product(x.data(), w, s);
    for (int i = 0; i < s.n; ++i) {
      for (int j = 0; j < s.out; ++j) {
        T chain = 0;
        for (int k = 0; k < s.in; ++k) chain = std::fma(x[i * s.in + k], w[j * s.in + k], chain);
        ASSERT_EQ(y[i * s.out + j], chain) << what << ", " << s.n << "x" << s.in << " -> " << s.out
                                           << " at (" << i << ", " << j << ")";
      }
    }
  }
}

TEST(PackedMatmul, EveryKernelComputesTheSameFusedMultiplyAddChains) {
  RecordProperty("kernel", packed_kernel_name());
  CpuBackend<float> be;
  for (const std::string& kernel : packed_kernels()) {
    expect_fma_chains<float>(
        [&](const float* x, const std::vector<float>& w, const Shape& s) {
          std::vector<float> packed(be.packed_weight_size(s.in, s.out));
          be.pack_weight(packed.data(), w.data(), s.in, s.out);
          std::vector<float> y(static_cast<size_t>(s.n) * s.out);
          matmul_packed_panels_using(kernel, y.data(), x, packed.data(), s.n, s.in, s.out, 0,
                                     packed_panels(s.out));
          return y;
        },
        kernel);
  }
  CpuBackend<double> be64;
  expect_fma_chains<double>(
      [&](const double* x, const std::vector<double>& w, const Shape& s) {
        return packed_product(be64, x, w, s.n, s.in, s.out);
      },
      "double");
  EXPECT_THROW(matmul_packed_panels_using("none", nullptr, nullptr, nullptr, 1, 1, 1, 0, 1),
               std::invalid_argument);
}

TEST(PackedMatmul, ARowGetsTheSameBitsAloneOrInABatchOnAnyThreadCount) {
  CpuBackend<float> be;
  const int n = 64, in = 200, out = 150;
  const auto x = random_values<float>(static_cast<size_t>(n) * in, 5);
  const auto w = random_values<float>(static_cast<size_t>(out) * in, 6);
  std::vector<float> batch;
  {
    const MathThreads two(2);
    batch = packed_product(be, x.data(), w, n, in, out);
  }
  for (int rows : {1, 3, 13}) {
    for (int first = 0; first + rows <= n; first += rows) {
      const auto part = packed_product(be, x.data() + first * in, w, rows, in, out);
      ASSERT_EQ(part, std::vector<float>(batch.begin() + first * out,
                                         batch.begin() + (first + rows) * out))
          << rows << " rows from row " << first;
    }
  }
}

}  // namespace
}  // namespace ponder
