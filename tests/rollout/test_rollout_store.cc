// RolloutStore and StoreReader: round trips, hostile text, step replacement,
// runs, evals, the writer thread's errors and back-pressure.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>

#include "policy/error.h"
#include "rollout/rollout_store.h"
#include "rollout/sqlite.h"
#include "rollout/store_reader.h"
#include "tests/rollout/store_test_util.h"
#include "tests/test_util.h"

namespace ponder {
namespace {

using testing::make_rollout;
using testing::make_step;
using testing::query_one;
using testing::query_rows;

void expect_same(const RolloutRecord& a, const RolloutRecord& b) {
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.split, b.split);
  EXPECT_EQ(a.benchmark, b.benchmark);
  EXPECT_EQ(a.family, b.family);
  EXPECT_EQ(a.task_id, b.task_id);
  EXPECT_EQ(a.prompt, b.prompt);
  EXPECT_EQ(a.completion, b.completion);
  EXPECT_EQ(a.expected_answer, b.expected_answer);
  EXPECT_EQ(a.extracted_answer, b.extracted_answer);
  EXPECT_EQ(a.correct, b.correct);
  EXPECT_EQ(a.reward, b.reward);
  EXPECT_EQ(a.rewards, b.rewards);
  EXPECT_EQ(a.advantage, b.advantage);
  EXPECT_EQ(a.prompt_tokens, b.prompt_tokens);
  EXPECT_EQ(a.completion_tokens, b.completion_tokens);
  EXPECT_EQ(a.thinking_tokens, b.thinking_tokens);
  EXPECT_EQ(a.finish_reason, b.finish_reason);
  EXPECT_EQ(a.seconds, b.seconds);
  ASSERT_EQ(a.tool_calls.size(), b.tool_calls.size());
  for (size_t i = 0; i < a.tool_calls.size(); ++i) {
    EXPECT_EQ(a.tool_calls[i].tool, b.tool_calls[i].tool);
    EXPECT_EQ(a.tool_calls[i].input, b.tool_calls[i].input);
    EXPECT_EQ(a.tool_calls[i].output, b.tool_calls[i].output);
    EXPECT_EQ(a.tool_calls[i].status, b.tool_calls[i].status);
    EXPECT_EQ(a.tool_calls[i].latency_ms, b.tool_calls[i].latency_ms);
  }
  EXPECT_EQ(a.token_ids, b.token_ids);
  EXPECT_EQ(a.logprobs, b.logprobs);
}

std::vector<StoredRollout> all_rollouts(const StoreReader& reader) {
  std::vector<StoredRollout> out;
  reader.for_each({}, [&](const StoredRollout& r) { out.push_back(r); });
  return out;
}

TEST(RolloutStore, RoundTripsEveryField) {
  testing::TempDir dir;
  const auto path = dir / "rollouts.db";
  std::vector<RolloutRecord> step3 = make_step(3, 6);
  std::vector<RolloutRecord> step4 = make_step(4, 2);
  for (RolloutRecord& r : make_step(4, 3, "eval")) step4.push_back(r);
  step4.back().tool_calls.push_back({"search", "capital of Veldra", "Ostmark", "timeout", 2000.0});
  step4.back().extracted_answer.reset();
  {
    RolloutStore store = RolloutStore::open(path, "quick", "[run]\nname = \"quick\"\n");
    store.write_step(3, step3, {{{"loss", 1.5}, {"lr", 1e-4}}, 2.5});
    store.write_step(4, step4, {{{"loss", 1.25}}, 2.0});
  }  // the destructor drains
  const StoreReader reader = StoreReader::open(path);
  const std::vector<StoredRollout> read = all_rollouts(reader);
  ASSERT_EQ(read.size(), step3.size() + step4.size());
  for (size_t i = 0; i < read.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(read[i].run, "quick");
    expect_same(read[i].record, i < step3.size() ? step3[i] : step4[i - step3.size()]);
    EXPECT_EQ(reader.get(read[i].id).record.task_id, read[i].record.task_id);
  }
  EXPECT_EQ(query_one(reader, "SELECT config FROM runs"), "[run]\nname = \"quick\"\n");
  EXPECT_EQ(query_rows(reader, "SELECT step, rollouts, seconds, metrics FROM steps ORDER BY step"),
            (std::vector<std::vector<std::string>>{{"3", "6", "2.5", R"({"loss":1.5,"lr":0.0001})"},
                                                   {"4", "5", "2", R"({"loss":1.25})"}}));
  EXPECT_EQ(query_one(reader, "SELECT count(*) FROM tool_calls"), "6");
  sqlite::Database db(path, sqlite::Database::Mode::kReadOnly);
  sqlite::Statement mode = db.prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.step());
  EXPECT_EQ(mode.column_text(0), "wal");
  EXPECT_THROW(reader.get(999), Error);
}

