#include "curricula/task.h"

#include <fmt/format.h>

#include "curricula/answer.h"
#include "curricula/expression.h"
#include "curricula/families.h"
#include "curricula/gsm8k.h"
#include "curricula/random.h"
#include "policy/error.h"

namespace ponder {

std::string_view family_name(Family family) {
  static constexpr std::string_view kNames[kNumFamilies] = {"arith",  "count",     "wordprob",
                                                            "lookup", "countdown", "gsm8k"};
  return kNames[static_cast<int>(family)];
}

std::string_view split_name(Split split) {
  return split == Split::kTrain ? "train" : "eval";
}

Family parse_family(std::string_view name) {
  for (Family family : kFamilies) {
    if (family_name(family) == name) return family;
  }
  throw Error(fmt::format(
      "unknown task family `{}`; expected one of: arith, count, wordprob, lookup, countdown, gsm8k",
      name));
}

Split parse_split(std::string_view name) {
  if (name == "train") return Split::kTrain;
  if (name == "eval") return Split::kEval;
  throw Error(fmt::format("unknown split `{}`; expected train or eval", name));
}

int max_difficulty(Family family) {
  switch (family) {
    case Family::kArith:
      return kArithMaxDifficulty;
    case Family::kCount:
      return kCountMaxDifficulty;
    case Family::kWordprob:
      return kWordprobMaxDifficulty;
    case Family::kLookup:
      return kLookupMaxDifficulty;
    case Family::kCountdown:
      return kCountdownMaxDifficulty;
    case Family::kGsm8k:
      return kGsm8kMaxDifficulty;
  }
  return 1;
}

bool key_in_split(std::string_view key, Split split) {
  return (fnv1a64(key) % 10 == 0) == (split == Split::kEval);
}

bool check(const Task& task, std::string_view final_answer) {
  if (task.family == Family::kCountdown) {
    return countdown_solves(final_answer, task.metadata.at("numbers").get<std::vector<int64_t>>(),
                            task.metadata.at("target").get<int64_t>());
  }
  const std::optional<std::string> expected = normalize_number(task.answer);
  if (expected) return normalize_number(final_answer) == expected;
  // Only lookup has answers that are names.
  return normalize_text(final_answer) == normalize_text(task.answer);
}

bool check_response(const Task& task, std::string_view response_text) {
  const std::optional<std::string> answer = extract_final_answer(response_text);
  return answer && check(task, *answer);
}

nlohmann::json task_to_json(const Task& task) {
  return {{"id", task.id},
          {"family", family_name(task.family)},
          {"split", split_name(task.split)},
          {"difficulty", task.difficulty},
          {"prompt", task.prompt},
          {"answer", task.answer},
          {"metadata", task.metadata}};
}

}  // namespace ponder
