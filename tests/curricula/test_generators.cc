// Generators: deterministic by seed, disjoint splits, gold answers that their
// own verifiers accept, several phrasings, difficulty as documented.
#include <algorithm>
#include <map>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "curricula/answer.h"
#include "curricula/expression.h"
#include "curricula/generator.h"
#include "policy/error.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;

const TaskGenerator& shared_generator() {
  static const TaskGenerator generator{TaskSources{}};
  return generator;
}

constexpr Family kGenerated[] = {Family::kArith, Family::kCount, Family::kWordprob, Family::kLookup,
                                 Family::kCountdown};

TEST(Generators, SameArgumentsGiveTheSameTaskAcrossGenerators) {
  const TaskGenerator other{TaskSources{}};
  for (Family family : kFamilies) {
    for (Split split : {Split::kTrain, Split::kEval}) {
      for (int d = 1; d <= max_difficulty(family); ++d) {
        for (uint64_t i = 0; i < 10; ++i) {
          const Task a = shared_generator().generate(family, split, i, d, 7);
          const Task b = other.generate(family, split, i, d, 7);
          EXPECT_EQ(task_to_json(a), task_to_json(b)) << a.id;
        }
      }
    }
  }
}

TEST(Generators, SeedAndIndexChangeTheTask) {
  for (Family family : kGenerated) {
    std::set<std::string> prompts;
    for (uint64_t seed : {1, 2}) {
      for (uint64_t i = 0; i < 20; ++i) {
        prompts.insert(shared_generator().generate(family, Split::kTrain, i, 2, seed).prompt);
      }
    }
    EXPECT_GE(prompts.size(), 36u) << family_name(family);
  }
}

TEST(Generators, IdsNameTheArgumentsAndAreUnique) {
  const Task t = shared_generator().generate(Family::kCount, Split::kEval, 123, 99, 5);
  EXPECT_EQ(t.id, "count/eval/s5-d5-123");
  EXPECT_EQ(t.difficulty, 5);  // clamped
  // The id's difficulty regenerates the task.
  EXPECT_EQ(task_to_json(shared_generator().generate(Family::kCount, Split::kEval, 123, 5, 5)),
            task_to_json(t));
  EXPECT_EQ(shared_generator().generate(Family::kGsm8k, Split::kEval, 319, 8, 0).id,
            "gsm8k/eval/00319");
}

TEST(Generators, DifficultyBelowOneIsAnError) {
  try {
    shared_generator().generate(Family::kArith, Split::kTrain, 0, 0, 1);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("difficulty 0 is below 1"));
  }
}

// Gold answers: the verifier accepts them, and they agree with the metadata
// that demonstrations are built from.
TEST(Generators, GoldAnswersVerifyAndMatchTheirMetadata) {
  const LookupWorld& world = shared_generator().lookup_world();
  for (Family family : kGenerated) {
    for (Split split : {Split::kTrain, Split::kEval}) {
      for (int d = 1; d <= max_difficulty(family); ++d) {
        for (uint64_t i = 0; i < 100; ++i) {
          const Task t = shared_generator().generate(family, split, i, d, 11);
          ASSERT_TRUE(check(t, t.answer)) << t.id << ": " << t.answer;
          ASSERT_TRUE(
              check_response(t, "<|think|>x<|/think|><|answer|>" + t.answer + "<|/answer|><|end|>"))
              << t.id;
          const nlohmann::json& m = t.metadata;
          switch (family) {
            case Family::kArith: {
              const Evaluation e = evaluate_expression(m.at("expression").get<std::string>());
              ASSERT_TRUE(e.value);
              EXPECT_EQ(std::to_string(e.value->num), t.answer) << t.id;
              EXPECT_EQ(e.value->den, 1);
              break;
            }
            case Family::kCount: {
              const std::string kind = m.at("kind");
              if (kind == "letter") {
                const std::string word = m.at("word"), letter = m.at("letter");
                EXPECT_EQ(std::to_string(std::count(word.begin(), word.end(), letter[0])),
                          t.answer);
              } else if (kind == "length") {
                EXPECT_EQ(std::to_string(m.at("word").get<std::string>().size()), t.answer);
              } else if (kind == "items") {
                const auto items = m.at("items").get<std::vector<std::string>>();
                EXPECT_EQ(std::to_string(std::count(items.begin(), items.end(), m.at("item"))),
                          t.answer);
              } else {
                EXPECT_EQ(kind, "list_length");
                EXPECT_EQ(std::to_string(m.at("items").size()), t.answer);
              }
              break;
            }
            case Family::kWordprob:
              for (const auto& step : m.at("steps")) {
                const Evaluation e = evaluate_expression(step.at("expr").get<std::string>());
                ASSERT_TRUE(e.value) << t.id;
                EXPECT_EQ(std::to_string(e.value->num), step.at("result")) << t.id;
                EXPECT_GE(e.value->num, 0) << t.id;
              }
              EXPECT_EQ(m.at("steps").back().at("result"), t.answer);
              break;
            case Family::kLookup:
              for (const auto& fact : m.at("facts")) {
                const std::string id = fact.at("entity_id");
                const LookupEntity& e = world.entities()[std::stoul(id.substr(1))];
                EXPECT_EQ(e.split, split) << t.id;
                EXPECT_EQ(fact.at("document_id"), e.document_id());
                EXPECT_THAT(t.prompt, HasSubstr(e.name));
                EXPECT_THAT(fact.at("query").get<std::string>(), HasSubstr(e.name));
              }
              if (m.at("combine") == "single") {
                EXPECT_EQ(m.at("facts")[0].at("value"), t.answer);
              }
              break;
            case Family::kCountdown:
              EXPECT_TRUE(countdown_solves(m.at("solution").get<std::string>(),
                                           m.at("numbers").get<std::vector<int64_t>>(),
                                           m.at("target").get<int64_t>()));
              EXPECT_EQ(m.at("numbers").size(), static_cast<size_t>(d + 2));
              break;
            case Family::kGsm8k:
              break;
          }
        }
      }
    }
  }
}

