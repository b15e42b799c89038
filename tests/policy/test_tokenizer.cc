#include "policy/tokenizer.h"

#include <algorithm>
#include <random>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "curricula/documents.h"
#include "policy/bpe_trainer.h"
#include "policy/error.h"
#include "tests/test_util.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;

// One tokenizer trained on real text (the first ~400 kB of GSM8K), shared by the suite.
const Tokenizer& gsm8k_tokenizer() {
  static const Tokenizer tokenizer = [] {
    BpeTrainer trainer(gpt4_style_pattern(1));
    for_each_document(
        "data/gsm8k/train.jsonl", {}, [&](std::string_view text) { trainer.add_text(text); },
        400'000);
    return trainer.train(1024);
  }();
  return tokenizer;
}

// An independent reference for BPE encoding: the textbook loop, quadratic and
// obviously correct. Merge the lowest-rank adjacent pair (leftmost on ties)
// until no pair has a rank.
std::vector<TokenId> reference_encode_piece(
    std::string_view piece, const std::vector<std::pair<TokenId, TokenId>>& merges) {
  std::vector<TokenId> s;
  for (unsigned char c : piece) s.push_back(c);
  while (true) {
    size_t best_at = SIZE_MAX;
    size_t best_rank = SIZE_MAX;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      for (size_t r = 0; r < merges.size() && r < best_rank; ++r) {
        if (merges[r].first == s[i] && merges[r].second == s[i + 1]) {
          best_rank = r;
          best_at = i;
          break;
        }
      }
    }
    if (best_at == SIZE_MAX) return s;
    s[best_at] = 256 + static_cast<TokenId>(best_rank);
    s.erase(s.begin() + static_cast<std::ptrdiff_t>(best_at) + 1);
  }
}

std::string random_bytes(std::mt19937& rng) {
  static const std::vector<std::string> fragments = {
      "<|user|>", "<|end|>", "<|bos|>",  "  ",           "\n\n", "\t",   "123456",
      "héllo",    "日本語",  "😀",        "'s",           "'LL",  " the", "$1,234.50",
      "\xff",     "\xc3",    "\xe2\x82", "\xed\xa0\x80", "\r\n"};
  std::string s;
  const int parts = std::uniform_int_distribution<int>(0, 12)(rng);
  for (int p = 0; p < parts; ++p) {
    switch (std::uniform_int_distribution<int>(0, 3)(rng)) {
      case 0:  // raw bytes, any value
        for (int k = std::uniform_int_distribution<int>(1, 8)(rng); k > 0; --k) {
          s.push_back(static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng)));
        }
        break;
      case 1:  // printable ASCII
        for (int k = std::uniform_int_distribution<int>(1, 12)(rng); k > 0; --k) {
          s.push_back(static_cast<char>(std::uniform_int_distribution<int>(32, 126)(rng)));
        }
        break;
      default:
        s += fragments[std::uniform_int_distribution<size_t>(0, fragments.size() - 1)(rng)];
    }
  }
  return s;
}

TEST(Tokenizer, RoundTripsTenThousandRandomByteStrings) {
  const Tokenizer& t = gsm8k_tokenizer();
  std::mt19937 rng(7);
  for (int i = 0; i < 10'000; ++i) {
    const std::string text = random_bytes(rng);
    const std::vector<TokenId> ids = t.encode(text);
    ASSERT_EQ(t.decode(ids), text) << "case " << i;
    for (TokenId id : ids) ASSERT_FALSE(t.is_special(id)) << "case " << i;
  }
}

TEST(Tokenizer, MatchesTheReferenceBpeOnEveryPiece) {
  const Tokenizer& t = gsm8k_tokenizer();
  const Pretokenizer split(t.pattern());
  std::mt19937 rng(11);
  std::vector<std::string> texts = {
      "Natalia sold 48/2 = 24 clips in May.", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "                                         x", "altogether altogether, how many? $1,000,000"};
  for (int i = 0; i < 2000; ++i) texts.push_back(random_bytes(rng));
  for (const auto& text : texts) {
    std::vector<TokenId> expected;
    split.split(text, [&](std::string_view piece) {
      const auto ids = reference_encode_piece(piece, t.merges());
      expected.insert(expected.end(), ids.begin(), ids.end());
    });
    ASSERT_EQ(t.encode(text), expected) << text;
  }
}

TEST(Tokenizer, LearnsWordsFromRealText) {
  const Tokenizer& t = gsm8k_tokenizer();
  EXPECT_EQ(t.vocab_size(), 1024);
  EXPECT_EQ(t.num_merges(), 1024 - kMinVocabSize);
  // Frequent words of GSM8K become single tokens; text compresses well.
  EXPECT_EQ(t.encode(" many").size(), 1u);
  const std::string text = "How many clips did Natalia sell altogether in April and May?";
  EXPECT_LT(t.encode(text).size(), text.size() / 2);
}

