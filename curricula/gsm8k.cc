#include "curricula/gsm8k.h"

#include <algorithm>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "curricula/answer.h"
#include "policy/error.h"

namespace ponder {
namespace {

bool is_expression_char(char c) {
  return (c >= '0' && c <= '9') || c == '.' || c == '+' || c == '-' || c == '*' || c == '/' ||
         c == '(' || c == ')' || c == ' ';
}

// Long values are cut so that the message stays one readable line.
std::string excerpt(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 60)) out += c == '\n' ? ' ' : c;
  return text.size() > 60 ? out + "…" : out;
}

std::string string_field(const nlohmann::json& row, const char* name, const std::string& where) {
  const auto it = row.find(name);
  if (it == row.end() || !it->is_string()) {
    throw Error(fmt::format("{}: expected a string field `{}`", where, name));
  }
  return it->get<std::string>();
}

int difficulty_of(std::string_view reasoning) {
  int lines = 0;
  size_t pos = 0;
  while (pos < reasoning.size()) {
    size_t end = reasoning.find('\n', pos);
    if (end == std::string_view::npos) end = reasoning.size();
    if (reasoning.substr(pos, end - pos).find_first_not_of(" \t\r") != std::string_view::npos) {
      ++lines;
    }
    pos = end + 1;
  }
  return std::clamp(lines - 1, 1, kGsm8kMaxDifficulty);
}

}  // namespace

std::vector<Gsm8kAnnotation> parse_gsm8k_annotations(const std::string& solution,
                                                     const std::string& where) {
  std::vector<Gsm8kAnnotation> annotations;
  for (size_t open = solution.find("<<"); open != std::string::npos;
       open = solution.find("<<", open)) {
    const size_t close = solution.find(">>", open + 2);
    if (close == std::string::npos) {
      throw Error(fmt::format("{}: annotation `{}` has no closing `>>`", where,
                              excerpt(std::string_view(solution).substr(open))));
    }
    const std::string inside = solution.substr(open + 2, close - open - 2);
    const size_t eq = inside.find('=');
    Gsm8kAnnotation a;
    if (eq != std::string::npos) {
      a.expr = inside.substr(0, eq);
      a.result = inside.substr(eq + 1);
    }
    const bool expr_ok = !a.expr.empty() && a.expr.find_first_not_of(' ') != std::string::npos &&
                         std::all_of(a.expr.begin(), a.expr.end(), is_expression_char);
    if (eq == std::string::npos || !expr_ok || !normalize_number(a.result)) {
      throw Error(fmt::format("{}: annotation `<<{}>>` is not <<expression=number>>", where,
                              excerpt(inside)));
    }
    annotations.push_back(std::move(a));
    open = close + 2;
  }
  return annotations;
}

std::vector<Gsm8kProblem> load_gsm8k(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in || std::filesystem::is_directory(file)) {
    throw Error(fmt::format("GSM8K file `{}` not found or unreadable", file.string()));
  }
  std::vector<Gsm8kProblem> problems;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string where = fmt::format("{}:{}", file.string(), number);
    const nlohmann::json row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!row.is_object()) {
      throw Error(fmt::format("{}: expected a JSON object {{\"question\", \"answer\"}}", where));
    }
    Gsm8kProblem p;
    p.question = string_field(row, "question", where);
    p.solution = string_field(row, "answer", where);
    const size_t mark = p.solution.find("####");
    if (mark == std::string::npos || p.solution.find("####", mark + 4) != std::string::npos) {
      throw Error(fmt::format("{}: answer must hold exactly one `#### <number>` line", where));
    }
    const std::string final_text = p.solution.substr(mark + 4);
    const std::optional<std::string> answer = normalize_number(final_text);
    if (!answer) {
      throw Error(fmt::format("{}: the text after `####`, `{}`, is not one number", where,
                              excerpt(final_text.substr(std::min(final_text.find_first_not_of(' '),
                                                                 final_text.size())))));
    }
    p.answer = *answer;
    p.annotations = parse_gsm8k_annotations(p.solution.substr(0, mark), where);
    p.difficulty = difficulty_of(std::string_view(p.solution).substr(0, mark));
    problems.push_back(std::move(p));
  }
  if (problems.empty()) throw Error(fmt::format("GSM8K file `{}` has no lines", file.string()));
  return problems;
}

}  // namespace ponder