TEST(RolloutStore, HostileTextIsStoredAsValidUtf8) {
  testing::TempDir dir;
  RolloutRecord r = make_rollout(1, 0);
  // Invalid bytes (a lone continuation, a cut sequence, an overlong form, a
  // surrogate) around valid text, NUL and a terminal escape.
  r.completion = std::string("ok \x80 caf\xC3\xA9 \xE2\x82 \xC0\xAF \xED\xA0\x80 ") +
                 std::string("\0nul\x1b[2J", 8) + " \xF0\x9F\x98\x80";
  r.tool_calls.push_back({"python", "print('\xff')", "\xfe", "ok", 1.0});
  {
    RolloutStore store = RolloutStore::open(dir / "r.db", "hostile", "");
    store.write_step(1, {r}, {});
  }
  const StoredRollout read = StoreReader::open(dir / "r.db").get(1);
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(read.record.completion, "ok " + fffd + " caf\xC3\xA9 " + fffd + fffd + " " + fffd +
                                        fffd + " " + fffd + fffd + fffd + " " +
                                        std::string("\0nul\x1b[2J", 8) + " \xF0\x9F\x98\x80");
  EXPECT_EQ(read.record.tool_calls[0].input, "print('" + fffd + "')");
  EXPECT_EQ(read.record.tool_calls[0].output, fffd);
}

TEST(RolloutStore, NotANumberIsNullInTheDatabaseAndNaNWhenRead) {
  testing::TempDir dir;
  RolloutRecord r = make_rollout(1, 0);
  r.reward = std::nan("");
  r.rewards["format"] = INFINITY;
  {
    RolloutStore store = RolloutStore::open(dir / "r.db", "nan", "");
    store.write_step(1, {r}, {{{"loss", std::nan("")}}, 1.0});
  }
  const StoreReader reader = StoreReader::open(dir / "r.db");
  EXPECT_EQ(query_one(reader, "SELECT reward IS NULL FROM rollouts"), "1");
  EXPECT_EQ(query_one(reader, "SELECT metrics FROM steps"), R"({"loss":null})");
  const RolloutRecord read = reader.get(1).record;
  EXPECT_TRUE(std::isnan(read.reward));
  EXPECT_TRUE(std::isnan(read.rewards.at("format")));
  EXPECT_EQ(read.rewards.at("correct"), 1.0);
}

TEST(RolloutStore, WritingAStepAgainReplacesIt) {
  testing::TempDir dir;
  {
    RolloutStore store = RolloutStore::open(dir / "r.db", "run", "");
    store.write_step(1, make_step(1, 4), {});
    store.write_step(2, make_step(2, 5), {});
    store.write_step(1, make_step(1, 3), {{{"loss", 2.0}}, 1.0});  // a resumed run re-does step 1
  }
  const StoreReader reader = StoreReader::open(dir / "r.db");
  EXPECT_EQ(query_rows(reader, "SELECT step, count(*) FROM rollouts GROUP BY step"),
            (std::vector<std::vector<std::string>>{{"1", "3"}, {"2", "5"}}));
  EXPECT_EQ(query_one(reader, "SELECT rollouts FROM steps WHERE step = 1"), "3");
  // Tool calls of the replaced rollouts went with them.
  EXPECT_EQ(query_one(reader,
                      "SELECT count(*) FROM tool_calls t LEFT JOIN rollouts r ON r.id = "
                      "t.rollout_id WHERE r.id IS NULL"),
            "0");
  EXPECT_EQ(query_one(reader, "SELECT count(*) FROM tool_calls"), "3");  // 1 + 2
}

