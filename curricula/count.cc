// The count family: letters in a word, letters of a word, items in a list.
#include <algorithm>

#include <fmt/format.h>

#include "curricula/families.h"

namespace ponder {
namespace {

// A random word of the split whose length lies in [min_len, max_len].
// Rejection keeps the pick uniform within the band without indexing by
// length; every band holds words in both splits of wamerican.
const std::string& word_of_length(const std::vector<std::string>& words, size_t min_len,
                                  size_t max_len, Rng& rng) {
  for (int tries = 0; tries < 100000; ++tries) {
    const std::string& word = rng.pick(words);
    if (word.size() >= min_len && word.size() <= max_len) return word;
  }
  // A tiny custom word list may lack the band: fall back to any word rather
  // than loop forever.
  return rng.pick(words);
}

void letter_question(const std::string& word, Rng& rng, Task& task) {
  char letter = word[rng.below(word.size())];
  // One question in five asks for a letter the word lacks: the answer 0.
  if (rng.chance(1, 5)) {
    std::string absent;
    for (char c = 'a'; c <= 'z'; ++c) {
      if (word.find(c) == std::string::npos) absent += c;
    }
    if (!absent.empty()) letter = absent[rng.below(absent.size())];
  }
  const auto count = std::count(word.begin(), word.end(), letter);
  switch (rng.below(5)) {
    case 0:
      task.prompt = fmt::format("How many times does the letter \"{}\" appear in the word \"{}\"?",
                                letter, word);
      break;
    case 1:
      task.prompt = fmt::format("How many {}'s are in {}?", letter, word);
      break;
    case 2:
      task.prompt =
          fmt::format("Count the occurrences of the letter '{}' in \"{}\".", letter, word);
      break;
    case 3:
      task.prompt =
          fmt::format("In the word \"{}\", how many times does \"{}\" occur?", word, letter);
      break;
    default:
      task.prompt =
          fmt::format("How many times is the letter {} used in the word {}?", letter, word);
      break;
  }
  task.answer = std::to_string(count);
  task.metadata = {{"kind", "letter"}, {"word", word}, {"letter", std::string(1, letter)}};
}

void length_question(const std::string& word, Rng& rng, Task& task) {
  switch (rng.below(3)) {
    case 0:
      task.prompt = fmt::format("How many letters are in the word \"{}\"?", word);
      break;
    case 1:
      task.prompt = fmt::format("How long is the word \"{}\", in letters?", word);
      break;
    default:
      task.prompt = fmt::format("Count the letters in \"{}\".", word);
      break;
  }
  task.answer = std::to_string(word.size());
  task.metadata = {{"kind", "length"}, {"word", word}};
}

void list_question(const std::vector<std::string>& words, int difficulty, Rng& rng, Task& task) {
  // Few distinct short words, so that items repeat and counting one matters.
  std::vector<std::string> pool;
  const size_t distinct = std::min<size_t>(3, words.size());
  while (pool.size() < distinct) {
    const std::string& w = word_of_length(words, 3, 6, rng);
    if (std::find(pool.begin(), pool.end(), w) == pool.end()) pool.push_back(w);
  }
  const int n = static_cast<int>(rng.range(2 * difficulty + 2, 2 * difficulty + 4));
  std::vector<std::string> items;
  for (int i = 0; i < n; ++i) items.push_back(rng.pick(pool));
  const std::string list = fmt::format("{}", fmt::join(items, ", "));
  if (rng.chance(1, 2)) {
    task.prompt = rng.chance(1, 2) ? fmt::format("How many items are in this list: {}?", list)
                                   : fmt::format("Count the items in the list: {}.", list);
    task.answer = std::to_string(items.size());
    task.metadata = {{"kind", "list_length"}, {"items", items}};
    return;
  }
  const std::string& item = rng.pick(items);
  task.prompt = rng.chance(1, 2)
                    ? fmt::format("How many times does \"{}\" appear in this list: {}?", item, list)
                    : fmt::format("In the list {}, how many times is \"{}\" listed?", list, item);
  task.answer = std::to_string(std::count(items.begin(), items.end(), item));
  task.metadata = {{"kind", "items"}, {"items", items}, {"item", item}};
}

}  // namespace

void make_count_task(const WordList& words, Split split, int difficulty, Rng& rng, Task& task) {
  task.difficulty = std::min(difficulty, kCountMaxDifficulty);
  const std::vector<std::string>& pool = words.words(split);
  const size_t min_len = 3 * static_cast<size_t>(task.difficulty);
  const size_t max_len = task.difficulty == kCountMaxDifficulty ? SIZE_MAX : min_len + 2;
  const uint64_t kind = rng.below(20);
  if (kind < 14) {
    letter_question(word_of_length(pool, min_len, max_len, rng), rng, task);
  } else if (kind < 17) {
    length_question(word_of_length(pool, min_len, max_len, rng), rng, task);
  } else {
    list_question(pool, task.difficulty, rng, task);
  }
}

}  // namespace ponder
