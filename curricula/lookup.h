// The lookup world: fictional places whose facts exist only in a generated
// document corpus, so that a model can know them only by searching (eval) or
// by having read them in pretraining (train).
//
// Invariants (tests/curricula/test_lookup.cc checks them):
//  - the world is a function of (entities, seed) alone, and entity i does not
//    depend on how many entities follow it;
//  - every generated name (places, look-alikes, capitals, rivers) is unique;
//  - entity i is eval iff i % 10 == 0; each entity has one look-alike
//    distractor (a name differing in its last syllable, the same kind, other
//    facts) in the same split;
//  - documents(Split::kTrain), the pretraining text, never names an eval
//    entity, its look-alike, or their capitals and rivers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "curricula/random.h"
#include "curricula/task.h"

namespace ponder {

// The facts a place has; attribute_name gives "capital", "founded",
// "population", "river", "flag_color", "export".
enum class Attribute { kCapital, kFounded, kPopulation, kRiver, kFlagColor, kExport };
inline constexpr int kNumAttributes = 6;
std::string_view attribute_name(Attribute attribute);

struct LookupEntity {
  std::string id;    // "e00012" for entity 12, "d00012" for its distractor
  std::string name;  // "Valoria"
  std::string kind;  // "kingdom", "island", ...
  Split split = Split::kTrain;
  std::string capital, river, flag_color, export_good;
  int founded = 0;         // a year
  int64_t population = 0;  // people

  // The value of `attribute`: a name, or a number in canonical form.
  std::string value(Attribute attribute) const;
  // The document describing this place.
  std::string document_id() const { return "doc-" + id; }
};

// One document of the search corpus, written as JSONL {id, title, text}.
struct CorpusDocument {
  std::string id;
  std::string title;
  std::string text;
};

class LookupWorld {
 public:
  // Throws ponder::Error when entities < 20 (each split needs two places
  // for the two-fact questions) or > 100000.
  LookupWorld(int entities, uint64_t seed);

  const std::vector<LookupEntity>& entities() const { return entities_; }
  // distractors()[i] is the look-alike of entities()[i].
  const std::vector<LookupEntity>& distractors() const { return distractors_; }
  // Indices into entities() of the places in `split`.
  const std::vector<size_t>& indices(Split split) const {
    return split == Split::kTrain ? train_ : eval_;
  }

  // The documents about the places of `split` and their look-alikes, in id
  // order. documents(Split::kTrain) is the lookup part of the pretraining
  // corpus.
  std::vector<CorpusDocument> documents(Split split) const;
  // Every document, both splits, in id order: the corpus the search tool
  // indexes.
  std::vector<CorpusDocument> search_corpus() const;

  // Fills prompt, answer, metadata and difficulty (1: one fact; 2: two
  // places' facts combined, a difference of founding years or a sum of
  // populations) of a lookup task drawn with `rng` from `split`.
  void make_task(Split split, int difficulty, Rng& rng, Task& task) const;

 private:
  CorpusDocument document(const LookupEntity& entity) const;

  uint64_t seed_;
  std::vector<LookupEntity> entities_, distractors_;
  std::vector<size_t> train_, eval_;
};

// Writes `documents` as JSONL, one {"id", "title", "text"} object a line,
// creating parent folders. Throws ponder::Error when the file cannot be
// written.
void write_corpus_jsonl(const std::vector<CorpusDocument>& documents,
                        const std::filesystem::path& file);

}  // namespace ponder
