// [[rl.rewards]] from TOML: what a good list gives, and the message for each
// kind of mistake (file, line, key, and a did-you-mean where one is close).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/error.h"
#include "rewards/reward_spec.h"

namespace ponder {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::vector<RewardSpec> parse(const std::string& text) {
  const toml::table doc = toml::parse(text, std::string("runs/x.toml"));
  const toml::array* rewards = doc["rl"]["rewards"].as_array();
  if (!rewards) throw std::runtime_error("the test's TOML has no rl.rewards array");
  return parse_reward_specs(*rewards, "runs/x.toml");
}

std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ParseRewardSpecs, ReadsBuiltinsAndCommands) {
  const auto specs = parse(R"([rl]
seed = 1

[[rl.rewards]]
name = "correct"
weight = 1

[[rl.rewards]]
name = "overlong"
weight = 0.5
max_len = 512
buffer = 128

[[rl.rewards]]
name = "length"
weight = -0.001
count = "thinking"

[[rl.rewards]]
name = "judge"
kind = "command"
command = ["python3", "my_reward.py", "--strict"]
weight = 0.25
timeout_s = 2.5
)");
  ASSERT_EQ(specs.size(), 4u);
  EXPECT_EQ(specs[0].name, "correct");
  EXPECT_EQ(specs[0].kind, RewardSpec::Kind::kBuiltin);
  EXPECT_EQ(specs[0].weight, 1.0);
  EXPECT_EQ(specs[0].where, "runs/x.toml:4");
  EXPECT_EQ(specs[1].params.integer("max_len"), 512);
  EXPECT_EQ(specs[1].params.integer("buffer"), 128);
  EXPECT_EQ(specs[1].where, "runs/x.toml:8");
  EXPECT_EQ(specs[2].weight, -0.001);
  EXPECT_EQ(specs[2].params.choice("count"), "thinking");
  EXPECT_EQ(specs[2].params.integer("free"), 0);  // the default
  EXPECT_EQ(specs[3].kind, RewardSpec::Kind::kCommand);
  EXPECT_THAT(specs[3].command, ElementsAre("python3", "my_reward.py", "--strict"));
  EXPECT_EQ(specs[3].timeout_s, 2.5);
  EXPECT_EQ(specs[3].weight, 0.25);
  EXPECT_EQ(parse(R"(
[[rl.rewards]]
name = "j"
kind = "command"
command = ["j"]
weight = 1
)")[0]
                .timeout_s,
            30);
}

TEST(ParseRewardSpecs, SuggestsTheRewardMeantByAnUnknownName) {
  EXPECT_EQ(error_of("[[rl.rewards]]\nname = \"corect\"\nweight = 1\n"),
            "`rl.rewards[0].name` at runs/x.toml:2: unknown reward \"corect\" (did you mean "
            "`correct`?); built-ins are: correct, format, length, overlong, tool_error (for your "
            "own program, set kind = \"command\")");
  EXPECT_THAT(error_of("[[rl.rewards]]\nname = \"correct\"\nweight = 1\n"
                       "[[rl.rewards]]\nname = \"tool_errors\"\nweight = 1\n"),
              HasSubstr("`rl.rewards[1].name` at runs/x.toml:5: unknown reward \"tool_errors\" "
                        "(did you mean `tool_error`?)"));
  const std::string far = error_of("[[rl.rewards]]\nname = \"banana\"\nweight = 1\n");
  EXPECT_THAT(far, HasSubstr("unknown reward \"banana\"; built-ins are: correct,"));
  EXPECT_THAT(far, Not(HasSubstr("did you mean")));
}