// What a problem is, apart from its wording: equal keys in both splits would
// mean a train problem is also an eval problem.
std::string problem_key(const Task& t) {
  const nlohmann::json& m = t.metadata;
  switch (t.family) {
    case Family::kArith:
      return m.at("expression");
    case Family::kWordprob:
      return m.at("template").get<std::string>() + m.at("steps").dump();
    case Family::kCountdown: {
      auto numbers = m.at("numbers").get<std::vector<int64_t>>();
      std::sort(numbers.begin(), numbers.end());
      return nlohmann::json(numbers).dump() + m.at("target").dump();
    }
    default:
      return "";
  }
}

TEST(Splits, GeneratedProblemsNeverCrossSplits) {
  for (Family family : {Family::kArith, Family::kWordprob, Family::kCountdown}) {
    std::set<std::string> train, eval;
    for (int d = 1; d <= max_difficulty(family); ++d) {
      // Low difficulties have few distinct problems: any overlap would show.
      for (uint64_t i = 0; i < 1500; ++i) {
        train.insert(problem_key(shared_generator().generate(family, Split::kTrain, i, d, 3)));
        eval.insert(problem_key(shared_generator().generate(family, Split::kEval, i, d, 3)));
      }
    }
    for (const std::string& key : eval) {
      EXPECT_FALSE(train.count(key)) << family_name(family) << " problem in both splits: " << key;
    }
    EXPECT_GT(eval.size(), 500u) << family_name(family);
  }
}

TEST(Splits, CountWordsNeverCrossSplits) {
  const WordList& words = shared_generator().words();
  std::set<std::string> train(words.words(Split::kTrain).begin(), words.words(Split::kTrain).end());
  for (const std::string& w : words.words(Split::kEval)) ASSERT_FALSE(train.count(w)) << w;
  // The held-out words include plenty of short ones (the ≤ 8-letter benchmark).
  const auto& eval = words.words(Split::kEval);
  EXPECT_GT(
      std::count_if(eval.begin(), eval.end(), [](const std::string& w) { return w.size() <= 8; }),
      2000);
  for (int d = 1; d <= max_difficulty(Family::kCount); ++d) {
    for (uint64_t i = 0; i < 300; ++i) {
      for (Split split : {Split::kTrain, Split::kEval}) {
        const Task t = shared_generator().generate(Family::kCount, split, i, d, 9);
        std::vector<std::string> used;
        if (t.metadata.contains("word")) used.push_back(t.metadata.at("word"));
        if (t.metadata.contains("items")) {
          for (const auto& item : t.metadata.at("items")) used.push_back(item);
        }
        for (const std::string& w : used) {
          EXPECT_EQ(train.count(w) == 1, split == Split::kTrain) << t.id << ": " << w;
        }
        if (t.metadata.at("kind") == "letter") {
          const size_t n = t.metadata.at("word").get<std::string>().size();
          EXPECT_GE(n, static_cast<size_t>(3 * d)) << t.id;
          if (d < 5) {
            EXPECT_LE(n, static_cast<size_t>(3 * d + 2)) << t.id;
          }
        }
      }
    }
  }
}

TEST(Splits, LookupAndGsm8kKeepTheirSources) {
  for (uint64_t i = 0; i < 300; ++i) {
    for (Split split : {Split::kTrain, Split::kEval}) {
      const Task t = shared_generator().generate(Family::kLookup, split, i, 1 + i % 2, 4);
      for (const auto& fact : t.metadata.at("facts")) {
        const size_t index = std::stoul(fact.at("entity_id").get<std::string>().substr(1));
        EXPECT_EQ(index % 10 == 0, split == Split::kEval) << t.id;
      }
    }
  }
  EXPECT_EQ(
      shared_generator().generate(Family::kGsm8k, Split::kTrain, 0, 8, 0).metadata["question"],
      shared_generator().gsm8k(Split::kTrain)[0].question);
  EXPECT_EQ(shared_generator().generate(Family::kGsm8k, Split::kEval, 0, 8, 0).metadata["question"],
            shared_generator().gsm8k(Split::kEval)[0].question);
}

