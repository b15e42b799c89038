// The one place where a model's response becomes a final answer, and where
// answers become comparable. tests/curricula/test_answer.cc holds the table
// of cases.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ponder {

// The final answer of an assistant response: the text inside its one answer
// span <|answer|>…<|/answer|>, trimmed of whitespace.
//
// `response_text` is the assistant's turn as text with special tokens spelled
// out (policy/special_tokens.h), e.g. "<|think|>…<|/think|><|answer|>3<|/answer|><|end|>".
// Precondition: special-token spellings in it are special tokens. Ordinary
// text cannot produce special ids, but a caller that turns ids into text must
// keep text that merely spells a token from reading as one.
//
// Returns nullopt (no answer; a malformed response) unless all hold:
//  - outside thinking spans there is exactly one <|answer|> and exactly one
//    <|/answer|>, in that order. A thinking span runs from <|think|> to the
//    next <|/think|>, or to the end of the text when unclosed; answer spans
//    inside it are thoughts, not answers, and are ignored;
//  - the span holds no special token, and text other than whitespace;
//  - after <|/answer|> there is nothing but whitespace and at most one <|end|>.
std::optional<std::string> extract_final_answer(std::string_view response_text);

// The canonical form of a number written in `text`, or nullopt when `text`
// is not exactly one number. Accepted, around surrounding whitespace:
//  - a sign '+', '-' or U+2212 '−', then optionally '$' (or '$' then a sign);
//  - digits, optionally in comma groups of three ("1,234,567"; "1,23" is not
//    a number) whose first group has no leading zero ("0,500" is not a
//    number: where the comma is the decimal mark it is 0.5, not 500);
//    optionally a '.' and more digits (".5", "3.", "3.50");
//  - or a fraction of two plain integers "3/4", "-6/8" (denominator not 0);
//  - optionally a trailing '%', dropped: "50%" is 50 (GSM8K answers percentage
//    questions with the bare number), not 0.5.
// Canonical form: exact value; "-" only for a value below zero; no leading
// zeros, no trailing fractional zeros, no '.' for integers ("3.0" -> "3",
// "0.50" -> "0.5", "-0" -> "0"); a fraction reduces, and becomes a decimal
// when that is exact ("3/4" -> "0.75", "4/2" -> "2") or stays "p/q" when not
// ("2/6" -> "1/3"). So equal canonical forms mean equal values. Rejected:
// words or units ("5 apples"), several numbers ("3 4", "3-4"), exponents
// ("1e3"), fractions with more than 18 digits a side.
std::optional<std::string> normalize_number(std::string_view text);

// A name answer made comparable: trimmed, lower-case ASCII, inner whitespace
// runs as one space, surrounding quotes (' " `) and one trailing '.' removed,
// and a leading "the " dropped ("The Oskel." -> "oskel").
std::string normalize_text(std::string_view text);

}  // namespace ponder
