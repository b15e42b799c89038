// The external reward protocol against real child processes: small Python
// scripts written into a temp folder and run with /usr/bin/python3. Requests
// carry the rollout; replies are scores; a crash, a timeout or garbage is a
// clear error and the next request gets a fresh process.
#include <chrono>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "policy/error.h"
#include "rewards/command_reward.h"
#include "rewards/reward_set.h"
#include "tests/rewards/rewards_test_util.h"
#include "tests/test_util.h"

namespace ponder {
namespace {

using ::testing::AllOf;
using testing::arith_task;
using ::testing::HasSubstr;
using ::testing::Pair;
using testing::rollout;
using testing::TempDir;
using testing::tool_call;
using ::testing::UnorderedElementsAre;
using testing::write_file;
using Clock = std::chrono::steady_clock;

constexpr const char* kPython = "/usr/bin/python3";

// What the script does depends on the completion it is sent.
constexpr const char* kJudge = R"(import json, os, sys, time
dump = sys.argv[1] if len(sys.argv) > 1 else None
for line in sys.stdin:
    request = json.loads(line)
    c = request["completion"]
    if dump:
        with open(dump, "w") as f:
            f.write(line)
    if c == "crash":
        print("about to fail", file=sys.stderr, flush=True)
        raise RuntimeError("asked to crash")
    elif c == "kill":
        os.kill(os.getpid(), 9)
    elif c == "slow":
        time.sleep(60)
    elif c == "noise":
        sys.stderr.write("x" * 1000000)
        sys.stderr.flush()
        print(json.dumps({"reward": 1}), flush=True)
    elif c == "huge":
        sys.stdout.write("7" * (2 << 20))
        sys.stdout.flush()
        time.sleep(60)
    elif c == "late":
        print(json.dumps({"reward": 1}), flush=True)
        time.sleep(0.1)
        print("a late line", flush=True)
    elif c == "once":
        print(json.dumps({"reward": 1}), flush=True)
        sys.exit(0)
    elif c.startswith("say:"):
        sys.stdout.write(c[4:])
        sys.stdout.flush()
    elif c == "pid":
        print(json.dumps({"reward": os.getpid()}), flush=True)
    else:
        print(json.dumps({"reward": len(c)}), flush=True)
)";

class CommandRewardTest : public ::testing::Test {
 protected:
  CommandRewardTest() { write_file(dir_ / "judge.py", kJudge); }

  std::unique_ptr<CommandReward> judge(std::chrono::milliseconds timeout = std::chrono::seconds(20),
                                       std::vector<std::string> extra = {}) {
    std::vector<std::string> command = {kPython, (dir_ / "judge.py").string()};
    command.insert(command.end(), extra.begin(), extra.end());
    return std::make_unique<CommandReward>("judge", command, timeout);
  }

  std::optional<double> send(CommandReward& reward, const std::string& completion) {
    const Rollout r = rollout(completion);
    return reward.score(RewardInput(task_, task_.prompt, r));
  }

