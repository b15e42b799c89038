// CudaBackend: Backend<float> on one NVIDIA GPU. Every pointer it hands out
// is device memory (cudaMalloc, never managed memory); the model, optimizer
// and engine reach it only through the Backend ops and upload/download.
//
// Precision (chosen at construction):
//  - kFp32: every matmul is fp32 × fp32 → fp32 through cuBLAS with
//    CUBLAS_COMPUTE_32F and the default math mode (no TF32), so results match
//    the CPU backend to float rounding.
//  - kBf16 (mixed precision): parameters, gradients, AdamW moments and every
//    activation stay fp32; each matmul converts its two operands to bf16
//    scratch copies and multiplies them with cublasGemmEx (CUDA_R_16BF inputs,
//    CUDA_R_32F output, CUBLAS_COMPUTE_32F accumulation). Explicit copies were
//    chosen over CUBLAS_COMPUTE_32F_FAST_16BF because the bf16 × bf16 → fp32
//    tensor-core GEMM is cuBLAS's standard fast path on Hopper whatever the
//    shape, whereas the fast-compute mode on fp32 operands leaves it to cuBLAS
//    whether and how to down-convert; and because decoding's packed weights
//    can then be stored once in bf16, halving the bytes each decoded token
//    streams. Attention's products (QKᵀ, PV and their gradients) follow the
//    same rule; softmax, norms, RoPE, SwiGLU, the objective and AdamW are fp32.
//
// Determinism: all work runs in order on one stream, and no kernel uses
// atomics. Reductions over rows into one parameter gradient (RMSNorm weight,
// embedding table) sum fixed chunks in a fixed order; block reductions are
// fixed trees. cuBLAS is deterministic on one stream with its own workspace
// (cuBLAS docs, "Results reproducibility"). So the same inputs on the same GPU
// model give the same bits.
//
// Decoding (matmul_packed, attention_cached) uses ponder's own kernels, not
// cuBLAS: each output value is reduced in an order fixed by the matrix shape
// alone, so a row's result does not depend on N or the other rows (cuBLAS
// picks algorithms by shape, which would break that).
//
// run_tasks runs tasks one after another (task_slots() = 1): the GPU is one
// device fed by one stream; decoding then runs all entries in one task, which
// is what fills the GPU anyway.
//
// Errors: every CUDA and cuBLAS call is checked, and every kernel launch is
// followed by a launch check; a failure throws ponder::Error naming the
// file:line, the call and CUDA's error string (policy/cuda/cuda_check.h).
// While an exception unwinds, free() and the destructor release nothing and
// wait for nothing: queued work may wait for other ranks that never come.
// Instances are used by one thread at a time.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <cuda_runtime_api.h>

#include "policy/backend.h"

namespace ponder {

enum class CudaPrecision { kFp32, kBf16 };

class CudaBackend final : public Backend<float> {
 public:
  // Uses CUDA device `device`. Throws ponder::Error when it cannot be used.
  explicit CudaBackend(CudaPrecision precision, int device = 0);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  // CUDA devices this process can use; when there are none, `why` (if given)
  // gets CUDA's reason (no driver, no device, ...).
  static int device_count(std::string* why);

  CudaPrecision precision() const { return precision_; }
  std::string describe() const override;
  bool memory_is_host() const override { return false; }

  float* alloc(size_t n) override;
  TokenId* alloc_ids(size_t n) override;
  void free(void* p) override;
  void upload(float* dst, const float* host, size_t n) override;
  void download(float* host, const float* src, size_t n) override;
  void upload_ids(TokenId* dst, const TokenId* host, size_t n) override;
  void zero(float* p, size_t n) override;
  void copy(float* dst, const float* src, size_t n) override;

  void matmul_forward(float* out, const float* inp, const float* weight, int n, int in,
                      int out_dim) override;
  void matmul_backward(float* dinp, float* dweight, const float* dout, const float* inp,
                       const float* weight, int n, int in, int out_dim) override;
  void embedding_forward(float* out, const TokenId* ids, const float* table, int n, int c) override;
  void embedding_backward(float* dtable, const TokenId* ids, const float* dout, int n,
                          int c) override;
  void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int n, int c,
                       double eps) override;
  void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp,
                        const float* weight, const float* rstd, int n, int c) override;
  void rope_forward(float* x, const int* positions, int n, int heads, int head_dim,
                    double theta) override;
  void rope_backward(float* dx, const int* positions, int n, int heads, int head_dim,
                     double theta) override;
  void attention_forward(float* out, float* att, const float* q, const float* k, const float* v,
                         int batch, int seq, int heads, int kv_heads, int head_dim) override;
  void attention_backward(float* dq, float* dk, float* dv, float* scratch, const float* dout,
                          const float* att, const float* q, const float* k, const float* v,
                          int batch, int seq, int heads, int kv_heads, int head_dim) override;
  void attention_cached(float* out, const float* q, const float* cache_k, const float* cache_v,
                        const int* rows, const int* positions, int n, int max_pos, int heads,
                        int kv_heads, int head_dim) override;
  void cache_write(float* cache, const float* x, const int* rows, const int* positions, int n,
                   int max_pos, int width) override;
  void swiglu_forward(float* h, const float* g, const float* u, size_t n) override;
  void swiglu_backward(float* dg, float* du, const float* dh, const float* g, const float* u,
                       size_t n) override;
  // A packed weight is the weight itself, row-major [OUT, IN], in the
  // backend's matmul precision (bf16 pairs in kBf16), padded to 256 bytes.
  size_t packed_weight_size(int in, int out_dim) override;
  void pack_weight(float* packed, const float* weight, int in, int out_dim) override;
  void matmul_packed(float* out, const float* inp, const float* packed, int n, int in,
                     int out_dim) override;
  void run_tasks(int tasks, const std::function<void(int)>& task) override;
  int task_slots() override { return 1; }
  void add(float* out, const float* a, const float* b, size_t n) override;
  void token_logprobs(float* logprobs, const float* logits, const TokenId* targets, int n,
                      int vocab) override;
  void weighted_cross_entropy_backward(float* logits, const TokenId* targets, const float* weights,
                                       int n, int vocab) override;
  double sum_of_squares(const float* x, size_t n) override;
  void scale(float* x, size_t n, double factor) override;
  void adamw(float* params, const float* grads, float* m, float* v, size_t n, double lr,
             double beta1, double beta2, double eps, double weight_decay, int64_t t) override;

  // Waits for all queued work (benchmarks time with it).
  void synchronize();
  // The CUDA device this backend runs on, and the stream every op is queued
  // on: work another stream does on the backend's memory (the NCCL gradient
  // reduction) orders itself against it with events.
  int device() const;
  cudaStream_t stream() const;

  struct Device;  // stream, cuBLAS handle, scratch (policy/cuda/cuda_internal.h)

 private:
  // Row-major, strided-batched C = alpha·op(A)·op(B) + beta·C, as cblas_?gemm:
  // A and B are bf16 when `bf16`, else fp32; C is fp32.
  void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const void* a, int lda,
            long long stride_a, const void* b, int ldb, long long stride_b, float beta, float* c,
            int ldc, long long stride_c, int batch, bool bf16);
  // The operand as the matmuls read it: `x` itself in kFp32, else its bf16
  // copy written at `bf16_slot` (n values).
  const void* operand(const float* x, size_t n, void* bf16_slot);
  // Device scratch of at least `bytes`, valid until the next call: an op takes
  // it once and carves what it needs.
  void* scratch(size_t bytes);

  CudaPrecision precision_;
  std::unique_ptr<Device> device_;
};

}  // namespace ponder
