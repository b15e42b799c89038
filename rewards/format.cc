// format: 1 when the response has the shape the chat renderer writes
// (policy/chat.h), else 0. Reading the special tokens of the completion in
// order, all of these hold:
//  - the turn ended: finish_reason is "end", and <|end|> comes once, last;
//  - only assistant tokens appear: no <|bos|>, <|user|>, <|assistant|>,
//    <|system|> or <|pad|>;
//  - spans are flat and closed: after <|think|>, <|tool_call|>,
//    <|tool_result|> or <|answer|> the next special token is its closer, and
//    no closer comes without its opener. So thinking is closed, and an answer
//    inside thinking or a tool call is a malformed one, not a final answer;
//  - exactly one answer span, with text other than whitespace, and after it
//    nothing but whitespace before <|end|>.
// Text between spans is free. What the answer says is `correct`'s business.
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "policy/special_tokens.h"
#include "rewards/reward.h"

namespace ponder {
namespace {

// The special token spelled at `text[pos]`, if any. Only real special tokens
// are spelled in a completion (RewardInput::rollout).
std::optional<Special> special_at(std::string_view text, size_t pos) {
  for (int i = 0; i < kNumSpecialTokens; ++i) {
    if (text.substr(pos).starts_with(kSpecialTokens[i])) return static_cast<Special>(i);
  }
  return std::nullopt;
}

// The closer of a span opener; nullopt for a token that opens no span.
std::optional<Special> closer_of(Special token) {
  switch (token) {
    case Special::kThinkStart:
      return Special::kThinkEnd;
    case Special::kToolCallStart:
      return Special::kToolCallEnd;
    case Special::kToolResultStart:
      return Special::kToolResultEnd;
    case Special::kAnswerStart:
      return Special::kAnswerEnd;
    default:
      return std::nullopt;
  }
}

struct Mark {
  Special token;
  size_t begin, end;  // byte range of its spelling
};

std::vector<Mark> special_marks(std::string_view text) {
  std::vector<Mark> marks;
  for (size_t pos = text.find("<|"); pos != std::string_view::npos; pos = text.find("<|", pos)) {
    if (const std::optional<Special> token = special_at(text, pos)) {
      const size_t end = pos + kSpecialTokens[static_cast<int>(*token)].size();
      marks.push_back({*token, pos, end});
      pos = end;
    } else {
      pos += 2;
    }
  }
  return marks;
}

bool blank(std::string_view text) {
  return text.find_first_not_of(" \t\n\r\f\v") == std::string_view::npos;
}

bool well_formed(std::string_view text) {
  const std::vector<Mark> marks = special_marks(text);
  // ... <|answer|> x <|/answer|> whitespace <|end|>, and nothing after.
  const size_t n = marks.size();
  if (n < 3 || marks[n - 1].token != Special::kEnd || marks[n - 1].end != text.size() ||
      marks[n - 2].token != Special::kAnswerEnd ||
      !blank(text.substr(marks[n - 2].end, marks[n - 1].begin - marks[n - 2].end))) {
    return false;
  }
  std::optional<Special> awaited;  // the closer of the open span
  int answers = 0;
  for (size_t i = 0; i + 1 < n; ++i) {
    const Special token = marks[i].token;
    if (awaited) {
      if (token != *awaited) return false;  // nested, or closed by another span's closer
      awaited.reset();
    } else if ((awaited = closer_of(token))) {
      answers += token == Special::kAnswerStart;
    } else {
      return false;  // a closer without its opener, <|end|> early, or another role's token
    }
  }
  return !awaited && answers == 1;
}

class FormatReward final : public Reward {
 public:
  std::optional<double> score(const RewardInput& input) override {
    const bool ok = input.rollout.finish_reason == "end" && input.final_answer.has_value() &&
                    well_formed(input.rollout.text);
    return ok ? 1.0 : 0.0;
  }
};

}  // namespace

RewardDefinition format_reward() {
  return {"format",
          "1 when thinking and tool spans are closed, there is exactly one final answer and "
          "nothing after it but <|end|>, else 0",
          {},
          [](const RewardParams&) -> std::unique_ptr<Reward> {
            return std::make_unique<FormatReward>();
          }};
}

}  // namespace ponder
