// Pretraining end to end on a tiny model: resume equals an unbroken run bit
// for bit, and bad inputs (shards, lengths, checkpoints) are clear errors.
#include "app/pretrain.h"

#include <cmath>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "app/config.h"
#include "app/stages.h"
#include "policy/checkpoint.h"
#include "policy/error.h"
#include "tests/test_util.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;

// A run folder with a tokenizer and shards of GSM8K test, and a tiny model.
class Pretrain : public ::testing::Test {
 protected:
  Config config(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> overrides = {
        "run.out_dir=\"" + dir_.path().string() + "\"",
        "run.name=t",
        "run.threads=1",
        "tokenizer.inputs=[\"data/gsm8k/test.jsonl\"]",
        "tokenizer.vocab_size=400",
        "data.inputs=[\"data/gsm8k/test.jsonl\"]",
        "model.hidden_size=32",
        "model.intermediate_size=64",
        "model.num_hidden_layers=2",
        "model.num_attention_heads=4",
        "model.num_key_value_heads=2",
        "model.max_position_embeddings=64",
        "pretrain.steps=6",
        "pretrain.batch_size=2",
        "pretrain.seq_len=32",
        "pretrain.eval_every=3",
        "pretrain.eval_batches=2",
        "pretrain.checkpoint_every=100",
        "pretrain.log_every=1",
        "optim.warmup_steps=2",
    };
    overrides.insert(overrides.end(), extra.begin(), extra.end());
    return Config::load("", overrides);
  }
  std::filesystem::path folder() const { return dir_ / "t"; }
  void prepare() { run_stages(config({"run.stages=[\"tokenizer\", \"shards\"]"})); }
  // The train-loss lines of metrics.jsonl.
  std::vector<std::string> train_lines() const {
    std::ifstream in(folder() / "metrics.jsonl");
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
      if (line.find("\"train\"") == std::string::npos) continue;
      // tokens_per_s differs from run to run; everything before it must not.
      lines.push_back(line.substr(0, line.find("\"tokens_per_s\"")));
    }
    return lines;
  }

  testing::TempDir dir_;
};

TEST_F(Pretrain, LowersTheLossAndWritesCheckpointsAndMetrics) {
  prepare();
  const TrainingSummary summary = run_pretrain(
      config({"pretrain.steps=60", "optim.lr=0.01", "pretrain.eval_every=60"}), folder());
  EXPECT_EQ(summary.step, 60);
  std::ifstream metrics(folder() / "metrics.jsonl");
  std::string first_line;
  std::getline(metrics, first_line);
  const double first_loss = nlohmann::json::parse(first_line).at("loss").get<double>();
  EXPECT_NEAR(first_loss, std::log(400.0), 0.3);  // a fresh model is near uniform
  EXPECT_LT(summary.last_train_loss, first_loss - 0.7);
  EXPECT_LT(summary.last_val_loss, first_loss - 0.7);
  EXPECT_TRUE(std::filesystem::exists(folder() / "checkpoints/step_00000060/model.safetensors"));
  EXPECT_EQ(train_lines().size(), 60u);
}

TEST_F(Pretrain, ResumeEqualsAnUnbrokenRunBitForBit) {
  prepare();
  run_pretrain(config(), folder());
  const std::vector<std::string> unbroken = train_lines();
  const Checkpoint whole = load_checkpoint(folder() / "checkpoints/step_00000006");

  std::filesystem::remove_all(folder() / "checkpoints");
  std::filesystem::remove(folder() / "metrics.jsonl");
  EXPECT_EQ(run_pretrain(config(), folder(), 3).step, 3);
  EXPECT_EQ(run_pretrain(config(), folder()).step, 6);
  EXPECT_EQ(train_lines(), unbroken);
  const Checkpoint resumed = load_checkpoint(folder() / "checkpoints/step_00000006");
  EXPECT_EQ(resumed.params, whole.params);
  EXPECT_EQ(resumed.adam_m, whole.adam_m);
  EXPECT_EQ(resumed.adam_v, whole.adam_v);
  EXPECT_EQ(resumed.state, whole.state);
}

TEST_F(Pretrain, ACheckpointOfAnotherModelIsAClearError) {
  prepare();
  run_pretrain(config(), folder(), 2);
  try {
    run_pretrain(config({"model.hidden_size=64"}), folder());
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("hidden_size = 32 in the checkpoint, 64 in the run"));
  }
}

TEST_F(Pretrain, SequencesLongerThanThePositionLimitAreRejected) {
  prepare();
  try {
    run_pretrain(config({"pretrain.seq_len=65"}), folder());
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("pretrain.seq_len = 65 exceeds model.max_position_embeddings"));
  }
}

TEST_F(Pretrain, CorruptShardsAreClearErrors) {
  prepare();
  const auto shard = folder() / "shards/val_00000.bin";
  std::string bytes = testing::read_file(shard);
  bytes[0] = 'X';
  testing::write_file(shard, bytes);
  try {
    run_pretrain(config(), folder());
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("val_00000.bin` is not a ponder token shard"));
  }
}

TEST_F(Pretrain, KeptOutputsMustMatchTheirSettings) {
  prepare();
  prepare();  // same settings: tokenizer and shards are kept
  try {
    run_stages(config({"run.stages=[\"tokenizer\"]", "tokenizer.vocab_size=500"}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("was made with other settings (tokenizer: `vocab_size = 400` "
                                    "there, `vocab_size = 500` now)"));
  }
  try {
    run_stages(config({"run.stages=[\"tokenizer\", \"shards\"]", "data.val_every=7"}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("`val_every = 20` there, `val_every = 7` now"));
  }
  std::filesystem::remove(folder() / "tokenizer/inputs.toml");
  try {
    run_stages(config({"run.stages=[\"tokenizer\"]"}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("has no record of the settings it was made with"));
  }
}

TEST_F(Pretrain, MissingInputsSayWhichStageToRun) {
  try {
    run_pretrain(config(), folder());
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("run the `tokenizer` stage first"));
  }
}

TEST_F(Pretrain, NonFiniteLossesStopTheRunAfterTheLimit) {
  prepare();
  run_pretrain(config(), folder(), 1);
  // Poison the checkpoint's weights: every later loss is NaN.
  const auto dir = folder() / "checkpoints/step_00000001";
  Checkpoint ckpt = load_checkpoint(dir);
  for (float& p : ckpt.params) p = std::nanf("");
  save_checkpoint(dir, ckpt, Tokenizer::load(folder() / "tokenizer"));
  try {
    run_pretrain(config({"pretrain.max_bad_steps=2"}), folder());
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("2 steps in a row had a non-finite loss"));
  }
}

}  // namespace
}  // namespace ponder
