// The adaptive difficulty: when levels move (full windows only, thresholds
// inclusive, caps and floor), stale verdicts, the per-level window, the hold
// after a fall and its backoff, and a JSON state that resumes exactly.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "curricula/difficulty.h"
#include "curricula/random.h"
#include "policy/error.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;

DifficultyOptions small_window(int window) {
  DifficultyOptions options;
  options.window = window;
  options.raise_at = 0.75;
  options.lower_at = 0.25;
  options.cooldown = 0;  // the tests of the hold set their own
  return options;
}

DifficultyOptions with_cooldown(int window, int cooldown) {
  DifficultyOptions options = small_window(window);
  options.cooldown = cooldown;
  return options;
}

// Records `verdicts` for `family` at its current level; the changes they
// caused, in order.
std::vector<DifficultyChange> feed(DifficultyController& controller, Family family,
                                   const std::vector<bool>& verdicts) {
  std::vector<DifficultyChange> changes;
  for (bool correct : verdicts) {
    if (auto change = controller.record(family, controller.level(family), correct)) {
      changes.push_back(*change);
    }
  }
  return changes;
}

TEST(Difficulty, RaisesOnlyOnceTheWindowIsFull) {
  DifficultyController controller(small_window(4), 1);
  EXPECT_TRUE(feed(controller, Family::kArith, {true, true, true}).empty());
  EXPECT_EQ(controller.level(Family::kArith), 1);
  EXPECT_DOUBLE_EQ(controller.rolling_accuracy(Family::kArith), 1.0);

  const auto change = controller.record(Family::kArith, 1, true);
  ASSERT_TRUE(change.has_value());
  EXPECT_EQ(change->family, Family::kArith);
  EXPECT_EQ(change->from, 1);
  EXPECT_EQ(change->to, 2);
  EXPECT_DOUBLE_EQ(change->accuracy, 1.0);
  EXPECT_EQ(controller.level(Family::kArith), 2);
}

TEST(Difficulty, RaiseThresholdIsInclusiveAndTheWindowRolls) {
  DifficultyController controller(small_window(4), 1);
  // 1/4 right, then 2/4, 3/4 = raise_at.
  EXPECT_TRUE(feed(controller, Family::kCount, {false, true, false, true}).empty());
  EXPECT_DOUBLE_EQ(controller.rolling_accuracy(Family::kCount), 0.5);
  EXPECT_EQ(controller.window_size(Family::kCount), 4);
  // The oldest verdict (false) drops out: 3 of the last 4.
  const auto changes = feed(controller, Family::kCount, {true});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_DOUBLE_EQ(changes[0].accuracy, 0.75);
  EXPECT_EQ(controller.level(Family::kCount), 2);
}

TEST(Difficulty, LowersOnCollapseAndNeverBelowOne) {
  DifficultyController controller(small_window(4), 3);
  const std::vector<bool> wrong(4, false);
  auto changes = feed(controller, Family::kArith, wrong);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].from, 3);
  EXPECT_EQ(changes[0].to, 2);
  EXPECT_DOUBLE_EQ(changes[0].accuracy, 0.0);
  ASSERT_EQ(feed(controller, Family::kArith, wrong).size(), 1u);
  EXPECT_EQ(controller.level(Family::kArith), 1);
  // At the floor a collapsed window keeps rolling instead of changing.
  EXPECT_TRUE(feed(controller, Family::kArith, {false, false, false, false, false}).empty());
  EXPECT_EQ(controller.level(Family::kArith), 1);
  EXPECT_EQ(controller.window_size(Family::kArith), 4);
  // lower_at is inclusive: 1/4 = 0.25 lowers.
  DifficultyController other(small_window(4), 2);
  EXPECT_EQ(feed(other, Family::kArith, {true, false, false, false}).size(), 1u);
  EXPECT_EQ(other.level(Family::kArith), 1);
}

TEST(Difficulty, BetweenThresholdsNothingMoves) {
  DifficultyController controller(small_window(4), 2);
  std::vector<bool> half;
  for (int i = 0; i < 40; ++i) half.push_back(i % 2 == 0);
  EXPECT_TRUE(feed(controller, Family::kWordprob, half).empty());
  EXPECT_EQ(controller.level(Family::kWordprob), 2);
}

