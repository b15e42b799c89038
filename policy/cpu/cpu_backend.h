// CpuBackend: Backend<T> on the host. Matmuls (including attention's
// per-head products) go through OpenBLAS (policy/cpu/blas.h), decoding's
// through packed weights (policy/cpu/packed_matmul.h); everything else
// is OpenMP loops with static schedules, so results depend only on the inputs
// and the thread count. Reductions over rows into one parameter gradient are
// split by columns, never by rows, so they are deterministic too.
//
// T = float for training, double for finite-difference gradient checks.
// A backend instance is used by one thread at a time, apart from the tasks of
// its own run_tasks(), whose ops run concurrently.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "policy/backend.h"

namespace ponder {

template <typename T>
class CpuBackend final : public Backend<T> {
 public:
  CpuBackend();
  std::string describe() const override;
  bool memory_is_host() const override { return true; }

  T* alloc(size_t n) override;
  TokenId* alloc_ids(size_t n) override;
  void free(void* p) override;
  void upload(T* dst, const T* host, size_t n) override;
  void download(T* host, const T* src, size_t n) override;
  void upload_ids(TokenId* dst, const TokenId* host, size_t n) override;
  void zero(T* p, size_t n) override;
  void copy(T* dst, const T* src, size_t n) override;

  void matmul_forward(T* out, const T* inp, const T* weight, int n, int in, int out_dim) override;
  void matmul_backward(T* dinp, T* dweight, const T* dout, const T* inp, const T* weight, int n,
                       int in, int out_dim) override;
  void embedding_forward(T* out, const TokenId* ids, const T* table, int n, int c) override;
  void embedding_backward(T* dtable, const TokenId* ids, const T* dout, int n, int c) override;
  void rmsnorm_forward(T* out, T* rstd, const T* inp, const T* weight, int n, int c,
                       double eps) override;
  void rmsnorm_backward(T* dinp, T* dweight, const T* dout, const T* inp, const T* weight,
                        const T* rstd, int n, int c) override;
  void rope_forward(T* x, const int* positions, int n, int heads, int head_dim,
                    double theta) override;
  void rope_backward(T* dx, const int* positions, int n, int heads, int head_dim,
                     double theta) override;
  void attention_forward(T* out, T* att, const T* q, const T* k, const T* v, int batch, int seq,
                         int heads, int kv_heads, int head_dim) override;
  void attention_backward(T* dq, T* dk, T* dv, T* scratch, const T* dout, const T* att, const T* q,
                          const T* k, const T* v, int batch, int seq, int heads, int kv_heads,
                          int head_dim) override;
  void attention_cached(T* out, const T* q, const T* cache_k, const T* cache_v, const int* rows,
                        const int* positions, int n, int max_pos, int heads, int kv_heads,
                        int head_dim) override;
  void cache_write(T* cache, const T* x, const int* rows, const int* positions, int n, int max_pos,
                   int width) override;
  size_t packed_weight_size(int in, int out_dim) override;
  void pack_weight(T* packed, const T* weight, int in, int out_dim) override;
  void matmul_packed(T* out, const T* inp, const T* packed, int n, int in, int out_dim) override;
  void run_tasks(int tasks, const std::function<void(int)>& task) override;
  int task_slots() override;
  void swiglu_forward(T* h, const T* g, const T* u, size_t n) override;
  void swiglu_backward(T* dg, T* du, const T* dh, const T* g, const T* u, size_t n) override;
  void add(T* out, const T* a, const T* b, size_t n) override;
  void token_logprobs(T* logprobs, const T* logits, const TokenId* targets, int n,
                      int vocab) override;
  void weighted_cross_entropy_backward(T* logits, const TokenId* targets, const T* weights, int n,
                                       int vocab) override;
  double sum_of_squares(const T* x, size_t n) override;
  void scale(T* x, size_t n, double factor) override;
  void adamw(T* params, const T* grads, T* m, T* v, size_t n, double lr, double beta1, double beta2,
             double eps, double weight_decay, int64_t t) override;

 private:
  // cos/sin of position·theta^(-2j/head_dim), [position][j] for j < head_dim/2.
  // A table grows by replacement under the lock, never in place, so one handed
  // out stays valid while run_tasks' tasks rotate concurrently.
  struct RopeTable {
    int positions = 0;
    std::vector<T> cos, sin;
  };
  std::shared_ptr<const RopeTable> rope_table(int head_dim, double theta, int max_position);
  void rope_rotate(T* x, const int* positions, int n, int heads, int head_dim, double theta,
                   T sign);

  std::mutex rope_mutex_;
  std::map<std::pair<int, double>, std::shared_ptr<const RopeTable>> rope_tables_;
};

extern template class CpuBackend<float>;
extern template class CpuBackend<double>;

}  // namespace ponder
