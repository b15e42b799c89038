// The benchmark sets: the built-in suites' sizes, levels, split and seeds;
// the user JSONL loader on good and bad files (errors name file:line); and
// the answer keys majority voting compares.
#include "curricula/benchmarks.h"

#include <map>
#include <set>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/error.h"
#include "tests/test_util.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;

const TaskGenerator& generator() {
  static const TaskGenerator g{TaskSources{}};
  return g;
}

TEST(Benchmarks, Gsm8kIsTheWholeTestFileInOrder) {
  const Benchmark b = builtin_benchmark(generator(), "gsm8k");
  ASSERT_EQ(b.tasks.size(), 1319u);
  std::set<int> levels;
  for (size_t i = 0; i < b.tasks.size(); ++i) {
    EXPECT_EQ(b.tasks[i].id, fmt::format("gsm8k/eval/{:05}", i));
    levels.insert(b.tasks[i].difficulty);
  }
  EXPECT_GT(levels.size(), 4u);  // reported per difficulty
  EXPECT_EQ(builtin_benchmark(generator(), "gsm8k", 10).tasks.size(), 10u);
}

TEST(Benchmarks, FamilySuitesAreHeldOutAtEveryLevel) {
  for (const std::string& name : builtin_benchmark_names()) {
    if (name == "gsm8k") continue;
    const Family family = parse_family(name);
    const Benchmark b = builtin_benchmark(generator(), name);
    ASSERT_EQ(b.tasks.size(), static_cast<size_t>(max_difficulty(family) * kSuitePerDifficulty));
    std::map<int, int> per_level;
    for (size_t j = 0; j < b.tasks.size(); ++j) {
      const Task& t = b.tasks[j];
      EXPECT_EQ(t.split, Split::kEval);
      EXPECT_EQ(t.family, family);
      ++per_level[t.difficulty];
      // The suite's own seed and indices, so the id regenerates the task; the
      // index range lies beyond anything training's held-out checks draw.
      const uint64_t index = kSuiteFirstIndex + j / max_difficulty(family);
      EXPECT_EQ(t.id, fmt::format("{}/eval/s{}-d{}-{}", name, kSuiteSeed, t.difficulty, index));
      EXPECT_EQ(generator().generate(family, Split::kEval, index, t.difficulty, kSuiteSeed).prompt,
                t.prompt);
    }
    ASSERT_EQ(per_level.size(), static_cast<size_t>(max_difficulty(family)));
    for (const auto& [level, n] : per_level) EXPECT_EQ(n, kSuitePerDifficulty) << name << level;
    // Any prefix covers every level.
    const Benchmark first = builtin_benchmark(generator(), name, max_difficulty(family));
    std::set<int> levels;
    for (const Task& t : first.tasks) levels.insert(t.difficulty);
    EXPECT_EQ(levels.size(), static_cast<size_t>(max_difficulty(family))) << name;
    // The same suite on every call.
    EXPECT_EQ(first.tasks.back().prompt, b.tasks[first.tasks.size() - 1].prompt);
  }
}

TEST(Benchmarks, UnknownAndRepeatedNamesAreErrors) {
  try {
    builtin_benchmark(generator(), "gsm9k");
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("unknown benchmark `gsm9k`"));
    EXPECT_THAT(e.what(), HasSubstr(".jsonl"));
  }
  try {
    load_benchmarks(generator(), {"count", "arith", "count"}, 2);
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("benchmark `count` is named twice"));
  }
  const auto both = load_benchmarks(generator(), {"count", "arith"}, 3);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[1].name, "arith");
  EXPECT_EQ(both[1].tasks.size(), 3u);
}

class BenchmarkFile : public ::testing::Test {
 protected:
  std::filesystem::path write(const std::string& contents) {
    const auto file = dir_ / "mine.jsonl";
    testing::write_file(file, contents);
    return file;
  }
  void expect_error(const std::string& contents, const std::string& message) {
    const auto file = write(contents);
    try {
      load_benchmark_file(file);
      FAIL() << "no error for: " << contents;
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr(message)) << contents;
    }
  }
  testing::TempDir dir_;
};

