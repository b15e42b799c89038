// `ponder eval`: run_eval against a scripted model (the --tools off guarantee,
// scoring, long prompts), the results file, the comparison, and the command
// end to end on a tiny random checkpoint (store rows, steps that accumulate,
// errors).
#include "app/eval.h"

#include <cstdio>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "app/config.h"
#include "policy/checkpoint.h"
#include "policy/cpu/cpu_backend.h"
#include "policy/error.h"
#include "policy/pretokenizer.h"
#include "rollout/store_reader.h"
#include "tests/test_util.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// No merges: text is bytes; the special tokens follow the 256 bytes.
const Tokenizer& bytes_tokenizer() {
  static const Tokenizer t({}, gpt4_style_pattern(1));
  return t;
}

TokenId special(Special s) {
  return bytes_tokenizer().special_id(s);
}

// A bigram "model": the next token depends only on the last one. It always
// wants to call a tool first (an empty call: the engine answers it with an
// error); when it cannot, it answers 4: <|answer|>4<|/answer|><|end|>.
class ToolHappyDecoder final : public Decoder {
 public:
  int vocab_size() const override { return bytes_tokenizer().vocab_size(); }
  int max_positions() const override { return 96; }
  void begin(int, int) override {}
  void copy_prefix(int, int, int) override {}
  void decode(std::span<const int> rows, std::span<const int>, std::span<const TokenId> tokens,
              float* logits) override {
    for (size_t i = 0; i < rows.size(); ++i) {
      float* row = logits + i * vocab_size();
      std::fill(row, row + vocab_size(), 0.0f);
      const TokenId last = tokens[i];
      if (last == special(Special::kToolCallStart)) {
        row[special(Special::kToolCallEnd)] = 10;
      } else if (last == special(Special::kAnswerStart)) {
        row['4'] = 10;
      } else if (last == '4') {
        row[special(Special::kAnswerEnd)] = 10;
      } else if (last == special(Special::kAnswerEnd)) {
        row[special(Special::kEnd)] = 10;
      } else {
        row[special(Special::kToolCallStart)] = 10;
        row[special(Special::kAnswerStart)] = 5;
      }
    }
  }
};

Task numeric_task(const std::string& id, const std::string& prompt, const std::string& answer,
                  int difficulty) {
  Task t;
  t.id = id;
  t.family = Family::kGsm8k;
  t.split = Split::kEval;
  t.prompt = prompt;
  t.answer = answer;
  t.difficulty = difficulty;
  return t;
}

const Benchmark& scripted_benchmark() {
  static const Benchmark b{
      "mine",
      {numeric_task("mine/1", "2 + 2?", "4", 1), numeric_task("mine/2", "2 + 3?", "5", 1),
       numeric_task("mine/3", std::string(120, 'x'), "4", 2)}};
  return b;
}

EvalResults scripted_eval(bool tools) {
  ToolHappyDecoder decoder;
  const ToolCaller no_tools = [](std::string_view, std::string_view) {
    return ToolOutcome{"no tools here", "error", 0};
  };
  Engine engine(decoder, bytes_tokenizer(), no_tools);
  EvalOptions options;
  options.samples = 2;
  options.generation.sampler.temperature = 0;
  options.generation.max_new_tokens = 40;
  options.generation.max_tool_calls = 1;
  options.generation.tools = tools;
  return run_eval(engine, bytes_tokenizer(), {scripted_benchmark()}, options, 7);
}

TEST(RunEval, ToolsOffNeverSamplesAToolCall) {
  const EvalResults on = scripted_eval(true);
  const EvalResults off = scripted_eval(false);
  ASSERT_EQ(on.records.size(), 6u);
  ASSERT_EQ(off.records.size(), 6u);
  // The same model calls a tool first whenever it may...
  int calls_on = 0;
  for (const RolloutRecord& r : on.records) calls_on += static_cast<int>(r.tool_calls.size());
  EXPECT_EQ(calls_on, 4);  // two answerable problems, two samples each
  EXPECT_GT(on.benchmarks[0].all.tool_calls, 0);
  // ... and never with tools off: no call, no call token, and the answer it gives instead.
  for (const RolloutRecord& r : off.records) {
    EXPECT_TRUE(r.tool_calls.empty());
    EXPECT_THAT(r.completion, Not(HasSubstr("<|tool_call|>")));
    for (int32_t id : r.token_ids) EXPECT_NE(id, special(Special::kToolCallStart));
  }
  EXPECT_EQ(off.benchmarks[0].all.tool_calls, 0);
}

