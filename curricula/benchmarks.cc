#include "curricula/benchmarks.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "curricula/answer.h"
#include "policy/error.h"

namespace ponder {
namespace {

size_t capped(size_t size, size_t limit) {
  return limit == 0 ? size : std::min(size, limit);
}

bool is_blank(const std::string& line) {
  return std::all_of(line.begin(), line.end(), [](unsigned char c) { return std::isspace(c); });
}

// The task of one line of a user file; `where` is "file:line".
Task user_task(const nlohmann::json& line, const std::string& name, int number,
               const std::string& where) {
  if (!line.is_object()) throw Error(fmt::format("{}: expected a JSON object", where));
  const auto question = line.find("question");
  if (question == line.end() || !question->is_string()) {
    throw Error(fmt::format("{}: missing \"question\" (a string)", where));
  }
  const auto answer = line.find("answer");
  if (answer == line.end() || !(answer->is_string() || answer->is_number())) {
    throw Error(fmt::format("{}: missing \"answer\" (a string or a number)", where));
  }
  Task task;
  task.id = fmt::format("{}/{}", name, number);
  task.split = Split::kEval;
  task.family = Family::kGsm8k;
  task.prompt = question->get<std::string>();
  const std::string text = answer->is_string() ? answer->get<std::string>() : answer->dump();
  const std::optional<std::string> number_answer = normalize_number(text);
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) throw Error(fmt::format("{}: \"answer\" is empty", where));
  task.answer = number_answer ? *number_answer
                              : text.substr(begin, text.find_last_not_of(" \t\r\n") - begin + 1);
  if (const auto family = line.find("family"); family != line.end()) {
    if (!family->is_string()) throw Error(fmt::format("{}: \"family\" is not a string", where));
    try {
      task.family = parse_family(family->get<std::string>());
    } catch (const Error& e) {
      throw Error(fmt::format("{}: {}", where, e.what()));
    }
  }
  if (const auto difficulty = line.find("difficulty"); difficulty != line.end()) {
    if (!difficulty->is_number_integer() || difficulty->get<int64_t>() < 1 ||
        difficulty->get<int64_t>() > 1000) {
      throw Error(fmt::format("{}: \"difficulty\" is not an integer from 1 to 1000", where));
    }
    task.difficulty = difficulty->get<int>();
  }
  if (task.family == Family::kCountdown) {
    const auto numbers = line.find("numbers");
    const auto target = line.find("target");
    const bool ok = numbers != line.end() && numbers->is_array() && !numbers->empty() &&
                    std::all_of(numbers->begin(), numbers->end(),
                                [](const auto& n) { return n.is_number_integer(); }) &&
                    target != line.end() && target->is_number_integer();
    if (!ok) {
      throw Error(fmt::format(
          "{}: a countdown problem needs \"numbers\" (integers) and \"target\" (an integer)",
          where));
    }
    task.metadata = {{"numbers", *numbers}, {"target", *target}};
  }
  return task;
}

}  // namespace

const std::vector<std::string>& builtin_benchmark_names() {
  static const std::vector<std::string> names = {"gsm8k",    "arith",  "count",
                                                 "wordprob", "lookup", "countdown"};
  return names;
}

Benchmark builtin_benchmark(const TaskGenerator& generator, std::string_view name, size_t limit) {
  const auto& names = builtin_benchmark_names();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    throw Error(fmt::format("unknown benchmark `{}`; expected one of {} or a file ending in .jsonl",
                            name, fmt::join(names, ", ")));
  }
  const Family family = parse_family(name);
  Benchmark benchmark{std::string(name), {}};
  if (family == Family::kGsm8k) {
    const size_t n = capped(generator.gsm8k(Split::kEval).size(), limit);
    for (size_t i = 0; i < n; ++i) {
      benchmark.tasks.push_back(
          generator.generate(family, Split::kEval, i, kGsm8kMaxDifficulty, kSuiteSeed));
    }
    return benchmark;
  }
  const int levels = max_difficulty(family);
  const size_t n = capped(static_cast<size_t>(levels) * kSuitePerDifficulty, limit);
  for (size_t j = 0; j < n; ++j) {
    const int difficulty = 1 + static_cast<int>(j % levels);
    benchmark.tasks.push_back(generator.generate(
        family, Split::kEval, kSuiteFirstIndex + j / levels, difficulty, kSuiteSeed));
  }
  return benchmark;
}

Benchmark load_benchmark_file(const std::filesystem::path& file, size_t limit) {
  std::ifstream in(file, std::ios::binary);
  if (!in || std::filesystem::is_directory(file)) {
    throw Error(fmt::format("benchmark file `{}` not found or unreadable", file.string()));
  }
  Benchmark benchmark{file.stem().string(), {}};
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (limit > 0 && benchmark.tasks.size() >= limit) break;
    if (is_blank(line)) continue;
    const std::string where = fmt::format("{}:{}", file.string(), number);
    const nlohmann::json json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded()) throw Error(fmt::format("{}: not valid JSON", where));
    benchmark.tasks.push_back(user_task(json, benchmark.name, number, where));
  }
  if (benchmark.tasks.empty()) {
    throw Error(fmt::format("benchmark file `{}` holds no problem (one JSON object a line)",
                            file.string()));
  }
  return benchmark;
}

std::vector<Benchmark> load_benchmarks(const TaskGenerator& generator,
                                       const std::vector<std::string>& names, size_t limit) {
  std::vector<Benchmark> benchmarks;
  std::set<std::string> seen;
  for (const std::string& name : names) {
    benchmarks.push_back(name.ends_with(".jsonl") ? load_benchmark_file(name, limit)
                                                  : builtin_benchmark(generator, name, limit));
    if (!seen.insert(benchmarks.back().name).second) {
      throw Error(
          fmt::format("benchmark `{}` is named twice (`{}`)", benchmarks.back().name, name));
    }
  }
  return benchmarks;
}

std::string vote_key(const Task& task, std::string_view final_answer) {
  if (task.family == Family::kCountdown) {
    std::string expression(final_answer);
    std::erase_if(expression, [](unsigned char c) { return std::isspace(c); });
    return expression;
  }
  if (auto number = normalize_number(final_answer)) return *number;
  return normalize_text(final_answer);
}

}  // namespace ponder
