// A small, safe arithmetic evaluator with exact rational arithmetic: the
// countdown verifier (model-written input) and the arithmetic generators.
//
// Grammar (whitespace anywhere between tokens):
//   expr   := term (('+' | '-' | '−') term)*
//   term   := factor (('*' | '×' | '/' | '÷') factor)*
//   factor := integer | '(' expr ')'
//   integer:= 1 to 18 decimal digits
// There is no unary minus: countdown builds numbers only from the ones given.
// Division is exact rational division: intermediate values may be fractions
// ("(1 + 1/2) * 4" is 6), and only the final value is compared. Division by
// zero, a numerator or denominator leaving int64, input over 1,000 bytes or
// parentheses nested over 64 deep make the expression invalid; nothing the
// input holds can crash or hang the evaluator.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ponder {

// A reduced fraction: den > 0 and gcd(|num|, den) == 1.
struct Rational {
  int64_t num = 0;
  int64_t den = 1;
  friend bool operator==(const Rational&, const Rational&) = default;
};

struct Evaluation {
  std::optional<Rational> value;  // nullopt when the expression is invalid
  std::string error;              // why, for people ("" when valid)
  std::vector<int64_t> numbers;   // the integer literals, in order of appearance
};

Evaluation evaluate_expression(std::string_view text);

// Whether `expression` is a valid countdown answer: it evaluates to exactly
// `target`, and its literals form a sub-multiset of `numbers` (each given
// number used at most once; a number given twice may be used twice).
bool countdown_solves(std::string_view expression, const std::vector<int64_t>& numbers,
                      int64_t target);

}  // namespace ponder
