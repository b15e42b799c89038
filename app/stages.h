// The stages of a run and the commands built on them. `ponder train CONFIG`
// runs the stages named by `run.stages`, in order, into
// <run.out_dir>/<run.name>/, after writing the resolved config there as
// config.toml. Each stage is also reachable on its own through a subcommand.
//
// Stages print what they do (plain lines, plus app/progress.h for long work)
// and throw ponder::Error for anything a user can fix.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "app/config.h"
#include "policy/tokenizer.h"

namespace ponder {

struct TokenizerTrainingOptions {
  std::vector<std::filesystem::path> inputs;  // text or JSONL files
  std::vector<std::string> fields;            // JSONL fields (empty: every string field)
  int vocab_size = 4096;
  std::string pattern;      // pre-tokenization regex
  double max_input_mb = 0;  // 0 = read every input whole
};

// The tokenizer options a config asks for (tokenizer.* keys).
TokenizerTrainingOptions tokenizer_options(const Config& config);

// Reads the inputs, trains, prints a summary (bytes, pieces, merges, seconds).
// Throws ponder::Error for a missing input or an input with no text.
Tokenizer train_tokenizer(const TokenizerTrainingOptions& options);

// "Natalia| sold| |4|8" style rendering of how `text` splits into tokens,
// followed by the ids, for people to see what the tokenizer does.
std::string describe_encoding(const Tokenizer& tokenizer, std::string_view text);

struct ShardingSummary {
  uint64_t documents = 0;
  uint64_t tokens = 0;      // training split (or all, without a split)
  uint64_t val_tokens = 0;  // held-out split
  uint64_t bytes = 0;
  std::vector<std::filesystem::path> shards;
};

// Encodes every document of `inputs` (<|bos|> before each) into token shards
// of at most `tokens_per_shard` ids. With val_every = 0 all go to
// <out>/shard_NNNNN.bin; otherwise document i goes to val_NNNNN.bin when
// i % val_every == val_every - 1, and to train_NNNNN.bin else.
ShardingSummary write_token_shards(const Tokenizer& tokenizer,
                                   const std::vector<std::filesystem::path>& inputs,
                                   const std::vector<std::string>& fields,
                                   const std::filesystem::path& out, uint64_t tokens_per_shard,
                                   int val_every = 0);

// <run.out_dir>/<run.name>
std::filesystem::path run_folder(const Config& config);

// Which stages of `run.stages` a command runs: from `first` through `last`
// (empty: the list's ends), the last one stopping after step `stop_at_step`
// (> 0) when given. `ponder train --only X` is first = last = X.
struct StageRange {
  std::string first, last;
  int64_t stop_at_step = 0;
};

// `ponder train`: the stages of `range`, in order. A stage whose output
// exists (tokenizer, shards, corpus) keeps it when it was made with the same
// settings (else ponder::Error names the one that changed); training stages
// resume from their latest checkpoint, and a finished one is kept. A stage
// before `first` must have run already: the stages after it read its outputs.
// ponder::Error when run.stages lacks `first` or `last`, or `last` comes
// before `first`. Ends with a summary: where each output is and, when the
// run has an RL stage that finished, held-out accuracy before and after RL.
void run_stages(const Config& config, const StageRange& range = {});

// The end-of-run summary of run_stages, for the stages in `stages`.
std::string run_summary(const Config& config, const std::vector<std::string>& stages);

}  // namespace ponder