TEST(Difficulty, NeverAboveTheOptionOrTheFamilyMaximum) {
  DifficultyOptions options = small_window(2);
  options.max_difficulty = 3;
  DifficultyController capped(options, 1);
  EXPECT_EQ(capped.max_level(Family::kArith), 3);
  EXPECT_EQ(feed(capped, Family::kArith, std::vector<bool>(20, true)).size(), 2u);
  EXPECT_EQ(capped.level(Family::kArith), 3);
  EXPECT_EQ(capped.window_size(Family::kArith), 2);

  // The family's own maximum binds below the option's.
  DifficultyController controller(small_window(2), 1);
  EXPECT_EQ(feed(controller, Family::kLookup, std::vector<bool>(20, true)).size(), 1u);
  EXPECT_EQ(controller.level(Family::kLookup), max_difficulty(Family::kLookup));

  // A start above a family's cap starts at the cap.
  DifficultyController high(DifficultyOptions{}, 9);
  for (Family family : kFamilies) {
    EXPECT_EQ(high.level(family), std::min(9, max_difficulty(family))) << family_name(family);
  }
}

TEST(Difficulty, StaleVerdictsAreIgnored) {
  DifficultyController controller(small_window(2), 1);
  EXPECT_FALSE(controller.record(Family::kCountdown, 2, true).has_value());
  EXPECT_FALSE(controller.record(Family::kCountdown, 0, true).has_value());
  EXPECT_EQ(controller.window_size(Family::kCountdown), 0);
  ASSERT_EQ(feed(controller, Family::kCountdown, {true, true}).size(), 1u);
  // Rollouts drawn at level 1 before the raise arrive late.
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(controller.record(Family::kCountdown, 1, false).has_value());
  }
  EXPECT_EQ(controller.level(Family::kCountdown), 2);
  EXPECT_EQ(controller.window_size(Family::kCountdown), 0);
}

TEST(Difficulty, ChangeClearsTheWindowSoEachLevelIsJudgedAfresh) {
  DifficultyController controller(small_window(4), 1);
  ASSERT_EQ(feed(controller, Family::kGsm8k, std::vector<bool>(4, true)).size(), 1u);
  EXPECT_EQ(controller.window_size(Family::kGsm8k), 0);
  EXPECT_TRUE(std::isnan(controller.rolling_accuracy(Family::kGsm8k)));
  // Three more right answers do not raise again: the window is not full.
  EXPECT_TRUE(feed(controller, Family::kGsm8k, {true, true, true}).empty());
  EXPECT_EQ(controller.level(Family::kGsm8k), 2);
  EXPECT_EQ(feed(controller, Family::kGsm8k, {true}).size(), 1u);
  EXPECT_EQ(controller.level(Family::kGsm8k), 3);
}

TEST(Difficulty, FamiliesAreIndependent) {
  DifficultyController controller(small_window(2), 2);
  ASSERT_EQ(feed(controller, Family::kArith, {true, true}).size(), 1u);
  EXPECT_EQ(controller.level(Family::kArith), 3);
  EXPECT_EQ(controller.level(Family::kCount), 2);
  EXPECT_EQ(controller.window_size(Family::kCount), 0);
}

TEST(DifficultyHold, AFallHoldsTheLevelForTheCooldown) {
  DifficultyController controller(with_cooldown(4, 8), 2);
  ASSERT_EQ(feed(controller, Family::kCount, std::vector<bool>(4, false)).size(), 1u);
  EXPECT_EQ(controller.level(Family::kCount), 1);
  EXPECT_EQ(controller.hold(Family::kCount), 8);
  // Seven right answers: full windows of 1.0, but the hold has one to go.
  EXPECT_TRUE(feed(controller, Family::kCount, std::vector<bool>(7, true)).empty());
  EXPECT_EQ(controller.hold(Family::kCount), 1);
  EXPECT_EQ(feed(controller, Family::kCount, {true}).size(), 1u);
  EXPECT_EQ(controller.level(Family::kCount), 2);
  // A hold does not stop a further fall.
  DifficultyController falling(with_cooldown(2, 100), 3);
  EXPECT_EQ(feed(falling, Family::kArith, std::vector<bool>(4, false)).size(), 2u);
  EXPECT_EQ(falling.level(Family::kArith), 1);
}

