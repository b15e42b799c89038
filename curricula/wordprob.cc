// The wordprob family: multi-step word problems from templates. Every
// template computes its answer from recorded steps (expression and result),
// which demonstrations turn into calculator calls.
#include <algorithm>

#include <fmt/format.h>

#include "curricula/expression.h"
#include "curricula/families.h"

namespace ponder {
namespace {

struct Person {
  const char* name;
  const char* subject;     // "she"
  const char* possessive;  // "her"
};

const Person kPeople[] = {
    {"Maya", "she", "her"},   {"Liam", "he", "his"},   {"Aisha", "she", "her"},
    {"Tom", "he", "his"},     {"Sofia", "she", "her"}, {"Ravi", "he", "his"},
    {"Elena", "she", "her"},  {"Kenji", "he", "his"},  {"Noor", "she", "her"},
    {"Lucas", "he", "his"},   {"Priya", "she", "her"}, {"Omar", "he", "his"},
    {"Hannah", "she", "her"}, {"Mateo", "he", "his"},  {"Zoe", "she", "her"},
    {"Samuel", "he", "his"},
};
const char* const kCollections[] = {"marbles", "stickers", "stamps", "shells", "cards", "pencils"};
const char* const kThings[] = {"notebook", "sandwich", "ticket", "plant", "toy car", "scarf"};

std::string capital(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

// What a template produces; `key` decides the split, so it holds the
// template and its numbers but not the wording.
class Problem {
 public:
  Problem(const char* name, Rng& rng, int64_t hi) : name_(name), rng_(rng), hi_(hi), key_(name) {}

  // A number in [lo, hi] where hi grows with difficulty; recorded in the key.
  int64_t n(int64_t lo) { return keep(rng_.range(lo, std::max(lo, hi_))); }
  int64_t in(int64_t lo, int64_t hi) { return keep(rng_.range(lo, std::max(lo, hi))); }

  // Evaluates one step of the solution and records it.
  int64_t step(const std::string& expr) {
    const Evaluation e = evaluate_expression(expr);
    const int64_t value = e.value->num;  // templates only divide exactly
    steps_.push_back({{"expr", expr}, {"result", std::to_string(value)}});
    return value;
  }

  void finish(std::string prompt, Task& task) const {
    task.prompt = std::move(prompt);
    task.answer = steps_.back()["result"].get<std::string>();
    task.metadata = {{"template", name_}, {"steps", steps_}};
  }

  const std::string& key() const { return key_; }
  bool either() { return rng_.chance(1, 2); }

 private:
  int64_t keep(int64_t v) {
    key_ += fmt::format(" {}", v);
    return v;
  }

  const char* name_;
  Rng& rng_;
  int64_t hi_;
  std::string key_;
  nlohmann::json steps_ = nlohmann::json::array();
};

using Template = std::string (*)(Problem&, const Person&, Rng&);

std::string packs(Problem& p, const Person& who, Rng& rng) {
  const char* items = rng.pick(kCollections);
  const int64_t a = p.n(2), b = p.n(2), c = p.n(2);
  const int64_t bought = p.step(fmt::format("{} * {}", b, c));
  p.step(fmt::format("{} + {}", a, bought));
  return fmt::format(
      "{} has {} {}. {} buys {} packs of {} with {} in each pack. {}", who.name, a, items,
      capital(who.subject), b, items, c,
      p.either() ? fmt::format("How many {} does {} have now?", items, who.name)
                 : fmt::format("What is the total number of {} {} has now?", items, who.name));
}

std::string change(Problem& p, const Person& who, Rng& rng) {
  const char* thing = rng.pick(kThings);
  const int64_t price = p.n(1), count = p.in(2, 9);
  const int64_t cost = p.step(fmt::format("{} * {}", price, count));
  const int64_t unit = cost < 100 ? 10 : cost < 1000 ? 100 : 1000;
  const int64_t paid = (cost / unit + 1) * unit;
  p.step(fmt::format("{} - {}", paid, cost));
  return fmt::format(
      "A {} costs ${}. {} buys {} of them and pays ${}. {}", thing, price, who.name, count, paid,
      p.either() ? fmt::format("How much change does {} get back?", who.subject)
                 : fmt::format("How many dollars of change should {} receive?", who.name));
}

std::string orchard(Problem& p, const Person& who, Rng&) {
  const int64_t rows = p.n(2), per_row = p.n(2);
  const int64_t total = p.step(fmt::format("{} * {}", rows, per_row));
  const int64_t cut = p.in(1, total - 1);
  p.step(fmt::format("{} - {}", total, cut));
  return fmt::format(
      "{}'s orchard has {} rows of trees with {} trees in each row. {} cuts down {} "
      "trees. {}",
      who.name, rows, per_row, capital(who.subject), cut,
      p.either() ? "How many trees are left?" : "How many trees still stand in the orchard?");
}

std::string ages(Problem& p, const Person& who, Rng&) {
  const int64_t age = p.n(3), gap = p.n(1), years = p.n(1);
  const int64_t brother = p.step(fmt::format("{} + {}", age, gap));
  const int64_t now = p.step(fmt::format("{} + {}", age, brother));
  p.step(fmt::format("{} + 2 * {}", now, years));
  return fmt::format("{} is {} years old. {} brother is {} years older. {}", who.name, age,
                     capital(who.possessive), gap,
                     p.either()
                         ? fmt::format("What will the sum of their ages be in {} years?", years)
                         : fmt::format("In {} years, how old will the two of them be "
                                       "together?",
                                       years));
}

std::string reading(Problem& p, const Person& who, Rng&) {
  const int64_t a = p.n(2), x = p.in(2, 9), b = p.n(2), y = p.in(2, 9);
  const int64_t first = p.step(fmt::format("{} * {}", a, x));
  const int64_t second = p.step(fmt::format("{} * {}", b, y));
  p.step(fmt::format("{} + {}", first, second));
  return fmt::format("{} reads {} pages a day for {} days, then {} pages a day for {} days. {}",
                     who.name, a, x, b, y,
                     p.either() ? fmt::format("How many pages does {} read in all?", who.subject)
                                : "What is the total number of pages read?");
}

std::string savings(Problem& p, const Person& who, Rng& rng) {
  const int64_t weekly = p.n(2), weeks = p.n(2);
  const int64_t saved = p.step(fmt::format("{} * {}", weekly, weeks));
  const int64_t s1 = p.in(1, saved / 3), s2 = p.in(1, saved / 3);
  const int64_t spent = p.step(fmt::format("{} + {}", s1, s2));
  p.step(fmt::format("{} - {}", saved, spent));
  const char* thing = rng.pick(kThings);
  return fmt::format(
      "{} saves ${} every week for {} weeks. Then {} spends ${} on a {} and ${} on "
      "a gift. {}",
      who.name, weekly, weeks, who.subject, s1, thing, s2,
      p.either() ? fmt::format("How much money does {} have left?", who.subject)
                 : "How many dollars are left?");
}

std::string bus(Problem& p, const Person&, Rng&) {
  const int64_t start = p.n(10), off = p.in(1, start), on = p.n(1);
  const int64_t after_off = p.step(fmt::format("{} - {}", start, off));
  const int64_t after_on = p.step(fmt::format("{} + {}", after_off, on));
  const int64_t off2 = p.in(1, after_on);
  p.step(fmt::format("{} - {}", after_on, off2));
  return fmt::format(
      "A bus leaves the station with {} passengers. At the first stop {} people get "
      "off and {} get on. At the second stop {} people get off. {}",
      start, off, on, off2,
      p.either() ? "How many passengers are on the bus now?"
                 : "How many people are still riding the bus?");
}

std::string sharing(Problem& p, const Person& who, Rng&) {
  const int64_t friends = p.in(2, 9), each = p.n(2);
  const int64_t total = friends * each;
  const int64_t eaten = p.in(1, each - 1);
  p.step(fmt::format("{} / {}", total, friends));
  const int64_t left = p.step(fmt::format("{} - {}", each, eaten));
  p.step(fmt::format("{} * {}", left, friends));
  return fmt::format(
      "{} has {} cookies and shares them equally among {} friends. Each friend eats "
      "{} of their cookies. {}",
      who.name, total, friends, eaten,
      p.either() ? "How many cookies do the friends have left in all?"
                 : "How many cookies are left altogether?");
}

std::string trip(Problem& p, const Person&, Rng&) {
  const int64_t v = p.n(10), h = p.in(1, 9), w = p.n(10), g = p.in(1, 9);
  const int64_t first = p.step(fmt::format("{} * {}", v, h));
  const int64_t second = p.step(fmt::format("{} * {}", w, g));
  p.step(fmt::format("{} + {}", first, second));
  return fmt::format(
      "A train travels at {} km per hour for {} hours, then at {} km per hour for {} "
      "hours. {}",
      v, h, w, g,
      p.either() ? "How many kilometers does it travel in total?"
                 : "How far does the train go altogether, in km?");
}

struct Entry {
  const char* name;
  Template make;
  bool easy;  // offered at difficulty 1
};

const Entry kTemplates[] = {
    {"packs", packs, true}, {"change", change, true},    {"orchard", orchard, true},
    {"ages", ages, true},   {"reading", reading, false}, {"savings", savings, false},
    {"bus", bus, false},    {"sharing", sharing, false}, {"trip", trip, false},
};

}  // namespace

void make_wordprob_task(Split split, int difficulty, Rng& rng, Task& task) {
  task.difficulty = std::min(difficulty, kWordprobMaxDifficulty);
  static constexpr int64_t kHighest[] = {12, 60, 500};
  std::vector<const Entry*> offered;
  for (const Entry& entry : kTemplates) {
    if (entry.easy || task.difficulty > 1) offered.push_back(&entry);
  }
  while (true) {
    const Entry& entry = *offered[rng.below(offered.size())];
    const Person& who = rng.pick(kPeople);
    Problem problem(entry.name, rng, kHighest[task.difficulty - 1]);
    std::string prompt = entry.make(problem, who, rng);
    if (!key_in_split(problem.key(), split)) continue;
    problem.finish(std::move(prompt), task);
    return;
  }
}

}  // namespace ponder
