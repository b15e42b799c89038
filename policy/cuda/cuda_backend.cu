// CudaBackend: the device, memory, cuBLAS matmuls and decoding's packed
// matmul. Layers, attention and the objective are in layers.cu,
// attention.cu and objective.cu.
#include <cstdint>
#include <exception>
#include <string>

#include "policy/cuda/cuda_internal.cuh"
#include "policy/error.h"

namespace ponder {
namespace {

// cuBLAS's recommended workspace on Hopper; a fixed workspace also keeps its
// algorithm choice (and so the bits) the same from call to call.
constexpr size_t kCublasWorkspace = size_t{32} << 20;

__global__ void to_bf16_kernel(__nv_bfloat16* dst, const float* src, size_t n) {
  PONDER_FOR_EACH(i, n) {
    dst[i] = __float2bfloat16(src[i]);
  }
}

__device__ inline float as_float(float x) {
  return x;
}
__device__ inline float as_float(__nv_bfloat16 x) {
  return __bfloat162float(x);
}

// Eight consecutive values from 16-byte aligned memory.
__device__ inline void load8(const float* p, float* v) {
  const float4 a = *reinterpret_cast<const float4*>(p);
  const float4 b = *reinterpret_cast<const float4*>(p + 4);
  v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}
__device__ inline void load8(const __nv_bfloat16* p, float* v) {
  const uint4 raw = *reinterpret_cast<const uint4*>(p);
  const __nv_bfloat162* pairs = reinterpret_cast<const __nv_bfloat162*>(&raw);
  for (int i = 0; i < 4; ++i) {
    const float2 f = __bfloat1622float2(pairs[i]);
    v[2 * i] = f.x, v[2 * i + 1] = f.y;
  }
}

constexpr int kPackedWarps = 8;  // output columns per block, one per warp
constexpr int kPackedRows = 4;   // rows sharing each weight load

// out[r, col] = Σ_k inp[r, k] · w[col, k], one warp per column. Lane l sums
// the 8-value chunks at k = 8·l, 8·l + 256, ... in order, then the warp adds
// its lanes in a fixed tree: the order depends on `in` alone, so a row's
// result never depends on n or on the other rows. kVector (in % 8 == 0 and
// aligned pointers) only changes how the values are loaded, not the order.
template <typename W, bool kVector>
__global__ void packed_matmul_kernel(float* out, const float* inp, const W* w, int n, int in,
                                     int out_dim) {
  const int col = blockIdx.x * kPackedWarps + threadIdx.y, lane = threadIdx.x;
  if (col >= out_dim) return;
  const W* weight = w + static_cast<size_t>(col) * in;
  for (int r0 = blockIdx.y * kPackedRows; r0 < n; r0 += gridDim.y * kPackedRows) {
    const int rows = min(kPackedRows, n - r0);
    const float* x = inp + static_cast<size_t>(r0) * in;
    float acc[kPackedRows] = {};
    for (int k = lane * 8; k < in; k += cuda::kWarp * 8) {
      const int count = kVector ? 8 : min(8, in - k);
      float wv[8], xv[8];
      if constexpr (kVector) {
        load8(weight + k, wv);
      } else {
        for (int j = 0; j < count; ++j) wv[j] = as_float(weight[k + j]);
      }
#pragma unroll
      for (int r = 0; r < kPackedRows; ++r) {
        if (r >= rows) break;
        const float* xr = x + static_cast<size_t>(r) * in + k;
        if constexpr (kVector) {
          load8(xr, xv);
        } else {
          for (int j = 0; j < count; ++j) xv[j] = xr[j];
        }
#pragma unroll
        for (int j = 0; j < 8; ++j) {
          if (j < count) acc[r] = fmaf(xv[j], wv[j], acc[r]);
        }
      }
    }
#pragma unroll
    for (int r = 0; r < kPackedRows; ++r) {
      const float sum = cuda::warp_sum(acc[r]);
      if (lane == 0 && r < rows) out[static_cast<size_t>(r0 + r) * out_dim + col] = sum;
    }
  }
}

template <typename W>
void launch_packed_matmul(float* out, const float* inp, const W* w, int n, int in, int out_dim,
                          cudaStream_t stream) {
  const dim3 block(cuda::kWarp, kPackedWarps);
  const dim3 grid((out_dim + kPackedWarps - 1) / kPackedWarps,
                  std::min((n + kPackedRows - 1) / kPackedRows, 65535));
  const bool aligned = in % 8 == 0 && reinterpret_cast<uintptr_t>(w) % 16 == 0 &&
                       reinterpret_cast<uintptr_t>(inp) % 16 == 0;
  if (aligned) {
    packed_matmul_kernel<W, true><<<grid, block, 0, stream>>>(out, inp, w, n, in, out_dim);
  } else {
    packed_matmul_kernel<W, false><<<grid, block, 0, stream>>>(out, inp, w, n, in, out_dim);
  }
  PONDER_CUDA_LAUNCH_CHECK();
}

// Zero-filled device memory, at least 256 bytes (as the CPU backend's 64,
// so that empty arrays are valid pointers).
void* zeroed(size_t bytes, cudaStream_t stream) {
  void* p = nullptr;
  bytes = cuda::aligned_bytes(std::max<size_t>(bytes, 1));
  PONDER_CUDA_CHECK(cudaMalloc(&p, bytes));
  PONDER_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, stream));
  return p;
}

}  // namespace

