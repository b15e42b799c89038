// Lists of tables in a config ([[rl.rewards]]): both TOML spellings, --set,
// round trips, and errors that name the file, line and key as the config loads.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "app/config.h"
#include "policy/error.h"
#include "rewards/reward_spec.h"
#include "tests/app/config_test_util.h"

namespace ponder {
namespace {

using testing::ConfigTest;

constexpr const char* kBuiltins = "correct, format, length, overlong, tool_error";

// The names of a list of reward tables, in order.
std::vector<std::string> names(const toml::array& tables) {
  std::vector<std::string> out;
  for (const toml::node& table : tables) {
    out.push_back((*table.as_table())["name"].value_or(std::string()));
  }
  return out;
}

TEST_F(ConfigTest, RlDefaults) {
  Config config = Config::load("");
  EXPECT_EQ(config.get_string("rl.init"), "");
  EXPECT_EQ(config.get_int("rl.steps"), 50);
  EXPECT_EQ(config.get_int("rl.group_size"), 8);
  EXPECT_EQ(config.get_float("rl.lr"), 1e-5);
  EXPECT_TRUE(config.get_bool("rl.tools"));
  EXPECT_EQ(config.get_string("rl.scale_rewards"), "group");
  EXPECT_EQ(config.get_string("rl.loss_aggregation"), "dapo");
  EXPECT_EQ(config.get_float("rl.clip_high"), 0.28);
  EXPECT_FALSE(config.get_bool("rl.dynamic_sampling"));
  EXPECT_TRUE(config.get_bool("rl.store_tokens"));
  EXPECT_TRUE(config.get_bool("rl.curriculum.adaptive"));
  EXPECT_EQ(config.get_int("rl.curriculum.window"), 32);
  EXPECT_EQ(config.get_int("rl.curriculum.max_difficulty"), 10);
  EXPECT_EQ(config.get_int("rl.curriculum.cooldown"), 64);
  EXPECT_EQ(Config::load("", {"run.stages=[\"sft\", \"rl\"]"}).get_strings("run.stages"),
            (std::vector<std::string>{"sft", "rl"}));
}

TEST_F(ConfigTest, CurriculumCooldownRejectsBadValuesNamingTheKey) {
  EXPECT_EQ(file_error("[rl.curriculum]\ncooldown = -1\n"),
            "`rl.curriculum.cooldown` at F:2: -1 is out of range; expected an integer in [0, "
            "10000000]");
  EXPECT_EQ(file_error("[rl.curriculum]\ncooldown = \"long\"\n"),
            "`rl.curriculum.cooldown` at F:2: expected an integer, got a string (\"long\")");
  EXPECT_EQ(Config::load("", {"rl.curriculum.cooldown=0"}).get_int("rl.curriculum.cooldown"), 0);
}

TEST_F(ConfigTest, ImportanceSamplingLevelNamesTheChoices) {
  EXPECT_EQ(Config::load("").get_string("rl.importance_sampling_level"), "token");
  EXPECT_EQ(file_error("[rl]\nimportance_sampling_level = \"sequense\"\n"),
            "`rl.importance_sampling_level` at F:2: \"sequense\" is not one of: token, sequence; "
            "did you mean \"sequence\"?");
}

TEST_F(ConfigTest, RewardsDefaultIsValid) {
  Config config = Config::load("");
  const toml::array& rewards = config.get_tables("rl.rewards");
  EXPECT_EQ(names(rewards), (std::vector<std::string>{"correct", "format"}));
  EXPECT_EQ(config.get_tables_source("rl.rewards"), "the default");
  std::vector<RewardSpec> specs = parse_reward_specs(rewards, "the default");
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[1].weight, 0.2);
}

TEST_F(ConfigTest, RewardsAsBlocksOrInlineAreTheSame) {
  std::filesystem::path blocks = write("blocks.toml",
                                       "[rl]\nsteps = 3\n\n"
                                       "[[rl.rewards]]\nname = \"correct\"\nweight = 1.0\n\n"
                                       "[[rl.rewards]]\nname = \"overlong\"\nweight = 0.5\n"
                                       "max_len = 200\nbuffer = 50\n");
  std::filesystem::path inline_form =
      write("inline.toml",
            "[rl]\nsteps = 3\nrewards = [\n"
            "  { weight = 1.0, name = \"correct\" },\n"
            "  { name = \"overlong\", buffer = 50, max_len = 200, weight = 0.5 },\n]\n");
  Config a = Config::load(blocks);
  Config b = Config::load(inline_form);
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == Config::load("", {"rl.steps=3"}));
  EXPECT_EQ(names(a.get_tables("rl.rewards")), (std::vector<std::string>{"correct", "overlong"}));

  // The tables keep their lines, so later messages can name them.
  EXPECT_EQ(a.get_tables_source("rl.rewards"), blocks.string());
  std::vector<RewardSpec> specs =
      parse_reward_specs(a.get_tables("rl.rewards"), a.get_tables_source("rl.rewards"));
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[1].where, blocks.string() + ":8");
  EXPECT_EQ(specs[1].params.number("max_len"), 200);
}

