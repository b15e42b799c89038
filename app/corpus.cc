#include "app/corpus.h"

#include <array>
#include <functional>

#include <fmt/format.h>

#include "app/tasks_commands.h"
#include "curricula/documents.h"
#include "curricula/random.h"
#include "policy/error.h"
#include "policy/token_shard.h"

namespace ponder {
namespace {

// Produces the next document of a source; an empty string ends a fixed source's pass.
using SourceFn = std::function<std::string(Rng&)>;

std::string arith_document(Rng& rng) {
  static constexpr std::array<char, 3> kOps = {'+', '-', '*'};
  const char op = kOps[rng.below(kOps.size())];
  const int digits = 1 + static_cast<int>(rng.below(op == '*' ? 3 : 5));
  int64_t limit = 1;
  for (int i = 0; i < digits; ++i) limit *= 10;
  const auto a = static_cast<int64_t>(rng.below(static_cast<uint64_t>(limit)));
  const auto b = static_cast<int64_t>(rng.below(static_cast<uint64_t>(limit)));
  const int64_t value = op == '+' ? a + b : op == '-' ? a - b : a * b;
  return fmt::format("{} {} {} = {}", a, op, b, value);
}

// The spelling the count demonstrations use: one letter per line with a
// running count (of letters, or of one letter, with that letter beside each). The word appears at
// the start, after a space and in quotes, as it does in prompts: each is another token.
std::string spelling_document(const std::vector<std::string>& words, Rng& rng) {
  const std::string& word = words[rng.below(words.size())];
  const char counted = word[rng.below(word.size())];
  const uint64_t style = rng.below(3);
  std::string text = style == 0   ? fmt::format("{} is spelled:", word)
                     : style == 1 ? fmt::format("Spelling \"{}\":", word)
                                  : fmt::format("The {}'s in {}:", counted, word);
  int count = 0;
  for (char c : word) {
    count += style != 2 || c == counted;
    text += style == 2 ? fmt::format("\n{} {} {}", c, counted, count)
                       : fmt::format("\n{} {}", c, count);
  }
  return text;
}

// A few words, then the same words again: copying from context (what a count
// demonstration does with the prompt's word) is learned from repeats.
std::string repeat_document(const std::vector<std::string>& words, Rng& rng) {
  std::vector<std::string> picked(2 + rng.below(5));
  for (auto& w : picked) w = words[rng.below(words.size())];
  const std::string list = fmt::format("{}", fmt::join(picked, " "));
  return rng.below(2) ? fmt::format("{}\n{}", list, list)
                      : fmt::format("Say \"{}\" again: {}", list, list);
}

// Cycles through fixed documents; the share decides how often.
SourceFn cycle(std::vector<std::string> documents) {
  auto docs = std::make_shared<std::vector<std::string>>(std::move(documents));
  auto next = std::make_shared<size_t>(0);
  return [docs, next](Rng&) {
    if (docs->empty()) return std::string();
    return (*docs)[(*next)++ % docs->size()];
  };
}

}  // namespace

std::string number_words(int64_t n) {
  static const std::array<const char*, 20> kSmall = {
      "zero",     "one",     "two",     "three",     "four",     "five",    "six",
      "seven",    "eight",   "nine",    "ten",       "eleven",   "twelve",  "thirteen",
      "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
  static const std::array<const char*, 10> kTens = {
      "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"};
  if (n < 0) return "minus " + number_words(-n);
  if (n < 20) return kSmall[n];
  if (n < 100) {
    return n % 10 == 0 ? kTens[n / 10] : fmt::format("{}-{}", kTens[n / 10], kSmall[n % 10]);
  }
  if (n < 1000) {
    const std::string head = fmt::format("{} hundred", kSmall[n / 100]);
    return n % 100 == 0 ? head : head + " and " + number_words(n % 100);
  }
  static const std::array<std::pair<int64_t, const char*>, 3> kScales = {
      {{1'000'000'000, "billion"}, {1'000'000, "million"}, {1'000, "thousand"}}};
  for (const auto& [scale, name] : kScales) {
    if (n >= scale) {
      const std::string head = number_words(n / scale) + " " + name;
      const int64_t rest = n % scale;
      if (rest == 0) return head;
      return head + (rest < 100 ? " and " : " ") + number_words(rest);
    }
  }
  throw std::logic_error("number_words: unreachable");
}

std::vector<CorpusSourceSummary> build_corpus(const Config& config, const Tokenizer& tokenizer,
                                              const std::filesystem::path& out) {
  const TaskGenerator generator(task_sources(config));
  const auto& words = generator.words().words(Split::kTrain);

  std::vector<std::string> gsm8k;
  for (const auto& p : generator.gsm8k(Split::kTrain))
    gsm8k.push_back(p.question + "\n" + p.solution);
  std::vector<std::string> lookup;
  for (const auto& d : generator.lookup_world().documents(Split::kTrain)) {
    lookup.push_back(d.title + "\n" + d.text);
  }
  std::vector<std::string> files;
  for (const auto& input : config.get_strings("data.inputs")) {
    for_each_document(input, {}, [&](std::string_view text) { files.emplace_back(text); });
  }

  struct Source {
    const char* name;
    SourceFn next;
  };
  const std::vector<Source> sources = {
      {"arith", arith_document},
      {"spelling", [&words](Rng& rng) { return spelling_document(words, rng); }},
      {"repeat", [&words](Rng& rng) { return repeat_document(words, rng); }},
      {"number_words",
       [](Rng& rng) {
         const auto n = static_cast<int64_t>(rng.below(rng.below(2) ? 1000 : 10'000'000));
         return fmt::format("{} is {}.", n, number_words(n));
       }},
      {"gsm8k", cycle(std::move(gsm8k))},
      {"lookup", cycle(std::move(lookup))},
      {"files", cycle(std::move(files))},
  };
  double total_weight = 0;
  for (const auto& s : sources) total_weight += config.get_float(fmt::format("corpus.{}", s.name));
  if (total_weight <= 0) {
    throw Error("corpus: every source weight (corpus.arith, corpus.spelling, ...) is 0");
  }

  const auto per_shard = static_cast<uint64_t>(config.get_int("data.tokens_per_shard"));
  const int val_every = static_cast<int>(config.get_int("data.val_every"));
  TokenShardWriter train(out, "train", tokenizer.vocab_size(), per_shard);
  TokenShardWriter val(out, "val", tokenizer.vocab_size(), per_shard);
  const double total_bytes = config.get_float("corpus.total_mb") * 1e6;
  const auto seed = static_cast<uint64_t>(config.get_int("run.seed"));
  std::vector<CorpusSourceSummary> summaries;
  uint64_t document_index = 0;
  std::vector<TokenId> ids;
  for (size_t i = 0; i < sources.size(); ++i) {
    const double weight = config.get_float(fmt::format("corpus.{}", sources[i].name));
    CorpusSourceSummary summary{sources[i].name};
    const double budget = total_bytes * weight / total_weight;
    Rng rng({seed, 0xC0C0ull, i});
    while (static_cast<double>(summary.bytes) < budget) {
      const std::string text = sources[i].next(rng);
      if (text.empty()) break;  // a fixed source with no documents
      ids.assign(1, tokenizer.special_id(Special::kBos));
      tokenizer.encode_append(text, ids);
      const bool held_out = document_index++ % val_every == static_cast<uint64_t>(val_every - 1);
      (held_out ? val : train).append(ids);
      ++summary.documents;
      summary.bytes += text.size();
      summary.tokens += ids.size();
    }
    fmt::print("corpus: {:<13} {:>7} documents {:>9.2f} MB {:>10} tokens\n", summary.name,
               summary.documents, summary.bytes / 1e6, summary.tokens);
    summaries.push_back(summary);
  }
  train.finish();
  val.finish();
  return summaries;
}

}  // namespace ponder