TEST(RolloutStore, ReopeningARunResumesItAndOtherNamesAreNewRuns) {
  testing::TempDir dir;
  int64_t first_id = 0;
  {
    RolloutStore store = RolloutStore::open(dir / "r.db", "a", "config 1");
    first_id = store.run_id();
    store.write_step(1, make_step(1, 2), {});
  }
  {
    RolloutStore again = RolloutStore::open(dir / "r.db", "a", "config 2");
    EXPECT_EQ(again.run_id(), first_id);
    again.write_step(2, make_step(2, 2), {});
    RolloutStore other = RolloutStore::open(dir / "r.db", "b", "other");
    EXPECT_NE(other.run_id(), first_id);
    other.write_step(1, make_step(1, 1), {});
  }
  const StoreReader reader = StoreReader::open(dir / "r.db");
  EXPECT_EQ(reader.runs(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(query_rows(reader, "SELECT name, config FROM runs ORDER BY id"),
            (std::vector<std::vector<std::string>>{{"a", "config 2"}, {"b", "other"}}));
  EXPECT_EQ(reader.summary("a").steps.size(), 2u);
  EXPECT_EQ(reader.summary("b").steps.size(), 1u);
  EXPECT_EQ(reader.summary("").steps.size(), 3u);
  EXPECT_THROW(reader.summary("c"), Error);
}

TEST(RolloutStore, EvalRolloutsAreSummedIntoEvals) {
  testing::TempDir dir;
  std::vector<RolloutRecord> rows = make_step(5, 2);
  for (RolloutRecord& r : make_step(5, 6, "eval")) rows.push_back(r);
  rows.back().benchmark = "gsm8k";
  {
    RolloutStore store = RolloutStore::open(dir / "r.db", "run", "");
    store.write_step(5, rows, {});
  }
  const StoreSummary summary = StoreReader::open(dir / "r.db").summary("");
  ASSERT_EQ(summary.evals.size(), 2u);
  // make_rollout: correct for i % 3 == 0, i.e. 0 and 3 of arith-eval's 0..4.
  EXPECT_EQ(summary.evals[0].benchmark, "arith-eval");
  EXPECT_EQ(summary.evals[0].n, 5);
  EXPECT_DOUBLE_EQ(summary.evals[0].accuracy, 0.4);
  EXPECT_DOUBLE_EQ(summary.evals[0].completion_tokens, 22.0);
  EXPECT_EQ(summary.evals[1].benchmark, "gsm8k");
  EXPECT_EQ(summary.evals[1].n, 1);
  EXPECT_DOUBLE_EQ(summary.evals[1].reward, 0.5);
  ASSERT_EQ(summary.steps.size(), 1u);  // the step table is the train rollouts only
  EXPECT_EQ(summary.steps[0].rollouts, 2);
}

TEST(RolloutStore, ABadRecordIsTheCallersBug) {
  testing::TempDir dir;
  RolloutStore store = RolloutStore::open(dir / "r.db", "run", "");
  RolloutRecord wrong_step = make_rollout(2, 0);
  EXPECT_THROW(store.write_step(1, {wrong_step}, {}), std::invalid_argument);
  RolloutRecord eval_without_benchmark = make_rollout(1, 0, "eval");
  eval_without_benchmark.benchmark.clear();
  EXPECT_THROW(store.write_step(1, {eval_without_benchmark}, {}), std::invalid_argument);
  RolloutRecord bad_finish = make_rollout(1, 0);
  bad_finish.finish_reason = "stopped";
  EXPECT_THROW(store.write_step(1, {bad_finish}, {}), std::invalid_argument);
  store.flush();  // nothing was queued, nothing failed
}

// A trigger that fails inserts of task "poison": an error on the writer thread.
void poison(const std::filesystem::path& path) {
  sqlite::Database db(path, sqlite::Database::Mode::kReadWriteCreate);
  db.exec(
      "CREATE TRIGGER poison BEFORE INSERT ON rollouts WHEN NEW.task_id = 'poison' "
      "BEGIN SELECT RAISE(ABORT, 'poisoned row'); END");
}

TEST(RolloutStore, AWriterErrorIsThrownByTheNextCallAndTheStepIsNotHalfWritten) {
  testing::TempDir dir;
  RolloutStore store = RolloutStore::open(dir / "r.db", "run", "");
  poison(dir / "r.db");
  store.write_step(1, make_step(1, 3), {});
  std::vector<RolloutRecord> bad = make_step(2, 3);
  bad[2].task_id = "poison";
  store.write_step(2, bad, {});
  try {
    store.flush();
    FAIL() << "flush did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              fmt::format("rollout store `{}`: poisoned row (step 2 was not written, nor any "
                          "step after it)",
                          (dir / "r.db").string()));
  }
  EXPECT_THROW(store.write_step(3, make_step(3, 1), {}), Error);
  EXPECT_THROW(store.flush(), Error);
  const StoreReader reader = StoreReader::open(dir / "r.db");
  EXPECT_EQ(query_rows(reader, "SELECT step, count(*) FROM rollouts GROUP BY step"),
            (std::vector<std::vector<std::string>>{{"1", "3"}}));
  EXPECT_EQ(query_one(reader, "SELECT group_concat(step) FROM steps"), "1");
}

TEST(RolloutStore, AnErrorNobodyWasToldOfIsPrintedByTheDestructor) {
  testing::TempDir dir;
  {
    RolloutStore store = RolloutStore::open(dir / "r.db", "run", "");
    poison(dir / "r.db");
    std::vector<RolloutRecord> bad = make_step(1, 1);
    bad[0].task_id = "poison";
    store.write_step(1, bad, {});
    ::testing::internal::CaptureStderr();
  }
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("ponder: rollout store"), std::string::npos) << err;
  EXPECT_NE(err.find("poisoned row (step 1 was not written"), std::string::npos) << err;
}

