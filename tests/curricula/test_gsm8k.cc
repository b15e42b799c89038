#include "curricula/gsm8k.h"

#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "curricula/answer.h"
#include "curricula/generator.h"
#include "policy/error.h"
#include "tests/test_util.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;

// Every gold solution, read independently of the loader: the text after
// "####" must be what the task expects, and verify as correct both alone and
// at the end of a response whose thinking is the worked solution.
TEST(Gsm8k, EveryGoldSolutionExtractsAndVerifies) {
  const TaskGenerator generator{TaskSources{}};
  for (const auto& [split, file, rows] :
       {std::tuple{Split::kTrain, "data/gsm8k/train.jsonl", 7473},
        std::tuple{Split::kEval, "data/gsm8k/test.jsonl", 1319}}) {
    ASSERT_EQ(generator.gsm8k(split).size(), static_cast<size_t>(rows));
    std::ifstream in(file);
    std::string line;
    int row = 0;
    for (; std::getline(in, line); ++row) {
      const std::string solution = nlohmann::json::parse(line).at("answer");
      const size_t mark = solution.rfind("####");
      const std::string gold = solution.substr(mark + 4);
      // Row r is index r at the highest difficulty.
      const Task task = generator.generate(Family::kGsm8k, split, row, kGsm8kMaxDifficulty, 0);
      ASSERT_EQ(task.metadata.at("solution"), solution) << task.id;
      ASSERT_EQ(normalize_number(gold), task.answer) << task.id;
      ASSERT_TRUE(check(task, gold)) << task.id;
      const std::string reasoning = solution.substr(0, mark);
      ASSERT_TRUE(check_response(
          task, "<|think|>" + reasoning + "<|/think|><|answer|>" + gold + "<|/answer|><|end|>"))
          << task.id;
      // The worked solution alone, answer inside the thinking: no answer.
      ASSERT_FALSE(check_response(task, "<|think|>" + solution + "<|/think|><|end|>")) << task.id;
    }
    EXPECT_EQ(row, rows);
  }
}

TEST(Gsm8k, EveryAnnotationParses) {
  size_t annotations = 0;
  for (const char* file : {"data/gsm8k/train.jsonl", "data/gsm8k/test.jsonl"}) {
    for (const Gsm8kProblem& p : load_gsm8k(file)) {
      size_t marks = 0;
      for (size_t pos = p.solution.find("<<"); pos != std::string::npos;
           pos = p.solution.find("<<", pos + 2)) {
        ++marks;
      }
      ASSERT_EQ(p.annotations.size(), marks) << p.question;
      for (const Gsm8kAnnotation& a : p.annotations) {
        ASSERT_NE(p.solution.find("<<" + a.expr + "=" + a.result + ">>"), std::string::npos);
        ASSERT_TRUE(normalize_number(a.result)) << a.result;
      }
      annotations += p.annotations.size();
    }
  }
  // tests/interop/test_gsm8k_annotations.py evaluates the same annotations.
  EXPECT_EQ(annotations, 27998u);
}

TEST(Gsm8k, DifficultyCountsReasoningLines) {
  testing::TempDir dir;
  testing::write_file(dir / "a.jsonl", R"({"question": "q", "answer": "a = <<1+1=2>>2\n#### 2"})"
                                       "\n"
                                       R"({"question": "q", "answer": "a\nb\nc\n\nd\n#### 2"})"
                                       "\n");
  const auto problems = load_gsm8k(dir / "a.jsonl");
  EXPECT_EQ(problems[0].difficulty, 1);
  EXPECT_EQ(problems[1].difficulty, 3);
  EXPECT_EQ(problems[0].annotations[0].expr, "1+1");
  EXPECT_EQ(problems[0].annotations[0].result, "2");
}

std::string load_error(const std::string& contents) {
  testing::TempDir dir;
  testing::write_file(dir / "bad.jsonl", contents);
  try {
    load_gsm8k(dir / "bad.jsonl");
  } catch (const Error& e) {
    const std::string message = e.what();
    // Messages name the file by its path; keep only the file name and after.
    const size_t at = message.find("bad.jsonl");
    return at == std::string::npos ? message : message.substr(at);
  }
  return "no error";
}

TEST(Gsm8k, BadLinesNameFileAndLine) {
  const std::string good = R"({"question": "q", "answer": "x <<2*3=6>>6\n#### 6"})";
  EXPECT_THAT(load_error(good + "\n{not json\n"), HasSubstr("bad.jsonl:2: expected a JSON object"));
  EXPECT_THAT(load_error(good + "\n\n" + good + "\n"), HasSubstr("bad.jsonl:2: expected a JSON"));
  EXPECT_THAT(load_error(good + "\n[1, 2]\n"), HasSubstr("bad.jsonl:2: expected a JSON object"));
  EXPECT_THAT(load_error(R"({"question": "q"})"),
              HasSubstr("bad.jsonl:1: expected a string field `answer`"));
  EXPECT_THAT(load_error(R"({"question": 3, "answer": "#### 1"})"),
              HasSubstr("bad.jsonl:1: expected a string field `question`"));
  EXPECT_THAT(load_error(R"({"question": "q", "answer": "6"})"),
              HasSubstr("bad.jsonl:1: answer must hold exactly one `#### <number>` line"));
  EXPECT_THAT(load_error(R"({"question": "q", "answer": "#### 6\n#### 7"})"),
              HasSubstr("bad.jsonl:1: answer must hold exactly one"));
  EXPECT_THAT(load_error(R"({"question": "q", "answer": "#### six"})"),
              HasSubstr("bad.jsonl:1: the text after `####`, `six`, is not one number"));
  EXPECT_THAT(load_error(good + "\n" + R"({"question": "q", "answer": "a <<2*3=6 b\n#### 6"})"),
              HasSubstr("bad.jsonl:2: annotation `<<2*3=6 b ` has no closing `>>`"));
  EXPECT_THAT(load_error(R"({"question": "q", "answer": "a <<2*3>>6\n#### 6"})"),
              HasSubstr("bad.jsonl:1: annotation `<<2*3>>` is not <<expression=number>>"));
  EXPECT_THAT(load_error(R"({"question": "q", "answer": "a <<2*3=six>>6\n#### 6"})"),
              HasSubstr("annotation `<<2*3=six>>` is not <<expression=number>>"));
  EXPECT_THAT(load_error(R"({"question": "q", "answer": "a <<import os=6>>6\n#### 6"})"),
              HasSubstr("annotation `<<import os=6>>` is not"));
  EXPECT_THAT(load_error(""), HasSubstr("bad.jsonl` has no lines"));
}

TEST(Gsm8k, MissingFilesAreErrorsWhenFirstUsed) {
  testing::TempDir dir;
  EXPECT_THAT(
      [&] {
        try {
          load_gsm8k(dir / "train.jsonl");
        } catch (const Error& e) {
          return std::string(e.what());
        }
        return std::string("no error");
      }(),
      HasSubstr("train.jsonl` not found or unreadable"));
  TaskSources sources;
  sources.gsm8k_dir = dir.path();
  const TaskGenerator generator(sources);
  EXPECT_NO_THROW(generator.generate(Family::kArith, Split::kTrain, 0, 1, 0));
  EXPECT_THROW(generator.generate(Family::kGsm8k, Split::kTrain, 0, 1, 0), Error);
}

}  // namespace
}  // namespace ponder
