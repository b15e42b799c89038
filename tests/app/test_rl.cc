// The RL stage on a tiny model: tokenizer -> corpus -> pretrain -> SFT -> RL
// writes the expected rows, a resumed run equals an unbroken one, and the
// stage selection of `ponder train` (--from, --only) behaves.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include <fmt/format.h>

#include "app/eval.h"
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

  // A finished stage is kept, not re-run, when only reporting keys changed...
  run_stages(config({"rl.log_every=2", "rl.eval_prompts=5"}), {"rl", "rl", 0});
  EXPECT_EQ(load_checkpoint(folder() / "rl/checkpoints/step_00000004").params, unbroken.params);
  // ... and a changed setting is refused, naming it, rather than resumed or kept.
  try {
    run_stages(config({"rl.lr=2e-3"}), {"rl", "rl", 0});
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("rl: `lr = 0.001` there, `lr = 0.002` now"));
  }
  try {
    run_stages(config({"sft.lr=2e-3"}), {"rl", "rl", 0});
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("sft: `lr = 0.001` there, `lr = 0.002` now"));
  }
}

double step_metric(const StoreReader& reader, int64_t step, const std::string& key) {
  double value = NAN;
  reader.query(
      fmt::format("SELECT json_extract(metrics, '$.{}') FROM steps WHERE step = {}", key, step),
      [](const auto&) {},
      [&](const std::vector<SqlValue>& row) {
        if (const auto* d = std::get_if<double>(&row.at(0))) value = *d;
        if (const auto* i = std::get_if<int64_t>(&row.at(0))) value = *i;
      });
  return value;
}

// Dynamic sampling refills flat groups; several iterations and mini-batches
// and a KL term all go through the same loop.
TEST_F(RlPipeline, DynamicSamplingIterationsMinibatchesAndKl) {
  // A reward some groups vary on (lengths differ when a sample ends early), and
  // one no group varies on.
  const std::vector<std::string> informative = {"rl.steps=2",
                                                "rl.dynamic_sampling=true",
                                                "rl.max_refills=2",
                                                "rl.iterations=2",
                                                "rl.minibatches=2",
                                                "rl.kl_beta=0.1",
                                                "rl.rewards=[{name=\"length\", weight=0.01}]"};
  run_stages(config(informative));
  {
    const StoreReader reader = StoreReader::open(folder() / "rollouts.db");
    for (int64_t step : {1, 2}) {
      const double groups = step_metric(reader, step, "groups");
      const double trained = step_metric(reader, step, "groups_trained");
      // Rounds of 2 prompts until 2 groups with a spread are found, 3 rounds at most.
      EXPECT_TRUE(groups == 2 || groups == 4 || groups == 6) << step;
      EXPECT_TRUE(trained == 2 || (groups == 6 && trained < 2)) << step;
      EXPECT_EQ(count_rows(reader, fmt::format("SELECT COUNT(*) FROM rollouts WHERE step = {} "
                                               "AND split = 'train'",
                                               step)),
                groups * 3);
      if (trained > 0) {
        EXPECT_GT(step_metric(reader, step, "kl"), 0) << step;
      }
      EXPECT_GE(step_metric(reader, step, "clip_fraction"), 0) << step;
    }
  }
  std::filesystem::remove_all(folder() / "rl");
  std::filesystem::remove(folder() / "rollouts.db");
  std::vector<std::string> flat = informative;
  flat.back() = "rl.rewards=[{name=\"correct\", weight=0}]";  // always 0: every group flat
  run_stages(config(flat), {"rl", "rl", 0});
  const StoreReader reader = StoreReader::open(folder() / "rollouts.db");
  EXPECT_EQ(step_metric(reader, 1, "groups"), 6);  // the first round and two refills
  EXPECT_EQ(step_metric(reader, 1, "groups_trained"), 0);
  EXPECT_EQ(step_metric(reader, 1, "zero_variance_groups"), 1);
  EXPECT_EQ(count_rows(reader, "SELECT COUNT(*) FROM rollouts WHERE step = 1"), 18);
}

// [eval]'s benchmarks during RL (rows in the RL steps) and as the final
// `eval` stage (rows in the store's "eval" run), kept when nothing changed.
TEST_F(RlPipeline, BenchmarksDuringRlAndAFinalEvalStage) {
  const std::vector<std::string> extra = {
      "run.stages=[\"tokenizer\", \"corpus\", \"pretrain\", \"sft\", \"rl\", \"eval\"]",
      "rl.steps=2",
      "eval.every=1",
      "eval.limit=2",
      "eval.benchmarks=[\"count\", \"arith\"]",
      "rl.store_tokens=false"};
  run_stages(config(extra));
  ASSERT_TRUE(std::filesystem::exists(folder() / "eval/final/results.json"));
  const EvalReport report = read_eval_report(folder() / "eval/final/results.json");
  EXPECT_EQ(report.checkpoint, folder() / "rl/checkpoints/step_00000002");
  ASSERT_EQ(report.benchmarks.size(), 2u);
  EXPECT_EQ(report.benchmarks[0].name, "count");
  {
    const StoreReader reader = StoreReader::open(folder() / "rollouts.db");
    for (int64_t step : {1, 2}) {
      EXPECT_EQ(count_rows(reader, fmt::format("SELECT COUNT(*) FROM rollouts r JOIN runs u ON "
                                               "u.id = r.run_id WHERE u.name = 't' AND step = {} "
                                               "AND benchmark IN ('count', 'arith')",
                                               step)),
                4);
      EXPECT_FALSE(std::isnan(step_metric(reader, step, "eval/count/pass@1")));
    }
    // rl.store_tokens = false: no token ids or log-probs in the run's rows.
    EXPECT_EQ(count_rows(reader,
                         "SELECT COUNT(*) FROM rollouts r JOIN runs u ON u.id = "
                         "r.run_id WHERE u.name = 't' AND length(token_ids) > 0"),
              0);
    EXPECT_EQ(count_rows(reader,
                         "SELECT COUNT(*) FROM rollouts r JOIN runs u ON u.id = "
                         "r.run_id WHERE u.name = 'eval'"),
              4);
  }
  EXPECT_THAT(run_summary(config(extra), config(extra).get_strings("run.stages")),
              HasSubstr("benchmarks on"));
  // Nothing changed: the final eval is kept (no second "eval" step in the store).
  run_stages(config(extra), {"eval", "eval", 0});
  const StoreReader reader = StoreReader::open(folder() / "rollouts.db");
  EXPECT_EQ(count_rows(reader,
                       "SELECT COUNT(*) FROM rollouts r JOIN runs u ON u.id = "
                       "r.run_id WHERE u.name = 'eval'"),
            4);
}

TEST_F(RlPipeline, AMisspeltBenchmarkFailsBeforeAnyStageRuns) {
  try {
    run_stages(
        config({"run.stages=[\"tokenizer\", \"corpus\", \"eval\"]", "eval.benchmarks=[\"cout\"]"}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("eval.benchmarks: unknown benchmark `cout`"));
  }
  EXPECT_FALSE(std::filesystem::exists(folder() / "tokenizer"));
  try {
    run_stages(config({"eval.every=5", "eval.benchmarks=[\"missing.jsonl\"]"}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("missing.jsonl"));
  }
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
