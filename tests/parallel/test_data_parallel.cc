// Data-parallel runs end to end: `ponder` as separate processes, alone and
// under `scripts/mpirun -np 2`, with the same global batch and seed. Two
// ranks must give the single process's losses, rollouts and parameters
// within float tolerance (the ranks' gradients are summed in another order);
// a failing rank must end the job, not hang it; two ranks resume bit for bit;
// an unfinished stage must be resumed with the world size that wrote it (a
// finished one, like the SFT checkpoint the GRPO test starts from, may not).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/config.h"
#include "app/pretrain.h"
#include "app/stages.h"
#include "policy/checkpoint.h"
#include "policy/error.h"
#include "rollout/store_reader.h"
#include "tests/app/pipeline_test_util.h"
#include "tests/test_util.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;

// A command's exit status and what it printed (stdout and stderr together).
struct Outcome {
  int status = -1;
  std::string output;
};

// Runs `command` under bash, killed after `limit_s` seconds (status 124).
Outcome run(const std::string& command, const std::filesystem::path& log, int limit_s = 300) {
  const std::string line = fmt::format("timeout --kill-after=10 {} bash -c '{}' > '{}' 2>&1",
                                       limit_s, command, log.string());
  const int raw = std::system(line.c_str());
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, testing::read_file(log)};
}

std::string mpirun(int ranks) {
  return fmt::format("{}/scripts/mpirun -np {}", PONDER_SOURCE_DIR, ranks);
}

// Largest |a − b| over two parameter vectors of one model.
double max_difference(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]));
  }
  return worst;
}

std::vector<nlohmann::json> metrics_lines(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

class DataParallel : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef PONDER_WITH_MPI
    GTEST_SKIP() << "ponder was built without MPI (PONDER_MPI=OFF)";
#endif
    if (std::system("command -v mpirun > /dev/null 2>&1") != 0) {
      GTEST_SKIP() << "mpirun not found (apt-get install openmpi-bin)";
    }
  }

  // The resolved config as a file `ponder` reads; `out` is the run.out_dir.
  std::filesystem::path write_config(const Config& config, const std::string& name) const {
    const auto file = dir_ / (name + ".toml");
    testing::write_file(file, config.to_toml());
    return file;
  }

  std::string ponder(const std::filesystem::path& config, const std::string& stage,
                     const std::filesystem::path& out) const {
    return fmt::format("{} {} {} --set run.out_dir={}", PONDER_BINARY, stage, config.string(),
                       out.string());
  }

  // The tiny pipeline's model, 5 pretraining steps of an uneven global batch
  // (2 rows on rank 0, 3 on rank 1) in 2 micro-batches, into `dir_/one`.
  Config pretrain_config(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> overrides = testing::tiny_pipeline_overrides(dir_ / "one");
    for (const char* key : {
             "run.check_every=1",
             "run.stages=[\"tokenizer\", \"shards\", \"pretrain\"]",
             "data.inputs=[\"data/gsm8k/test.jsonl\"]",
             "pretrain.steps=5",
             "pretrain.batch_size=5",
             "pretrain.grad_accum=2",
             "pretrain.eval_every=5",
             "pretrain.eval_batches=2",
             "pretrain.log_every=1",
         }) {
      overrides.emplace_back(key);
    }
    overrides.insert(overrides.end(), extra.begin(), extra.end());
    return Config::load("", overrides);
  }

  // Runs the stages through `prepared` once into dir_/one, copies that run to
  // dir_/two, then runs `stage` from it in one process and on two ranks.
  void run_stage_on_one_and_two_ranks(const Config& config, const std::string& prepared,
                                      const std::string& stage) {
    run_stages(config, StageRange{"", prepared, 0});
    std::filesystem::create_directories(dir_ / "two");
    std::filesystem::copy(dir_ / "one/t", dir_ / "two/t", std::filesystem::copy_options::recursive);
    const auto file = write_config(config, stage);
    const Outcome one = run(ponder(file, stage, dir_ / "one"), dir_ / "one.log");
    ASSERT_EQ(one.status, 0) << one.output;
    const Outcome two = run(mpirun(2) + " " + ponder(file, stage, dir_ / "two"), dir_ / "two.log");
    ASSERT_EQ(two.status, 0) << two.output;
  }

  testing::TempDir dir_;
};

