// The search stub: words, BM25 scores against a hand computation, ranking
// and ties, snippets, corpus errors, and concurrent queries.
#include <fmt/format.h>

#include <atomic>
#include <cmath>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/error.h"
#include "tests/test_util.h"
#include "tools/search.h"

namespace ponder {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::shared_ptr<const Bm25Index> index_of(std::vector<SearchDocument> docs) {
  return std::make_shared<const Bm25Index>(std::move(docs));
}

SearchToolOptions options_with(int64_t top_k = 3, int64_t snippet_bytes = 300) {
  SearchToolOptions options;
  options.corpus = "unused";
  options.top_k = top_k;
  options.snippet_bytes = snippet_bytes;
  return options;
}

TEST(SearchWords, SplitsLowercasesAndKeepsOtherScriptsWhole) {
  EXPECT_THAT(search_words("Hello, World! x2 don't"),
              ElementsAre("hello", "world", "x2", "don", "t"));
  EXPECT_THAT(search_words("Zürich café"), ElementsAre("z", "\xC3\xBC", "rich", "caf", "\xC3\xA9"));
  EXPECT_THAT(search_words("東京 tower"), ElementsAre("東京", "tower"));
  EXPECT_TRUE(search_words(" ,.;!? ").empty());
}

TEST(Bm25, ScoresMatchAHandComputation) {
  const auto index = index_of({{"a", "", "cat cat dog"}, {"b", "", "dog"}, {"c", "", "bird fish"}});
  const std::vector<SearchHit> hits = index->search("cat", 10);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].document, 0u);
  // N = 3, df = 1, avgdl = 2, |a| = 3, tf = 2.
  const double idf = std::log(1 + (3 - 1 + 0.5) / (1 + 0.5));
  const double norm = 1.2 * (1 - 0.75 + 0.75 * 3 / 2.0);
  EXPECT_NEAR(hits[0].score, idf * 2 * 2.2 / (2 + norm), 1e-12);
}

TEST(Bm25, RanksByScoreThenCorpusOrder) {
  const auto index = index_of({{"1", "", "apple banana"},
                               {"2", "", "apple"},
                               {"3", "", "apple banana"},
                               {"4", "", "cherry"}});
  const std::vector<SearchHit> hits = index->search("Apple BANANA apple", 3);
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0].document, 0u);  // ties with document 2: the first in the corpus wins
  EXPECT_EQ(hits[1].document, 2u);
  EXPECT_EQ(hits[2].document, 1u);
  EXPECT_TRUE(index->search("durian", 3).empty());
  EXPECT_EQ(index->search("apple", 1).size(), 1u);
}

TEST(Bm25, TitlesCount) {
  const auto index = index_of({{"1", "Paris", "a city"}, {"2", "Rome", "paris is elsewhere"}});
  EXPECT_EQ(index->search("paris", 2).size(), 2u);
}

TEST(Bm25, RepeatedIdsAreRefused) {
  EXPECT_THROW(index_of({{"x", "", "a"}, {"x", "", "b"}}), Error);
}

TEST(SearchTool, FormatsRankedSnippets) {
  SearchTool tool(index_of({{"doc-1", "Eiffel Tower", "The tower is 330 metres tall."},
                            {"doc-2", "Louvre", "A museum in Paris."}}),
                  options_with());
  EXPECT_EQ(tool.name(), "search");
  const ToolResult r = tool.run("How tall is the Eiffel tower?");
  EXPECT_EQ(r.status, ToolStatus::kOk);
  EXPECT_EQ(r.output, "[1] Eiffel Tower (doc-1)\nThe tower is 330 metres tall.");
  EXPECT_EQ(tool.run("tower museum").output,
            "[1] Eiffel Tower (doc-1)\nThe tower is 330 metres tall.\n\n"
            "[2] Louvre (doc-2)\nA museum in Paris.");
}

TEST(SearchTool, SnippetsStartNearTheMatchAndAreCapped) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += fmt::format("filler{} ", i);
  text += "needle here";
  SearchTool tool(index_of({{"1", "T", text}}), options_with(3, 40));
  const ToolResult r = tool.run("needle");
  EXPECT_EQ(r.output, "[1] T (1)\n…filler99 needle here");
  SearchTool short_tool(index_of({{"1", "T", "needle " + text}}), options_with(3, 20));
  EXPECT_EQ(short_tool.run("needle").output, "[1] T (1)\nneedle filler0 fille…");
}

