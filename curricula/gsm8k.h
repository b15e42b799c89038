// GSM8K (Cobbe et al., 2021; data/gsm8k/, MIT): grade-school math word
// problems with worked solutions.
//
// A line of train.jsonl / test.jsonl is {"question": ..., "answer": ...}. The
// answer is the solution: lines of reasoning in which each calculation is
// annotated <<expression=result>> (e.g. "48/2 = <<48/2=24>>24 clips"), then a
// last line "#### <number>" holding the final answer.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace ponder {

struct Gsm8kAnnotation {
  std::string expr;    // e.g. "48/2": digits, '.', + - * / ( ) and spaces
  std::string result;  // as written, e.g. "24", ".25"; normalize_number accepts it
};

struct Gsm8kProblem {
  std::string question;
  std::string solution;  // the raw "answer" text, annotations and #### line kept
  std::string answer;    // normalize_number of the text after "####"
  std::vector<Gsm8kAnnotation> annotations;  // in order of appearance
  int difficulty = 1;  // reasoning lines before "####", minus one, clamped to [1, 8]
};

// The highest GSM8K difficulty.
inline constexpr int kGsm8kMaxDifficulty = 8;

// Every line of `file` in order (0-based row i is line i + 1). Throws
// ponder::Error, naming file:line, for: a missing or unreadable file; a blank
// line or a line that is not a JSON object; a missing or non-string
// "question" or "answer"; an answer without exactly one "####" or whose text
// after it is not one number; an annotation without its closing ">>", or
// whose inside is not <expression>=<number>. A file with no lines is an
// error too.
std::vector<Gsm8kProblem> load_gsm8k(const std::filesystem::path& file);

// The annotations of one solution. `where` (e.g. "data/gsm8k/train.jsonl:12")
// prefixes error messages; errors are as for load_gsm8k.
std::vector<Gsm8kAnnotation> parse_gsm8k_annotations(const std::string& solution,
                                                     const std::string& where);

}  // namespace ponder