TEST_F(DataParallel, TwoRanksPretrainAsOneProcessDoes) {
  const auto config = write_config(pretrain_config(), "pretrain");
  const Outcome one = run(ponder(config, "pretrain", dir_ / "one"), dir_ / "one.log");
  ASSERT_EQ(one.status, 0) << one.output;
  const Outcome two =
      run(mpirun(2) + " " + ponder(config, "pretrain", dir_ / "two"), dir_ / "two.log");
  ASSERT_EQ(two.status, 0) << two.output;

  // Rank 0 alone wrote the metrics: 5 train lines and 1 held-out line.
  const auto a = metrics_lines(dir_ / "one/t/metrics.jsonl");
  const auto b = metrics_lines(dir_ / "two/t/metrics.jsonl");
  ASSERT_EQ(a.size(), 6u);
  ASSERT_EQ(b.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(b[i].at("step"), a[i].at("step"));
    EXPECT_NEAR(b[i].at("loss").get<double>(), a[i].at("loss").get<double>(), 1e-5) << i;
    if (a[i].contains("grad_norm")) {
      EXPECT_NEAR(b[i].at("grad_norm").get<double>(), a[i].at("grad_norm").get<double>(), 1e-4);
      EXPECT_EQ(b[i].at("tokens"), a[i].at("tokens"));  // the global batch's tokens
    }
  }
  const Checkpoint ca = load_checkpoint(dir_ / "one/t/checkpoints/step_00000005");
  const Checkpoint cb = load_checkpoint(dir_ / "two/t/checkpoints/step_00000005");
  EXPECT_LT(max_difference(ca.params, cb.params), 2e-5);
  EXPECT_EQ(ca.state.world_size, 1);
  EXPECT_EQ(cb.state.world_size, 2);
  EXPECT_EQ(cb.state.tokens_seen, ca.state.tokens_seen);
  EXPECT_EQ(cb.state.rng_state, ca.state.rng_state);  // every rank drew the whole batch
  // One console: rank 1's stdout is silenced.
  EXPECT_EQ(two.output.find("pretrain: resumed"), std::string::npos);
  size_t lines = 0;
  for (size_t at = 0;
       (at = two.output.find("pretrain step      5/5 | loss", at)) != std::string::npos; ++at) {
    ++lines;
  }
  EXPECT_EQ(lines, 1u) << two.output;
}

TEST_F(DataParallel, TwoRanksFineTuneAsOneProcessDoes) {
  std::vector<std::string> overrides = testing::tiny_pipeline_overrides(dir_ / "one");
  for (const char* key : {"run.stages=[\"tokenizer\", \"corpus\", \"pretrain\", \"sft\"]",
                          "run.check_every=1", "corpus.total_mb=0.2", "sft.steps=3",
                          "sft.batch_size=3", "sft.log_every=1", "sft.eval_every=3"}) {
    overrides.emplace_back(key);
  }
  const Config config = Config::load("", overrides);
  // One process up to pretraining; both fine-tune from that checkpoint. The
  // demos differ in length, so the loss-mask counts of the ranks' rows differ.
  ASSERT_NO_FATAL_FAILURE(run_stage_on_one_and_two_ranks(config, "pretrain", "sft"));
  const auto a = metrics_lines(dir_ / "one/t/sft/metrics.jsonl");
  const auto b = metrics_lines(dir_ / "two/t/sft/metrics.jsonl");
  ASSERT_EQ(a.size(), 4u);  // 3 train lines, 1 held-out
  ASSERT_EQ(b.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(b[i].at("loss").get<double>(), a[i].at("loss").get<double>(), 1e-5) << i;
  }
  const Checkpoint ca = load_checkpoint(dir_ / "one/t/sft/checkpoints/step_00000003");
  const Checkpoint cb = load_checkpoint(dir_ / "two/t/sft/checkpoints/step_00000003");
  EXPECT_LT(max_difference(ca.params, cb.params), 2e-5);
}