TEST(DifficultyHold, FallsInARowDoubleTheHoldUntilARiseHolds) {
  DifficultyController controller(with_cooldown(4, 8), 1);
  const std::vector<bool> right(4, true), wrong(4, false);
  ASSERT_EQ(feed(controller, Family::kArith, right).size(), 1u);  // 1 -> 2
  ASSERT_EQ(feed(controller, Family::kArith, wrong).size(), 1u);  // 2 -> 1
  EXPECT_EQ(controller.hold(Family::kArith), 8);
  ASSERT_EQ(feed(controller, Family::kArith, std::vector<bool>(8, true)).size(), 1u);
  ASSERT_EQ(feed(controller, Family::kArith, wrong).size(), 1u);
  EXPECT_EQ(controller.hold(Family::kArith), 16) << "the second fall in a row doubles";
  ASSERT_EQ(feed(controller, Family::kArith, std::vector<bool>(16, true)).size(), 1u);
  // Two windows' worth at level 2 neither rising nor falling: the level
  // held, so the next fall starts the backoff again.
  const std::vector<bool> half = {true, false, true, false, true, false, true, false};
  EXPECT_TRUE(feed(controller, Family::kArith, half).empty());
  ASSERT_EQ(feed(controller, Family::kArith, {false}).size(), 1u);  // 1 of the last 4
  EXPECT_EQ(controller.hold(Family::kArith), 8);

  // The doubling stops at 64 × cooldown.
  DifficultyController thrashing(with_cooldown(1, 1), 1);
  for (int round = 0; round < 10; ++round) {
    // The rise comes with the verdict that ends the hold.
    const int until_rise = std::max(1, thrashing.hold(Family::kCount));
    feed(thrashing, Family::kCount, std::vector<bool>(until_rise, true));
    ASSERT_EQ(thrashing.level(Family::kCount), 2) << "round " << round;
    feed(thrashing, Family::kCount, {false});
  }
  EXPECT_EQ(thrashing.hold(Family::kCount), 64);
}

TEST(DifficultyHold, AFallOnTheLastVerdictOfTwoWindowsStillDoublesTheHold) {
  DifficultyController controller(with_cooldown(4, 8), 1);
  ASSERT_EQ(feed(controller, Family::kArith, std::vector<bool>(4, true)).size(), 1u);  // 1 -> 2
  ASSERT_EQ(feed(controller, Family::kArith, std::vector<bool>(4, false)).size(), 1u);
  ASSERT_EQ(feed(controller, Family::kArith, std::vector<bool>(8, true)).size(), 1u);  // 1 -> 2
  // Seven verdicts at level 2 without a fall (windows of 2/4), then a fall on
  // the eighth (2 × window): the level did not hold, so the backoff goes on.
  EXPECT_TRUE(
      feed(controller, Family::kArith, {true, false, false, true, true, false, false}).empty());
  ASSERT_EQ(feed(controller, Family::kArith, {false}).size(), 1u);
  EXPECT_EQ(controller.hold(Family::kArith), 16);
}

TEST(DifficultyHold, RisingPastALevelItRoseToEndsTheBackoff) {
  DifficultyController controller(with_cooldown(4, 8), 1);
  const std::vector<bool> right(4, true), wrong(4, false);
  ASSERT_EQ(feed(controller, Family::kArith, right).size(), 1u);  // 1 -> 2
  ASSERT_EQ(feed(controller, Family::kArith, wrong).size(), 1u);  // 2 -> 1, hold 8
  ASSERT_EQ(feed(controller, Family::kArith, std::vector<bool>(8, true)).size(), 1u);  // 1 -> 2
  ASSERT_EQ(feed(controller, Family::kArith, right).size(), 1u);  // 2 -> 3 at once: 2 held
  ASSERT_EQ(feed(controller, Family::kArith, wrong).size(), 1u);  // 3 -> 2
  EXPECT_EQ(controller.hold(Family::kArith), 8) << "the backoff started again";
}

