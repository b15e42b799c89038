#include "policy/cpu/blas.h"

#include <dlfcn.h>
#include <omp.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include <fmt/format.h>

#include "policy/error.h"

namespace ponder {
namespace {

constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

// The OpenBLAS core for this CPU, or "" to leave OpenBLAS's own choice.
std::string core_for_this_cpu() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
    return "SkylakeX";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return "";
}

Blas load() {
  Blas b;
  if (const char* user = std::getenv("OPENBLAS_CORETYPE"); user != nullptr && *user != '\0') {
    b.how_chosen = "set by OPENBLAS_CORETYPE";
  } else if (const std::string core = core_for_this_cpu(); !core.empty()) {
    setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
    b.how_chosen = "chosen by ponder from CPU features";
  } else {
    b.how_chosen = "chosen by OpenBLAS";
  }
  // Debian's OpenMP build of OpenBLAS first: it runs on the same OpenMP threads
  // as ponder's own loops. The pthread build keeps its own threads spinning
  // after each call, which on a small machine halves the speed of whatever
  // runs next.
  void* lib = dlopen(PONDER_OPENBLAS_OPENMP, RTLD_NOW | RTLD_LOCAL);
  b.library = "OpenMP build";
  if (lib == nullptr) {
    lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    b.library = "system default build";
  }
  if (lib == nullptr) {
    throw Error(fmt::format("cannot load OpenBLAS (libopenblas.so.0): {}; install libopenblas0",
                            dlerror()));
  }
  b.sgemm = reinterpret_cast<Blas::Sgemm>(dlsym(lib, "cblas_sgemm"));
  b.dgemm = reinterpret_cast<Blas::Dgemm>(dlsym(lib, "cblas_dgemm"));
  b.sgemv = reinterpret_cast<Blas::Sgemv>(dlsym(lib, "cblas_sgemv"));
  b.dgemv = reinterpret_cast<Blas::Dgemv>(dlsym(lib, "cblas_dgemv"));
  b.set_threads = reinterpret_cast<void (*)(int)>(dlsym(lib, "openblas_set_num_threads"));
  auto corename = reinterpret_cast<char* (*)()>(dlsym(lib, "openblas_get_corename"));
  if (!b.sgemm || !b.dgemm || !b.sgemv || !b.dgemv || !b.set_threads || !corename) {
    throw Error("libopenblas.so.0 lacks cblas_?gemm/cblas_?gemv/openblas_set_num_threads");
  }
  b.kernel = corename();
  return b;
}

int g_threads = 0;

// OMP_NUM_THREADS when the user set it (e.g. several processes sharing a
// machine), else every core.
int default_threads() {
  if (const char* env = std::getenv("OMP_NUM_THREADS"); env != nullptr && std::atoi(env) > 0) {
    return std::atoi(env);
  }
  return static_cast<int>(std::thread::hardware_concurrency());
}

}  // namespace

const Blas& blas() {
  static const Blas instance = [] {
    Blas b = load();
    const int threads =
        g_threads > 0 ? g_threads : static_cast<int>(std::thread::hardware_concurrency());
    b.set_threads(threads);
    omp_set_num_threads(threads);
    g_threads = threads;
    return b;
  }();
  return instance;
}

int set_math_threads(int threads) {
  if (threads <= 0) threads = default_threads();
  g_threads = threads;
  blas().set_threads(threads);
  omp_set_num_threads(threads);
  return threads;
}

int math_threads() {
  blas();
  return g_threads;
}

void use_passive_openmp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  setenv("OMP_WAIT_POLICY", "passive", 1);
  execv("/proc/self/exe", argv);
  // exec failed (no /proc): carry on with libgomp's default policy.
}

std::string describe_math() {
  const Blas& b = blas();
  return fmt::format("OpenBLAS ({}) kernel {} ({}), {} threads", b.library, b.kernel, b.how_chosen,
                     g_threads);
}

void Blas::gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
                int lda, const float* b, int ldb, float beta, float* c, int ldc) const {
  sgemm(kRowMajor, trans_a ? kTrans : kNoTrans, trans_b ? kTrans : kNoTrans, m, n, k, alpha, a, lda,
        b, ldb, beta, c, ldc);
}

void Blas::gemm(bool trans_a, bool trans_b, int m, int n, int k, double alpha, const double* a,
                int lda, const double* b, int ldb, double beta, double* c, int ldc) const {
  dgemm(kRowMajor, trans_a ? kTrans : kNoTrans, trans_b ? kTrans : kNoTrans, m, n, k, alpha, a, lda,
        b, ldb, beta, c, ldc);
}

void Blas::gemv(bool trans, int m, int n, float alpha, const float* a, int lda, const float* x,
                float beta, float* y) const {
  sgemv(kRowMajor, trans ? kTrans : kNoTrans, m, n, alpha, a, lda, x, 1, beta, y, 1);
}

void Blas::gemv(bool trans, int m, int n, double alpha, const double* a, int lda, const double* x,
                double beta, double* y) const {
  dgemv(kRowMajor, trans ? kTrans : kNoTrans, m, n, alpha, a, lda, x, 1, beta, y, 1);
}

}  // namespace ponder
