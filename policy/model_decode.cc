// Model::decode and KvCache: the decoding half of policy/model.h.
#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "policy/error.h"
#include "policy/model.h"
#include "policy/model_internal.h"

namespace ponder {
namespace {

// Decoding tasks take at least this many entries: each task streams every
// weight matrix, so below this the columns of each matmul are split instead.
constexpr int kMinEntriesPerTask = 16;

}  // namespace

std::vector<int> split_by_rows(std::span<const int> rows, int cache_rows, int parts,
                               int min_entries) {
  const int n = static_cast<int>(rows.size());
  parts = std::max(1, std::min(parts, n / min_entries));
  std::vector<int> last(cache_rows, -1);
  for (int i = 0; i < n; ++i) last[rows[i]] = i;
  std::vector<bool> can_cut(n + 1, false);
  for (int i = 0, reach = -1; i < n; ++i) {
    reach = std::max(reach, last[rows[i]]);
    can_cut[i + 1] = reach == i;
  }
  std::vector<int> bounds = {0};
  for (int t = 1; t < parts; ++t) {
    int cut = std::max(t * n / parts, bounds.back() + 1);
    while (cut < n && !can_cut[cut]) ++cut;
    if (cut < n) bounds.push_back(cut);
  }
  bounds.push_back(n);
  return bounds;
}

template <typename T>
void Model<T>::pack_weights() {
  const ModelConfig& cfg = config_;
  const int c = cfg.hidden_size, f = cfg.intermediate_size, vocab = cfg.vocab_size;
  const int qd = cfg.num_attention_heads * cfg.head_dim(), kvd = cfg.kv_dim();
  Backend<T>& be = backend_;
  PackedWeights& p = *packed_;
  if (p.block == nullptr) {
    const size_t per_layer = be.packed_weight_size(c, qd) + 2 * be.packed_weight_size(c, kvd) +
                             be.packed_weight_size(qd, c) + 2 * be.packed_weight_size(c, f) +
                             be.packed_weight_size(f, c);
    p.block = be.alloc(per_layer * cfg.num_hidden_layers + be.packed_weight_size(c, vocab));
    ViewCarver<T> take(p.block);
    p.layers.resize(cfg.num_hidden_layers);
    for (auto& l : p.layers) {
      l.wq = take(be.packed_weight_size(c, qd));
      l.wk = take(be.packed_weight_size(c, kvd));
      l.wv = take(be.packed_weight_size(c, kvd));
      l.wo = take(be.packed_weight_size(qd, c));
      l.gate = take(be.packed_weight_size(c, f));
      l.up = take(be.packed_weight_size(c, f));
      l.down = take(be.packed_weight_size(f, c));
    }
    p.lm_head = take(be.packed_weight_size(c, vocab));
  }
  const Weights& w = *weights_;
  for (int i = 0; i < cfg.num_hidden_layers; ++i) {
    const auto& lw = w.layers[i];
    auto& l = p.layers[i];
    be.pack_weight(l.wq, lw.wq, c, qd);
    be.pack_weight(l.wk, lw.wk, c, kvd);
    be.pack_weight(l.wv, lw.wv, c, kvd);
    be.pack_weight(l.wo, lw.wo, qd, c);
    be.pack_weight(l.gate, lw.gate, c, f);
    be.pack_weight(l.up, lw.up, c, f);
    be.pack_weight(l.down, lw.down, f, c);
  }
  be.pack_weight(p.lm_head, w.lm_head, c, vocab);
  p.version = params_version_;
}

template <typename T>
void Model<T>::decode(KvCache<T>& cache, std::span<const int> rows, std::span<const int> positions,
                      std::span<const TokenId> tokens, T* logits_out) {
  const int n = static_cast<int>(tokens.size());
  if (rows.size() != tokens.size() || positions.size() != tokens.size()) {
    throw std::logic_error("Model::decode: rows, positions and tokens differ in length");
  }
  if (n == 0) return;
  check_tokens(tokens.data(), n, false, "decode");
  for (int i = 0; i < n; ++i) {
    if (rows[i] < 0 || rows[i] >= cache.rows()) {
      throw Error(
          fmt::format("decode row {} is outside the cache's {} rows", rows[i], cache.rows()));
    }
    if (positions[i] < 0 || positions[i] >= cache.max_positions() ||
        positions[i] >= config_.max_position_embeddings) {
      throw Error(
          fmt::format("decode position {} exceeds the limit ({} cache positions, "
                      "max_position_embeddings = {})",
                      positions[i], cache.max_positions(), config_.max_position_embeddings));
    }
  }
  const ModelConfig& cfg = config_;
  const int c = cfg.hidden_size, f = cfg.intermediate_size, vocab = cfg.vocab_size;
  const int qd = cfg.num_attention_heads * cfg.head_dim(), kvd = cfg.kv_dim();
  Backend<T>& be = backend_;
  DecodeBuffers& d = *decode_;
  if (d.capacity < n) {
    const size_t cap = static_cast<size_t>(n);
    be.free(d.block);
    be.free(d.tokens);
    d.block = be.alloc(cap * (3 * c + 2 * qd + 2 * kvd + 3 * f + vocab + 1));
    d.tokens = be.alloc_ids(3 * cap);
    d.rows = d.tokens + cap;
    d.positions = d.tokens + 2 * cap;
    ViewCarver<T> take(d.block);
    d.x = take(cap * c);
    d.xn = take(cap * c);
    d.rstd = take(cap);
    d.q = take(cap * qd);
    d.k = take(cap * kvd);
    d.v = take(cap * kvd);
    d.attn_out = take(cap * qd);
    d.projection = take(cap * c);
    d.gate = take(cap * f);
    d.up = take(cap * f);
    d.hidden = take(cap * f);
    d.logits = take(cap * vocab);
    d.capacity = n;
  }
  be.upload_ids(d.tokens, tokens.data(), n);
  be.upload_ids(d.rows, rows.data(), n);
  be.upload_ids(d.positions, positions.data(), n);
  if (packed_->version != params_version_) pack_weights();
  // Entries are independent apart from a row's entries, which read each
  // other's keys and values: tasks take whole rows and each runs every layer,
  // with no thread waiting on another until the end.
  const std::vector<int> bounds =
      split_by_rows(rows, cache.rows(), be.task_slots(), kMinEntriesPerTask);
  const int tasks = static_cast<int>(bounds.size()) - 1;
  if (tasks == 1) {
    decode_entries(cache, 0, n);  // its ops spread over the threads themselves
  } else {
    be.run_tasks(tasks, [&](int t) { decode_entries(cache, bounds[t], bounds[t + 1]); });
  }
  be.download(logits_out, d.logits, static_cast<size_t>(n) * vocab);
}

template <typename T>
void Model<T>::decode_entries(KvCache<T>& cache, int first, int last) {
  const ModelConfig& cfg = config_;
  const int c = cfg.hidden_size, f = cfg.intermediate_size, hd = cfg.head_dim();
  const int heads = cfg.num_attention_heads, kv_heads = cfg.num_key_value_heads;
  const int qd = heads * hd, kvd = cfg.kv_dim(), vocab = cfg.vocab_size;
  const int n = last - first, max_pos = cache.max_positions();
  const size_t e = first, nc = static_cast<size_t>(n) * c;
  Backend<T>& be = backend_;
  const DecodeBuffers& d = *decode_;
  T *x = d.x + e * c, *xn = d.xn + e * c, *rstd = d.rstd + e;
  T *q = d.q + e * qd, *k = d.k + e * kvd, *v = d.v + e * kvd, *attn_out = d.attn_out + e * qd;
  T *projection = d.projection + e * c, *logits = d.logits + e * vocab;
  T *gate = d.gate + e * f, *up = d.up + e * f, *hidden = d.hidden + e * f;
  const int *rows = d.rows + e, *positions = d.positions + e;
  const Weights& w = *weights_;
  const PackedWeights& pw = *packed_;
  be.embedding_forward(x, d.tokens + e, w.embed, n, c);
  for (int i = 0; i < cfg.num_hidden_layers; ++i) {
    const auto& lw = w.layers[i];
    const auto& pl = pw.layers[i];
    be.rmsnorm_forward(xn, rstd, x, lw.norm1, n, c, cfg.rms_norm_eps);
    be.matmul_packed(q, xn, pl.wq, n, c, qd);
    be.matmul_packed(k, xn, pl.wk, n, c, kvd);
    be.matmul_packed(v, xn, pl.wv, n, c, kvd);
    be.rope_forward(q, positions, n, heads, hd, cfg.rope_theta);
    be.rope_forward(k, positions, n, kv_heads, hd, cfg.rope_theta);
    be.cache_write(cache.keys_[i], k, rows, positions, n, max_pos, kvd);
    be.cache_write(cache.values_[i], v, rows, positions, n, max_pos, kvd);
    be.attention_cached(attn_out, q, cache.keys_[i], cache.values_[i], rows, positions, n, max_pos,
                        heads, kv_heads, hd);
    be.matmul_packed(projection, attn_out, pl.wo, n, qd, c);
    be.add(x, x, projection, nc);
    be.rmsnorm_forward(xn, rstd, x, lw.norm2, n, c, cfg.rms_norm_eps);
    be.matmul_packed(gate, xn, pl.gate, n, c, f);
    be.matmul_packed(up, xn, pl.up, n, c, f);
    be.swiglu_forward(hidden, gate, up, static_cast<size_t>(n) * f);
    be.matmul_packed(projection, hidden, pl.down, n, f, c);
    be.add(x, x, projection, nc);
  }
  be.rmsnorm_forward(xn, rstd, x, w.norm_final, n, c, cfg.rms_norm_eps);
  be.matmul_packed(logits, xn, pw.lm_head, n, c, vocab);
}

template <typename T>
KvCache<T>::KvCache(Model<T>& model, int rows, int max_positions)
    : backend_(model.backend()),
      rows_(rows),
      max_positions_(max_positions),
      width_(model.config().kv_dim()) {
  // The engine makes a cache for each batch of generation, after any optimizer
  // step: decoding then reads the parameters as they are now.
  model.params_changed();
  if (rows < 1 || max_positions < 1) {
    throw Error(fmt::format("KV cache needs at least 1 row and 1 position (got {} x {})", rows,
                            max_positions));
  }
  const size_t per_layer = static_cast<size_t>(rows) * max_positions * model.config().kv_dim();
  for (int i = 0; i < model.config().num_hidden_layers; ++i) {
    keys_.push_back(backend_.alloc(per_layer));
    values_.push_back(backend_.alloc(per_layer));
  }
}

template <typename T>
void KvCache<T>::copy_prefix(int from, int to, int length) {
  if (from < 0 || from >= rows_ || to < 0 || to >= rows_ || length < 0 || length > max_positions_) {
    throw Error(
        fmt::format("KV cache copy of {} positions from row {} to row {} is out of range "
                    "({} rows x {} positions)",
                    length, from, to, rows_, max_positions_));
  }
  const size_t row = static_cast<size_t>(max_positions_) * width_;
  const size_t count = static_cast<size_t>(length) * width_;
  for (size_t layer = 0; layer < keys_.size(); ++layer) {
    backend_.copy(keys_[layer] + to * row, keys_[layer] + from * row, count);
    backend_.copy(values_[layer] + to * row, values_[layer] + from * row, count);
  }
}

template <typename T>
KvCache<T>::~KvCache() {
  for (T* p : keys_) backend_.free(p);
  for (T* p : values_) backend_.free(p);
}

// model.h declares Model's instantiations extern, so the members defined here
// are instantiated here, one by one.
template void Model<float>::decode(KvCache<float>&, std::span<const int>, std::span<const int>,
                                   std::span<const TokenId>, float*);
template void Model<double>::decode(KvCache<double>&, std::span<const int>, std::span<const int>,
                                    std::span<const TokenId>, double*);
template void Model<float>::decode_entries(KvCache<float>&, int, int);
template void Model<double>::decode_entries(KvCache<double>&, int, int);
template void Model<float>::pack_weights();
template void Model<double>::pack_weights();
template class KvCache<float>;
template class KvCache<double>;

}  // namespace ponder
