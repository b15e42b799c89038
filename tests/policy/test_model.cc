// The model beyond its gradients: KV-cache decoding equals the full forward,
// gives a row the same bits whatever the batch and threads, and follows the
// parameters as they change; training drives the loss down, runs are bitwise
// deterministic, and bad inputs are clear errors.
#include "policy/model.h"

#include <cmath>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/cpu/blas.h"
#include "policy/cpu/cpu_backend.h"
#include "policy/error.h"
#include "policy/model_internal.h"
#include "policy/optimizer.h"
#include "tests/policy/decode_test_util.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;

ModelConfig small_config() {
  ModelConfig config;
  config.vocab_size = 64;
  config.hidden_size = 32;
  config.intermediate_size = 48;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.max_position_embeddings = 64;
  return config;
}

// head_dim 16 (the vectorised cached attention), grouped-query attention, and
// widths that are not multiples of the packed matmul's 32-column panel.
ModelConfig decode_config() {
  ModelConfig config = small_config();
  config.vocab_size = 100;
  config.hidden_size = 64;
  config.intermediate_size = 72;
  config.max_position_embeddings = 32;
  return config;
}

std::vector<TokenId> random_tokens(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<TokenId> ids(n);
  for (auto& id : ids) id = static_cast<TokenId>(rng() % vocab);
  return ids;
}

// Logits of every position of `tokens` from one full forward.
std::vector<float> full_logits(Model<float>& model, const std::vector<TokenId>& tokens) {
  const int seq = static_cast<int>(tokens.size());
  const std::vector<TokenId> targets(seq, -1);
  const std::vector<float> weights(seq, 0.0f);
  model.forward(tokens.data(), targets.data(), weights.data(), 1, seq);
  return model.logits();
}

// Max |a − b| over one logits row, relative to the row's largest magnitude.
double row_error(const float* a, const float* b, int vocab) {
  double diff = 0, scale = 1e-6;
  for (int j = 0; j < vocab; ++j) {
    diff = std::max(diff, static_cast<double>(std::abs(a[j] - b[j])));
    scale = std::max(scale, static_cast<double>(std::abs(b[j])));
  }
  return diff / scale;
}

void expect_decode_equals_forward(const ModelConfig& config) {
  CpuBackend<float> be;
  Model<float> model(be, config);
  model.init_weights(5, 0.3);
  const int vocab = config.vocab_size;
  const std::vector<TokenId> a = random_tokens(20, vocab, 1), b = random_tokens(13, vocab, 2);
  const std::vector<float> full_a = full_logits(model, a), full_b = full_logits(model, b);

  KvCache<float> cache(model, 2, 32);
  std::vector<float> logits(5 * vocab);
  // Row 0: a 5-token prefill chunk in one call.
  model.decode(cache, std::vector<int>{0, 0, 0, 0, 0}, std::vector<int>{0, 1, 2, 3, 4},
               std::vector<TokenId>(a.begin(), a.begin() + 5), logits.data());
  for (int t = 0; t < 5; ++t) {
    EXPECT_LT(row_error(&logits[t * vocab], &full_a[t * vocab], vocab), 1e-4) << "prefill " << t;
  }
  // Then both rows advance together, each at its own position.
  for (int step = 0; step < 13; ++step) {
    const int ta = 5 + step;
    std::vector<int> rows = {1}, positions = {step};
    std::vector<TokenId> tokens = {b[step]};
    if (ta < 20) {
      rows.push_back(0);
      positions.push_back(ta);
      tokens.push_back(a[ta]);
    }
    model.decode(cache, rows, positions, tokens, logits.data());
    EXPECT_LT(row_error(&logits[0], &full_b[step * vocab], vocab), 1e-4) << "row 1 step " << step;
    if (ta < 20) {
      EXPECT_LT(row_error(&logits[vocab], &full_a[ta * vocab], vocab), 1e-4) << "row 0 pos " << ta;
    }
  }
}

TEST(ModelDecode, IncrementalLogitsEqualTheFullForward) {
  expect_decode_equals_forward(small_config());   // head_dim 8: the portable attention
  expect_decode_equals_forward(decode_config());  // head_dim 16: the vectorised one
}

