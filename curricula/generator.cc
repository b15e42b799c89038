#include "curricula/generator.h"

#include <cmath>

#include <fmt/format.h>

#include "curricula/families.h"
#include "curricula/random.h"
#include "policy/error.h"

namespace ponder {

struct TaskGenerator::Gsm8kSplit {
  std::once_flag once;
  std::vector<Gsm8kProblem> problems;
  // rows_up_to[d - 1]: the rows of difficulty <= d, in file order.
  std::array<std::vector<size_t>, kGsm8kMaxDifficulty> rows_up_to;
};

TaskGenerator::TaskGenerator(TaskSources sources) : sources_(std::move(sources)) {
  for (auto& split : gsm8k_) split = std::make_unique<Gsm8kSplit>();
}

TaskGenerator::~TaskGenerator() = default;

const WordList& TaskGenerator::words() const {
  std::call_once(words_once_, [&] { words_ = WordList::load(sources_.words_file); });
  return *words_;
}

const LookupWorld& TaskGenerator::lookup_world() const {
  std::call_once(lookup_once_,
                 [&] { lookup_.emplace(sources_.lookup_entities, sources_.lookup_seed); });
  return *lookup_;
}

const std::vector<Gsm8kProblem>& TaskGenerator::gsm8k(Split split) const {
  Gsm8kSplit& s = *gsm8k_[static_cast<int>(split)];
  std::call_once(s.once, [&] {
    const char* name = split == Split::kTrain ? "train.jsonl" : "test.jsonl";
    s.problems = load_gsm8k(sources_.gsm8k_dir / name);
    for (size_t row = 0; row < s.problems.size(); ++row) {
      for (int d = s.problems[row].difficulty; d <= kGsm8kMaxDifficulty; ++d) {
        s.rows_up_to[d - 1].push_back(row);
      }
    }
  });
  return s.problems;
}

Task TaskGenerator::gsm8k_task(Split split, uint64_t index, int difficulty) const {
  const std::vector<Gsm8kProblem>& problems = gsm8k(split);
  const std::vector<size_t>& rows = gsm8k_[static_cast<int>(split)]->rows_up_to[difficulty - 1];
  if (rows.empty()) {
    throw Error(fmt::format("GSM8K {} split has no problem of difficulty {} or less",
                            split_name(split), difficulty));
  }
  const size_t row = rows[index % rows.size()];
  const Gsm8kProblem& p = problems[row];
  Task task;
  task.id = fmt::format("gsm8k/{}/{:05}", split_name(split), row);
  task.family = Family::kGsm8k;
  task.split = split;
  task.difficulty = p.difficulty;
  // The wording depends on the row alone, so that an id names one prompt.
  switch (row % 3) {
    case 0:
      task.prompt = p.question;
      break;
    case 1:
      task.prompt = "Solve this problem: " + p.question;
      break;
    default:
      task.prompt = p.question + "\nGive the final answer as a number.";
      break;
  }
  task.answer = p.answer;
  nlohmann::json annotations = nlohmann::json::array();
  for (const Gsm8kAnnotation& a : p.annotations) {
    annotations.push_back({{"expr", a.expr}, {"result", a.result}});
  }
  task.metadata = {
      {"question", p.question}, {"solution", p.solution}, {"annotations", annotations}};
  return task;
}

Task TaskGenerator::generate(Family family, Split split, uint64_t index, int difficulty,
                             uint64_t seed) const {
  if (difficulty < 1) throw Error(fmt::format("task difficulty {} is below 1", difficulty));
  const int level = std::min(difficulty, max_difficulty(family));
  if (family == Family::kGsm8k) return gsm8k_task(split, index, level);

  // The stream depends on the clamped difficulty, so that the id (which
  // records it) regenerates the same task.
  Rng rng({seed, index, static_cast<uint64_t>(family), static_cast<uint64_t>(split),
           static_cast<uint64_t>(level), fnv1a64("task")});
  Task task;
  task.family = family;
  task.split = split;
  switch (family) {
    case Family::kArith:
      make_arith_task(split, level, rng, task);
      break;
    case Family::kCount:
      make_count_task(words(), split, level, rng, task);
      break;
    case Family::kWordprob:
      make_wordprob_task(split, level, rng, task);
      break;
    case Family::kLookup:
      lookup_world().make_task(split, level, rng, task);
      break;
    case Family::kCountdown:
      make_countdown_task(split, level, rng, task);
      break;
    case Family::kGsm8k:
      break;
  }
  task.id = fmt::format("{}/{}/s{}-d{}-{}", family_name(family), split_name(split), seed,
                        task.difficulty, index);
  return task;
}

TaskMixture::TaskMixture(const TaskGenerator& generator, const FamilyWeights& weights,
                         int difficulty, uint64_t seed)
    : generator_(generator), weights_(weights), seed_(seed) {
  double total = 0;
  for (Family family : kFamilies) {
    const double w = weights[static_cast<int>(family)];
    if (!std::isfinite(w) || w < 0) {
      throw Error(fmt::format("task weight tasks.{} = {} is not a finite number >= 0",
                              family_name(family), w));
    }
    total += w;
  }
  if (total <= 0) {
    throw Error(
        "every task family weight is 0; set at least one of tasks.arith, tasks.count, "
        "tasks.wordprob, tasks.lookup, tasks.countdown, tasks.gsm8k above 0");
  }
  if (difficulty < 1) throw Error(fmt::format("task difficulty {} is below 1", difficulty));
  difficulty_.fill(difficulty);
}

void TaskMixture::set_difficulty(Family family, int difficulty) {
  if (difficulty < 1) {
    throw Error(fmt::format("difficulty {} for task family {} is below 1", difficulty,
                            family_name(family)));
  }
  difficulty_[static_cast<int>(family)] = difficulty;
}

void TaskMixture::spread_difficulty_to(int max_difficulty) {
  if (max_difficulty < 1) {
    throw Error(fmt::format("maximum task difficulty {} is below 1", max_difficulty));
  }
  spread_to_ = max_difficulty;
}

Task TaskMixture::sample(Split split, uint64_t index) const {
  Rng rng({seed_, static_cast<uint64_t>(split), index, fnv1a64("mixture")});
  double total = 0;
  for (double w : weights_) total += w;
  // 53 random bits: a uniform double in [0, total).
  double point = static_cast<double>(rng.next() >> 11) * 0x1.0p-53 * total;
  Family chosen = Family::kArith;
  for (Family family : kFamilies) {
    const double w = weights_[static_cast<int>(family)];
    if (w <= 0) continue;
    chosen = family;  // the last positive weight takes any rounding remainder
    if (point < w) break;
    point -= w;
  }
  int level = difficulty(chosen);
  const int top = std::min(spread_to_, max_difficulty(chosen));
  if (top > level) level = static_cast<int>(rng.range(level, top));
  return generator_.generate(chosen, split, index, level, seed_);
}

}  // namespace ponder
