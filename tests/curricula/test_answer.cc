// The table of cases for answer extraction and normalisation
// (curricula/answer.h).
#include "curricula/answer.h"

#include <gtest/gtest.h>

namespace ponder {
namespace {

struct NumberCase {
  const char* text;
  const char* canonical;  // nullptr: not a number
};

TEST(NormalizeNumber, Table) {
  const NumberCase cases[] = {
      // Integers, signs, whitespace.
      {"42", "42"},
      {"  42\n", "42"},
      {"+42", "42"},
      {"-42", "-42"},
      {"\xe2\x88\x92"
       "42",
       "-42"},  // U+2212 minus
      {"007", "7"},
      {"0", "0"},
      {"-0", "0"},
      {"+0.0", "0"},
      // Thousands separators, grouped correctly only.
      {"1,234", "1234"},
      {"1,234,567", "1234567"},
      {"-12,000.50", "-12000.5"},
      {"1,23", nullptr},
      {"12,3456", nullptr},
      {",123", nullptr},
      {"1,,234", nullptr},
      {"1234,", nullptr},
      // A leading zero group reads as a decimal comma (0,500 is 0.5 in much
      // of Europe; math-verify reads it so): not a number rather than 500.
      {"0,500", nullptr},
      {"-0,500", nullptr},
      {"01,234", nullptr},
      {"0,000", nullptr},
      // Dollars and percent.
      {"$18", "18"},
      {"$1,000", "1000"},
      {"-$5", "-5"},
      {"$-5", "-5"},
      {"$ 5", nullptr},
      {"50%", "50"},
      {"12.5%", "12.5"},
      // Decimals: trailing zeros and trailing '.' go.
      {"3.0", "3"},
      {"3.", "3"},
      {"3.50", "3.5"},
      {".5", "0.5"},
      {"0.75", "0.75"},
      {"-0.050", "-0.05"},
      {"123456789012345678901234567890", "123456789012345678901234567890"},
      // Fractions: reduced, decimal when exact.
      {"3/4", "0.75"},
      {"-6/8", "-0.75"},
      {"4/2", "2"},
      {"2/6", "1/3"},
      {"-10/4", "-2.5"},
      {"0/5", "0"},
      {"1/0", nullptr},
      {"1.5/2", nullptr},
      {"1/-2", nullptr},
      {"1/2/3", nullptr},
      {"1/1024", "0.0009765625"},
      // Not one number.
      {"", nullptr},
      {"   ", nullptr},
      {"-", nullptr},
      {"$", nullptr},
      {".", nullptr},
      {"%", nullptr},
      {"5 apples", nullptr},
      {"3 4", nullptr},
      {"3-4", nullptr},
      {"--5", nullptr},
      {"1e3", nullptr},
      {"1.2.3", nullptr},
      {"three", nullptr},
      {"x = 5", nullptr},
      {"0x10", nullptr},
      {"42!", nullptr},
  };
  for (const NumberCase& c : cases) {
    const std::optional<std::string> got = normalize_number(c.text);
    if (c.canonical) {
      EXPECT_EQ(got, std::optional<std::string>(c.canonical)) << "input: `" << c.text << "`";
    } else {
      EXPECT_EQ(got, std::nullopt) << "input: `" << c.text << "` gave " << got.value_or("");
    }
  }
}

TEST(NormalizeNumber, EqualValuesGiveEqualForms) {
  EXPECT_EQ(normalize_number("0.75"), normalize_number("3/4"));
  EXPECT_EQ(normalize_number("$1,200.00"), normalize_number("1200"));
  EXPECT_NE(normalize_number("0.333"), normalize_number("1/3"));
}

struct ResponseCase {
  const char* response;
  const char* answer;  // nullptr: malformed, no answer
};

TEST(ExtractFinalAnswer, Table) {
  const ResponseCase cases[] = {
      {"<|answer|>3<|/answer|>", "3"},
      {"<|answer|>3<|/answer|><|end|>", "3"},
      {"<|answer|>  3 \n<|/answer|>\n<|end|>\n", "3"},
      {"<|think|>s t r a w<|/think|><|answer|>3<|/answer|><|end|>", "3"},
      {"Some prose first. <|answer|>Drusk<|/answer|><|end|>", "Drusk"},
      {"<|tool_call|>python\nprint(6*7)<|/tool_call|><|tool_result|>42<|/tool_result|>"
       "<|answer|>42<|/answer|><|end|>",
       "42"},
      // An answer inside thinking is a thought; the one outside counts.
      {"<|think|>maybe <|answer|>4<|/answer|>? no<|/think|><|answer|>3<|/answer|><|end|>", "3"},
      // Answer only inside the thinking span.
      {"<|think|><|answer|>3<|/answer|><|/think|>", nullptr},
      {"<|think|>unclosed <|answer|>3<|/answer|><|end|>", nullptr},
      // None, or several.
      {"3", nullptr},
      {"The answer is 3.<|end|>", nullptr},
      {"<|answer|>3<|/answer|><|answer|>3<|/answer|>", nullptr},
      {"<|answer|>3<|/answer|><|answer|>4<|/answer|><|end|>", nullptr},
      // Unbalanced or out of order.
      {"<|answer|>3", nullptr},
      {"3<|/answer|>", nullptr},
      {"<|/answer|>3<|answer|>", nullptr},
      {"<|answer|>3<|answer|>4<|/answer|>", nullptr},
      // Special tokens inside, empty span.
      {"<|answer|>3<|end|><|/answer|>", nullptr},
      {"<|answer|><|think|>3<|/think|><|/answer|>", nullptr},
      {"<|answer|>  <|/answer|>", nullptr},
      // After the span: whitespace and one <|end|> only.
      {"<|answer|>3<|/answer|> and more", nullptr},
      {"<|answer|>3<|/answer|><|end|>more", nullptr},
      {"<|answer|>3<|/answer|><|end|><|end|>", nullptr},
      {"<|answer|>3<|/answer|><|think|>hmm<|/think|>", nullptr},
      // Text that merely looks like a token is text.
      {"<|answer|>a <|b|> c<|/answer|>", "a <|b|> c"},
  };
  for (const ResponseCase& c : cases) {
    const std::optional<std::string> got = extract_final_answer(c.response);
    if (c.answer) {
      EXPECT_EQ(got, std::optional<std::string>(c.answer)) << "response: " << c.response;
    } else {
      EXPECT_EQ(got, std::nullopt) << "response: " << c.response << " gave " << got.value_or("");
    }
  }
}

TEST(NormalizeText, Table) {
  EXPECT_EQ(normalize_text("Drusk"), "drusk");
  EXPECT_EQ(normalize_text("  The  Oskel. "), "oskel");
  EXPECT_EQ(normalize_text("\"olive   oil\""), "olive oil");
  EXPECT_EQ(normalize_text("'Gold'"), "gold");
  EXPECT_EQ(normalize_text("theodor"), "theodor");  // "the" only as a word
  EXPECT_NE(normalize_text("Druskk"), normalize_text("Drusk"));
}

}  // namespace
}  // namespace ponder
