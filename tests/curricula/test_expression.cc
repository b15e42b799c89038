#include "curricula/expression.h"

#include <gtest/gtest.h>

namespace ponder {
namespace {

std::optional<Rational> value_of(std::string_view text) {
  return evaluate_expression(text).value;
}

TEST(Expression, EvaluatesWithPrecedenceAndParentheses) {
  EXPECT_EQ(value_of("1 + 2 * 3"), (Rational{7, 1}));
  EXPECT_EQ(value_of("(1 + 2) * 3"), (Rational{9, 1}));
  EXPECT_EQ(value_of("10 - 4 - 3"), (Rational{3, 1}));
  EXPECT_EQ(value_of("10 - (4 - 3)"), (Rational{9, 1}));
  EXPECT_EQ(value_of("2 × 3 ÷ 4 − 1"), (Rational{1, 2}));
  EXPECT_EQ(value_of("1 - 5"), (Rational{-4, 1}));
  EXPECT_EQ(value_of(" ( ( 7 ) ) "), (Rational{7, 1}));
}

TEST(Expression, DivisionIsExactRational) {
  EXPECT_EQ(value_of("1/3 + 1/3 + 1/3"), (Rational{1, 1}));
  EXPECT_EQ(value_of("(1 + 1/2) * 4"), (Rational{6, 1}));
  EXPECT_EQ(value_of("6 / 4"), (Rational{3, 2}));
}

TEST(Expression, RecordsLiteralsInOrder) {
  EXPECT_EQ(evaluate_expression("(25 - 5) * 3 + 25").numbers, (std::vector<int64_t>{25, 5, 3, 25}));
}

TEST(Expression, RejectsBadInputWithoutCrashing) {
  for (const char* bad :
       {"", "1 +", "+1", "-1 + 2", "(1 + 2", "1 + 2)", "1 / 0", "1 / (2 - 2)", "2 ** 3", "1.5 * 2",
        "x", "3 4", "1e3", "1234567890123456789", "999999999999 * 999999999999", "()", "1 = 1"}) {
    const Evaluation e = evaluate_expression(bad);
    EXPECT_FALSE(e.value) << bad;
    EXPECT_FALSE(e.error.empty()) << bad;
  }
  EXPECT_FALSE(value_of(std::string(1001, '1')));
  EXPECT_FALSE(value_of(std::string(100, '(') + "1" + std::string(100, ')')));
  EXPECT_TRUE(value_of(std::string(60, '(') + "1" + std::string(60, ')')));
}

TEST(Countdown, ChecksValueAndNumberUse) {
  const std::vector<int64_t> numbers = {25, 5, 3, 3, 100};
  EXPECT_TRUE(countdown_solves("(25 - 5) * 3", numbers, 60));
  EXPECT_TRUE(countdown_solves("3 * 3 + 100 / 25 * 5", numbers, 29));  // 3 used twice: given twice
  EXPECT_TRUE(countdown_solves("100/(5*5-25+3)*3", {100, 5, 5, 25, 3, 3}, 100));
  EXPECT_FALSE(countdown_solves("(25 - 5) * 3", numbers, 61));       // wrong value
  EXPECT_FALSE(countdown_solves("25 * 5 * 5", numbers, 625));        // 5 used twice
  EXPECT_FALSE(countdown_solves("3 * 3 * 3", numbers, 27));          // 3 used three times
  EXPECT_FALSE(countdown_solves("7 * 9", numbers, 63));              // numbers not given
  EXPECT_FALSE(countdown_solves("60", numbers, 60));                 // not a given number
  EXPECT_FALSE(countdown_solves("(25 - 5) * 3 = 60", numbers, 60));  // not an expression
  EXPECT_FALSE(countdown_solves("100 / 3", numbers, 33));            // 33.33…, not 33
  EXPECT_TRUE(countdown_solves("100 / 3 * 3 + 5", numbers, 105));    // exact via rationals
}

}  // namespace
}  // namespace ponder
