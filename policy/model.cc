#include "policy/model.h"

#include <cmath>
#include <random>

#include <fmt/format.h>

#include "policy/error.h"
#include "policy/model_internal.h"

namespace ponder {

// Activations of one forward at capacity (batch, seq): views into one block.
template <typename T>
struct Model<T>::Activations {
  int batch = 0, seq = 0;       // the shape the block is carved for
  bool backward_ready = false;  // a forward ran and its logits are intact
  T* block = nullptr;
  struct Layer {
    T *residual_in, *xn1, *rstd1, *q, *k, *v, *att, *attn_out, *residual_mid, *xn2, *rstd2, *gate,
        *up, *hidden;
  };
  std::vector<Layer> layers;
  T *residual_final, *xn_final, *rstd_final, *logits, *logprobs, *weights, *projection;
  // Gradient scratch, reused by every layer in backward.
  T *d_residual, *d_xn, *d_q, *d_k, *d_v, *d_attn_out, *d_att, *d_gate, *d_up, *d_hidden;
  TokenId *inputs = nullptr, *targets = nullptr, *positions = nullptr;
};

template <typename T>
Model<T>::Model(Backend<T>& backend, const ModelConfig& config)
    : backend_(backend), config_(config) {
  config_.validate();
  specs_ = parameter_specs(config_);
  num_params_ = parameter_count(config_);
  params_ = backend_.alloc(num_params_);
  grads_ = backend_.alloc(num_params_);
  weights_ = std::make_unique<Weights>();
  weight_grads_ = std::make_unique<Weights>();
  bind_weights(params_, *weights_);
  bind_weights(grads_, *weight_grads_);
  acts_ = std::make_unique<Activations>();
  decode_ = std::make_unique<DecodeBuffers>();
  packed_ = std::make_unique<PackedWeights>();
}

template <typename T>
Model<T>::~Model() {
  backend_.free(params_);
  backend_.free(grads_);
  backend_.free(acts_->block);
  backend_.free(acts_->inputs);
  backend_.free(decode_->block);
  backend_.free(decode_->tokens);
  backend_.free(packed_->block);
}

template <typename T>
void Model<T>::bind_weights(T* base, Weights& w) const {
  // parameter_specs order: embed; per layer norm1 q k v o norm2 gate up down; norm; lm_head.
  size_t i = 0;
  auto next = [&] { return base + specs_[i++].offset; };
  w.embed = next();
  w.layers.resize(config_.num_hidden_layers);
  for (auto& layer : w.layers) {
    layer.norm1 = next();
    layer.wq = next();
    layer.wk = next();
    layer.wv = next();
    layer.wo = next();
    layer.norm2 = next();
    layer.gate = next();
    layer.up = next();
    layer.down = next();
  }
  w.norm_final = next();
  w.lm_head = config_.tie_word_embeddings ? w.embed : next();
}

template <typename T>
void Model<T>::init_weights(uint64_t seed, double std) {
  std::mt19937_64 rng(seed);
  std::vector<T> host(num_params_);
  const double residual_std = std / std::sqrt(2.0 * config_.num_hidden_layers);
  for (const auto& spec : specs_) {
    const bool is_norm = spec.shape.size() == 1;
    const bool residual_output =
        spec.name.ends_with("o_proj.weight") || spec.name.ends_with("down_proj.weight");
    std::normal_distribution<double> normal(0.0, residual_output ? residual_std : std);
    for (size_t j = 0; j < spec.size; ++j) {
      host[spec.offset + j] = is_norm ? T(1) : static_cast<T>(normal(rng));
    }
  }
  set_params(host);
}

template <typename T>
void Model<T>::set_params(std::span<const T> host) {
  if (host.size() != num_params_) {
    throw Error(
        fmt::format("parameter array has {} values; the model has {}", host.size(), num_params_));
  }
  backend_.upload(params_, host.data(), num_params_);
  params_changed();
}

template <typename T>
std::vector<T> Model<T>::get_params() {
  std::vector<T> host(num_params_);
  backend_.download(host.data(), params_, num_params_);
  return host;
}

template <typename T>
void Model<T>::zero_grad() {
  backend_.zero(grads_, num_params_);
}

template <typename T>
void Model<T>::check_tokens(const TokenId* ids, size_t n, bool allow_negative,
                            const char* what) const {
  for (size_t i = 0; i < n; ++i) {
    if ((ids[i] < 0 && !allow_negative) || ids[i] >= config_.vocab_size) {
      throw Error(fmt::format("{} token {} at index {} is outside the vocabulary [0, {})", what,
                              ids[i], i, config_.vocab_size));
    }
  }
}

template <typename T>
void Model<T>::ensure_activations(int batch, int seq) {
  Activations& a = *acts_;
  if (a.batch == batch && a.seq == seq) return;
  const size_t n = static_cast<size_t>(batch) * seq;
  const size_t c = config_.hidden_size, f = config_.intermediate_size, v = config_.vocab_size;
  const size_t qd = static_cast<size_t>(config_.num_attention_heads) * config_.head_dim();
  const size_t kvd = config_.kv_dim();
  const size_t att = static_cast<size_t>(batch) * config_.num_attention_heads * seq * seq;
  const size_t per_layer = n * (4 * c + qd * 2 + kvd * 2 + 3 * f + 2) + att;
  const size_t total = per_layer * config_.num_hidden_layers + n * (3 * c + v + 3) +
                       n * (2 * c + 2 * qd + 2 * kvd + 3 * f) + att;
  backend_.free(a.block);
  backend_.free(a.inputs);
  a.block = backend_.alloc(total);
  a.inputs = backend_.alloc_ids(3 * n);
  a.targets = a.inputs + n;
  a.positions = a.inputs + 2 * n;
  ViewCarver<T> take(a.block);
  a.layers.resize(config_.num_hidden_layers);
  for (auto& l : a.layers) {
    l.residual_in = take(n * c);
    l.xn1 = take(n * c);
    l.rstd1 = take(n);
    l.q = take(n * qd);
    l.k = take(n * kvd);
    l.v = take(n * kvd);
    l.att = take(att);
    l.attn_out = take(n * qd);
    l.residual_mid = take(n * c);
    l.xn2 = take(n * c);
    l.rstd2 = take(n);
    l.gate = take(n * f);
    l.up = take(n * f);
    l.hidden = take(n * f);
  }
  a.residual_final = take(n * c);
  a.xn_final = take(n * c);
  a.rstd_final = take(n);
  a.logits = take(n * v);
  a.logprobs = take(n);
  a.weights = take(n);
  a.projection = take(n * c);
  a.d_residual = take(n * c);
  a.d_xn = take(n * c);
  a.d_q = take(n * qd);
  a.d_k = take(n * kvd);
  a.d_v = take(n * kvd);
  a.d_attn_out = take(n * qd);
  a.d_att = take(att);
  a.d_gate = take(n * f);
  a.d_up = take(n * f);
  a.d_hidden = take(n * f);
  a.batch = batch;
  a.seq = seq;
  std::vector<TokenId> positions(n);
  for (size_t i = 0; i < n; ++i) positions[i] = static_cast<TokenId>(i % seq);
  backend_.upload_ids(a.positions, positions.data(), n);
}

template <typename T>
double Model<T>::forward(const TokenId* inputs, const TokenId* targets, const T* weights, int batch,
                         int seq) {
  if (batch < 1 || seq < 1) throw Error(fmt::format("empty batch ({} x {})", batch, seq));
  if (seq > config_.max_position_embeddings) {
    throw Error(fmt::format("sequence length {} exceeds max_position_embeddings = {}", seq,
                            config_.max_position_embeddings));
  }
  const int n = batch * seq;
  check_tokens(inputs, n, false, "input");
  check_tokens(targets, n, true, "target");
  ensure_activations(batch, seq);
  Activations& a = *acts_;
  const Weights& w = *weights_;
  const ModelConfig& cfg = config_;
  const int c = cfg.hidden_size, f = cfg.intermediate_size, hd = cfg.head_dim();
  const int heads = cfg.num_attention_heads, kv_heads = cfg.num_key_value_heads;
  const int qd = heads * hd, kvd = cfg.kv_dim();
  Backend<T>& be = backend_;

  be.upload_ids(a.inputs, inputs, n);
  be.upload_ids(a.targets, targets, n);
  be.upload(a.weights, weights, n);
  be.embedding_forward(a.layers[0].residual_in, a.inputs, w.embed, n, c);
  for (int i = 0; i < cfg.num_hidden_layers; ++i) {
    auto& l = a.layers[i];
    const auto& lw = w.layers[i];
    be.rmsnorm_forward(l.xn1, l.rstd1, l.residual_in, lw.norm1, n, c, cfg.rms_norm_eps);
    be.matmul_forward(l.q, l.xn1, lw.wq, n, c, qd);
    be.matmul_forward(l.k, l.xn1, lw.wk, n, c, kvd);
    be.matmul_forward(l.v, l.xn1, lw.wv, n, c, kvd);
    be.rope_forward(l.q, a.positions, n, heads, hd, cfg.rope_theta);
    be.rope_forward(l.k, a.positions, n, kv_heads, hd, cfg.rope_theta);
    be.attention_forward(l.attn_out, l.att, l.q, l.k, l.v, batch, seq, heads, kv_heads, hd);
    be.matmul_forward(a.projection, l.attn_out, lw.wo, n, qd, c);
    be.add(l.residual_mid, l.residual_in, a.projection, static_cast<size_t>(n) * c);
    be.rmsnorm_forward(l.xn2, l.rstd2, l.residual_mid, lw.norm2, n, c, cfg.rms_norm_eps);
    be.matmul_forward(l.gate, l.xn2, lw.gate, n, c, f);
    be.matmul_forward(l.up, l.xn2, lw.up, n, c, f);
    be.swiglu_forward(l.hidden, l.gate, l.up, static_cast<size_t>(n) * f);
    be.matmul_forward(a.projection, l.hidden, lw.down, n, f, c);
    T* next = i + 1 < cfg.num_hidden_layers ? a.layers[i + 1].residual_in : a.residual_final;
    be.add(next, l.residual_mid, a.projection, static_cast<size_t>(n) * c);
  }
  be.rmsnorm_forward(a.xn_final, a.rstd_final, a.residual_final, w.norm_final, n, c,
                     cfg.rms_norm_eps);
  be.matmul_forward(a.logits, a.xn_final, w.lm_head, n, c, cfg.vocab_size);
  be.token_logprobs(a.logprobs, a.logits, a.targets, n, cfg.vocab_size);
  logprobs_host_.resize(n);
  be.download(logprobs_host_.data(), a.logprobs, n);
  a.backward_ready = true;
  double loss = 0;
  for (int i = 0; i < n; ++i) loss -= static_cast<double>(weights[i]) * logprobs_host_[i];
  return loss;
}

template <typename T>
double Model<T>::set_token_weights(const T* weights) {
  Activations& a = *acts_;
  if (!a.backward_ready) {
    throw std::logic_error("Model::set_token_weights() without a forward() before it");
  }
  const int n = a.batch * a.seq;
  backend_.upload(a.weights, weights, n);
  double loss = 0;
  for (int i = 0; i < n; ++i) loss -= static_cast<double>(weights[i]) * logprobs_host_[i];
  return loss;
}

template <typename T>
std::vector<T> Model<T>::logits() {
  const size_t count = static_cast<size_t>(acts_->batch) * acts_->seq * config_.vocab_size;
  std::vector<T> host(count);
  backend_.download(host.data(), acts_->logits, count);
  return host;
}

template <typename T>
void Model<T>::backward(GradientListener* listener) {
  Activations& a = *acts_;
  if (!a.backward_ready) throw std::logic_error("Model::backward() without a forward() before it");
  const Weights& w = *weights_;
  const Weights& dw = *weight_grads_;
  const ModelConfig& cfg = config_;
  const int batch = a.batch, seq = a.seq, n = batch * seq;
  const int c = cfg.hidden_size, f = cfg.intermediate_size, hd = cfg.head_dim();
  const int heads = cfg.num_attention_heads, kv_heads = cfg.num_key_value_heads;
  const int qd = heads * hd, kvd = cfg.kv_dim();
  const size_t nc = static_cast<size_t>(n) * c, nf = static_cast<size_t>(n) * f;
  Backend<T>& be = backend_;
  auto final_from = [&](const T* first_grad) {
    if (listener != nullptr)
      listener->gradients_final_from(static_cast<size_t>(first_grad - grads_));
  };

  // d loss / d logits, in place over the logits.
  be.weighted_cross_entropy_backward(a.logits, a.targets, a.weights, n, cfg.vocab_size);
  be.zero(a.d_xn, nc);
  be.matmul_backward(a.d_xn, dw.lm_head, a.logits, a.xn_final, w.lm_head, n, c, cfg.vocab_size);
  be.zero(a.d_residual, nc);
  be.rmsnorm_backward(a.d_residual, dw.norm_final, a.d_xn, a.residual_final, w.norm_final,
                      a.rstd_final, n, c);
  // The final norm and an untied lm_head; a tied one is the embedding table,
  // which the embedding's backward adds to last.
  final_from(dw.norm_final);
  for (int i = cfg.num_hidden_layers - 1; i >= 0; --i) {
    auto& l = a.layers[i];
    const auto& lw = w.layers[i];
    const auto& lg = dw.layers[i];
    // MLP branch: residual_out = residual_mid + down(swiglu(gate(xn2), up(xn2))).
    be.zero(a.d_hidden, nf);
    be.matmul_backward(a.d_hidden, lg.down, a.d_residual, l.hidden, lw.down, n, f, c);
    be.zero(a.d_gate, nf);
    be.zero(a.d_up, nf);
    be.swiglu_backward(a.d_gate, a.d_up, a.d_hidden, l.gate, l.up, nf);
    be.zero(a.d_xn, nc);
    be.matmul_backward(a.d_xn, lg.gate, a.d_gate, l.xn2, lw.gate, n, c, f);
    be.matmul_backward(a.d_xn, lg.up, a.d_up, l.xn2, lw.up, n, c, f);
    be.rmsnorm_backward(a.d_residual, lg.norm2, a.d_xn, l.residual_mid, lw.norm2, l.rstd2, n, c);
    // Attention branch: residual_mid = residual_in + o_proj(attention(rope(q), rope(k), v)).
    be.zero(a.d_attn_out, static_cast<size_t>(n) * qd);
    be.matmul_backward(a.d_attn_out, lg.wo, a.d_residual, l.attn_out, lw.wo, n, qd, c);
    be.zero(a.d_q, static_cast<size_t>(n) * qd);
    be.zero(a.d_k, static_cast<size_t>(n) * kvd);
    be.zero(a.d_v, static_cast<size_t>(n) * kvd);
    be.attention_backward(a.d_q, a.d_k, a.d_v, a.d_att, a.d_attn_out, l.att, l.q, l.k, l.v, batch,
                          seq, heads, kv_heads, hd);
    be.rope_backward(a.d_q, a.positions, n, heads, hd, cfg.rope_theta);
    be.rope_backward(a.d_k, a.positions, n, kv_heads, hd, cfg.rope_theta);
    be.zero(a.d_xn, nc);
    be.matmul_backward(a.d_xn, lg.wq, a.d_q, l.xn1, lw.wq, n, c, qd);
    be.matmul_backward(a.d_xn, lg.wk, a.d_k, l.xn1, lw.wk, n, c, kvd);
    be.matmul_backward(a.d_xn, lg.wv, a.d_v, l.xn1, lw.wv, n, c, kvd);
    be.rmsnorm_backward(a.d_residual, lg.norm1, a.d_xn, l.residual_in, lw.norm1, l.rstd1, n, c);
    final_from(lg.norm1);  // a layer's first parameter
  }
  be.embedding_backward(dw.embed, a.inputs, a.d_residual, n, c);
  final_from(dw.embed);
  // The logits now hold their gradient; a second backward() would be wrong.
  a.backward_ready = false;
  // An optimizer step follows, through params().
  params_changed();
}

template class Model<float>;
template class Model<double>;

}  // namespace ponder