TEST_F(DataParallel, TwoRanksTakeTheSameGrpoStepsAsOneProcess) {
  std::vector<std::string> overrides = testing::tiny_pipeline_overrides(dir_ / "one");
  for (const char* key : {
           "run.stages=[\"tokenizer\", \"corpus\", \"pretrain\", \"sft\", \"rl\"]",
           "run.check_every=1",
           "corpus.total_mb=0.2",
           "sft.steps=2",
           "rl.steps=3",
           "rl.prompts_per_step=4",
           "rl.group_size=3",
           "rl.max_new_tokens=12",
           "rl.tools=false",
           "rl.lr=1e-3",
           "rl.micro_batch=4",
           "rl.minibatches=2",
           "rl.scale_rewards=batch",
           "rl.eval_prompts=3",
           "rl.eval_every=2",
           "rl.checkpoint_every=2",
           "rl.rewards=[{ name = \"correct\", weight = 1.0 }, { name = \"length\", weight = 0.05 "
           "}]",
       }) {
    overrides.emplace_back(key);
  }
  const Config config = Config::load("", overrides);
  // One process up to SFT; both runs start RL from that same checkpoint.
  ASSERT_NO_FATAL_FAILURE(run_stage_on_one_and_two_ranks(config, "sft", "rl"));

  const auto a = metrics_lines(dir_ / "one/t/rl/metrics.jsonl");
  const auto b = metrics_lines(dir_ / "two/t/rl/metrics.jsonl");
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  double moved = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto& ma = a[i].at("metrics");
    const auto& mb = b[i].at("metrics");
    for (const char* key : {"reward_mean", "accuracy", "groups_trained", "response_tokens",
                            "entropy", "zero_variance_groups"}) {
      EXPECT_NEAR(mb.at(key).get<double>(), ma.at(key).get<double>(), 1e-5) << key << " " << i;
    }
    for (const char* key : {"loss", "kl", "clip_fraction", "grad_norm"}) {
      EXPECT_NEAR(mb.at(key).get<double>(), ma.at(key).get<double>(), 1e-4) << key << " " << i;
    }
    moved += ma.at("grad_norm").get<double>();
  }
  EXPECT_GT(moved, 0) << "no group had a reward spread: the test trains on nothing";

  // The same rows in the same order, written by rank 0 alone.
  auto rows = [](const std::filesystem::path& db) {
    std::vector<StoredRollout> out;
    StoreReader::open(db).for_each(RolloutFilter{},
                                   [&](const StoredRollout& r) { out.push_back(r); });
    return out;
  };
  const auto ra = rows(dir_ / "one/t/rollouts.db");
  const auto rb = rows(dir_ / "two/t/rollouts.db");
  ASSERT_EQ(ra.size(), rb.size());
  ASSERT_GT(ra.size(), 0u);
  for (size_t i = 0; i < ra.size(); ++i) {
    EXPECT_EQ(rb[i].record.step, ra[i].record.step);
    EXPECT_EQ(rb[i].record.split, ra[i].record.split);
    EXPECT_EQ(rb[i].record.task_id, ra[i].record.task_id);
    EXPECT_EQ(rb[i].record.completion, ra[i].record.completion) << i;
    EXPECT_EQ(rb[i].record.reward, ra[i].record.reward);
    EXPECT_NEAR(rb[i].record.advantage, ra[i].record.advantage, 1e-9);
  }
  const Checkpoint ca = load_checkpoint(dir_ / "one/t/rl/checkpoints/step_00000003");
  const Checkpoint cb = load_checkpoint(dir_ / "two/t/rl/checkpoints/step_00000003");
  EXPECT_LT(max_difference(ca.params, cb.params), 2e-5);
  EXPECT_EQ(cb.state.world_size, 2);
  EXPECT_EQ(cb.state.extra.at("curriculum"), ca.state.extra.at("curriculum"));
  EXPECT_EQ(cb.state.extra.at("held_out_before"), ca.state.extra.at("held_out_before"));
}

