// Gradient sums in a world of one (how ctest starts this binary): the fixed
// buckets, the order they are launched in whatever backward reports, the
// host and staged syncs leaving a lone rank's gradients alone, which sync a
// run gets, and the bad values of run.grad_bucket_mb. tests_collectives
// sums across two ranks; tests_nccl runs the NCCL sync on a GPU.
#include "parallel/gradient_sync.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "app/backend_choice.h"
#include "policy/cpu/cpu_backend.h"
#include "policy/error.h"
#include "tests/app/config_test_util.h"

namespace ponder {

// How gtest prints a bucket in a failure.
void PrintTo(const Slice& s, std::ostream* out) {
  *out << "[" << s.begin << ", " << s.end << ")";
}

namespace {

using ::testing::ElementsAre;

TEST(GradientBuckets, SplitTheArrayFromTheEnd) {
  const GradientBuckets buckets(10, 4);
  ASSERT_EQ(buckets.size(), 3u);
  EXPECT_EQ(buckets.bucket(0), (Slice{6, 10}));
  EXPECT_EQ(buckets.bucket(1), (Slice{2, 6}));
  EXPECT_EQ(buckets.bucket(2), (Slice{0, 2}));
  EXPECT_EQ(GradientBuckets(8, 4).size(), 2u);
  EXPECT_EQ(GradientBuckets(3, 100).bucket(0), (Slice{0, 3}));
  EXPECT_EQ(GradientBuckets(0, 4).size(), 0u);
  EXPECT_THROW(GradientBuckets(10, 0), Error);
}

TEST(GradientBuckets, LaunchABucketOnceItLiesWhollyInTheFinalPart) {
  GradientBuckets buckets(10, 4);
  std::vector<Slice> launched;
  auto launch = [&](Slice s) { launched.push_back(s); };
  buckets.final_from(7, launch);
  EXPECT_TRUE(launched.empty()) << "bucket [6, 10) is not final from 7";
  buckets.final_from(6, launch);
  EXPECT_THAT(launched, ElementsAre(Slice{6, 10}));
  buckets.final_from(3, launch);
  EXPECT_EQ(launched.size(), 1u);
  buckets.final_from(0, launch);
  EXPECT_THAT(launched, ElementsAre(Slice{6, 10}, Slice{2, 6}, Slice{0, 2}));
  buckets.finish(launch);
  EXPECT_EQ(launched.size(), 3u) << "finish launches nothing twice";
  // The next step starts with none launched; a rank with no backward
  // launches them all in finish().
  launched.clear();
  buckets.finish(launch);
  EXPECT_THAT(launched, ElementsAre(Slice{6, 10}, Slice{2, 6}, Slice{0, 2}));
}

TEST(GradientBuckets, EveryRankLaunchesTheSameSequenceWhateverBackwardReports) {
  // Ranks' backwards report at the same offsets, but a rank may report none
  // (no backward) or stop early; the collectives must still match.
  const size_t count = 1000;
  GradientBuckets reference(count, 64);
  std::vector<Slice> expected;
  reference.finish([&](Slice s) { expected.push_back(s); });
  std::mt19937 rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    GradientBuckets buckets(count, 64);
    std::vector<Slice> launched;
    size_t offset = count;
    while (offset > 0 && rng() % 4 != 0) {
      offset -= std::min<size_t>(offset, 1 + rng() % 150);
      buckets.final_from(offset, [&](Slice s) { launched.push_back(s); });
    }
    buckets.finish([&](Slice s) { launched.push_back(s); });
    EXPECT_EQ(launched, expected) << "trial " << trial;
  }
}

TEST(GradientSync, ALoneRankKeepsItsGradients) {
  Communicator& world = Communicator::world();
  ASSERT_EQ(world.size(), 1);
  std::vector<float> grads = {0.5f, -1.25f, 3.0f};
  HostGradientSync host(world, grads);
  host.gradients_final_from(0);
  host.finish();
  EXPECT_EQ(grads, (std::vector<float>{0.5f, -1.25f, 3.0f}));

  CpuBackend<float> backend;
  float* device = backend.alloc(3);
  backend.upload(device, grads.data(), 3);
  StagedGradientSync staged(world, backend, device, 3);
  staged.finish();
  std::vector<float> back(3);
  backend.download(back.data(), device, 3);
  EXPECT_EQ(back, grads);
  backend.free(device);
}

TEST(GradientSync, AWorldOfOneSumsNothing) {
  CpuBackend<float> backend;
  ModelConfig config;
  config.vocab_size = 16;
  config.hidden_size = 8;
  config.intermediate_size = 8;
  config.num_hidden_layers = 1;
  config.num_attention_heads = 2;
  config.num_key_value_heads = 2;
  config.max_position_embeddings = 8;
  Model<float> model(backend, config);
  EXPECT_EQ(make_gradient_sync(Config::load(""), Communicator::world(), backend, model), nullptr);
}

using GradBucketConfig = testing::ConfigTest;

TEST_F(GradBucketConfig, RejectsBadValuesNamingTheKey) {
  EXPECT_EQ(file_error("[run]\ngrad_bucket_mb = 0\n"),
            "`run.grad_bucket_mb` at F:2: 0 is out of range; expected an integer in [1, 4096]");
  EXPECT_EQ(file_error("[run]\ngrad_bucket_mb = 5000\n"),
            "`run.grad_bucket_mb` at F:2: 5000 is out of range; expected an integer in [1, 4096]");
  EXPECT_EQ(file_error("[run]\ngrad_bucket_mb = \"big\"\n"),
            "`run.grad_bucket_mb` at F:2: expected an integer, got a string (\"big\")");
  EXPECT_EQ(Config::load("").get_int("run.grad_bucket_mb"), 25);
}

}  // namespace
}  // namespace ponder
