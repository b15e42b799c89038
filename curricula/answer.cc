#include "curricula/answer.h"

#include <cstdint>
#include <numeric>
#include <vector>

#include <fmt/format.h>

#include "policy/special_tokens.h"

namespace ponder {
namespace {

constexpr std::string_view kWhitespace = " \t\n\r\f\v";
constexpr std::string_view kUnicodeMinus = "\xe2\x88\x92";  // U+2212

std::string_view spelling(Special token) {
  return kSpecialTokens[static_cast<int>(token)];
}

std::string_view trim(std::string_view s) {
  const size_t begin = s.find_first_not_of(kWhitespace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kWhitespace) - begin + 1);
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool all_digits(std::string_view s) {
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return !s.empty();
}

// The special token spelled at `pos`, if any.
std::optional<Special> special_at(std::string_view text, size_t pos) {
  for (int i = 0; i < kNumSpecialTokens; ++i) {
    if (text.substr(pos).starts_with(kSpecialTokens[i])) return static_cast<Special>(i);
  }
  return std::nullopt;
}

struct SpecialMark {
  Special token;
  size_t begin, end;  // byte range of its spelling
};

// Digits of an integer part with optional comma groups ("1,234"), commas
// removed; nullopt when the grouping is wrong or the first group has a
// leading zero ("0,500").
std::optional<std::string> ungrouped(std::string_view s) {
  if (s.find(',') == std::string_view::npos) return std::string(s);
  std::string digits;
  size_t group_end = s.find(',');
  if (group_end == 0 || group_end > 3 || s.front() == '0' || !all_digits(s.substr(0, group_end))) {
    return std::nullopt;
  }
  digits += s.substr(0, group_end);
  for (size_t pos = group_end; pos < s.size(); pos += 4) {
    if (s[pos] != ',' || pos + 4 > s.size() || !all_digits(s.substr(pos + 1, 3))) {
      return std::nullopt;
    }
    digits += s.substr(pos + 1, 3);
  }
  return digits;
}

// "-0012.3400" style parts to canonical text.
std::string canonical_decimal(bool negative, std::string_view int_digits,
                              std::string_view frac_digits) {
  const size_t first = int_digits.find_first_not_of('0');
  int_digits = first == std::string_view::npos ? "" : int_digits.substr(first);
  const size_t last = frac_digits.find_last_not_of('0');
  frac_digits = last == std::string_view::npos ? "" : frac_digits.substr(0, last + 1);
  if (int_digits.empty() && frac_digits.empty()) return "0";
  std::string out = negative ? "-" : "";
  out += int_digits.empty() ? "0" : std::string(int_digits);
  if (!frac_digits.empty()) {
    out += '.';
    out += frac_digits;
  }
  return out;
}

std::optional<std::string> canonical_fraction(bool negative, std::string_view num_text,
                                              std::string_view den_text) {
  auto parse = [](std::string_view s) -> std::optional<uint64_t> {
    if (!all_digits(s)) return std::nullopt;
    const size_t first = s.find_first_not_of('0');
    s = first == std::string_view::npos ? "0" : s.substr(first);
    if (s.size() > 18) return std::nullopt;  // < 10^18: products below fit in 128 bits
    uint64_t v = 0;
    for (char c : s) v = v * 10 + static_cast<uint64_t>(c - '0');
    return v;
  };
  const std::optional<uint64_t> num = parse(num_text), den = parse(den_text);
  if (!num || !den || *den == 0) return std::nullopt;
  const uint64_t g = std::gcd(*num, *den);
  const uint64_t p = *num / g, q = *den / g;
  uint64_t rest = q;
  while (rest % 2 == 0) rest /= 2;
  while (rest % 5 == 0) rest /= 5;
  if (rest != 1) return fmt::format("{}{}/{}", negative ? "-" : "", p, q);
  // q = 2^a 5^b: long division ends after max(a, b) digits.
  std::string frac;
  unsigned __int128 remainder = p % q;
  while (remainder != 0) {
    remainder *= 10;
    frac += static_cast<char>('0' + static_cast<int>(remainder / q));
    remainder %= q;
  }
  return canonical_decimal(negative, std::to_string(p / q), frac);
}

// Consumes a leading sign; returns whether it was a minus.
bool consume_sign(std::string_view& s, bool& consumed) {
  if (s.starts_with('+') || s.starts_with('-')) {
    consumed = true;
    const bool minus = s.front() == '-';
    s.remove_prefix(1);
    return minus;
  }
  if (s.starts_with(kUnicodeMinus)) {
    consumed = true;
    s.remove_prefix(kUnicodeMinus.size());
    return true;
  }
  return false;
}

}  // namespace

std::optional<std::string> extract_final_answer(std::string_view response_text) {
  // Special tokens outside thinking spans, in order, and each span's start.
  std::vector<SpecialMark> outside;
  bool thinking = false;
  for (size_t pos = response_text.find("<|"); pos != std::string_view::npos;
       pos = response_text.find("<|", pos + 1)) {
    const std::optional<Special> token = special_at(response_text, pos);
    if (!token) continue;
    const size_t end = pos + spelling(*token).size();
    if (thinking) {
      if (*token == Special::kThinkEnd) thinking = false;
    } else {
      // A thinking span's start stays in the list: one inside an answer span
      // makes that span malformed.
      outside.push_back({*token, pos, end});
      if (*token == Special::kThinkStart) thinking = true;
    }
    pos = end - 1;
  }
  const SpecialMark* start = nullptr;
  int starts = 0, ends = 0;
  for (const SpecialMark& mark : outside) {
    if (mark.token == Special::kAnswerStart) {
      ++starts;
      start = &mark;
    }
    if (mark.token == Special::kAnswerEnd) ++ends;
  }
  if (starts != 1 || ends != 1) return std::nullopt;
  // The token after the start must be the end: nothing special inside the span.
  const SpecialMark* stop = start + 1;
  if (stop == outside.data() + outside.size() || stop->token != Special::kAnswerEnd) {
    return std::nullopt;
  }
  std::string_view after = trim(response_text.substr(stop->end));
  if (after.starts_with(spelling(Special::kEnd))) {
    after = trim(after.substr(spelling(Special::kEnd).size()));
  }
  if (!after.empty()) return std::nullopt;
  const std::string_view answer = trim(response_text.substr(start->end, stop->begin - start->end));
  if (answer.empty()) return std::nullopt;
  return std::string(answer);
}

std::optional<std::string> normalize_number(std::string_view text) {
  std::string_view s = trim(text);
  bool signed_ = false;
  bool negative = consume_sign(s, signed_);
  if (s.starts_with('$')) {
    s.remove_prefix(1);
    if (!signed_) negative = consume_sign(s, signed_);
  }
  if (s.ends_with('%')) s.remove_suffix(1);
  if (s.empty()) return std::nullopt;

  if (const size_t slash = s.find('/'); slash != std::string_view::npos) {
    return canonical_fraction(negative, s.substr(0, slash), s.substr(slash + 1));
  }
  const size_t dot = s.find('.');
  const std::string_view int_part = s.substr(0, dot);
  const std::string_view frac_part =
      dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  if (int_part.empty() && frac_part.empty()) return std::nullopt;
  if (!frac_part.empty() && !all_digits(frac_part)) return std::nullopt;
  const std::optional<std::string> int_digits = ungrouped(int_part);
  if (!int_digits || (!int_digits->empty() && !all_digits(*int_digits))) return std::nullopt;
  return canonical_decimal(negative, *int_digits, frac_part);
}

std::string normalize_text(std::string_view text) {
  std::string_view s = trim(text);
  if (s.ends_with('.')) s = trim(s.substr(0, s.size() - 1));
  while (s.size() >= 2 && s.front() == s.back() &&
         (s.front() == '"' || s.front() == '\'' || s.front() == '`')) {
    s = trim(s.substr(1, s.size() - 2));
  }
  std::string out;
  for (char c : s) {
    if (kWhitespace.find(c) != std::string_view::npos) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
  }
  if (out.starts_with("the ")) out.erase(0, 4);
  return out;
}

}  // namespace ponder
