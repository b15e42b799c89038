// safetensors: bitwise round trip, the exact byte layout, and bad files, each a
// clear error naming the file (and tensor), never a crash or wrong values.
#include <cmath>
#include <cstring>
#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "policy/error.h"
#include "policy/safetensors.h"
#include "tests/test_util.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;

// A file of the given header text (unpadded) and data bytes.
std::string raw_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

std::string floats(std::initializer_list<float> values) {
  return std::string(reinterpret_cast<const char*>(values.begin()), values.size() * sizeof(float));
}

uint32_t bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}

class Safetensors : public ::testing::Test {
 protected:
  std::string read_error(const std::string& contents) {
    const auto path = dir_ / "t.safetensors";
    testing::write_file(path, contents);
    try {
      read_safetensors(path);
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr(path.string()));
      return e.what();
    }
    ADD_FAILURE() << "reading succeeded";
    return "";
  }
  // One tensor "w" of `shape` at `offsets`, and `data`.
  std::string one_tensor(const nlohmann::json& shape, const nlohmann::json& offsets,
                         const std::string& data, const std::string& dtype = "F32") {
    const nlohmann::json h = {
        {"w", {{"dtype", dtype}, {"shape", shape}, {"data_offsets", offsets}}}};
    return raw_file(h.dump(), data);
  }

  testing::TempDir dir_;
};

TEST_F(Safetensors, RoundTripIsBitwise) {
  std::vector<float> a(2 * 3), b(5), empty;
  for (size_t i = 0; i < a.size(); ++i) a[i] = std::sin(static_cast<float>(i)) * 1e-30f;
  b = {-0.0f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
       std::numeric_limits<float>::denorm_min(), 3.14159f};
  const auto path = dir_ / "sub" / "x.safetensors";
  write_safetensors(path,
                    {{"zeta", {2, 3}, a.data()}, {"alpha", {5}, b.data()}, {"e", {0, 4}, nullptr}},
                    {{"format", "pt"}, {"note", "héllo"}});
  const SafetensorsFile f = read_safetensors(path);
  EXPECT_EQ(f.names, (std::vector<std::string>{"zeta", "alpha", "e"}));
  EXPECT_EQ(f.metadata, (std::map<std::string, std::string>{{"format", "pt"}, {"note", "héllo"}}));
  EXPECT_EQ(f.get("zeta").shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(f.get("alpha").shape, (std::vector<int64_t>{5}));
  EXPECT_EQ(f.get("e").shape, (std::vector<int64_t>{0, 4}));
  EXPECT_TRUE(f.get("e").values.empty());
  ASSERT_EQ(f.get("zeta").values.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(bits(f.get("zeta").values[i]), bits(a[i]));
  ASSERT_EQ(f.get("alpha").values.size(), b.size());
  for (size_t i = 0; i < b.size(); ++i) EXPECT_EQ(bits(f.get("alpha").values[i]), bits(b[i]));
}

TEST_F(Safetensors, Layout) {
  const float x[3] = {1, 2, 3};
  const std::string bytes = encode_safetensors({{"x", {3}, x}});
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);  // data starts 8-byte aligned
  EXPECT_EQ(bytes.size(), 8 + n + 12);
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_EQ(header, nlohmann::json::parse(
                        R"({"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}})"));
  EXPECT_EQ(bytes.substr(8 + n), floats({1, 2, 3}));
  EXPECT_FALSE(header.contains("__metadata__"));  // none given
}

TEST_F(Safetensors, BadNamesAreRefusedOnWrite) {
  const float x = 1;
  EXPECT_THROW(encode_safetensors({{"a", {1}, &x}, {"a", {1}, &x}}), Error);
  EXPECT_THROW(encode_safetensors({{"__metadata__", {1}, &x}}), Error);
  EXPECT_THROW(encode_safetensors({{"", {1}, &x}}), Error);
  EXPECT_THROW(encode_safetensors({{"a", {-1}, &x}}), Error);
  EXPECT_THROW(encode_safetensors({{"a", {1}, nullptr}}), Error);
}

TEST_F(Safetensors, MissingFile) {
  try {
    read_safetensors(dir_ / "nope.safetensors");
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("nope.safetensors"));
    EXPECT_THAT(e.what(), HasSubstr("not found"));
  }
}

