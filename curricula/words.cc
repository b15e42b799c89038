#include "curricula/words.h"

#include <algorithm>
#include <fstream>

#include <fmt/format.h>

#include "policy/error.h"

namespace ponder {

WordList WordList::load(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in || std::filesystem::is_directory(file)) {
    throw Error(fmt::format("words file `{}` not found or unreadable", file.string()));
  }
  std::vector<std::string> all;
  std::string line;
  while (std::getline(in, line)) {
    if (line.ends_with('\r')) line.pop_back();
    if (!line.empty() &&
        std::all_of(line.begin(), line.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
      all.push_back(line);
    }
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  WordList list;
  for (std::string& word : all) {
    (key_in_split(word, Split::kEval) ? list.eval_ : list.train_).push_back(std::move(word));
  }
  if (list.train_.empty() || list.eval_.empty()) {
    throw Error(fmt::format(
        "words file `{}` has {} lower-case alphabetic words ({} train, {} eval); the count "
        "family needs words in both splits (one word per line, a-z only)",
        file.string(), list.train_.size() + list.eval_.size(), list.train_.size(),
        list.eval_.size()));
  }
  return list;
}

}  // namespace ponder
