// The communicator in a world of one (how every single-process run and test
// sees it), how batches split over ranks, the failure drill, the records'
// wire format, and the bad inputs of the data-parallel config key.
#include "parallel/communicator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>

#include "app/records.h"
#include "app/training.h"
#include "policy/error.h"
#include "tests/app/config_test_util.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;

TEST(RankSlice, SharesTileTheCountInOrderAndDifferByAtMostOne) {
  for (size_t count : {0u, 1u, 2u, 5u, 7u, 64u, 1000u}) {
    for (int world = 1; world <= 5; ++world) {
      size_t next = 0, smallest = count, largest = 0;
      for (int rank = 0; rank < world; ++rank) {
        const Slice s = rank_slice(count, rank, world);
        EXPECT_EQ(s.begin, next) << count << " over " << world;
        next = s.end;
        smallest = std::min(smallest, s.size());
        largest = std::max(largest, s.size());
      }
      EXPECT_EQ(next, count);
      EXPECT_LE(largest - smallest, 1u);
    }
  }
  const Slice s = rank_slice(7, 1, 2);  // rows 3, 4, 5, 6
  EXPECT_EQ(s.begin, 3u);
  EXPECT_EQ(s.end, 7u);
  EXPECT_TRUE(s.contains(3));
  EXPECT_FALSE(s.contains(2));
  EXPECT_FALSE(s.contains(7));
}

TEST(RankSlice, ARankOutsideTheWorldIsAnError) {
  EXPECT_THROW(rank_slice(4, 2, 2), Error);
  EXPECT_THROW(rank_slice(4, -1, 2), Error);
  EXPECT_THROW(rank_slice(4, 0, 0), Error);
}

TEST(WorldOfOne, CollectivesAreTheIdentity) {
  // ctest starts this binary without a launcher: a world of one.
  ASSERT_EQ(launcher_evidence(), "");
  Communicator& world = Communicator::world();
  EXPECT_EQ(world.rank(), 0);
  EXPECT_EQ(world.size(), 1);
  EXPECT_TRUE(world.is_root());
  std::vector<float> f = {1.5f, -2.0f};
  world.all_reduce_sum(f);
  EXPECT_EQ(f, (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(world.sum(0.25), 0.25);
  EXPECT_EQ(world.all_gather(42), std::vector<uint64_t>{42});
  std::string bytes = "abc";
  world.broadcast(bytes);
  EXPECT_EQ(bytes, "abc");
  EXPECT_EQ(world.gather("xyz"), std::vector<std::string>{"xyz"});
  world.barrier();
  const std::vector<float> params = {1, 2, 3};
  require_identical_replicas(world, params, "test");
}

TEST(WorldOfOne, LauncherEvidenceNamesTheVariable) {
  ASSERT_EQ(setenv("PMI_SIZE", "4", 1), 0);
  EXPECT_EQ(launcher_evidence(), "PMI_SIZE=4");
  unsetenv("PMI_SIZE");
  EXPECT_EQ(launcher_evidence(), "");
}

TEST(BatchSlice, AWorldOfOneTakesTheWholeBatch) {
  EXPECT_EQ(batch_slice(Communicator::world(), 3, "pretrain.batch_size").size(), 3u);
}

class FailureDrill : public ::testing::Test {
 protected:
  void TearDown() override { unsetenv("PONDER_FAIL_RANK_AT_STEP"); }
};

TEST_F(FailureDrill, FailsTheNamedRankAtTheNamedStepOnly) {
  Communicator& world = Communicator::world();
  failure_drill(world, 2);  // unset: nothing
  ASSERT_EQ(setenv("PONDER_FAIL_RANK_AT_STEP", "0:2", 1), 0);
  failure_drill(world, 1);
  try {
    failure_drill(world, 2);
    FAIL() << "no failure at step 2";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("failure drill: rank 0 fails at step 2"));
  }
  ASSERT_EQ(setenv("PONDER_FAIL_RANK_AT_STEP", "1:2", 1), 0);
  failure_drill(world, 2);  // another rank's drill
}

TEST_F(FailureDrill, AMalformedValueNamesTheVariable) {
  ASSERT_EQ(setenv("PONDER_FAIL_RANK_AT_STEP", "two", 1), 0);
  try {
    failure_drill(Communicator::world(), 2);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "PONDER_FAIL_RANK_AT_STEP = `two`; expected RANK:STEP, e.g. 1:2");
  }
}

