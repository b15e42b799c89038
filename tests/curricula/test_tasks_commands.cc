// `ponder tasks` and the tasks.* config keys, run in-process.
#include "app/tasks_commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <CLI/CLI.hpp>

#include "policy/error.h"
#include "tests/test_util.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;

// Runs `ponder <args>` with only the tasks commands; returns stdout.
std::string run(std::vector<std::string> args) {
  CLI::App app;
  add_tasks_commands(app);
  std::reverse(args.begin(), args.end());  // CLI11 takes them last-first
  ::testing::internal::CaptureStdout();
  try {
    app.parse(args);
  } catch (...) {
    ::testing::internal::GetCapturedStdout();
    throw;
  }
  return ::testing::internal::GetCapturedStdout();
}

std::string error_of(std::vector<std::string> args) {
  try {
    run(std::move(args));
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

size_t count_of(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t pos = text.find(part); pos != std::string::npos; pos = text.find(part, pos + 1)) ++n;
  return n;
}

TEST(TasksSample, PrintsTasksWithAnswers) {
  const std::string out = run({"tasks", "sample", "--family", "count", "--n", "3", "--seed", "5"});
  EXPECT_EQ(count_of(out, "[count/train/s5-d1-"), 3u) << out;
  EXPECT_EQ(count_of(out, "\nanswer: "), 3u) << out;
  EXPECT_EQ(out, run({"tasks", "sample", "--family", "count", "--n", "3", "--seed", "5"}));
}

TEST(TasksSample, JsonCarriesSplitDifficultyAndMetadata) {
  const std::string out = run({"tasks", "sample", "--family", "countdown", "--n", "4", "--split",
                               "eval", "--difficulty", "2", "--json"});
  std::istringstream lines(out);
  std::string line;
  int n = 0;
  for (; std::getline(lines, line); ++n) {
    const auto task = nlohmann::json::parse(line);
    EXPECT_EQ(task.at("split"), "eval");
    EXPECT_EQ(task.at("difficulty"), 2);
    EXPECT_TRUE(task.at("metadata").contains("solution"));
  }
  EXPECT_EQ(n, 4);
}

TEST(TasksSample, WithoutAFamilyDrawsFromTheConfigMixture) {
  const std::string out =
      run({"tasks", "sample", "--n", "30", "--set", "tasks.arith=0", "--set", "tasks.count=0",
           "--set", "tasks.wordprob=0", "--set", "tasks.lookup=0", "--set", "tasks.gsm8k=0"});
  EXPECT_EQ(count_of(out, "[countdown/train/s1234-d1-"), 30u) << out;
}

TEST(TasksSample, BadArgumentsAreClearErrors) {
  EXPECT_THAT(error_of({"tasks", "sample", "--family", "counting"}),
              HasSubstr("unknown task family `counting`"));
  EXPECT_THAT(error_of({"tasks", "sample", "--family", "count", "--split", "test"}),
              HasSubstr("unknown split `test`"));
  EXPECT_THAT(error_of({"tasks", "sample", "--family", "count", "--difficulty", "0"}),
              HasSubstr("difficulty 0 is below 1"));
}

TEST(TasksConfig, UnknownFamilyAndBadWeightsAreClearErrors) {
  testing::TempDir dir;
  testing::write_file(dir / "typo.toml", "[tasks]\nartih = 1.0\n");
  EXPECT_THAT(error_of({"tasks", "sample", "--config", (dir / "typo.toml").string()}),
              HasSubstr("did you mean `tasks.arith`"));
  testing::write_file(dir / "unknown.toml", "[tasks]\nchess = 1.0\n");
  EXPECT_THAT(error_of({"tasks", "sample", "--config", (dir / "unknown.toml").string()}),
              HasSubstr("tasks.chess"));
  testing::write_file(dir / "negative.toml", "[tasks]\ncount = -0.5\n");
  EXPECT_THAT(error_of({"tasks", "sample", "--config", (dir / "negative.toml").string()}),
              HasSubstr("tasks.count"));
  testing::write_file(dir / "word.toml", "[tasks]\ncount = \"lots\"\n");
  EXPECT_THAT(error_of({"tasks", "sample", "--config", (dir / "word.toml").string()}),
              HasSubstr("tasks.count"));
  testing::write_file(dir / "zero.toml",
                      "[tasks]\narith = 0\ncount = 0\nwordprob = 0\nlookup = 0\ncountdown = 0\n"
                      "gsm8k = 0.0\n");
  EXPECT_THAT(error_of({"tasks", "sample", "--config", (dir / "zero.toml").string()}),
              HasSubstr((dir / "zero.toml").string() + ": every task family weight is 0"));
  // One family needs no mixture.
  EXPECT_NO_THROW(run({"tasks", "sample", "--config", (dir / "zero.toml").string(), "--family",
                       "arith", "--n", "1"}));
}

TEST(TasksConfig, SettingsComeFromTheConfig) {
  const Config config = Config::load(
      "", {"tasks.count=2.5", "tasks.difficulty=3", "tasks.lookup_entities=40",
           "tasks.lookup_seed=9", "tasks.words_file=/tmp/words", "tasks.gsm8k_dir=elsewhere"});
  const TaskSettings settings = task_settings(config);
  EXPECT_EQ(settings.weights[static_cast<int>(Family::kCount)], 2.5);
  EXPECT_EQ(settings.weights[static_cast<int>(Family::kArith)], 1.0);
  EXPECT_EQ(settings.difficulty, 3);
  EXPECT_EQ(settings.sources.lookup_entities, 40);
  EXPECT_EQ(settings.sources.lookup_seed, 9u);
  EXPECT_EQ(settings.sources.words_file, "/tmp/words");
  EXPECT_EQ(settings.sources.gsm8k_dir, "elsewhere");
}

TEST(TasksCorpus, WritesTheLookupCorpus) {
  testing::TempDir dir;
  const std::string all = (dir / "all.jsonl").string(), train = (dir / "train.jsonl").string();
  EXPECT_THAT(run({"tasks", "corpus", "--out", all, "--set", "tasks.lookup_entities=30"}),
              HasSubstr("wrote 60 documents"));
  EXPECT_THAT(run({"tasks", "corpus", "--out", train, "--split", "train", "--set",
                   "tasks.lookup_entities=30"}),
              HasSubstr("wrote 54 documents"));
  EXPECT_EQ(count_of(testing::read_file(all), "\n"), 60u);
}

// `tasks verify` on a JSONL file of `lines`; returns stdout.
std::string verify(const testing::TempDir& dir, const std::string& lines) {
  const std::string file = (dir / "verify.jsonl").string();
  testing::write_file(file, lines);
  return run({"tasks", "verify", "--input", file});
}

std::string verify_error(const testing::TempDir& dir, const std::string& lines) {
  const std::string file = (dir / "verify.jsonl").string();
  testing::write_file(file, lines);
  return error_of({"tasks", "verify", "--input", file});
}

TEST(TasksVerify, PrintsOneVerdictPerLine) {
  testing::TempDir dir;
  const std::string out =
      verify(dir, R"({"expected": "1000", "answer": "$1,000", "family": "gsm8k"})"
                  "\n"
                  R"({"expected": "0.5", "answer": "50%", "family": "arith"})"
                  "\n"
                  R"({"expected": "Drusk", "answer": "the drusk.", "family": "lookup"})"
                  "\n"
                  R"j({"expected": "60", "answer": "3 * (25 - 5)", "family": "countdown",)j"
                  R"( "metadata": {"numbers": [25, 5, 3, 100], "target": 60}})"
                  "\n");
  EXPECT_EQ(out,
            "{\"equal\":true,\"normalized\":\"1000\"}\n"
            "{\"equal\":false,\"normalized\":\"50\"}\n"
            "{\"equal\":true,\"normalized\":null}\n"
            "{\"equal\":true,\"normalized\":null}\n");
}

TEST(TasksVerify, BadLinesAreErrorsNamingTheLine) {
  testing::TempDir dir;
  const std::string good = R"({"expected": "3", "answer": "3", "family": "count"})"
                           "\n";
  const std::string file = (dir / "verify.jsonl").string();
  EXPECT_THAT(verify_error(dir, good + "{\"expected\": \n"),
              HasSubstr(file + " line 2: not JSON (syntax error at byte"));
  EXPECT_THAT(verify_error(dir, good + good + "\n" + good), HasSubstr("line 3: blank line"));
  EXPECT_THAT(verify_error(dir, "[\"3\", \"3\"]\n"),
              HasSubstr("line 1: [\"3\",\"3\"] is not a JSON object"));
  EXPECT_THAT(verify_error(dir, R"({"expected": "3", "family": "count"})"),
              HasSubstr("line 1: missing \"answer\""));
  EXPECT_THAT(verify_error(dir, R"({"expected": 3, "answer": "3", "family": "count"})"),
              HasSubstr("line 1: \"expected\" is 3, not a string"));
  EXPECT_THAT(verify_error(dir, R"({"expected": "3", "answer": "3", "family": "count", "x": 1})"),
              HasSubstr("line 1: unknown key \"x\""));
  EXPECT_THAT(verify_error(dir, R"({"expected": "3", "answer": "3", "family": "counting"})"),
              HasSubstr("line 1: unknown task family `counting`"));
  EXPECT_THAT(
      verify_error(dir, R"({"expected": "3", "answer": "3", "family": "count", "metadata": [1]})"),
      HasSubstr("line 1: \"metadata\" is [1], not an object"));
  EXPECT_THAT(verify_error(dir, R"({"expected": "60", "answer": "60", "family": "countdown"})"),
              HasSubstr("line 1: the countdown verifier cannot read \"metadata\" null"));
  EXPECT_THAT(error_of({"tasks", "verify", "--input", (dir / "missing.jsonl").string()}),
              HasSubstr("cannot open " + (dir / "missing.jsonl").string()));
}

TEST(TasksVerify, LinesBeforeABadOneArePrinted) {
  testing::TempDir dir;
  const std::string file = (dir / "verify.jsonl").string();
  testing::write_file(file, R"({"expected": "3", "answer": "3.0", "family": "count"})"
                            "\nnot json\n");
  ::testing::internal::CaptureStdout();
  CLI::App app;
  add_tasks_commands(app);
  EXPECT_THROW(app.parse(std::vector<std::string>{file, "--input", "verify", "tasks"}), Error);
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "{\"equal\":true,\"normalized\":\"3\"}\n");
}

}  // namespace
}  // namespace ponder