// Sets the math threads for one test; back to the default after.
class MathThreads {
 public:
  explicit MathThreads(int threads) { set_math_threads(threads); }
  ~MathThreads() { set_math_threads(0); }
};

TEST(ModelDecode, ARowGetsTheSameBitsWhateverTheBatchAndThreads) {
  CpuBackend<float> be;
  const ModelConfig config = decode_config();
  Model<float> model(be, config);
  model.init_weights(7, 0.3);
  const int rows = 36, steps = 4, vocab = config.vocab_size;
  std::vector<std::vector<TokenId>> prompts(rows), next(rows);
  for (int r = 0; r < rows; ++r) {
    prompts[r] = random_tokens(3 + r % 7, vocab, 100 + r);
    next[r] = random_tokens(steps, vocab, 200 + r);
  }
  // Alone: one row, one thread; its prefill logits, then each step's.
  std::vector<std::vector<float>> alone(rows);
  for (int r = 0; r < rows; ++r) {
    KvCache<float> cache(model, 1, 16);
    Entries prefill;
    for (size_t t = 0; t < prompts[r].size(); ++t) prefill.add(0, t, prompts[r][t]);
    alone[r] = decode(model, cache, prefill);
    for (int s = 0; s < steps; ++s) {
      Entries step;
      step.add(0, prompts[r].size() + s, next[r][s]);
      const auto logits = decode(model, cache, step);
      alone[r].insert(alone[r].end(), logits.begin(), logits.end());
    }
  }
  // Together on two threads: the first half's prefill row after row (the split
  // between the threads must fall between rows), the second half's interleaved
  // (no split possible), then every row steps in each call.
  const MathThreads two(2);
  KvCache<float> cache(model, rows, 16);
  std::vector<std::vector<float>> together(rows);
  auto keep = [&](const Entries& e, const std::vector<float>& logits) {
    for (size_t i = 0; i < e.rows.size(); ++i) {
      auto& row = together[e.rows[i]];
      row.insert(row.end(), logits.begin() + i * vocab, logits.begin() + (i + 1) * vocab);
    }
  };
  Entries first_half, second_half;
  for (int r = 0; r < rows / 2; ++r) {
    for (size_t t = 0; t < prompts[r].size(); ++t) first_half.add(r, t, prompts[r][t]);
  }
  for (size_t t = 0; t < 9; ++t) {
    for (int r = rows / 2; r < rows; ++r) {
      if (t < prompts[r].size()) second_half.add(r, t, prompts[r][t]);
    }
  }
  keep(first_half, decode(model, cache, first_half));
  keep(second_half, decode(model, cache, second_half));
  for (int s = 0; s < steps; ++s) {
    Entries step;
    for (int r = rows - 1; r >= 0; --r) step.add(r, prompts[r].size() + s, next[r][s]);
    keep(step, decode(model, cache, step));
  }
  for (int r = 0; r < rows; ++r) EXPECT_EQ(together[r], alone[r]) << "row " << r;
}

TEST(ModelDecode, ThreadsSplitTheEntriesOnlyBetweenRows) {
  using Bounds = std::vector<int>;
  const std::vector<int> chunks = {0, 0, 0, 1, 1, 2, 2, 2, 2, 3};
  EXPECT_EQ(split_by_rows(chunks, 4, 2, 1), (Bounds{0, 5, 10}));
  EXPECT_EQ(split_by_rows(chunks, 4, 3, 1), (Bounds{0, 3, 9, 10}));  // 6 falls in row 2
  EXPECT_EQ(split_by_rows(chunks, 4, 2, 6), (Bounds{0, 10}));        // too few for two
  const std::vector<int> interleaved = {0, 1, 0, 1, 2, 2};
  EXPECT_EQ(split_by_rows(interleaved, 3, 2, 1), (Bounds{0, 4, 6}));
  EXPECT_EQ(split_by_rows(interleaved, 3, 3, 1), (Bounds{0, 4, 6}));
  const std::vector<int> one_row = {5, 5, 5, 5};
  EXPECT_EQ(split_by_rows(one_row, 6, 4, 1), (Bounds{0, 4}));
}

