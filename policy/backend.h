// Backend: every operation the model, its objective and its optimizer need,
// behind one interface. The model (policy/model.h) is written once against it;
// the CPU backend (policy/cpu/) implements it now, CUDA later.
//
// Conventions (all ops):
//  - Pointers are backend memory (host memory for the CPU backend); the model
//    never dereferences them itself, it goes through upload/download.
//  - Matrices are row-major. A linear layer's weight is (out, in), as in
//    PyTorch/HF, and computes y = x · Wᵀ.
//  - "N" is the number of token rows (batch × sequence), "C" the width.
//  - Backward ops ACCUMULATE (+=) into parameter gradients and into input
//    gradients, so that residual branches and gradient accumulation compose;
//    callers zero what must start at zero.
//  - Ops are deterministic: the same inputs and thread count give the same bits.
//
// T is the scalar: float for training, double for finite-difference gradient
// checks (tests only).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "policy/special_tokens.h"

namespace ponder {

template <typename T>
class Backend {
 public:
  virtual ~Backend() = default;

  // A human-readable description, printed at start-up (e.g. the BLAS kernel
  // and thread count).
  virtual std::string describe() const = 0;
  // Whether backend memory is host memory that code outside the backend may
  // read and write in place (the CPU backend), or must reach through
  // upload/download (a GPU's).
  virtual bool memory_is_host() const = 0;

  // ---- memory ----
  virtual T* alloc(size_t n) = 0;  // zero-filled
  virtual TokenId* alloc_ids(size_t n) = 0;
  virtual void free(void* p) = 0;
  virtual void upload(T* dst, const T* host, size_t n) = 0;
  virtual void download(T* host, const T* src, size_t n) = 0;
  virtual void upload_ids(TokenId* dst, const TokenId* host, size_t n) = 0;
  virtual void zero(T* p, size_t n) = 0;
  virtual void copy(T* dst, const T* src, size_t n) = 0;

  // ---- layers ----
  // out[N, OUT] = inp[N, IN] · weight[OUT, IN]ᵀ
  virtual void matmul_forward(T* out, const T* inp, const T* weight, int n, int in,
                              int out_dim) = 0;
  // dinp += dout · weight ; dweight += doutᵀ · inp
  virtual void matmul_backward(T* dinp, T* dweight, const T* dout, const T* inp, const T* weight,
                               int n, int in, int out_dim) = 0;

  // out[i] = table[ids[i]]
  virtual void embedding_forward(T* out, const TokenId* ids, const T* table, int n, int c) = 0;
  // dtable[ids[i]] += dout[i]
  virtual void embedding_backward(T* dtable, const TokenId* ids, const T* dout, int n, int c) = 0;

  // out = inp / rms(inp) * weight, rms = sqrt(mean(inp²) + eps); rstd[i] kept for backward.
  virtual void rmsnorm_forward(T* out, T* rstd, const T* inp, const T* weight, int n, int c,
                               double eps) = 0;
  virtual void rmsnorm_backward(T* dinp, T* dweight, const T* dout, const T* inp, const T* weight,
                                const T* rstd, int n, int c) = 0;

  // Rotary embedding in place on x[N, heads, head_dim] (HF Llama "rotate_half"
  // layout: pairs (j, j + head_dim/2)); row i has position positions[i].
  virtual void rope_forward(T* x, const int* positions, int n, int heads, int head_dim,
                            double theta) = 0;
  // The inverse rotation applied to a gradient, in place.
  virtual void rope_backward(T* dx, const int* positions, int n, int heads, int head_dim,
                             double theta) = 0;

  // Causal self-attention over `batch` sequences of `seq` tokens. q[B·T, H·D],
  // k, v[B·T, KV·D]; query head h reads kv head h / (H / KV). att[B, H, T, T]
  // keeps the probabilities for backward. out[B·T, H·D].
  virtual void attention_forward(T* out, T* att, const T* q, const T* k, const T* v, int batch,
                                 int seq, int heads, int kv_heads, int head_dim) = 0;
  // dq, dk, dv += ... ; scratch must hold batch·heads·seq·seq values.
  virtual void attention_backward(T* dq, T* dk, T* dv, T* scratch, const T* dout, const T* att,
                                  const T* q, const T* k, const T* v, int batch, int seq, int heads,
                                  int kv_heads, int head_dim) = 0;

  // Attention of new tokens against a KV cache. Entry i (query q[i]) belongs to
  // cache row rows[i] at position positions[i] and attends to that row's
  // positions 0..positions[i]. cache_k/cache_v are [rows, max_pos, KV·D]; the
  // entries' own keys and values must already be written there.
  virtual void attention_cached(T* out, const T* q, const T* cache_k, const T* cache_v,
                                const int* rows, const int* positions, int n, int max_pos,
                                int heads, int kv_heads, int head_dim) = 0;
  // cache[rows[i], positions[i], :] = x[i, :] for x[N, width].
  virtual void cache_write(T* cache, const T* x, const int* rows, const int* positions, int n,
                           int max_pos, int width) = 0;

  // h = silu(g) * u
  virtual void swiglu_forward(T* h, const T* g, const T* u, size_t n) = 0;
  virtual void swiglu_backward(T* dg, T* du, const T* dh, const T* g, const T* u, size_t n) = 0;

  // ---- decoding ----
  // Decoding multiplies a few rows by the same weights step after step, so it
  // reads each weight through a copy re-laid out once for that (a "packed"
  // weight) instead of the weight itself.
  // Values a packed copy of weight[OUT, IN] holds.
  virtual size_t packed_weight_size(int in, int out_dim) = 0;
  virtual void pack_weight(T* packed, const T* weight, int in, int out_dim) = 0;
  // out[N, OUT] = inp[N, IN] · weightᵀ from pack_weight's copy. A row's result
  // depends on that row alone: not on N, the other rows or the thread count.
  virtual void matmul_packed(T* out, const T* inp, const T* packed, int n, int in, int out_dim) = 0;

  // Runs task(0) … task(tasks − 1), as many at once as task_slots(); the ops
  // a task calls run on its thread alone. Tasks must be independent.
  virtual void run_tasks(int tasks, const std::function<void(int)>& task) = 0;
  virtual int task_slots() = 0;

  // out = a + b
  virtual void add(T* out, const T* a, const T* b, size_t n) = 0;

  // The objective's forward: logprobs[i] = log softmax(logits[i])[targets[i]].
  // Targets < 0 are ignored (logprob 0).
  virtual void token_logprobs(T* logprobs, const T* logits, const TokenId* targets, int n,
                              int vocab) = 0;
  // The fused backward, in place: logits[i] becomes
  // weights[i] · (softmax(logits[i]) − onehot(targets[i])) — the gradient of
  // −Σ weights[i]·logprobs[i]. Rows with target < 0 or weight 0 become 0.
  virtual void weighted_cross_entropy_backward(T* logits, const TokenId* targets, const T* weights,
                                               int n, int vocab) = 0;

  // ---- optimizer ----
  virtual double sum_of_squares(const T* x, size_t n) = 0;
  virtual void scale(T* x, size_t n, double factor) = 0;
  // AdamW on one parameter group: m, v moments; step t ≥ 1 for bias correction;
  // decoupled weight decay p -= lr·wd·p.
  virtual void adamw(T* params, const T* grads, T* m, T* v, size_t n, double lr, double beta1,
                     double beta2, double eps, double weight_decay, int64_t t) = 0;
};

}  // namespace ponder
