// The rewards of a run, as config lists them:
//
//   [[rl.rewards]]
//   name = "correct"          # a registered reward (reward.h)
//   weight = 1.0
//
//   [[rl.rewards]]
//   name = "overlong"
//   weight = 1.0
//   max_len = 512             # the reward's own parameters
//   buffer = 128
//
//   [[rl.rewards]]
//   name = "judge"            # any name, for a reward computed by a program
//   kind = "command"
//   command = ["python3", "my_reward.py"]
//   weight = 0.5
//   timeout_s = 30            # optional
//
// Keys of every entry: `name` (required), `weight` (required, finite; 0
// records the score without training on it), `kind` ("builtin", the
// default, or "command"). A built-in takes the parameters its definition
// declares; a command reward takes `command` (required, a non-empty list of
// strings) and `timeout_s` (> 0, default 30). Names are unique in the list.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "policy/closest_match.h"

#include <toml++/toml.h>

#include "rewards/reward.h"

namespace ponder {

// The keys of an entry that are not a built-in's parameters: every entry's
// (name, kind, weight) and a command reward's (command, timeout_s).
inline constexpr std::array<std::string_view, 5> kRewardEntryKeys = {"name", "kind", "weight",
                                                                     "command", "timeout_s"};

struct RewardSpec {
  enum class Kind { kBuiltin, kCommand };

  std::string name;
  Kind kind = Kind::kBuiltin;
  double weight = 0;
  RewardParams params;               // kBuiltin: resolved and checked
  std::vector<std::string> command;  // kCommand: program, then arguments
  double timeout_s = 30;             // kCommand: per request
  // Where the entry was written ("runs/x.toml:12"), for later messages.
  std::string where;
};

// The entries of an `rl.rewards` array of tables, checked against
// `registry`. `source_name` is the file as the user named it; messages say
// "<source_name>:<line>".
//
// Throws ponder::Error naming the file, line and key for: an entry that is
// not a table, a missing name, weight or command, an unknown reward name or
// key (with the closest valid one as a "did you mean"), a value of the wrong
// type or out of range, a problem between parameters, a repeated name, and
// an empty list.
std::vector<RewardSpec> parse_reward_specs(
    const toml::array& entries, const std::string& source_name,
    const RewardRegistry& registry = RewardRegistry::builtin());

}  // namespace ponder