TEST(SearchTool, BadQueriesAreErrorsForTheModel) {
  SearchTool tool(index_of({{"1", "T", "text"}}), options_with());
  EXPECT_EQ(tool.run("").status, ToolStatus::kError);
  EXPECT_EQ(tool.run("?!").output, "the query has no words to search for");
  const ToolResult long_query = tool.run(std::string(kMaxSearchQueryBytes + 1, 'a'));
  EXPECT_EQ(long_query.status, ToolStatus::kError);
  EXPECT_THAT(long_query.output, HasSubstr("the limit is 1024 bytes"));
  const ToolResult none = tool.run("nothing \xff matches");
  EXPECT_EQ(none.status, ToolStatus::kOk);
  EXPECT_EQ(none.output, "no results for \"nothing \xEF\xBF\xBD matches\"");
}

TEST(SearchTool, OverAnIndexTheLimitsAreStillChecked) {
  EXPECT_THROW(SearchTool(index_of({{"1", "T", "text"}}), options_with(0)), Error);
  EXPECT_THROW(SearchTool(index_of({{"1", "T", "text"}}), options_with(3, 15)), Error);
}

TEST(SearchTool, ConcurrentQueriesAgree) {
  std::vector<SearchDocument> docs;
  for (int i = 0; i < 500; ++i) {
    docs.push_back({std::to_string(i), "", fmt::format("word{} common w{}", i % 37, i % 11)});
  }
  SearchTool tool(index_of(std::move(docs)), options_with(5));
  const std::string expected = tool.run("word3 w4 common").output;
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) wrong += tool.run("word3 w4 common").output != expected;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

class CorpusFile : public ::testing::Test {
 protected:
  std::string load_error(const std::string& contents) {
    testing::write_file(dir_ / "corpus.jsonl", contents);
    try {
      Bm25Index::load_jsonl(dir_ / "corpus.jsonl");
    } catch (const Error& e) {
      std::string message = e.what();
      const std::string path = (dir_ / "corpus.jsonl").string();
      message.replace(message.find(path), path.size(), "F");
      return message;
    }
    return "(no error)";
  }
  testing::TempDir dir_;
};

TEST_F(CorpusFile, LoadsIdsAsStringsOrIntegersAndSkipsBlankLines) {
  testing::write_file(dir_ / "c.jsonl",
                      "{\"id\": 7, \"title\": \"T\", \"text\": \"hello\"}\n\n"
                      "{\"id\": \"x\", \"title\": \"U\", \"text\": \"world\", \"extra\": 1}\n");
  const Bm25Index index = Bm25Index::load_jsonl(dir_ / "c.jsonl");
  ASSERT_EQ(index.size(), 2u);
  EXPECT_EQ(index.document(0).id, "7");
  EXPECT_EQ(index.document(1).title, "U");
}

TEST_F(CorpusFile, BadFilesNameTheLine) {
  EXPECT_EQ(load_error("{\"id\": 1, \"title\": \"a\", \"text\": \"b\"}\nnot json\n"),
            "search corpus `F` line 2: not valid JSON; expected an object {\"id\", \"title\", "
            "\"text\"}");
  EXPECT_EQ(load_error("[1, 2]\n"),
            "search corpus `F` line 1: expected a JSON object {\"id\", \"title\", \"text\"}, got "
            "array");
  EXPECT_EQ(load_error("{\"id\": 1, \"text\": \"b\"}\n"),
            "search corpus `F` line 1: missing field \"title\"");
  EXPECT_EQ(load_error("{\"id\": 1.5, \"title\": \"a\", \"text\": \"b\"}\n"),
            "search corpus `F` line 1: field \"id\" must be a string or an integer, got number");
  EXPECT_EQ(load_error("{\"id\": 1, \"title\": \"a\", \"text\": 3}\n"),
            "search corpus `F` line 1: field \"text\" must be a string, got number");
  EXPECT_EQ(load_error("{\"id\": 1, \"title\": \"a\", \"text\": \"b\"}\n"
                       "{\"id\": \"1\", \"title\": \"c\", \"text\": \"d\"}\n"),
            "search corpus `F` line 2: id \"1\" is already used on line 1");
  EXPECT_EQ(load_error("\n \n"),
            "search corpus `F`: no documents; expected JSONL lines {\"id\", \"title\", \"text\"}");
}

TEST_F(CorpusFile, ToolOptionsAreChecked) {
  const auto error = [](SearchToolOptions options) {
    try {
      SearchTool tool(options);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  SearchToolOptions options;
  EXPECT_THAT(error(options), HasSubstr("tools.search.corpus: no corpus given"));
  options.corpus = dir_ / "missing.jsonl";
  EXPECT_THAT(error(options), HasSubstr("tools.search.corpus: search corpus `"));
  EXPECT_THAT(error(options), HasSubstr("missing.jsonl`: not found or unreadable"));
  options.top_k = 0;
  EXPECT_EQ(error(options), "tools.search.top_k: expected an integer in [1, 100], got 0");
  options.top_k = 3;
  options.snippet_bytes = 2;
  EXPECT_EQ(error(options),
            "tools.search.snippet_bytes: expected an integer in [16, 65536], got 2");
}

}  // namespace
}  // namespace ponder
