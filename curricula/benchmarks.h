// The problem sets `ponder eval` measures a model on (docs/EVAL.md).
//
// Built-in benchmarks, each named on the command line:
//   gsm8k   the 1,319 problems of <gsm8k_dir>/test.jsonl in file order
//           (generate(gsm8k, eval, i, 8, ·): row i); difficulty 1-8 is the
//           row's (curricula/gsm8k.h).
//   arith, count, wordprob, lookup, countdown
//           a fixed held-out suite: kSuitePerDifficulty problems at each
//           difficulty 1..max_difficulty(family), all of the eval split.
//           Problem j has difficulty d = 1 + j mod D (D levels) and is
//           generate(family, eval, kSuiteFirstIndex + j / D, d, kSuiteSeed),
//           so any first k problems (--limit k) cover every level evenly.
// Why these indices: training never sees the eval split (task.h keeps the
// splits apart by content); the eval split is drawn in training only by the
// held-out checks, RL's at indices below rl.eval_prompts <= 100,000 and
// SFT's below 2^33, so the suite's indices (from 2^40) are never the ones
// drawn there, whatever run.seed is. A small problem space (one-digit sums)
// can still repeat a held-out problem's content; it was never trained on.
//
// A user file (any name ending in .jsonl) holds one JSON object per line:
//   {"question": "...", "answer": "42" or 42, "family": "arith",
//    "difficulty": 2, "numbers": [..], "target": n}
// where family (default gsm8k: a number compared by value, or a name
// compared after normalize_text), difficulty (default 1) are optional, and
// numbers and target are required for countdown (the verifier needs them).
// Other keys are ignored; blank lines are skipped. Its benchmark is named
// after the file's stem; its tasks' ids are "<stem>/<line number>".
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "curricula/generator.h"
#include "curricula/task.h"

namespace ponder {

inline constexpr uint64_t kSuiteSeed = 0;
inline constexpr uint64_t kSuiteFirstIndex = uint64_t{1} << 40;
inline constexpr int kSuitePerDifficulty = 100;

struct Benchmark {
  std::string name;  // "gsm8k", "count", or a user file's stem
  std::vector<Task> tasks;
};

// "gsm8k", "arith", "count", "wordprob", "lookup", "countdown".
const std::vector<std::string>& builtin_benchmark_names();

// The first `limit` problems (0: all) of a built-in benchmark. Throws
// ponder::Error for an unknown name (listing the valid ones and the .jsonl
// form) or a source that fails to load.
Benchmark builtin_benchmark(const TaskGenerator& generator, std::string_view name,
                            size_t limit = 0);

// A user file as above, its first `limit` problems (0: all). Throws
// ponder::Error naming file:line for a line that is not a JSON object, a
// missing or mistyped question or answer, an empty answer, an unknown
// family, a difficulty below 1, countdown without numbers and target; and
// naming the file when it is missing or holds no problem.
Benchmark load_benchmark_file(const std::filesystem::path& file, size_t limit = 0);

// Each of `names` (a built-in name or a .jsonl path), in order. Throws
// ponder::Error as the two above do, and when two have the same name.
std::vector<Benchmark> load_benchmarks(const TaskGenerator& generator,
                                       const std::vector<std::string>& names, size_t limit = 0);

// What maj@k votes on: `final_answer` normalised so that equal keys mean
// equally correct answers to `task` — for countdown the expression without
// whitespace; otherwise normalize_number's canonical form for a number, else
// normalize_text ("1,000" and "1000" vote together; so do "The Oskel" and
// "oskel").
std::string vote_key(const Task& task, std::string_view final_answer);

}  // namespace ponder