TEST(Tokenizer, SplitsNumbersIntoSingleDigitsByDefault) {
  const Tokenizer& t = gsm8k_tokenizer();
  const auto ids = t.encode("12345");
  ASSERT_EQ(ids.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(ids[i], '1' + i);
}

TEST(Tokenizer, DigitGroupingIsAConfigChoice) {
  const Pretokenizer grouped(gpt4_style_pattern(3));
  std::vector<std::string> pieces;
  grouped.split("x 1234567", [&](std::string_view p) { pieces.emplace_back(p); });
  EXPECT_EQ(pieces, (std::vector<std::string>{"x", " ", "123", "456", "7"}));
  EXPECT_THROW(gpt4_style_pattern(0), Error);
  EXPECT_THROW(gpt4_style_pattern(4), Error);
}

TEST(Tokenizer, SpecialTokenSpellingsInTextStayText) {
  const Tokenizer& t = gsm8k_tokenizer();
  for (const auto spelling : kSpecialTokens) {
    const std::string text = "before " + std::string(spelling) + " after" + std::string(spelling);
    const auto ids = t.encode(text);
    for (TokenId id : ids) EXPECT_FALSE(t.is_special(id)) << spelling;
    EXPECT_EQ(t.decode(ids), text);
  }
}

TEST(Tokenizer, SpecialIdsAreTheLastIdsAndDecodeToTheirSpelling) {
  const Tokenizer& t = gsm8k_tokenizer();
  EXPECT_EQ(t.special_id(Special::kBos), t.vocab_size() - kNumSpecialTokens);
  EXPECT_EQ(t.special_id(Special::kSystem), t.vocab_size() - 1);
  const std::vector<TokenId> ids = {t.special_id(Special::kUser), 'h', 'i',
                                    t.special_id(Special::kEnd)};
  EXPECT_EQ(t.decode(ids), "<|user|>hi<|end|>");
}

TEST(Tokenizer, DecodeRejectsIdsOutsideTheVocabulary) {
  const Tokenizer& t = gsm8k_tokenizer();
  const std::vector<TokenId> bad = {5, t.vocab_size()};
  try {
    t.decode(bad);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("token id 1024 is out of range; expected 0..1023"));
  }
  EXPECT_THROW(t.decode(std::vector<TokenId>{-1}), Error);
}

TEST(Tokenizer, HandlesHugeAdversarialPiecesQuickly) {
  const Tokenizer& t = gsm8k_tokenizer();
  for (const auto& text : {std::string(200'000, 'a'), std::string(200'000, ' ') + "x",
                           std::string(100'000, '\xff'), std::string(50'000, '9')}) {
    const auto ids = t.encode(text);
    ASSERT_EQ(t.decode(ids), text);
  }
}

TEST(Tokenizer, SaveAndLoadGiveTheSameTokenizer) {
  const Tokenizer& t = gsm8k_tokenizer();
  testing::TempDir dir;
  t.save(dir.path());
  const Tokenizer loaded = Tokenizer::load(dir.path());
  EXPECT_EQ(loaded.vocab_size(), t.vocab_size());
  EXPECT_EQ(loaded.pattern(), t.pattern());
  EXPECT_EQ(loaded.merges(), t.merges());
  const std::string text = "Weng earns $12 an hour. 50 minutes -> $10!";
  EXPECT_EQ(loaded.encode(text), t.encode(text));
  EXPECT_EQ(Tokenizer::load(dir / "tokenizer.json").vocab_size(), t.vocab_size());
}

TEST(Tokenizer, EncodesConcurrentlyWithTheSameResult) {
  const Tokenizer& t = gsm8k_tokenizer();
  std::mt19937 rng(3);
  std::vector<std::string> texts;
  for (int i = 0; i < 500; ++i) texts.push_back(random_bytes(rng));
  std::vector<std::vector<TokenId>> expected;
  for (const auto& text : texts) expected.push_back(t.encode(text));
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&] {
      for (size_t i = 0; i < texts.size(); ++i) {
        if (t.encode(texts[i]) != expected[i]) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(Tokenizer, RejectsMergesThatReferToUndefinedIds) {
  EXPECT_THROW(Tokenizer({{'a', 300}}, gpt4_style_pattern(1)), Error);
  EXPECT_THROW(Tokenizer({{-1, 'a'}}, gpt4_style_pattern(1)), Error);
}

TEST(Pretokenizer, PiecesCoverTheTextExactly) {
  const Pretokenizer split(gpt4_style_pattern(1));
  std::mt19937 rng(5);
  for (int i = 0; i < 2000; ++i) {
    const std::string text = random_bytes(rng);
    std::string joined;
    split.split(text, [&](std::string_view p) {
      EXPECT_FALSE(p.empty());
      joined += p;
    });
    ASSERT_EQ(joined, text);
  }
}

TEST(Pretokenizer, BadPatternIsAClearError) {
  try {
    Pretokenizer bad("(unclosed");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("pre-tokenization pattern `(unclosed` does not compile"));
  }
}

}  // namespace
}  // namespace ponder
