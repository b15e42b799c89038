#include "curricula/documents.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/error.h"
#include "tests/test_util.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> read_all(const std::filesystem::path& file,
                                  const std::vector<std::string>& fields = {},
                                  uint64_t max_bytes = 0) {
  std::vector<std::string> docs;
  for_each_document(
      file, fields, [&](std::string_view d) { docs.emplace_back(d); }, max_bytes);
  return docs;
}

std::string error_of(const std::filesystem::path& file, const std::vector<std::string>& fields) {
  try {
    read_all(file, fields);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Documents, JsonlJoinsEveryStringFieldInFileOrder) {
  testing::TempDir dir;
  testing::write_file(dir / "a.jsonl",
                      "{\"question\": \"q1\", \"n\": 3, \"answer\": \"a1\"}\n\n"
                      "{\"answer\": \"a2\", \"question\": \"q2\"}\n");
  EXPECT_EQ(read_all(dir / "a.jsonl"), (std::vector<std::string>{"q1\na1", "a2\nq2"}));
  EXPECT_EQ(read_all(dir / "a.jsonl", {"question"}), (std::vector<std::string>{"q1", "q2"}));
}

TEST(Documents, PlainTextIsOneDocument) {
  testing::TempDir dir;
  testing::write_file(dir / "a.txt", "line one\nline two\n\xff bytes kept");
  EXPECT_EQ(read_all(dir / "a.txt"),
            (std::vector<std::string>{"line one\nline two\n\xff bytes kept"}));
  EXPECT_EQ(read_all(dir / "a.txt", {}, 4), (std::vector<std::string>{"line"}));
}

TEST(Documents, StopsAtTheFirstDocumentThatReachesTheByteLimit) {
  const auto docs = read_all("data/gsm8k/train.jsonl", {}, 1000);
  uint64_t before_last = 0;
  for (size_t i = 0; i + 1 < docs.size(); ++i) before_last += docs[i].size();
  EXPECT_LT(before_last, 1000u);
  EXPECT_GE(before_last + docs.back().size(), 1000u);
}

TEST(Documents, BadInputsNameTheFileAndLine) {
  testing::TempDir dir;
  EXPECT_THAT(error_of(dir / "missing.jsonl", {}), HasSubstr("not found"));
  EXPECT_THAT(error_of(dir.path(), {}), HasSubstr("not found or unreadable"));

  testing::write_file(dir / "bad.jsonl", "{\"a\": \"x\"}\n{\"a\": \"y\"\n");
  EXPECT_THAT(error_of(dir / "bad.jsonl", {}), HasSubstr("bad.jsonl:2: not valid JSON"));

  testing::write_file(dir / "array.jsonl", "[1, 2]\n");
  EXPECT_THAT(error_of(dir / "array.jsonl", {}),
              HasSubstr("array.jsonl:1: expected a JSON object, got array"));

  testing::write_file(dir / "fields.jsonl", "{\"a\": \"x\", \"b\": 1}\n");
  EXPECT_THAT(error_of(dir / "fields.jsonl", {"c"}),
              HasSubstr("fields.jsonl:1: missing field `c`"));
  EXPECT_THAT(error_of(dir / "fields.jsonl", {"b"}),
              HasSubstr("field `b` is number; expected a string"));
}

}  // namespace
}  // namespace ponder
