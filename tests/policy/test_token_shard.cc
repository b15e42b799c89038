#include "policy/token_shard.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/error.h"
#include "tests/test_util.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;

std::string error_of(const std::filesystem::path& path) {
  try {
    read_token_shard(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(TokenShard, RoundTripsUint16AndUint32Ids) {
  testing::TempDir dir;
  const std::vector<TokenId> small = {0, 1, 4095, 65535, 7};
  write_token_shard(dir / "a.bin", small, 65536);
  EXPECT_EQ(read_token_shard(dir / "a.bin"), small);
  EXPECT_EQ(std::filesystem::file_size(dir / "a.bin"), 24u + 2 * small.size());
  const std::vector<TokenId> large = {0, 70000, 99999};
  write_token_shard(dir / "b.bin", large, 100000);
  EXPECT_EQ(read_token_shard(dir / "b.bin"), large);
  write_token_shard(dir / "empty.bin", {}, 300);
  EXPECT_TRUE(read_token_shard(dir / "empty.bin").empty());
}

TEST(TokenShard, RejectsIdsOutsideTheVocabulary) {
  testing::TempDir dir;
  const std::vector<TokenId> ids = {1, 300};
  try {
    write_token_shard(dir / "a.bin", ids, 300);
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("token id 300 is outside the vocabulary of 300"));
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "a.bin"));
}

TEST(TokenShard, BadFilesAreClearErrors) {
  testing::TempDir dir;
  const std::vector<TokenId> ids = {1, 2, 3, 4};
  write_token_shard(dir / "good.bin", ids, 1000);
  const std::string good = testing::read_file(dir / "good.bin");

  EXPECT_THAT(error_of(dir / "missing.bin"), HasSubstr("not found"));

  testing::write_file(dir / "short.bin", good.substr(0, 10));
  EXPECT_THAT(error_of(dir / "short.bin"), HasSubstr("shorter than the 24-byte header"));

  std::string magic = good;
  magic[0] = 'X';
  testing::write_file(dir / "magic.bin", magic);
  EXPECT_THAT(error_of(dir / "magic.bin"), HasSubstr("not a ponder token shard"));

  std::string version = good;
  version[8] = 9;
  testing::write_file(dir / "version.bin", version);
  EXPECT_THAT(error_of(dir / "version.bin"), HasSubstr("format version 9; expected 1"));

  std::string width = good;
  width[12] = 3;
  testing::write_file(dir / "width.bin", width);
  EXPECT_THAT(error_of(dir / "width.bin"), HasSubstr("3-byte ids; expected 2 or 4"));

  testing::write_file(dir / "cut.bin", good.substr(0, good.size() - 1));
  EXPECT_THAT(error_of(dir / "cut.bin"), HasSubstr("header says 4 ids (8 bytes), file holds 7"));

  std::string huge = good;
  huge[23] = 0x7f;  // count near 2^63: must not overflow into a "valid" size
  testing::write_file(dir / "huge.bin", huge);
  EXPECT_THAT(error_of(dir / "huge.bin"), HasSubstr("truncated or corrupt"));
}

}  // namespace
}  // namespace ponder
