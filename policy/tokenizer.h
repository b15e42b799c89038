// Tokenizer: byte-level BPE with atomic special tokens, saved as a Hugging Face
// `tokenizer.json` that the HF `tokenizers` library loads to identical ids.
//
// Id layout (invariants, checked on load):
//   [0, 256)                     one token per byte value, id == byte
//   [256, 256 + merges)          merge r produces id 256 + r
//   [vocab_size - 13, vocab_size) the special tokens, in kSpecialTokens order
//
// Encoding = pre-tokenize by the regex (policy/pretokenizer.h), then in each
// piece repeatedly merge the adjacent pair of lowest merge rank (leftmost on
// ties) — the algorithm of HF's BPE model, so the ids agree.
//
// Safety: `encode` never returns a special id; text spelling "<|end|>" is
// encoded as its bytes. (In HF `tokenizers`, set `encode_special_tokens = True`
// to get the same behaviour for untrusted text.)
//
// Thread-safety: a Tokenizer is immutable after construction; encode/decode may
// run concurrently. Each thread keeps its own cache of encoded pieces.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/pretokenizer.h"
#include "policy/special_tokens.h"

namespace ponder {

class Tokenizer {
 public:
  // `merges[r]` = the pair of ids merged by rank r; both ids must be < 256 + r.
  // Throws ponder::Error when a merge refers to an id not yet defined.
  Tokenizer(const std::vector<std::pair<TokenId, TokenId>>& merges, std::string pattern);

  // Reads a tokenizer.json (a file, or a folder holding one). Throws
  // ponder::Error naming the file and what is wrong: missing, not JSON,
  // truncated, wrong version or type, or an id layout other than the above.
  static Tokenizer load(const std::filesystem::path& file_or_folder);

  // Writes <folder>/tokenizer.json atomically.
  void save(const std::filesystem::path& folder) const;
  std::string to_hf_json() const;

  int vocab_size() const { return static_cast<int>(token_bytes_.size()) + kNumSpecialTokens; }
  int num_merges() const { return static_cast<int>(merges_.size()); }
  // merges()[r] = the ids merge r joins (into id 256 + r).
  const std::vector<std::pair<TokenId, TokenId>>& merges() const { return merges_; }
  const std::string& pattern() const { return pretokenizer_.pattern(); }
  TokenId special_id(Special s) const { return first_special_id() + static_cast<int>(s); }
  bool is_special(TokenId id) const { return id >= first_special_id() && id < vocab_size(); }

  // Appends the ids of `text` to `out`. Never emits a special id.
  void encode_append(std::string_view text, std::vector<TokenId>& out) const;
  std::vector<TokenId> encode(std::string_view text) const;

  // The bytes of `ids`; special ids render as their spelling. Throws
  // ponder::Error for an id outside [0, vocab_size).
  std::string decode(std::span<const TokenId> ids) const;
  // The bytes of one id (a special id gives its spelling).
  std::string_view token_text(TokenId id) const;

 private:
  class PairRanks;
  struct PieceCache;

  TokenId first_special_id() const { return static_cast<TokenId>(token_bytes_.size()); }
  void encode_piece(std::string_view piece, std::vector<TokenId>& out) const;
  PieceCache& thread_cache() const;

  std::vector<std::pair<TokenId, TokenId>> merges_;
  std::vector<std::string> token_bytes_;  // bytes of each non-special id
  std::shared_ptr<const PairRanks> ranks_;
  Pretokenizer pretokenizer_;
  uint64_t serial_;  // identifies this tokenizer to the per-thread caches
};

}  // namespace ponder
