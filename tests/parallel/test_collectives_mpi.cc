// The collectives across real processes: ctest starts this binary as
// `scripts/mpirun -np 2` (tests/CMakeLists.txt), and every rank runs every
// test, so each test makes the same collective calls on every rank.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include <fmt/format.h>

#include "app/rl_parallel.h"
#include "app/training.h"
#include "parallel/communicator.h"
#include "parallel/gradient_sync.h"
#include "policy/cpu/cpu_backend.h"
#include "policy/error.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;

Communicator& world() {
  return Communicator::world();
}

TEST(Collectives, TheLauncherMadeAWorldOfTwo) {
  EXPECT_NE(launcher_evidence(), "");
  EXPECT_EQ(world().size(), 2);
}

TEST(Collectives, AllReduceSumsEveryElementAcrossBuckets) {
  const int r = world().rank();
  std::vector<float> f(Communicator::kBucketElements + 3, static_cast<float>(r + 1));
  f.back() = r == 0 ? 0.5f : 0.25f;
  world().all_reduce_sum(f);
  EXPECT_EQ(f.front(), 3.0f);
  EXPECT_EQ(f[Communicator::kBucketElements], 3.0f);  // the second bucket
  EXPECT_EQ(f.back(), 0.75f);
  std::vector<double> d = {r == 0 ? 1e-300 : 2e-300};
  world().all_reduce_sum(d);
  EXPECT_EQ(d[0], 1e-300 + 2e-300);
  std::vector<int64_t> i = {int64_t{1} << 40, r};
  world().all_reduce_sum(i);
  EXPECT_EQ(i, (std::vector<int64_t>{int64_t{1} << 41, 1}));
  EXPECT_EQ(world().sum(r == 0 ? 1.5 : 2.0), 3.5);
}

TEST(Collectives, GradientSyncsSumEveryRanksGradients) {
  const float r = static_cast<float>(world().rank());
  std::vector<float> grads = {r + 1, 0.5f * r, -r};
  HostGradientSync host(world(), grads);
  host.gradients_final_from(1);  // nothing starts early on a CPU
  EXPECT_EQ(grads, (std::vector<float>{r + 1, 0.5f * r, -r}));
  host.finish();
  EXPECT_EQ(grads, (std::vector<float>{3.0f, 0.5f, -1.0f}));

  CpuBackend<float> backend;
  float* device = backend.alloc(2);
  const std::vector<float> mine = {r, 2 * r + 1};
  backend.upload(device, mine.data(), 2);
  StagedGradientSync staged(world(), backend, device, 2);
  staged.finish();
  std::vector<float> back(2);
  backend.download(back.data(), device, 2);
  EXPECT_EQ(back, (std::vector<float>{1.0f, 4.0f}));
  backend.free(device);
}

TEST(Collectives, GatherBroadcastAndAllGatherKeepRankOrder) {
  const int r = world().rank();
  EXPECT_EQ(world().all_gather(static_cast<uint64_t>(10 + r)), (std::vector<uint64_t>{10, 11}));
  const std::vector<std::string> got = world().gather(r == 0 ? "zero" : std::string(3, '\0'));
  if (world().is_root()) {
    EXPECT_EQ(got, (std::vector<std::string>{"zero", std::string(3, '\0')}));
  } else {
    EXPECT_TRUE(got.empty());
  }
  std::string bytes = r == 0 ? "from rank 0" : "overwritten";
  world().broadcast(bytes);
  EXPECT_EQ(bytes, "from rank 0");
  std::string empty = r == 0 ? "" : "overwritten";
  world().broadcast(empty);
  EXPECT_EQ(empty, "");
  world().barrier();
}

TEST(Collectives, DivergedReplicasFailOnEveryRankNamingTheRank) {
  std::vector<float> params = {1.0f, 2.0f, 3.0f};
  require_identical_replicas(world(), params, "same");
  if (world().rank() == 1) params[2] = std::nextafter(3.0f, 4.0f);
  try {
    require_identical_replicas(world(), params, "pretrain step 40");
    FAIL() << "divergence not detected";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("pretrain step 40: the parameters of rank 1"));
    EXPECT_THAT(e.what(), HasSubstr("differ from rank 0's"));
  }
}

TEST(Collectives, FewerRowsThanRanksNamesTheKey) {
  try {
    batch_slice(world(), 1, "pretrain.batch_size");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "pretrain.batch_size = 1 is less than the 2 ranks of this run: every rank needs at "
              "least one row; raise pretrain.batch_size or start fewer ranks");
  }
  const Slice rows = batch_slice(world(), 5, "pretrain.batch_size");
  EXPECT_EQ(rows.size(), world().rank() == 0 ? 2u : 3u);
}

RolloutRecord record(double reward, bool correct, const std::string& id) {
  RolloutRecord r;
  r.reward = reward;
  r.correct = correct;
  r.task_id = id;
  return r;
}

TEST(RlAcrossRanks, VerdictsAndRolloutsArriveInPromptOrder) {
  // 3 prompts of 2 samples: rank 0 holds prompt 0, rank 1 prompts 1 and 2.
  const int r = world().rank();
  const Slice rows = rank_slice(3, r, 2);
  std::vector<RolloutRecord> mine;
  for (size_t p = rows.begin; p < rows.end; ++p) {
    for (int s = 0; s < 2; ++s) {
      mine.push_back(record(static_cast<double>(p) + 0.5 * s, s == 1, fmt::format("{}.{}", p, s)));
    }
  }
  const RoundVerdicts v = share_verdicts(world(), mine, rows, 3, 2);
  EXPECT_EQ(v.rewards, (std::vector<double>{0, 0.5, 1, 1.5, 2, 2.5}));
  EXPECT_EQ(v.correct, (std::vector<bool>{false, true, false, true, false, true}));

  // Two rounds: round-major, ranks in order within a round.
  RankRollouts local;
  local.rounds = {mine, {record(9, false, fmt::format("second.{}", r))}};
  local.entropy = {std::vector<double>(mine.size(), 0.1 * (r + 1)), {7.0 + r}};
  const StepRollouts all = gather_rollouts(world(), local);
  if (world().is_root()) {
    std::vector<std::string> ids;
    for (const RolloutRecord& x : all.records) ids.push_back(x.task_id);
    EXPECT_EQ(ids, (std::vector<std::string>{"0.0", "0.1", "1.0", "1.1", "2.0", "2.1", "second.0",
                                             "second.1"}));
    EXPECT_EQ(all.entropy, (std::vector<double>{0.1, 0.1, 0.2, 0.2, 0.2, 0.2, 7.0, 8.0}));
  } else {
    EXPECT_TRUE(all.records.empty());
  }
}

TEST(RlAcrossRanks, UpdateStatisticsAreTokenWeightedAcrossRanks) {
  GrpoUpdateStats local;
  local.loss = world().rank() == 0 ? 0.5 : -0.25;
  local.tokens = world().rank() == 0 ? 10 : 30;
  local.clip_fraction = world().rank() == 0 ? 0.5 : 0.0;
  local.kl = world().rank() == 0 ? 0.0 : 0.4;
  const GrpoUpdateStats all = sum_over_ranks(world(), local);
  EXPECT_DOUBLE_EQ(all.loss, 0.25);
  EXPECT_EQ(all.tokens, 40);
  EXPECT_DOUBLE_EQ(all.clip_fraction, 5.0 / 40);
  EXPECT_DOUBLE_EQ(all.kl, 12.0 / 40);
}

}  // namespace
}  // namespace ponder
