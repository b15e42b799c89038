// The rewards of a run, weighted: what GRPO optimises.
//
// For one rollout, total = Σ weight_i · score_i over the rewards that apply
// (score_i not nullopt); a reward that does not apply adds nothing, and 0 is
// the total when none applies. Each applicable score is kept, unweighted,
// under its reward's name, and the named parts of a reward that has them
// under "<name>.<part>": RolloutRecord::reward and ::rewards
// (rollout/rollout_record.h) take the two as they are.
//
// Not thread-safe (a command reward talks to one process): score rollouts
// from one thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rewards/reward.h"
#include "rewards/reward_spec.h"

namespace ponder {

struct RewardBreakdown {
  double total = 0;
  std::map<std::string, double> scores;  // absent: did not apply
};

class RewardSet {
 public:
  // Builds every reward of `specs` (as parse_reward_specs returns them),
  // starting command rewards' processes. Throws ponder::Error, naming the
  // spec's name and place, when one cannot be built or started.
  explicit RewardSet(const std::vector<RewardSpec>& specs,
                     const RewardRegistry& registry = RewardRegistry::builtin());

  // Scores one rollout. Throws ponder::Error when a reward fails (see
  // CommandReward) or returns a number that is not finite.
  RewardBreakdown score(const Task& task, std::string_view prompt, const Rollout& rollout);

  // The rewards' names, in config order.
  std::vector<std::string> names() const;

 private:
  struct Entry {
    std::string name;
    double weight;
    std::unique_ptr<Reward> reward;
  };
  std::vector<Entry> entries_;
};

}  // namespace ponder
