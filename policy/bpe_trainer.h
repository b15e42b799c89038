// BpeTrainer: learns byte-level BPE merges from text.
//
// Usage: add_text() any number of times (each call pre-tokenizes and counts
// pieces), then train(vocab_size). Training repeatedly merges the most frequent
// adjacent pair, counting each piece with its frequency; ties go to the pair
// of smaller ids, so a run is deterministic whatever order text arrived in.
// Pair counts are updated incrementally (only the pieces holding the merged
// pair are touched), which is what makes 10 MB -> 4096 tokens take seconds.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "policy/pretokenizer.h"
#include "policy/tokenizer.h"

namespace ponder {

struct BpeTrainingStats {
  uint64_t input_bytes = 0;
  uint64_t pieces = 0;         // pre-tokenized pieces, with repeats
  uint64_t unique_pieces = 0;  // distinct pieces (the words BPE works on)
  int merges = 0;              // merges learned
  bool exhausted = false;      // the text ran out of pairs before vocab_size
};

class BpeTrainer {
 public:
  explicit BpeTrainer(std::string pattern);

  void add_text(std::string_view text);

  // Learns merges up to `vocab_size` tokens (256 bytes + merges + the special
  // tokens). Throws ponder::Error when vocab_size is outside
  // [kMinVocabSize, kMaxVocabSize] or no text was added. `on_merge(done,
  // total)` is called after each merge, for progress display.
  Tokenizer train(int vocab_size, const std::function<void(int, int)>& on_merge = {});

  const BpeTrainingStats& stats() const { return stats_; }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  Pretokenizer pretokenizer_;
  std::unordered_map<std::string, uint64_t, Hash, std::equal_to<>> piece_counts_;
  BpeTrainingStats stats_;
};

}  // namespace ponder