  // The message of the error that sending `completion` raises.
  std::string error_of(CommandReward& reward, const std::string& completion) {
    try {
      send(reward, completion);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }

  TempDir dir_;
  Task task_ = arith_task();
};

TEST_F(CommandRewardTest, SendsTheRolloutAsOneJsonLine) {
  auto reward = judge(std::chrono::seconds(20), {(dir_ / "request.json").string()});
  Rollout r = rollout(
      "<|think|>6*7\xff<|/think|><|tool_call|>python\n6*7<|/tool_call|><|tool_result|>42"
      "<|/tool_result|><|answer|>42<|/answer|><|end|>",
      17);
  r.thinking = "6*7\xff";
  r.thinking_tokens = 4;
  r.tool_calls = {tool_call("ok")};
  const RewardInput input(task_, "the prompt\nas rendered", r);
  EXPECT_EQ(reward->score(input), static_cast<double>(r.text.size()));  // \xff: one U+FFFD

  const auto request = nlohmann::json::parse(testing::read_file(dir_ / "request.json"));
  EXPECT_EQ(request["task"], nlohmann::json({{"id", "arith/train/s0-d1-7"},
                                             {"family", "arith"},
                                             {"split", "train"},
                                             {"difficulty", 1}}));
  EXPECT_EQ(request["prompt"], "the prompt\nas rendered");
  EXPECT_EQ(request["completion"].get<std::string>().substr(0, 17), "<|think|>6*7\xEF\xBF\xBD<|");
  EXPECT_EQ(request["final_answer"], "42");
  EXPECT_EQ(request["expected_answer"], "42");
  EXPECT_EQ(request["metadata"], nlohmann::json({{"expression", "6 * 7"}}));
  EXPECT_EQ(request["thinking"], "6*7\xEF\xBF\xBD");
  EXPECT_EQ(request["finish_reason"], "end");
  EXPECT_EQ(request["completion_tokens"], 17);
  EXPECT_EQ(request["thinking_tokens"], 4);
  EXPECT_EQ(request["tool_calls"],
            nlohmann::json::array(
                {{{"tool", "python"}, {"input", "6*7"}, {"output", "42"}, {"status", "ok"}}}));
  EXPECT_EQ(request.size(), 11u);

  send(*reward, "no answer");
  EXPECT_TRUE(
      nlohmann::json::parse(testing::read_file(dir_ / "request.json"))["final_answer"].is_null());
}

TEST_F(CommandRewardTest, ReadsEachReplyShape) {
  auto reward = judge();
  EXPECT_EQ(send(*reward, "abcd"), 4);
  EXPECT_EQ(send(*reward, "say:{\"reward\": -0.5}\n"), -0.5);
  EXPECT_EQ(send(*reward, "say:  {\"reward\": 3}  \r\n"), 3);  // whitespace around is JSON's
  EXPECT_EQ(send(*reward, "say:{\"reward\": null}\n"), std::nullopt);

  std::map<std::string, double> parts;
  const Rollout r = rollout("say:{\"rewards\": {\"a\": 0.25, \"b\": null, \"c-2\": 0.5}}\n");
  EXPECT_EQ(reward->score_with_parts(RewardInput(task_, task_.prompt, r), parts), 0.75);
  EXPECT_THAT(parts, UnorderedElementsAre(Pair("a", 0.25), Pair("c-2", 0.5)));
  const Rollout none = rollout("say:{\"rewards\": {\"a\": null}}\n");
  EXPECT_EQ(reward->score_with_parts(RewardInput(task_, task_.prompt, none), parts), std::nullopt);
  EXPECT_TRUE(parts.empty());
  EXPECT_EQ(reward->starts(), 1);  // one process served them all
}

TEST_F(CommandRewardTest, ACrashIsAnErrorWithItsStderrAndTheNextRequestRestarts) {
  auto reward = judge();
  const double first_pid = *send(*reward, "pid");
  EXPECT_EQ(send(*reward, "pid"), first_pid);
  EXPECT_THAT(error_of(*reward, "crash"),
              AllOf(HasSubstr("reward `judge` (`/usr/bin/python3 "),
                    HasSubstr("judge.py`): the process exited with status 1 before replying; its "
                              "stderr ends \"RuntimeError: asked to crash\" while scoring task "
                              "arith/train/s0-d1-7; the process was stopped and starts again at "
                              "the next request")));
  const double second_pid = *send(*reward, "pid");
  EXPECT_NE(second_pid, first_pid);
  EXPECT_EQ(reward->starts(), 2);

  EXPECT_THAT(error_of(*reward, "kill"),
              HasSubstr("the process was killed by signal 9 (Killed) before replying"));
  EXPECT_EQ(send(*reward, "abc"), 3);
  // A one-shot script: the next request finds it gone.
  EXPECT_EQ(send(*reward, "once"), 1);
  EXPECT_THAT(error_of(*reward, "abc"), HasSubstr("the process exited with status 0"));
  EXPECT_EQ(send(*reward, "abc"), 3);
  EXPECT_EQ(reward->starts(), 4);
}

TEST_F(CommandRewardTest, ATimeoutKillsTheProcessAndTheNextRequestRestarts) {
  auto reward = judge(std::chrono::milliseconds(1500));
  const double first_pid = *send(*reward, "pid");
  const auto start = Clock::now();
  EXPECT_THAT(error_of(*reward, "slow"),
              HasSubstr("no reply within 1.5 s (a reply is one line on stdout, flushed after "
                        "writing) while scoring task arith/train/s0-d1-7"));
  const double waited = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_GE(waited, 1.5);
  EXPECT_LT(waited, 6.0);  // killed, not waited out
  EXPECT_NE(send(*reward, "pid"), first_pid);
  // A line that never ends is garbage once it is too long to be a reply.
  EXPECT_THAT(error_of(*reward, "huge"),
              HasSubstr("bad reply: a line over 1048576 bytes (it starts \"7777"));
  EXPECT_EQ(send(*reward, "abc"), 3);
}

TEST_F(CommandRewardTest, GarbageIsAnErrorThatShowsTheLine) {
  const std::string shape =
      R"(expected {"reward": number or null} or {"rewards": {"name": number or null, ...}})";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"hello world\n", "bad reply \"hello world\": not JSON; " + shape},
      {"\n", "bad reply \"\": not JSON"},
      {"[1]\n", "bad reply \"[1]\": " + shape},
      {"{\"score\": 1}\n", "bad reply \"{\\\"score\\\": 1}\": " + shape},
      {"{\"reward\": 1, \"note\": \"x\"}\n", "bad reply \"{\\\"reward\\\": 1, \\\"note"},
      {"{\"reward\": 1, \"rewards\": {}}\n", "bad reply"},
      {"{\"reward\": \"1\"}\n", "\"reward\" is not a finite number or null"},
      {"{\"reward\": true}\n", "\"reward\" is not a finite number or null"},
      {"{\"reward\": NaN}\n", "not JSON"},
      {"{\"reward\": 1e999}\n", "bad reply"},
      {std::string(100000, '[') + std::string(100000, ']') + "\n", "bad reply \"[[[["},
      {"{\"rewards\": 1}\n", "\"rewards\" is not an object with at least one part"},
      {"{\"rewards\": {}}\n", "\"rewards\" is not an object with at least one part"},
      {"{\"rewards\": {\"a b\": 1}}\n", "part name \"a b\" is not 1 to 64 letters"},
      {"{\"rewards\": {\"a\": [1]}}\n", "\"a\" is not a finite number or null"},
      {"{\"reward\": 1}\n{\"reward\": 2}\n",
       "bad reply: more than one line for one request (the next is \"{\\\"reward\\\": 2}\")"},
  };
  auto reward = judge();
  int starts = 1;
  for (const auto& [reply, expected] : cases) {
    SCOPED_TRACE(reply);
    EXPECT_THAT(error_of(*reward, "say:" + reply),
                AllOf(HasSubstr(expected), HasSubstr("the process was stopped")));
    EXPECT_EQ(send(*reward, "abc"), 3);  // a fresh process
    EXPECT_EQ(reward->starts(), ++starts);
  }
}

