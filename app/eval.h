// `ponder eval`: how well a checkpoint answers benchmark problems
// (curricula/benchmarks.h), measured as curricula/eval_metrics.h defines;
// docs/EVAL.md is the user's guide.
//
//   ponder eval CKPT [--bench gsm8k,count,...|FILE.jsonl] [--samples n]
//       [--temperature t] [--top-p p] [--max-new-tokens m] [--tools on|off]
//       [--limit k] [--seed s] [--config FILE] [--set k=v] [--db FILE] [--out FILE]
//   ponder eval --compare A B [the same options]
//       A and B are results files, or checkpoints evaluated first.
//
// The command writes every rollout to the store (run "eval", split "eval",
// benchmark set; a new step per invocation, so evaluations accumulate and
// none replaces another), the results to a JSON file, and a table to stdout.
//
// run_eval is the part a training loop reuses: it generates and scores, and
// returns the rows for the caller to store in its own step (a RolloutStore
// step is written whole, so a second write of the same step would replace it).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/config.h"
#include "curricula/benchmarks.h"
#include "curricula/eval_metrics.h"
#include "rollout/engine.h"
#include "rollout/rollout_record.h"

namespace CLI {
class App;
}

namespace ponder {

struct EvalOptions {
  int samples = 1;  // per problem, >= 1
  // Sampler, seed, token and tool-call budgets; tools = false means the
  // tool-call start token is never sampled (the engine bans it).
  GenerationOptions generation;
  bool progress = false;  // a progress line per benchmark on stdout
};

struct BenchmarkResult {
  std::string name;
  EvalMetrics all;
  std::vector<std::pair<int, EvalMetrics>> by_difficulty;  // ascending difficulty
};

struct EvalResults {
  std::vector<BenchmarkResult> benchmarks;  // in the order given
  // Every rollout, benchmark-major then problem then sample: split "eval",
  // benchmark and step set, rewards empty (eval scores correctness only).
  std::vector<RolloutRecord> records;
  double seconds = 0;  // wall time of generation and scoring
};

// Answers every problem of `benchmarks` `options.samples` times with
// `engine` (whose tokenizer is `tokenizer`) and scores the answers.
// Batched: each generate() call takes batch_rows / samples problems with all
// their samples. A sample is well formed when it ends (<|end|>) with one
// final answer (extract_final_answer); only those vote and can be correct.
// A prompt too long for the model (max_positions or more tokens) is not
// generated: its samples are empty, finish "length", and count as format
// errors. Deterministic: with temperature 0 the results are a function of the
// model and the problems; otherwise also of options.generation.seed (each
// call's seed is derived from it, the benchmark's name and the call's first
// problem).
EvalResults run_eval(Engine& engine, const Tokenizer& tokenizer,
                     const std::vector<Benchmark>& benchmarks, const EvalOptions& options,
                     int64_t step);

// "eval/<benchmark>/pass@1", ".../pass@k", ".../maj@k", ".../format_error_rate"
// for each benchmark: what a steps row (StepMetrics::values) keeps of `results`.
void add_eval_metrics(const EvalResults& results, std::map<std::string, double>& values);

// What a results file holds.
struct EvalReport {
  std::filesystem::path checkpoint;
  int64_t checkpoint_step = 0;  // the checkpoint's training step
  EvalOptions options;
  size_t limit = 0;  // problems per benchmark; 0: all
  std::filesystem::path database;
  std::string run;   // the store's run name
  int64_t step = 0;  // the store step holding the rollouts
  double seconds = 0;
  std::vector<BenchmarkResult> benchmarks;
};

nlohmann::json to_json(const EvalReport& report);
// Throws ponder::Error naming `file` when it is missing or not a results file.
EvalReport read_eval_report(const std::filesystem::path& file);

// The terminal table: one row per benchmark and one per difficulty under it.
std::string format_eval_table(const std::vector<BenchmarkResult>& benchmarks);

// A and B side by side: pass@1 of each benchmark (and difficulty) both have,
// B − A, and whether the difference is beyond noise (two_proportion_test).
std::string format_comparison(const EvalReport& a, const EvalReport& b);

// The [eval] settings of a config as EvalOptions (samples, temperature,
// tools), with the token and tool-call budgets RL trains with.
EvalOptions eval_options(const Config& config);

// Evaluates `checkpoint` on `benchmarks` (names or .jsonl files, `limit`
// problems each; 0: all): writes every rollout to `database` (run "eval", the
// step after its last, so evaluations accumulate), the report to `out` (empty:
// <database folder>/eval/eval_<step>.json), and prints the table. `config`
// supplies the task sources, tools and threads. Throws ponder::Error for a
// bad checkpoint, benchmark or database.
EvalReport evaluate_checkpoint(const Config& config, const std::filesystem::path& checkpoint,
                               const std::vector<std::string>& benchmarks, size_t limit,
                               const EvalOptions& options, const std::filesystem::path& database,
                               const std::filesystem::path& out);

// Adds the `eval` subcommand to `app`.
void add_eval_command(CLI::App& app);

}  // namespace ponder
