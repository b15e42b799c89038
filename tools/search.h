// The search stub: ranked lookup in a local corpus, behind the same Tool
// interface a real web-search backend would use.
//
// Corpus: JSONL, one object per line with "id" (a string or an integer),
// "title" and "text" (strings); blank lines are skipped. Ranking: Okapi BM25
// (k1 = 1.2, b = 0.75, idf = ln(1 + (N - df + 0.5) / (df + 0.5))) over the
// words of title and text together.
//
// Invariants: results are deterministic -- ties in score go to the document
// that came first in the corpus; an index is immutable once built, so
// search() is safe from many threads at once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tools/tool.h"

namespace ponder {

struct SearchDocument {
  std::string id, title, text;
};

struct SearchHit {
  std::size_t document;  // index into the corpus
  double score;
};

// The words of `text` as indexed and queried: maximal runs of ASCII letters
// and digits, lower-cased, and maximal runs of non-ASCII bytes (so words of
// other scripts stay whole). Everything else separates words.
std::vector<std::string> search_words(std::string_view text);

class Bm25Index {
 public:
  static constexpr double kK1 = 1.2;
  static constexpr double kB = 0.75;

  // Throws ponder::Error when two documents share an id.
  explicit Bm25Index(std::vector<SearchDocument> documents);

  // Throws ponder::Error naming the file and line of any problem: the file is
  // missing, a line is not a JSON object, a field is missing or of the wrong
  // type, an id repeats, or there are no documents.
  static Bm25Index load_jsonl(const std::filesystem::path& path);

  // The best `top_k` documents holding at least one word of the query, best
  // first; empty when none does.
  std::vector<SearchHit> search(std::string_view query, std::size_t top_k) const;

  std::size_t size() const { return documents_.size(); }
  const SearchDocument& document(std::size_t i) const { return documents_[i]; }

 private:
  struct Posting {
    uint32_t document;
    uint32_t count;  // occurrences of the word in the document
  };

  std::vector<SearchDocument> documents_;
  std::unordered_map<std::string, uint32_t> word_ids_;
  std::vector<std::vector<Posting>> postings_;  // by word id, in document order
  std::vector<uint32_t> lengths_;               // words per document
  double average_length_ = 0;
};

struct SearchToolOptions {
  std::filesystem::path corpus;  // JSONL, see above
  int64_t top_k = 3;             // results per query
  int64_t snippet_bytes = 300;   // text shown per result

  // Throws ponder::Error naming the option as its config key
  // (tools.search.<name>) and what is accepted.
  void validate() const;
};

// Longest query accepted; longer is a kError result.
inline constexpr std::size_t kMaxSearchQueryBytes = 1024;

// Output per result: "[rank] title (id)", then a snippet of the text starting
// near the first word of the query it holds. No hit is kOk with a message
// saying so; a query with no words, or too long, is kError.
class SearchTool final : public Tool {
 public:
  // Loads options.corpus (ponder::Error as Bm25Index::load_jsonl, the
  // message naming tools.search.corpus).
  explicit SearchTool(SearchToolOptions options);
  // Over an index already built (shared, or made from documents in memory);
  // options.corpus is not used. Throws ponder::Error on a bad top_k or
  // snippet_bytes.
  SearchTool(std::shared_ptr<const Bm25Index> index, SearchToolOptions options);

  std::string_view name() const override { return "search"; }
  std::string_view description() const override;

  const Bm25Index& index() const { return *index_; }

 private:
  ToolResult call(std::string_view query) override;

  SearchToolOptions options_;
  std::shared_ptr<const Bm25Index> index_;
};

}  // namespace ponder