TEST(Generators, EachFamilyHasSeveralPhrasings) {
  for (Family family : kFamilies) {
    std::set<std::string> openings;
    for (uint64_t i = 0; i < 300; ++i) {
      const std::string prompt = shared_generator().generate(family, Split::kTrain, i, 2, 1).prompt;
      openings.insert(prompt.substr(0, prompt.find(' ')));
    }
    EXPECT_GE(openings.size(), 3u) << family_name(family);
  }
}

TEST(Generators, Gsm8kDifficultyFiltersRows) {
  for (uint64_t i = 0; i < 200; ++i) {
    EXPECT_LE(shared_generator().generate(Family::kGsm8k, Split::kTrain, i, 2, 0).difficulty, 2);
  }
  // Index i walks the rows in file order.
  EXPECT_EQ(shared_generator().generate(Family::kGsm8k, Split::kTrain, 7473 + 5, 8, 0).id,
            "gsm8k/train/00005");
}

TEST(Mixture, DrawsFamiliesByWeightDeterministically) {
  FamilyWeights weights{};
  weights[static_cast<int>(Family::kArith)] = 1;
  weights[static_cast<int>(Family::kCountdown)] = 3;
  const TaskMixture mixture(shared_generator(), weights, 1, 42);
  std::map<Family, int> counts;
  for (uint64_t i = 0; i < 2000; ++i) {
    const Task t = mixture.sample(Split::kTrain, i);
    ++counts[t.family];
    if (i < 20) {
      EXPECT_EQ(task_to_json(t), task_to_json(mixture.sample(Split::kTrain, i)));
    }
  }
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_NEAR(counts[Family::kCountdown] / 2000.0, 0.75, 0.04);
}

TEST(Mixture, DifficultyHookChangesLaterSamples) {
  FamilyWeights weights{};
  weights[static_cast<int>(Family::kCount)] = 1;
  TaskMixture mixture(shared_generator(), weights, 1, 42);
  EXPECT_EQ(mixture.sample(Split::kTrain, 0).difficulty, 1);
  mixture.set_difficulty(Family::kCount, 4);
  EXPECT_EQ(mixture.difficulty(Family::kCount), 4);
  EXPECT_EQ(mixture.difficulty(Family::kArith), 1);
  EXPECT_EQ(mixture.sample(Split::kTrain, 0).difficulty, 4);
  EXPECT_THROW(mixture.set_difficulty(Family::kCount, 0), Error);
}

TEST(Mixture, SpreadDrawsEveryDifficultyUpToTheFamilysMaximum) {
  FamilyWeights weights{};
  weights[static_cast<int>(Family::kCount)] = 1;
  weights[static_cast<int>(Family::kLookup)] = 1;
  TaskMixture mixture(shared_generator(), weights, 2, 42);
  const TaskMixture unspread(shared_generator(), weights, 2, 42);
  mixture.spread_difficulty_to(2);  // a range of one level: the same stream
  for (uint64_t i = 0; i < 20; ++i) {
    EXPECT_EQ(task_to_json(mixture.sample(Split::kTrain, i)),
              task_to_json(unspread.sample(Split::kTrain, i)));
  }
  mixture.spread_difficulty_to(50);
  std::map<Family, std::set<int>> levels;
  for (uint64_t i = 0; i < 400; ++i) {
    const Task t = mixture.sample(Split::kTrain, i);
    levels[t.family].insert(t.difficulty);
    EXPECT_EQ(task_to_json(t), task_to_json(mixture.sample(Split::kTrain, i)));
  }
  EXPECT_EQ(levels[Family::kCount], (std::set<int>{2, 3, 4, 5}));
  EXPECT_EQ(levels[Family::kLookup], (std::set<int>{2}));  // its maximum is 2
  EXPECT_THROW(mixture.spread_difficulty_to(0), Error);
}

std::string mixture_error(const FamilyWeights& weights, int difficulty = 1) {
  try {
    TaskMixture(shared_generator(), weights, difficulty, 0);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Mixture, BadWeightsAreClearErrors) {
  FamilyWeights weights{};
  EXPECT_THAT(mixture_error(weights), HasSubstr("every task family weight is 0"));
  weights[1] = -1;
  EXPECT_THAT(mixture_error(weights), HasSubstr("tasks.count = -1 is not a finite number >= 0"));
  weights[1] = std::nan("");
  EXPECT_THAT(mixture_error(weights), HasSubstr("tasks.count = nan"));
  weights[1] = 1;
  EXPECT_THAT(mixture_error(weights, 0), HasSubstr("difficulty 0 is below 1"));
}

TEST(Families, NamesRoundTripAndUnknownNamesAreErrors) {
  for (Family family : kFamilies) EXPECT_EQ(parse_family(family_name(family)), family);
  EXPECT_EQ(parse_split("eval"), Split::kEval);
  try {
    parse_family("counting");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("unknown task family `counting`; expected one of: arith"));
  }
  EXPECT_THROW(parse_split("test"), Error);
}

}  // namespace
}  // namespace ponder