TEST(RunEval, ScoresEveryRolloutAndKeepsItForTheStore) {
  const EvalResults r = scripted_eval(false);
  for (size_t i = 0; i < r.records.size(); ++i) {
    const RolloutRecord& record = r.records[i];
    EXPECT_EQ(record.step, 7);
    EXPECT_EQ(record.split, "eval");
    EXPECT_EQ(record.benchmark, "mine");
    EXPECT_EQ(record.task_id, scripted_benchmark().tasks[i / 2].id);  // problem-major
  }
  EXPECT_EQ(r.records[0].completion, "<|answer|>4<|/answer|><|end|>");
  EXPECT_TRUE(r.records[0].correct);
  EXPECT_FALSE(r.records[2].correct);  // the same answer to a problem whose answer is 5
  // The third prompt does not fit the model's 96 positions: empty, cut off.
  EXPECT_EQ(r.records[4].completion, "");
  EXPECT_EQ(r.records[4].finish_reason, "length");

  ASSERT_EQ(r.benchmarks.size(), 1u);
  const BenchmarkResult& b = r.benchmarks[0];
  EXPECT_EQ(b.all.problems, 3);
  EXPECT_EQ(b.all.samples, 2);
  EXPECT_NEAR(b.all.pass_at_1, 1.0 / 3, 1e-12);
  EXPECT_NEAR(b.all.pass_at_k, 1.0 / 3, 1e-12);
  EXPECT_NEAR(b.all.maj_at_k, 1.0 / 3, 1e-12);
  EXPECT_NEAR(b.all.format_error_rate, 2.0 / 6, 1e-12);
  EXPECT_NEAR(b.all.response_tokens, 4 * 4 / 6.0, 1e-12);
  ASSERT_EQ(b.by_difficulty.size(), 2u);
  EXPECT_EQ(b.by_difficulty[0].first, 1);
  EXPECT_NEAR(b.by_difficulty[0].second.pass_at_1, 0.5, 1e-12);
  EXPECT_EQ(b.by_difficulty[1].first, 2);
  EXPECT_EQ(b.by_difficulty[1].second.format_error_rate, 1.0);

  std::map<std::string, double> values;
  add_eval_metrics(r, values);
  EXPECT_NEAR(values.at("eval/mine/pass@1"), 1.0 / 3, 1e-12);
  EXPECT_NEAR(values.at("eval/mine/format_error_rate"), 2.0 / 6, 1e-12);
}

TEST(EvalReport, RoundTripsThroughItsFileAndCompares) {
  EvalReport a;
  a.checkpoint = "runs/out/x/rl/checkpoints/step_00000080";
  a.checkpoint_step = 80;
  a.options.samples = 4;
  a.options.generation.sampler.temperature = 0.7;
  a.options.generation.tools = false;
  a.options.generation.seed = 9;
  a.limit = 100;
  a.database = "runs/out/x/rollouts.db";
  a.run = "eval";
  a.step = 3;
  a.benchmarks = scripted_eval(false).benchmarks;
  testing::TempDir dir;
  testing::write_file(dir / "a.json", to_json(a).dump(2));
  const EvalReport back = read_eval_report(dir / "a.json");
  EXPECT_EQ(to_json(back), to_json(a));
  EXPECT_EQ(back.benchmarks[0].by_difficulty[1].second.problems, 1);

  // B much better on 500 problems: beyond noise; the same result: not.
  EvalReport b = a;
  for (EvalReport* r : {&a, &b}) {
    r->benchmarks[0].all.problems = 500;
    r->benchmarks[0].all.pass_at_1 = r == &a ? 0.3 : 0.4;
  }
  b.benchmarks.push_back({"extra", {}, {}});
  const std::string table = format_comparison(a, b);
  EXPECT_THAT(table, HasSubstr("+0.100"));
  EXPECT_THAT(table, HasSubstr("yes"));
  EXPECT_THAT(table, HasSubstr("only in B"));
  EXPECT_THAT(format_comparison(a, a), Not(HasSubstr("yes")));
  EXPECT_THAT(format_eval_table(a.benchmarks), HasSubstr("pass@2"));

  testing::write_file(dir / "bad.json", "{\"checkpoint\": 1}");
  EXPECT_THROW(read_eval_report(dir / "bad.json"), Error);
  EXPECT_THROW(read_eval_report(dir / "absent.json"), Error);
}