TEST(RolloutStore, WriteStepBlocksWhileTheQueueIsFull) {
  testing::TempDir dir;
  RolloutStore store = RolloutStore::open(dir / "r.db", "run", "", {.queue_steps = 1});
  // Another connection holds the write lock, so the writer waits on it.
  sqlite::Database other(dir / "r.db", sqlite::Database::Mode::kReadWriteCreate);
  other.exec("BEGIN IMMEDIATE");
  std::atomic<int> returned = 0;
  std::thread producer([&] {
    for (int step = 1; step <= 3; ++step) {
      store.write_step(step, make_step(step, 2), {});
      ++returned;
    }
  });
  // Step 1 is with the writer, step 2 fills the one-step queue, step 3 waits.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (returned < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_EQ(returned.load(), 2);
  other.exec("COMMIT");
  producer.join();
  EXPECT_EQ(returned.load(), 3);
  store.flush();
  EXPECT_EQ(query_one(StoreReader::open(dir / "r.db"), "SELECT count(*) FROM steps"), "3");
}

TEST(RolloutStore, DestructorDrainsTheQueue) {
  testing::TempDir dir;
  {
    RolloutStore store = RolloutStore::open(dir / "r.db", "run", "", {.queue_steps = 64});
    for (int step = 0; step < 50; ++step) store.write_step(step, make_step(step, 10), {});
  }
  EXPECT_EQ(query_one(StoreReader::open(dir / "r.db"), "SELECT count(*) FROM rollouts"), "500");
}

TEST(RolloutStore, MovingAStoreKeepsItsRows) {
  testing::TempDir dir;
  RolloutStore first = RolloutStore::open(dir / "r.db", "run", "");
  first.write_step(1, make_step(1, 2), {});
  RolloutStore second = std::move(first);
  second.write_step(2, make_step(2, 2), {});
  second.flush();
  EXPECT_EQ(query_one(StoreReader::open(dir / "r.db"), "SELECT count(*) FROM rollouts"), "4");
  // Assigning over a store drains it first.
  second.write_step(3, make_step(3, 5), {});
  second = RolloutStore::open(dir / "other.db", "run", "");
  EXPECT_EQ(query_one(StoreReader::open(dir / "r.db"), "SELECT count(*) FROM rollouts"), "9");
}

}  // namespace
}  // namespace ponder