TEST_F(BenchmarkFile, LoadsQuestionsAnswersAndFamilies) {
  const auto file = write(
      "{\"question\": \"What is 2 + 2?\", \"answer\": \"4\"}\n"
      "\n"
      "{\"question\": \"Capital of Ethe?\", \"answer\": \" The Oskel \", \"family\": \"lookup\"}\n"
      "{\"question\": \"Sum?\", \"answer\": 1000, \"difficulty\": 3, \"extra\": true}\n"
      "{\"question\": \"Make 6\", \"answer\": \"2 * 3\", \"family\": \"countdown\", "
      "\"numbers\": [2, 3, 7], \"target\": 6}\n");
  const Benchmark b = load_benchmark_file(file);
  EXPECT_EQ(b.name, "mine");
  ASSERT_EQ(b.tasks.size(), 4u);
  EXPECT_EQ(b.tasks[0].id, "mine/1");
  EXPECT_EQ(b.tasks[0].family, Family::kGsm8k);  // the default: answers compared as numbers
  EXPECT_EQ(b.tasks[0].answer, "4");
  EXPECT_TRUE(check(b.tasks[0], "4.0"));
  EXPECT_EQ(b.tasks[1].id, "mine/3");  // ids are line numbers; the blank line is skipped
  EXPECT_EQ(b.tasks[1].family, Family::kLookup);
  EXPECT_EQ(b.tasks[1].answer, "The Oskel");
  EXPECT_TRUE(check(b.tasks[1], "oskel"));
  EXPECT_EQ(b.tasks[2].answer, "1000");
  EXPECT_EQ(b.tasks[2].difficulty, 3);
  EXPECT_TRUE(check(b.tasks[2], "1,000"));
  EXPECT_TRUE(check(b.tasks[3], "3*2"));
  EXPECT_FALSE(check(b.tasks[3], "7 - 1"));
  for (const Task& t : b.tasks) EXPECT_EQ(t.split, Split::kEval);
  EXPECT_EQ(load_benchmark_file(file, 2).tasks.size(), 2u);
}

TEST_F(BenchmarkFile, BadInputsNameTheFileAndLine) {
  const std::string good = "{\"question\": \"q\", \"answer\": \"1\"}\n";
  const std::string at2 = (dir_ / "mine.jsonl").string() + ":2: ";
  expect_error(good + "{\"answer\": \"1\"}\n", at2 + "missing \"question\"");
  expect_error(good + "{\"question\": \"q\"}\n", at2 + "missing \"answer\"");
  expect_error(good + "{\"question\": 5, \"answer\": \"1\"}\n", at2 + "missing \"question\"");
  expect_error(good + "{\"question\": \"q\", \"answer\": [1]}\n", at2 + "missing \"answer\"");
  expect_error(good + "{\"question\": \"q\", \"answer\": \"  \"}\n", at2 + "\"answer\" is empty");
  expect_error(good + "{\"question\": \"q\", \"answer\": \"1\"\n", at2 + "not valid JSON");
  expect_error(good + "[1, 2]\n", at2 + "expected a JSON object");
  expect_error(good + "{\"question\": \"q\", \"answer\": \"1\", \"family\": \"algebra\"}\n",
               at2 + "unknown task family `algebra`");
  expect_error(good + "{\"question\": \"q\", \"answer\": \"1\", \"difficulty\": 0}\n",
               at2 + "\"difficulty\" is not an integer");
  expect_error(good + "{\"question\": \"q\", \"answer\": \"2*3\", \"family\": \"countdown\"}\n",
               at2 + "a countdown problem needs \"numbers\"");
  expect_error("", "holds no problem");
  expect_error("\n  \n", "holds no problem");
  try {
    load_benchmark_file(dir_ / "absent.jsonl");
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("absent.jsonl` not found"));
  }
  // Through the list, a .jsonl name is a file.
  try {
    load_benchmarks(generator(), {"count", (dir_ / "absent.jsonl").string()});
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("not found"));
  }
}

TEST(VoteKey, EqualKeysMeanEquallyCorrectAnswers) {
  Task number;
  number.family = Family::kGsm8k;
  number.answer = "1000";
  EXPECT_EQ(vote_key(number, "1,000"), vote_key(number, "1000.0"));
  EXPECT_EQ(vote_key(number, "$1000"), "1000");
  EXPECT_NE(vote_key(number, "1000 apples"), vote_key(number, "1000"));
  Task name;
  name.family = Family::kLookup;
  name.answer = "Oskel";
  EXPECT_EQ(vote_key(name, "The Oskel."), vote_key(name, "oskel"));
  Task countdown;
  countdown.family = Family::kCountdown;
  EXPECT_EQ(vote_key(countdown, "8 * (50 + 10)"), vote_key(countdown, "8*(50+10)"));
  EXPECT_NE(vote_key(countdown, "8*(50+10)"), vote_key(countdown, "(50+10)*8"));
}

}  // namespace
}  // namespace ponder