// The command on a random tiny checkpoint in a run folder.
class EvalCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    const Config config = Config::load("", {"tasks.lookup_entities=40", "rl.max_new_tokens=6"});
    std::filesystem::create_directories(run_);
    testing::write_file(run_ / "config.toml", config.to_toml());
    const ModelConfig model_config{.vocab_size = bytes_tokenizer().vocab_size(),
                                   .hidden_size = 32,
                                   .intermediate_size = 64,
                                   .num_hidden_layers = 1,
                                   .num_attention_heads = 2,
                                   .num_key_value_heads = 1,
                                   .max_position_embeddings = 256};
    CpuBackend<float> backend;
    Model<float> model(backend, model_config);
    model.init_weights(1, 0.02);
    Checkpoint checkpoint{model_config, model.get_params(), {}, {}, {}};
    checkpoint.state.step = 3;
    save_checkpoint(checkpoint_, checkpoint, bytes_tokenizer());
  }

  // Runs `ponder eval ARGS`; returns the exit status, output in `output`.
  int ponder_eval(const std::string& args, std::string& output) const {
    FILE* pipe = popen((std::string(PONDER_BINARY) + " eval " + args + " 2>&1").c_str(), "r");
    output.clear();
    char buffer[4096];
    for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
    return pclose(pipe);
  }

  testing::TempDir dir_;
  std::filesystem::path run_ = dir_ / "run";
  std::filesystem::path checkpoint_ = run_ / "rl/checkpoints/step_00000003";
};

TEST_F(EvalCommand, StoresEveryRolloutAndWritesResults) {
  std::string out;
  const std::string args = checkpoint_.string() + " --bench count,arith --limit 4 --samples 2";
  ASSERT_EQ(ponder_eval(args + " --tools off", out), 0) << out;
  EXPECT_THAT(out, HasSubstr("pass@2"));
  EXPECT_THAT(out, HasSubstr("count"));
  // A second evaluation is a new step: it replaces nothing.
  ASSERT_EQ(ponder_eval(args + " --tools off --temperature 0.5 --seed 3", out), 0) << out;

  const auto db = run_ / "rollouts.db";  // the run folder's database, found from the checkpoint
  const StoreReader reader = StoreReader::open(db);
  RolloutFilter filter;
  filter.run = "eval";
  const auto rows = reader.list(filter);
  ASSERT_EQ(rows.size(), 2u * 2 * 4 * 2);  // invocations x benchmarks x problems x samples
  for (const auto& r : rows) {
    EXPECT_EQ(r.split, "eval");
    EXPECT_TRUE(r.benchmark == "count" || r.benchmark == "arith") << r.benchmark;
    EXPECT_EQ(r.num_tool_calls, 0);
    EXPECT_LE(r.completion_tokens, 6);  // the config's rl.max_new_tokens
  }
  const StoreSummary summary = reader.summary("eval");
  ASSERT_EQ(summary.evals.size(), 4u);
  EXPECT_EQ(summary.evals[0].step, 1);
  EXPECT_EQ(summary.evals[3].step, 2);
  EXPECT_EQ(summary.evals[0].n, 8);

  const EvalReport first = read_eval_report(run_ / "eval/eval_000001.json");
  EXPECT_EQ(first.checkpoint_step, 3);
  EXPECT_EQ(first.step, 1);
  EXPECT_EQ(first.options.generation.sampler.temperature, 1.0);  // the default for 2 samples
  EXPECT_FALSE(first.options.generation.tools);
  ASSERT_EQ(first.benchmarks.size(), 2u);
  EXPECT_EQ(first.benchmarks[0].name, "count");
  EXPECT_EQ(first.benchmarks[0].all.problems, 4);
  EXPECT_EQ(first.benchmarks[0].by_difficulty.size(), 4u);  // 4 problems: levels 1 to 4
  EXPECT_EQ(read_eval_report(run_ / "eval/eval_000002.json").options.generation.seed, 3u);

  ASSERT_EQ(ponder_eval("--compare " + (run_ / "eval/eval_000001.json").string() + " " +
                            (run_ / "eval/eval_000002.json").string(),
                        out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("beyond noise"));
}

TEST_F(EvalCommand, BadBenchmarksAndArgumentsAreClearErrors) {
  std::string out;
  testing::write_file(dir_ / "mine.jsonl", "{\"question\": \"q\", \"answer\": \"1\"}\n{oops\n");
  EXPECT_NE(ponder_eval(checkpoint_.string() + " --bench " + (dir_ / "mine.jsonl").string(), out),
            0);
  EXPECT_THAT(out, HasSubstr("mine.jsonl:2: not valid JSON"));
  EXPECT_NE(ponder_eval(checkpoint_.string() + " --bench gsm9k", out), 0);
  EXPECT_THAT(out, HasSubstr("unknown benchmark `gsm9k`"));
  EXPECT_NE(ponder_eval("", out), 0);
  EXPECT_THAT(out, HasSubstr("give a checkpoint"));
  // A checkpoint outside a run folder needs --db.
  std::filesystem::rename(checkpoint_, dir_ / "loose");
  EXPECT_NE(ponder_eval((dir_ / "loose").string() + " --bench count --limit 1", out), 0);
  EXPECT_THAT(out, HasSubstr("--db"));
  EXPECT_FALSE(std::filesystem::exists(run_ / "rollouts.db"));
}

}  // namespace
}  // namespace ponder
