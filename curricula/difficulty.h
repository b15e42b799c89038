// DifficultyController: the adaptive per-family difficulty of RL. Each family
// has a level that goes up when its rolling accuracy passes a threshold and
// down when it collapses; TaskMixture::set_difficulty (curricula/generator.h)
// applies it to what later samples draw.
//
// Hysteresis: a family whose right difficulty lies between two levels (easy
// at L, hopeless at L + 1) would otherwise swing L ↔ L + 1 every two windows,
// spending half its rollouts where it learns little. So after a fall the
// family holds its new level for `cooldown` verdicts before it may rise
// again, and each further fall before it has held a level it rose to (for
// two windows' worth of verdicts, or by rising from it) doubles that hold (exponential backoff,
// capped at 64 × cooldown).
//
// Invariants, per family:
//   1 <= level(family) <= max_level(family)
//     = min(options.max_difficulty, max_difficulty(family));
//   the window holds at most options.window verdicts, every one drawn at the
//   current level: it is emptied whenever the level changes, so each level is
//   judged on a window of its own results and never on its predecessor's.
//
// Deterministic: the state after a sequence of record calls is a function of
// the options, the start level and that sequence, and to_json / from_json
// carry it exactly, so a resumed run changes level where an unbroken one
// would. Not thread-safe; the RL loop records from one thread.
#pragma once

#include <array>
#include <deque>
#include <optional>

#include <nlohmann/json.hpp>

#include "curricula/task.h"

namespace ponder {

struct DifficultyOptions {
  int window = 32;          // recent verdicts per family the rolling accuracy averages
  double raise_at = 0.8;    // rolling accuracy >= this over a full window: level + 1
  double lower_at = 0.2;    // rolling accuracy <= this over a full window: level - 1
  int max_difficulty = 10;  // a level never exceeds min(this, max_difficulty(family))
  int cooldown = 64;        // verdicts held after a fall before a rise (0: none)
};

// A level change, for the step's log.
struct DifficultyChange {
  Family family = Family::kArith;
  int from = 1;
  int to = 1;
  double accuracy = 0;  // the full window's accuracy that caused the change
};

class DifficultyController {
 public:
  // Starts every family at min(start, max_level(family)). Throws ponder::Error
  // naming the option when window < 1, a threshold is outside [0, 1],
  // lower_at >= raise_at, max_difficulty < 1, cooldown outside
  // [0, INT_MAX / 64], or start < 1.
  DifficultyController(DifficultyOptions options, int start);

  // Records one rollout's verdict for `family`, drawn at `level`. A verdict
  // drawn at another level than the current one is ignored: it was generated
  // before a change and says nothing about the current level. When the window
  // is then full and its accuracy is >= raise_at (below the family's cap) or
  // <= lower_at (above 1), the level moves one step, the window is emptied,
  // and the change is returned; otherwise nullopt. At the cap or at 1 a full
  // window keeps rolling: the oldest verdict makes room for the newest. A
  // rise waits until the hold after a fall has run out (hold()); a fall sets
  // the hold to cooldown × 2^k, k the falls since the family last held a
  // level it rose to (recorded 2 × window verdicts there without a fall, or
  // rose again from it).
  std::optional<DifficultyChange> record(Family family, int level, bool correct);

  int level(Family family) const { return state(family).level; }
  // min(options.max_difficulty, max_difficulty(family)).
  int max_level(Family family) const;
  // Correct verdicts / verdicts in the window; NaN when the window is empty
  // (nothing measured yet at this level, which 0 would misreport as collapse).
  double rolling_accuracy(Family family) const;
  // How many verdicts the window holds, in [0, options.window].
  int window_size(Family family) const { return static_cast<int>(state(family).recent.size()); }
  // Verdicts still to record at the current level before the family may rise.
  int hold(Family family) const { return state(family).hold; }
  const DifficultyOptions& options() const { return options_; }

  // The state: {"families": {"<family_name>": {"level": L, "recent": [bool,
  // ...oldest first], "hold": H, "falls": K, "since_rise": S}, ...}} with
  // every family present.
  nlohmann::json to_json() const;
  // The controller to_json described, under `options` (checked as by the
  // constructor). Throws ponder::Error naming the key at fault when the state
  // is not that shape, misses a family or names an unknown one, or does not
  // fit the options (a level outside [1, max_level], more than window
  // verdicts, a negative hold or fall count, since_rise below -1). A state
  // without "hold", "falls" and "since_rise" (written before the hysteresis
  // existed) reads them as 0, 0 and -1.
  static DifficultyController from_json(DifficultyOptions options, const nlohmann::json& state);

 private:
  struct FamilyState {
    int level = 1;
    std::deque<bool> recent;  // oldest first, all drawn at `level`
    int correct = 0;          // how many of `recent` are true
    int hold = 0;             // verdicts to record before a rise is allowed
    int falls = 0;            // falls since the family last held a level it rose to
    int since_rise = -1;      // verdicts at `level` since a rise reached it; -1: none, or held
  };

  // Ends the backoff once the level the family rose to has lasted 2 × window
  // verdicts without a fall.
  void held_if_long_enough(FamilyState& s) const;
  FamilyState& state(Family family) { return families_[static_cast<int>(family)]; }
  const FamilyState& state(Family family) const { return families_[static_cast<int>(family)]; }

  DifficultyOptions options_;
  std::array<FamilyState, kNumFamilies> families_;
};

}  // namespace ponder
