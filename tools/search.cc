#include "tools/search.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "policy/error.h"

namespace ponder {
namespace {

bool is_ascii_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Calls f(word, offset) for each word of `text` (see search_words).
template <typename F>
void for_each_word(std::string_view text, F&& f) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    const bool ascii = is_ascii_word_byte(c);
    if (!ascii && c < 0x80) {
      ++i;
      continue;
    }
    const std::size_t start = i;
    std::string word;
    while (i < text.size()) {
      const auto d = static_cast<unsigned char>(text[i]);
      if (ascii ? !is_ascii_word_byte(d) : d < 0x80) break;
      word += (d >= 'A' && d <= 'Z') ? static_cast<char>(d - 'A' + 'a') : static_cast<char>(d);
      ++i;
    }
    f(std::move(word), start);
  }
}

std::vector<std::string> distinct_words(std::string_view text) {
  std::vector<std::string> words = search_words(text);
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  return words;
}

std::string field(const nlohmann::json& object, const char* name, bool allow_integer,
                  const std::string& where) {
  const auto it = object.find(name);
  if (it == object.end()) throw Error(fmt::format("{}: missing field \"{}\"", where, name));
  if (it->is_string()) return it->get<std::string>();
  if (allow_integer && it->is_number_integer()) return it->dump();
  throw Error(fmt::format("{}: field \"{}\" must be {}, got {}", where, name,
                          allow_integer ? "a string or an integer" : "a string", it->type_name()));
}

}  // namespace

std::vector<std::string> search_words(std::string_view text) {
  std::vector<std::string> words;
  for_each_word(text, [&](std::string word, std::size_t) { words.push_back(std::move(word)); });
  return words;
}

Bm25Index::Bm25Index(std::vector<SearchDocument> documents) : documents_(std::move(documents)) {
  std::unordered_map<std::string_view, std::size_t> first_with_id;
  uint64_t total_length = 0;
  std::unordered_map<std::string, uint32_t> counts;
  for (std::size_t d = 0; d < documents_.size(); ++d) {
    const SearchDocument& doc = documents_[d];
    if (auto [it, added] = first_with_id.emplace(doc.id, d); !added) {
      throw Error(fmt::format("search corpus: documents {} and {} share the id \"{}\"",
                              it->second + 1, d + 1, doc.id));
    }
    counts.clear();
    uint32_t length = 0;
    for (const std::string_view part : {std::string_view(doc.title), std::string_view(doc.text)}) {
      for_each_word(part, [&](std::string word, std::size_t) {
        ++counts[std::move(word)];
        ++length;
      });
    }
    lengths_.push_back(length);
    total_length += length;
    for (auto& [word, count] : counts) {
      auto [it, added] = word_ids_.emplace(word, static_cast<uint32_t>(postings_.size()));
      if (added) postings_.emplace_back();
      postings_[it->second].push_back({static_cast<uint32_t>(d), count});
    }
  }
  average_length_ = documents_.empty() ? 0 : static_cast<double>(total_length) / documents_.size();
}

Bm25Index Bm25Index::load_jsonl(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("search corpus `{}`: not found or unreadable", path.string()));
  std::vector<SearchDocument> documents;
  std::unordered_map<std::string, std::size_t> line_of_id;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = fmt::format("search corpus `{}` line {}", path.string(), number);
    nlohmann::json object;
    try {
      object = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error&) {
      throw Error(fmt::format(
          "{}: not valid JSON; expected an object {{\"id\", \"title\", \"text\"}}", where));
    }
    if (!object.is_object()) {
      throw Error(fmt::format("{}: expected a JSON object {{\"id\", \"title\", \"text\"}}, got {}",
                              where, object.type_name()));
    }
    SearchDocument doc{field(object, "id", true, where), field(object, "title", false, where),
                       field(object, "text", false, where)};
    if (auto [it, added] = line_of_id.emplace(doc.id, number); !added) {
      throw Error(
          fmt::format("{}: id \"{}\" is already used on line {}", where, doc.id, it->second));
    }
    documents.push_back(std::move(doc));
  }
  if (documents.empty()) {
    throw Error(
        fmt::format("search corpus `{}`: no documents; expected JSONL lines "
                    "{{\"id\", \"title\", \"text\"}}",
                    path.string()));
  }
  return Bm25Index(std::move(documents));
}

