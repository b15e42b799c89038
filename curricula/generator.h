// Task generation: one entry point for every family, and the weighted mixture
// that RL and SFT draw from.
//
// Determinism: generate(family, split, index, difficulty, seed) is a pure
// function of its arguments and the sources (word list, GSM8K files, lookup
// world size and seed): the same call gives the same Task on any machine.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "curricula/gsm8k.h"
#include "curricula/lookup.h"
#include "curricula/task.h"
#include "curricula/words.h"

namespace ponder {

// Where the families' material comes from (config keys tasks.*).
struct TaskSources {
  std::filesystem::path words_file = kDefaultWordsFile;  // count
  std::filesystem::path gsm8k_dir = "data/gsm8k";        // train.jsonl, test.jsonl
  int lookup_entities = 500;                             // places in the lookup world
  uint64_t lookup_seed = 0;                              // the lookup world's seed
};

class TaskGenerator {
 public:
  explicit TaskGenerator(TaskSources sources);
  ~TaskGenerator();
  TaskGenerator(const TaskGenerator&) = delete;
  TaskGenerator& operator=(const TaskGenerator&) = delete;

  // The task at `index` of the family's stream for (split, difficulty, seed).
  // `difficulty` >= 1 is clamped to max_difficulty(family); Task::difficulty
  // holds the value used. For gsm8k, index i picks the (i mod n)-th of the n
  // rows of the split's file whose difficulty is at most `difficulty`, in
  // file order, and the seed is unused. Sources load on first use, once
  // (thread-safe); a missing or bad source throws ponder::Error then, as does
  // difficulty < 1.
  Task generate(Family family, Split split, uint64_t index, int difficulty, uint64_t seed) const;

  // The sources, loaded on first use (errors as for generate).
  const WordList& words() const;
  const std::vector<Gsm8kProblem>& gsm8k(Split split) const;
  const LookupWorld& lookup_world() const;

 private:
  struct Gsm8kSplit;
  Task gsm8k_task(Split split, uint64_t index, int difficulty) const;

  TaskSources sources_;
  mutable std::once_flag words_once_, lookup_once_;
  mutable std::optional<WordList> words_;
  mutable std::optional<LookupWorld> lookup_;
  std::array<std::unique_ptr<Gsm8kSplit>, 2> gsm8k_;  // [train, eval]
};

// Family weights in kFamilies order; a family with weight 0 is off.
using FamilyWeights = std::array<double, kNumFamilies>;

// A weighted mixture of families with a per-family difficulty: the task
// stream RL and SFT draw from.
//
// The difficulty schedule hook: set_difficulty changes what later samples
// draw; RL drives it from measured accuracy. Samples drawn before a change
// stay as they were (a sample is a function of its index and the settings at
// the time).
class TaskMixture {
 public:
  // Throws ponder::Error when a weight is negative or not finite, when every
  // weight is 0, or when difficulty < 1. `generator` must outlive the
  // mixture.
  TaskMixture(const TaskGenerator& generator, const FamilyWeights& weights, int difficulty,
              uint64_t seed);

  // The task at `index` of the split's stream: a family drawn by weight from
  // (seed, split, index), then generate(family, split, index,
  // difficulty(family), seed) — or a difficulty drawn from the spread.
  Task sample(Split split, uint64_t index) const;

  const FamilyWeights& weights() const { return weights_; }
  int difficulty(Family family) const { return difficulty_[static_cast<int>(family)]; }
  // Throws ponder::Error when difficulty < 1; larger values are kept and
  // clamped per family when generating.
  void set_difficulty(Family family, int difficulty);
  // From now on each sample draws its difficulty uniformly from
  // difficulty(family) up to max_difficulty (clamped to the family's
  // maximum), so that demonstrations span the lengths the model will meet.
  // A range of one level draws nothing: the stream stays what it was.
  // Throws ponder::Error when max_difficulty < 1.
  void spread_difficulty_to(int max_difficulty);

 private:
  const TaskGenerator& generator_;
  FamilyWeights weights_;
  std::array<int, kNumFamilies> difficulty_;
  int spread_to_ = 0;  // 0: no spread
  uint64_t seed_;
};

}  // namespace ponder
