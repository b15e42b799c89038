// Bad tokenizer.json files: each is a clear error naming the file and what was
// expected, never a crash or a tokenizer that encodes differently.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "policy/error.h"
#include "policy/tokenizer.h"
#include "tests/test_util.h"

namespace ponder {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

class TokenizerFile : public ::testing::Test {
 protected:
  TokenizerFile() {
    // 256 bytes + 3 merges: "ab", "abc", "  ".
    const Tokenizer t({{'a', 'b'}, {256, 'c'}, {' ', ' '}}, gpt4_style_pattern(1));
    good_ = nlohmann::json::parse(t.to_hf_json());
  }

  // Writes `doc` (or raw text) and returns the error message of loading it.
  std::string load_error(const std::string& contents) {
    const auto path = dir_ / "tokenizer.json";
    testing::write_file(path, contents);
    try {
      Tokenizer::load(path);
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr(path.string()));
      return e.what();
    }
    ADD_FAILURE() << "loading succeeded";
    return "";
  }
  std::string load_error(const nlohmann::json& doc) { return load_error(doc.dump()); }
  std::string load_error(const char* contents) { return load_error(std::string(contents)); }

  testing::TempDir dir_;
  nlohmann::json good_;
};

TEST_F(TokenizerFile, GoodFileLoads) {
  testing::write_file(dir_ / "tokenizer.json", good_.dump());
  const Tokenizer t = Tokenizer::load(dir_.path());
  EXPECT_EQ(t.vocab_size(), 256 + 3 + kNumSpecialTokens);
  EXPECT_EQ(t.encode("abc"), (std::vector<TokenId>{257}));
}

TEST_F(TokenizerFile, MissingFile) {
  try {
    Tokenizer::load(dir_ / "nope");
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("tokenizer file"));
    EXPECT_THAT(e.what(), HasSubstr("not found"));
  }
}

TEST_F(TokenizerFile, NotJson) {
  EXPECT_THAT(load_error("this is not json"), HasSubstr("not valid JSON"));
}

TEST_F(TokenizerFile, Truncated) {
  const std::string text = good_.dump();
  EXPECT_THAT(load_error(text.substr(0, text.size() / 2)),
              AllOf(HasSubstr("not valid JSON"), HasSubstr("truncated")));
}

TEST_F(TokenizerFile, WrongVersion) {
  good_["version"] = "2.0";
  EXPECT_THAT(load_error(good_), HasSubstr("version \"2.0\" is not supported; expected \"1.0\""));
}

TEST_F(TokenizerFile, VersionOfWrongType) {
  good_["version"] = 1;
  EXPECT_THAT(load_error(good_), HasSubstr("`version` is number"));
}

TEST_F(TokenizerFile, OtherModelType) {
  good_["model"]["type"] = "WordPiece";
  EXPECT_THAT(load_error(good_), HasSubstr("model type \"WordPiece\" is not supported"));
}

TEST_F(TokenizerFile, MissingMerges) {
  good_["model"].erase("merges");
  EXPECT_THAT(load_error(good_), HasSubstr("missing `merges`"));
}

TEST_F(TokenizerFile, MergeOfUnknownTokens) {
  good_["model"]["merges"][0] = "x y";
  EXPECT_THAT(load_error(good_), HasSubstr("merge 0 (x + y) names a token missing"));
}

TEST_F(TokenizerFile, MergeOutOfOrder) {
  std::swap(good_["model"]["merges"][0], good_["model"]["merges"][2]);
  EXPECT_THAT(load_error(good_), HasSubstr("expected 256 (merge r makes id 256 + r)"));
}

TEST_F(TokenizerFile, MalformedMerge) {
  good_["model"]["merges"][0] = 17;
  EXPECT_THAT(load_error(good_), HasSubstr("merge 0 is 17; expected"));
}

TEST_F(TokenizerFile, ByteTokenMissing) {
  good_["model"]["vocab"].erase("a");
  EXPECT_THAT(load_error(good_), HasSubstr("byte 97 must be token id 97"));
}

TEST_F(TokenizerFile, SpecialTokenChanged) {
  good_["added_tokens"][3]["content"] = "<|eot|>";
  EXPECT_THAT(load_error(good_), HasSubstr("expected <|end|>"));
}

TEST_F(TokenizerFile, SpecialTokenMissing) {
  good_["added_tokens"].erase(good_["added_tokens"].size() - 1);
  EXPECT_THAT(load_error(good_), HasSubstr("expected the 14 special tokens"));
}

TEST_F(TokenizerFile, ForeignPreTokenizer) {
  good_["pre_tokenizer"] = {{"type", "Whitespace"}};
  EXPECT_THAT(load_error(good_), HasSubstr("missing `pretokenizers`"));
}

TEST_F(TokenizerFile, BadRegex) {
  good_["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(";
  EXPECT_THAT(load_error(good_), HasSubstr("does not compile"));
}

}  // namespace
}  // namespace ponder
