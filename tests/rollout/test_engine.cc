// The generation engine: the tool loop against a scripted decoder, sampling
// rules on hand-built distributions, determinism, and log-prob parity with
// the training forward.
#include "rollout/engine.h"

#include <cmath>
#include <map>
#include <mutex>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/chat.h"
#include "policy/cpu/cpu_backend.h"

namespace ponder {
namespace {

// No merges: ids of text are its bytes. Specials: bos 256, user 257,
// assistant 258, end 259, think 260, /think 261, tool_call 262, /tool_call
// 263, tool_result 264, /tool_result 265, answer 266, /answer 267.
const Tokenizer& bytes_tokenizer() {
  static const Tokenizer t({}, gpt4_style_pattern(1));
  return t;
}
constexpr TokenId kEnd = 259, kThink = 260, kThinkEnd = 261, kCall = 262, kCallEnd = 263,
                  kResult = 264, kResultEnd = 265, kAnswer = 266, kAnswerEnd = 267;

std::vector<TokenId> text(const std::string& s) {
  return {s.begin(), s.end()};
}

template <typename... Parts>
std::vector<TokenId> seq(const Parts&... parts) {
  std::vector<TokenId> out;
  auto add = [&](const auto& p) {
    if constexpr (std::is_same_v<std::decay_t<decltype(p)>, TokenId>) {
      out.push_back(p);
    } else {
      out.insert(out.end(), p.begin(), p.end());
    }
  };
  (add(parts), ...);
  return out;
}

// A "model" that samples row r's script, one token per decode call it is in.
class ScriptedDecoder final : public Decoder {
 public:
  explicit ScriptedDecoder(std::vector<std::vector<TokenId>> scripts)
      : scripts_(std::move(scripts)) {}
  int vocab_size() const override { return 270; }
  int max_positions() const override { return 4096; }
  void begin(int rows, int) override { emitted_.assign(rows, 0); }
  void decode(std::span<const int> rows, std::span<const int>, std::span<const TokenId> tokens,
              float* logits) override {
    fed.insert(fed.end(), tokens.begin(), tokens.end());
    for (size_t i = 0; i < rows.size(); ++i) {
      float* row = logits + i * vocab_size();
      std::fill(row, row + vocab_size(), -10.0f);
      const bool last_of_row = i + 1 == rows.size() || rows[i + 1] != rows[i];
      if (!last_of_row) continue;
      const auto& script = scripts_[rows[i]];
      const size_t k = emitted_[rows[i]]++;
      row[k < script.size() ? script[k] : kEnd] = 10.0f;
    }
  }
  void copy_prefix(int, int, int) override {}
  std::vector<TokenId> fed;

 private:
  std::vector<std::vector<TokenId>> scripts_;
  std::vector<size_t> emitted_;
};

struct RecordingTools {
  std::mutex mutex;
  std::vector<std::pair<std::string, std::string>> calls;
  std::string reply = "2";
  ToolCaller caller() {
    return [this](std::string_view tool, std::string_view input) {
      std::lock_guard lock(mutex);
      calls.emplace_back(tool, input);
      return ToolOutcome{reply, "ok", 1.5};
    };
  }
};

GenerationOptions greedy() {
  GenerationOptions o;
  o.sampler.temperature = 0;
  return o;
}

const std::vector<std::vector<TokenId>> kPrompt = {{256, 257, 'q', kEnd, 258}};

TEST(Engine, RunsAToolCallAndForcesItsResultIntoTheRow) {
  const auto script = seq(kThink, text("hi"), kThinkEnd, kCall, text("python\n1+1"), kCallEnd,
                          kAnswer, text("2"), kAnswerEnd, kEnd);
  ScriptedDecoder decoder({script});
  RecordingTools tools;
  Engine engine(decoder, bytes_tokenizer(), tools.caller());
  const auto rollouts = engine.generate(kPrompt, 1, greedy());
  ASSERT_EQ(rollouts.size(), 1u);
  const Rollout& r = rollouts[0];
  EXPECT_EQ(r.finish_reason, "end");
  ASSERT_EQ(tools.calls.size(), 1u);
  EXPECT_EQ(tools.calls[0], (std::pair<std::string, std::string>{"python", "1+1"}));
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].outcome.output, "2");
  // The sampled script with the forced result spliced in after the call's end.
  const auto expected = seq(kThink, text("hi"), kThinkEnd, kCall, text("python\n1+1"), kCallEnd,
                            kResult, text("2"), kResultEnd, kAnswer, text("2"), kAnswerEnd, kEnd);
  EXPECT_EQ(r.ids, expected);
  const size_t forced_at = 1 + 2 + 1 + 1 + 10 + 1;  // after <|/tool_call|>
  for (size_t i = 0; i < r.ids.size(); ++i) {
    const bool forced = i >= forced_at && i < forced_at + 3;
    EXPECT_EQ(r.mask[i], forced ? 0 : 1) << i;
    if (forced) {
      EXPECT_EQ(r.logprobs[i], 0.0f);
    }
  }
  EXPECT_EQ(r.thinking, "hi");
  EXPECT_EQ(r.thinking_tokens, 2);
  EXPECT_THAT(r.text, ::testing::HasSubstr("<|tool_result|>2<|/tool_result|>"));
}

