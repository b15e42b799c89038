#include "rewards/reward_set.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>

#include "policy/error.h"
#include "rewards/command_reward.h"

namespace ponder {

RewardSet::RewardSet(const std::vector<RewardSpec>& specs, const RewardRegistry& registry) {
  for (const RewardSpec& spec : specs) {
    std::unique_ptr<Reward> reward;
    try {
      if (spec.kind == RewardSpec::Kind::kCommand) {
        const auto timeout = std::chrono::milliseconds(std::llround(spec.timeout_s * 1000));
        reward = std::make_unique<CommandReward>(spec.name, spec.command, timeout);
      } else if (const RewardDefinition* definition = registry.find(spec.name)) {
        reward = definition->make(spec.params);
      } else {
        throw Error(fmt::format("reward `{}` is not registered", spec.name));
      }
    } catch (const Error& e) {
      throw Error(fmt::format("the reward at {}: {}", spec.where, e.what()));
    }
    entries_.push_back({spec.name, spec.weight, std::move(reward)});
  }
}

RewardBreakdown RewardSet::score(const Task& task, std::string_view prompt,
                                 const Rollout& rollout) {
  const RewardInput input(task, prompt, rollout);
  RewardBreakdown out;
  std::map<std::string, double> parts;
  for (Entry& entry : entries_) {
    const std::optional<double> score = entry.reward->score_with_parts(input, parts);
    if (!score) continue;
    // A NaN would spread through every advantage of the batch.
    if (!std::isfinite(*score)) {
      throw Error(fmt::format("reward `{}` gave {} for task {}; a score must be finite", entry.name,
                              *score, task.id));
    }
    out.scores[entry.name] = *score;
    for (const auto& [part, value] : parts) out.scores[entry.name + "." + part] = value;
    out.total += entry.weight * *score;
  }
  return out;
}

std::vector<std::string> RewardSet::names() const {
  std::vector<std::string> out;
  for (const Entry& entry : entries_) out.push_back(entry.name);
  return out;
}

}  // namespace ponder
