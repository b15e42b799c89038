#include "policy/tokenizer.h"

#include <algorithm>
#include <atomic>
#include <unordered_map>

#include <fmt/format.h>

#include "policy/error.h"

namespace ponder {

// Open-addressing map from an adjacent id pair to its merge rank: the lookup
// in the innermost loop of encoding, so it avoids std::unordered_map's nodes.
class Tokenizer::PairRanks {
 public:
  explicit PairRanks(const std::vector<std::pair<TokenId, TokenId>>& merges) {
    size_t capacity = 16;
    while (capacity < merges.size() * 2) capacity *= 2;
    mask_ = capacity - 1;
    slots_.assign(capacity, Slot{kEmpty, 0});
    for (size_t r = 0; r < merges.size(); ++r) {
      const uint64_t key = pack(merges[r].first, merges[r].second);
      size_t i = hash(key) & mask_;
      while (slots_[i].key != kEmpty && slots_[i].key != key) i = (i + 1) & mask_;
      // A duplicate pair keeps its first (lowest) rank; later ranks are unreachable.
      if (slots_[i].key == kEmpty) slots_[i] = Slot{key, static_cast<uint32_t>(r)};
    }
  }

  // The rank of merging (a, b), or kNone.
  uint32_t rank(TokenId a, TokenId b) const {
    const uint64_t key = pack(a, b);
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return slots_[i].rank;
      if (slots_[i].key == kEmpty) return kNone;
    }
  }

  static constexpr uint32_t kNone = UINT32_MAX;

 private:
  struct Slot {
    uint64_t key;
    uint32_t rank;
  };
  static constexpr uint64_t kEmpty = UINT64_MAX;
  static uint64_t pack(TokenId a, TokenId b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  static size_t hash(uint64_t key) { return (key * 0x9E3779B97F4A7C15ull) >> 20; }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

// Per-thread memo of encoded pieces; natural text repeats its words, so most
// pieces skip the merge loop. Bounded: cleared when it grows past kMaxEntries.
struct Tokenizer::PieceCache {
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  static constexpr size_t kMaxEntries = 1 << 16;
  uint64_t owner = 0;
  std::unordered_map<std::string, std::vector<TokenId>, Hash, std::equal_to<>> pieces;
};

namespace {
std::atomic<uint64_t> next_serial{1};
// Pieces this long are rare and often adversarial (whitespace or letter runs);
// caching them would only evict useful entries.
constexpr size_t kMaxCachedPieceBytes = 64;
}  // namespace

Tokenizer::Tokenizer(const std::vector<std::pair<TokenId, TokenId>>& merges, std::string pattern)
    : merges_(merges),
      ranks_(std::make_shared<PairRanks>(merges)),
      pretokenizer_(std::move(pattern)),
      serial_(next_serial++) {
  if (256 + merges.size() + kNumSpecialTokens > static_cast<size_t>(kMaxVocabSize)) {
    throw Error(fmt::format("{} merges make a vocabulary above the limit of {}", merges.size(),
                            kMaxVocabSize));
  }
  token_bytes_.reserve(256 + merges.size());
  for (int b = 0; b < 256; ++b) token_bytes_.emplace_back(1, static_cast<char>(b));
  for (size_t r = 0; r < merges.size(); ++r) {
    const auto [a, b] = merges[r];
    const auto defined = static_cast<TokenId>(token_bytes_.size());
    if (a < 0 || b < 0 || a >= defined || b >= defined) {
      throw Error(fmt::format("merge {} joins ids ({}, {}) but only ids below {} exist yet", r, a,
                              b, defined));
    }
    token_bytes_.push_back(token_bytes_[a] + token_bytes_[b]);
  }
}

Tokenizer::PieceCache& Tokenizer::thread_cache() const {
  thread_local PieceCache cache;
  if (cache.owner != serial_) {
    cache.pieces.clear();
    cache.owner = serial_;
  }
  return cache;
}

void Tokenizer::encode_piece(std::string_view piece, std::vector<TokenId>& out) const {
  if (piece.size() == 1) {
    out.push_back(static_cast<unsigned char>(piece[0]));
    return;
  }
  // Symbols form a linked list over the piece's bytes; a heap holds candidate
  // merges ordered by (rank, position), as in HF's BPE. Stale candidates (a
  // side already merged away) are skipped when popped.
  struct Symbol {
    TokenId id;
    int prev, next;  // -1 = none
  };
  struct Candidate {
    uint32_t rank;
    int left;
    TokenId left_id, right_id;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : left > o.left;
    }
  };
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<Candidate> heap;  // a min-heap via std::push_heap/pop_heap
  symbols.clear();
  heap.clear();
  const int n = static_cast<int>(piece.size());
  for (int i = 0; i < n; ++i) {
    symbols.push_back(Symbol{static_cast<unsigned char>(piece[i]), i - 1, i + 1 < n ? i + 1 : -1});
  }
  auto consider = [&](int left) {
    const int right = symbols[left].next;
    if (right < 0) return;
    const uint32_t rank = ranks_->rank(symbols[left].id, symbols[right].id);
    if (rank == PairRanks::kNone) return;
    heap.push_back({rank, left, symbols[left].id, symbols[right].id});
    std::push_heap(heap.begin(), heap.end(), std::greater<>{});
  };
  for (int i = 0; i + 1 < n; ++i) consider(i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>{});
    const Candidate c = heap.back();
    heap.pop_back();
    Symbol& left = symbols[c.left];
    if (left.id != c.left_id || left.next < 0) continue;  // left side merged away
    Symbol& right = symbols[left.next];
    if (right.id != c.right_id) continue;  // right side changed
    left.id = 256 + static_cast<TokenId>(c.rank);
    right.id = -1;  // dead
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = c.left;
    if (left.prev >= 0) consider(left.prev);
    consider(c.left);
  }
  for (int i = 0; i >= 0; i = symbols[i].next) out.push_back(symbols[i].id);
}

void Tokenizer::encode_append(std::string_view text, std::vector<TokenId>& out) const {
  PieceCache& cache = thread_cache();
  pretokenizer_.split(text, [&](std::string_view piece) {
    if (piece.size() > kMaxCachedPieceBytes) {
      encode_piece(piece, out);
      return;
    }
    if (auto hit = cache.pieces.find(piece); hit != cache.pieces.end()) {
      out.insert(out.end(), hit->second.begin(), hit->second.end());
      return;
    }
    const size_t start = out.size();
    encode_piece(piece, out);
    if (cache.pieces.size() >= PieceCache::kMaxEntries) cache.pieces.clear();
    cache.pieces.emplace(std::string(piece), std::vector<TokenId>(out.begin() + start, out.end()));
  });
}

std::vector<TokenId> Tokenizer::encode(std::string_view text) const {
  std::vector<TokenId> ids;
  ids.reserve(text.size() / 3 + 1);
  encode_append(text, ids);
  return ids;
}

std::string_view Tokenizer::token_text(TokenId id) const {
  if (id < 0 || id >= vocab_size()) {
    throw Error(fmt::format("token id {} is out of range; expected 0..{}", id, vocab_size() - 1));
  }
  if (is_special(id)) return kSpecialTokens[id - first_special_id()];
  return token_bytes_[id];
}

std::string Tokenizer::decode(std::span<const TokenId> ids) const {
  std::string text;
  for (TokenId id : ids) text += token_text(id);
  return text;
}

}  // namespace ponder
