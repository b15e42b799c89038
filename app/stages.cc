#include "app/stages.h"

#include <chrono>
#include <cstdio>

#include <fmt/format.h>

#include "app/progress.h"
#include "curricula/documents.h"
#include "policy/atomic_file.h"
#include "policy/bpe_trainer.h"
#include "policy/error.h"
#include "policy/token_shard.h"

namespace ponder {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::filesystem::path run_folder(const Config& config) {
  return std::filesystem::path(config.get_string("run.out_dir")) / config.get_string("run.name");
}

void run_tokenizer_stage(const Config& config, const std::filesystem::path& folder) {
  const Tokenizer tokenizer = train_tokenizer(tokenizer_options(config));
  tokenizer.save(folder / "tokenizer");
  fmt::print("tokenizer: wrote {}\n", (folder / "tokenizer" / "tokenizer.json").string());
  fmt::print("tokenizer: sample\n{}\n",
             describe_encoding(tokenizer, config.get_string("tokenizer.sample")));
}

}  // namespace

TokenizerTrainingOptions tokenizer_options(const Config& config) {
  TokenizerTrainingOptions options;
  for (const auto& input : config.get_strings("tokenizer.inputs"))
    options.inputs.emplace_back(input);
  options.vocab_size = static_cast<int>(config.get_int("tokenizer.vocab_size"));
  options.pattern = config.get_string("tokenizer.pattern");
  if (options.pattern.empty()) {
    options.pattern =
        gpt4_style_pattern(static_cast<int>(config.get_int("tokenizer.digits_per_token")));
  }
  options.max_input_mb = config.get_float("tokenizer.max_input_mb");
  return options;
}

Tokenizer train_tokenizer(const TokenizerTrainingOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  BpeTrainer trainer(options.pattern);
  const auto max_bytes = static_cast<uint64_t>(options.max_input_mb * 1e6);
  uint64_t read = 0;
  for (const auto& input : options.inputs) {
    if (max_bytes > 0 && read >= max_bytes) break;
    const uint64_t from_file = for_each_document(
        input, options.fields, [&](std::string_view text) { trainer.add_text(text); },
        max_bytes > 0 ? max_bytes - read : 0);
    if (from_file == 0) {
      throw Error(fmt::format("tokenizer input `{}` holds no text", input.string()));
    }
    read += from_file;
  }
  const double read_seconds = seconds_since(start);
  fmt::print("tokenizer: read {:.2f} MB in {:.1f} s: {} pieces, {} distinct\n", read / 1e6,
             read_seconds, trainer.stats().pieces, trainer.stats().unique_pieces);
  Progress progress("merges", static_cast<uint64_t>(options.vocab_size - kMinVocabSize), "merges");
  int reported = 0;
  Tokenizer tokenizer = trainer.train(options.vocab_size, [&](int done, int) {
    progress.advance(static_cast<uint64_t>(done - reported));
    reported = done;
  });
  progress.finish();
  const BpeTrainingStats& stats = trainer.stats();
  fmt::print("tokenizer: {} merges, vocab {} ({} bytes + {} merges + {} special) in {:.1f} s\n",
             stats.merges, tokenizer.vocab_size(), 256, stats.merges, kNumSpecialTokens,
             seconds_since(start));
  if (stats.exhausted) {
    fmt::print(
        "tokenizer: note: the text ran out of pairs to merge; the vocabulary is {} "
        "instead of the {} asked for\n",
        tokenizer.vocab_size(), options.vocab_size);
  }
  return tokenizer;
}

std::string describe_encoding(const Tokenizer& tokenizer, std::string_view text) {
  const std::vector<TokenId> ids = tokenizer.encode(text);
  std::string pieces, numbers;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) {
      pieces += '|';
      numbers += ' ';
    }
    pieces += tokenizer.token_text(ids[i]);
    numbers += std::to_string(ids[i]);
  }
  return fmt::format("  text:   {}\n  tokens: {} ({} bytes -> {} tokens)\n  ids:    {}", text,
                     pieces, text.size(), ids.size(), numbers);
}

ShardingSummary write_token_shards(const Tokenizer& tokenizer,
                                   const std::vector<std::filesystem::path>& inputs,
                                   const std::vector<std::string>& fields,
                                   const std::filesystem::path& out, uint64_t tokens_per_shard) {
  if (tokens_per_shard == 0) throw Error("tokens per shard must be at least 1");
  ShardingSummary summary;
  std::vector<TokenId> shard;
  auto flush = [&] {
    const auto path = out / fmt::format("shard_{:05d}.bin", summary.shards.size());
    write_token_shard(path, shard, tokenizer.vocab_size());
    summary.shards.push_back(path);
    summary.tokens += shard.size();
    shard.clear();
  };
  Progress progress("shards", 0, "B");  // text bytes; JSONL size would overstate the total
  for (const auto& input : inputs) {
    summary.bytes += for_each_document(input, fields, [&](std::string_view text) {
      ++summary.documents;
      shard.push_back(tokenizer.special_id(Special::kBos));
      tokenizer.encode_append(text, shard);
      while (shard.size() >= tokens_per_shard) {
        // Split at the limit; the remainder starts the next shard.
        std::vector<TokenId> rest(shard.begin() + static_cast<std::ptrdiff_t>(tokens_per_shard),
                                  shard.end());
        shard.resize(tokens_per_shard);
        flush();
        shard = std::move(rest);
      }
      progress.advance(text.size() + 1);
    });
  }
  if (!shard.empty()) flush();
  progress.finish();
  return summary;
}

void run_stages(const Config& config) {
  const std::filesystem::path folder = run_folder(config);
  write_file_atomically(folder / "config.toml", config.to_toml());
  fmt::print("run {}: outputs in {}\n", config.get_string("run.name"), folder.string());
  for (const auto& stage : config.get_strings("run.stages")) {
    const auto start = std::chrono::steady_clock::now();
    fmt::print("== stage {} ==\n", stage);
    if (stage == "tokenizer") {
      run_tokenizer_stage(config, folder);
    } else {
      // The schema's choices list every stage; reaching this is a programming error.
      throw std::logic_error("stage without a runner: " + stage);
    }
    fmt::print("== stage {} done in {:.1f} s ==\n", stage, seconds_since(start));
  }
  std::fflush(stdout);
}

}  // namespace ponder