TEST_F(Safetensors, MissingTensorLookup) {
  const float x = 1;
  write_safetensors(dir_ / "t.safetensors", {{"x", {1}, &x}});
  const SafetensorsFile f = read_safetensors(dir_ / "t.safetensors");
  EXPECT_TRUE(f.contains("x"));
  EXPECT_FALSE(f.contains("y"));
  try {
    f.get("y");
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr((dir_ / "t.safetensors").string()));
    EXPECT_THAT(e.what(), HasSubstr("no tensor `y`"));
  }
}

TEST_F(Safetensors, TruncatedHeaderLength) {
  EXPECT_THAT(read_error(std::string("\x10\0\0", 3)), HasSubstr("truncated: 3 bytes"));
}

TEST_F(Safetensors, HeaderLengthBeyondFile) {
  std::string file = one_tensor({1}, {0, 4}, floats({1}));
  EXPECT_THAT(read_error(file.substr(0, 20)), HasSubstr("runs past the end of the file"));
  file[7] = '\x7f';  // a huge length
  EXPECT_THAT(read_error(file), HasSubstr("runs past the end of the file"));
}

TEST_F(Safetensors, BadJson) {
  EXPECT_THAT(read_error(raw_file("{\"w\": {\"dtype\"", "")), HasSubstr("not a valid JSON"));
  EXPECT_THAT(read_error(raw_file("[1, 2]", "")), HasSubstr("not a valid JSON object"));
  EXPECT_THAT(read_error(raw_file("{\"w\": 5}", "")), HasSubstr("tensor `w` is 5"));
  EXPECT_THAT(read_error(raw_file(R"({"__metadata__": {"a": 1}})", "")),
              HasSubstr("__metadata__ `a` is number; expected a string"));
}

TEST_F(Safetensors, UnsupportedDtype) {
  EXPECT_THAT(read_error(one_tensor({2}, {0, 4}, "abcd", "BF16")),
              HasSubstr("tensor `w` has dtype BF16; only F32 is supported"));
}

TEST_F(Safetensors, ShapeSizeMismatch) {
  EXPECT_THAT(read_error(one_tensor({2, 2}, {0, 12}, floats({1, 2, 3}))),
              HasSubstr("tensor `w`: shape [2, 2] needs 16 bytes but data_offsets [0, 12] "
                        "span 12"));
  EXPECT_THAT(read_error(one_tensor({-1}, {0, 4}, floats({1}))),
              HasSubstr("not a list of non-negative integers"));
  EXPECT_THAT(read_error(one_tensor({1}, {4, 0}, floats({1}))),
              HasSubstr("not [begin, end] with begin <= end"));
}

TEST_F(Safetensors, OffsetsOutOfRange) {
  // The header claims more data than the file holds (a truncated file).
  EXPECT_THAT(read_error(one_tensor({3}, {0, 12}, floats({1, 2}))),
              HasSubstr("tensor `w`: data_offsets [0, 12] run past the data buffer of 8 bytes"));
}

TEST_F(Safetensors, OverlappingOffsets) {
  const nlohmann::json h = {
      {"a", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {0, 8}}}},
      {"b", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {4, 12}}}},
  };
  EXPECT_THAT(read_error(raw_file(h.dump(), floats({1, 2, 3}))),
              HasSubstr("tensor `b`: data_offsets [4, 12] overlap tensor `a`"));
}

TEST_F(Safetensors, HoleInBuffer) {
  const nlohmann::json h = {
      {"a", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {0, 4}}}},
      {"b", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {8, 12}}}},
  };
  EXPECT_THAT(read_error(raw_file(h.dump(), floats({1, 2, 3}))),
              HasSubstr("bytes [4, 8) of the data buffer belong to no tensor"));
}

TEST_F(Safetensors, TrailingGarbage) {
  EXPECT_THAT(read_error(one_tensor({1}, {0, 4}, floats({1, 2}))),
              HasSubstr("4 trailing bytes after the last tensor"));
}

TEST_F(Safetensors, FileOrderIsOffsetOrder) {
  // Header keys in one order, data in another: names follow the data.
  const nlohmann::json h = {
      {"a", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {4, 8}}}},
      {"b", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {0, 4}}}},
  };
  const auto path = dir_ / "t.safetensors";
  testing::write_file(path, raw_file(h.dump() + "   ", floats({7, 9})));
  const SafetensorsFile f = read_safetensors(path);
  EXPECT_EQ(f.names, (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(f.get("a").values, std::vector<float>{9});
  EXPECT_EQ(f.get("b").values, std::vector<float>{7});
}

}  // namespace
}  // namespace ponder