TEST(DifficultyHold, AFamilyBetweenTwoLevelsSpendsMostRolloutsAtTheEasierOne) {
  // 90% right at level 3, 10% at level 4: without a hold the level swings
  // every window; with one, the tries at 4 grow rarer.
  auto run = [](int cooldown, int* changes) {
    DifficultyOptions options;
    options.cooldown = cooldown;
    DifficultyController controller(options, 3);
    Rng rng({uint64_t{5}});
    int at_four = 0;
    *changes = 0;
    for (int i = 0; i < 4000; ++i) {
      const int level = controller.level(Family::kCount);
      at_four += level == 4 ? 1 : 0;
      const bool correct = rng.below(10) < (level == 3 ? 9u : 1u);
      *changes += controller.record(Family::kCount, level, correct).has_value() ? 1 : 0;
    }
    return at_four / 4000.0;
  };
  int swings = 0, held = 0;
  const double swinging = run(0, &swings);
  const double holding = run(64, &held);
  EXPECT_GT(swings, 100);
  EXPECT_LT(held, 20);
  EXPECT_GT(swinging, 0.4);
  EXPECT_LT(holding, 0.1);
}

// A reproducible stream of verdicts, some stale, across every family.
struct Verdict {
  Family family;
  int level_offset;  // 0: drawn at the current level; otherwise stale
  bool correct;
};

std::vector<Verdict> verdict_stream(int n, uint64_t seed) {
  Rng rng({seed});
  std::vector<Verdict> stream;
  for (int i = 0; i < n; ++i) {
    const Family family = kFamilies[rng.below(kNumFamilies)];
    const int level_offset = rng.below(8) == 0 ? -1 : 0;
    // Phases of 200 verdicts, mostly right then mostly wrong, move levels
    // both ways throughout.
    const bool correct = rng.below(10) < ((i / 200) % 2 == 0 ? 9u : 1u);
    stream.push_back({family, level_offset, correct});
  }
  return stream;
}

std::optional<DifficultyChange> apply(DifficultyController& controller, const Verdict& v) {
  return controller.record(v.family, controller.level(v.family) + v.level_offset, v.correct);
}

TEST(Difficulty, JsonRoundTripContinuesExactly) {
  const DifficultyOptions options = with_cooldown(5, 7);
  const std::vector<Verdict> stream = verdict_stream(2000, 17);
  for (size_t cut : {size_t{0}, size_t{333}, size_t{1000}, size_t{1777}}) {
    DifficultyController unbroken(options, 2);
    for (size_t i = 0; i < cut; ++i) apply(unbroken, stream[i]);
    // Through text, as a checkpoint stores it.
    const std::string saved = unbroken.to_json().dump();
    DifficultyController resumed =
        DifficultyController::from_json(options, nlohmann::json::parse(saved));
    EXPECT_EQ(resumed.to_json(), unbroken.to_json());
    int changes = 0;
    for (size_t i = cut; i < stream.size(); ++i) {
      const auto a = apply(unbroken, stream[i]);
      const auto b = apply(resumed, stream[i]);
      ASSERT_EQ(a.has_value(), b.has_value()) << "cut " << cut << ", verdict " << i;
      if (a) {
        ++changes;
        EXPECT_EQ(a->family, b->family);
        EXPECT_EQ(a->from, b->from);
        EXPECT_EQ(a->to, b->to);
        EXPECT_EQ(a->accuracy, b->accuracy);
      }
    }
    EXPECT_GT(changes, 0) << "cut " << cut;  // the stream exercises changes
    EXPECT_EQ(resumed.to_json(), unbroken.to_json());
  }
}

TEST(Difficulty, JsonShape) {
  DifficultyController controller(small_window(4), 1);
  feed(controller, Family::kCount, {true, false});
  const nlohmann::json state = controller.to_json();
  EXPECT_EQ(
      state["families"]["count"],
      (nlohmann::json{
          {"level", 1}, {"recent", {true, false}}, {"hold", 0}, {"falls", 0}, {"since_rise", -1}}));
  EXPECT_EQ(state["families"].size(), static_cast<size_t>(kNumFamilies));
}

TEST(Difficulty, StateFromBeforeTheHoldReadsAsNoHold) {
  DifficultyController controller(with_cooldown(4, 8), 2);
  feed(controller, Family::kCount, std::vector<bool>(4, false));
  nlohmann::json state = controller.to_json();
  for (auto& [name, entry] : state["families"].items()) {
    entry.erase("hold");
    entry.erase("falls");
    entry.erase("since_rise");
  }
  const DifficultyController old = DifficultyController::from_json(with_cooldown(4, 8), state);
  EXPECT_EQ(old.level(Family::kCount), 1);
  EXPECT_EQ(old.hold(Family::kCount), 0);
  const nlohmann::json read = old.to_json()["families"]["count"];
  EXPECT_EQ(read["falls"], 0);
  EXPECT_EQ(read["since_rise"], -1);
}

