#include "curricula/difficulty.h"

#include <algorithm>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "policy/error.h"

namespace ponder {
namespace {

void check_options(const DifficultyOptions& options) {
  if (options.window < 1) {
    throw Error(fmt::format("difficulty: window = {}; expected >= 1", options.window));
  }
  // Written so that NaN fails too.
  for (const auto& [name, value] :
       {std::pair{"raise_at", options.raise_at}, std::pair{"lower_at", options.lower_at}}) {
    if (!(value >= 0 && value <= 1)) {
      throw Error(fmt::format("difficulty: {} = {}; expected a value in [0, 1]", name, value));
    }
  }
  if (options.lower_at >= options.raise_at) {
    throw Error(fmt::format("difficulty: lower_at = {} is not below raise_at = {}",
                            options.lower_at, options.raise_at));
  }
  if (options.max_difficulty < 1) {
    throw Error(
        fmt::format("difficulty: max_difficulty = {}; expected >= 1", options.max_difficulty));
  }
  // The longest hold, 64 × cooldown, must fit an int.
  if (options.cooldown < 0 || options.cooldown > std::numeric_limits<int>::max() / 64) {
    throw Error(fmt::format("difficulty: cooldown = {}; expected an integer in [0, {}]",
                            options.cooldown, std::numeric_limits<int>::max() / 64));
  }
}

// The hold after the family's (falls + 1)-th fall in a row.
int hold_after_fall(int cooldown, int falls) {
  constexpr int kMaxDoublings = 6;
  return cooldown << std::min(falls, kMaxDoublings);
}

// The member `key` of object `object` (at `where`), which must exist.
const nlohmann::json& member(const nlohmann::json& object, const std::string& where,
                             const std::string& key) {
  const auto it = object.find(key);
  if (it == object.end()) throw Error(fmt::format("difficulty state: missing `{}.{}`", where, key));
  return *it;
}

void expect_object(const nlohmann::json& value, const std::string& where) {
  if (!value.is_object()) {
    throw Error(
        fmt::format("difficulty state: `{}` is {}; expected an object", where, value.type_name()));
  }
}

// Rejects members other than `known`, so that a misspelt or foreign state
// fails instead of being read as something else.
void expect_only(const nlohmann::json& object, const std::string& where,
                 std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      throw Error(fmt::format("difficulty state: unknown key `{}.{}`", where, key));
    }
  }
}

}  // namespace

DifficultyController::DifficultyController(DifficultyOptions options, int start)
    : options_(options) {
  check_options(options_);
  if (start < 1) throw Error(fmt::format("difficulty: start = {}; expected >= 1", start));
  for (Family family : kFamilies) state(family).level = std::min(start, max_level(family));
}

int DifficultyController::max_level(Family family) const {
  return std::min(options_.max_difficulty, max_difficulty(family));
}

double DifficultyController::rolling_accuracy(Family family) const {
  const FamilyState& s = state(family);
  if (s.recent.empty()) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(s.correct) / static_cast<double>(s.recent.size());
}

void DifficultyController::held_if_long_enough(FamilyState& s) const {
  // Called only for a verdict that did not make the family fall.
  if (s.since_rise >= 2 * options_.window) {
    s.falls = 0;
    s.since_rise = -1;
  }
}

std::optional<DifficultyChange> DifficultyController::record(Family family, int level,
                                                             bool correct) {
  FamilyState& s = state(family);
  if (level != s.level) return std::nullopt;
  if (s.hold > 0) --s.hold;
  if (s.since_rise >= 0) ++s.since_rise;
  if (static_cast<int>(s.recent.size()) == options_.window) {
    s.correct -= s.recent.front() ? 1 : 0;
    s.recent.pop_front();
  }
  s.recent.push_back(correct);
  s.correct += correct ? 1 : 0;
  if (static_cast<int>(s.recent.size()) < options_.window) {
    held_if_long_enough(s);
    return std::nullopt;
  }

  const double accuracy = rolling_accuracy(family);
  int to = s.level;
  if (accuracy >= options_.raise_at && s.level < max_level(family) && s.hold == 0) {
    to = s.level + 1;
    if (s.since_rise >= 0) s.falls = 0;  // it rose past a level it rose to: that one held
    s.since_rise = 0;
  } else if (accuracy <= options_.lower_at && s.level > 1) {
    to = s.level - 1;
    s.hold = hold_after_fall(options_.cooldown, s.falls);
    ++s.falls;
    s.since_rise = -1;
  } else {
    held_if_long_enough(s);
    return std::nullopt;
  }
  const DifficultyChange change{family, s.level, to, accuracy};
  s.level = to;
  s.recent.clear();
  s.correct = 0;
  return change;
}

