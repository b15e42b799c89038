// A task: a prompt whose answer a program can check.
//
// Families (curricula/README.md has examples):
//   arith      integer arithmetic with +, -, * and parentheses
//   count      letters in a word, letters of a word, items in a short list
//   wordprob   generated multi-step word problems with whole-number answers
//   lookup     facts about fictional places that exist only in the generated
//              document corpus (curricula/lookup.h)
//   countdown  reach a target from given numbers; the answer is an expression
//   gsm8k      grade-school math word problems (data/gsm8k/)
//
// Train and eval splits never share a problem. How each family keeps them
// apart:
//   count      by word: a word is eval iff fnv1a64(word) % 10 == 0
//              (curricula/words.h), so no word appears in both splits;
//   lookup     by entity: entity i is eval iff i % 10 == 0; eval entities
//              never appear in the pretraining corpus;
//   arith, wordprob, countdown
//              by problem: a problem's content key (the expression; the
//              template and its numbers; the numbers and target) is eval iff
//              fnv1a64(key) % 10 == 0 (key_in_split); a generator redraws
//              until its problem lands in the requested split;
//   gsm8k      by file: train.jsonl is train, test.jsonl is eval.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace ponder {

enum class Family { kArith, kCount, kWordprob, kLookup, kCountdown, kGsm8k };
inline constexpr int kNumFamilies = 6;
inline constexpr std::array<Family, kNumFamilies> kFamilies = {
    Family::kArith,  Family::kCount,     Family::kWordprob,
    Family::kLookup, Family::kCountdown, Family::kGsm8k,
};

enum class Split { kTrain, kEval };

// "arith", "count", ... and "train", "eval": the names used in ids, config
// keys (tasks.<family>) and on the command line.
std::string_view family_name(Family family);
std::string_view split_name(Split split);

// The family or split of a name. Throws ponder::Error naming the value and
// listing the valid names.
Family parse_family(std::string_view name);
Split parse_split(std::string_view name);

// The highest difficulty a family distinguishes; generators clamp to it.
int max_difficulty(Family family);

// Whether a problem with content key `key` belongs to `split` (the rule for
// arith, wordprob and countdown above).
bool key_in_split(std::string_view key, Split split);

struct Task {
  // Stable and reproducible: "<family>/<split>/s<seed>-d<difficulty>-<index>"
  // for generated families (generating with those arguments gives this task
  // again), "gsm8k/<split>/<row>" for GSM8K (0-based row of the file).
  std::string id;
  Family family = Family::kArith;
  Split split = Split::kTrain;
  int difficulty = 1;  // in [1, max_difficulty(family)]
  std::string prompt;  // the user's words
  // The gold final answer in canonical form: normalize_number's output for a
  // numeric answer, a name for a lookup text answer, an expression for
  // countdown (one valid solution; check accepts any).
  std::string answer;
  // What demonstrations and analysis need, per family:
  //   arith:     expression (Python syntax, as the calculator takes it)
  //   count:     kind, then per kind: "letter": word, letter; "length":
  //              word; "items": items (the list), item; "list_length": items
  //   wordprob:  template, steps: [{expr, result}] in solving order
  //   lookup:    attribute, combine ("single" | "difference" | "sum"),
  //              facts: [{entity_id, document_id, entity, query, attribute,
  //              value}] (query is a search query that finds the document)
  //   countdown: numbers, target, solution (one valid expression)
  //   gsm8k:     question, solution (the raw answer text, annotations kept),
  //              annotations: [{expr, result}]
  nlohmann::json metadata;
};

// Whether `final_answer` (the text inside the answer span; see
// extract_final_answer in curricula/answer.h) answers `task` correctly:
//   numeric families: normalize_number(final_answer) == task.answer;
//   lookup: numbers as above; names compare case-insensitively after
//     normalize_text (curricula/answer.h);
//   countdown: final_answer is an expression over the task's numbers, each
//     used at most once, whose exact value is the target
//     (curricula/expression.h); reads metadata "numbers" and "target".
bool check(const Task& task, std::string_view final_answer);

// extract_final_answer, then check; false when the response has no single
// well-formed answer span.
bool check_response(const Task& task, std::string_view response_text);

// The task as one JSON object: {id, family, split, difficulty, prompt,
// answer, metadata}.
nlohmann::json task_to_json(const Task& task);

}  // namespace ponder
