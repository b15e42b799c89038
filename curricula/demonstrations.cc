#include "curricula/demonstrations.h"

#include <regex>

#include <fmt/format.h>

#include "curricula/random.h"
#include "policy/error.h"

namespace ponder {
namespace {

using Kind = ChatPart::Kind;

// Builds an assistant turn part by part.
class Demo {
 public:
  explicit Demo(const ToolRunner& run_tool) : run_tool_(run_tool) {}

  void think(std::string text) { parts_.push_back({Kind::kThinking, std::move(text), ""}); }
  // Calls the real tool and shows its output; returns the output.
  std::string call(std::string_view tool, std::string input) {
    std::string output = run_tool_(tool, input);
    parts_.push_back({Kind::kToolCall, std::move(input), std::string(tool)});
    parts_.push_back({Kind::kToolResult, output, ""});
    return output;
  }
  ChatTurn answer(std::string text) {
    parts_.push_back({Kind::kAnswer, std::move(text), ""});
    return ChatTurn{ChatTurn::Role::kAssistant, std::move(parts_)};
  }

 private:
  const ToolRunner& run_tool_;
  std::vector<ChatPart> parts_;
};

const nlohmann::json& field(const Task& task, const char* key) {
  auto it = task.metadata.find(key);
  if (it == task.metadata.end()) {
    throw Error(
        fmt::format("task {}: metadata lacks `{}`, which its demonstration needs", task.id, key));
  }
  return *it;
}

// A number in [0, 1) fixed by the task and seed: which demos are direct, etc.
double coin(const Task& task, uint64_t seed, uint64_t salt) {
  return static_cast<double>(mix64(fnv1a64(task.id) ^ mix64(seed + salt)) >> 11) * 0x1.0p-53;
}

// One item per line with the running count: each letter starts a line, so it
// is a token of its own.
ChatTurn count_demo(const Task& task, Demo& demo, const DemoOptions& options) {
  const std::string kind = field(task, "kind").get<std::string>();
  std::string lines;
  if (kind == "letter" || kind == "length") {
    const std::string word = field(task, "word").get<std::string>();
    const char letter = kind == "letter" ? field(task, "letter").get<std::string>().at(0) : 0;
    // First restate what is counted, written as the prompt writes it (quoted
    // or not), so the restated word is the prompt's own tokens — copying, not
    // respelling — then spell it.
    const bool quoted = task.prompt.find("\"" + word + "\"") != std::string::npos;
    const std::string shown = quoted ? "\"" + word + "\"" : word;
    lines = kind == "letter" ? fmt::format("The {}'s in {}:\n", letter, shown)
                             : fmt::format("{} is spelled:\n", shown);
    // Counting one letter, each line also copies the letter being counted
    // beside the word's letter: the model then compares two neighbouring
    // tokens instead of reaching back to the first line for every letter.
    int count = 0;
    for (char c : word) {
      count += kind == "length" || c == letter;
      lines += kind == "letter" ? fmt::format("{} {} {}\n", c, letter, count)
                                : fmt::format("{} {}\n", c, count);
    }
    lines += kind == "letter" ? fmt::format("'{}' appears {} times in {}.", letter, count, word)
                              : fmt::format("{} has {} letters.", word, count);
    demo.think(std::move(lines));
    if (kind == "letter" && coin(task, options.seed, 2) < options.verify_fraction) {
      demo.call("python", fmt::format("'{}'.count('{}')", word, letter));
    }
  } else {
    // A list is counted by Python, not line by line: copying items one per
    // line makes a small model lose its place when items repeat (it loops on
    // the repeated item), while the call copies the list as the prompt wrote
    // it, token for token.
    const auto items = field(task, "items").get<std::vector<std::string>>();
    const std::string list = fmt::format("\"{}\".split(\", \")", fmt::join(items, ", "));
    if (kind == "items") {
      const std::string item = field(task, "item").get<std::string>();
      demo.think(fmt::format("Python can count the \"{}\" entries.", item));
      demo.call("python", fmt::format("{}.count(\"{}\")", list, item));
    } else {
      demo.think("Python can count the items.");
      demo.call("python", fmt::format("len({})", list));
    }
  }
  return demo.answer(task.answer);
}

// Products and sums of small numbers are known by heart; the rest is computed.
ChatTurn arith_demo(const Task& task, Demo& demo) {
  const std::string expression = field(task, "expression").get<std::string>();
  static const std::regex kSmallFact(R"(^\s*(\d|1[0-2])\s*[-+*]\s*(\d|1[0-2])\s*$)");
  if (std::regex_match(expression, kSmallFact)) {
    demo.think(fmt::format("{} = {}", expression, task.answer));
  } else {
    demo.think(fmt::format("I'll compute {} with the calculator.", expression));
    demo.call("python", expression);
  }
  return demo.answer(task.answer);
}

// Calculator steps: GSM8K annotations or a word problem's steps.
ChatTurn steps_demo(const Task& task, Demo& demo) {
  for (const auto& step : field(task, "steps")) {
    const std::string expr = step.at("expr").get<std::string>();
    demo.think(fmt::format("Compute {}.", expr));
    demo.call("python", expr);
  }
  return demo.answer(task.answer);
}

// The solution text with each <<expr=result>> turned into a calculator call;
// the final "#### answer" line becomes the answer span.
ChatTurn gsm8k_demo(const Task& task, Demo& demo) {
  std::string solution = field(task, "solution").get<std::string>();
  if (const size_t marker = solution.rfind("####"); marker != std::string::npos) {
    solution.resize(marker);
  }
  static const std::regex kAnnotation(R"(<<([^=<>]*)=([^<>]*)>>)");
  size_t pos = 0;
  for (std::sregex_iterator it(solution.begin(), solution.end(), kAnnotation), end; it != end;
       ++it) {
    const std::smatch& m = *it;
    const size_t start = static_cast<size_t>(m.position(0));
    demo.think(solution.substr(pos, start - pos));
    demo.call("python", m[1].str());
    pos = start + static_cast<size_t>(m.length(0));
  }
  std::string rest = solution.substr(pos);
  while (!rest.empty() && (rest.back() == '\n' || rest.back() == ' ')) rest.pop_back();
  if (!rest.empty()) demo.think(std::move(rest));
  return demo.answer(task.answer);
}

ChatTurn lookup_demo(const Task& task, Demo& demo) {
  const auto& facts = field(task, "facts");
  std::vector<std::string> values;
  for (const auto& fact : facts) {
    const std::string entity = fact.at("entity").get<std::string>();
    const std::string attribute = fact.at("attribute").get<std::string>();
    demo.think(fmt::format("I need the {} of {}.", attribute, entity));
    demo.call("search", fact.at("query").get<std::string>());
    values.push_back(fact.at("value").get<std::string>());
    demo.think(fmt::format("The {} of {} is {}.", attribute, entity, values.back()));
  }
  const std::string combine = task.metadata.value("combine", "single");
  if (values.size() == 2 && (combine == "difference" || combine == "sum")) {
    demo.call("python",
              fmt::format("{} {} {}", values[0], combine == "sum" ? '+' : '-', values[1]));
  }
  return demo.answer(task.answer);
}

// A failed first try, when there is an easy one, then the solution.
ChatTurn countdown_demo(const Task& task, Demo& demo) {
  const auto numbers = field(task, "numbers").get<std::vector<int64_t>>();
  const int64_t target = field(task, "target").get<int64_t>();
  std::string thinking = fmt::format("Reach {} from {}.\n", target, fmt::join(numbers, ", "));
  if (numbers.size() >= 2 && numbers[0] + numbers[1] != target) {
    thinking += fmt::format("{} + {} = {}, not {}.\n", numbers[0], numbers[1],
                            numbers[0] + numbers[1], target);
  }
  thinking += fmt::format("{} = {}.", field(task, "solution").get<std::string>(), target);
  demo.think(std::move(thinking));
  return demo.answer(task.answer);
}

}  // namespace

ChatTurn demonstration(const Task& task, const ToolRunner& run_tool, const DemoOptions& options) {
  Demo demo(run_tool);
  if (coin(task, options.seed, 1) < options.direct_fraction) return demo.answer(task.answer);
  switch (task.family) {
    case Family::kCount:
      return count_demo(task, demo, options);
    case Family::kArith:
      return arith_demo(task, demo);
    case Family::kWordprob:
      return steps_demo(task, demo);
    case Family::kGsm8k:
      return gsm8k_demo(task, demo);
    case Family::kLookup:
      return lookup_demo(task, demo);
    case Family::kCountdown:
      return countdown_demo(task, demo);
  }
  throw std::logic_error("demonstration: unknown family");
}

std::vector<ChatTurn> demonstration_chat(const Task& task, const ToolRunner& run_tool,
                                         const DemoOptions& options) {
  std::vector<ChatTurn> chat = user_turn(task.prompt);
  chat.push_back(demonstration(task, run_tool, options));
  return chat;
}

}  // namespace ponder