namespace cuda {

void to_bf16(__nv_bfloat16* dst, const float* src, size_t n, cudaStream_t stream) {
  if (n == 0) return;
  to_bf16_kernel<<<grid_for(n), kThreads, 0, stream>>>(dst, src, n);
  PONDER_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda

int CudaBackend::device_count(std::string* why) {
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess) {
    if (why != nullptr) *why = cudaGetErrorString(error);
    cudaGetLastError();  // clear it, so that later checks do not see it
    return 0;
  }
  if (count == 0 && why != nullptr) *why = "no CUDA device is visible";
  return count;
}

CudaBackend::CudaBackend(CudaPrecision precision, int device)
    : precision_(precision), device_(std::make_unique<Device>()) {
  std::string why;
  const int count = device_count(&why);
  if (device < 0 || device >= count) {
    throw Error(count == 0 ? "no CUDA device is usable: " + why
                           : "CUDA device " + std::to_string(device) + " does not exist (" +
                                 std::to_string(count) + " visible)");
  }
  Device& d = *device_;
  d.ordinal = device;
  PONDER_CUDA_CHECK(cudaSetDevice(device));
  PONDER_CUDA_CHECK(cudaGetDeviceProperties(&d.properties, device));
  PONDER_CUDA_CHECK(cudaStreamCreateWithFlags(&d.stream, cudaStreamNonBlocking));
  PONDER_CUBLAS_CHECK(cublasCreate(&d.cublas));
  PONDER_CUBLAS_CHECK(cublasSetStream(d.cublas, d.stream));
  PONDER_CUBLAS_CHECK(cublasSetMathMode(d.cublas, CUBLAS_DEFAULT_MATH));
  PONDER_CUDA_CHECK(cudaMalloc(&d.cublas_workspace, kCublasWorkspace));
  PONDER_CUBLAS_CHECK(cublasSetWorkspace(d.cublas, d.cublas_workspace, kCublasWorkspace));
}

CudaBackend::~CudaBackend() {
  // Destructors must not throw: release what exists and ignore late errors.
  Device& d = *device_;
  if (std::uncaught_exceptions() > 0) return;  // as in free(): do not wait while failing
  if (d.stream != nullptr) cudaStreamSynchronize(d.stream);
  if (d.cublas != nullptr) cublasDestroy(d.cublas);
  cudaFree(d.cublas_workspace);
  cudaFree(d.scratch);
  if (d.stream != nullptr) cudaStreamDestroy(d.stream);
}

std::string CudaBackend::describe() const {
  const cudaDeviceProp& p = device_->properties;
  return std::string("cuda (") + p.name + ", sm_" + std::to_string(p.major * 10 + p.minor) + ", " +
         std::to_string(p.multiProcessorCount) + " SMs, " + std::to_string(p.totalGlobalMem >> 30) +
         " GiB; " +
         (precision_ == CudaPrecision::kBf16 ? "bf16 matmuls with fp32 accumulation"
                                             : "fp32 matmuls") +
         ")";
}

void CudaBackend::synchronize() {
  PONDER_CUDA_CHECK(cudaStreamSynchronize(device_->stream));
}

int CudaBackend::device() const {
  return device_->ordinal;
}

cudaStream_t CudaBackend::stream() const {
  return device_->stream;
}

// ---- memory ----

float* CudaBackend::alloc(size_t n) {
  return static_cast<float*>(zeroed(n * sizeof(float), device_->stream));
}

TokenId* CudaBackend::alloc_ids(size_t n) {
  return static_cast<TokenId*>(zeroed(n * sizeof(TokenId), device_->stream));
}

void CudaBackend::free(void* p) {
  if (p == nullptr) return;
  // While an exception unwinds, the process is failing: queued work may wait
  // for other ranks that never come (NCCL), and waiting for it here would keep
  // the error from ending the job. Leave the memory to the process's end.
  if (std::uncaught_exceptions() > 0) return;
  // Queued kernels may still read it.
  PONDER_CUDA_CHECK(cudaStreamSynchronize(device_->stream));
  PONDER_CUDA_CHECK(cudaFree(p));
}

// Copies wait for the stream, so the host buffer is free (upload) or filled
// (download) when they return.
void CudaBackend::upload(float* dst, const float* host, size_t n) {
  PONDER_CUDA_CHECK(
      cudaMemcpyAsync(dst, host, n * sizeof(float), cudaMemcpyHostToDevice, device_->stream));
  PONDER_CUDA_CHECK(cudaStreamSynchronize(device_->stream));
}

void CudaBackend::download(float* host, const float* src, size_t n) {
  PONDER_CUDA_CHECK(
      cudaMemcpyAsync(host, src, n * sizeof(float), cudaMemcpyDeviceToHost, device_->stream));
  PONDER_CUDA_CHECK(cudaStreamSynchronize(device_->stream));
}

void CudaBackend::upload_ids(TokenId* dst, const TokenId* host, size_t n) {
  PONDER_CUDA_CHECK(
      cudaMemcpyAsync(dst, host, n * sizeof(TokenId), cudaMemcpyHostToDevice, device_->stream));
  PONDER_CUDA_CHECK(cudaStreamSynchronize(device_->stream));
}

void CudaBackend::zero(float* p, size_t n) {
  PONDER_CUDA_CHECK(cudaMemsetAsync(p, 0, n * sizeof(float), device_->stream));
}

void CudaBackend::copy(float* dst, const float* src, size_t n) {
  PONDER_CUDA_CHECK(
      cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, device_->stream));
}

