// The arith family: integer expressions with +, -, * and parentheses.
#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "curricula/answer.h"
#include "curricula/expression.h"
#include "curricula/families.h"

namespace ponder {
namespace {

struct Level {
  int min_digits, max_digits, min_ops, max_ops;
  bool multiply;
};

constexpr Level kLevels[kArithMaxDifficulty] = {
    {1, 2, 1, 1, false}, {2, 2, 1, 1, true}, {2, 3, 2, 2, true},
    {3, 4, 2, 3, true},  {4, 5, 3, 3, true}, {5, 6, 3, 4, true},
};

// Results this large would only test the calculator's patience.
constexpr int64_t kMaxResult = 1'000'000'000'000'000;

struct Node {
  char op = 0;  // 0 for a number
  int64_t value = 0;
  std::unique_ptr<Node> left, right;
};

int precedence(char op) {
  return op == '*' ? 2 : op ? 1 : 3;
}

std::unique_ptr<Node> random_tree(const Level& level, int ops, Rng& rng) {
  auto node = std::make_unique<Node>();
  if (ops == 0) {
    const int digits = static_cast<int>(rng.range(level.min_digits, level.max_digits));
    int64_t low = 1;
    for (int i = 1; i < digits; ++i) low *= 10;
    node->value = rng.range(digits == 1 ? 1 : low, low * 10 - 1);
    return node;
  }
  const int left_ops = static_cast<int>(rng.below(static_cast<uint64_t>(ops)));
  node->op = level.multiply ? "+-*"[rng.below(3)] : "+-"[rng.below(2)];
  node->left = random_tree(level, left_ops, rng);
  node->right = random_tree(level, ops - 1 - left_ops, rng);
  return node;
}

// Fewest parentheses that keep the tree's meaning under the usual rules:
// a child binding looser than its parent, or a +/- right child of '-', needs them.
std::string render(const Node& node, std::string_view times) {
  if (!node.op) return std::to_string(node.value);
  auto child = [&](const Node& c, bool right) {
    const bool wrap = precedence(c.op) < precedence(node.op) ||
                      (right && node.op == '-' && precedence(c.op) == 1);
    const std::string text = render(c, times);
    return wrap ? "(" + text + ")" : text;
  };
  const std::string op = node.op == '*' ? std::string(times) : std::string(1, node.op);
  return fmt::format("{} {} {}", child(*node.left, false), op, child(*node.right, true));
}

}  // namespace

void make_arith_task(Split split, int difficulty, Rng& rng, Task& task) {
  task.difficulty = std::min(difficulty, kArithMaxDifficulty);
  const Level& level = kLevels[task.difficulty - 1];
  while (true) {
    const int ops = static_cast<int>(rng.range(level.min_ops, level.max_ops));
    const std::unique_ptr<Node> tree = random_tree(level, ops, rng);
    const std::string expression = render(*tree, "*");
    if (!key_in_split(expression, split)) continue;
    const Evaluation e = evaluate_expression(expression);
    if (!e.value || e.value->num > kMaxResult || e.value->num < -kMaxResult) continue;
    // Negative answers only once the numbers are past mental arithmetic anyway.
    if (task.difficulty <= 2 && e.value->num < 0) continue;
    const std::string shown = render(*tree, rng.chance(1, 2) ? "*" : "×");
    switch (rng.below(5)) {
      case 0:
        task.prompt = fmt::format("What is {}?", shown);
        break;
      case 1:
        task.prompt = fmt::format("Compute {}.", shown);
        break;
      case 2:
        task.prompt = fmt::format("Calculate {}.", shown);
        break;
      case 3:
        task.prompt = fmt::format("Evaluate the expression {}.", shown);
        break;
      default:
        task.prompt = fmt::format("{} = ?", shown);
        break;
    }
    task.answer = std::to_string(e.value->num);
    task.metadata = {{"expression", expression}};
    return;
  }
}

}  // namespace ponder
