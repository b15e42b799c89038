#include "app/stages.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "app/corpus.h"
#include "app/eval.h"
#include "app/pretrain.h"
#include "app/progress.h"
#include "app/report.h"
#include "app/rl.h"
#include "app/sft.h"
#include "app/tasks_commands.h"
#include "curricula/documents.h"
#include "parallel/communicator.h"
#include "policy/atomic_file.h"
#include "policy/bpe_trainer.h"
#include "policy/checkpoint.h"
#include "policy/error.h"
#include "policy/token_shard.h"

namespace ponder {
namespace {

std::string read_text_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The settings a kept output was made with live beside it, in inputs.toml. A
// re-run keeps the output only when they still hold; otherwise it refuses,
// naming the first setting that differs, rather than train on stale files.
constexpr const char* kInputsFile = "inputs.toml";

// Throws when the settings recorded in `record` differ from `now`, naming
// the first line that differs and its section.
void require_same_settings(const std::string& recorded, const std::string& now,
                           const std::filesystem::path& output, const char* stage) {
  if (recorded == now) return;
  std::istringstream a(recorded), b(now);
  std::string line_a, line_b, section;
  while (std::getline(a, line_a) && std::getline(b, line_b)) {
    if (line_a.starts_with("[")) section = line_a.substr(1, line_a.size() - 2);
    if (line_a != line_b) break;
  }
  throw Error(
      fmt::format("{}: `{}` was made with other settings ({}: `{}` there, `{}` now); "
                  "delete it or choose another run.name",
                  stage, output.string(), section, line_a, line_b));
}

// True when `output` exists and was made with `keys` as `config` has them.
bool keep_output(const Config& config, const std::vector<std::string>& keys,
                 const std::filesystem::path& output, const char* stage) {
  if (!std::filesystem::exists(output)) return false;
  if (!std::filesystem::exists(output / kInputsFile)) {
    throw Error(
        fmt::format("{}: `{}` has no record of the settings it was made with ({}); "
                    "delete it to rebuild it",
                    stage, output.string(), kInputsFile));
  }
  require_same_settings(read_text_file(output / kInputsFile), config.to_toml(keys), output, stage);
  fmt::print("{}: {} was made with these settings; kept\n", stage, output.string());
  return true;
}

// The settings a training stage's result depends on: every key of the
// sections it and the stages before it read, but not the ones that only say
// how often to log, evaluate or checkpoint. A training stage records them in
// its folder (training_record) and refuses to resume or keep a result made
// with others.
std::vector<std::string> training_keys(const std::string& stage) {
  std::vector<std::string> sections = {"run.seed", "tokenizer", "data",    "corpus",
                                       "model",    "optim",     "pretrain"};
  if (stage == "sft" || stage == "rl") {
    sections.insert(sections.end(), {"tasks", "tools", "sft"});
  }
  if (stage == "rl") sections.emplace_back("rl");
  static const std::vector<std::string_view> kReporting = {
      "log_every", "eval_every", "eval_batches", "checkpoint_every", "eval_prompts"};
  std::vector<std::string> keys;
  for (const KeySpec& key : config_schema().keys) {
    const bool in_stage = std::any_of(sections.begin(), sections.end(), [&](const auto& s) {
      return key.name == s || key.name.starts_with(s + ".");
    });
    if (in_stage &&
        std::find(kReporting.begin(), kReporting.end(), key.leaf()) == kReporting.end()) {
      keys.push_back(key.name);
    }
  }
  return keys;
}

// Checks a training stage's output folder against its recorded settings,
// writing the record when there is none (a fresh stage, or one made before
// records existed).
void training_record(const Config& config, const std::string& stage,
                     const std::filesystem::path& output) {
  const std::string now = config.to_toml(training_keys(stage));
  const auto record = output / kInputsFile;
  if (std::filesystem::exists(record)) {
    require_same_settings(read_text_file(record), now, output, stage.c_str());
  } else if (Communicator::world().is_root()) {
    write_file_atomically(record, now);
  }
}

// Stages that only build files (tokenizer, shards, corpus, the final eval)
// run on rank 0 while the other ranks wait: two processes must not build the
// same folder, and the files are shared.
void on_root_only(const std::function<void()>& stage) {
  Communicator& comm = Communicator::world();
  if (comm.is_root()) stage();
  comm.barrier();
}

void run_tokenizer_stage(const Config& config, const std::filesystem::path& folder) {
  const std::vector<std::string> keys = {"tokenizer"};
  if (keep_output(config, keys, folder / "tokenizer", "tokenizer")) return;
  const Tokenizer tokenizer = train_tokenizer(tokenizer_options(config));
  std::filesystem::remove_all(folder / "tokenizer.tmp");
  write_file_atomically(folder / "tokenizer.tmp" / kInputsFile, config.to_toml(keys));
  tokenizer.save(folder / "tokenizer.tmp");
  std::filesystem::rename(folder / "tokenizer.tmp", folder / "tokenizer");
  fmt::print("tokenizer: wrote {}\n", (folder / "tokenizer" / "tokenizer.json").string());
  fmt::print("tokenizer: sample\n{}\n",
             describe_encoding(tokenizer, config.get_string("tokenizer.sample")));
}

// Token shards are written to a temp folder and renamed, so a half-written set
// is never kept.
void run_corpus_stage(const Config& config, const std::filesystem::path& folder) {
  const std::vector<std::string> keys = {"tokenizer", "data", "corpus", "tasks", "run.seed"};
  const auto out = folder / "shards";
  if (keep_output(config, keys, out, "corpus")) return;
  const Tokenizer tokenizer = Tokenizer::load(folder / "tokenizer");
  const auto temp = folder / "shards.tmp";
  std::filesystem::remove_all(temp);
  build_corpus(config, tokenizer, temp);
  write_file_atomically(temp / kInputsFile, config.to_toml(keys));
  std::filesystem::rename(temp, out);
}

void run_shards_stage(const Config& config, const std::filesystem::path& folder) {
  const std::vector<std::string> keys = {"tokenizer", "data"};
  const auto out = folder / "shards";
  if (keep_output(config, keys, out, "shards")) return;
  const Tokenizer tokenizer = Tokenizer::load(folder / "tokenizer");
  std::vector<std::filesystem::path> inputs;
  for (const auto& input : config.get_strings("data.inputs")) inputs.emplace_back(input);
  const auto temp = folder / "shards.tmp";
  std::filesystem::remove_all(temp);
  const ShardingSummary summary = write_token_shards(
      tokenizer, inputs, {}, temp, static_cast<uint64_t>(config.get_int("data.tokens_per_shard")),
      static_cast<int>(config.get_int("data.val_every")));
  write_file_atomically(temp / kInputsFile, config.to_toml(keys));
  std::filesystem::rename(temp, out);
  fmt::print("shards: {} documents, {:.2f} MB of text -> {} training + {} held-out tokens in {}\n",
             summary.documents, summary.bytes / 1e6, summary.tokens, summary.val_tokens,
             out.string());
}

// The run's last checkpoint: RL's, else SFT's, else pretraining's.
std::optional<std::filesystem::path> last_checkpoint(const std::filesystem::path& folder) {
  for (const auto& dir :
       {folder / "rl" / "checkpoints", folder / "sft" / "checkpoints", folder / "checkpoints"}) {
    if (auto latest = latest_checkpoint(dir)) return latest;
  }
  return std::nullopt;
}

// The `eval` stage: [eval]'s benchmarks on the run's last checkpoint, into
// <run>/eval/final/results.json and the run's database. Kept when the
// checkpoint and the settings are those it was made with.
void run_eval_stage(const Config& config, const std::filesystem::path& folder) {
  const auto checkpoint = last_checkpoint(folder);
  if (!checkpoint) {
    throw Error(fmt::format("eval: no checkpoint in `{}` to evaluate; run a training stage first",
                            folder.string()));
  }
  std::vector<std::string> keys = training_keys("rl");
  keys.emplace_back("eval");
  const std::string settings = fmt::format("{}\n[checkpoint]\npath = {}\n", config.to_toml(keys),
                                           toml_literal(checkpoint->string()));
  const auto out = folder / "eval" / "final";
  if (std::filesystem::exists(out / kInputsFile) && std::filesystem::exists(out / "results.json") &&
      read_text_file(out / kInputsFile) == settings) {
    fmt::print("eval: {} was made with these settings; kept\n{}", out.string(),
               format_eval_table(read_eval_report(out / "results.json").benchmarks));
    return;
  }
  EvalOptions options = eval_options(config);
  options.progress = true;
  evaluate_checkpoint(config, *checkpoint, config.get_strings("eval.benchmarks"),
                      static_cast<size_t>(config.get_int("eval.limit")), options,
                      folder / "rollouts.db", out / "results.json");
  write_file_atomically(out / kInputsFile, settings);
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
                                   const std::filesystem::path& out, uint64_t tokens_per_shard,
                                   int val_every) {
  ShardingSummary summary;
  TokenShardWriter train(out, val_every > 0 ? "train" : "shard", tokenizer.vocab_size(),
                         tokens_per_shard);
  TokenShardWriter val(out, "val", tokenizer.vocab_size(), tokens_per_shard);
  Progress progress("shards", 0, "B");  // text bytes; JSONL size would overstate the total
  std::vector<TokenId> ids;
  for (const auto& input : inputs) {
    summary.bytes += for_each_document(input, fields, [&](std::string_view text) {
      ids.assign(1, tokenizer.special_id(Special::kBos));
      tokenizer.encode_append(text, ids);
      const auto every = static_cast<uint64_t>(val_every);
      const bool held_out = val_every > 0 && summary.documents % every == every - 1;
      (held_out ? val : train).append(ids);
      ++summary.documents;
      progress.advance(text.size());
    });
  }
  train.finish();
  val.finish();
  progress.finish();
  summary.tokens = train.tokens();
  summary.val_tokens = val.tokens();
  summary.shards = train.shards();
  summary.shards.insert(summary.shards.end(), val.shards().begin(), val.shards().end());
  return summary;
}

std::filesystem::path run_folder(const Config& config) {
  return std::filesystem::path(config.get_string("run.out_dir")) / config.get_string("run.name");
}

namespace {

// The index of `stage` in `stages`, or ponder::Error naming the list.
size_t stage_index(const std::vector<std::string>& stages, const std::string& stage) {
  const auto it = std::find(stages.begin(), stages.end(), stage);
  if (it == stages.end()) {
    throw Error(fmt::format("run.stages = [{}] has no `{}` stage; add it to run.stages",
                            fmt::join(stages, ", "), stage));
  }
  return static_cast<size_t>(it - stages.begin());
}

}  // namespace

std::string run_summary(const Config& config, const std::vector<std::string>& stages) {
  const std::filesystem::path folder = run_folder(config);
  std::string out =
      fmt::format("run {}: outputs in {}\n", config.get_string("run.name"), folder.string());
  for (const auto& stage : stages) {
    std::filesystem::path where;
    if (stage == "tokenizer") where = folder / "tokenizer" / "tokenizer.json";
    if (stage == "shards" || stage == "corpus") where = folder / "shards";
    if (stage == "pretrain" || stage == "sft" || stage == "rl") {
      const auto dir =
          stage == "pretrain" ? folder / "checkpoints" : folder / stage / "checkpoints";
      if (const auto latest = latest_checkpoint(dir)) where = *latest;
    }
    if (!where.empty() && std::filesystem::exists(where)) {
      out += fmt::format("  {:<10} {}\n", stage, where.string());
    }
  }
  const auto summary_file = folder / "rl" / "summary.json";
  if (std::find(stages.begin(), stages.end(), "rl") != stages.end() &&
      std::filesystem::exists(summary_file)) {
    out += format_rl_summary(read_rl_summary(summary_file));
  }
  const auto eval_file = folder / "eval" / "final" / "results.json";
  if (std::find(stages.begin(), stages.end(), "eval") != stages.end() &&
      std::filesystem::exists(eval_file)) {
    const EvalReport report = read_eval_report(eval_file);
    out += fmt::format("benchmarks on {} (results: {}):\n{}", report.checkpoint.string(),
                       eval_file.string(), format_eval_table(report.benchmarks));
  }
  return out;
}

void run_stages(const Config& config, const StageRange& range) {
  const std::filesystem::path folder = run_folder(config);
  Communicator& comm = Communicator::world();
  if (comm.is_root()) write_file_atomically(folder / "config.toml", config.to_toml());
  fmt::print("run {}: outputs in {}\n", config.get_string("run.name"), folder.string());
  const std::vector<std::string> all = config.get_strings("run.stages");
  const size_t first = range.first.empty() ? 0 : stage_index(all, range.first);
  const size_t last = range.last.empty() ? all.size() - 1 : stage_index(all, range.last);
  if (last < first) {
    throw Error(fmt::format("stage `{}` comes before `{}` in run.stages = [{}]", all[last],
                            all[first], fmt::join(all, ", ")));
  }
  const std::vector<std::string> stages(all.begin() + static_cast<std::ptrdiff_t>(first),
                                        all.begin() + static_cast<std::ptrdiff_t>(last) + 1);
  // A misspelt benchmark fails now, not after the training stages before it.
  const bool evaluates = std::find(stages.begin(), stages.end(), "eval") != stages.end() ||
                         (std::find(stages.begin(), stages.end(), "rl") != stages.end() &&
                          config.get_int("eval.every") > 0);
  if (evaluates) {
    try {
      load_benchmarks(TaskGenerator(task_sources(config)), config.get_strings("eval.benchmarks"),
                      1);
    } catch (const Error& e) {
      throw Error(fmt::format("eval.benchmarks: {}", e.what()));
    }
  }
  for (const auto& stage : stages) {
    const auto start = std::chrono::steady_clock::now();
    const int64_t stop_at = stage == stages.back() ? range.stop_at_step : 0;
    fmt::print("== stage {} ==\n", stage);
    if (stage == "tokenizer") {
      on_root_only([&] { run_tokenizer_stage(config, folder); });
    } else if (stage == "shards") {
      on_root_only([&] { run_shards_stage(config, folder); });
    } else if (stage == "corpus") {
      on_root_only([&] { run_corpus_stage(config, folder); });
    } else if (stage == "pretrain") {
      training_record(config, stage, folder / "checkpoints");
      run_pretrain(config, folder, stop_at);
    } else if (stage == "sft") {
      training_record(config, stage, folder / "sft");
      run_sft(config, folder, stop_at);
    } else if (stage == "rl") {
      training_record(config, stage, folder / "rl");
      run_rl(config, folder, stop_at);
    } else if (stage == "eval") {
      on_root_only([&] { run_eval_stage(config, folder); });
    } else {
      // The schema's choices list every stage; reaching this is a programming error.
      throw std::logic_error("stage without a runner: " + stage);
    }
    fmt::print("== stage {} done in {:.1f} s ==\n", stage, seconds_since(start));
  }
  fmt::print("== summary ==\n{}", run_summary(config, all));
  // The report is a view of the run, not part of it: a report that cannot be
  // written must not fail a run whose stages all finished.
  try {
    if (comm.is_root()) fmt::print("report: {}\n", write_report(folder).string());
  } catch (const std::exception& e) {
    fmt::print(stderr, "warning: the run report was not written: {}\n", e.what());
  }
  std::fflush(stdout);
}

}  // namespace ponder