TEST_F(ConfigTest, RewardsRoundTripThroughToToml) {
  Config config = Config::load(write("x.toml",
                                     "[[rl.rewards]]\nname = \"correct\"\nweight = 1\n\n"
                                     "[[rl.rewards]]\nname = \"judge\"\nkind = \"command\"\n"
                                     "command = [\"python3\", \"a \\\"b\\\".py\"]\n"
                                     "weight = 0.5\ntimeout_s = 2.5\n"));
  const std::string text = config.to_toml();
  EXPECT_NE(text.find("[rl]\n"), std::string::npos);
  EXPECT_NE(text.find("\nrewards = [\n"
                      "  { name = \"correct\", weight = 1 },\n"
                      "  { name = \"judge\", command = [\"python3\", \"a \\\"b\\\".py\"], "
                      "kind = \"command\", timeout_s = 2.5, weight = 0.5 },\n"
                      "]\n"),
            std::string::npos)
      << text;
  Config reloaded = Config::load(write("resolved.toml", text));
  EXPECT_TRUE(reloaded == config);
  EXPECT_EQ(reloaded.to_toml(), text);

  EXPECT_EQ(config.to_toml({"rl.rewards"}),
            "[rl]\nrewards = [\n  { name = \"correct\", weight = 1 },\n"
            "  { name = \"judge\", command = [\"python3\", \"a \\\"b\\\".py\"], kind = "
            "\"command\", timeout_s = 2.5, weight = 0.5 },\n]\n");
  const std::string rl = config.to_toml({"rl"});
  EXPECT_EQ(rl.rfind("[rl]\ninit = \"\"\n", 0), 0u) << rl;
  EXPECT_NE(rl.find("\nrewards = [\n"), std::string::npos) << rl;
  EXPECT_EQ(rl.find("[rl.curriculum]"), std::string::npos) << rl;
}

TEST_F(ConfigTest, RewardsOverrideReplacesTheWholeList) {
  std::filesystem::path path = write("x.toml",
                                     "[[rl.rewards]]\nname = \"correct\"\nweight = 1.0\n"
                                     "[[rl.rewards]]\nname = \"format\"\nweight = 0.2\n"
                                     "[[rl.rewards]]\nname = \"length\"\nweight = 0.1\n");
  const std::string arg = "rl.rewards=[{name=\"correct\", weight=2.0}]";
  Config config = Config::load(path, {arg});
  EXPECT_EQ(names(config.get_tables("rl.rewards")), std::vector<std::string>{"correct"});
  EXPECT_EQ(config.get_tables_source("rl.rewards"), "--set " + arg);
  EXPECT_EQ(config.get_tables("rl.rewards")[0].as_table()->get("weight")->value<double>(), 2.0);

  // A single table is a one-item list, as a single string is for a list of strings.
  Config single = Config::load(path, {"rl.rewards={name=\"correct\", weight=2.0}"});
  EXPECT_TRUE(single == config);
}

TEST_F(ConfigTest, RewardsThatAreNotAListOfTables) {
  EXPECT_EQ(file_error("[rl]\nrewards = 3\n"),
            "`rl.rewards` at F:2: expected a list of tables ([[rl.rewards]]), got an integer (3)");
  EXPECT_EQ(file_error("[rl.rewards]\nname = \"correct\"\nweight = 1.0\n"),
            "`rl.rewards` at F:1: expected a list of tables ([[rl.rewards]]), got a table");
  EXPECT_EQ(file_error("[rl]\nrewards = [\n  { name = \"correct\", weight = 1.0 },\n  2,\n]\n"),
            "`rl.rewards` at F:4: expected a list of tables ([[rl.rewards]]), got an integer (2) "
            "in it");
  EXPECT_EQ(error_of("", {"rl.rewards=5"}),
            "--set rl.rewards=5: expected a list of tables ([[rl.rewards]]), got an integer (5)");
  EXPECT_EQ(error_of("", {"rl.rewards=correct"}),
            "--set rl.rewards=correct: expected a list of tables ([[rl.rewards]]), got a string "
            "(\"correct\")");
  EXPECT_EQ(error_of("", {"rl.rewards=[1, 2]"}),
            "--set rl.rewards=[1, 2]: expected a list of tables ([[rl.rewards]]), got an "
            "integer (1) in it");
}

