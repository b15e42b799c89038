#include "rewards/reward_spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>

#include "policy/error.h"
#include "rewards/shown.h"

namespace ponder {
namespace {

std::string describe_node(const toml::node& node) {
  if (auto s = node.value_exact<std::string>()) return "a string (" + shown(*s, 60) + ")";
  if (auto i = node.value_exact<int64_t>()) return fmt::format("an integer ({})", *i);
  if (auto x = node.value_exact<double>()) return fmt::format("a float ({})", *x);
  if (auto b = node.value_exact<bool>()) return fmt::format("a boolean ({})", *b);
  if (node.is_array()) return "an array";
  if (node.is_table()) return "a table";
  return "a date or time";
}

// A key from the file, shown in a message: TOML allows any text in a quoted key.
std::string shown_key(std::string_view key) {
  return is_plain_name(key) ? std::string(key) : shown(key, 60);
}

// One [[rl.rewards]] entry being read; turns problems into messages that
// name the file, line and key.
class EntryReader {
 public:
  EntryReader(const toml::table& table, std::size_t index, const std::string& source)
      : table_(table), index_(index), source_(source) {}

  std::string location(const toml::node& node) const {
    const auto line = node.source().begin.line;
    return line == 0 ? source_ : fmt::format("{}:{}", source_, line);
  }

  // "`rl.rewards[1].max_len` at runs/x.toml:14: <problem>"
  [[noreturn]] void fail(std::string_view key, const toml::node& node,
                         std::string_view problem) const {
    const std::string path = key.empty() ? fmt::format("rl.rewards[{}]", index_)
                                         : fmt::format("rl.rewards[{}].{}", index_, shown_key(key));
    throw Error(fmt::format("`{}` at {}: {}", path, location(node), problem));
  }

  const toml::node* find(std::string_view key) const { return table_.get(key); }

  const toml::node& require(std::string_view key, std::string_view what) const {
    const toml::node* node = table_.get(key);
    if (!node) fail("", table_, fmt::format("missing `{}` ({})", key, what));
    return *node;
  }

  std::string string(std::string_view key, const toml::node& node) const {
    auto s = node.value_exact<std::string>();
    if (!s) fail(key, node, fmt::format("expected a string, got {}", describe_node(node)));
    return *s;
  }

  double number(std::string_view key, const toml::node& node) const {
    std::optional<double> x = node.value_exact<double>();
    if (auto i = node.value_exact<int64_t>()) x = static_cast<double>(*i);
    if (!x) fail(key, node, fmt::format("expected a number, got {}", describe_node(node)));
    if (!std::isfinite(*x)) fail(key, node, fmt::format("expected a finite number, got {}", *x));
    return *x;
  }

  const toml::table& table() const { return table_; }