TEST(ModelDecode, ReadsTheParametersAsTheyAreNow) {
  CpuBackend<float> be;
  const ModelConfig config = decode_config();
  Model<float> model(be, config), reference(be, config);
  model.init_weights(1, 0.3);
  const std::vector<TokenId> prompt = random_tokens(5, config.vocab_size, 3);
  Entries prefill;
  for (int t = 0; t < 5; ++t) prefill.add(0, t, prompt[t]);
  // Logits of a fresh cache of a fresh model holding the same parameters.
  auto fresh = [&](const std::vector<float>& params) {
    reference.set_params(params);
    KvCache<float> cache(reference, 1, 8);
    return decode(reference, cache, prefill);
  };
  KvCache<float> cache(model, 1, 8);
  decode(model, cache, prefill);  // packs the first parameters

  reference.init_weights(2, 0.3);
  model.set_params(reference.get_params());
  EXPECT_EQ(decode(model, cache, prefill), fresh(model.get_params())) << "after set_params";

  AdamW<float> optimizer(model.backend(), model.specs(), model.params(), model.grads(), {});
  const std::vector<float> weights(5, 0.2f);
  model.zero_grad();
  model.forward(prompt.data(), prompt.data(), weights.data(), 1, 5);
  model.backward();
  optimizer.step(1e-2);
  EXPECT_EQ(decode(model, cache, prefill), fresh(model.get_params())) << "after a step";

  be.scale(model.params(), model.num_parameters(), 0.5);
  model.params_changed();
  EXPECT_EQ(decode(model, cache, prefill), fresh(model.get_params())) << "after params_changed";
}

// Trains `model` on one fixed batch for `steps` steps; returns every loss.
std::vector<double> train(Model<float>& model, int steps, double lr) {
  AdamWConfig adam;
  adam.weight_decay = 0;
  AdamW<float> optimizer(model.backend(), model.specs(), model.params(), model.grads(), adam);
  const int batch = 2, seq = 16, n = batch * seq;
  const std::vector<TokenId> tokens = random_tokens(n + 1, model.config().vocab_size, 9);
  const std::vector<TokenId> inputs(tokens.begin(), tokens.end() - 1);
  const std::vector<TokenId> targets(tokens.begin() + 1, tokens.end());
  const std::vector<float> weights(n, 1.0f / n);
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) {
    model.zero_grad();
    losses.push_back(model.forward(inputs.data(), targets.data(), weights.data(), batch, seq));
    model.backward();
    optimizer.step(lr);
  }
  return losses;
}

TEST(ModelTraining, OverfitsOneSmallBatch) {
  CpuBackend<float> be;
  Model<float> model(be, small_config());
  model.init_weights(1, 0.02);
  const std::vector<double> losses = train(model, 200, 1e-2);
  EXPECT_GT(losses.front(), 3.5);  // ≈ ln(64) at init
  EXPECT_LT(losses.back(), 0.05);
}

TEST(ModelTraining, SameSeedGivesBitwiseIdenticalRuns) {
  CpuBackend<float> be;
  Model<float> first(be, small_config()), second(be, small_config());
  first.init_weights(3, 0.02);
  second.init_weights(3, 0.02);
  EXPECT_EQ(train(first, 5, 1e-3), train(second, 5, 1e-3));
  EXPECT_EQ(first.get_params(), second.get_params());
}

// Records, at each report, the gradients backward says are final.
struct SnapshotListener : GradientListener {
  explicit SnapshotListener(Model<float>& model) : model(model) {}
  void gradients_final_from(size_t offset) override {
    offsets.push_back(offset);
    const float* grads = model.grads();  // host memory: the CPU backend
    snapshots.emplace_back(grads + offset, grads + model.num_parameters());
  }
  Model<float>& model;
  std::vector<size_t> offsets;
  std::vector<std::vector<float>> snapshots;
};

