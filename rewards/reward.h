// The reward interface: what a reward function sees of one rollout, what it
// returns, and the registry that builds rewards by name from config.
//
// A reward scores one rollout of one task: a number, or nullopt when it does
// not apply (say, a judge that only knows GSM8K). RewardSet (reward_set.h)
// adds up the applicable ones, weighted, and keeps each one's score.
//
// The completion is model output and so hostile input: a reward must give a
// score for any bytes at all (unclosed spans, answers repeated or hidden in
// thinking, invalid UTF-8), never throw for them and never read past them.
// A reward throws ponder::Error only for failures outside the rollout, such
// as an external reward process that crashed.
//
// Adding a built-in (docs/REWARDS.md walks through it): one file defining
// `RewardDefinition my_reward()`, one PONDER_REWARD(my_reward) line in
// builtin_rewards.def, and the file's name in CMakeLists.txt.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "curricula/task.h"
#include "rollout/engine.h"

namespace ponder {

// Everything a reward may look at. A view: the referenced objects outlive it.
struct RewardInput {
  // Computes final_answer from rollout.text.
  RewardInput(const Task& task, std::string_view prompt, const Rollout& rollout);

  const Task& task;
  // The prompt text the policy answered (the task's prompt, or its rendering
  // when a system turn came before it).
  std::string_view prompt;
  // The completion: rollout.text spells special tokens (only real ones: text
  // that merely spells one reads "< |..."), tool_calls carry each outcome's
  // status ("ok", "error", "timeout", "limit"), ids/mask count the tokens.
  const Rollout& rollout;
  // extract_final_answer(rollout.text) (curricula/answer.h): the text of the
  // one answer span outside thinking; nullopt for a malformed response.
  std::optional<std::string> final_answer;
};

class Reward {
 public:
  virtual ~Reward() = default;

  // The score of one rollout, or nullopt when this reward does not apply to
  // it. Finite. Called from one thread at a time.
  virtual std::optional<double> score(const RewardInput& input) = 0;

  // As score(), for rewards whose score is the sum of named parts (a command
  // reward's {"rewards": {...}} reply): fills `parts` with the parts that
  // apply; `parts` stays empty for a reward without parts (the default).
  virtual std::optional<double> score_with_parts(const RewardInput& input,
                                                 std::map<std::string, double>& parts) {
    parts.clear();
    return score(input);
  }
};

// A reward parameter's value: a number, or a string for a choice parameter.
using ParamValue = std::variant<double, std::string>;

// One parameter a reward takes from its [[rl.rewards]] table.
struct ParamSpec {
  enum class Type {
    kNumber,   // a finite number (an integer is accepted)
    kInteger,  // an integer, stored as a double
    kChoice,   // a string from `choices`
  };
  std::string name;
  Type type = Type::kNumber;
  std::optional<ParamValue> default_value;  // nullopt: the parameter is required
  std::optional<double> min, max;           // kNumber, kInteger: inclusive bounds
  std::vector<std::string> choices;         // kChoice
  std::string description;                  // one line, lower case, no trailing period
};

// Builders, so that a parameter reads: name, default, constraints,
// description. std::nullopt as the default makes the parameter required; as
// a bound, leaves that side open.
ParamSpec number_param(std::string name, std::optional<double> default_value,
                       std::optional<double> min, std::optional<double> max,
                       std::string description);
ParamSpec integer_param(std::string name, std::optional<int64_t> default_value,
                        std::optional<int64_t> min, std::optional<int64_t> max,
                        std::string description);
ParamSpec choice_param(std::string name, std::string default_value,
                       std::vector<std::string> choices, std::string description);

// The resolved parameters of one reward: every parameter its definition
// declares, each of the declared type and within bounds (defaults filled in).
// Getters on a name the definition does not declare, or of the wrong type,
// are programming errors and throw std::logic_error.
class RewardParams {
 public:
  RewardParams() = default;
  explicit RewardParams(std::map<std::string, ParamValue, std::less<>> values)
      : values_(std::move(values)) {}

  double number(std::string_view name) const;
  int64_t integer(std::string_view name) const;
  const std::string& choice(std::string_view name) const;

 private:
  const ParamValue& at(std::string_view name) const;
  std::map<std::string, ParamValue, std::less<>> values_;
};

// Builds a reward from valid params. May throw ponder::Error for a problem
// between parameters (e.g. overlong's buffer > max_len), without the
// location: callers prefix it. Must be cheap and free of side effects, since
// parse_reward_specs builds each reward once to check its params.
using RewardFactory = std::function<std::unique_ptr<Reward>(const RewardParams&)>;

struct RewardDefinition {
  std::string name;         // as config names it: letters, digits, '_', '-'
  std::string description;  // one line, lower case, no trailing period
  std::vector<ParamSpec> params;
  RewardFactory make;
};

// Reward definitions by name. Copyable: a caller extends a copy of builtin().
class RewardRegistry {
 public:
  // correct, format, length, overlong, tool_error (builtin_rewards.def).
  static const RewardRegistry& builtin();

  // Throws ponder::Error when the name is taken or not letters, digits, '_'
  // and '-', or when a parameter's default breaks its own constraints.
  void add(RewardDefinition definition);

  // The definition called `name`, or null.
  const RewardDefinition* find(std::string_view name) const;

  // Every name, sorted.
  std::vector<std::string> names() const;

 private:
  std::map<std::string, RewardDefinition, std::less<>> definitions_;
};

// Why `value` does not fit `spec` ("expected an integer >= 1, got 0.5"), or
// "" when it does. Shared by the registry (defaults) and the config parser.
std::string param_problem(const ParamSpec& spec, const ParamValue& value);

}  // namespace ponder
