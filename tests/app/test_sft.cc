// The SFT pipeline on a tiny model: corpus -> pretrain -> SFT -> sample, the
// corpus builder's parts, and the sample report's scoring.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "app/corpus.h"
#include "app/sample.h"
#include "app/sft.h"
#include "app/stages.h"
#include "curricula/generator.h"
#include "policy/checkpoint.h"
#include "policy/error.h"
#include "policy/token_shard.h"
#include "tests/app/pipeline_test_util.h"
#include "tests/test_util.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;

TEST(Corpus, WritesNumbersInWords) {
  EXPECT_EQ(number_words(0), "zero");
  EXPECT_EQ(number_words(13), "thirteen");
  EXPECT_EQ(number_words(42), "forty-two");
  EXPECT_EQ(number_words(100), "one hundred");
  EXPECT_EQ(number_words(105), "one hundred and five");
  EXPECT_EQ(number_words(2024), "two thousand and twenty-four");
  EXPECT_EQ(number_words(1'000'001), "one million and one");
  EXPECT_EQ(number_words(-7), "minus seven");
}

Task count_task(const std::string& answer) {
  Task task;
  task.id = "count/test/0";
  task.family = Family::kCount;
  task.answer = answer;
  return task;
}

TEST(Sample, ScoresFormatAndCorrectness) {
  const std::vector<Task> tasks = {count_task("3"), count_task("3"), count_task("3"),
                                   count_task("2"), count_task("2")};
  std::vector<Rollout> responses(5);
  for (auto& r : responses) r.finish_reason = "end";
  responses[0].text = "<|think|>r 1\nr 2\nr 3<|/think|><|answer|>3<|/answer|><|end|>";
  responses[1].text = "<|answer|>4<|/answer|><|end|>";                   // well formed, wrong
  responses[2].text = "<|think|>unclosed<|answer|>3<|/answer|><|end|>";  // inside thinking
  responses[3].text = "<|answer|>2<|/answer|>";                          // cut off before its end
  responses[3].finish_reason = "length";
  responses[3].tool_calls.resize(1);
  responses[4].text = "2 < |answer|>2< |/answer|>";  // model text spelling tokens: no answer
  const SampleReport r = score_responses(tasks, responses);
  EXPECT_EQ(r.n, 5);
  EXPECT_EQ(r.well_formed, 2);
  EXPECT_EQ(r.correct, 1);
  EXPECT_EQ(r.tool_calls, 1);
}

class SftPipeline : public ::testing::Test {
 protected:
  Config config(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> overrides = testing::tiny_pipeline_overrides(dir_.path());
    for (const char* key :
         {"run.stages=[\"tokenizer\", \"corpus\", \"pretrain\", \"sft\"]", "corpus.total_mb=0.3",
          "sft.steps=4", "sft.eval_every=2", "sft.log_every=1"}) {
      overrides.emplace_back(key);
    }
    overrides.insert(overrides.end(), extra.begin(), extra.end());
    return Config::load("", overrides);
  }
  std::filesystem::path folder() const { return dir_ / "t"; }
  testing::TempDir dir_;
};

TEST_F(SftPipeline, RunsEndToEndAndResumesExactly) {
  run_stages(config(), {"", "sft", 2});
  // Every step's line, from the first (before the stage's folder had a checkpoint).
  EXPECT_THAT(testing::read_file(folder() / "sft/metrics.jsonl"), HasSubstr("{\"grad_norm\""));
  EXPECT_THAT(testing::read_file(folder() / "sft/metrics.jsonl"), HasSubstr("\"step\":1,"));
  EXPECT_TRUE(std::filesystem::exists(folder() / "shards/train_00000.bin"));
  EXPECT_TRUE(std::filesystem::exists(folder() / "checkpoints/step_00000002"));
  EXPECT_TRUE(std::filesystem::exists(folder() / "sft/checkpoints/step_00000002"));
  run_stages(config(), {"", "sft"});  // resumes SFT at step 2
  const Checkpoint resumed = load_checkpoint(folder() / "sft/checkpoints/step_00000004");

  std::filesystem::remove_all(folder() / "sft");
  run_sft(config(), folder());
  const Checkpoint unbroken = load_checkpoint(folder() / "sft/checkpoints/step_00000004");
  EXPECT_EQ(resumed.params, unbroken.params);

  SampleOptions options;
  options.max_new_tokens = 8;
  const TaskGenerator generator(TaskSources{});
  const std::vector<Task> tasks = {generator.generate(Family::kCount, Split::kEval, 0, 1, 0),
                                   generator.generate(Family::kCount, Split::kEval, 1, 1, 0)};
  const auto responses =
      sample_responses(folder() / "sft/checkpoints/step_00000004", tasks, options, {});
  ASSERT_EQ(responses.size(), 2u);
  for (const auto& r : responses) EXPECT_LE(r.ids.size(), 8u);

  // `ponder chat` on the same checkpoint: one exchange from stdin, then the empty line ends it.
  const std::string command = std::string(PONDER_BINARY) + " chat " +
                              (folder() / "sft/checkpoints/step_00000004").string() +
                              " --max-new-tokens 5 --set tasks.lookup_entities=40 2>&1 <<< "
                              "$'How many r\\'s are in berry?\\n\\n'";
  FILE* pipe = popen(("bash -c \"" + command + "\"").c_str(), "r");
  std::string output;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
  EXPECT_EQ(pclose(pipe), 0) << output;
  EXPECT_THAT(output, HasSubstr("ponder chat:"));
  EXPECT_THAT(output, HasSubstr("[stopped: length]"));

  // `ponder sample --db` writes every rollout to the store; `ponder inspect` reads them.
  const std::string db = (dir_ / "sample.db").string();
  const std::string sample = std::string(PONDER_BINARY) + " sample " +
                             (folder() / "sft/checkpoints/step_00000004").string() +
                             " --n 3 --max-new-tokens 6 --show 0 --set tasks.lookup_entities=40" +
                             " --db " + db + " > /dev/null 2>&1";
  ASSERT_EQ(std::system(sample.c_str()), 0);
  pipe = popen((std::string(PONDER_BINARY) + " inspect " + db + " summary 2>&1").c_str(), "r");
  output.clear();
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
  EXPECT_EQ(pclose(pipe), 0) << output;
  EXPECT_THAT(output, HasSubstr("sample/count"));
}

TEST_F(SftPipeline, NeedsAPretrainedCheckpoint) {
  try {
    run_sft(config(), folder());
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("no pretrained checkpoint"));
  }
}

TEST_F(SftPipeline, RowsTooShortForAnyDemonstrationAreAClearError) {
  run_stages(config(), {"", "pretrain"});
  try {
    run_sft(config({"sft.seq_len=8"}), folder());
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("sft.seq_len = 8 is too short"));
  }
}

}  // namespace
}  // namespace ponder