TEST_F(DataParallel, TwoRanksResumeAsAnUnbrokenRunOfTwoDoes) {
  const auto config = write_config(pretrain_config(), "pretrain");
  const Outcome unbroken =
      run(mpirun(2) + " " + ponder(config, "pretrain", dir_ / "one"), dir_ / "one.log");
  ASSERT_EQ(unbroken.status, 0) << unbroken.output;
  const Outcome part =
      run(mpirun(2) + " " + ponder(config, "pretrain", dir_ / "two") + " --stop-after 2",
          dir_ / "a.log");
  ASSERT_EQ(part.status, 0) << part.output;
  const Outcome rest =
      run(mpirun(2) + " " + ponder(config, "pretrain", dir_ / "two"), dir_ / "b.log");
  ASSERT_EQ(rest.status, 0) << rest.output;
  EXPECT_THAT(rest.output, HasSubstr("pretrain: resumed from"));
  const Checkpoint a = load_checkpoint(dir_ / "one/t/checkpoints/step_00000005");
  const Checkpoint b = load_checkpoint(dir_ / "two/t/checkpoints/step_00000005");
  EXPECT_EQ(b.params, a.params);
  EXPECT_EQ(b.adam_m, a.adam_m);
  EXPECT_EQ(b.adam_v, a.adam_v);
  EXPECT_EQ(b.state, a.state);
}

TEST_F(DataParallel, AFailingRankEndsTheJobNamingItself) {
  const auto config = write_config(pretrain_config({"pretrain.steps=1000"}), "pretrain");
  const Outcome two = run(
      "PONDER_FAIL_RANK_AT_STEP=1:2 " + mpirun(2) + " " + ponder(config, "pretrain", dir_.path()),
      dir_ / "two.log", 120);
  EXPECT_NE(two.status, 124) << "the job hung:\n" << two.output;
  EXPECT_NE(two.status, 0);
  EXPECT_THAT(two.output, HasSubstr("ponder: rank 1 of 2: failure drill: rank 1 fails at step 2"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "t/checkpoints/step_00001000"));
}

TEST_F(DataParallel, CommandsThatDoNotTrainRefuseSeveralRanks) {
  const Outcome two = run(mpirun(2) + " " + PONDER_BINARY + " tasks sample --family count --n 1",
                          dir_ / "two.log", 120);
  EXPECT_NE(two.status, 0);
  EXPECT_NE(two.status, 124) << "the job hung:\n" << two.output;
  EXPECT_THAT(two.output, HasSubstr("`ponder tasks` runs in one process: start it without mpirun "
                                    "or srun (the data-parallel commands are train, pretrain, "
                                    "sft, rl)"));
}

TEST_F(DataParallel, ResumingWithAnotherWorldSizeIsAClearError) {
  // One process to step 2; two ranks refuse to resume it.
  const Config config = pretrain_config();
  run_stages(config, StageRange{"", "pretrain", 2});
  const auto file = write_config(config, "pretrain");
  const Outcome two =
      run(mpirun(2) + " " + ponder(file, "pretrain", dir_ / "one"), dir_ / "two.log", 120);
  EXPECT_NE(two.status, 0);
  EXPECT_NE(two.status, 124) << "the job hung:\n" << two.output;
  EXPECT_THAT(two.output,
              HasSubstr("(step 2 of 5) was written by a run of 1 rank(s), and this run has 2"));
  EXPECT_THAT(two.output, HasSubstr("mpirun -np 1"));

  // Two ranks to step 2; one process refuses to resume that.
  const Outcome made =
      run(mpirun(2) + " " + ponder(file, "pretrain", dir_ / "two") + " --stop-after 2",
          dir_ / "made.log", 120);
  ASSERT_EQ(made.status, 0) << made.output;
  try {
    run_pretrain(pretrain_config({"run.out_dir=\"" + (dir_ / "two").string() + "\""}),
                 dir_ / "two/t");
    FAIL() << "resumed a 2-rank checkpoint in one process";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(),
                HasSubstr("(step 2 of 5) was written by a run of 2 rank(s), and this run has 1"));
  }
}

}  // namespace
}  // namespace ponder