void* CudaBackend::scratch(size_t bytes) {
  Device& d = *device_;
  if (bytes > d.scratch_bytes) {
    // Grow by at least half, so that slowly growing shapes reallocate rarely.
    const size_t size = cuda::aligned_bytes(std::max(bytes, d.scratch_bytes * 3 / 2));
    // Stream-ordered: the old block goes once the work queued on it is done,
    // and nothing waits for the whole device. A device-wide wait (cudaFree)
    // would also wait for gradient reductions on another stream, which wait
    // for other ranks (parallel/nccl_gradient_sync.h): a rank still in an MPI
    // call would then never arrive.
    if (d.scratch != nullptr) PONDER_CUDA_CHECK(cudaFreeAsync(d.scratch, d.stream));
    d.scratch = nullptr;
    d.scratch_bytes = 0;
    PONDER_CUDA_CHECK(cudaMallocAsync(&d.scratch, size, d.stream));
    d.scratch_bytes = size;
  }
  return d.scratch;
}

// ---- matmuls ----

void CudaBackend::gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const void* a,
                       int lda, long long stride_a, const void* b, int ldb, long long stride_b,
                       float beta, float* c, int ldc, long long stride_c, int batch, bool bf16) {
  // cuBLAS is column-major, where a row-major matrix reads as its transpose:
  // row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ.
  const cudaDataType type = bf16 ? CUDA_R_16BF : CUDA_R_32F;
  PONDER_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      device_->cublas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n,
      m, k, &alpha, b, type, ldb, stride_b, a, type, lda, stride_a, &beta, c, CUDA_R_32F, ldc,
      stride_c, batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

const void* CudaBackend::operand(const float* x, size_t n, void* bf16_slot) {
  if (precision_ == CudaPrecision::kFp32) return x;
  cuda::to_bf16(static_cast<__nv_bfloat16*>(bf16_slot), x, n, device_->stream);
  return bf16_slot;
}

void CudaBackend::matmul_forward(float* out, const float* inp, const float* weight, int n, int in,
                                 int out_dim) {
  const size_t inp_size = static_cast<size_t>(n) * in,
               weight_size = static_cast<size_t>(out_dim) * in;
  const bool bf16 = precision_ == CudaPrecision::kBf16;
  char* slot = bf16 ? static_cast<char*>(scratch(cuda::aligned_bytes(inp_size * 2) +
                                                 cuda::aligned_bytes(weight_size * 2)))
                    : nullptr;
  const void* a = operand(inp, inp_size, slot);
  const void* w =
      operand(weight, weight_size, bf16 ? slot + cuda::aligned_bytes(inp_size * 2) : nullptr);
  gemm(false, true, n, out_dim, in, 1.0f, a, in, 0, w, in, 0, 0.0f, out, out_dim, 0, 1, bf16);
}

void CudaBackend::matmul_backward(float* dinp, float* dweight, const float* dout, const float* inp,
                                  const float* weight, int n, int in, int out_dim) {
  const size_t dout_size = static_cast<size_t>(n) * out_dim;
  const size_t inp_size = static_cast<size_t>(n) * in,
               weight_size = static_cast<size_t>(out_dim) * in;
  const bool bf16 = precision_ == CudaPrecision::kBf16;
  char* slot = nullptr;
  size_t inp_at = 0, weight_at = 0;
  if (bf16) {
    inp_at = cuda::aligned_bytes(dout_size * 2);
    weight_at = inp_at + cuda::aligned_bytes(inp_size * 2);
    slot = static_cast<char*>(scratch(weight_at + cuda::aligned_bytes(weight_size * 2)));
  }
  const void* g = operand(dout, dout_size, slot);
  if (dinp != nullptr) {
    const void* w = operand(weight, weight_size, slot + weight_at);
    gemm(false, false, n, in, out_dim, 1.0f, g, out_dim, 0, w, in, 0, 1.0f, dinp, in, 0, 1, bf16);
  }
  const void* x = operand(inp, inp_size, slot + inp_at);
  gemm(true, false, out_dim, in, n, 1.0f, g, out_dim, 0, x, in, 0, 1.0f, dweight, in, 0, 1, bf16);
}

size_t CudaBackend::packed_weight_size(int in, int out_dim) {
  const size_t values = static_cast<size_t>(in) * out_dim;
  const size_t bytes = values * (precision_ == CudaPrecision::kBf16 ? 2 : 4);
  return cuda::aligned_bytes(bytes) / sizeof(float);
}

void CudaBackend::pack_weight(float* packed, const float* weight, int in, int out_dim) {
  const size_t values = static_cast<size_t>(in) * out_dim;
  if (precision_ == CudaPrecision::kBf16) {
    cuda::to_bf16(reinterpret_cast<__nv_bfloat16*>(packed), weight, values, device_->stream);
  } else {
    copy(packed, weight, values);
  }
}

void CudaBackend::matmul_packed(float* out, const float* inp, const float* packed, int n, int in,
                                int out_dim) {
  if (n == 0) return;
  if (precision_ == CudaPrecision::kBf16) {
    launch_packed_matmul(out, inp, reinterpret_cast<const __nv_bfloat16*>(packed), n, in, out_dim,
                         device_->stream);
  } else {
    launch_packed_matmul(out, inp, packed, n, in, out_dim, device_->stream);
  }
}

void CudaBackend::run_tasks(int tasks, const std::function<void(int)>& task) {
  for (int t = 0; t < tasks; ++t) task(t);
}

}  // namespace ponder
