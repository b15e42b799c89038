// Verifiers on hand-written responses: every gold answer accepted, near
// misses and adversarial outputs rejected.
#include <gtest/gtest.h>

#include "curricula/task.h"

namespace ponder {
namespace {

Task make(Family family, std::string answer, nlohmann::json metadata = nlohmann::json::object()) {
  Task task;
  task.id = "hand/" + answer;
  task.family = family;
  task.answer = std::move(answer);
  task.metadata = std::move(metadata);
  return task;
}

// The response an assistant turn ends with.
std::string answered(std::string_view answer) {
  return "<|answer|>" + std::string(answer) + "<|/answer|><|end|>";
}

struct Case {
  const Task* task;
  std::string response;
  bool correct;
};

TEST(Verifiers, HandWrittenCases) {
  const Task count =
      make(Family::kCount, "3", {{"kind", "letter"}, {"word", "strawberry"}, {"letter", "r"}});
  const Task zero =
      make(Family::kCount, "0", {{"kind", "letter"}, {"word", "apple"}, {"letter", "z"}});
  const Task arith = make(Family::kArith, "-1234567", {{"expression", "1 - 1234568"}});
  const Task wordprob = make(Family::kWordprob, "72");
  const Task capital = make(Family::kLookup, "Drusk");
  const Task population = make(Family::kLookup, "45210");
  const Task countdown =
      make(Family::kCountdown, "(25 - 5) * 3",
           {{"numbers", {25, 5, 3, 100}}, {"target", 60}, {"solution", "(25 - 5) * 3"}});
  const Task gsm8k = make(Family::kGsm8k, "18");
  const Task money = make(Family::kGsm8k, "1000");
  const Task decimal = make(Family::kGsm8k, "0.5");
  const Task hundreds = make(Family::kGsm8k, "500");
  const std::string think = "<|think|>s t r a w b e r r y: r at 3, 8, 9<|/think|>";

  const std::vector<Case> cases = {
      // count: gold, near misses, adversarial.
      {&count, answered("3"), true},
      {&count, think + answered("3"), true},
      {&count, answered(" 3 ") + "\n", true},
      {&count, answered("3.0"), true},
      {&count, answered("2"), false},
      {&count, answered("4"), false},
      {&count, answered("33"), false},
      {&count, answered("3 3"), false},
      {&count, answered("three"), false},
      {&count, answered("3 r's"), false},
      {&count, answered("2 or 3"), false},
      {&count, "<|think|>" + answered("3") + "<|/think|>", false},
      {&count, "<|think|><|answer|>3<|/answer|><|/think|>" + answered("4"), false},
      {&count, answered("3") + answered("3"), false},
      {&count, "The answer is 3.<|end|>", false},
      {&count, "3", false},
      {&zero, answered("0"), true},
      {&zero, answered("-0"), true},
      {&zero, answered("1"), false},
      // arith: signs and separators.
      {&arith, answered("-1234567"), true},
      {&arith, answered("-1,234,567"), true},
      {&arith, answered("1234567"), false},
      {&arith, answered("-1234568"), false},
      {&arith, answered("-12345670"), false},
      {&arith, answered("-1,2345,67"), false},
      // wordprob.
      {&wordprob, answered("72"), true},
      {&wordprob, answered("$72"), true},
      {&wordprob, answered("72 clips"), false},
      {&wordprob, answered("48 + 24 = 72"), false},
      {&wordprob, answered("71"), false},
      // lookup: names and numbers.
      {&capital, answered("Drusk"), true},
      {&capital, answered("drusk."), true},
      {&capital, answered("\"Drusk\""), true},
      {&capital, answered("Druskk"), false},
      {&capital, answered("Drusk or Valoria"), false},
      {&capital, "<|think|>" + answered("Drusk") + "<|/think|>", false},
      {&population, answered("45,210"), true},
      {&population, answered("45210"), true},
      {&population, answered("45,211"), false},
      {&population, answered("4521"), false},
      // countdown: any valid expression, not only the stored one.
      {&countdown, answered("(25 - 5) * 3"), true},
      {&countdown, answered("3 * (25 - 5)"), true},
      {&countdown, answered("25 + 25 + 5 + 5"), false},  // 60, but 25 and 5 used twice
      {&countdown, answered("60"), false},
      {&countdown, answered("(25 - 5) * 3 = 60"), false},
      {&countdown, answered("25 * 3 - 5"), false},  // 70
      // gsm8k.
      {&gsm8k, answered("18"), true},
      {&gsm8k, answered("$18.00"), true},
      {&gsm8k, answered("18.5"), false},
      {&gsm8k, answered("180"), false},
      {&gsm8k, answered("$18") + " extra", false},
      {&money, answered("$1,000"), true},
      {&money, answered("1,000.0"), true},
      {&money, answered("100"), false},
      {&decimal, answered("1/2"), true},
      {&decimal, answered(".5"), true},
      {&decimal, answered("5"), false},
      {&hundreds, answered("0,500"), false},  // 0.5 with a decimal comma, not 500
      {&hundreds, answered("500"), true},
  };
  ASSERT_GE(cases.size(), 40u);
  for (const Case& c : cases) {
    EXPECT_EQ(check_response(*c.task, c.response), c.correct)
        << family_name(c.task->family) << " task answered " << c.response;
  }
}

TEST(Verifiers, CheckTakesTheExtractedAnswer) {
  const Task count = make(Family::kCount, "3");
  EXPECT_TRUE(check(count, "3"));
  EXPECT_TRUE(check(count, " 3\n"));
  EXPECT_FALSE(check(count, ""));
  EXPECT_FALSE(check(count, "<|answer|>3<|/answer|>"));
}

}  // namespace
}  // namespace ponder
