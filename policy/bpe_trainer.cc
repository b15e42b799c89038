#include "policy/bpe_trainer.h"

#include <algorithm>
#include <queue>
#include <vector>

#include <fmt/format.h>

#include "policy/error.h"

namespace ponder {
namespace {

using Pair = uint64_t;  // (left id << 32) | right id

Pair make_pair_key(TokenId a, TokenId b) {
  return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b);
}

struct Word {
  std::vector<TokenId> symbols;
  int64_t count;
};

// Max-heap entry; a popped entry whose count no longer matches the live count
// is stale and gets re-queued with the live count (lazy deletion).
struct QueuedPair {
  int64_t count;
  Pair pair;
  bool operator<(const QueuedPair& o) const {
    return count != o.count ? count < o.count : pair > o.pair;  // ties: smaller pair first
  }
};

}  // namespace

BpeTrainer::BpeTrainer(std::string pattern) : pretokenizer_(std::move(pattern)) {}

void BpeTrainer::add_text(std::string_view text) {
  stats_.input_bytes += text.size();
  pretokenizer_.split(text, [&](std::string_view piece) {
    ++stats_.pieces;
    auto it = piece_counts_.find(piece);
    if (it == piece_counts_.end()) {
      piece_counts_.emplace(std::string(piece), 1);
    } else {
      ++it->second;
    }
  });
  stats_.unique_pieces = piece_counts_.size();
}

Tokenizer BpeTrainer::train(int vocab_size, const std::function<void(int, int)>& on_merge) {
  if (vocab_size < kMinVocabSize || vocab_size > kMaxVocabSize) {
    throw Error(fmt::format(
        "vocab_size = {} is out of range; expected {}..{} (256 bytes + {} special tokens at least)",
        vocab_size, kMinVocabSize, kMaxVocabSize, kNumSpecialTokens));
  }
  if (stats_.input_bytes == 0) throw Error("the tokenizer's training text is empty");

  std::vector<Word> words;
  words.reserve(piece_counts_.size());
  for (const auto& [piece, count] : piece_counts_) {
    if (piece.size() < 2) continue;  // a single byte has no pair to merge
    Word w{{}, static_cast<int64_t>(count)};
    for (unsigned char c : piece) w.symbols.push_back(c);
    words.push_back(std::move(w));
  }

  std::unordered_map<Pair, int64_t> pair_counts;
  std::unordered_map<Pair, std::vector<uint32_t>> words_with_pair;  // may hold repeats
  for (uint32_t w = 0; w < words.size(); ++w) {
    const auto& s = words[w].symbols;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      const Pair p = make_pair_key(s[i], s[i + 1]);
      pair_counts[p] += words[w].count;
      words_with_pair[p].push_back(w);
    }
  }
  std::priority_queue<QueuedPair> queue;
  for (const auto& [pair, count] : pair_counts) queue.push({count, pair});

  const int total = vocab_size - kMinVocabSize;
  std::vector<std::pair<TokenId, TokenId>> merges;
  merges.reserve(total);
  std::unordered_map<Pair, int64_t> delta;  // count changes made by one merge
  while (static_cast<int>(merges.size()) < total && !queue.empty()) {
    const QueuedPair top = queue.top();
    queue.pop();
    const int64_t live = pair_counts[top.pair];
    if (live != top.count) {
      if (live > 0) queue.push({live, top.pair});
      continue;
    }
    if (live <= 0) break;
    const auto a = static_cast<TokenId>(top.pair >> 32);
    const auto b = static_cast<TokenId>(top.pair & 0xFFFFFFFF);
    const TokenId merged = 256 + static_cast<TokenId>(merges.size());
    merges.emplace_back(a, b);

    delta.clear();
    std::vector<uint32_t> holders = std::move(words_with_pair[top.pair]);
    words_with_pair.erase(top.pair);
    std::sort(holders.begin(), holders.end());
    holders.erase(std::unique(holders.begin(), holders.end()), holders.end());
    for (uint32_t w : holders) {
      auto& s = words[w].symbols;
      const int64_t count = words[w].count;
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        if (s[i] != a || s[i + 1] != b) continue;
        if (i > 0) {
          delta[make_pair_key(s[i - 1], a)] -= count;
          delta[make_pair_key(s[i - 1], merged)] += count;
          words_with_pair[make_pair_key(s[i - 1], merged)].push_back(w);
        }
        if (i + 2 < s.size()) {
          delta[make_pair_key(b, s[i + 2])] -= count;
          delta[make_pair_key(merged, s[i + 2])] += count;
          words_with_pair[make_pair_key(merged, s[i + 2])].push_back(w);
        }
        delta[top.pair] -= count;
        s[i] = merged;
        s.erase(s.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      }
    }
    for (const auto& [pair, change] : delta) {
      int64_t& count = pair_counts[pair];
      count += change;
      if (change > 0) queue.push({count, pair});
    }
    if (on_merge) on_merge(static_cast<int>(merges.size()), total);
  }
  stats_.merges = static_cast<int>(merges.size());
  stats_.exhausted = static_cast<int>(merges.size()) < total;
  return Tokenizer(merges, pretokenizer_.pattern());
}

}  // namespace ponder
