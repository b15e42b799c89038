#include "policy/bpe_trainer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/error.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;

TEST(BpeTrainer, FirstMergeIsTheMostFrequentPair) {
  BpeTrainer trainer(gpt4_style_pattern(1));
  trainer.add_text("hug hug hug pug pun bun hugs");
  const Tokenizer t = trainer.train(kMinVocabSize + 1);
  ASSERT_EQ(t.num_merges(), 1);
  // "ug" occurs in hug x4, pug, hugs: 6 times; more than any other pair.
  EXPECT_EQ(t.merges()[0], (std::pair<TokenId, TokenId>{'u', 'g'}));
}

TEST(BpeTrainer, CountsOverlappingPairsOnce) {
  // "aaaa": pairs (a,a) x3, but merging leaves [aa, aa]; then (aa, aa).
  BpeTrainer trainer(gpt4_style_pattern(1));
  trainer.add_text("aaaa");
  const Tokenizer t = trainer.train(kMinVocabSize + 5);
  ASSERT_EQ(t.num_merges(), 2);
  EXPECT_EQ(t.merges()[0], (std::pair<TokenId, TokenId>{'a', 'a'}));
  EXPECT_EQ(t.merges()[1], (std::pair<TokenId, TokenId>{256, 256}));
  EXPECT_TRUE(trainer.stats().exhausted);
  EXPECT_EQ(t.encode("aaaa"), (std::vector<TokenId>{257}));
}

TEST(BpeTrainer, IsDeterministicWhateverTheOrderOfText) {
  const std::vector<std::string> parts = {"the cat sat on the mat. ", "a dog; the dog ran 42 m. ",
                                          "mat, cat, hat, that ", "thermal thatch "};
  BpeTrainer forward(gpt4_style_pattern(1)), backward(gpt4_style_pattern(1));
  for (const auto& p : parts) forward.add_text(p);
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) backward.add_text(*it);
  EXPECT_EQ(forward.train(kMinVocabSize + 20).merges(),
            backward.train(kMinVocabSize + 20).merges());
}

TEST(BpeTrainer, StopsWhenTextRunsOutOfPairs) {
  BpeTrainer trainer(gpt4_style_pattern(1));
  trainer.add_text("ab");
  const Tokenizer t = trainer.train(4096);
  EXPECT_EQ(t.num_merges(), 1);
  EXPECT_TRUE(trainer.stats().exhausted);
  EXPECT_EQ(t.vocab_size(), kMinVocabSize + 1);
}

TEST(BpeTrainer, NeverMergesAcrossPieces) {
  BpeTrainer trainer(gpt4_style_pattern(1));
  trainer.add_text("12 12 12 12");  // digits are single pieces: nothing to merge inside them
  const Tokenizer t = trainer.train(kMinVocabSize + 10);
  for (const auto& [a, b] : t.merges()) {
    EXPECT_FALSE(std::isdigit(a) && std::isdigit(b));
  }
}

TEST(BpeTrainer, VocabSmallerThanBytesPlusSpecialsIsAnError) {
  BpeTrainer trainer(gpt4_style_pattern(1));
  trainer.add_text("some text");
  try {
    trainer.train(kMinVocabSize - 1);
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("vocab_size = 269 is out of range; expected 270..65536"));
  }
  EXPECT_THROW(trainer.train(kMaxVocabSize + 1), Error);
}

TEST(BpeTrainer, EmptyInputIsAnError) {
  BpeTrainer trainer(gpt4_style_pattern(1));
  trainer.add_text("");
  try {
    trainer.train(1000);
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("training text is empty"));
  }
}

}  // namespace
}  // namespace ponder
