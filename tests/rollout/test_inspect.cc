// `ponder inspect DB ...` run in-process: the filters, bad inputs, safe
// printing of hostile text, read-only sql, export, and reading while a run
// writes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "app/inspect_commands.h"
#include "policy/error.h"
#include "rollout/rollout_store.h"
#include "rollout/store_reader.h"
#include "rollout/text.h"
#include "tests/rollout/store_test_util.h"
#include "tests/test_util.h"

namespace ponder {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

struct Outcome {
  int exit_code = 0;
  std::string out;
  std::string error;  // a ponder::Error's or CLI11's message
};

Outcome inspect(const std::filesystem::path& db, std::vector<std::string> args) {
  CLI::App app("ponder", "ponder");
  add_inspect_commands(app);
  args.insert(args.begin(), {"ponder", "inspect", db.string()});
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  Outcome outcome;
  ::testing::internal::CaptureStdout();
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    outcome.exit_code = e.get_exit_code();
    outcome.error = e.what();
  } catch (const Error& e) {
    outcome.exit_code = 1;
    outcome.error = e.what();
  }
  outcome.out = ::testing::internal::GetCapturedStdout();
  return outcome;
}

// The ids `list --json` prints for these filter arguments.
std::vector<int64_t> listed(const std::filesystem::path& db, std::vector<std::string> args) {
  args.insert(args.begin(), "list");
  args.insert(args.end(), {"--json", "--limit", "0"});
  const Outcome o = inspect(db, args);
  EXPECT_EQ(o.exit_code, 0) << o.error;
  std::vector<int64_t> ids;
  for (const json& row : json::parse(o.out)) ids.push_back(row["id"].get<int64_t>());
  return ids;
}

std::vector<int64_t> range(int64_t first, int64_t last, int64_t stride = 1) {
  std::vector<int64_t> ids;
  for (int64_t id = first; id <= last; id += stride) ids.push_back(id);
  return ids;
}

class Inspect : public ::testing::Test {
 protected:
  // Steps 1..3 of five train rollouts (ids 1-5, 8-12, 15-19) and two evals
  // each (6-7, 13-14, 20-21), from make_rollout.
  void SetUp() override {
    RolloutStore store = RolloutStore::open(db(), "main", "");
    for (int64_t step = 1; step <= 3; ++step) {
      std::vector<RolloutRecord> rows = testing::make_step(step, 5);
      for (RolloutRecord& r : testing::make_step(step, 2, "eval")) rows.push_back(r);
      store.write_step(step, rows, {{{"loss", 1.0}}, 1.0});
    }
  }
  std::filesystem::path db() const { return dir_ / "rollouts.db"; }

 private:
  testing::TempDir dir_;
};

TEST_F(Inspect, SummaryShowsEachStepAndTheEvals) {
  const Outcome text = inspect(db(), {"summary"});
  ASSERT_EQ(text.exit_code, 0) << text.error;
  EXPECT_THAT(text.out, HasSubstr("run main (train rollouts)"));
  EXPECT_THAT(text.out,
              HasSubstr("step      n  reward    acc  tokens  think  tools  calls  trunc"));
  // make_step(_, 5): rewards 1, .1, .2, 1, .4; 2 of 5 correct; tokens 20..24;
  // calls on i = 1, 3; i = 4 truncated.
  EXPECT_THAT(text.out,
              HasSubstr("       2      5   0.540  40.0%    22.0    5.0  40.0%   0.40  20.0%"));
  EXPECT_THAT(text.out, HasSubstr("run main (evals)"));
  EXPECT_THAT(text.out, Not(HasSubstr("\x1b")));
  const Outcome js = inspect(db(), {"summary", "--json"});
  const json summary = json::parse(js.out);
  ASSERT_EQ(summary["steps"].size(), 3u);
  EXPECT_EQ(summary["steps"][2]["step"], 3);
  EXPECT_DOUBLE_EQ(summary["steps"][2]["accuracy"].get<double>(), 0.4);
  EXPECT_EQ(summary["evals"].size(), 3u);
  EXPECT_EQ(summary["evals"][0]["benchmark"], "arith-eval");
}

