// The numbers `ponder eval` reports, computed from per-sample outcomes. Pure
// functions: no I/O, no model, no tasks (docs/EVAL.md has the formulas).
//
// A benchmark holds P problems; each is answered by the same number n of
// samples, c_i of them correct for problem i. Then:
//   pass@1  = (1/P) Σ c_i / n
//   pass@k  = (1/P) Σ [1 − C(n − c_i, k) / C(n, k)]   (Chen et al. 2021: the
//             unbiased estimate of "at least one of k samples is correct")
//   maj@n   = the fraction of problems whose majority answer (majority_sample)
//             is correct. maj@1 is pass@1: one sample's vote is its answer.
// Problems, not samples, are the independent units: the confidence interval
// and the comparison test count P, because the n samples of one problem are
// correlated and counting them as P·n trials would overstate certainty.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace ponder {

// One sample of one problem.
struct SampleOutcome {
  // The final answer, normalised so that equal keys mean equal answers
  // (vote_key in curricula/benchmarks.h); nullopt when the sample has no
  // well-formed final answer (a format error).
  std::optional<std::string> answer_key;
  bool correct = false;     // the verifier's verdict; false without an answer
  int response_tokens = 0;  // every completion token, forced tool results included
  int thinking_tokens = 0;
  int tool_calls = 0;
};

// 1 − C(n − c, k) / C(n, k), as the product 1 − Π_{i=n−c+1..n} (1 − k/i) so
// that no binomial coefficient is formed (they overflow a double near n = 1030).
// Exactly 1 when n − c < k. Precondition: 0 <= c <= n and 1 <= k <= n.
double pass_at_k(int n, int c, int k);

// The index of the sample whose answer wins the vote among `samples` that
// have an answer_key: the most frequent key; a tie goes to the key seen first
// (lowest sample index), so the result is deterministic. nullopt when no
// sample has an answer. Samples with equal keys agree on correctness, so the
// winner's `correct` is the vote's.
std::optional<size_t> majority_sample(std::span<const SampleOutcome> samples);

// A two-sided 95% interval: the normal quantile 1.96.
inline constexpr double kZ95 = 1.959963984540054;

struct Interval {
  double low = 0, high = 1;
};

// The Wilson score interval for a proportion `p` observed over `n` trials:
// unlike p ± z·√(p(1−p)/n) it stays inside [0, 1] and does not collapse to a
// point at p = 0 or 1. n = 0 gives [0, 1].
Interval wilson_interval(double p, int n, double z = kZ95);

// Is B's accuracy different from A's beyond sampling noise? A two-sided
// two-proportion z-test with the pooled proportion:
//   p = (p_a·n_a + p_b·n_b) / (n_a + n_b),  se = √(p(1−p)(1/n_a + 1/n_b)),
//   z = (p_b − p_a) / se,  p-value = erfc(|z| / √2);
// beyond noise when the p-value is below 0.05. On the same problems (paired
// runs) it ignores the pairing, which can only widen se: it is conservative,
// never claiming a difference a paired test would not.
struct ProportionTest {
  double difference = 0;  // p_b − p_a
  double z = 0;
  double p_value = 1;
  bool beyond_noise = false;
};
// n_a or n_b = 0, or se = 0 (both all-correct or both all-wrong): p-value 1.
ProportionTest two_proportion_test(double p_a, int n_a, double p_b, int n_b);

struct EvalMetrics {
  int problems = 0;
  int samples = 0;  // per problem: the k of pass@k and maj@k
  double pass_at_1 = 0, pass_at_k = 0, maj_at_k = 0;
  Interval ci95;  // Wilson, on pass_at_1 over `problems`
  // Means per sample (one attempt at a problem).
  double response_tokens = 0, thinking_tokens = 0, tool_calls = 0;
  double format_error_rate = 0;  // fraction of samples without an answer_key
};

// The metrics of `problems` (outer: problems; inner: their samples). An empty
// span gives zeros and the interval [0, 1]. Precondition: every problem has
// the same number of samples, at least 1.
EvalMetrics summarize(std::span<const std::vector<SampleOutcome>> problems);

}  // namespace ponder
