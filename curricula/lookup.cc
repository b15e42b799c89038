#include "curricula/lookup.h"

#include <algorithm>
#include <fstream>
#include <unordered_set>

#include <fmt/format.h>

#include "policy/error.h"

namespace ponder {
namespace {

const char* const kOnsets[] = {"",  "b", "d",  "k",  "l",  "m",  "n",  "r",  "s", "t",
                               "v", "z", "th", "dr", "gr", "br", "st", "kh", "f", "h"};
const char* const kVowels[] = {"a", "e", "i", "o", "u", "ae", "ia", "ou", "ei", "y"};
const char* const kCodas[] = {"", "", "", "n", "r", "l", "s", "th", "k", "m"};
const char* const kKinds[] = {"kingdom", "republic", "island", "duchy", "free city"};
const char* const kColors[] = {"red",   "blue",   "green",  "gold",   "white",
                               "black", "purple", "orange", "silver", "yellow"};
const char* const kExports[] = {"amber",  "salt",  "wool",   "copper",   "tin",   "silk",
                                "timber", "glass", "spices", "iron",     "honey", "marble",
                                "pearls", "wine",  "horses", "olive oil"};

std::string syllable(Rng& rng) {
  return std::string(rng.pick(kOnsets)) + rng.pick(kVowels) + rng.pick(kCodas);
}

std::string capitalized(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

struct Name {
  std::string text;  // "Valoria"
  std::string stem;  // every syllable but the last, lower-case: "valor"
};

// Names are unique across the whole world, so that a name in a document
// identifies one place and an eval name cannot hide inside train text.
class NameBook {
 public:
  // A fresh name of 2-3 syllables or, given a stem, of the stem and one more
  // syllable: a look-alike of the name the stem came from.
  Name fresh(Rng& rng, const std::string& stem = "") {
    while (true) {
      Name name{stem, stem};
      const int syllables = stem.empty() ? static_cast<int>(rng.range(2, 3)) : 1;
      for (int i = 0; i < syllables; ++i) {
        name.stem = name.text;
        name.text += syllable(rng);
      }
      if (name.text.size() < 4 || name.text.size() > 11) continue;
      name.text = capitalized(name.text);
      if (used_.insert(name.text).second) return name;
    }
  }

 private:
  std::unordered_set<std::string> used_;
};

std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

LookupEntity make_place(Rng& rng, NameBook& names, std::string id, std::string name,
                        std::string kind, Split split) {
  LookupEntity e;
  e.id = std::move(id);
  e.name = std::move(name);
  e.kind = std::move(kind);
  e.split = split;
  e.capital = names.fresh(rng).text;
  e.river = names.fresh(rng).text;
  e.flag_color = rng.pick(kColors);
  e.export_good = rng.pick(kExports);
  e.founded = static_cast<int>(rng.range(600, 1950));
  const int digits = static_cast<int>(rng.range(4, 7));
  int64_t low = 1;
  for (int i = 1; i < digits; ++i) low *= 10;
  e.population = rng.range(low, low * 10 - 1);
  return e;
}

}  // namespace

std::string_view attribute_name(Attribute attribute) {
  static constexpr std::string_view kNames[] = {"capital", "founded",    "population",
                                                "river",   "flag_color", "export"};
  return kNames[static_cast<int>(attribute)];
}

std::string LookupEntity::value(Attribute attribute) const {
  switch (attribute) {
    case Attribute::kCapital:
      return capital;
    case Attribute::kFounded:
      return std::to_string(founded);
    case Attribute::kPopulation:
      return std::to_string(population);
    case Attribute::kRiver:
      return river;
    case Attribute::kFlagColor:
      return flag_color;
    case Attribute::kExport:
      return export_good;
  }
  return "";
}

LookupWorld::LookupWorld(int entities, uint64_t seed) : seed_(seed) {
  if (entities < 20 || entities > 100000) {
    throw Error(fmt::format("lookup world: {} entities is not in [20, 100000]", entities));
  }
  NameBook names;
  for (int i = 0; i < entities; ++i) {
    Rng rng({seed, static_cast<uint64_t>(i), fnv1a64("lookup-entity")});
    const Split split = i % 10 == 0 ? Split::kEval : Split::kTrain;
    const Name name = names.fresh(rng);
    const std::string kind = rng.pick(kKinds);
    entities_.push_back(make_place(rng, names, fmt::format("e{:05}", i), name.text, kind, split));
    // The look-alike differs only in its last syllable.
    const Name lookalike = names.fresh(rng, name.stem);
    distractors_.push_back(
        make_place(rng, names, fmt::format("d{:05}", i), lookalike.text, kind, split));
    (split == Split::kTrain ? train_ : eval_).push_back(static_cast<size_t>(i));
  }
}

CorpusDocument LookupWorld::document(const LookupEntity& e) const {
  Rng rng({seed_, fnv1a64(e.id), fnv1a64("lookup-document")});
  const std::string pop =
      rng.chance(1, 2) ? with_commas(e.population) : e.value(Attribute::kPopulation);
  std::string text;
  switch (rng.below(3)) {
    case 0:
      text = fmt::format(
          "{} is a {} in the far north. Its capital is {}, and it was founded in {}. The {} has a "
          "population of {}. The river {} flows through it. Its flag is {}, and its chief export "
          "is {}.",
          e.name, e.kind, e.capital, e.founded, e.kind, pop, e.river, e.flag_color, e.export_good);
      break;
    case 1:
      text = fmt::format(
          "{}\nKind: {}\nCapital: {}\nFounded: {}\nPopulation: {}\nMain river: the {}\nFlag "
          "color: {}\nChief export: {}",
          e.name, e.kind, e.capital, e.founded, pop, e.river, e.flag_color, e.export_good);
      break;
    default:
      text = fmt::format(
          "Founded in {}, {} is a {} whose capital, {}, lies on the banks of the {}. About {} "
          "people live there. Traders know {} for its {}, and its {} flag flies over the harbour.",
          e.founded, e.name, e.kind, e.capital, e.river, pop, e.name, e.export_good, e.flag_color);
      break;
  }
  return {e.document_id(), e.name, std::move(text)};
}

std::vector<CorpusDocument> LookupWorld::documents(Split split) const {
  std::vector<CorpusDocument> docs;
  for (size_t i : indices(split)) {
    docs.push_back(document(entities_[i]));
    docs.push_back(document(distractors_[i]));
  }
  std::sort(docs.begin(), docs.end(),
            [](const CorpusDocument& a, const CorpusDocument& b) { return a.id < b.id; });
  return docs;
}

std::vector<CorpusDocument> LookupWorld::search_corpus() const {
  std::vector<CorpusDocument> docs = documents(Split::kTrain);
  std::vector<CorpusDocument> eval = documents(Split::kEval);
  docs.insert(docs.end(), eval.begin(), eval.end());
  std::sort(docs.begin(), docs.end(),
            [](const CorpusDocument& a, const CorpusDocument& b) { return a.id < b.id; });
  return docs;
}

namespace {

std::string_view query_word(Attribute attribute) {
  static constexpr std::string_view kWords[] = {"capital", "founded", "population",
                                                "river",   "flag",    "export"};
  return kWords[static_cast<int>(attribute)];
}

std::string question(Attribute attribute, const LookupEntity& e, Rng& rng) {
  const bool first = rng.chance(1, 2);
  switch (attribute) {
    case Attribute::kCapital:
      return first ? fmt::format("What is the capital of {}?", e.name)
                   : fmt::format("Which city is the capital of the {} of {}?", e.kind, e.name);
    case Attribute::kFounded:
      return first ? fmt::format("In what year was {} founded?", e.name)
                   : fmt::format("When was the {} of {} founded? Give the year.", e.kind, e.name);
    case Attribute::kPopulation:
      return first ? fmt::format("What is the population of {}?", e.name)
                   : fmt::format("How many people live in the {} of {}?", e.kind, e.name);
    case Attribute::kRiver:
      return first ? fmt::format("Which river flows through {}?", e.name)
                   : fmt::format("Name the river of the {} of {}.", e.kind, e.name);
    case Attribute::kFlagColor:
      return first ? fmt::format("What color is the flag of {}?", e.name)
                   : fmt::format("The flag of {} is which color?", e.name);
    case Attribute::kExport:
      return first ? fmt::format("What is the chief export of {}?", e.name)
                   : fmt::format("What does {} export most?", e.name);
  }
  return "";
}

nlohmann::json fact(const LookupEntity& e, Attribute attribute) {
  return {{"entity_id", e.id},
          {"document_id", e.document_id()},
          {"entity", e.name},
          {"query", fmt::format("{} {}", e.name, query_word(attribute))},
          {"attribute", attribute_name(attribute)},
          {"value", e.value(attribute)}};
}

}  // namespace

void LookupWorld::make_task(Split split, int difficulty, Rng& rng, Task& task) const {
  const std::vector<size_t>& pool = indices(split);
  const LookupEntity& a = entities_[pool[rng.below(pool.size())]];
  task.difficulty = std::min(difficulty, 2);
  if (task.difficulty == 1) {
    const auto attribute = static_cast<Attribute>(rng.below(kNumAttributes));
    task.prompt = question(attribute, a, rng);
    task.answer = a.value(attribute);
    task.metadata = {{"attribute", attribute_name(attribute)},
                     {"combine", "single"},
                     {"facts", {fact(a, attribute)}}};
    return;
  }
  const LookupEntity* b = &a;
  while (b == &a) b = &entities_[pool[rng.below(pool.size())]];
  const bool years = rng.chance(1, 2);
  const Attribute attribute = years ? Attribute::kFounded : Attribute::kPopulation;
  if (years) {
    task.prompt =
        rng.chance(1, 2)
            ? fmt::format("How many years apart were {} and {} founded?", a.name, b->name)
            : fmt::format("{} and {} were founded how many years apart?", a.name, b->name);
    task.answer = std::to_string(std::abs(a.founded - b->founded));
  } else {
    task.prompt =
        rng.chance(1, 2)
            ? fmt::format("What is the combined population of {} and {}?", a.name, b->name)
            : fmt::format("How many people live in {} and {} together?", a.name, b->name);
    task.answer = std::to_string(a.population + b->population);
  }
  task.metadata = {{"attribute", attribute_name(attribute)},
                   {"combine", years ? "difference" : "sum"},
                   {"facts", {fact(a, attribute), fact(*b, attribute)}}};
}

void write_corpus_jsonl(const std::vector<CorpusDocument>& documents,
                        const std::filesystem::path& file) {
  if (file.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
  }
  std::ofstream out(file, std::ios::binary);
  for (const CorpusDocument& d : documents) {
    out << nlohmann::json{{"id", d.id}, {"title", d.title}, {"text", d.text}}.dump() << '\n';
  }
  out.flush();
  if (!out) throw Error(fmt::format("cannot write corpus file `{}`", file.string()));
}

}  // namespace ponder
