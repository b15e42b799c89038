// The one error check around every CUDA and cuBLAS call, and the check after
// every kernel launch. A failure throws ponder::Error:
//   "CUDA error at policy/cuda/attention.cu:120: cudaMemcpyAsync(...): out of memory"
// Kernel launches report configuration errors at once (cudaGetLastError);
// faults inside a kernel surface at the next checked call on the stream.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

namespace ponder {

[[noreturn]] void throw_cuda_error(cudaError_t error, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* call, const char* file,
                                     int line);

}  // namespace ponder

#define PONDER_CUDA_CHECK(call)                                                  \
  do {                                                                           \
    const cudaError_t ponder_cuda_error_ = (call);                               \
    if (ponder_cuda_error_ != cudaSuccess) {                                     \
      ::ponder::throw_cuda_error(ponder_cuda_error_, #call, __FILE__, __LINE__); \
    }                                                                            \
  } while (0)

#define PONDER_CUBLAS_CHECK(call)                                                     \
  do {                                                                                \
    const cublasStatus_t ponder_cublas_status_ = (call);                              \
    if (ponder_cublas_status_ != CUBLAS_STATUS_SUCCESS) {                             \
      ::ponder::throw_cublas_error(ponder_cublas_status_, #call, __FILE__, __LINE__); \
    }                                                                                 \
  } while (0)

// After every <<<...>>> launch.
#define PONDER_CUDA_LAUNCH_CHECK() PONDER_CUDA_CHECK(cudaGetLastError())