TEST_F(CommandRewardTest, OutputBetweenRequestsIsGarbage) {
  auto reward = judge();
  EXPECT_EQ(send(*reward, "late"), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_THAT(error_of(*reward, "abc"),
              HasSubstr("bad reply: output before any request: \"a late line\""));
  EXPECT_EQ(send(*reward, "abc"), 3);
}

TEST_F(CommandRewardTest, DrainsAFloodOnStderr) {
  auto reward = judge(std::chrono::seconds(20));
  EXPECT_EQ(send(*reward, "noise"), 1);
  EXPECT_EQ(send(*reward, "noise"), 1);
}

TEST_F(CommandRewardTest, AProcessThatStopsReadingDoesNotKillTheTrainer) {
  write_file(dir_ / "quits.py", "import sys\nsys.exit(0)\n");
  CommandReward reward("quits", {kPython, (dir_ / "quits.py").string()}, std::chrono::seconds(20));
  // More than a pipe holds: the write meets a closed pipe (SIGPIPE, blocked).
  EXPECT_THAT(error_of(reward, std::string(1 << 20, 'x')),
              HasSubstr("the process exited with status 0 before"));
}

TEST_F(CommandRewardTest, SaysWhyAProgramDoesNotStart) {
  auto start = [](std::vector<std::string> command) {
    try {
      CommandReward reward("judge", std::move(command), std::chrono::seconds(1));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(started)");
  };
  EXPECT_EQ(start({"no-such-program-for-ponder"}),
            "reward `judge` (`no-such-program-for-ponder`): `no-such-program-for-ponder` is not "
            "on PATH");
  EXPECT_THAT(start({"/nonexistent/judge", "--flag"}),
              HasSubstr("reward `judge` (`/nonexistent/judge --flag`): cannot start "
                        "`/nonexistent/judge`: No such file or directory"));
  EXPECT_THAT(start({}), HasSubstr("reward `judge`: the command names no program"));
  // The interpreter starts; the script it names does not exist.
  CommandReward missing("judge", {kPython, "/nonexistent/judge.py"}, std::chrono::seconds(20));
  EXPECT_THAT(error_of(missing, "abc"),
              AllOf(HasSubstr("the process exited with status 2 before replying; its stderr ends "),
                    HasSubstr("can't open file '/nonexistent/judge.py'")));
}

TEST_F(CommandRewardTest, StopsAProcessThatIgnoresEndOfInput) {
  write_file(dir_ / "stubborn.py", "import time\nwhile True:\n    time.sleep(1)\n");
  const auto start = Clock::now();
  {
    CommandReward reward("stubborn", {kPython, (dir_ / "stubborn.py").string()},
                         std::chrono::seconds(1));
  }
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 5.0);
}

TEST(CommandRewardExample, ScoresConsistencyInARewardSet) {
  RewardSpec spec;
  spec.name = "consistency";
  spec.kind = RewardSpec::Kind::kCommand;
  spec.weight = 0.5;
  spec.command = {kPython, std::string(PONDER_SOURCE_DIR) + "/rewards/examples/consistency.py"};
  RewardSet set({spec});
  const Task task = arith_task();
  auto score = [&](const std::string& thinking, const std::string& answer,
                   std::vector<ToolCallSegment> calls = {}) {
    Rollout r =
        rollout("<|think|>" + thinking + "<|/think|><|answer|>" + answer + "<|/answer|><|end|>");
    r.thinking = thinking;
    r.tool_calls = std::move(calls);
    return set.score(task, task.prompt, r);
  };
  RewardBreakdown b = score("6*7 = 42", "42", {tool_call("ok")});
  EXPECT_THAT(b.scores,
              UnorderedElementsAre(Pair("consistency", 2.0), Pair("consistency.reached", 1.0),
                                   Pair("consistency.verified", 1.0)));
  EXPECT_EQ(b.total, 1.0);
  b = score("6*7 = 41", "42", {tool_call("error")});
  EXPECT_EQ(b.scores.at("consistency"), 0);
  EXPECT_EQ(score("it is 14", "4").scores.at("consistency.reached"), 0);  // not a part of 14
  EXPECT_TRUE(score("", "42").scores.empty());                            // no thinking: n/a
}

}  // namespace
}  // namespace ponder
