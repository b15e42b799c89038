#include "curricula/words.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "curricula/generator.h"
#include "policy/error.h"
#include "tests/test_util.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;

std::string load_error(const std::filesystem::path& file) {
  try {
    WordList::load(file);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(WordList, KeepsLowerCaseAlphabeticWordsSplitByHash) {
  testing::TempDir dir;
  std::string text = "Apple\nzebra's\ncafé\n\nbanana\r\nbanana\n";
  for (int i = 0; i < 40; ++i) {
    text +=
        fmt::format("word{}{}\n", static_cast<char>('a' + i % 26), std::string(i / 26 + 1, 'x'));
  }
  testing::write_file(dir / "words", text);
  const WordList list = WordList::load(dir / "words");
  std::vector<std::string> all = list.words(Split::kTrain);
  all.insert(all.end(), list.words(Split::kEval).begin(), list.words(Split::kEval).end());
  EXPECT_EQ(all.size(), 41u);  // banana once, the 40 generated words; the rest dropped
  for (const std::string& w : list.words(Split::kEval)) EXPECT_TRUE(key_in_split(w, Split::kEval));
  for (const std::string& w : list.words(Split::kTrain))
    EXPECT_TRUE(key_in_split(w, Split::kTrain));
}

TEST(WordList, EmptyOrMissingListsAreClearErrors) {
  testing::TempDir dir;
  testing::write_file(dir / "empty", "");
  EXPECT_THAT(load_error(dir / "empty"),
              HasSubstr("empty` has 0 lower-case alphabetic words (0 train, 0 eval)"));
  testing::write_file(dir / "capitals", "Apple\nBANANA\nit's\n");
  EXPECT_THAT(load_error(dir / "capitals"), HasSubstr("has 0 lower-case alphabetic words"));
  EXPECT_THAT(load_error(dir / "missing"), HasSubstr("missing` not found or unreadable"));
  EXPECT_THAT(load_error(dir.path()), HasSubstr("not found or unreadable"));

  // Through the generator: the count family fails on first use, naming the file.
  TaskSources sources;
  sources.words_file = dir / "empty";
  const TaskGenerator generator(sources);
  EXPECT_NO_THROW(generator.generate(Family::kArith, Split::kTrain, 0, 1, 0));
  try {
    generator.generate(Family::kCount, Split::kTrain, 0, 1, 0);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("words file `" + (dir / "empty").string() + "` has 0"));
  }
}

TEST(WordList, TinyListsStillGenerate) {
  testing::TempDir dir;
  std::string text;
  for (int i = 0; i < 200; ++i) text += fmt::format("w{}\n", i);  // digits: dropped
  text += "cat\ndog\nemu\nfox\ngnu\nhen\nowl\nrat\nyak\nant\nbee\ncow\n";
  testing::write_file(dir / "words", text);
  TaskSources sources;
  sources.words_file = dir / "words";
  const TaskGenerator generator(sources);
  for (uint64_t i = 0; i < 50; ++i) {
    const Task t = generator.generate(Family::kCount, Split::kTrain, i, 1, 0);
    EXPECT_TRUE(check(t, t.answer));
  }
}

}  // namespace
}  // namespace ponder
