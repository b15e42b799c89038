#include "curricula/eval_metrics.h"

#include <cmath>
#include <map>

namespace ponder {

double pass_at_k(int n, int c, int k) {
  if (n - c < k) return 1.0;
  double all_wrong = 1.0;  // C(n − c, k) / C(n, k)
  for (int i = n - c + 1; i <= n; ++i) all_wrong *= 1.0 - static_cast<double>(k) / i;
  return 1.0 - all_wrong;
}

std::optional<size_t> majority_sample(std::span<const SampleOutcome> samples) {
  struct Votes {
    size_t first;
    int count;
  };
  std::map<std::string, Votes> votes;
  for (size_t i = 0; i < samples.size(); ++i) {
    if (!samples[i].answer_key) continue;
    auto [it, added] = votes.try_emplace(*samples[i].answer_key, Votes{i, 0});
    ++it->second.count;
  }
  std::optional<size_t> winner;
  int best = 0;
  for (const auto& [key, v] : votes) {
    if (v.count > best || (v.count == best && v.first < *winner)) {
      best = v.count;
      winner = v.first;
    }
  }
  return winner;
}

Interval wilson_interval(double p, int n, double z) {
  if (n <= 0) return {0, 1};
  const double z2n = z * z / n;
  const double center = (p + z2n / 2) / (1 + z2n);
  const double half = z / (1 + z2n) * std::sqrt(p * (1 - p) / n + z2n / (4.0 * n));
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

ProportionTest two_proportion_test(double p_a, int n_a, double p_b, int n_b) {
  ProportionTest t;
  t.difference = p_b - p_a;
  if (n_a <= 0 || n_b <= 0) return t;
  const double pooled = (p_a * n_a + p_b * n_b) / (n_a + n_b);
  const double se = std::sqrt(pooled * (1 - pooled) * (1.0 / n_a + 1.0 / n_b));
  if (!(se > 0)) return t;
  t.z = t.difference / se;
  t.p_value = std::erfc(std::abs(t.z) / std::sqrt(2.0));
  t.beyond_noise = t.p_value < 0.05;
  return t;
}

EvalMetrics summarize(std::span<const std::vector<SampleOutcome>> problems) {
  EvalMetrics m;
  m.problems = static_cast<int>(problems.size());
  if (problems.empty()) return m;
  m.samples = static_cast<int>(problems.front().size());
  double samples = 0;
  for (const auto& problem : problems) {
    int correct = 0;
    for (const SampleOutcome& s : problem) {
      correct += s.correct;
      m.response_tokens += s.response_tokens;
      m.thinking_tokens += s.thinking_tokens;
      m.tool_calls += s.tool_calls;
      m.format_error_rate += !s.answer_key;
      samples += 1;
    }
    const int n = static_cast<int>(problem.size());
    m.pass_at_1 += static_cast<double>(correct) / n;
    m.pass_at_k += pass_at_k(n, correct, n);
    const auto winner = majority_sample(problem);
    m.maj_at_k += winner && problem[*winner].correct;
  }
  for (double* mean : {&m.pass_at_1, &m.pass_at_k, &m.maj_at_k}) *mean /= m.problems;
  for (double* mean :
       {&m.response_tokens, &m.thinking_tokens, &m.tool_calls, &m.format_error_rate}) {
    *mean /= samples;
  }
  m.ci95 = wilson_interval(m.pass_at_1, m.problems);
  return m;
}

}  // namespace ponder