TEST_F(Inspect, ListFilters) {
  EXPECT_EQ(listed(db(), {}), range(1, 21));
  EXPECT_EQ(listed(db(), {"--split", "train", "--step", "2"}), range(8, 12));
  EXPECT_EQ(listed(db(), {"--step", "3:"}), range(15, 21));
  EXPECT_EQ(listed(db(), {"--step", ":1"}), range(1, 7));
  EXPECT_EQ(listed(db(), {"--step", "2:3", "--split", "eval"}),
            (std::vector<int64_t>{13, 14, 20, 21}));
  EXPECT_EQ(listed(db(), {"--step", "1", "--family", "count"}), (std::vector<int64_t>{2, 4, 7}));
  EXPECT_EQ(listed(db(), {"--step", "1", "--min-reward", "0.15", "--max-reward", "0.5"}),
            (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(listed(db(), {"--finish", "length"}), (std::vector<int64_t>{5, 12, 19}));
  EXPECT_EQ(listed(db(), {"--step", "1", "--tool-calls"}), (std::vector<int64_t>{2, 4, 7}));
  EXPECT_EQ(listed(db(), {"--step", "1", "--no-tool-calls"}), (std::vector<int64_t>{1, 3, 5, 6}));
  EXPECT_EQ(listed(db(), {"--step", "1", "--correct"}), (std::vector<int64_t>{1, 4, 6}));
  EXPECT_EQ(listed(db(), {"--step", "1", "--wrong"}), (std::vector<int64_t>{2, 3, 5, 7}));
  EXPECT_EQ(listed(db(), {"--run", "main", "--split", "eval", "--step", "1"}),
            (std::vector<int64_t>{6, 7}));
  // Search: prompt or completion, ASCII case-blind, wildcards literal.
  EXPECT_EQ(listed(db(), {"--search", "WHAT IS 3 + 2?"}), (std::vector<int64_t>{11}));
  EXPECT_EQ(listed(db(), {"--search", "<|answer|>5<"}), (std::vector<int64_t>{10, 11, 16, 21}));
  EXPECT_EQ(listed(db(), {"--search", "%"}), std::vector<int64_t>{});
  EXPECT_EQ(listed(db(), {"--step", "1", "--split", "train", "--sort", "tokens", "--desc"}),
            (std::vector<int64_t>{5, 4, 3, 2, 1}));
  // Sorted by reward, highest first (ties by id, descending), three of them.
  const Outcome limited = inspect(
      db(), {"list", "--step", "1", "--sort", "reward", "--desc", "--limit", "3", "--json"});
  std::vector<int64_t> ids;
  for (const json& row : json::parse(limited.out)) ids.push_back(row["id"]);
  EXPECT_EQ(ids, (std::vector<int64_t>{6, 4, 1}));
}

TEST_F(Inspect, ListTextHasOneLinePerRollout) {
  const Outcome o = inspect(db(), {"list", "--step", "1", "--split", "train"});
  ASSERT_EQ(o.exit_code, 0) << o.error;
  EXPECT_EQ(std::count(o.out.begin(), o.out.end(), '\n'), 6);  // a header and five rows
  EXPECT_THAT(o.out, HasSubstr("count/train/s0-d1-1"));
  EXPECT_THAT(o.out, HasSubstr("✗  end             21     1 3 (2)"));
  EXPECT_EQ(inspect(db(), {"list", "--family", "none"}).out, "no rollouts match\n");
}

TEST_F(Inspect, BadFiltersAreClearErrors) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--step", "abc"},
       "--step `abc`: expected a step N or a range A:B, A: or :B of whole "
       "numbers"},
      {{"--step", "1:x"},
       "--step `1:x`: expected a step N or a range A:B, A: or :B of whole "
       "numbers"},
      {{"--step", ":"}, "--step `:`: expected a step N or a range A:B, A: or :B of whole numbers"},
      {{"--step", "5:2"}, "--step 5:2: the range is empty (5 is above 2)"},
      {{"--min-reward", "2", "--max-reward", "1"},
       "--min-reward 2 is above --max-reward 1: nothing can match"},
      {{"--min-reward", "nan"}, "--min-reward nan: expected a finite number"},
      {{"--finish", "stop"}, "--finish `stop`: expected end, length, tool_budget or error"},
      {{"--split", "test"}, "--split `test`: expected train or eval"},
      {{"--sort", "score"},
       "--sort `score`: expected id, step, reward, advantage, tokens, "
       "thinking, tool_calls or seconds"},
      {{"--run", "other"},
       fmt::format("run `other` is not in `{}` (its runs: main)", db().string())},
      {{"--color", "rainbow"}, "--color `rainbow`: expected auto, always or never"},
  };
  for (const auto& [args, message] : cases) {
    std::vector<std::string> full = {"list"};
    full.insert(full.end(), args.begin(), args.end());
    const Outcome o = inspect(db(), full);
    EXPECT_EQ(o.exit_code, 1) << message;
    EXPECT_EQ(o.error, message);
  }
  EXPECT_NE(inspect(db(), {"list", "--limit", "-1"}).exit_code, 0);
  EXPECT_NE(inspect(db(), {"list", "--correct", "--wrong"}).exit_code, 0);
  EXPECT_EQ(inspect(db(), {"show", "999"}).error,
            fmt::format("no rollout 999 in `{}`", db().string()));
  EXPECT_EQ(
      inspect(db().parent_path() / "missing.db", {"summary"}).error,
      fmt::format("rollout database `{}` not found", (db().parent_path() / "missing.db").string()));
}