std::vector<SearchHit> Bm25Index::search(std::string_view query, std::size_t top_k) const {
  const double n = static_cast<double>(documents_.size());
  std::vector<double> scores(documents_.size(), 0.0);
  std::vector<uint32_t> touched;
  for (const std::string& word : distinct_words(query)) {  // sorted: a fixed summation order
    const auto it = word_ids_.find(word);
    if (it == word_ids_.end()) continue;
    const std::vector<Posting>& postings = postings_[it->second];
    const double df = static_cast<double>(postings.size());
    const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
    for (const Posting& p : postings) {
      const double tf = p.count;
      const double norm = kK1 * (1.0 - kB + kB * lengths_[p.document] / average_length_);
      if (scores[p.document] == 0.0) touched.push_back(p.document);
      scores[p.document] += idf * tf * (kK1 + 1.0) / (tf + norm);
    }
  }
  std::vector<SearchHit> hits;
  hits.reserve(touched.size());
  for (uint32_t d : touched) hits.push_back({d, scores[d]});
  const auto better = [](const SearchHit& a, const SearchHit& b) {
    return a.score != b.score ? a.score > b.score : a.document < b.document;
  };
  const std::size_t k = std::min(top_k, hits.size());
  std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(k), hits.end(),
                    better);
  hits.resize(k);
  return hits;
}

namespace {

void check_limits(const SearchToolOptions& options) {
  if (options.top_k < 1 || options.top_k > 100) {
    throw Error(
        fmt::format("tools.search.top_k: expected an integer in [1, 100], got {}", options.top_k));
  }
  if (options.snippet_bytes < 16 || options.snippet_bytes > 65536) {
    throw Error(
        fmt::format("tools.search.snippet_bytes: expected an integer in [16, 65536], got {}",
                    options.snippet_bytes));
  }
}

}  // namespace

void SearchToolOptions::validate() const {
  if (corpus.empty()) {
    throw Error(
        "tools.search.corpus: no corpus given; expected a JSONL file of "
        "{\"id\", \"title\", \"text\"} lines");
  }
  check_limits(*this);
}

namespace {

std::shared_ptr<const Bm25Index> load_corpus(const SearchToolOptions& options) {
  options.validate();
  try {
    return std::make_shared<const Bm25Index>(Bm25Index::load_jsonl(options.corpus));
  } catch (const Error& e) {
    throw Error(fmt::format("tools.search.corpus: {}", e.what()));
  }
}

constexpr std::size_t kTitleBytes = 200;

// Up to `cap` bytes of `text`, starting a little before the first word of the
// query it holds, so that a long document shows the part that matched.
std::string snippet(std::string_view text, const std::vector<std::string>& query_words,
                    std::size_t cap) {
  std::size_t match = std::string_view::npos;
  std::vector<std::size_t> starts;  // of the words up to the match
  for_each_word(text, [&](std::string word, std::size_t offset) {
    if (match != std::string_view::npos) return;
    starts.push_back(offset);
    if (std::binary_search(query_words.begin(), query_words.end(), word)) match = offset;
  });
  std::size_t start = 0;
  if (match != std::string_view::npos && match > cap / 2) {
    // The first word that begins at most cap/4 bytes before the match.
    start = *std::find_if(starts.begin(), starts.end(),
                          [&](std::size_t s) { return s + cap / 4 >= match; });
  }
  return (start > 0 ? "…" : "") + bounded_output(text.substr(start), cap, false, "…");
}

}  // namespace

SearchTool::SearchTool(SearchToolOptions options)
    : options_(std::move(options)), index_(load_corpus(options_)) {}

SearchTool::SearchTool(std::shared_ptr<const Bm25Index> index, SearchToolOptions options)
    : options_(std::move(options)), index_(std::move(index)) {
  check_limits(options_);
}

std::string_view SearchTool::description() const {
  return "search the reference corpus; returns the best-matching documents' titles and snippets";
}

ToolResult SearchTool::call(std::string_view query) {
  if (query.size() > kMaxSearchQueryBytes) {
    return {ToolStatus::kError, fmt::format("the query is {} bytes long; the limit is {} bytes",
                                            query.size(), kMaxSearchQueryBytes)};
  }
  const std::vector<std::string> words = distinct_words(query);
  if (words.empty()) {
    return {ToolStatus::kError, "the query has no words to search for"};
  }
  const std::vector<SearchHit> hits =
      index_->search(query, static_cast<std::size_t>(options_.top_k));
  if (hits.empty()) {
    return {ToolStatus::kOk, fmt::format("no results for \"{}\"", bounded_output(query, 200))};
  }
  std::string out;
  for (std::size_t rank = 0; rank < hits.size(); ++rank) {
    const SearchDocument& doc = index_->document(hits[rank].document);
    if (rank > 0) out += "\n\n";
    out +=
        fmt::format("[{}] {} ({})\n", rank + 1, bounded_output(doc.title, kTitleBytes, false, "…"),
                    bounded_output(doc.id, kTitleBytes, false, "…"));
    out += snippet(doc.text, words, static_cast<std::size_t>(options_.snippet_bytes));
  }
  return {ToolStatus::kOk, std::move(out)};
}

}  // namespace ponder
