// The eval metrics against values computed by hand (and, for pass@k, against
// the binomial ratio multiplied out another way).
#include "curricula/eval_metrics.h"

#include <cmath>

#include <gtest/gtest.h>

namespace ponder {
namespace {

SampleOutcome answer(const std::string& key, bool correct) {
  SampleOutcome s;
  s.answer_key = key;
  s.correct = correct;
  return s;
}

SampleOutcome no_answer() {
  return SampleOutcome{};
}

TEST(PassAtK, MatchesHandComputedValues) {
  EXPECT_DOUBLE_EQ(pass_at_k(5, 2, 2), 1.0 - 3.0 / 10.0);  // 1 − C(3,2)/C(5,2)
  EXPECT_DOUBLE_EQ(pass_at_k(4, 1, 1), 0.25);              // pass@1 is c/n
  EXPECT_DOUBLE_EQ(pass_at_k(10, 3, 1), 0.3);
  EXPECT_DOUBLE_EQ(pass_at_k(10, 0, 5), 0.0);
  EXPECT_DOUBLE_EQ(pass_at_k(5, 4, 2), 1.0);  // n − c < k: some draw of 2 must hit
  EXPECT_DOUBLE_EQ(pass_at_k(3, 3, 3), 1.0);
  EXPECT_DOUBLE_EQ(pass_at_k(8, 2, 8), 1.0);
  EXPECT_DOUBLE_EQ(pass_at_k(8, 0, 8), 0.0);
  // 1 − C(4,3)/C(6,3) = 1 − 4/20.
  EXPECT_NEAR(pass_at_k(6, 2, 3), 0.8, 1e-15);
}

TEST(PassAtK, IsStableWhereBinomialsOverflow) {
  // C(2000, 1000) overflows a double; the ratio C(n−c,k)/C(n,k) multiplied
  // out as Π_{i<c} (n−k−i)/(n−i) does not.
  const int n = 2000, c = 7, k = 1000;
  double ratio = 1;
  for (int i = 0; i < c; ++i) ratio *= static_cast<double>(n - k - i) / (n - i);
  EXPECT_NEAR(pass_at_k(n, c, k), 1 - ratio, 1e-12);
  EXPECT_TRUE(std::isfinite(pass_at_k(100000, 50000, 50000)));
}

TEST(MajoritySample, PicksTheMostFrequentAnswer) {
  const std::vector<SampleOutcome> s = {no_answer(), answer("7", false), answer("3", true),
                                        answer("3", true), no_answer()};
  EXPECT_EQ(majority_sample(s), 2u);
}

TEST(MajoritySample, BreaksTiesByTheAnswerSeenFirst) {
  const std::vector<SampleOutcome> s = {answer("b", false), answer("a", true), answer("a", true),
                                        answer("b", false)};
  EXPECT_EQ(majority_sample(s), 0u);  // "b" and "a" both have 2; "b" came first
  const std::vector<SampleOutcome> t = {no_answer(), answer("z", true), answer("y", false)};
  EXPECT_EQ(majority_sample(t), 1u);
}

TEST(MajoritySample, FormatErrorsDoNotVote) {
  const std::vector<SampleOutcome> s = {no_answer(), no_answer()};
  EXPECT_EQ(majority_sample(s), std::nullopt);
  EXPECT_EQ(majority_sample({}), std::nullopt);
}

TEST(WilsonInterval, MatchesHandComputedValues) {
  // 50 of 100: center 0.5, half-width z/(1 + z²/n) · √(p(1−p)/n + z²/4n²) = 0.09617.
  Interval i = wilson_interval(0.5, 100);
  EXPECT_NEAR(i.low, 0.40383, 1e-5);
  EXPECT_NEAR(i.high, 0.59617, 1e-5);
  // 0 of 10: [0, z²/(n + z²)] — not the empty [0, 0] the normal approximation gives.
  i = wilson_interval(0.0, 10);
  EXPECT_NEAR(i.low, 0.0, 1e-12);
  EXPECT_NEAR(i.high, 3.8414588 / 13.8414588, 1e-7);
  // 10 of 10 mirrors it.
  i = wilson_interval(1.0, 10);
  EXPECT_NEAR(i.low, 10 / 13.8414588, 1e-7);
  EXPECT_NEAR(i.high, 1.0, 1e-12);
  // 8 of 20, from the textbook formula term by term.
  const double z = kZ95, n = 20, p = 0.4;
  const double center = (p + z * z / (2 * n)) / (1 + z * z / n);
  const double half = z / (1 + z * z / n) * std::sqrt(p * (1 - p) / n + z * z / (4 * n * n));
  i = wilson_interval(p, 20);
  EXPECT_NEAR(i.low, center - half, 1e-12);
  EXPECT_NEAR(i.high, center + half, 1e-12);
  EXPECT_NEAR(i.low, 0.2188, 1e-4);
  EXPECT_NEAR(i.high, 0.6134, 1e-4);
  i = wilson_interval(0.3, 0);
  EXPECT_EQ(i.low, 0);
  EXPECT_EQ(i.high, 1);
}

TEST(TwoProportionTest, TellsNoiseFromADifference) {
  // 0.5 vs 0.6 over 100 each: pooled 0.55, se = √(0.2475 · 0.02) = 0.070356, z = 1.4213.
  ProportionTest t = two_proportion_test(0.5, 100, 0.6, 100);
  EXPECT_NEAR(t.difference, 0.1, 1e-12);
  EXPECT_NEAR(t.z, 1.42134, 1e-4);
  EXPECT_NEAR(t.p_value, 0.15522, 1e-4);
  EXPECT_FALSE(t.beyond_noise);
  // 0.3 vs 0.4 over 500 each: se = √(0.2275 · 0.004) = 0.030166, z = 3.3150.
  t = two_proportion_test(0.3, 500, 0.4, 500);
  EXPECT_NEAR(t.z, 3.31497, 1e-4);
  EXPECT_NEAR(t.p_value, 0.000916, 1e-5);
  EXPECT_TRUE(t.beyond_noise);
  // B worse than A: negative difference, same verdict by symmetry.
  t = two_proportion_test(0.4, 500, 0.3, 500);
  EXPECT_NEAR(t.z, -3.31497, 1e-4);
  EXPECT_TRUE(t.beyond_noise);
  // Nothing to tell apart.
  t = two_proportion_test(1.0, 50, 1.0, 80);
  EXPECT_EQ(t.p_value, 1);
  EXPECT_FALSE(t.beyond_noise);
  t = two_proportion_test(0.5, 0, 0.9, 10);
  EXPECT_EQ(t.p_value, 1);
  EXPECT_FALSE(t.beyond_noise);
}

TEST(Summarize, MatchesHandComputedValues) {
  // Three problems, three samples each.
  auto with = [](SampleOutcome s, int tokens, int thinking, int calls) {
    s.response_tokens = tokens;
    s.thinking_tokens = thinking;
    s.tool_calls = calls;
    return s;
  };
  const std::vector<std::vector<SampleOutcome>> problems = {
      // c = 1; majority "5" (wrong) beats the lone correct "4".
      {with(answer("5", false), 10, 4, 0), with(answer("4", true), 20, 8, 1),
       with(answer("5", false), 30, 0, 2)},
      // c = 2; majority "9" correct; one format error.
      {with(answer("9", true), 12, 0, 0), with(no_answer(), 40, 30, 0),
       with(answer("9", true), 8, 2, 0)},
      // c = 0; no answers at all.
      {with(no_answer(), 16, 16, 1), with(no_answer(), 16, 16, 0), with(no_answer(), 16, 16, 0)},
  };
  const EvalMetrics m = summarize(problems);
  EXPECT_EQ(m.problems, 3);
  EXPECT_EQ(m.samples, 3);
  EXPECT_NEAR(m.pass_at_1, (1.0 / 3 + 2.0 / 3 + 0) / 3, 1e-12);
  EXPECT_NEAR(m.pass_at_k, (1 + 1 + 0) / 3.0, 1e-12);  // pass@3: any correct sample
  EXPECT_NEAR(m.maj_at_k, 1 / 3.0, 1e-12);             // only the second problem's vote is right
  EXPECT_NEAR(m.response_tokens, (60 + 60 + 48) / 9.0, 1e-12);
  EXPECT_NEAR(m.thinking_tokens, (12 + 32 + 48) / 9.0, 1e-12);
  EXPECT_NEAR(m.tool_calls, 4 / 9.0, 1e-12);
  EXPECT_NEAR(m.format_error_rate, 4 / 9.0, 1e-12);
  const Interval ci = wilson_interval(m.pass_at_1, 3);
  EXPECT_DOUBLE_EQ(m.ci95.low, ci.low);
  EXPECT_DOUBLE_EQ(m.ci95.high, ci.high);

  const EvalMetrics none = summarize({});
  EXPECT_EQ(none.problems, 0);
  EXPECT_EQ(none.pass_at_1, 0);
  EXPECT_EQ(none.ci95.high, 1);
}

}  // namespace
}  // namespace ponder