TEST(ParseRewardSpecs, NamesWhatIsMissing) {
  EXPECT_EQ(error_of("[[rl.rewards]]\nname = \"correct\"\n"),
            "`rl.rewards[0]` at runs/x.toml:1: missing `weight` (a number; 0 logs without "
            "training)");
  EXPECT_THAT(error_of("[[rl.rewards]]\nweight = 1\n"),
              HasSubstr("`rl.rewards[0]` at runs/x.toml:1: missing `name`"));
  EXPECT_EQ(error_of("[[rl.rewards]]\nname = \"judge\"\nkind = \"command\"\nweight = 1\n"),
            "`rl.rewards[0]` at runs/x.toml:1: missing `command` (the program and its arguments, "
            "e.g. [\"python3\", \"my_reward.py\"])");
  EXPECT_EQ(error_of("[[rl.rewards]]\nname = \"overlong\"\nweight = 1\nmax_len = 64\n"),
            "`rl.rewards[0]` at runs/x.toml:1: reward `overlong` needs `buffer` (how many tokens "
            "before max_len the penalty starts)");
  EXPECT_EQ(error_of("[rl]\nrewards = []\n"),
            "`rl.rewards` at runs/x.toml:2: the list is empty; give at least one [[rl.rewards]] "
            "with a name and a weight");
}

TEST(ParseRewardSpecs, RefusesValuesOfTheWrongTypeOrRange) {
  const std::string head = "[[rl.rewards]]\nname = \"overlong\"\n";
  EXPECT_EQ(error_of(head + "weight = \"high\"\nmax_len = 8\nbuffer = 2\n"),
            "`rl.rewards[0].weight` at runs/x.toml:3: expected a number, got a string (\"high\")");
  EXPECT_EQ(error_of(head + "weight = nan\nmax_len = 8\nbuffer = 2\n"),
            "`rl.rewards[0].weight` at runs/x.toml:3: expected a finite number, got nan");
  EXPECT_EQ(error_of(head + "weight = 1\nmax_len = \"big\"\nbuffer = 2\n"),
            "`rl.rewards[0].max_len` at runs/x.toml:4: expected an integer >= 1, got a string "
            "(\"big\")");
  EXPECT_EQ(error_of(head + "weight = 1\nmax_len = 8.5\nbuffer = 2\n"),
            "`rl.rewards[0].max_len` at runs/x.toml:4: expected an integer >= 1, got 8.5");
  EXPECT_EQ(error_of(head + "weight = 1\nmax_len = 8\nbuffer = 0\n"),
            "`rl.rewards[0].buffer` at runs/x.toml:5: expected an integer >= 1, got 0");
  EXPECT_EQ(error_of(head + "weight = 1\nmax_len = [8]\nbuffer = 2\n"),
            "`rl.rewards[0].max_len` at runs/x.toml:4: expected a number, got an array");
  EXPECT_EQ(error_of(head + "weight = 1\nmax_len = 512\nbuffer = 600\n"),
            "`rl.rewards[0]` at runs/x.toml:1: reward `overlong`: `buffer` (600) must not exceed "
            "`max_len` (512)");
  EXPECT_EQ(error_of("[[rl.rewards]]\nname = \"length\"\nweight = 1\ncount = \"sampeld\"\n"),
            "`rl.rewards[0].count` at runs/x.toml:4: expected one of: sampled, all, thinking, got "
            "\"sampeld\"; did you mean \"sampled\"?");
  EXPECT_EQ(error_of("[[rl.rewards]]\nname = \"length\"\nweight = 1\ncount = 3\n"),
            "`rl.rewards[0].count` at runs/x.toml:4: expected a string, got 3");
  EXPECT_EQ(error_of("[[rl.rewards]]\nname = \"length\"\nweight = 1\nfree = -1\n"),
            "`rl.rewards[0].free` at runs/x.toml:4: expected an integer >= 0, got -1");
}

