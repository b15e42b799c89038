// tool_error: minus one for each tool call that failed: the tool reported an
// error (a syntax error, an exception, a call that was not "name\ninput" or
// named no tool), ran out of time, or hit a limit. The weight is the penalty
// per call. A rollout without tool calls scores 0.
#include <memory>

#include "rewards/reward.h"

namespace ponder {
namespace {

class ToolErrorReward final : public Reward {
 public:
  std::optional<double> score(const RewardInput& input) override {
    double failed = 0;
    for (const ToolCallSegment& call : input.rollout.tool_calls) {
      failed += call.outcome.status != "ok";
    }
    return -failed;
  }
};

}  // namespace

RewardDefinition tool_error_reward() {
  return {"tool_error",
          "minus the number of failed tool calls (error, timeout, limit); weight is the penalty "
          "per call",
          {},
          [](const RewardParams&) -> std::unique_ptr<Reward> {
            return std::make_unique<ToolErrorReward>();
          }};
}

}  // namespace ponder
