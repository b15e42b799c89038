// The countdown family: reach a target from given numbers with + - * /.
// Targets are built by combining a random subset of the numbers, so every
// task has a known solution; only steps with whole, positive results are used,
// so that the solution reads like one a person would find.
#include <algorithm>

#include <fmt/format.h>

#include "curricula/expression.h"
#include "curricula/families.h"

namespace ponder {
namespace {

constexpr int64_t kLarge[] = {25, 50, 75, 100};

struct Value {
  int64_t value;
  std::string expr;
  char op;  // the outermost operation; 0 for a given number
};

// `v` as an operand of `op`, on the right or left: parenthesised only where
// the usual precedence rules need it, so that solutions read naturally.
std::string operand(const Value& v, char op, bool right) {
  const bool additive = v.op == '+' || v.op == '-';
  const bool wrap = (op == '*' && additive) || (op == '-' && right && additive) ||
                    (op == '/' && (additive || (right && v.op != 0)));
  return wrap ? "(" + v.expr + ")" : v.expr;
}

Value apply(const Value& a, char op, const Value& b, int64_t result) {
  return {result, operand(a, op, false) + " " + op + " " + operand(b, op, true), op};
}

// Combines `a` and `b` with a random operation whose result is a positive
// whole number; nullopt when the drawn operation gives none.
std::optional<Value> combine(const Value& a, const Value& b, Rng& rng) {
  const Value& hi = a.value >= b.value ? a : b;
  const Value& lo = a.value >= b.value ? b : a;
  switch (rng.below(4)) {
    case 0:
      return apply(a, '+', b, a.value + b.value);
    case 1:
      if (hi.value == lo.value) return std::nullopt;
      return apply(hi, '-', lo, hi.value - lo.value);
    case 2:
      if (a.value == 1 || b.value == 1) return std::nullopt;  // a wasted number
      return apply(a, '*', b, a.value * b.value);
    default:
      if (lo.value == 1 || hi.value % lo.value != 0) return std::nullopt;
      return apply(hi, '/', lo, hi.value / lo.value);
  }
}

}  // namespace

void make_countdown_task(Split split, int difficulty, Rng& rng, Task& task) {
  task.difficulty = std::min(difficulty, kCountdownMaxDifficulty);
  const int count = task.difficulty + 2;
  const int64_t min_target = task.difficulty == 1 ? 2 : 10;
  const int64_t max_target = task.difficulty == 1 ? 100 : 999;
  while (true) {
    std::vector<int64_t> numbers;
    for (int i = 0; i < count; ++i) {
      const bool large = task.difficulty > 1 && rng.chance(1, 4);
      numbers.push_back(large ? rng.pick(kLarge) : rng.range(1, 10));
    }
    // The solution combines the first `used` numbers of a shuffle.
    std::vector<Value> pool;
    for (int64_t n : numbers) pool.push_back({n, std::to_string(n), 0});
    for (size_t i = pool.size(); i > 1; --i) std::swap(pool[i - 1], pool[rng.below(i)]);
    const int used = static_cast<int>(rng.range(2, count));
    pool.resize(static_cast<size_t>(used));
    while (pool.size() > 1) {
      const size_t i = rng.below(pool.size());
      size_t j = rng.below(pool.size() - 1);
      if (j >= i) ++j;
      const std::optional<Value> joined = combine(pool[i], pool[j], rng);
      if (!joined) continue;
      pool[std::min(i, j)] = *joined;
      pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(std::max(i, j)));
    }
    const int64_t target = pool[0].value;
    if (target < min_target || target > max_target) continue;
    if (std::find(numbers.begin(), numbers.end(), target) != numbers.end()) continue;
    std::vector<int64_t> sorted = numbers;
    std::sort(sorted.begin(), sorted.end());
    if (!key_in_split(fmt::format("{} -> {}", fmt::join(sorted, " "), target), split)) continue;

    const std::string list = fmt::format("{}", fmt::join(numbers, ", "));
    switch (rng.below(3)) {
      case 0:
        task.prompt = fmt::format(
            "Using the numbers {}, make {}. You may use +, -, * and / with parentheses, each "
            "number at most once. Answer with the expression.",
            list, target);
        break;
      case 1:
        task.prompt = fmt::format(
            "Reach {} from the numbers {} with +, -, * and /. Each number may be used at most "
            "once. Give the expression.",
            target, list);
        break;
      default:
        task.prompt = fmt::format(
            "Write an arithmetic expression equal to {} that uses only the numbers {} (each at "
            "most once) and + - * / ( ).",
            target, list);
        break;
    }
    task.answer = pool[0].expr;
    task.metadata = {{"numbers", numbers}, {"target", target}, {"solution", pool[0].expr}};
    return;
  }
}

}  // namespace ponder
