// The learning-rate schedule: hand-computed tables for each shape, edge cases
// of warmup and length, and monotonicity.
#include "policy/lr_schedule.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "policy/error.h"

namespace ponder {
namespace {

using Kind = LrSchedule::Kind;

constexpr double kTolerance = 1e-12;

// Peak 1, floor 0.1, 4 warmup steps, 12 steps in all: decay over steps 4..11.
LrSchedule schedule(Kind kind, int64_t warmup = 4, int64_t total = 12, double decay = 0.25) {
  return {.kind = kind,
          .peak_lr = 1.0,
          .warmup_steps = warmup,
          .total_steps = total,
          .min_lr_ratio = 0.1,
          .decay_fraction = decay};
}

// (step, expected lr) pairs.
using Table = std::vector<std::pair<int64_t, double>>;

void expect_table(const LrSchedule& s, const Table& table) {
  for (const auto& [step, lr] : table) EXPECT_NEAR(s.at(step), lr, kTolerance) << "step " << step;
}

const Table kWarmup = {{0, 0.25}, {1, 0.5}, {2, 0.75}, {3, 1.0}};

TEST(LrSchedule, Cosine) {
  const LrSchedule s = schedule(Kind::kCosine);
  expect_table(s, kWarmup);
  // 0.1 + 0.45 · (1 + cos(π (s − 4) / 8))
  expect_table(s, {{4, 1.0},
                   {6, 0.1 + 0.45 * (1 + 0.70710678118654752)},
                   {8, 0.55},
                   {10, 0.1 + 0.45 * (1 - 0.70710678118654752)},
                   {11, 0.1 + 0.45 * (1 - 0.92387953251128674)},
                   {12, 0.1},
                   {1000, 0.1}});
}

TEST(LrSchedule, Linear) {
  const LrSchedule s = schedule(Kind::kLinear);
  expect_table(s, kWarmup);
  expect_table(s, {{4, 1.0}, {6, 0.775}, {8, 0.55}, {10, 0.325}, {11, 0.2125}, {12, 0.1}});
}

TEST(LrSchedule, Constant) {
  const LrSchedule s = schedule(Kind::kConstant);
  expect_table(s, kWarmup);
  expect_table(s, {{4, 1.0}, {11, 1.0}, {12, 1.0}, {1000, 1.0}});
}

TEST(LrSchedule, WsdDecaysOverTheLastFractionOfSteps) {
  // round(0.25 · 12) = 3 decay steps: 9, 10, 11.
  const LrSchedule s = schedule(Kind::kWsd);
  expect_table(s, kWarmup);
  expect_table(s, {{4, 1.0}, {8, 1.0}, {9, 1.0}, {10, 0.7}, {11, 0.4}, {12, 0.1}, {99, 0.1}});
}

TEST(LrSchedule, WsdDecayNeverStartsBeforeWarmupEnds) {
  // 0.9 · 12 would start decaying at step 1; it starts at 4, like kLinear.
  const LrSchedule wsd = schedule(Kind::kWsd, 4, 12, 0.9);
  const LrSchedule full = schedule(Kind::kWsd, 4, 12, 1.0);
  const LrSchedule linear = schedule(Kind::kLinear);
  for (int64_t step = 0; step <= 13; ++step) {
    EXPECT_NEAR(wsd.at(step), linear.at(step), kTolerance) << step;
    EXPECT_NEAR(full.at(step), linear.at(step), kTolerance) << step;
  }
  // No decay steps: constant, then the floor once the run is over.
  const LrSchedule none = schedule(Kind::kWsd, 4, 12, 0.0);
  expect_table(none, {{4, 1.0}, {11, 1.0}, {12, 0.1}});
}

TEST(LrSchedule, ScalesWithThePeak) {
  LrSchedule s = schedule(Kind::kCosine);
  s.peak_lr = 3e-3;
  EXPECT_NEAR(s.at(0), 0.75e-3, kTolerance);
  EXPECT_NEAR(s.at(8), 0.55 * 3e-3, kTolerance);
  EXPECT_NEAR(s.at(12), 3e-4, kTolerance);
}

TEST(LrSchedule, NoWarmupStartsAtThePeak) {
  for (Kind kind : {Kind::kCosine, Kind::kLinear, Kind::kConstant, Kind::kWsd}) {
    const LrSchedule s = schedule(kind, 0, 10);
    EXPECT_NEAR(s.at(0), 1.0, kTolerance);
  }
  expect_table(schedule(Kind::kLinear, 0, 10), {{0, 1.0}, {5, 0.55}, {9, 0.19}, {10, 0.1}});
}

TEST(LrSchedule, TotalEqualToWarmupIsAllWarmup) {
  for (Kind kind : {Kind::kCosine, Kind::kLinear, Kind::kWsd}) {
    const LrSchedule s = schedule(kind, 4, 4);
    expect_table(s, kWarmup);
    expect_table(s, {{4, 0.1}, {5, 0.1}});
  }
  expect_table(schedule(Kind::kConstant, 4, 4), {{3, 1.0}, {4, 1.0}});
}

TEST(LrSchedule, RunShorterThanWarmupEndsInsideIt) {
  const LrSchedule s = schedule(Kind::kCosine, 10, 4);
  expect_table(s, {{0, 0.1}, {3, 0.4}, {4, 0.1}, {20, 0.1}});
}

TEST(LrSchedule, EmptyRunIsTheFinalValue) {
  EXPECT_NEAR(schedule(Kind::kCosine, 0, 0).at(0), 0.1, kTolerance);
  EXPECT_NEAR(schedule(Kind::kConstant, 0, 0).at(0), 1.0, kTolerance);
}

TEST(LrSchedule, RisesDuringWarmupAndNeverRisesAfter) {
  for (Kind kind : {Kind::kCosine, Kind::kLinear, Kind::kConstant, Kind::kWsd}) {
    for (auto [warmup, total] : {std::pair<int64_t, int64_t>{0, 50}, {7, 50}, {49, 50}, {1, 2}}) {
      const LrSchedule s = schedule(kind, warmup, total, 0.3);
      for (int64_t step = 1; step < total + 3; ++step) {
        const double before = s.at(step - 1), now = s.at(step);
        if (step < warmup) {
          EXPECT_GT(now, before) << step;
        } else {
          EXPECT_LE(now, before) << step;
        }
        EXPECT_GT(now, 0.0);
        EXPECT_LE(now, 1.0);
        if (step >= warmup) {
          EXPECT_GE(now, 0.1 - kTolerance) << step;
        }
      }
    }
  }
}

TEST(LrSchedule, ParsesKindsAndListsTheChoices) {
  for (Kind kind : {Kind::kCosine, Kind::kLinear, Kind::kConstant, Kind::kWsd}) {
    EXPECT_EQ(LrSchedule::parse_kind(LrSchedule::kind_name(kind)), kind);
  }
  try {
    LrSchedule::parse_kind("cosin");
    FAIL() << "parsed";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "unknown learning-rate schedule \"cosin\"; expected one of: cosine, linear, "
                 "constant, wsd");
  }
}

}  // namespace
}  // namespace ponder
