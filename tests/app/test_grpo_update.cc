// The GRPO update (app/grpo_update.h) on a tiny model: micro-batching does not
// change the gradient, untrained tokens get none, and the learning test — a
// toy task where one of K answers is rewarded — drives that answer's
// probability above 0.9 within a fixed number of steps.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "app/grpo_update.h"
#include "policy/chat.h"
#include "policy/cpu/cpu_backend.h"
#include "policy/optimizer.h"
#include "policy/pretokenizer.h"
#include "rollout/engine.h"

namespace ponder {
namespace {

const Tokenizer& bytes_tokenizer() {
  static const Tokenizer t({}, gpt4_style_pattern(1));
  return t;
}

ModelConfig tiny_config() {
  ModelConfig c;
  c.vocab_size = bytes_tokenizer().vocab_size();
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.max_position_embeddings = 64;
  return c;
}

std::vector<float> gradients(Model<float>& model) {
  std::vector<float> g(model.num_parameters());
  model.backend().download(g.data(), model.grads(), g.size());
  return g;
}

struct Fixture {
  std::vector<TokenId> prompt_a{1, 2, 3}, prompt_b{4, 5};
  std::vector<TokenId> completion_a{10, 11, 12, 13}, completion_b{20, 21};
  std::vector<uint8_t> mask_a{1, 0, 1, 1}, mask_b{1, 1};
  std::vector<PolicySample> samples() const {
    return {PolicySample{prompt_a, completion_a, mask_a, 0.7, false},
            PolicySample{prompt_b, completion_b, mask_b, -0.4, false}};
  }
};

TEST(GrpoUpdate, MicroBatchSizeDoesNotChangeTheGradient) {
  CpuBackend<float> backend;
  Model<float> model(backend, tiny_config());
  model.init_weights(7, 0.1);
  const Fixture f;
  const auto samples = f.samples();
  const std::vector<std::vector<float>> old = completion_logprobs(model, samples, 2);
  for (auto& per_sample : old) ASSERT_FALSE(per_sample.empty());
  EXPECT_EQ(old[0][1], 0.0f);  // a forced token has no log-prob

  GrpoConfig config;
  model.zero_grad();
  const GrpoUpdateStats one = accumulate_grpo_gradients(model, samples, {}, {}, config, 1);
  const std::vector<float> g1 = gradients(model);
  model.zero_grad();
  const GrpoUpdateStats two = accumulate_grpo_gradients(model, samples, old, {}, config, 2);
  const std::vector<float> g2 = gradients(model);
  EXPECT_EQ(one.tokens, 5);  // the forced token does not count
  EXPECT_EQ(two.tokens, 5);
  EXPECT_NEAR(one.loss, two.loss, 1e-6);
  double norm = 0;
  for (size_t i = 0; i < g1.size(); ++i) {
    EXPECT_NEAR(g1[i], g2[i], 1e-5 + 1e-3 * std::abs(g1[i])) << "parameter " << i;
    norm += std::abs(g1[i]);
  }
  EXPECT_GT(norm, 0);
}

TEST(GrpoUpdate, UntrainedTokensGetNoGradient) {
  CpuBackend<float> backend;
  Model<float> model(backend, tiny_config());
  model.init_weights(7, 0.1);
  const Fixture f;
  const std::vector<uint8_t> forced(4, 0);
  // All forced (a tool result), or truncated under mask_truncated: nothing to train.
  const std::vector<PolicySample> all_forced = {
      PolicySample{f.prompt_a, f.completion_a, forced, 1.0, false}};
  const std::vector<PolicySample> truncated = {
      PolicySample{f.prompt_a, f.completion_a, f.mask_a, 1.0, true}};
  GrpoConfig config;
  config.mask_truncated = true;
  for (const auto* samples : {&all_forced, &truncated}) {
    model.zero_grad();
    const GrpoUpdateStats stats = accumulate_grpo_gradients(model, *samples, {}, {}, config, 4);
    EXPECT_EQ(stats.tokens, 0);
    for (float g : gradients(model)) ASSERT_EQ(g, 0.0f);
  }
}

// Records what backward reports.
struct OffsetListener : GradientListener {
  void gradients_final_from(size_t offset) override { offsets.push_back(offset); }
  std::vector<size_t> offsets;
};

TEST(GrpoUpdate, OnlyTheLastBackwardReportsAndARankWithNothingReportsAtOnce) {
  CpuBackend<float> backend;
  Model<float> model(backend, tiny_config());
  model.init_weights(7, 0.1);
  const Fixture f;
  const std::vector<PolicySample> samples = f.samples();
  OffsetListener two_micro_batches;
  model.zero_grad();
  accumulate_grpo_gradients(model, samples, {}, {}, GrpoConfig{}, 1, {}, &two_micro_batches);
  // One backward's reports: the final norm's offset, then one per layer, then 0.
  ASSERT_EQ(two_micro_batches.offsets.size(), tiny_config().num_hidden_layers + 2u);
  EXPECT_EQ(two_micro_batches.offsets.back(), 0u);
  // No samples on this rank: every gradient is final before any collective.
  OffsetListener none;
  accumulate_grpo_gradients(model, {}, {}, {}, GrpoConfig{}, 1, {}, &none);
  EXPECT_EQ(none.offsets, std::vector<size_t>{0});
}

// K = 4 answers 'a'..'d', one token each; only 'c' is rewarded. A few SFT
// steps first spread the policy over the four, so GRPO starts near 1/4.
TEST(GrpoUpdate, LearnsWhichOfKAnswersIsRewarded) {
  const Tokenizer& tokenizer = bytes_tokenizer();
  CpuBackend<float> backend;
  Model<float> model(backend, tiny_config());
  model.init_weights(11, 0.05);
  AdamW<float> adam(backend, model.specs(), model.params(), model.grads(), AdamWConfig{});
  const std::vector<TokenId> prompt = render_prompt(tokenizer, user_turn("pick one"));
  const int seq = static_cast<int>(prompt.size());
  const std::vector<TokenId> answers = {'a', 'b', 'c', 'd'};
  const TokenId rewarded = 'c';

  auto probability_of = [&](TokenId answer) {
    std::vector<TokenId> targets(prompt.size(), -1);
    targets.back() = answer;
    const std::vector<float> zeros(prompt.size(), 0.0f);
    model.forward(prompt.data(), targets.data(), zeros.data(), 1, seq);
    return std::exp(static_cast<double>(model.token_logprobs().back()));
  };

  // SFT towards the uniform mixture of the K answers.
  for (int step = 0; step < 60; ++step) {
    std::vector<TokenId> inputs, targets;
    std::vector<float> weights;
    for (TokenId answer : answers) {
      inputs.insert(inputs.end(), prompt.begin(), prompt.end());
      targets.insert(targets.end(), prompt.size() - 1, -1);
      targets.push_back(answer);
      weights.insert(weights.end(), prompt.size() - 1, 0.0f);
      weights.push_back(0.25f);
    }
    model.zero_grad();
    model.forward(inputs.data(), targets.data(), weights.data(), 4, seq);
    model.backward();
    adam.step(1e-2);
  }
  double mass = 0;
  for (TokenId answer : answers) mass += probability_of(answer);
  ASSERT_GT(mass, 0.8);
  const double start = probability_of(rewarded);
  ASSERT_LT(start, 0.5);

  ModelDecoder decoder(model);
  Engine engine(decoder, tokenizer, {});
  GenerationOptions options;
  options.max_new_tokens = 1;
  options.tools = false;
  constexpr int kGroup = 8, kPrompts = 4, kSteps = 40;
  const std::vector<std::vector<TokenId>> prompts(kPrompts, prompt);
  double reached = start;
  int steps = 0;
  for (; steps < kSteps && reached <= 0.9; ++steps) {
    options.seed = static_cast<uint64_t>(steps);
    const std::vector<Rollout> rollouts = engine.generate(prompts, kGroup, options);
    std::vector<double> rewards;
    for (const Rollout& r : rollouts) rewards.push_back(r.ids.at(0) == rewarded ? 1.0 : 0.0);
    const std::vector<double> advantages = group_advantages(rewards, kGroup, ScaleRewards::kGroup);
    std::vector<PolicySample> samples;
    for (size_t i = 0; i < rollouts.size(); ++i) {
      samples.push_back(policy_sample(prompt, rollouts[i], advantages[i]));
    }
    model.zero_grad();
    accumulate_grpo_gradients(model, samples, {}, {}, GrpoConfig{}, 16);
    adam.step(1e-2);
    reached = probability_of(rewarded);
  }
  EXPECT_GT(reached, 0.9) << "after " << steps << " steps, from " << start;
}

}  // namespace
}  // namespace ponder