TEST(Engine, AMalformedCallGetsAnErrorResultAndTheRowGoesOn) {
  const auto script = seq(kCall, text("no newline"), kCallEnd, kAnswer, text("1"), kAnswerEnd);
  ScriptedDecoder decoder({script});
  RecordingTools tools;
  Engine engine(decoder, bytes_tokenizer(), tools.caller());
  const Rollout r = engine.generate(kPrompt, 1, greedy())[0];
  EXPECT_TRUE(tools.calls.empty());
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].outcome.status, "error");
  EXPECT_EQ(r.finish_reason, "end");
  EXPECT_THAT(r.text, ::testing::HasSubstr("<|answer|>1<|/answer|>"));
}

TEST(Engine, ACallBeyondTheBudgetEndsTheRollout) {
  const auto call = seq(kCall, text("python\n1"), kCallEnd);
  ScriptedDecoder decoder({seq(call, call, call)});
  RecordingTools tools;
  Engine engine(decoder, bytes_tokenizer(), tools.caller());
  GenerationOptions options = greedy();
  options.max_tool_calls = 2;
  const Rollout r = engine.generate(kPrompt, 1, options)[0];
  EXPECT_EQ(r.finish_reason, "tool_budget");
  EXPECT_EQ(tools.calls.size(), 2u);
}

TEST(Engine, AHugeResultIsCutToTheCap) {
  ScriptedDecoder decoder({seq(kCall, text("python\nx"), kCallEnd, kAnswer)});
  RecordingTools tools;
  tools.reply = std::string(5000, 'z');
  Engine engine(decoder, bytes_tokenizer(), tools.caller());
  GenerationOptions options = greedy();
  options.max_result_tokens = 40;
  options.max_new_tokens = 200;
  const Rollout r = engine.generate(kPrompt, 1, options)[0];
  int forced = 0;
  for (uint8_t m : r.mask) forced += m == 0;
  EXPECT_LE(forced, 40 + 2 + static_cast<int>(std::string("…[truncated]").size()));
  EXPECT_THAT(r.text, ::testing::HasSubstr("…[truncated]"));
}

TEST(Engine, StopsAtTheTokenBudget) {
  ScriptedDecoder decoder({text(std::string(100, 'a'))});
  RecordingTools tools;
  Engine engine(decoder, bytes_tokenizer(), tools.caller());
  GenerationOptions options = greedy();
  options.max_new_tokens = 10;
  const Rollout r = engine.generate(kPrompt, 1, options)[0];
  EXPECT_EQ(r.finish_reason, "length");
  EXPECT_EQ(r.ids.size(), 10u);
}

TEST(Engine, WithToolsOffTheCallTokenIsNeverSampled) {
  ScriptedDecoder decoder({seq(kCall, kCall, kCall)});
  Engine engine(decoder, bytes_tokenizer(), {});
  GenerationOptions options = greedy();
  options.tools = false;
  options.max_new_tokens = 3;
  const Rollout r = engine.generate(kPrompt, 1, options)[0];
  for (TokenId id : r.ids) EXPECT_NE(id, kCall);
}

TEST(Engine, RowsAdvanceIndependently) {
  ScriptedDecoder decoder({seq(text("a"), kEnd), seq(text("bbbbbb"), kEnd)});
  RecordingTools tools;
  Engine engine(decoder, bytes_tokenizer(), tools.caller());
  const auto rollouts = engine.generate({kPrompt[0], kPrompt[0]}, 1, greedy());
  EXPECT_EQ(rollouts[0].ids, seq(text("a"), kEnd));
  EXPECT_EQ(rollouts[1].ids, seq(text("bbbbbb"), kEnd));
}