TEST(RecordsWire, RoundTripsEveryFieldExactly) {
  RolloutRecord a;
  a.step = 7;
  a.split = "eval";
  a.benchmark = "rl_heldout";
  a.family = "count";
  a.task_id = "count-3-17";
  a.prompt = "How many r's?";
  a.completion = std::string("bad bytes \xff\xfe and \0 nul", 22);
  a.expected_answer = "3";
  a.extracted_answer = "3";
  a.correct = true;
  a.reward = 1.0 / 3.0;
  a.rewards = {{"correct", 1.0}, {"format", -0.0}};
  a.advantage = -std::numeric_limits<double>::denorm_min();
  a.prompt_tokens = 12;
  a.completion_tokens = 3;
  a.thinking_tokens = 1;
  a.finish_reason = "length";
  a.seconds = 0.125;
  a.tool_calls = {{"python", "print(1)", "1\n", "ok", 3.5}};
  a.token_ids = {5, 6, 7};
  a.logprobs = {-0.1f, 0.0f, -std::numeric_limits<float>::min()};
  RolloutRecord b;  // no extracted answer, no tool calls, nothing stored
  b.finish_reason = "end";
  const std::vector<RolloutRecord> records = {a, b};
  const std::vector<RolloutRecord> back = decode_records(encode_records(records));
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].completion, a.completion);
  EXPECT_EQ(back[0].extracted_answer, a.extracted_answer);
  EXPECT_EQ(back[0].reward, a.reward);
  EXPECT_EQ(back[0].rewards, a.rewards);
  EXPECT_TRUE(std::signbit(back[0].rewards.at("format")));
  EXPECT_EQ(back[0].advantage, a.advantage);
  EXPECT_EQ(back[0].tool_calls.size(), 1u);
  EXPECT_EQ(back[0].tool_calls[0].output, "1\n");
  EXPECT_EQ(back[0].tool_calls[0].latency_ms, 3.5);
  EXPECT_EQ(back[0].token_ids, a.token_ids);
  EXPECT_EQ(back[0].logprobs, a.logprobs);
  EXPECT_EQ(back[0].finish_reason, "length");
  EXPECT_EQ(back[0].step, 7);
  EXPECT_FALSE(back[1].extracted_answer.has_value());
  // Every field, compared at once: the encoding of the decoded equals the original's.
  EXPECT_EQ(encode_records(back), encode_records(records));
}

TEST(RecordsWire, GarbageIsAClearError) {
  try {
    decode_records("not msgpack at all");
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("rollout records from another rank are malformed"));
  }
}

using CheckEveryConfig = testing::ConfigTest;

TEST_F(CheckEveryConfig, RejectsBadValuesNamingTheKey) {
  EXPECT_EQ(file_error("[run]\ncheck_every = -1\n"),
            "`run.check_every` at F:2: -1 is out of range; expected an integer >= 0");
  EXPECT_EQ(file_error("[run]\ncheck_every = \"often\"\n"),
            "`run.check_every` at F:2: expected an integer, got a string (\"often\")");
  EXPECT_EQ(file_error("[run]\ncheck_every = 2.5\n"),
            "`run.check_every` at F:2: expected an integer, got a float (2.5)");
  EXPECT_EQ(Config::load("", {"run.check_every=10"}).get_int("run.check_every"), 10);
  EXPECT_EQ(Config::load("").get_int("run.check_every"), 0);
}

}  // namespace
}  // namespace ponder
