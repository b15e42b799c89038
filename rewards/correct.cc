// correct: the task's own verifier (curricula/task.h `check`) on the final
// answer. A response without exactly one well-formed answer span outside
// thinking scores 0 like a wrong answer: there is nothing to check.
#include <memory>

#include "rewards/reward.h"

namespace ponder {
namespace {

class CorrectReward final : public Reward {
 public:
  std::optional<double> score(const RewardInput& input) override {
    return input.final_answer && check(input.task, *input.final_answer) ? 1.0 : 0.0;
  }
};

}  // namespace

RewardDefinition correct_reward() {
  return {"correct",
          "the task's verifier: 1 when the final answer is right, else 0",
          {},
          [](const RewardParams&) -> std::unique_ptr<Reward> {
            return std::make_unique<CorrectReward>();
          }};
}

}  // namespace ponder