TEST(ParseRewardSpecs, RefusesUnknownKeysWithAHint) {
  EXPECT_EQ(error_of("[[rl.rewards]]\nname = \"overlong\"\nweight = 1\nmax_lenght = 8\n"
                     "buffer = 2\n"),
            "`rl.rewards[0].max_lenght` at runs/x.toml:4: unknown key; reward `overlong` takes "
            "parameters max_len, buffer; did you mean `max_len`?");
  EXPECT_EQ(error_of("[[rl.rewards]]\nname = \"correct\"\nweight = 1\nstrict = true\n"),
            "`rl.rewards[0].strict` at runs/x.toml:4: unknown key; reward `correct` takes no "
            "parameters");
  EXPECT_EQ(error_of("[[rl.rewards]]\nname = \"correct\"\nweight = 1\ncommand = [\"x\"]\n"),
            "`rl.rewards[0].command` at runs/x.toml:4: only a command reward (kind = "
            "\"command\") takes this key");
  EXPECT_EQ(error_of("[[rl.rewards]]\nname = \"j\"\nkind = \"command\"\ncommand = [\"j\"]\n"
                     "weight = 1\ntimout_s = 3\n"),
            "`rl.rewards[0].timout_s` at runs/x.toml:6: unknown key for a command reward (it "
            "takes: name, kind, weight, command, timeout_s); did you mean `timeout_s`?");
  EXPECT_EQ(error_of("[[rl.rewards]]\nname = \"j\"\nkind = \"comand\"\nweight = 1\n"),
            "`rl.rewards[0].kind` at runs/x.toml:3: expected \"builtin\" or \"command\", got "
            "\"comand\"; did you mean \"command\"?");
  EXPECT_THAT(error_of("[[rl.rewards]]\nname = \"correct\"\nweight = 1\n\"we ight\" = 1\n"),
              HasSubstr("`rl.rewards[0].\"we ight\"` at runs/x.toml:4: unknown key"));
}

TEST(ParseRewardSpecs, ChecksTheCommand) {
  const std::string head = "[[rl.rewards]]\nname = \"judge\"\nkind = \"command\"\nweight = 1\n";
  EXPECT_EQ(error_of(head + "command = \"python3 my_reward.py\"\n"),
            "`rl.rewards[0].command` at runs/x.toml:5: expected a list of strings, got a string "
            "(\"python3 my_reward.py\")");
  EXPECT_EQ(error_of(head + "command = []\n"),
            "`rl.rewards[0].command` at runs/x.toml:5: expected the program, then its arguments; "
            "got no program");
  EXPECT_EQ(error_of(head + "command = [\"\", \"x\"]\n"),
            "`rl.rewards[0].command` at runs/x.toml:5: expected the program, then its arguments; "
            "got no program");
  EXPECT_EQ(error_of(head + "command = [\"python3\", 3]\n"),
            "`rl.rewards[0].command` at runs/x.toml:5: expected a list of strings, got an integer "
            "(3) in it");
  EXPECT_EQ(error_of(head + "command = [\"j\"]\ntimeout_s = 0\n"),
            "`rl.rewards[0].timeout_s` at runs/x.toml:6: expected a number in (0, 3600], got 0");
  EXPECT_EQ(error_of("[[rl.rewards]]\nname = \"my judge\"\nkind = \"command\"\nweight = 1\n"
                     "command = [\"j\"]\n"),
            "`rl.rewards[0].name` at runs/x.toml:2: expected letters, digits, '_' and '-', got "
            "\"my judge\"");
}

TEST(ParseRewardSpecs, RefusesRepeatsAndEntriesThatAreNotTables) {
  EXPECT_EQ(error_of("[[rl.rewards]]\nname = \"correct\"\nweight = 1\n\n"
                     "[[rl.rewards]]\nname = \"correct\"\nweight = 2\n"),
            "`rl.rewards[1].name` at runs/x.toml:6: reward `correct` is listed twice (first at "
            "runs/x.toml:1); each needs its own name");
  EXPECT_EQ(error_of("[rl]\nrewards = [\"correct\"]\n"),
            "`rl.rewards[0]` at runs/x.toml:2: expected a table ([[rl.rewards]]), got a string "
            "(\"correct\")");
}

TEST(ClosestName, HintsOnlyPlausibleTypos) {
  const std::vector<std::string> names = {"correct", "format", "length", "overlong"};
  EXPECT_EQ(closest_match("formta", names), "format");  // transposed letters: one edit
  EXPECT_EQ(closest_match("lenght", names), "length");
  EXPECT_EQ(closest_match("banana", names), "");
  EXPECT_EQ(closest_match("x", names), "");
}

}  // namespace
}  // namespace ponder
