// The built-in rewards on hand-written rollouts, well-formed and hostile:
// answers repeated, hidden in thinking or after the end, unclosed spans,
// garbage bytes, and a fuzz over special-token soup.
#include <cmath>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rewards/reward.h"
#include "tests/rewards/rewards_test_util.h"

namespace ponder {
namespace {

using testing::arith_task;
using testing::rollout;
using testing::tool_call;

std::unique_ptr<Reward> make(const std::string& name,
                             std::map<std::string, ParamValue, std::less<>> params = {}) {
  const RewardDefinition* definition = RewardRegistry::builtin().find(name);
  EXPECT_NE(definition, nullptr) << name;
  for (const ParamSpec& spec : definition->params) {
    if (spec.default_value && !params.contains(spec.name)) {
      params.emplace(spec.name, *spec.default_value);
    }
  }
  return definition->make(RewardParams(std::move(params)));
}

double score(Reward& reward, const Task& task, const Rollout& r) {
  const std::optional<double> s = reward.score(RewardInput(task, task.prompt, r));
  EXPECT_TRUE(s.has_value());
  return s.value_or(NAN);
}

double score(const std::string& name, const std::string& text, std::string finish = "end") {
  return score(*make(name), arith_task(), rollout(text, 10, std::move(finish)));
}

TEST(CorrectReward, IsTheVerifiersVerdictOnTheFinalAnswer) {
  EXPECT_EQ(score("correct", "<|think|>6*7=42<|/think|><|answer|>42<|/answer|><|end|>"), 1);
  EXPECT_EQ(score("correct", "<|answer|> 42.0 <|/answer|><|end|>"), 1);  // normalised
  EXPECT_EQ(score("correct", "<|answer|>41<|/answer|><|end|>"), 0);
  EXPECT_EQ(score("correct", "The answer is 42.<|end|>"), 0);  // no answer span
  EXPECT_EQ(score("correct", ""), 0);
  // Cut off after the answer: still a single well-formed answer.
  EXPECT_EQ(score("correct", "<|answer|>42<|/answer|>", "length"), 1);
}

TEST(CorrectReward, GivesNothingForHostileAnswers) {
  // Answers repeated, even when both are right.
  EXPECT_EQ(score("correct", "<|answer|>42<|/answer|><|answer|>42<|/answer|><|end|>"), 0);
  EXPECT_EQ(score("correct", "<|answer|>41<|/answer|><|answer|>42<|/answer|><|end|>"), 0);
  // The answer only inside thinking, closed or not.
  EXPECT_EQ(score("correct", "<|think|><|answer|>42<|/answer|><|/think|><|end|>"), 0);
  EXPECT_EQ(score("correct", "<|think|>so <|answer|>42<|/answer|><|end|>"), 0);
  // Text after the answer, or a spelled token that is not one (render_text
  // writes ordinary "<|" as "< |").
  EXPECT_EQ(score("correct", "<|answer|>42<|/answer|> or 41<|end|>"), 0);
  EXPECT_EQ(score("correct", "< |answer|>42< |/answer|><|end|>"), 0);
  // Garbage bytes inside and around the span.
  EXPECT_EQ(score("correct", "\xff\xfe<|answer|>\x80\x81<|/answer|><|end|>"), 0);
  EXPECT_EQ(score("correct", "<|answer|>42\xff<|/answer|><|end|>"), 0);
  EXPECT_EQ(score("correct", std::string("<|answer|>42\0<|/answer|><|end|>", 31)), 0);
  EXPECT_EQ(score("correct", "<|answer|>" + std::string(1 << 20, '9') + "<|/answer|><|end|>"), 0);
}

TEST(CorrectReward, UsesEachFamilysVerifier) {
  Task countdown = arith_task("(2 * 3) * 7");
  countdown.family = Family::kCountdown;
  countdown.metadata = {{"numbers", {2, 3, 7}}, {"target", 42}};
  auto correct = make("correct");
  auto answer = [&](const std::string& a) {
    return score(*correct, countdown, rollout("<|answer|>" + a + "<|/answer|><|end|>"));
  };
  EXPECT_EQ(answer("7 * (3 * 2)"), 1);  // any valid solution
  EXPECT_EQ(answer("6 * 7"), 0);        // 6 is not given
  EXPECT_EQ(answer("7 * 7 - 7"), 0);    // 7 used thrice
  EXPECT_EQ(answer("((((((((((2"), 0);
  EXPECT_EQ(answer("2 / 0"), 0);
  EXPECT_EQ(answer(std::string(10000, '(') + "2"), 0);

  Task lookup = arith_task("Oskel");
  lookup.family = Family::kLookup;
  EXPECT_EQ(score(*correct, lookup, rollout("<|answer|>The Oskel.<|/answer|><|end|>")), 1);
  EXPECT_EQ(score(*correct, lookup, rollout("<|answer|>Oskelton<|/answer|><|end|>")), 0);
}

TEST(FormatReward, AcceptsTheShapesTheRendererWrites) {
  EXPECT_EQ(score("format", "<|answer|>42<|/answer|><|end|>"), 1);
  EXPECT_EQ(score("format", "<|think|>6*7<|/think|><|answer|>42<|/answer|><|end|>"), 1);
  EXPECT_EQ(score("format",
                  "<|think|>use the calculator<|/think|><|tool_call|>python\n6*7<|/tool_call|>"
                  "<|tool_result|>42<|/tool_result|>So: <|answer|>42<|/answer|>\n<|end|>"),
            1);
  // A wrong answer is well-formed: format is not correctness.
  EXPECT_EQ(score("format", "<|think|><|/think|><|answer|>41<|/answer|><|end|>"), 1);
  // Text between spans may be any bytes.
  EXPECT_EQ(score("format", "\xff\xfe<|answer|>x<|/answer|><|end|>"), 1);
}

TEST(FormatReward, RejectsUnclosedNestedRepeatedAndTrailing) {
  const char* bad[] = {
      "<|think|>6*7<|answer|>42<|/answer|><|end|>",                    // thinking unclosed
      "<|think|><|answer|>42<|/answer|><|/think|><|end|>",             // answer in thinking
      "<|think|>a<|/think|><|think|>b<|answer|>42<|/answer|><|end|>",  // second unclosed
      "<|answer|>42<|/answer|><|answer|>42<|/answer|><|end|>",         // answers repeated
      "<|answer|>42<|/answer|> and more<|end|>",                       // text after it
      "<|answer|>42<|/answer|><|think|>hm<|/think|><|end|>",           // a span after it
      "<|answer|>42<|/answer|>",                                       // no end
      "<|answer|>42<|/answer|><|end|><|end|>",                         // end twice
      "<|answer|>42<|/answer|><|end|> ",                               // text after the end
      "<|end|><|answer|>42<|/answer|><|end|>",                         // end early
      "<|answer|>  <|/answer|><|end|>",                                // blank answer
      "<|answer|>4<|think|>2<|/think|><|/answer|><|end|>",             // nested in the answer
      "<|/think|><|answer|>42<|/answer|><|end|>",                      // closer alone
      "<|think|><|tool_call|>python\n1<|/tool_call|><|/think|><|answer|>1<|/answer|><|end|>",
      "<|tool_call|>python\n<|answer|>42<|/answer|><|end|>",  // answer in an open call
      "<|user|>hi<|answer|>42<|/answer|><|end|>",             // another role's token
      "<|pad|><|answer|>42<|/answer|><|end|>",
      "no answer<|end|>",
      "",
  };
  for (const char* text : bad) EXPECT_EQ(score("format", text), 0) << text;
  // The right shape, but the turn did not end.
  EXPECT_EQ(score("format", "<|answer|>42<|/answer|><|end|>", "length"), 0);
  EXPECT_EQ(score("format", "<|answer|>42<|/answer|><|end|>", "tool_budget"), 0);
}

TEST(ToolErrorReward, CountsFailedCalls) {
  auto reward = make("tool_error");
  Rollout r = rollout("<|answer|>42<|/answer|><|end|>");
  EXPECT_EQ(score(*reward, arith_task(), r), 0);
  r.tool_calls = {tool_call("ok"), tool_call("ok")};
  EXPECT_EQ(score(*reward, arith_task(), r), 0);
  r.tool_calls = {tool_call("ok"), tool_call("error"), tool_call("timeout"), tool_call("limit")};
  EXPECT_EQ(score(*reward, arith_task(), r), -3);
  r.tool_calls = {tool_call("")};  // a status the engine never writes is not "ok"
  EXPECT_EQ(score(*reward, arith_task(), r), -1);
}

TEST(OverlongReward, IsDaposSoftPenalty) {
  auto reward = make("overlong", {{"max_len", 20.0}, {"buffer", 5.0}});
  auto at = [&](int tokens) { return score(*reward, arith_task(), rollout("x", tokens)); };
  EXPECT_EQ(at(0), 0);
  EXPECT_EQ(at(15), 0);  // max_len - buffer: still free
  EXPECT_DOUBLE_EQ(at(16), -0.2);
  EXPECT_DOUBLE_EQ(at(18), -0.6);
  EXPECT_DOUBLE_EQ(at(20), -1);
  EXPECT_EQ(at(21), -1);
  EXPECT_EQ(at(1000), -1);
  // buffer = max_len: the penalty grows from the first token.
  auto whole = make("overlong", {{"max_len", 4.0}, {"buffer", 4.0}});
  EXPECT_DOUBLE_EQ(score(*whole, arith_task(), rollout("x", 1)), -0.25);
}

TEST(LengthReward, CostsEachCountedTokenBeyondTheFreeOnes) {
  Rollout r = rollout("<|think|>...<|/think|><|answer|>42<|/answer|><|end|>", 10, "end", 4);
  r.thinking_tokens = 7;
  auto with = [&](std::map<std::string, ParamValue, std::less<>> params) {
    return score(*make("length", std::move(params)), arith_task(), r);
  };
  EXPECT_EQ(with({}), -6);  // sampled: the 4 forced tokens are free
  EXPECT_EQ(with({{"count", "all"}}), -10);
  EXPECT_EQ(with({{"count", "thinking"}}), -7);
  EXPECT_EQ(with({{"count", "all"}, {"free", 8.0}}), -2);
  EXPECT_EQ(with({{"count", "all"}, {"free", 50.0}}), 0);
}

// Special-token soup with stray bytes: every built-in gives a finite score,
// correct and format say 0 or 1, and neither says 1 without a final answer.
TEST(BuiltinRewards, SurviveRandomSpecialTokenSoup) {
  const std::vector<std::string> pieces = {"<|think|>",
                                           "<|/think|>",
                                           "<|answer|>",
                                           "<|/answer|>",
                                           "<|tool_call|>",
                                           "<|/tool_call|>",
                                           "<|tool_result|>",
                                           "<|/tool_result|>",
                                           "<|end|>",
                                           "<|user|>",
                                           "42",
                                           " ",
                                           "\xff",
                                           "<|",
                                           "|>",
                                           "< |answer|>",
                                           "\n",
                                           "python\n"};
  std::vector<std::unique_ptr<Reward>> rewards;
  for (const std::string& name : RewardRegistry::builtin().names()) {
    rewards.push_back(name == "overlong" ? make(name, {{"max_len", 8.0}, {"buffer", 3.0}})
                                         : make(name));
  }
  std::mt19937 rng(7);
  const Task task = arith_task();
  int formatted = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string text;
    const int n = static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) text += pieces[rng() % pieces.size()];
    if (rng() % 2) text += "<|answer|>42<|/answer|><|end|>";
    Rollout r = rollout(text, static_cast<int>(rng() % 16), rng() % 4 ? "end" : "length");
    r.tool_calls = {tool_call(rng() % 2 ? "ok" : "error")};
    const RewardInput input(task, task.prompt, r);
    for (size_t i = 0; i < rewards.size(); ++i) {
      const std::optional<double> s = rewards[i]->score(input);
      ASSERT_TRUE(s && std::isfinite(*s)) << text;
    }
    const double correct = *make("correct")->score(input), format = *make("format")->score(input);
    ASSERT_TRUE(correct == 0 || correct == 1) << text;
    ASSERT_TRUE(format == 0 || format == 1) << text;
    if (format == 1 || correct == 1) {
      ASSERT_TRUE(input.final_answer.has_value()) << text;
    }
    formatted += format == 1;
  }
  EXPECT_GT(formatted, 0);  // the soup reaches the well-formed case too
}

}  // namespace
}  // namespace ponder
