// The word list behind the count family: real English words, split into
// train and eval so that no word is in both.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "curricula/task.h"

namespace ponder {

// Debian's wamerican list, installed by scripts/setup.
inline constexpr const char* kDefaultWordsFile = "/usr/share/dict/words";

class WordList {
 public:
  // Reads one word per line and keeps the lines made only of 'a'-'z' (no
  // capitals, apostrophes or accents; "\r\n" endings are fine), without
  // duplicates. A word is eval iff fnv1a64(word) % 10 == 0 (the rule of
  // key_in_split), else train. Throws ponder::Error naming the file when it
  // is missing or unreadable, or when either split would be empty.
  static WordList load(const std::filesystem::path& file);

  // The words of a split, sorted; never empty.
  const std::vector<std::string>& words(Split split) const {
    return split == Split::kTrain ? train_ : eval_;
  }

 private:
  std::vector<std::string> train_, eval_;
};

}  // namespace ponder
