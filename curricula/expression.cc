#include "curricula/expression.h"

#include <algorithm>

namespace ponder {
namespace {

constexpr size_t kMaxLength = 1000;
constexpr int kMaxDepth = 64;

using Wide = __int128;

// Reduces num/den (den != 0) into a Rational, or nullopt when it leaves int64.
std::optional<Rational> make_rational(Wide num, Wide den) {
  if (den < 0) {
    num = -num;
    den = -den;
  }
  Wide a = num < 0 ? -num : num, b = den;
  while (b != 0) {
    const Wide t = a % b;
    a = b;
    b = t;
  }
  if (a > 1) {
    num /= a;
    den /= a;
  }
  if (num > INT64_MAX || num < -INT64_MAX || den > INT64_MAX) return std::nullopt;
  return Rational{static_cast<int64_t>(num), static_cast<int64_t>(den)};
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Evaluation run() {
    Evaluation result;
    if (text_.size() > kMaxLength) {
      result.error = "expression longer than 1000 bytes";
      return result;
    }
    std::optional<Rational> value = expr(0);
    skip_space();
    if (value && pos_ != text_.size()) fail("unexpected text at byte " + std::to_string(pos_));
    result.numbers = std::move(numbers_);
    if (!error_.empty()) {
      result.error = error_;
      return result;
    }
    result.value = value;
    return result;
  }

 private:
  void fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
  }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  // Consumes one of `spellings` after whitespace; returns its index or -1.
  int accept(std::initializer_list<std::string_view> spellings) {
    skip_space();
    int i = 0;
    for (std::string_view s : spellings) {
      if (text_.substr(pos_).starts_with(s)) {
        pos_ += s.size();
        return i;
      }
      ++i;
    }
    return -1;
  }

  std::optional<Rational> expr(int depth) {
    std::optional<Rational> left = term(depth);
    while (left) {
      const int op = accept({"+", "-", "\xe2\x88\x92"});
      if (op < 0) break;
      const std::optional<Rational> right = term(depth);
      if (!right) return std::nullopt;
      const Wide a = Wide(left->num) * right->den, b = Wide(right->num) * left->den;
      left = make_rational(op == 0 ? a + b : a - b, Wide(left->den) * right->den);
      if (!left) fail("a value leaves the 64-bit range");
    }
    return left;
  }

  std::optional<Rational> term(int depth) {
    std::optional<Rational> left = factor(depth);
    while (left) {
      const int op = accept({"*", "\xc3\x97", "/", "\xc3\xb7"});
      if (op < 0) break;
      const std::optional<Rational> right = factor(depth);
      if (!right) return std::nullopt;
      if (op >= 2) {
        if (right->num == 0) {
          fail("division by zero");
          return std::nullopt;
        }
        left = make_rational(Wide(left->num) * right->den, Wide(left->den) * right->num);
      } else {
        left = make_rational(Wide(left->num) * right->num, Wide(left->den) * right->den);
      }
      if (!left) fail("a value leaves the 64-bit range");
    }
    return left;
  }

  std::optional<Rational> factor(int depth) {
    if (accept({"("}) == 0) {
      if (depth >= kMaxDepth) {
        fail("parentheses nested too deep");
        return std::nullopt;
      }
      std::optional<Rational> inner = expr(depth + 1);
      if (!inner) return std::nullopt;
      if (accept({")"}) != 0) {
        fail("missing ')' at byte " + std::to_string(pos_));
        return std::nullopt;
      }
      return inner;
    }
    const size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    if (pos_ == start) {
      fail("expected a number or '(' at byte " + std::to_string(pos_));
      return std::nullopt;
    }
    if (pos_ - start > 18) {
      fail("a number has more than 18 digits");
      return std::nullopt;
    }
    int64_t value = 0;
    for (size_t i = start; i < pos_; ++i) value = value * 10 + (text_[i] - '0');
    numbers_.push_back(value);
    return Rational{value, 1};
  }

  std::string_view text_;
  size_t pos_ = 0;
  std::string error_;
  std::vector<int64_t> numbers_;
};

}  // namespace

Evaluation evaluate_expression(std::string_view text) {
  return Parser(text).run();
}

bool countdown_solves(std::string_view expression, const std::vector<int64_t>& numbers,
                      int64_t target) {
  const Evaluation e = evaluate_expression(expression);
  if (!e.value || *e.value != Rational{target, 1}) return false;
  std::vector<int64_t> available = numbers, used = e.numbers;
  std::sort(available.begin(), available.end());
  std::sort(used.begin(), used.end());
  return std::includes(available.begin(), available.end(), used.begin(), used.end());
}

}  // namespace ponder