void expect_error(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning " << needle;
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(needle));
  }
}

TEST(Difficulty, BadOptionsNameTheOption) {
  const auto with = [](auto change) {
    DifficultyOptions options;
    change(options);
    return [options] { DifficultyController(options, 1); };
  };
  expect_error(with([](DifficultyOptions& o) { o.window = 0; }), "window = 0");
  expect_error(with([](DifficultyOptions& o) { o.raise_at = 1.5; }), "raise_at = 1.5");
  expect_error(with([](DifficultyOptions& o) { o.lower_at = -0.1; }), "lower_at = -0.1");
  expect_error(with([](DifficultyOptions& o) { o.raise_at = std::nan(""); }), "raise_at");
  expect_error(with([](DifficultyOptions& o) { o.lower_at = o.raise_at; }),
               "lower_at = 0.8 is not below raise_at = 0.8");
  expect_error(with([](DifficultyOptions& o) { o.max_difficulty = 0; }), "max_difficulty = 0");
  expect_error(with([](DifficultyOptions& o) { o.cooldown = -1; }), "cooldown = -1");
  expect_error(with([](DifficultyOptions& o) { o.cooldown = 40000000; }),
               "cooldown = 40000000; expected an integer in [0, 33554431]");
  expect_error([] { DifficultyController(DifficultyOptions{}, 0); }, "start = 0");
  expect_error([] { DifficultyController::from_json(small_window(0), nlohmann::json{}); },
               "window = 0");
}

TEST(Difficulty, MalformedStateNamesWhatIsWrong) {
  const DifficultyOptions options = small_window(4);
  const nlohmann::json good = DifficultyController(options, 1).to_json();
  const auto edited = [&](auto edit) {
    nlohmann::json state = good;
    edit(state);
    return [options, state] { DifficultyController::from_json(options, state); };
  };
  expect_error([&] { DifficultyController::from_json(options, nlohmann::json::array()); },
               "`state` is array; expected an object");
  expect_error(edited([](nlohmann::json& s) { s.erase("families"); }), "missing `state.families`");
  expect_error(edited([](nlohmann::json& s) { s["extra"] = 1; }), "unknown key `state.extra`");
  expect_error(edited([](nlohmann::json& s) { s["families"].erase("lookup"); }),
               "missing `families.lookup`");
  expect_error(edited([](nlohmann::json& s) { s["families"]["algebra"] = s["families"]["arith"]; }),
               "unknown task family `algebra`");
  expect_error(edited([](nlohmann::json& s) { s["families"]["count"]["level"] = 0; }),
               "`families.count.level` = 0; expected an integer in [1, 5]");
  expect_error(edited([](nlohmann::json& s) { s["families"]["lookup"]["level"] = 3; }),
               "`families.lookup.level` = 3; expected an integer in [1, 2]");
  expect_error(edited([](nlohmann::json& s) { s["families"]["count"]["level"] = "2"; }),
               "`families.count.level` = \"2\"");
  expect_error(edited([](nlohmann::json& s) { s["families"]["count"]["recent"] = "1101"; }),
               "`families.count.recent` is string; expected an array of booleans");
  expect_error(edited([](nlohmann::json& s) {
                 s["families"]["count"]["recent"] = {true, 1};
               }),
               "`families.count.recent[1]` is number; expected a boolean");
  expect_error(edited([](nlohmann::json& s) {
                 s["families"]["count"]["recent"] = std::vector<bool>(5, true);
               }),
               "`families.count.recent` holds 5 verdicts; window is 4");
  expect_error(edited([](nlohmann::json& s) { s["families"]["count"]["accuracy"] = 0.5; }),
               "unknown key `families.count.accuracy`");
  expect_error(edited([](nlohmann::json& s) { s["families"]["count"]["hold"] = -3; }),
               "`families.count.hold` = -3; expected an integer >= 0");
  expect_error(edited([](nlohmann::json& s) { s["families"]["arith"]["falls"] = 1.5; }),
               "`families.arith.falls` = 1.5; expected an integer >= 0");
  expect_error(edited([](nlohmann::json& s) { s["families"]["arith"]["since_rise"] = -2; }),
               "`families.arith.since_rise` = -2; expected an integer >= -1");
}

}  // namespace
}  // namespace ponder