 private:
  const toml::table& table_;
  std::size_t index_;
  const std::string& source_;
};

RewardSpec::Kind parse_kind(const EntryReader& entry) {
  const toml::node* node = entry.find("kind");
  if (!node) return RewardSpec::Kind::kBuiltin;
  const std::string kind = entry.string("kind", *node);
  if (kind == "builtin") return RewardSpec::Kind::kBuiltin;
  if (kind == "command") return RewardSpec::Kind::kCommand;
  const std::string suggestion = closest_match(kind, {"builtin", "command"});
  entry.fail(
      "kind", *node,
      fmt::format("expected \"builtin\" or \"command\", got {}{}", shown(kind, 60),
                  suggestion.empty() ? "" : fmt::format("; did you mean \"{}\"?", suggestion)));
}

// Refuses a key that neither the entry nor the reward takes: a typo or a
// misplaced key would otherwise pass silently. `definition` is null for a
// command reward.
void check_keys(const EntryReader& entry, const RewardDefinition* definition) {
  std::vector<std::string> known(kRewardEntryKeys.begin(), kRewardEntryKeys.end());
  if (definition) {
    known = {"name", "kind", "weight"};
    for (const ParamSpec& param : definition->params) known.push_back(param.name);
  }
  for (const auto& [key, value] : entry.table()) {
    const std::string_view k = key.str();
    if (std::find(known.begin(), known.end(), k) != known.end()) continue;
    if (definition && (k == "command" || k == "timeout_s")) {
      entry.fail(k, value, "only a command reward (kind = \"command\") takes this key");
    }
    const std::string suggestion = closest_match(k, known);
    const std::string hint =
        suggestion.empty() ? "" : fmt::format("; did you mean `{}`?", suggestion);
    if (!definition) {
      entry.fail(k, value,
                 fmt::format("unknown key for a command reward (it takes: {}){}",
                             fmt::join(kRewardEntryKeys, ", "), hint));
    }
    const std::vector<std::string> params(known.begin() + 3, known.end());
    entry.fail(k, value,
               fmt::format("unknown key; reward `{}` takes {}{}", definition->name,
                           params.empty() ? "no parameters"
                                          : fmt::format("parameters {}", fmt::join(params, ", ")),
                           hint));
  }
}

void parse_command(const EntryReader& entry, RewardSpec& spec) {
  const toml::node& node = entry.require(
      "command", "the program and its arguments, e.g. [\"python3\", \"my_reward.py\"]");
  const toml::array* array = node.as_array();
  if (!array) {
    entry.fail("command", node,
               fmt::format("expected a list of strings, got {}", describe_node(node)));
  }
  for (const toml::node& item : *array) {
    auto s = item.value_exact<std::string>();
    if (!s) {
      entry.fail("command", item,
                 fmt::format("expected a list of strings, got {} in it", describe_node(item)));
    }
    spec.command.push_back(*s);
  }
  if (spec.command.empty() || spec.command[0].empty()) {
    entry.fail("command", node, "expected the program, then its arguments; got no program");
  }
  if (const toml::node* timeout = entry.find("timeout_s")) {
    spec.timeout_s = entry.number("timeout_s", *timeout);
    // An hour bounds how long one stuck script can hold a training step.
    if (spec.timeout_s <= 0 || spec.timeout_s > 3600) {
      entry.fail("timeout_s", *timeout,
                 fmt::format("expected a number in (0, 3600], got {}", spec.timeout_s));
    }
  }
}

ParamValue param_value(const EntryReader& entry, const ParamSpec& param, const toml::node& node) {
  if (auto s = node.value_exact<std::string>()) return *s;
  if (auto i = node.value_exact<int64_t>()) return static_cast<double>(*i);
  if (auto x = node.value_exact<double>()) return *x;
  entry.fail(param.name, node,
             fmt::format("expected {}, got {}",
                         param.type == ParamSpec::Type::kChoice ? "a string" : "a number",
                         describe_node(node)));
}

void parse_params(const EntryReader& entry, const RewardDefinition& definition, RewardSpec& spec) {
  std::map<std::string, ParamValue, std::less<>> values;
  for (const ParamSpec& param : definition.params) {
    const toml::node* node = entry.find(param.name);
    if (!node) {
      if (!param.default_value) {
        entry.fail("", entry.table(),
                   fmt::format("reward `{}` needs `{}` ({})", definition.name, param.name,
                               param.description));
      }
      values.emplace(param.name, *param.default_value);
      continue;
    }
    const ParamValue value = param_value(entry, param, *node);
    const std::string problem = param_problem(param, value);
    if (!problem.empty()) entry.fail(param.name, *node, problem);
    values.emplace(param.name, value);
  }
  spec.params = RewardParams(std::move(values));
  // The definition checks what lies between parameters when it builds.
  try {
    definition.make(spec.params);
  } catch (const Error& e) {
    entry.fail("", entry.table(), fmt::format("reward `{}`: {}", definition.name, e.what()));
  }
}

const RewardDefinition& find_definition(const EntryReader& entry, const RewardRegistry& registry,
                                        const std::string& name, const toml::node& name_node) {
  if (const RewardDefinition* definition = registry.find(name)) return *definition;
  const std::string suggestion = closest_match(name, registry.names());
  entry.fail("name", name_node,
             fmt::format("unknown reward {}{}; built-ins are: {} (for your own program, set "
                         "kind = \"command\")",
                         shown(name, 60),
                         suggestion.empty() ? "" : fmt::format(" (did you mean `{}`?)", suggestion),
                         fmt::join(registry.names(), ", ")));
}

RewardSpec parse_entry(const EntryReader& entry, const RewardRegistry& registry) {
  RewardSpec spec;
  spec.where = entry.location(entry.table());
  const toml::node& name_node =
      entry.require("name", "a built-in reward's name, or your own with kind = \"command\"");
  spec.name = entry.string("name", name_node);
  spec.kind = parse_kind(entry);
  const RewardDefinition* definition = nullptr;
  if (spec.kind == RewardSpec::Kind::kBuiltin) {
    definition = &find_definition(entry, registry, spec.name, name_node);
  } else if (!is_plain_name(spec.name)) {
    // It names the scores in the database and in metrics.
    entry.fail("name", name_node,
               fmt::format("expected letters, digits, '_' and '-', got {}", shown(spec.name, 60)));
  }
  check_keys(entry, definition);
  spec.weight =
      entry.number("weight", entry.require("weight", "a number; 0 logs without training"));
  if (definition) {
    parse_params(entry, *definition, spec);
  } else {
    parse_command(entry, spec);
  }
  return spec;
}

}  // namespace

std::vector<RewardSpec> parse_reward_specs(const toml::array& entries,
                                           const std::string& source_name,
                                           const RewardRegistry& registry) {
  if (entries.empty()) {
    const auto line = entries.source().begin.line;
    throw Error(
        fmt::format("`rl.rewards` at {}: the list is empty; give at least one "
                    "[[rl.rewards]] with a name and a weight",
                    line == 0 ? source_name : fmt::format("{}:{}", source_name, line)));
  }
  std::vector<RewardSpec> specs;
  std::map<std::string, std::string> seen;  // name -> where
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const toml::node& node = *entries.get(i);
    const toml::table* table = node.as_table();
    if (!table) {
      const auto line = node.source().begin.line;
      throw Error(fmt::format("`rl.rewards[{}]` at {}: expected a table ([[rl.rewards]]), got {}",
                              i, line == 0 ? source_name : fmt::format("{}:{}", source_name, line),
                              describe_node(node)));
    }
    const EntryReader entry(*table, i, source_name);
    RewardSpec spec = parse_entry(entry, registry);
    if (auto [it, fresh] = seen.emplace(spec.name, spec.where); !fresh) {
      entry.fail("name", *table->get("name"),
                 fmt::format("reward `{}` is listed twice (first at {}); each needs its own name",
                             spec.name, it->second));
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

}  // namespace ponder