TEST_F(ConfigTest, BadRewardEntryFailsAsTheConfigLoads) {
  EXPECT_EQ(file_error("[run]\nseed = 1\n\n[[rl.rewards]]\nname = \"corect\"\nweight = 1.0\n"),
            fmt::format("`rl.rewards[0].name` at F:5: unknown reward \"corect\" (did you mean "
                        "`correct`?); built-ins are: {} (for your own program, set kind = "
                        "\"command\")",
                        kBuiltins));
  EXPECT_EQ(file_error("[[rl.rewards]]\nname = \"correct\"\nweight = 1.0\n\n"
                       "[[rl.rewards]]\nname = \"format\"\n"),
            "`rl.rewards[1]` at F:5: missing `weight` (a number; 0 logs without training)");
  EXPECT_EQ(file_error("[rl]\nrewards = []\n"),
            "`rl.rewards` at F:2: the list is empty; give at least one [[rl.rewards]] with a "
            "name and a weight");
  EXPECT_EQ(error_of("", {"rl.rewards=[{name=\"corect\", weight=1}]"}),
            fmt::format("`rl.rewards[0].name` at --set rl.rewards=[{{name=\"corect\", "
                        "weight=1}}]: unknown reward \"corect\" (did you mean `correct`?); "
                        "built-ins are: {} (for your own program, set kind = \"command\")",
                        kBuiltins));
  EXPECT_EQ(error_of("", {"rl.rewards={name=\"format\"}"}),
            "`rl.rewards[0]` at --set rl.rewards={name=\"format\"}: missing `weight` (a number; "
            "0 logs without training)");
}

TEST_F(ConfigTest, TablesGetterMisuseIsALogicError) {
  Config config = Config::load("");
  EXPECT_THROW(config.get_tables("rl.steps"), std::logic_error);
  EXPECT_THROW(config.get_tables_source("rl.steps"), std::logic_error);
  EXPECT_THROW(config.get_strings("rl.rewards"), std::logic_error);
  EXPECT_THROW(config.get_tables("rl.nope"), std::logic_error);
}

// A list of tables under a rule of the test's own: each table needs an `id`.
const TableListRule kNeedsId = {"tables with an `id`",
                                [](const toml::array& tables, const std::string& source_name) {
                                  for (const toml::node& table : tables) {
                                    if (!table.as_table()->contains("id"))
                                      throw Error(source_name + ": a table lacks `id`");
                                  }
                                }};

ConfigSchema tables_schema(std::string_view def) {
  return {.sections = {{"s", "a section"}},
          .keys = {table_list_key("s.items", def, &kNeedsId, "items"),
                   table_list_key("s.any", "[]", nullptr, "anything")}};
}

TEST_F(ConfigTest, TableListsKeepEveryTomlValueAcrossARoundTrip) {
  ConfigSchema schema = tables_schema("[{ id = 1 }]");
  std::filesystem::path path =
      write("x.toml",
            "[[s.any]]\nid = 2\n\"odd key\" = \"tab\\there\"\nwhen = 1979-05-27\n"
            "at = 07:32:00\nratio = 1e-7\nbig = inf\nflag = false\nnested = { a = [1, 2.5] }\n"
            "[[s.any]]\n");
  Config config = Config::load(path, {}, schema);
  const std::string text = config.to_toml();
  EXPECT_EQ(text,
            "[s]\nitems = [\n  { id = 1 },\n]\nany = [\n  { at = 07:32:00, big = inf, flag = "
            "false, id = 2, nested = { a = [1, 2.5] }, \"odd key\" = \"tab\\there\", ratio = "
            "1e-07, when = 1979-05-27 },\n  {},\n]\n");
  Config reloaded = Config::load(write("y.toml", text), {}, schema);
  EXPECT_TRUE(reloaded == config);
  EXPECT_EQ(reloaded.to_toml(), text);
  EXPECT_EQ(Config::load("", {}, schema).to_toml(), "[s]\nitems = [\n  { id = 1 },\n]\nany = []\n");
}

TEST_F(ConfigTest, TableListRuleChecksFileOverrideAndDefault) {
  ConfigSchema schema = tables_schema("[{ id = 1 }]");
  std::filesystem::path path = write("x.toml", "[[s.items]]\nname = \"a\"\n");
  EXPECT_EQ(error_of(path, {}, schema), path.string() + ": a table lacks `id`");
  EXPECT_EQ(error_of("", {"s.items=[{id=1}, {}]"}, schema),
            "--set s.items=[{id=1}, {}]: a table lacks `id`");
  EXPECT_THROW(Config::load("", {}, tables_schema("[{ name = \"a\" }]")), std::logic_error);
  EXPECT_THROW(tables_schema("[1]"), std::logic_error);
  EXPECT_THROW(tables_schema("[{ id = 1 }"), std::logic_error);
}

TEST(ConfigDocs, ListsOfTablesAreDescribed) {
  const std::string md = config_reference_markdown();
  EXPECT_NE(md.find("\n## [rl]\n"), std::string::npos);
  EXPECT_NE(md.find("\n## [rl.curriculum]\n\nadaptive difficulty per task family\n"),
            std::string::npos);
  EXPECT_NE(md.find("| `rl.rewards` | list of tables | `[{ name = \"correct\", weight = 1.0 }, "
                    "{ name = \"format\", weight = 0.2 }]` | each: `name`"),
            std::string::npos);
}

}  // namespace
}  // namespace ponder
