// Decode calls in tests: one call's entries, and the logits they give.
#pragma once

#include <vector>

#include "policy/model.h"

namespace ponder {

struct Entries {
  std::vector<int> rows, positions;
  std::vector<TokenId> tokens;
  void add(int row, int position, TokenId token) {
    rows.push_back(row);
    positions.push_back(position);
    tokens.push_back(token);
  }
};

inline std::vector<float> decode(Model<float>& model, KvCache<float>& cache, const Entries& e) {
  std::vector<float> logits(e.tokens.size() * model.config().vocab_size);
  model.decode(cache, e.rows, e.positions, e.tokens, logits.data());
  return logits;
}

}  // namespace ponder
