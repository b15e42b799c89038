// docs/REWARDS.md shows working code: its C++ reward is tests/rewards/brevity.cc
// verbatim, its configs parse, and its command script scores as it says.
#include <regex>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rewards/command_reward.h"
#include "rewards/reward_spec.h"
#include "tests/rewards/rewards_test_util.h"
#include "tests/test_util.h"

namespace ponder {

RewardDefinition brevity_reward();  // tests/rewards/brevity.cc, as the page shows it

namespace {

using testing::arith_task;
using testing::read_file;
using testing::rollout;

const std::string kSource = PONDER_SOURCE_DIR;

// The code blocks of docs/REWARDS.md in `language`, in order.
std::vector<std::string> blocks(const std::string& language) {
  const std::string page = read_file(kSource + "/docs/REWARDS.md");
  EXPECT_FALSE(page.empty()) << "docs/REWARDS.md is missing";
  const std::regex block("```" + language + "\n([\\s\\S]*?)```");
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(page.begin(), page.end(), block);
       it != std::sregex_iterator(); ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

double score(Reward& reward, const Rollout& r) {
  const Task task = arith_task();
  return reward.score(RewardInput(task, task.prompt, r)).value_or(-99);
}

TEST(RewardsDoc, ShowsTheTestedCppRewardVerbatim) {
  const auto cpp = blocks("cpp");
  ASSERT_EQ(cpp.size(), 1u);
  EXPECT_EQ(cpp[0], read_file(kSource + "/tests/rewards/brevity.cc"));
}

TEST(RewardsDoc, TheCppRewardScoresAsDescribed) {
  RewardRegistry registry = RewardRegistry::builtin();
  registry.add(brevity_reward());
  const toml::table doc = toml::parse(
      "[[rl.rewards]]\nname = \"brevity\"\nweight = 1\ntarget = 128\n", std::string("runs/x.toml"));
  const auto specs = parse_reward_specs(*doc["rl"]["rewards"].as_array(), "runs/x.toml", registry);
  auto brevity = registry.find("brevity")->make(specs[0].params);
  Rollout r = rollout("<|think|>...<|/think|><|answer|>42<|/answer|><|end|>");
  r.thinking_tokens = 100;
  EXPECT_EQ(score(*brevity, r), 1.0);
  r.thinking_tokens = 256;
  EXPECT_EQ(score(*brevity, r), 0.5);
  const Task task = arith_task();
  EXPECT_EQ(brevity->score(RewardInput(task, task.prompt, rollout("no answer<|end|>"))),
            std::nullopt);
}

TEST(RewardsDoc, ConfigExamplesParse) {
  RewardRegistry registry = RewardRegistry::builtin();
  registry.add(brevity_reward());
  int examples = 0;
  for (const std::string& text : blocks("toml")) {
    SCOPED_TRACE(text);
    const toml::table doc = toml::parse(text, std::string("docs/REWARDS.md"));
    EXPECT_NO_THROW(parse_reward_specs(*doc["rl"]["rewards"].as_array(), "docs", registry));
    ++examples;
  }
  EXPECT_EQ(examples, 3);
}

TEST(RewardsDoc, TheCommandScriptScoresAsShown) {
  const auto python = blocks("python");
  ASSERT_EQ(python.size(), 1u);
  testing::TempDir dir;
  testing::write_file(dir / "my_reward.py", python[0]);
  CommandReward reward("show_work", {"/usr/bin/python3", (dir / "my_reward.py").string()},
                       std::chrono::seconds(20));
  Rollout r = rollout("<|think|>six times seven is 42<|/think|><|answer|>42<|/answer|><|end|>");
  r.thinking = "six times seven is 42";
  EXPECT_DOUBLE_EQ(score(reward, r), 0.1);  // as the page's `echo` shows
  r.thinking.clear();
  for (int i = 0; i < 60; ++i) r.thinking += "word ";
  EXPECT_DOUBLE_EQ(score(reward, r), 1.0);
  const Task task = arith_task();
  EXPECT_EQ(reward.score(RewardInput(task, task.prompt, rollout("no answer<|end|>"))),
            std::nullopt);
}

}  // namespace
}  // namespace ponder
