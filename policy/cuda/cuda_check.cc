#include "policy/cuda/cuda_check.h"

#include <fmt/format.h>

#include "policy/error.h"

namespace ponder {

void throw_cuda_error(cudaError_t error, const char* call, const char* file, int line) {
  // Clear CUDA's last error, so that the next launch check does not report
  // this one again (errors that break the context stay anyway).
  cudaGetLastError();
  throw Error(fmt::format("CUDA error at {}:{}: {}: {} ({})", file, line, call,
                          cudaGetErrorString(error), cudaGetErrorName(error)));
}

void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  throw Error(fmt::format("cuBLAS error at {}:{}: {}: {}", file, line, call,
                          cublasGetStatusString(status)));
}

}  // namespace ponder