nlohmann::json DifficultyController::to_json() const {
  nlohmann::json families = nlohmann::json::object();
  for (Family family : kFamilies) {
    const FamilyState& s = state(family);
    families[std::string(family_name(family))] = {
        {"level", s.level},
        {"recent", nlohmann::json(std::vector<bool>(s.recent.begin(), s.recent.end()))},
        {"hold", s.hold},
        {"falls", s.falls},
        {"since_rise", s.since_rise},
    };
  }
  return {{"families", families}};
}

DifficultyController DifficultyController::from_json(DifficultyOptions options,
                                                     const nlohmann::json& state) {
  DifficultyController controller(options, 1);
  expect_object(state, "state");
  expect_only(state, "state", {"families"});
  const nlohmann::json& families = member(state, "state", "families");
  expect_object(families, "families");
  for (const auto& [name, value] : families.items()) {
    try {
      parse_family(name);
    } catch (const Error& e) {
      throw Error(fmt::format("difficulty state: `families.{}`: {}", name, e.what()));
    }
  }
  for (Family family : kFamilies) {
    const std::string where = fmt::format("families.{}", family_name(family));
    const nlohmann::json& entry = member(families, "families", std::string(family_name(family)));
    expect_object(entry, where);
    expect_only(entry, where, {"level", "recent", "hold", "falls", "since_rise"});
    FamilyState& s = controller.state(family);

    const nlohmann::json& level = member(entry, where, "level");
    if (!level.is_number_integer() || level.get<int64_t>() < 1 ||
        level.get<int64_t>() > controller.max_level(family)) {
      throw Error(fmt::format("difficulty state: `{}.level` = {}; expected an integer in [1, {}]",
                              where, level.dump(), controller.max_level(family)));
    }
    s.level = level.get<int>();

    const nlohmann::json& recent = member(entry, where, "recent");
    if (!recent.is_array()) {
      throw Error(fmt::format("difficulty state: `{}.recent` is {}; expected an array of booleans",
                              where, recent.type_name()));
    }
    if (recent.size() > static_cast<size_t>(options.window)) {
      throw Error(fmt::format("difficulty state: `{}.recent` holds {} verdicts; window is {}",
                              where, recent.size(), options.window));
    }
    for (size_t i = 0; i < recent.size(); ++i) {
      if (!recent[i].is_boolean()) {
        throw Error(fmt::format("difficulty state: `{}.recent[{}]` is {}; expected a boolean",
                                where, i, recent[i].type_name()));
      }
      s.recent.push_back(recent[i].get<bool>());
      s.correct += recent[i].get<bool>() ? 1 : 0;
    }
    // Absent in states written before the hysteresis: nothing held then.
    for (auto [key, count, least] :
         {std::tuple{"hold", &s.hold, 0}, std::tuple{"falls", &s.falls, 0},
          std::tuple{"since_rise", &s.since_rise, -1}}) {
      const auto it = entry.find(key);
      if (it == entry.end()) continue;
      if (!it->is_number_integer() || it->get<int64_t>() < least ||
          it->get<int64_t>() > std::numeric_limits<int>::max()) {
        throw Error(fmt::format("difficulty state: `{}.{}` = {}; expected an integer >= {}", where,
                                key, it->dump(), least));
      }
      *count = it->get<int>();
    }
  }
  return controller;
}

}  // namespace ponder
