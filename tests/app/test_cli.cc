// The `ponder` binary end to end: exit codes, messages, and the files a run
// writes. Each test runs the real command in a temp folder.
#include <sys/wait.h>

#include <cstdio>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;

struct Result {
  int status;
  std::string output;  // stdout and stderr together
};

Result ponder(const std::string& args) {
  const std::string command = std::string(PONDER_BINARY) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  Result result{-1, ""};
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int raw = pclose(pipe);
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return result;
}

TEST(Cli, PrintsItsVersionAndHelp) {
  const Result version = ponder("--version");
  EXPECT_EQ(version.status, 0);
  EXPECT_THAT(version.output, HasSubstr("ponder 0."));
  for (const char* sub :
       {"train", "config show", "tokenizer train", "tokenizer encode", "data shard"}) {
    const Result help = ponder(std::string(sub) + " --help");
    EXPECT_EQ(help.status, 0) << sub;
    EXPECT_THAT(help.output, HasSubstr("Usage")) << sub;
  }
}

TEST(Cli, TrainsATokenizerAndRoundTripsThroughEncodeAndDecode) {
  testing::TempDir dir;
  const std::string out = (dir / "tok").string();
  const Result train =
      ponder("tokenizer train --input data/gsm8k/test.jsonl --vocab-size 600 --out " + out);
  ASSERT_EQ(train.status, 0) << train.output;
  EXPECT_THAT(train.output, HasSubstr("vocab 600"));

  testing::write_file(dir / "in.txt", "She sold 48 clips, <|end|> then 24 more.\n");
  const Result encoded =
      ponder("tokenizer encode --tokenizer " + out + " --file " + (dir / "in.txt").string());
  ASSERT_EQ(encoded.status, 0) << encoded.output;
  const Result decoded = ponder("tokenizer decode --tokenizer " + out + " " + encoded.output);
  ASSERT_EQ(decoded.status, 0) << decoded.output;
  EXPECT_EQ(decoded.output, testing::read_file(dir / "in.txt"));
}

TEST(Cli, TrainRunsTheConfiguredStagesIntoTheRunFolder) {
  testing::TempDir dir;
  const std::string config = (dir / "run.toml").string();
  testing::write_file(
      config, "[run]\nname = \"t\"\nout_dir = \"" + dir.path().string() +
                  "\"\n[tokenizer]\ninputs = [\"data/gsm8k/test.jsonl\"]\nvocab_size = 500\n");
  const Result run = ponder("train " + config + " --set tokenizer.sample=hello");
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("== stage tokenizer done"));
  EXPECT_THAT(testing::read_file(dir / "t/config.toml"), HasSubstr("sample = \"hello\""));
  EXPECT_TRUE(std::filesystem::exists(dir / "t/tokenizer/tokenizer.json"));
}

TEST(Cli, BadInputsExitNonZeroWithOneClearLine) {
  testing::TempDir dir;
  const Result missing = ponder("train " + (dir / "nope.toml").string());
  EXPECT_EQ(missing.status, 1);
  EXPECT_THAT(missing.output, HasSubstr("ponder: config file"));

  testing::write_file(dir / "typo.toml", "[tokenizer]\nvocab_sise = 10\n");
  const Result typo = ponder("config show " + (dir / "typo.toml").string());
  EXPECT_EQ(typo.status, 1);
  EXPECT_THAT(typo.output, HasSubstr("did you mean `tokenizer.vocab_size`?"));

  const Result bad_id = ponder("tokenizer decode --tokenizer " + (dir / "none").string() + " 1");
  EXPECT_EQ(bad_id.status, 1);
  EXPECT_THAT(bad_id.output, HasSubstr("tokenizer file"));

  const Result empty = ponder("tokenizer train --input " + (dir / "typo.toml").string() +
                              " --vocab-size 100 --out " + (dir / "t").string());
  EXPECT_EQ(empty.status, 1);
  EXPECT_THAT(empty.output, HasSubstr("vocab_size = 100 is out of range"));

  const Result unknown = ponder("frobnicate");
  EXPECT_NE(unknown.status, 0);
}

TEST(Cli, DecodeRejectsNonNumericIds) {
  testing::TempDir dir;
  ASSERT_EQ(ponder("tokenizer train --input data/gsm8k/test.jsonl --vocab-size 300 --out " +
                   (dir / "tok").string())
                .status,
            0);
  const Result bad = ponder("tokenizer decode --tokenizer " + (dir / "tok").string() + " 12 x7");
  EXPECT_EQ(bad.status, 1);
  EXPECT_THAT(bad.output, HasSubstr("token id `x7` is not a non-negative integer id"));
}

TEST(Cli, ShardsJsonlIntoTokenFiles) {
  testing::TempDir dir;
  const std::string tok = (dir / "tok").string();
  ASSERT_EQ(
      ponder("tokenizer train --input data/gsm8k/test.jsonl --vocab-size 400 --out " + tok).status,
      0);
  const Result shard =
      ponder("data shard --tokenizer " + tok + " --input data/gsm8k/test.jsonl --out " +
             (dir / "shards").string() + " --tokens-per-shard 100000");
  ASSERT_EQ(shard.status, 0) << shard.output;
  EXPECT_THAT(shard.output, HasSubstr("1319 documents"));
  EXPECT_TRUE(std::filesystem::exists(dir / "shards/shard_00000.bin"));
  EXPECT_TRUE(std::filesystem::exists(dir / "shards/shard_00001.bin"));
}

}  // namespace
}  // namespace ponder
