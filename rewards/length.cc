// length: a cost per token, to make responses (or their thinking) shorter:
// minus the number of counted tokens beyond the first `free`. The weight is
// the cost per token. What counts:
//   sampled   tokens the policy wrote (forced tool results are not its choice)
//   all       every completion token
//   thinking  tokens inside thinking spans
#include <algorithm>
#include <memory>

#include "rewards/reward.h"

namespace ponder {
namespace {

class LengthReward final : public Reward {
 public:
  LengthReward(std::string count, int64_t free) : count_(std::move(count)), free_(free) {}

  std::optional<double> score(const RewardInput& input) override {
    const Rollout& r = input.rollout;
    int64_t n = 0;
    if (count_ == "all") {
      n = static_cast<int64_t>(r.ids.size());
    } else if (count_ == "thinking") {
      n = r.thinking_tokens;
    } else {
      n = std::count(r.mask.begin(), r.mask.end(), uint8_t{1});
    }
    return -static_cast<double>(std::max<int64_t>(0, n - free_));
  }

 private:
  std::string count_;
  int64_t free_;
};

}  // namespace

RewardDefinition length_reward() {
  return {"length",
          "minus the number of counted tokens beyond `free`; weight is the cost per token",
          {choice_param("count", "sampled", {"sampled", "all", "thinking"},
                        "which tokens count: sampled by the policy, all, or inside thinking"),
           integer_param("free", 0, 0, std::nullopt, "how many tokens are free of cost")},
          [](const RewardParams& params) -> std::unique_ptr<Reward> {
            return std::make_unique<LengthReward>(params.choice("count"), params.integer("free"));
          }};
}

}  // namespace ponder
