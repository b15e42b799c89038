#include "policy/lr_schedule.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "policy/error.h"

namespace ponder {

double LrSchedule::at(int64_t step) const {
  const double min_lr = min_lr_ratio * peak_lr;
  if (step >= total_steps) return kind == Kind::kConstant ? peak_lr : min_lr;
  if (step < warmup_steps) {
    return peak_lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  }
  // Here warmup_steps ≤ step < total_steps, so the denominators are positive.
  const auto progress_from = [&](int64_t start) {
    return static_cast<double>(step - start) / static_cast<double>(total_steps - start);
  };
  const auto linear_from = [&](int64_t start) {
    return peak_lr - (peak_lr - min_lr) * progress_from(start);
  };
  switch (kind) {
    case Kind::kCosine: {
      const double q = progress_from(warmup_steps);
      return min_lr + (peak_lr - min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * q));
    }
    case Kind::kLinear:
      return linear_from(warmup_steps);
    case Kind::kConstant:
      return peak_lr;
    case Kind::kWsd: {
      const auto decay_steps =
          static_cast<int64_t>(std::llround(decay_fraction * static_cast<double>(total_steps)));
      const int64_t decay_start = std::max(warmup_steps, total_steps - decay_steps);
      return step < decay_start ? peak_lr : linear_from(decay_start);
    }
  }
  return peak_lr;
}

LrSchedule::Kind LrSchedule::parse_kind(std::string_view name) {
  for (Kind kind : {Kind::kCosine, Kind::kLinear, Kind::kConstant, Kind::kWsd}) {
    if (name == kind_name(kind)) return kind;
  }
  throw Error(fmt::format(
      "unknown learning-rate schedule \"{}\"; expected one of: cosine, linear, constant, wsd",
      name));
}

std::string_view LrSchedule::kind_name(Kind kind) {
  switch (kind) {
    case Kind::kCosine:
      return "cosine";
    case Kind::kLinear:
      return "linear";
    case Kind::kConstant:
      return "constant";
    case Kind::kWsd:
      return "wsd";
  }
  return "";
}

}  // namespace ponder
