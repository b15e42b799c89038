#include "rewards/reward.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

#include "curricula/answer.h"
#include "policy/error.h"
#include "rewards/reward_spec.h"
#include "rewards/shown.h"

namespace ponder {

std::string shown(std::string_view text, std::size_t max_bytes) {
  std::size_t cut = std::min(text.size(), max_bytes);
  while (cut > 0 && cut < text.size() && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
    --cut;  // inside a UTF-8 sequence
  }
  const std::string literal = nlohmann::json(std::string(text.substr(0, cut)))
                                  .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return cut < text.size() ? literal + "..." : literal;
}

bool is_plain_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

RewardInput::RewardInput(const Task& task, std::string_view prompt, const Rollout& rollout)
    : task(task),
      prompt(prompt),
      rollout(rollout),
      final_answer(extract_final_answer(rollout.text)) {}

const ParamValue& RewardParams::at(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) {
    throw std::logic_error(fmt::format("reward parameter `{}` is not declared", name));
  }
  return it->second;
}

double RewardParams::number(std::string_view name) const {
  const double* x = std::get_if<double>(&at(name));
  if (!x) throw std::logic_error(fmt::format("reward parameter `{}` is not a number", name));
  return *x;
}

int64_t RewardParams::integer(std::string_view name) const {
  return static_cast<int64_t>(number(name));
}

const std::string& RewardParams::choice(std::string_view name) const {
  const std::string* s = std::get_if<std::string>(&at(name));
  if (!s) throw std::logic_error(fmt::format("reward parameter `{}` is not a choice", name));
  return *s;
}

ParamSpec number_param(std::string name, std::optional<double> default_value,
                       std::optional<double> min, std::optional<double> max,
                       std::string description) {
  ParamSpec spec;
  spec.name = std::move(name);
  spec.type = ParamSpec::Type::kNumber;
  if (default_value) spec.default_value = *default_value;
  spec.min = min;
  spec.max = max;
  spec.description = std::move(description);
  return spec;
}

ParamSpec integer_param(std::string name, std::optional<int64_t> default_value,
                        std::optional<int64_t> min, std::optional<int64_t> max,
                        std::string description) {
  auto to_double = [](std::optional<int64_t> x) -> std::optional<double> {
    return x ? std::optional<double>(static_cast<double>(*x)) : std::nullopt;
  };
  ParamSpec spec = number_param(std::move(name), to_double(default_value), to_double(min),
                                to_double(max), std::move(description));
  spec.type = ParamSpec::Type::kInteger;
  return spec;
}

ParamSpec choice_param(std::string name, std::string default_value,
                       std::vector<std::string> choices, std::string description) {
  ParamSpec spec;
  spec.name = std::move(name);
  spec.type = ParamSpec::Type::kChoice;
  spec.default_value = std::move(default_value);
  spec.choices = std::move(choices);
  spec.description = std::move(description);
  return spec;
}

namespace {

// What bounds allow, for messages: " >= 1", " in [0, 1]", "" when unbounded.
std::string bounds_phrase(const ParamSpec& spec) {
  if (spec.min && spec.max) return fmt::format(" in [{}, {}]", *spec.min, *spec.max);
  if (spec.min) return fmt::format(" >= {}", *spec.min);
  if (spec.max) return fmt::format(" <= {}", *spec.max);
  return "";
}

}  // namespace

std::string param_problem(const ParamSpec& spec, const ParamValue& value) {
  if (spec.type == ParamSpec::Type::kChoice) {
    const std::string* s = std::get_if<std::string>(&value);
    if (!s) return fmt::format("expected a string, got {}", std::get<double>(value));
    if (std::find(spec.choices.begin(), spec.choices.end(), *s) != spec.choices.end()) return "";
    std::string problem =
        fmt::format("expected one of: {}, got {}", fmt::join(spec.choices, ", "), shown(*s));
    const std::string suggestion = closest_match(*s, spec.choices);
    if (!suggestion.empty()) problem += fmt::format("; did you mean {}?", shown(suggestion));
    return problem;
  }
  const bool integer = spec.type == ParamSpec::Type::kInteger;
  const std::string expected =
      fmt::format("expected {}{}", integer ? "an integer" : "a number", bounds_phrase(spec));
  const double* x = std::get_if<double>(&value);
  if (!x)
    return fmt::format("{}, got a string ({})", expected, shown(std::get<std::string>(value)));
  // 2^53: beyond it a double no longer holds every integer.
  const bool fits =
      std::isfinite(*x) && (!integer || (std::trunc(*x) == *x && std::abs(*x) <= 0x1p53));
  if (!fits || (spec.min && *x < *spec.min) || (spec.max && *x > *spec.max)) {
    return fmt::format("{}, got {}", expected, *x);
  }
  return "";
}

// Each line of builtin_rewards.def names a function, defined in the reward's
// own file, that returns its definition: declared here, called below.
#define PONDER_REWARD(definition) RewardDefinition definition();
#include "rewards/builtin_rewards.def"
#undef PONDER_REWARD

const RewardRegistry& RewardRegistry::builtin() {
  static const RewardRegistry registry = [] {
    RewardRegistry r;
#define PONDER_REWARD(definition) r.add(definition());
#include "rewards/builtin_rewards.def"
#undef PONDER_REWARD
    return r;
  }();
  return registry;
}

void RewardRegistry::add(RewardDefinition definition) {
  if (!is_plain_name(definition.name)) {
    throw Error(
        fmt::format("reward name {} is not letters, digits, '_' and '-'", shown(definition.name)));
  }
  if (definitions_.contains(definition.name)) {
    throw Error(fmt::format("reward `{}` is already registered", definition.name));
  }
  std::set<std::string_view> seen(kRewardEntryKeys.begin(), kRewardEntryKeys.end());
  for (const ParamSpec& param : definition.params) {
    if (!is_plain_name(param.name)) {
      throw Error(fmt::format("reward `{}`: parameter name {} is not letters, digits, '_' and '-'",
                              definition.name, shown(param.name)));
    }
    if (!seen.insert(param.name).second) {
      throw Error(
          fmt::format("reward `{}`: parameter `{}` is declared twice or is an entry key ({})",
                      definition.name, param.name, fmt::join(kRewardEntryKeys, ", ")));
    }
    if (!param.default_value) continue;
    const std::string problem = param_problem(param, *param.default_value);
    if (!problem.empty()) {
      throw Error(fmt::format("reward `{}`: the default of `{}` is wrong: {}", definition.name,
                              param.name, problem));
    }
  }
  std::string name = definition.name;
  definitions_.emplace(std::move(name), std::move(definition));
}

const RewardDefinition* RewardRegistry::find(std::string_view name) const {
  auto it = definitions_.find(name);
  return it == definitions_.end() ? nullptr : &it->second;
}

std::vector<std::string> RewardRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, definition] : definitions_) out.push_back(name);
  return out;
}

}  // namespace ponder