TEST_F(Inspect, ShowSetsSpansApartAndPrintsHostileTextSafely) {
  testing::TempDir dir;
  RolloutRecord r = testing::make_rollout(1, 1);
  r.completion =
      "<|think|>clear the screen \x1b[2J then\nhide \xe2\x80\xae this<|/think|>"
      "<|tool_call|>python\n6*7<|/tool_call|><|tool_result|>42<|/tool_result|>"
      "<|answer|>42<|/answer|><|end|>";
  r.prompt =
      "bell \x07 and C1 \xc2\x9b"
      "31m";
  {
    RolloutStore store = RolloutStore::open(dir / "r.db", "main", "");
    store.write_step(1, {r}, {});
  }
  const Outcome plain = inspect(dir / "r.db", {"show", "1"});
  ASSERT_EQ(plain.exit_code, 0) << plain.error;
  EXPECT_THAT(plain.out, Not(HasSubstr("\x1b")));  // not a terminal: no colour, no raw escape
  EXPECT_THAT(plain.out, Not(HasSubstr("\x07")));
  EXPECT_THAT(plain.out, Not(HasSubstr("\xe2\x80\xae")));
  EXPECT_THAT(plain.out, Not(HasSubstr("\xc2\x9b")));
  EXPECT_THAT(plain.out, HasSubstr("bell \\x07 and C1 \\u{009b}31m"));
  EXPECT_THAT(plain.out, HasSubstr("[thinking]\n  clear the screen \\x1b[2J then\n"
                                   "  hide \\u{202e} this\n[tool call]\n  python\n  6*7\n"
                                   "[tool result]\n  42\n[answer]\n  42\n[end]\n"));
  EXPECT_THAT(plain.out, HasSubstr("#0 python · ok · 1.5 ms"));
  const Outcome colour = inspect(dir / "r.db", {"show", "1", "--color", "always"});
  EXPECT_THAT(colour.out, HasSubstr("\x1b[2mclear the screen \\x1b[2J then\x1b[0m"));
  EXPECT_THAT(colour.out, HasSubstr("\x1b[32m42\x1b[0m"));
  EXPECT_THAT(colour.out, Not(HasSubstr("\x1b[2J")));
  const json js = json::parse(inspect(dir / "r.db", {"show", "1", "--json"}).out);
  EXPECT_EQ(js["completion"], r.completion);
  EXPECT_EQ(js["tool_calls"][0]["output"], "2");
}

