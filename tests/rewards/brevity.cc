// brevity: 1 when the thinking fits in `target` tokens, falling towards 0 as
// it runs longer; not applicable to a response without a final answer.
#include <algorithm>
#include <memory>

#include "rewards/reward.h"

namespace ponder {
namespace {

class BrevityReward final : public Reward {
 public:
  explicit BrevityReward(int64_t target) : target_(target) {}

  std::optional<double> score(const RewardInput& input) override {
    if (!input.final_answer) return std::nullopt;  // `format` judges those
    const int64_t over = std::max<int64_t>(0, input.rollout.thinking_tokens - target_);
    return static_cast<double>(target_) / static_cast<double>(target_ + over);
  }

 private:
  int64_t target_;
};

}  // namespace

RewardDefinition brevity_reward() {
  return {"brevity",
          "1 when thinking fits in `target` tokens, falling towards 0 beyond",
          {integer_param("target", 200, 1, std::nullopt, "thinking tokens that cost nothing")},
          [](const RewardParams& params) -> std::unique_ptr<Reward> {
            return std::make_unique<BrevityReward>(params.integer("target"));
          }};
}

}  // namespace ponder