TEST(ModelBackward, ReportsFinalGradientsAsAShrinkingOffset) {
  for (bool tied : {false, true}) {
    SCOPED_TRACE(tied ? "tied embeddings" : "untied lm_head");
    CpuBackend<float> be;
    ModelConfig config = small_config();
    config.tie_word_embeddings = tied;
    Model<float> model(be, config);
    model.init_weights(4, 0.05);
    const int batch = 2, seq = 8, n = batch * seq;
    const std::vector<TokenId> inputs = random_tokens(n, config.vocab_size, 5);
    const std::vector<TokenId> targets = random_tokens(n, config.vocab_size, 6);
    const std::vector<float> weights(n, 1.0f / n);
    SnapshotListener listener(model);
    model.zero_grad();
    // Two micro-batches: the listener hears only the last backward, which
    // adds to gradients the first one left.
    model.forward(inputs.data(), targets.data(), weights.data(), batch, seq);
    model.backward();
    model.forward(targets.data(), inputs.data(), weights.data(), batch, seq);
    model.backward(&listener);

    // After the final norm (with an untied lm_head after it), after each
    // layer from the last, and after the embedding: the start of each.
    std::vector<size_t> expected = {model.specs()[1 + 9 * config.num_hidden_layers].offset};
    for (int layer = config.num_hidden_layers - 1; layer >= 0; --layer) {
      expected.push_back(model.specs()[1 + 9 * layer].offset);
    }
    expected.push_back(0);
    EXPECT_EQ(listener.offsets, expected);
    const std::vector<float> final_grads(model.grads(), model.grads() + model.num_parameters());
    for (size_t i = 0; i < listener.offsets.size(); ++i) {
      const std::vector<float> suffix(final_grads.begin() + listener.offsets[i], final_grads.end());
      EXPECT_EQ(listener.snapshots[i], suffix) << "report " << i << " came before a write";
    }
    EXPECT_NE(listener.snapshots.back(), std::vector<float>(model.num_parameters(), 0.0f));
  }
}

TEST(ModelErrors, SequenceBeyondMaxPositionsIsAClearError) {
  CpuBackend<float> be;
  Model<float> model(be, small_config());
  const std::vector<TokenId> ids(65, 1);
  const std::vector<float> weights(65, 1.0f);
  try {
    model.forward(ids.data(), ids.data(), weights.data(), 1, 65);
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("sequence length 65 exceeds max_position_embeddings = 64"));
  }
}

TEST(ModelErrors, TokensOutsideTheVocabularyAreClearErrors) {
  CpuBackend<float> be;
  Model<float> model(be, small_config());
  std::vector<TokenId> ids = {1, 2, 64};
  const std::vector<float> weights(3, 1.0f);
  try {
    model.forward(ids.data(), ids.data(), weights.data(), 1, 3);
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("input token 64 at index 2 is outside the vocabulary [0, 64)"));
  }
  ids = {1, 2, 3};
  std::vector<TokenId> targets = {1, -1, -5};  // negative targets are padding: allowed
  EXPECT_NO_THROW(model.forward(ids.data(), targets.data(), weights.data(), 1, 3));
}

TEST(ModelErrors, DecodeOutsideTheCacheIsAClearError) {
  CpuBackend<float> be;
  Model<float> model(be, small_config());
  KvCache<float> cache(model, 2, 8);
  std::vector<float> logits(64);
  EXPECT_THROW(model.decode(cache, std::vector<int>{2}, std::vector<int>{0},
                            std::vector<TokenId>{1}, logits.data()),
               Error);
  EXPECT_THROW(model.decode(cache, std::vector<int>{0}, std::vector<int>{8},
                            std::vector<TokenId>{1}, logits.data()),
               Error);
  EXPECT_THROW(KvCache<float>(model, 0, 8), Error);
}

TEST(ModelErrors, BackwardNeedsAForward) {
  CpuBackend<float> be;
  Model<float> model(be, small_config());
  EXPECT_THROW(model.backward(), std::logic_error);
}

TEST(ModelErrors, InvalidConfigIsRejected) {
  CpuBackend<float> be;
  ModelConfig config = small_config();
  config.num_key_value_heads = 3;
  EXPECT_THROW(Model<float>(be, config), Error);
}

}  // namespace
}  // namespace ponder
