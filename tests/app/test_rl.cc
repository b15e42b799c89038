// The RL stage on a tiny model: tokenizer -> corpus -> pretrain -> SFT -> RL
// writes the expected rows, a resumed run equals an unbroken one, and the
// stage selection of `ponder train` (--from, --only) behaves.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "app/rl.h"
#include "app/stages.h"
#include "policy/checkpoint.h"
#include "policy/error.h"
#include "rollout/store_reader.h"
#include "tests/app/pipeline_test_util.h"
#include "tests/test_util.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;

class RlPipeline : public ::testing::Test {
 protected:
  Config config(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> overrides = testing::tiny_pipeline_overrides(dir_.path());
    for (const char* key : {
             "run.stages=[\"tokenizer\", \"corpus\", \"pretrain\", \"sft\", \"rl\"]",
             "corpus.total_mb=0.2",
             "sft.steps=2",
             "rl.steps=4",
             "rl.prompts_per_step=2",
             "rl.group_size=3",
             "rl.max_new_tokens=12",
             "rl.tools=false",
             "rl.lr=1e-3",
             "rl.micro_batch=4",
             "rl.eval_prompts=3",
             "rl.eval_every=2",
             "rl.checkpoint_every=2",
             "rl.curriculum.window=2",
             "rl.curriculum.lower_at=0",
             "rl.curriculum.raise_at=0.5",
         }) {
      overrides.emplace_back(key);
    }
    overrides.insert(overrides.end(), extra.begin(), extra.end());
    return Config::load("", overrides);
  }
  std::filesystem::path folder() const { return dir_ / "t"; }
  testing::TempDir dir_;
};

int64_t count_rows(const StoreReader& reader, const std::string& sql) {
  int64_t n = -1;
  reader.query(
      sql, [](const auto&) {},
      [&](const std::vector<SqlValue>& row) { n = std::get<int64_t>(row.at(0)); });
  return n;
}

std::vector<std::string> completions(const std::filesystem::path& db) {
  std::vector<std::string> out;
  StoreReader::open(db).for_each(RolloutFilter{}, [&](const StoredRollout& r) {
    out.push_back(fmt::format("{} {} {} {} {}", r.record.step, r.record.split, r.record.completion,
                              r.record.reward, r.record.advantage));
  });
  return out;
}

TEST_F(RlPipeline, WritesTheExpectedRowsAndResumesExactly) {
  run_stages(config(), {"", "rl", 2});
  EXPECT_TRUE(std::filesystem::exists(folder() / "rl/checkpoints/step_00000002"));
  EXPECT_FALSE(std::filesystem::exists(folder() / "rl/summary.json"));
  run_stages(config(), {"rl", "", 0});  // --from rl: resumes at step 2
  const Checkpoint resumed = load_checkpoint(folder() / "rl/checkpoints/step_00000004");
  const auto resumed_rows = completions(folder() / "rollouts.db");

  {
    const StoreReader reader = StoreReader::open(folder() / "rollouts.db");
    // Steps 0 (the held-out set before RL) to 4; 2 prompts x 3 samples per step;
    // the held-out set (3 prompts) at steps 0, 2 and 4, and answered directly at step 0.
    EXPECT_EQ(count_rows(reader, "SELECT COUNT(*) FROM steps"), 5);
    EXPECT_EQ(count_rows(reader, "SELECT COUNT(*) FROM rollouts WHERE split = 'train'"), 24);
    EXPECT_EQ(count_rows(reader, "SELECT COUNT(*) FROM rollouts WHERE split = 'eval'"), 12);
    EXPECT_EQ(count_rows(reader, "SELECT COUNT(*) FROM evals WHERE benchmark = 'rl_heldout'"), 3);
    EXPECT_EQ(
        count_rows(reader, "SELECT COUNT(*) FROM evals WHERE benchmark = 'rl_heldout_direct'"), 1);
    const StoreSummary summary = reader.summary("t");
    ASSERT_EQ(summary.steps.size(), 4u);
    for (const auto& step : summary.steps) EXPECT_EQ(step.rollouts, 6);
  }
  const RlSummary summary = read_rl_summary(folder() / "rl/summary.json");
  EXPECT_EQ(summary.before.step, 0);
  EXPECT_EQ(summary.after.step, 4);
  EXPECT_EQ(summary.after.families.back().family, "all");
  EXPECT_EQ(summary.after.families.back().n, 3);
  EXPECT_THAT(format_rl_summary(summary), HasSubstr("held-out accuracy"));
  EXPECT_THAT(run_summary(config(), config().get_strings("run.stages")),
              HasSubstr("rl/checkpoints/step_00000004"));

  // The same four steps unbroken, in a fresh RL folder and database.
  std::filesystem::remove_all(folder() / "rl");
  std::filesystem::remove(folder() / "rollouts.db");
  run_stages(config(), {"rl", "rl", 0});  // --only rl
  const Checkpoint unbroken = load_checkpoint(folder() / "rl/checkpoints/step_00000004");
  EXPECT_EQ(resumed.params, unbroken.params);
  EXPECT_EQ(resumed.state.extra.at("curriculum"), unbroken.state.extra.at("curriculum"));
  EXPECT_EQ(resumed_rows, completions(folder() / "rollouts.db"));

  // A finished stage is kept, not re-run.
  run_rl(config(), folder());
  EXPECT_EQ(load_checkpoint(folder() / "rl/checkpoints/step_00000004").params, unbroken.params);
}

TEST_F(RlPipeline, StageSelectionErrorsNameTheStages) {
  try {
    run_stages(config({"run.stages=[\"tokenizer\", \"corpus\"]"}), {"rl", "", 0});
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("has no `rl` stage"));
  }
  try {
    run_stages(config(), {"sft", "pretrain", 0});
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("stage `pretrain` comes before `sft`"));
  }
}

TEST_F(RlPipeline, NeedsAnSftCheckpoint) {
  try {
    run_rl(config(), folder());
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("no SFT checkpoint"));
  }
}

}  // namespace
}  // namespace ponder
