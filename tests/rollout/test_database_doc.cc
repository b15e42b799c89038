// docs/DATABASE.md: its schema is the store's, and each of its ten queries
// gives the expected answer on a small run written through RolloutStore.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rollout/rollout_store.h"
#include "rollout/store_reader.h"
#include "rollout/store_schema.h"
#include "tests/rollout/store_test_util.h"
#include "tests/test_util.h"

namespace ponder {
namespace {

using Rows = std::vector<std::vector<std::string>>;

// The ```sql blocks of `markdown` that come after `heading`, in order.
std::vector<std::string> sql_blocks(const std::string& markdown, const std::string& heading) {
  std::vector<std::string> blocks;
  size_t at = markdown.find(heading);
  EXPECT_NE(at, std::string::npos) << heading;
  while ((at = markdown.find("```sql\n", at)) != std::string::npos) {
    at += 7;
    const size_t end = markdown.find("```", at);
    blocks.push_back(markdown.substr(at, end - at));
    at = end + 3;
  }
  return blocks;
}

struct Row {
  int64_t step;
  std::string split, family, task, answer;
  bool correct;
  double reward, format;
  int tokens, thinking;
  std::string finish;
  std::vector<std::string> calls;  // statuses
};

// Two steps of four train rollouts each, and an eval of two tasks at both.
const std::vector<Row> kRows = {
    {1, "train", "arith", "arith/train/1", "5", false, 0.2, 1, 100, 40, "length", {"error"}},
    {1, "train", "arith", "arith/train/2", "7", true, 1.2, 1, 50, 20, "end", {"ok"}},
    {1, "train", "count", "count/train/1", "3", false, 0.0, 0, 80, 0, "end", {}},
    {1, "train", "count", "count/train/2", "4", true, 1.2, 1, 30, 10, "end", {}},
    {1, "eval", "arith", "arith/eval/1", "10", false, 0.2, 1, 60, 30, "end", {}},
    {1, "eval", "arith", "arith/eval/2", "12", true, 1.2, 1, 40, 20, "end", {}},
    {2, "train", "arith", "arith/train/1", "6", false, 0.2, 1, 90, 30, "end", {"error", "ok"}},
    {2, "train", "arith", "arith/train/2", "7", true, 1.2, 1, 40, 20, "end", {"ok"}},
    {2, "train", "count", "count/train/1", "2", false, 0.6, 1, 70, 10, "tool_budget", {"ok", "ok"}},
    {2, "train", "count", "count/train/2", "4", true, 1.0, 0, 20, 0, "end", {}},
    {2, "eval", "arith", "arith/eval/1", "11", true, 1.2, 1, 50, 25, "end", {}},
    {2, "eval", "arith", "arith/eval/2", "12", true, 1.2, 1, 40, 20, "end", {}},
};

void write_fixture(const std::filesystem::path& path) {
  RolloutStore store = RolloutStore::open(path, "doc", "");
  for (int64_t step : {1, 2}) {
    std::vector<RolloutRecord> records;
    for (const Row& row : kRows) {
      if (row.step != step) continue;
      RolloutRecord& r = records.emplace_back();
      r.step = step;
      r.split = row.split;
      if (row.split == "eval") r.benchmark = "arith-eval";
      r.family = row.family;
      r.task_id = row.task;
      r.prompt = "question of " + row.task;
      r.completion = "<|answer|>" + row.answer + "<|/answer|><|end|>";
      r.expected_answer = "x";
      r.extracted_answer = row.answer;
      r.correct = row.correct;
      r.reward = row.reward;
      r.rewards = {{"correct", row.correct ? 1.0 : 0.0}, {"format", row.format}};
      r.completion_tokens = row.tokens;
      r.thinking_tokens = row.thinking;
      r.finish_reason = row.finish;
      for (const std::string& status : row.calls) {
        r.tool_calls.push_back({"python", "1+1", "2", status, 10.0});
      }
    }
    store.write_step(step, records, {{{"loss", 3.0 - step}, {"kl", 0.01 * (step - 1)}}, 2.5});
  }
}

TEST(DatabaseDoc, SchemaIsTheStores) {
  const std::string doc = testing::read_file("docs/DATABASE.md");
  const std::vector<std::string> blocks = sql_blocks(doc, "## Schema");
  ASSERT_FALSE(blocks.empty());
  EXPECT_EQ(blocks[0], std::string(store_schema_sql()));
}

TEST(DatabaseDoc, TenQueriesGiveTheExpectedAnswers) {
  const std::string doc = testing::read_file("docs/DATABASE.md");
  const std::vector<std::string> queries = sql_blocks(doc, "## Queries");
  const std::vector<Rows> expected = {
      // 1. reward, accuracy, length by step
      {{"1", "4", "0.65", "0.5", "65", "17.5"}, {"2", "4", "0.75", "0.5", "55", "15"}},
      // 2. the worst rollouts of step 2 (ids 7..10), lowest reward first
      {{"7", "arith/train/1", "0.2", "end", "6", "x"},
       {"9", "count/train/1", "0.6", "tool_budget", "2", "x"},
       {"10", "count/train/2", "1", "end", "4", "x"},
       {"8", "arith/train/2", "1.2", "end", "7", "x"}},
      // 3. tool error rate by step
      {{"1", "2", "0.5"}, {"2", "5", "0.2"}},
      // 4. the eval answer that changed
      {{"arith/eval/1", "10", "11", "0", "1"}},
      // 5. eval accuracy
      {{"arith-eval", "1", "2", "0.5", "0.7"}, {"arith-eval", "2", "2", "1", "1.2"}},
      // 6. finish reasons
      {{"1", "0.25", "0", "0"}, {"2", "0", "0.25", "0"}},
      // 7. reward functions by step
      {{"1", "correct", "0.5"},
       {"1", "format", "0.75"},
       {"2", "correct", "0.5"},
       {"2", "format", "0.75"}},
      // 8. reward by family and step
      {{"arith", "1", "2", "0.7"},
       {"arith", "2", "2", "0.7"},
       {"count", "1", "2", "0.6"},
       {"count", "2", "2", "0.8"}},
      // 9. never solved
      {{"arith/train/1", "arith", "2", "0.2"}, {"count/train/1", "count", "2", "0.6"}},
      // 10. metrics
      {{"1", "2", "0", "2.5"}, {"2", "1", "0.01", "2.5"}},
  };
  ASSERT_EQ(queries.size(), expected.size()) << "docs/DATABASE.md should hold ten queries";
  testing::TempDir dir;
  write_fixture(dir / "doc.db");
  const StoreReader reader = StoreReader::open(dir / "doc.db");
  for (size_t i = 0; i < queries.size(); ++i) {
    SCOPED_TRACE(fmt::format("query {}:\n{}", i + 1, queries[i]));
    EXPECT_EQ(testing::query_rows(reader, queries[i]), expected[i]);
  }
}

}  // namespace
}  // namespace ponder
