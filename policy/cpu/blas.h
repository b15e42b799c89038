// OpenBLAS, loaded at run time so that ponder picks the fast kernel itself.
//
// Debian's OpenBLAS chooses its kernel when the library is loaded. On CPUs it
// does not know (e.g. AMD Zen 4 in OpenBLAS 0.3.21) it falls back to the
// generic "Prescott" kernel, ~5x slower than its AVX-512 kernel. The choice
// is read from OPENBLAS_CORETYPE at load time, which is before main() when
// the library is linked normally. So ponder does not link OpenBLAS; on first
// use it sets OPENBLAS_CORETYPE from the CPU's features (unless the user set
// it) and then dlopen()s the library.
#pragma once

#include <string>

namespace ponder {

struct Blas {
  // C = alpha·op(A)·op(B) + beta·C, row-major, as cblas_?gemm.
  void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
            const float* b, int ldb, float beta, float* c, int ldc) const;
  void gemm(bool trans_a, bool trans_b, int m, int n, int k, double alpha, const double* a, int lda,
            const double* b, int ldb, double beta, double* c, int ldc) const;

  // y = alpha·op(A)·x + beta·y for row-major A[m, n] with row stride lda
  // (cblas_?gemv; op(A) = Aᵀ when trans, so y has n elements then).
  void gemv(bool trans, int m, int n, float alpha, const float* a, int lda, const float* x,
            float beta, float* y) const;
  void gemv(bool trans, int m, int n, double alpha, const double* a, int lda, const double* x,
            double beta, double* y) const;

  std::string kernel;  // OpenBLAS core name, e.g. "SkylakeX"
  std::string how_chosen;
  std::string library;  // which OpenBLAS build was loaded  // "chosen by ponder from CPU features",
                        // "set by OPENBLAS_CORETYPE", ...

  using Sgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int,
                         float, float*, int);
  using Dgemm = void (*)(int, int, int, int, int, int, double, const double*, int, const double*,
                         int, double, double*, int);
  using Sgemv = void (*)(int, int, int, int, float, const float*, int, const float*, int, float,
                         float*, int);
  using Dgemv = void (*)(int, int, int, int, double, const double*, int, const double*, int, double,
                         double*, int);
  Sgemm sgemm = nullptr;
  Dgemm dgemm = nullptr;
  Sgemv sgemv = nullptr;
  Dgemv dgemv = nullptr;
  void (*set_threads)(int) = nullptr;
};

// The loaded library (loaded on first call; thread-safe). Throws ponder::Error
// when OpenBLAS cannot be loaded.
const Blas& blas();

// Sets the threads used by BLAS and by ponder's OpenMP loops, and returns the
// number in use. 0 = OMP_NUM_THREADS when set, else every core.
int set_math_threads(int threads);
int math_threads();

// "OpenBLAS kernel SkylakeX (chosen by ponder from CPU features), 2 threads".
std::string describe_math();

// Call first thing in main(). OpenMP threads that finish a loop spin, waiting
// for the next; when other processes share the cores that spinning starves the
// thread everyone waits for, and a step slows down tenfold. libgomp reads
// OMP_WAIT_POLICY only when it loads, before main(), so when the user has not
// set it this sets it to "passive" and re-executes the program (once). Measured
// on an idle machine, passive costs nothing visible (bench/RESULTS.md).
void use_passive_openmp_wait(char** argv);

}  // namespace ponder
