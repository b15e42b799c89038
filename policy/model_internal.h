// What model.cc (training) and model_decode.cc (decoding) share: the views
// into the model's flat blocks. Not part of the model's interface.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "policy/model.h"

namespace ponder {

// Hands out consecutive views of one flat allocation: take(n) is the next n values.
template <typename T>
class ViewCarver {
 public:
  explicit ViewCarver(T* base) : next_(base) {}
  T* operator()(size_t count) {
    T* view = next_;
    next_ += count;
    return view;
  }

 private:
  T* next_;
};

// Per-tensor views into a flat parameter (or gradient) array.
template <typename T>
struct Model<T>::Weights {
  T* embed = nullptr;
  struct Layer {
    T *norm1, *wq, *wk, *wv, *wo, *norm2, *gate, *up, *down;
  };
  std::vector<Layer> layers;
  T* norm_final = nullptr;
  T* lm_head = nullptr;  // == embed when tied
};

// Decoding's packed copies of the matmul weights (Backend::pack_weight), made
// from the parameters of version `version`.
template <typename T>
struct Model<T>::PackedWeights {
  uint64_t version = 0;  // 0: not made yet
  T* block = nullptr;
  struct Layer {
    T *wq, *wk, *wv, *wo, *gate, *up, *down;
  };
  std::vector<Layer> layers;
  T* lm_head = nullptr;
};

// Buffers of one decode call at capacity n entries.
template <typename T>
struct Model<T>::DecodeBuffers {
  int capacity = 0;
  T* block = nullptr;
  T *x, *xn, *rstd, *q, *k, *v, *attn_out, *projection, *gate, *up, *hidden, *logits;
  TokenId *tokens = nullptr, *rows = nullptr, *positions = nullptr;
};

// Bounds of at most `parts` contiguous ranges of decode entries
// [0, rows.size()) (rows[i] is entry i's cache row, < cache_rows), with at
// least `min_entries` each, cut only where no cache row has entries on both
// sides: a row's entries read each other's keys and values.
std::vector<int> split_by_rows(std::span<const int> rows, int cache_rows, int parts,
                               int min_entries);

}  // namespace ponder