// ---- sampling rules ----

std::vector<float> logits_of(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  return l;
}

std::map<TokenId, int> draw(const std::vector<float>& logits, const SamplerOptions& options, int n,
                            uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::map<TokenId, int> counts;
  for (int i = 0; i < n; ++i) {
    ++counts[sample_token(logits.data(), static_cast<int>(logits.size()), options, rng).id];
  }
  return counts;
}

TEST(Sampler, TopKKeepsTheKMostLikely) {
  const auto logits = logits_of({0.5, 0.3, 0.15, 0.05});
  const auto counts = draw(logits, {1.0, 2, 1.0}, 20000);
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_NEAR(counts.at(0) / 20000.0, 0.5 / 0.8, 0.02);
}

TEST(Sampler, TopPKeepsTheSmallestSetReachingP) {
  const auto logits = logits_of({0.15, 0.5, 0.05, 0.3});
  const auto counts = draw(logits, {1.0, 0, 0.75}, 20000);  // 0.5 + 0.3 reaches 0.75
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_TRUE(counts.count(1) && counts.count(3));
  EXPECT_NEAR(counts.at(1) / 20000.0, 0.5 / 0.8, 0.02);
}

TEST(Sampler, TemperatureZeroIsGreedyAndLogProbsAreUntempered) {
  const auto logits = logits_of({0.2, 0.7, 0.1});
  std::mt19937_64 rng(3);
  const SampledToken t = sample_token(logits.data(), 3, {0.0, 0, 1.0}, rng);
  EXPECT_EQ(t.id, 1);
  EXPECT_NEAR(t.logprob, std::log(0.7), 1e-6);
  const SampledToken hot = sample_token(logits.data(), 3, {5.0, 0, 1.0}, rng);
  EXPECT_NEAR(hot.logprob, std::log(std::vector<double>{0.2, 0.7, 0.1}[hot.id]), 1e-6);
}

TEST(Sampler, SameSeedSameTokens) {
  const auto logits = logits_of({0.25, 0.25, 0.25, 0.25});
  EXPECT_EQ(draw(logits, {}, 500, 9), draw(logits, {}, 500, 9));
  EXPECT_NE(draw(logits, {}, 500, 9), draw(logits, {}, 500, 10));
}

// ---- the real model ----

TEST(Engine, RecordedLogProbsEqualTheTrainingForward) {
  CpuBackend<float> backend;
  ModelConfig config;
  config.vocab_size = 270;
  config.hidden_size = 32;
  config.intermediate_size = 48;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.max_position_embeddings = 64;
  Model<float> model(backend, config);
  model.init_weights(11, 0.3);
  ModelDecoder decoder(model);
  Engine engine(decoder, bytes_tokenizer(), {});
  GenerationOptions options;
  options.tools = false;
  options.max_new_tokens = 20;
  options.seed = 5;
  const std::vector<std::vector<TokenId>> prompts = {{256, 257, 'a', 'b', kEnd, 258},
                                                     {256, 257, 'x', kEnd, 258}};
  const auto rollouts = engine.generate(prompts, 2, options);
  ASSERT_EQ(rollouts.size(), 4u);
  for (const Rollout& r : rollouts) {
    std::vector<TokenId> ids = prompts[r.prompt];
    const size_t prompt_len = ids.size();
    ids.insert(ids.end(), r.ids.begin(), r.ids.end());
    const int n = static_cast<int>(ids.size()) - 1;
    const std::vector<TokenId> inputs(ids.begin(), ids.end() - 1),
        targets(ids.begin() + 1, ids.end());
    const std::vector<float> weights(n, 1.0f);
    model.forward(inputs.data(), targets.data(), weights.data(), 1, n);
    const auto& logprobs = model.token_logprobs();
    for (size_t i = 0; i < r.ids.size(); ++i) {
      EXPECT_NEAR(r.logprobs[i], logprobs[prompt_len - 1 + i], 1e-4) << "token " << i;
    }
  }
  // Same seed, same rollouts.
  const auto again = engine.generate(prompts, 2, options);
  for (size_t i = 0; i < rollouts.size(); ++i) EXPECT_EQ(again[i].ids, rollouts[i].ids);
}

}  // namespace
}  // namespace ponder
