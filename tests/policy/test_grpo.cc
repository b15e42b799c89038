// GRPO's math against hand-computed numbers, and its weights against finite
// differences of its own objective.
#include "policy/grpo.h"

#include <cmath>
#include <utility>

#include <gtest/gtest.h>

#include "policy/error.h"

namespace ponder {
namespace {

TEST(GrpoAdvantages, CentreOnTheGroupAndScale) {
  const std::vector<double> rewards = {1, 0, 0, 1, 1, 1, 1, 1};
  const auto group = group_advantages(rewards, 4, ScaleRewards::kGroup);
  EXPECT_EQ(group, (std::vector<double>{1, -1, -1, 1, 0, 0, 0, 0}));
  const auto none = group_advantages(rewards, 4, ScaleRewards::kNone);
  EXPECT_EQ(none, (std::vector<double>{0.5, -0.5, -0.5, 0.5, 0, 0, 0, 0}));
  const auto batch = group_advantages(rewards, 4, ScaleRewards::kBatch);
  const double batch_std = std::sqrt(0.75 * 0.25);
  EXPECT_NEAR(batch[0], 0.5 / batch_std, 1e-12);
  EXPECT_NEAR(batch[1], -0.5 / batch_std, 1e-12);
  EXPECT_THROW(group_advantages(rewards, 3, ScaleRewards::kGroup), Error);
}

TEST(GrpoAdvantages, DynamicSamplingDropsGroupsWithoutSignal) {
  EXPECT_EQ(informative_groups(std::vector<double>{1, 0, 1, 1, 0.5, 0.5}, 2),
            (std::vector<bool>{true, false, false}));
}

// One sequence of one token: the weight for a given ratio and advantage.
double weight(double ratio, double advantage, const GrpoConfig& config = {}) {
  const std::vector<float> lp = {static_cast<float>(std::log(ratio))}, old = {0.0f};
  const std::vector<uint8_t> mask = {1};
  const GrpoSequence seq{lp, old, {}, mask, advantage, false};
  return grpo_token_weights(std::span(&seq, 1), config).weights[0][0];
}

TEST(GrpoClip, EachSideClipsOnlyWhereTheMinPicksTheConstant) {
  EXPECT_NEAR(weight(1.1, 1), 1.1, 1e-6);    // inside the range
  EXPECT_EQ(weight(1.5, 1), 0.0);            // above 1 + clip_high with A > 0
  EXPECT_NEAR(weight(1.25, 1), 1.25, 1e-6);  // clip-higher: 0.28, not 0.2
  EXPECT_NEAR(weight(0.5, 1), 0.5, 1e-6);    // below the range with A > 0: not clipped
  EXPECT_EQ(weight(0.7, -1), 0.0);           // below 1 − clip_low with A < 0
  EXPECT_NEAR(weight(0.9, -1), -0.9, 1e-6);
  EXPECT_NEAR(weight(1.5, -1), -1.5, 1e-6);  // above the range with A < 0: not clipped
}

TEST(GrpoAggregation, NormalisesAsEachModeSays) {
  const std::vector<float> a2 = {0, 0}, a4 = {0, 0, 0, 0};
  const std::vector<uint8_t> m2 = {1, 1}, m4 = {1, 1, 1, 1};
  const std::vector<GrpoSequence> seqs = {{a2, a2, {}, m2, 1.0, false},
                                          {a4, a4, {}, m4, 1.0, false}};
  GrpoConfig config;
  config.aggregation = LossAggregation::kGrpo;
  auto w = grpo_token_weights(seqs, config).weights;
  EXPECT_FLOAT_EQ(w[0][0], 0.25f);  // 1 / (2 tokens · 2 sequences)
  EXPECT_FLOAT_EQ(w[1][0], 0.125f);
  config.aggregation = LossAggregation::kDapo;
  w = grpo_token_weights(seqs, config).weights;
  EXPECT_FLOAT_EQ(w[0][0], 1.0f / 6);
  EXPECT_FLOAT_EQ(w[1][3], 1.0f / 6);
  config.aggregation = LossAggregation::kDrGrpo;
  config.max_new_tokens = 8;
  w = grpo_token_weights(seqs, config).weights;
  EXPECT_FLOAT_EQ(w[0][1], 1.0f / 16);
  EXPECT_FLOAT_EQ(w[1][2], 1.0f / 16);
}

// Micro-batches of one mini-batch: with the mini-batch's totals, each part's
// weights equal the whole batch's, so the gradients add up to the batch's.
TEST(GrpoAggregation, PartsOfABatchNormaliseByTheWholeBatch) {
  const std::vector<float> a2 = {0, 0}, a4 = {0, 0, 0, 0};
  const std::vector<uint8_t> m2 = {1, 1}, m4 = {1, 0, 1, 1};
  const std::vector<GrpoSequence> seqs = {{a2, a2, {}, m2, 1.0, false},
                                          {a4, a4, {}, m4, -0.5, false}};
  GrpoBatchTotals totals;
  totals.sequences = 2;
  totals.tokens = counted_tokens(m2, false, GrpoConfig{}) + counted_tokens(m4, false, GrpoConfig{});
  EXPECT_EQ(totals.tokens, 5);
  for (auto mode : {LossAggregation::kGrpo, LossAggregation::kDapo, LossAggregation::kDrGrpo}) {
    GrpoConfig config;
    config.aggregation = mode;
    const GrpoWeights whole = grpo_token_weights(seqs, config);
    const GrpoWeights first = grpo_token_weights(std::span(seqs).first(1), config, totals);
    const GrpoWeights second = grpo_token_weights(std::span(seqs).last(1), config, totals);
    EXPECT_EQ(first.weights[0], whole.weights[0]);
    EXPECT_EQ(second.weights[0], whole.weights[1]);
    EXPECT_NEAR(first.loss + second.loss, whole.loss, 1e-12);
  }
  GrpoConfig masked;
  masked.mask_truncated = true;
  EXPECT_EQ(counted_tokens(m4, true, masked), 0);
}

TEST(GrpoMasking, ToolResultsAndTruncatedSequencesAreNeverTrained) {
  const std::vector<float> lp = {0, 0, 0, 0};
  const std::vector<uint8_t> mask = {1, 0, 0, 1};  // tokens 1, 2: a forced tool result
  const std::vector<GrpoSequence> seqs = {{lp, lp, {}, mask, 1.0, false},
                                          {lp, lp, {}, mask, 1.0, true}};
  GrpoConfig config;
  auto out = grpo_token_weights(seqs, config);
  EXPECT_EQ(out.tokens, 4);
  EXPECT_EQ(out.weights[0][1], 0.0f);
  EXPECT_FLOAT_EQ(out.weights[0][0], 0.25f);
  config.mask_truncated = true;
  out = grpo_token_weights(seqs, config);
  EXPECT_EQ(out.tokens, 2);
  for (float w : out.weights[1]) EXPECT_EQ(w, 0.0f);
  EXPECT_FLOAT_EQ(out.weights[0][3], 0.5f);
}

TEST(GrpoSequenceLevel, OneRatioPerSequenceTheGeometricMeanOfItsTokens) {
  // Counted log-ratios 0.1 and −0.3 (the masked token's 5.0 is ignored).
  const std::vector<float> lp = {-0.9f, 4.0f, -1.3f}, old = {-1.0f, -1.0f, -1.0f};
  const std::vector<uint8_t> mask = {1, 0, 1};
  const GrpoSequence seq{lp, old, {}, mask, 2.0, false};
  GrpoConfig config;
  config.importance = ImportanceLevel::kSequence;
  config.aggregation = LossAggregation::kGrpo;  // n_t = 1 / (2 tokens · 1 sequence)
  const double s = std::exp((0.1 - 0.3) / 2);
  const GrpoWeights out = grpo_token_weights(std::span(&seq, 1), config);
  EXPECT_NEAR(out.weights[0][0], 0.5 * s * 2.0, 1e-6);
  EXPECT_NEAR(out.weights[0][2], 0.5 * s * 2.0, 1e-6);
  EXPECT_EQ(out.weights[0][1], 0.0f);
  EXPECT_NEAR(out.loss, -s * 2.0, 1e-6);  // the sequence's surrogate, once
  EXPECT_EQ(out.clip_fraction, 0.0);

  // Clipped as a whole: token ratios 1.4 and 1.0 would clip only the first
  // per token; their geometric mean 1.18 clips both with clip_high 0.1.
  const std::vector<float> up = {static_cast<float>(std::log(1.4)), 0.0f}, zero = {0.0f, 0.0f};
  const std::vector<uint8_t> both = {1, 1};
  const GrpoSequence rising{up, zero, {}, both, 1.0, false};
  config.clip_high = 0.1;
  const GrpoWeights clipped = grpo_token_weights(std::span(&rising, 1), config);
  EXPECT_EQ(clipped.weights[0], (std::vector<float>{0.0f, 0.0f}));
  EXPECT_EQ(clipped.clip_fraction, 1.0);
  config.importance = ImportanceLevel::kToken;
  const GrpoWeights per_token = grpo_token_weights(std::span(&rising, 1), config);
  EXPECT_EQ(per_token.weights[0][0], 0.0f);
  EXPECT_FLOAT_EQ(per_token.weights[0][1], 0.5f);
  EXPECT_EQ(per_token.clip_fraction, 0.5);
}

// d loss / d logπ_t must equal −w_t (the primitive's loss is −Σ w·logπ), for
// every mode, with the KL term on, away from the clip boundaries.
TEST(GrpoGradient, WeightsAreTheObjectivesGradient) {
  std::vector<float> lp = {-1.2f, -0.3f, -2.0f, -0.7f, -1.1f};
  const std::vector<float> old = {-1.0f, -0.5f, -1.0f, -0.75f, -1.1f};
  const std::vector<float> ref = {-0.8f, -0.9f, -1.5f, -0.2f, -1.0f};
  const std::vector<uint8_t> mask = {1, 1, 0, 1, 1};
  for (auto [aggregation, importance] :
       {std::pair{LossAggregation::kGrpo, ImportanceLevel::kToken},
        std::pair{LossAggregation::kDapo, ImportanceLevel::kToken},
        std::pair{LossAggregation::kDrGrpo, ImportanceLevel::kToken},
        std::pair{LossAggregation::kGrpo, ImportanceLevel::kSequence},
        std::pair{LossAggregation::kDapo, ImportanceLevel::kSequence},
        std::pair{LossAggregation::kDrGrpo, ImportanceLevel::kSequence}}) {
    GrpoConfig config;
    config.kl_beta = 0.05;
    config.aggregation = aggregation;
    config.importance = importance;
    config.max_new_tokens = 10;
    for (double advantage : {0.7, -0.4}) {
      auto loss_at = [&](const std::vector<float>& x) {
        const GrpoSequence seq{x, old, ref, mask, advantage, false};
        return grpo_token_weights(std::span(&seq, 1), config);
      };
      const GrpoWeights at = loss_at(lp);
      EXPECT_GT(at.kl, 0.0);
      for (size_t t = 0; t < lp.size(); ++t) {
        std::vector<float> plus = lp, minus = lp;
        plus[t] += 1e-3f;
        minus[t] -= 1e-3f;
        const double numeric = (loss_at(plus).loss - loss_at(minus).loss) / 2e-3;
        EXPECT_NEAR(numeric, -at.weights[0][t], 2e-4)
            << "token " << t
            << (importance == ImportanceLevel::kSequence ? ", sequence level" : "");
      }
    }
  }
}

TEST(GrpoConfigNames, UnknownNamesAreClearErrors) {
  EXPECT_EQ(parse_scale_rewards("batch"), ScaleRewards::kBatch);
  EXPECT_EQ(parse_loss_aggregation("dr_grpo"), LossAggregation::kDrGrpo);
  EXPECT_THROW(parse_scale_rewards("groups"), Error);
  EXPECT_THROW(parse_loss_aggregation("ppo"), Error);
  EXPECT_EQ(parse_importance_level("sequence"), ImportanceLevel::kSequence);
  try {
    parse_importance_level("sentence");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "importance sampling level \"sentence\" is not one of: token, sequence");
  }
}

}  // namespace
}  // namespace ponder