TEST_F(Inspect, SqlIsReadOnly) {
  const Outcome refused = inspect(db(), {"sql", "DELETE FROM rollouts"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_EQ(refused.error,
            "sql: `DELETE FROM rollouts` would change the database; ponder inspect sql runs "
            "read-only statements");
  const Outcome count = inspect(db(), {"sql", "SELECT count(*) AS n, NULL, x'00ff' FROM rollouts"});
  EXPECT_EQ(count.out, "n | NULL | x'00ff'\n21 | NULL | <blob 2 bytes>\n");
  const Outcome js = inspect(db(), {"sql",
                                    "SELECT step, sum(reward) AS total, x'00ff' AS b FROM rollouts "
                                    "WHERE split = 'eval' GROUP BY step",
                                    "--json"});
  EXPECT_EQ(json::parse(js.out),
            json::parse(R"({"columns": ["step", "total", "b"], "rows": [[1, 1.1,
                {"blob_hex": "00ff"}], [2, 1.1, {"blob_hex": "00ff"}], [3, 1.1,
                {"blob_hex": "00ff"}]]})"));
  EXPECT_EQ(inspect(db(), {"sql", "SELECT 1 WHERE 0"}).out, "1\n");  // the header only
}

TEST_F(Inspect, ExportWritesOneObjectPerRollout) {
  const Outcome o = inspect(db(), {"export", "--jsonl", "--step", "2", "--tokens"});
  ASSERT_EQ(o.exit_code, 0) << o.error;
  std::vector<json> lines;
  std::istringstream in(o.out);
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(lines[0]["id"], 8);
  EXPECT_EQ(lines[0]["token_ids"], json::array({1, 2, 3, 0}));
  EXPECT_EQ(lines[1]["tool_calls"][0]["input"], "1+2");
  EXPECT_EQ(lines[1]["extracted_answer"], "4");
  EXPECT_EQ(lines[5]["split"], "eval");
  EXPECT_EQ(lines[5]["benchmark"], "arith-eval");
  const Outcome no_tokens = inspect(db(), {"export", "--jsonl", "--limit", "1"});
  EXPECT_FALSE(json::parse(no_tokens.out).contains("token_ids"));
}

TEST(PrintableText, EscapesWhatATerminalWouldActOn) {
  EXPECT_EQ(printable("plain café 😀 a\tb\nc", false), "plain café 😀 a\tb\nc");
  EXPECT_EQ(printable("a\tb\nc\r", true), "a\\tb\\nc\\x0d");
  EXPECT_EQ(printable("\x1b]0;title\x07\x7f", false), "\\x1b]0;title\\x07\\x7f");
  // Bytes outside UTF-8 (a foreign file): a stray byte, F5..FF, a cut sequence.
  EXPECT_EQ(printable("\x80\xf5\x80\x80\x80\xe2\x82", false),
            "\\x80\\xf5\\x80\\x80\\x80\\xe2\\x82");
  EXPECT_EQ(printable("\xe2\x80\xae\xe2\x81\xa6x\xc2\x85", false), "\\u{202e}\\u{2066}x\\u{0085}");
}

TEST(InspectWhileWriting, SeesWholeStepsAsTheRunWrites) {
  testing::TempDir dir;
  const auto db = dir / "rollouts.db";
  RolloutStore store = RolloutStore::open(db, "live", "");
  constexpr int kSteps = 200, kRows = 25;
  std::atomic<bool> done = false;
  std::thread run([&] {
    for (int step = 0; step < kSteps; ++step) {
      store.write_step(step, testing::make_step(step, kRows), {});
      if (step % 4 == 0) store.flush();
    }
    store.flush();
    done = true;
  });
  int reads = 0, mid_run_reads = 0;
  size_t seen = 0;
  while (!done || reads == 0) {
    const Outcome o = inspect(db, {"summary", "--json"});
    ASSERT_EQ(o.exit_code, 0) << o.error;
    const json steps = json::parse(o.out)["steps"];
    EXPECT_GE(steps.size(), seen);  // never goes back
    seen = steps.size();
    mid_run_reads += seen > 0 && seen < static_cast<size_t>(kSteps);
    for (const json& s : steps) EXPECT_EQ(s["rollouts"], kRows) << "a half-written step";
    ASSERT_EQ(inspect(db, {"list", "--limit", "5"}).exit_code, 0);
    ++reads;
  }
  run.join();
  EXPECT_GT(mid_run_reads, 0);
  EXPECT_EQ(json::parse(inspect(db, {"summary", "--json"}).out)["steps"].size(),
            static_cast<size_t>(kSteps));
}

}  // namespace
}  // namespace ponder
