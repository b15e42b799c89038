// The registry (built-ins, adding rewards, its checks) and RewardSet: the
// weighted sum of the applicable rewards with each score kept.
#include <cmath>
#include <stdexcept>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/error.h"
#include "rewards/reward.h"
#include "rewards/reward_set.h"
#include "rewards/reward_spec.h"
#include "tests/rewards/rewards_test_util.h"

namespace ponder {
namespace {

using testing::arith_task;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using testing::rollout;
using testing::tool_call;
using ::testing::UnorderedElementsAre;

// A reward that says what it was built to say, for any rollout.
class FixedReward final : public Reward {
 public:
  explicit FixedReward(std::optional<double> value) : value_(value) {}
  std::optional<double> score(const RewardInput&) override { return value_; }

 private:
  std::optional<double> value_;
};

RewardDefinition fixed(std::string name, std::optional<double> value) {
  return {std::move(name), "a fixed score", {}, [value](const RewardParams&) {
            return std::make_unique<FixedReward>(value);
          }};
}

std::vector<RewardSpec> specs(const std::string& toml_text,
                              const RewardRegistry& registry = RewardRegistry::builtin()) {
  const toml::table doc = toml::parse(toml_text, std::string("runs/x.toml"));
  return parse_reward_specs(*doc["rl"]["rewards"].as_array(), "runs/x.toml", registry);
}

TEST(RewardRegistry, HasTheBuiltins) {
  const RewardRegistry& registry = RewardRegistry::builtin();
  EXPECT_THAT(registry.names(),
              ElementsAre("correct", "format", "length", "overlong", "tool_error"));
  for (const std::string& name : registry.names()) {
    const RewardDefinition* definition = registry.find(name);
    ASSERT_NE(definition, nullptr);
    EXPECT_EQ(definition->name, name);
    EXPECT_FALSE(definition->description.empty());
    for (const ParamSpec& param : definition->params) EXPECT_FALSE(param.description.empty());
  }
  EXPECT_EQ(registry.find("corect"), nullptr);
}

TEST(RewardRegistry, AddsToACopyOfTheBuiltins) {
  RewardRegistry registry = RewardRegistry::builtin();
  registry.add(fixed("always_one", 1.0));
  EXPECT_NE(registry.find("always_one"), nullptr);
  EXPECT_EQ(RewardRegistry::builtin().find("always_one"), nullptr);
  EXPECT_THAT(specs("[[rl.rewards]]\nname = \"always_one\"\nweight = 2\n", registry),
              ElementsAre(::testing::Field(&RewardSpec::name, "always_one")));
}

TEST(RewardRegistry, RefusesBadDefinitions) {
  RewardRegistry registry = RewardRegistry::builtin();
  auto refuses = [&](RewardDefinition definition, const std::string& why) {
    try {
      registry.add(std::move(definition));
      ADD_FAILURE() << "accepted; expected: " << why;
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr(why));
    }
  };
  refuses(fixed("correct", 1.0), "reward `correct` is already registered");
  refuses(fixed("", 1.0), "reward name \"\" is not letters, digits, '_' and '-'");
  refuses(fixed("my reward", 1.0), "reward name \"my reward\" is not letters");
  RewardDefinition bad_default = fixed("bad_default", 1.0);
  bad_default.params = {number_param("n", 0.5, 0, std::nullopt, "n")};
  bad_default.params[0].type = ParamSpec::Type::kInteger;
  refuses(bad_default,
          "reward `bad_default`: the default of `n` is wrong: expected an integer "
          ">= 0, got 0.5");
  RewardDefinition reserved = fixed("reserved", 1.0);
  reserved.params = {number_param("weight", 1.0, std::nullopt, std::nullopt, "w")};
  refuses(reserved, "parameter `weight` is declared twice or is an entry key");
  RewardDefinition twice = fixed("twice", 1.0);
  twice.params = {integer_param("n", 1, std::nullopt, std::nullopt, "n"),
                  choice_param("n", "a", {"a"}, "n")};
  refuses(twice, "parameter `n` is declared twice");
}

TEST(RewardParams, GettersOnUndeclaredOrMistypedNamesAreBugs) {
  const RewardParams params({{"n", 3.0}, {"count", std::string("all")}});
  EXPECT_EQ(params.integer("n"), 3);
  EXPECT_EQ(params.number("n"), 3.0);
  EXPECT_EQ(params.choice("count"), "all");
  EXPECT_THROW(params.number("m"), std::logic_error);
  EXPECT_THROW(params.number("count"), std::logic_error);
  EXPECT_THROW(params.choice("n"), std::logic_error);
}

TEST(RewardSet, AddsTheWeightedScoresAndKeepsEachOne) {
  RewardSet set(specs(R"(
[[rl.rewards]]
name = "correct"
weight = 1.0
[[rl.rewards]]
name = "format"
weight = 0.5
[[rl.rewards]]
name = "length"
weight = 0.01
count = "all"
[[rl.rewards]]
name = "tool_error"
weight = 0.25
)"));
  EXPECT_THAT(set.names(), ElementsAre("correct", "format", "length", "tool_error"));
  const Task task = arith_task();
  Rollout r = rollout("<|think|>6*7<|/think|><|answer|>42<|/answer|><|end|>", 10);
  r.tool_calls = {tool_call("error"), tool_call("ok")};
  RewardBreakdown b = set.score(task, task.prompt, r);
  EXPECT_DOUBLE_EQ(b.total, 1.0 + 0.5 - 0.1 - 0.25);
  EXPECT_THAT(b.scores, UnorderedElementsAre(Pair("correct", 1.0), Pair("format", 1.0),
                                             Pair("length", -10.0), Pair("tool_error", -1.0)));
  // Wrong and malformed: only the penalties are left.
  b = set.score(task, task.prompt, rollout("<|answer|>41<|end|>", 20, "length"));
  EXPECT_DOUBLE_EQ(b.total, -0.2);
  EXPECT_EQ(b.scores.at("correct"), 0);
  EXPECT_EQ(b.scores.at("format"), 0);
}

TEST(RewardSet, SkipsRewardsThatDoNotApply) {
  RewardRegistry registry = RewardRegistry::builtin();
  registry.add(fixed("abstains", std::nullopt));
  registry.add(fixed("half", 0.5));
  RewardSet set(specs(R"(
[[rl.rewards]]
name = "abstains"
weight = 100
[[rl.rewards]]
name = "half"
weight = -2
[[rl.rewards]]
name = "correct"
weight = 0      # logged, not trained on
)",
                      registry),
                registry);
  const Task task = arith_task();
  const RewardBreakdown b = set.score(task, task.prompt, rollout("<|answer|>42<|/answer|><|end|>"));
  EXPECT_DOUBLE_EQ(b.total, -1.0);
  EXPECT_THAT(b.scores, UnorderedElementsAre(Pair("half", 0.5), Pair("correct", 1.0)));

  RewardRegistry none = RewardRegistry::builtin();
  none.add(fixed("abstains", std::nullopt));
  RewardSet nothing(specs("[[rl.rewards]]\nname = \"abstains\"\nweight = 1\n", none), none);
  const RewardBreakdown empty = nothing.score(task, task.prompt, rollout(""));
  EXPECT_EQ(empty.total, 0);
  EXPECT_TRUE(empty.scores.empty());
}

// A reward with named parts, like a command reward's {"rewards": {...}}.
class PartsReward final : public Reward {
 public:
  std::optional<double> score(const RewardInput& input) override {
    std::map<std::string, double> parts;
    return score_with_parts(input, parts);
  }
  std::optional<double> score_with_parts(const RewardInput&,
                                         std::map<std::string, double>& parts) override {
    parts = {{"style", 0.25}, {"brevity", 0.5}};
    return 0.75;
  }
};

TEST(RewardSet, KeepsNamedPartsBesideTheScore) {
  RewardRegistry registry = RewardRegistry::builtin();
  registry.add(
      {"judge", "parts", {}, [](const RewardParams&) { return std::make_unique<PartsReward>(); }});
  RewardSet set(specs("[[rl.rewards]]\nname = \"judge\"\nweight = 2\n", registry), registry);
  const Task task = arith_task();
  const RewardBreakdown b = set.score(task, task.prompt, rollout(""));
  EXPECT_DOUBLE_EQ(b.total, 1.5);
  EXPECT_THAT(b.scores, UnorderedElementsAre(Pair("judge", 0.75), Pair("judge.style", 0.25),
                                             Pair("judge.brevity", 0.5)));
}

TEST(RewardSet, RefusesAScoreThatIsNotFinite) {
  RewardRegistry registry = RewardRegistry::builtin();
  registry.add(fixed("broken", NAN));
  RewardSet set(specs("[[rl.rewards]]\nname = \"broken\"\nweight = 1\n", registry), registry);
  const Task task = arith_task();
  try {
    set.score(task, task.prompt, rollout(""));
    FAIL() << "a NaN score was accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("reward `broken` gave nan for task arith/train/s0-d1-7; a "
                                    "score must be finite"));
  }
}

TEST(RewardSet, NamesTheSpecThatCannotBeBuilt) {
  // Parsed against one registry, built against another that lacks it.
  RewardRegistry registry = RewardRegistry::builtin();
  registry.add(fixed("mine", 1.0));
  const auto parsed = specs("\n[[rl.rewards]]\nname = \"mine\"\nweight = 1\n", registry);
  try {
    RewardSet set(parsed);
    FAIL() << "built a reward the registry lacks";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "the reward at runs/x.toml:2: reward `mine` is not registered");
  }
  RewardSpec command;
  command.name = "judge";
  command.kind = RewardSpec::Kind::kCommand;
  command.command = {"/nonexistent/judge"};
  command.where = "runs/x.toml:9";
  try {
    RewardSet set({command});
    FAIL() << "started a program that does not exist";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("the reward at runs/x.toml:9: reward `judge` "
                                    "(`/nonexistent/judge`): cannot start"));
  }
}

}  // namespace
}  // namespace ponder
