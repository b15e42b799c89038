// Demonstrations: each family's demo has the behaviour it should teach, tool
// outputs come from the runner (never invented), and the chat renders.
#include "curricula/demonstrations.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "curricula/generator.h"
#include "policy/error.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;
using Kind = ChatPart::Kind;

// Records every call and answers with a marker naming it.
struct RecordingRunner {
  std::vector<std::pair<std::string, std::string>> calls;
  ToolRunner runner() {
    return [this](std::string_view tool, std::string_view input) {
      calls.emplace_back(tool, input);
      return fmt::format("<{} output {}>", tool, calls.size());
    };
  }
};

const TaskGenerator& generator() {
  static const TaskGenerator g{TaskSources{}};
  return g;
}

DemoOptions no_direct() {
  DemoOptions options;
  options.direct_fraction = 0;
  return options;
}

std::vector<Kind> kinds(const ChatTurn& turn) {
  std::vector<Kind> out;
  for (const auto& part : turn.parts) out.push_back(part.kind);
  return out;
}

TEST(Demonstrations, CountSpellsOneLetterPerLineWithARunningCount) {
  Task task;
  task.id = "count/test/1";
  task.family = Family::kCount;
  task.answer = "3";
  task.metadata = {{"kind", "letter"}, {"word", "strawberry"}, {"letter", "r"}};
  RecordingRunner tools;
  DemoOptions options = no_direct();
  options.verify_fraction = 0;
  const ChatTurn demo = demonstration(task, tools.runner(), options);
  ASSERT_EQ(kinds(demo), (std::vector<Kind>{Kind::kThinking, Kind::kAnswer}));
  EXPECT_EQ(
      demo.parts[0].text,
      "The r's in strawberry:\ns r 0\nt r 0\nr r 1\na r 1\nw r 1\nb r 1\ne r 1\nr r 2\nr r 3\ny r "
      "3\n'r' "
      "appears 3 times in strawberry.");
  EXPECT_EQ(demo.parts[1].text, "3");
  EXPECT_TRUE(tools.calls.empty());

  options.verify_fraction = 1;
  const ChatTurn verified = demonstration(task, tools.runner(), options);
  ASSERT_EQ(tools.calls.size(), 1u);
  EXPECT_EQ(tools.calls[0],
            (std::pair<std::string, std::string>{"python", "'strawberry'.count('r')"}));
  EXPECT_EQ(kinds(verified), (std::vector<Kind>{Kind::kThinking, Kind::kToolCall, Kind::kToolResult,
                                                Kind::kAnswer}));
  EXPECT_EQ(verified.parts[2].text, "<python output 1>");
}

TEST(Demonstrations, CountListsWithOnePythonCallThatCopiesTheList) {
  Task task;
  task.id = "count/test/2";
  task.family = Family::kCount;
  task.answer = "2";
  task.metadata = {{"kind", "items"}, {"items", {"keen", "toms", "keen"}}, {"item", "keen"}};
  RecordingRunner tools;
  const ChatTurn occurrences = demonstration(task, tools.runner(), no_direct());
  EXPECT_EQ(kinds(occurrences), (std::vector<Kind>{Kind::kThinking, Kind::kToolCall,
                                                   Kind::kToolResult, Kind::kAnswer}));
  EXPECT_EQ(occurrences.parts[0].text, "Python can count the \"keen\" entries.");
  EXPECT_EQ(occurrences.parts[1].text, "\"keen, toms, keen\".split(\", \").count(\"keen\")");
  EXPECT_EQ(occurrences.parts[3].text, "2");

  task.answer = "3";
  task.metadata = {{"kind", "list_length"}, {"items", {"keen", "toms", "keen"}}};
  const ChatTurn length = demonstration(task, tools.runner(), no_direct());
  EXPECT_EQ(length.parts[0].text, "Python can count the items.");
  EXPECT_EQ(length.parts[1].text, "len(\"keen, toms, keen\".split(\", \"))");
  EXPECT_EQ(length.parts[3].text, "3");
  ASSERT_EQ(tools.calls.size(), 2u);
  EXPECT_EQ(tools.calls[1].first, "python");
}

TEST(Demonstrations, Gsm8kTurnsEachAnnotationIntoACalculatorCall) {
  const Task task = generator().generate(Family::kGsm8k, Split::kTrain, 0, 8, 0);
  RecordingRunner tools;
  const ChatTurn demo = demonstration(task, tools.runner(), no_direct());
  const auto& annotations = task.metadata.at("annotations");
  ASSERT_EQ(tools.calls.size(), annotations.size());
  for (size_t i = 0; i < annotations.size(); ++i) {
    EXPECT_EQ(tools.calls[i].second, annotations[i].at("expr").get<std::string>());
  }
  EXPECT_EQ(demo.parts.back().kind, Kind::kAnswer);
  EXPECT_EQ(demo.parts.back().text, task.answer);
  for (const auto& part : demo.parts) EXPECT_EQ(part.text.find("####"), std::string::npos);
}

TEST(Demonstrations, EveryFamilyRendersWithItsAnswerLast) {
  const Tokenizer tokenizer({}, gpt4_style_pattern(1));
  for (Family family : kFamilies) {
    for (uint64_t i = 0; i < 20; ++i) {
      const Task task = generator().generate(family, Split::kTrain, i, 2, 7);
      RecordingRunner tools;
      const auto chat = demonstration_chat(task, tools.runner(), no_direct());
      ASSERT_EQ(chat.size(), 2u);
      EXPECT_EQ(chat[1].parts.back().kind, Kind::kAnswer) << task.id;
      EXPECT_EQ(chat[1].parts.back().text, task.answer) << task.id;
      const RenderedChat rendered = render_chat(tokenizer, chat);
      EXPECT_EQ(rendered.ids.size(), rendered.mask.size());
      if (family == Family::kLookup) {
        EXPECT_FALSE(tools.calls.empty()) << task.id;
      }
    }
  }
}

TEST(Demonstrations, ADirectFractionOfOneAnswersWithoutThinkingOrTools) {
  DemoOptions options;
  options.direct_fraction = 1;
  for (Family family : kFamilies) {
    const Task task = generator().generate(family, Split::kTrain, 3, 1, 7);
    RecordingRunner tools;
    const ChatTurn demo = demonstration(task, tools.runner(), options);
    EXPECT_EQ(kinds(demo), (std::vector<Kind>{Kind::kAnswer})) << task.id;
    EXPECT_TRUE(tools.calls.empty());
  }
}

TEST(Demonstrations, AreDeterministic) {
  const Task task = generator().generate(Family::kArith, Split::kTrain, 5, 3, 1);
  RecordingRunner a, b;
  const ChatTurn first = demonstration(task, a.runner(), DemoOptions{});
  const ChatTurn second = demonstration(task, b.runner(), DemoOptions{});
  ASSERT_EQ(first.parts.size(), second.parts.size());
  for (size_t i = 0; i < first.parts.size(); ++i)
    EXPECT_EQ(first.parts[i].text, second.parts[i].text);
}

TEST(Demonstrations, MissingMetadataIsAClearError) {
  Task task;
  task.id = "count/x/1";
  task.family = Family::kCount;
  task.metadata = {{"kind", "letter"}};
  RecordingRunner tools;
  try {
    demonstration(task, tools.runner(), no_direct());
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("task count/x/1: metadata lacks `word`"));
  }
}

}  // namespace
}  // namespace ponder
