#include "policy/grpo.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "policy/error.h"

namespace ponder {
namespace {

bool counted(const GrpoSequence& seq, size_t t, const GrpoConfig& config) {
  return seq.mask[t] != 0 && !(config.mask_truncated && seq.truncated);
}

}  // namespace

double mean_of(std::span<const double> x) {
  double s = 0;
  for (double v : x) s += v;
  return x.empty() ? 0 : s / static_cast<double>(x.size());
}

double std_of(std::span<const double> x) {
  const double m = mean_of(x);
  double s = 0;
  for (double v : x) s += (v - m) * (v - m);
  return x.empty() ? 0 : std::sqrt(s / static_cast<double>(x.size()));
}

int64_t counted_tokens(std::span<const uint8_t> mask, bool truncated, const GrpoConfig& config) {
  if (config.mask_truncated && truncated) return 0;
  return std::count_if(mask.begin(), mask.end(), [](uint8_t m) { return m != 0; });
}

ScaleRewards parse_scale_rewards(std::string_view name) {
  if (name == "group") return ScaleRewards::kGroup;
  if (name == "batch") return ScaleRewards::kBatch;
  if (name == "none") return ScaleRewards::kNone;
  throw Error(fmt::format("scale_rewards \"{}\" is not one of: group, batch, none", name));
}

LossAggregation parse_loss_aggregation(std::string_view name) {
  if (name == "grpo") return LossAggregation::kGrpo;
  if (name == "dapo") return LossAggregation::kDapo;
  if (name == "dr_grpo") return LossAggregation::kDrGrpo;
  throw Error(fmt::format("loss aggregation \"{}\" is not one of: grpo, dapo, dr_grpo", name));
}

ImportanceLevel parse_importance_level(std::string_view name) {
  if (name == "token") return ImportanceLevel::kToken;
  if (name == "sequence") return ImportanceLevel::kSequence;
  throw Error(fmt::format("importance sampling level \"{}\" is not one of: token, sequence", name));
}

std::vector<double> group_advantages(std::span<const double> rewards, int group_size,
                                     ScaleRewards scale) {
  if (group_size < 1 || rewards.size() % static_cast<size_t>(group_size) != 0) {
    throw Error(fmt::format("{} rewards do not form groups of {}", rewards.size(), group_size));
  }
  std::vector<double> advantages(rewards.size());
  const double batch_std = std_of(rewards);
  for (size_t g = 0; g < rewards.size(); g += group_size) {
    const auto group = rewards.subspan(g, group_size);
    const double mean = mean_of(group);
    const double scale_by = scale == ScaleRewards::kGroup   ? std_of(group)
                            : scale == ScaleRewards::kBatch ? batch_std
                                                            : 1.0;
    for (int i = 0; i < group_size; ++i) {
      const double centred = group[i] - mean;
      advantages[g + i] = scale_by > 0 ? centred / scale_by : centred;
    }
  }
  return advantages;
}

std::vector<bool> informative_groups(std::span<const double> rewards, int group_size) {
  if (group_size < 1 || rewards.size() % static_cast<size_t>(group_size) != 0) {
    throw Error(fmt::format("{} rewards do not form groups of {}", rewards.size(), group_size));
  }
  std::vector<bool> informative;
  for (size_t g = 0; g < rewards.size(); g += group_size) {
    const auto group = rewards.subspan(g, group_size);
    informative.push_back(
        std::any_of(group.begin(), group.end(), [&](double r) { return r != group[0]; }));
  }
  return informative;
}

GrpoWeights grpo_token_weights(std::span<const GrpoSequence> sequences, const GrpoConfig& config,
                               const GrpoBatchTotals& totals) {
  GrpoWeights out;
  int64_t total = 0;
  for (const auto& seq : sequences) {
    if (seq.old_logprobs.size() != seq.logprobs.size() || seq.mask.size() != seq.logprobs.size() ||
        (config.kl_beta > 0 && seq.ref_logprobs.size() != seq.logprobs.size())) {
      throw std::logic_error("grpo_token_weights: per-token arrays differ in length");
    }
    for (size_t t = 0; t < seq.logprobs.size(); ++t) total += counted(seq, t, config);
  }
  const int64_t batch_tokens = totals.tokens > 0 ? totals.tokens : total;
  const double sequences_n = static_cast<double>(std::max<int64_t>(
      1, totals.sequences > 0 ? totals.sequences : static_cast<int64_t>(sequences.size())));
  int64_t clipped = 0;
  double kl_sum = 0;
  for (const auto& seq : sequences) {
    std::vector<float>& w = out.weights.emplace_back(seq.logprobs.size(), 0.0f);
    int64_t own = 0;
    for (size_t t = 0; t < seq.logprobs.size(); ++t) own += counted(seq, t, config);
    if (own == 0) continue;
    const double norm = config.aggregation == LossAggregation::kGrpo
                            ? 1.0 / (static_cast<double>(own) * sequences_n)
                        : config.aggregation == LossAggregation::kDapo
                            ? 1.0 / static_cast<double>(batch_tokens)
                            : 1.0 / (static_cast<double>(config.max_new_tokens) * sequences_n);
    const double a = seq.advantage;
    auto log_ratio = [&](size_t t) {
      return static_cast<double>(seq.logprobs[t]) - static_cast<double>(seq.old_logprobs[t]);
    };
    double sequence_ratio = 1;  // GSPO's s_i: the geometric mean of the token ratios
    if (config.importance == ImportanceLevel::kSequence) {
      double sum = 0;
      for (size_t t = 0; t < seq.logprobs.size(); ++t) {
        if (counted(seq, t, config)) sum += log_ratio(t);
      }
      sequence_ratio = std::exp(sum / static_cast<double>(own));
    }
    for (size_t t = 0; t < seq.logprobs.size(); ++t) {
      if (!counted(seq, t, config)) continue;
      const double ratio =
          config.importance == ImportanceLevel::kSequence ? sequence_ratio : std::exp(log_ratio(t));
      const double clipped_ratio = std::clamp(ratio, 1 - config.clip_low, 1 + config.clip_high);
      const bool clip_active =
          (a > 0 && ratio > 1 + config.clip_high) || (a < 0 && ratio < 1 - config.clip_low);
      clipped += clip_active;
      double weight = clip_active ? 0.0 : ratio * a;
      double objective = -std::min(ratio * a, clipped_ratio * a);
      if (config.kl_beta > 0) {
        const double d = static_cast<double>(seq.ref_logprobs[t]) - seq.logprobs[t];
        const double kl = std::exp(d) - d - 1;
        kl_sum += kl;
        objective += config.kl_beta * kl;
        weight -= config.kl_beta * (1 - std::exp(d));
      }
      w[t] = static_cast<float>(norm * weight);
      out.loss += norm * objective;
    }
  }
  out.tokens = total;
  out.clip_fraction = total > 0 ? static_cast<double>(clipped) / static_cast<double>(total) : 0;
  out.kl = total > 0 ? kl_sum / static_cast<double>(total) : 0;
  return out;
}

}  // namespace ponder
