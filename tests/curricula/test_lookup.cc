#include "curricula/lookup.h"

#include <regex>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/error.h"
#include "tests/test_util.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;

std::set<std::string> words_of(const std::vector<CorpusDocument>& docs) {
  std::set<std::string> words;
  static const std::regex word("[A-Za-z]+");
  for (const CorpusDocument& d : docs) {
    for (const std::string& text : {d.title, d.text}) {
      for (auto it = std::sregex_iterator(text.begin(), text.end(), word);
           it != std::sregex_iterator(); ++it) {
        words.insert(it->str());
      }
    }
  }
  return words;
}

TEST(LookupWorld, IsAFunctionOfSizeAndSeedAndGrowsByAppending) {
  const LookupWorld a(200, 3), b(200, 3), small(50, 3), other(200, 4);
  for (size_t i = 0; i < 200; ++i) {
    EXPECT_EQ(a.entities()[i].name, b.entities()[i].name);
    EXPECT_EQ(a.entities()[i].value(Attribute::kPopulation),
              b.entities()[i].value(Attribute::kPopulation));
  }
  for (size_t i = 0; i < 50; ++i) {
    EXPECT_EQ(a.entities()[i].name, small.entities()[i].name);
    EXPECT_EQ(a.distractors()[i].name, small.distractors()[i].name);
  }
  EXPECT_NE(a.entities()[0].name, other.entities()[0].name);
  const auto corpus = a.search_corpus();
  const auto again = b.search_corpus();
  ASSERT_EQ(corpus.size(), 400u);
  for (size_t i = 0; i < corpus.size(); ++i) EXPECT_EQ(corpus[i].text, again[i].text);
}

TEST(LookupWorld, NamesAreUniqueAndLookAlikesShareAStem) {
  const LookupWorld world(500, 0);
  std::set<std::string> names;
  for (const auto* list : {&world.entities(), &world.distractors()}) {
    for (const LookupEntity& e : *list) {
      for (const std::string& name : {e.name, e.capital, e.river}) {
        EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
      }
    }
  }
  for (size_t i = 0; i < world.entities().size(); ++i) {
    const LookupEntity& e = world.entities()[i];
    const LookupEntity& d = world.distractors()[i];
    EXPECT_EQ(e.kind, d.kind);
    EXPECT_EQ(e.split, d.split);
    EXPECT_EQ(e.split == Split::kEval, i % 10 == 0);
    // Same start (all but the last syllable, at least one letter).
    EXPECT_EQ(e.name[0], d.name[0]) << e.name << " / " << d.name;
  }
  EXPECT_EQ(world.indices(Split::kEval).size(), 50u);
  EXPECT_EQ(world.indices(Split::kTrain).size(), 450u);
}

TEST(LookupWorld, DocumentsStateTheFacts) {
  const LookupWorld world(40, 1);
  for (const CorpusDocument& doc : world.search_corpus()) {
    const bool entity = doc.id.starts_with("doc-e");
    const size_t i = std::stoul(doc.id.substr(5));
    const LookupEntity& e = entity ? world.entities()[i] : world.distractors()[i];
    EXPECT_EQ(doc.title, e.name);
    for (const std::string& fact :
         {e.name, e.capital, e.river, e.flag_color, e.export_good, std::to_string(e.founded)}) {
      EXPECT_THAT(doc.text, HasSubstr(fact)) << doc.id;
    }
    const std::string pop = e.value(Attribute::kPopulation);
    std::string with_commas;
    for (size_t k = 0; k < pop.size(); ++k) {
      if (k > 0 && (pop.size() - k) % 3 == 0) with_commas += ',';
      with_commas += pop[k];
    }
    EXPECT_TRUE(doc.text.find(pop) != std::string::npos ||
                doc.text.find(with_commas) != std::string::npos)
        << doc.id;
  }
}

TEST(LookupWorld, PretrainingTextNeverNamesAnEvalPlace) {
  const LookupWorld world(500, 0);
  const std::set<std::string> pretraining = words_of(world.documents(Split::kTrain));
  size_t checked = 0;
  for (size_t i : world.indices(Split::kEval)) {
    for (const LookupEntity* e : {&world.entities()[i], &world.distractors()[i]}) {
      for (const std::string& name : {e->name, e->capital, e->river}) {
        EXPECT_FALSE(pretraining.count(name)) << name;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 300u);
  EXPECT_EQ(world.documents(Split::kTrain).size() + world.documents(Split::kEval).size(),
            world.search_corpus().size());
}

TEST(LookupWorld, WritesJsonl) {
  testing::TempDir dir;
  const LookupWorld world(20, 0);
  write_corpus_jsonl(world.search_corpus(), dir / "sub" / "corpus.jsonl");
  std::istringstream lines(testing::read_file(dir / "sub" / "corpus.jsonl"));
  std::string line;
  size_t n = 0;
  for (; std::getline(lines, line); ++n) {
    const auto doc = nlohmann::json::parse(line);
    EXPECT_EQ(doc.size(), 3u);
    EXPECT_EQ(doc.at("id"), world.search_corpus()[n].id);
    EXPECT_EQ(doc.at("text"), world.search_corpus()[n].text);
  }
  EXPECT_EQ(n, 40u);
  EXPECT_THROW(write_corpus_jsonl(world.search_corpus(), dir.path()), Error);
}

TEST(LookupWorld, TooSmallAWorldIsAnError) {
  try {
    LookupWorld(19, 0);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("19 entities is not in [20, 100000]"));
  }
}

}  // namespace
}  // namespace ponder
