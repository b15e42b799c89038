// Model: a Llama-style decoder (pre-norm RMSNorm, RoPE, grouped-query
// attention, SwiGLU, no biases, optional tied embeddings) with an explicit
// forward and backward per layer, written once against Backend<T>.
//
// Memory (llm.c style): parameters, gradients and activations each live in one
// flat backend allocation; per-tensor pointers are views into it. Parameters
// are laid out as parameter_specs(config) (HF names and order), so the flat
// array is what a checkpoint stores.
//
// The one training primitive (DESIGN.md):
//   forward(inputs, targets, weights) = −Σ_t weights_t · log π(targets_t | inputs_≤t)
//   backward() accumulates its gradient into grads(), through the fused
//   weighted softmax/cross-entropy backward.
// Pretraining passes weights 1/N; SFT a normalised loss mask; GRPO its
// per-token weights. Targets < 0 (padding) contribute nothing.
//
// Decoding: decode() runs new tokens of many rows against a KvCache; each row
// has its own position, so rows advance independently. Several entries of one
// row in a call (a prefill chunk) must have consecutive positions in order.
// It reads the matmul weights through packed copies (params_changed()) and
// gives the threads whole rows; a row's logits depend on that row's tokens
// alone, not on the other rows of the call or the thread count, so the same
// seed samples the same rollouts whatever the batch.
//
// Invariants: sequence positions < max_position_embeddings; token ids in
// [0, vocab_size). Violations are ponder::Error, never a crash.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "policy/backend.h"
#include "policy/model_config.h"

namespace ponder {

template <typename T>
class KvCache;

// Told by Model::backward() which gradients have their final value, so that a
// data-parallel trainer can reduce them across ranks while backward goes on
// (parallel/gradient_sync.h).
//
// Contract: during one backward(), gradients_final_from(offset) says that
// grads()[offset, num_parameters()) will not change again in it. Backward
// produces the last layers' gradients first, and the parameter layout puts
// them last, so the final part is always a suffix: offsets strictly decrease
// from call to call, and the last call has offset 0. A listener reads the
// gradients only through work queued on the backend after the call (on a GPU
// the values are not yet computed when the call is made, only queued).
class GradientListener {
 public:
  virtual ~GradientListener() = default;
  virtual void gradients_final_from(size_t offset) = 0;
};

template <typename T>
class Model {
 public:
  // Allocates zeroed parameters and gradients. Throws ponder::Error when
  // config.validate() fails.
  Model(Backend<T>& backend, const ModelConfig& config);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const { return config_; }
  const std::vector<ParameterSpec>& specs() const { return specs_; }
  size_t num_parameters() const { return num_params_; }
  Backend<T>& backend() { return backend_; }
  T* params() { return params_; }
  T* grads() { return grads_; }

  // Deterministic init from `seed`: weights ~ N(0, std), the output
  // projections of each residual branch (o_proj, down_proj) ~ N(0, std/√(2L)),
  // norm weights 1.
  void init_weights(uint64_t seed, double std);
  void set_params(std::span<const T> host);  // size must be num_parameters()
  // Decoding reads the weights through packed copies (Backend::pack_weight),
  // remade at the next decode() after this is called. set_params(),
  // backward() (an optimizer step follows) and making a KvCache call it;
  // whoever writes parameters through params() otherwise must call it too.
  void params_changed() { ++params_version_; }
  std::vector<T> get_params();
  void zero_grad();

  // inputs, targets: [batch·seq] host arrays, row-major by sequence; weights
  // likewise. Keeps the activations for backward(). Returns the loss.
  double forward(const TokenId* inputs, const TokenId* targets, const T* weights, int batch,
                 int seq);
  // log π(target_t) of the last forward, per token (0 where target < 0).
  const std::vector<T>& token_logprobs() const { return logprobs_host_; }
  // Logits of the last forward, [batch·seq, vocab] (before backward() runs,
  // which overwrites them with their gradient).
  std::vector<T> logits();
  // Replaces the last forward's weights before backward(), and returns the
  // loss they give (−Σ weights_t · token_logprobs()_t). GRPO's weights depend
  // on the forward's own log-probs (the ratio to π_old), so it runs forward,
  // reads token_logprobs(), computes the weights and sets them here: one
  // forward per update. `weights` has batch·seq entries, like forward's.
  double set_token_weights(const T* weights);
  // Gradient of the last forward's loss, accumulated into grads(). With a
  // listener, tells it as each layer's gradients become final: give one only
  // to the last backward before an optimizer step (gradient accumulation adds
  // to every gradient in every backward).
  void backward(GradientListener* listener = nullptr);

  // Forward for `n` new tokens against `cache` (see KvCache). Writes
  // logits_out[n · vocab_size] (host).
  void decode(KvCache<T>& cache, std::span<const int> rows, std::span<const int> positions,
              std::span<const TokenId> tokens, T* logits_out);

 private:
  friend class KvCache<T>;
  struct Weights;      // views into params_ (or grads_)
  struct Activations;  // views into acts_
  struct DecodeBuffers;
  struct PackedWeights;

  void bind_weights(T* base, Weights& w) const;
  void ensure_activations(int batch, int seq);
  void pack_weights();
  // Every layer for decode entries [first, last), whose rows no other entry
  // of the call shares.
  void decode_entries(KvCache<T>& cache, int first, int last);
  void check_tokens(const TokenId* ids, size_t n, bool allow_negative, const char* what) const;

  Backend<T>& backend_;
  ModelConfig config_;
  std::vector<ParameterSpec> specs_;
  size_t num_params_ = 0;
  T* params_ = nullptr;
  T* grads_ = nullptr;
  std::unique_ptr<Weights> weights_, weight_grads_;
  std::unique_ptr<Activations> acts_;
  std::unique_ptr<DecodeBuffers> decode_;
  std::unique_ptr<PackedWeights> packed_;
  uint64_t params_version_ = 1;
  std::vector<T> logprobs_host_;
};

// Keys and values of every layer for `rows` sequences of up to `max_positions`
// tokens. Allocated on the model's backend; the model must outlive it.
template <typename T>
class KvCache {
 public:
  KvCache(Model<T>& model, int rows, int max_positions);
  ~KvCache();
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  int rows() const { return rows_; }
  int max_positions() const { return max_positions_; }

  // Copies positions [0, length) of row `from` into row `to`: n samples of
  // one prompt share its prefill. Throws ponder::Error for rows or a length
  // out of range.
  void copy_prefix(int from, int to, int length);

 private:
  friend class Model<T>;
  Backend<T>& backend_;
  int rows_, max_positions_, width_;
  std::vector<T*> keys_, values_;  // one [rows, max_positions, kv_dim] buffer per layer
};

extern template class Model<float>;
extern template class Model<double>;
extern template class KvCache<float>;
extern template class KvCache<double>;

}  // namespace ponder
