// The pretraining corpus: `ponder data corpus CONFIG`, and the `corpus` stage.
//
// A text mixture whose parts teach what the tasks need, each given a share of
// corpus.total_mb by its weight (corpus.<source>):
//   arith         arithmetic facts and worked examples ("37 * 12 = 444")
//   spelling      train-split words spelled one letter per line, as the count
//                 demonstrations spell them
//   repeat        a few words, then the same words again (copying from context)
//   number_words  numbers and their English words ("42 is forty-two")
//   gsm8k         GSM8K train questions and solutions
//   lookup        the train-split documents of the lookup world (eval-split
//                 places never appear)
//   files         the text/JSONL files of data.inputs
// Generated sources produce as much text as their share; fixed sources
// (gsm8k, lookup, files) repeat or are cut to fit it. Every document goes to
// <run>/shards as train_*.bin, or val_*.bin for every data.val_every-th one.
// Deterministic by run.seed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "app/config.h"
#include "policy/tokenizer.h"

namespace ponder {

struct CorpusSourceSummary {
  std::string name;
  uint64_t documents = 0;
  uint64_t bytes = 0;
  uint64_t tokens = 0;
};

// Builds the mixture and writes its shards into `out` (train_*, val_*).
// Prints one line per source. Throws ponder::Error when every weight is 0 or
// a source cannot be read.
std::vector<CorpusSourceSummary> build_corpus(const Config& config, const Tokenizer& tokenizer,
                                              const std::filesystem::path& out);

// English words for 0 <= n < 10^12 ("forty-two", "one hundred and five").
std::string number_words(int64_t n);

}  // namespace ponder
