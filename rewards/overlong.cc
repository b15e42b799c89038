// overlong: DAPO's soft overlong punishment (Yu et al. 2025, eq. 13). With
// L the completion's length in tokens (forced tool results included, as
// max_new_tokens counts them):
//   0                                  L <= max_len - buffer
//   ((max_len - buffer) - L) / buffer  max_len - buffer < L <= max_len
//   -1                                 L > max_len
// so a response is nudged away from the limit before it is cut there. With
// max_len = max_new_tokens, a truncated response scores -1.
#include <fmt/format.h>

#include <memory>

#include "policy/error.h"
#include "rewards/reward.h"

namespace ponder {
namespace {

class OverlongReward final : public Reward {
 public:
  OverlongReward(int64_t max_len, int64_t buffer) : max_len_(max_len), buffer_(buffer) {}

  std::optional<double> score(const RewardInput& input) override {
    const auto length = static_cast<int64_t>(input.rollout.ids.size());
    const int64_t free = max_len_ - buffer_;
    if (length <= free) return 0.0;
    if (length > max_len_) return -1.0;
    return static_cast<double>(free - length) / static_cast<double>(buffer_);
  }

 private:
  int64_t max_len_, buffer_;
};

}  // namespace

RewardDefinition overlong_reward() {
  return {
      "overlong",
      "DAPO's soft overlong penalty: 0 up to max_len - buffer tokens, then falling "
      "linearly to -1 at max_len, -1 beyond",
      {integer_param("max_len", std::nullopt, 1, std::nullopt,
                     "the length in tokens that scores -1 (usually max_new_tokens)"),
       integer_param("buffer", std::nullopt, 1, std::nullopt,
                     "how many tokens before max_len the penalty starts")},
      [](const RewardParams& params) -> std::unique_ptr<Reward> {
        const int64_t max_len = params.integer("max_len"), buffer = params.integer("buffer");
        if (buffer > max_len) {
          throw Error(fmt::format("`buffer` ({}) must not exceed `max_len` ({})", buffer, max_len));
        }
        return std::make_unique<OverlongReward>(max_len, buffer);
      }};
}

}  // namespace ponder
