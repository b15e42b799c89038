// The tool interface: output bounding, timing, exceptions turned into
// results, and the registry.
#include <stdexcept>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/error.h"
#include "tools/registry.h"
#include "tools/tool.h"

namespace ponder {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(BoundedOutput, KeepsValidUtf8Whole) {
  EXPECT_EQ(bounded_output("héllo 東京 🙂", 100), "héllo 東京 🙂");
  EXPECT_EQ(bounded_output("", 0), "");
  EXPECT_EQ(bounded_output(std::string("a\0b", 3), 10), std::string("a\0b", 3));
}

TEST(BoundedOutput, ReplacesEachInvalidByte) {
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(bounded_output("a\xff"
                           "b",
                           10),
            "a" + fffd + "b");
  EXPECT_EQ(bounded_output("\xc3(", 10), fffd + "(");                            // cut sequence
  EXPECT_EQ(bounded_output("\xc0\xaf", 10), fffd + fffd);                        // overlong
  EXPECT_EQ(bounded_output("\xed\xa0\x80", 10), fffd + fffd + fffd);             // surrogate
  EXPECT_EQ(bounded_output("\xf4\x90\x80\x80", 20), fffd + fffd + fffd + fffd);  // > U+10FFFF
  EXPECT_EQ(bounded_output("\xe6\x9d", 10), fffd + fffd);  // ends mid-character
}

TEST(BoundedOutput, CutsOnACharacterAndMarksIt) {
  EXPECT_EQ(bounded_output("abcdef", 4), "abcd" + std::string(kTruncationMarker));
  EXPECT_EQ(bounded_output("ab東京", 4), "ab" + std::string(kTruncationMarker));
  EXPECT_EQ(bounded_output("abcd", 4), "abcd");
  EXPECT_EQ(bounded_output("abcd", 4, true), "abcd" + std::string(kTruncationMarker));
  EXPECT_EQ(bounded_output("abcdef", 3, false, "…"), "abc…");
}

TEST(ToolStatus, HasStableNames) {
  EXPECT_EQ(status_name(ToolStatus::kOk), "ok");
  EXPECT_EQ(status_name(ToolStatus::kError), "error");
  EXPECT_EQ(status_name(ToolStatus::kTimeout), "timeout");
  EXPECT_EQ(status_name(ToolStatus::kLimit), "limit");
}

class EchoTool final : public Tool {
 public:
  explicit EchoTool(std::string name) : name_(std::move(name)) {}
  std::string_view name() const override { return name_; }
  std::string_view description() const override { return "echoes its input"; }

 private:
  ToolResult call(std::string_view input) override {
    if (input == "throw") throw std::runtime_error("boom");
    return {ToolStatus::kOk, std::string(input)};
  }
  std::string name_;
};

TEST(Tool, RunTurnsExceptionsIntoErrorResults) {
  EchoTool tool("echo");
  EXPECT_EQ(tool.run("hi").output, "hi");
  const ToolResult r = tool.run("throw");
  EXPECT_EQ(r.status, ToolStatus::kError);
  EXPECT_EQ(r.output, "internal error in tool echo: boom");
  EXPECT_GE(r.latency.count(), 0);
}

TEST(ToolRegistry, FindsRunsAndListsTools) {
  ToolRegistry registry;
  registry.add(std::make_unique<EchoTool>("echo"));
  registry.add(std::make_unique<EchoTool>("alpha"));
  EXPECT_THAT(registry.names(), ElementsAre("alpha", "echo"));
  ASSERT_NE(registry.find("echo"), nullptr);
  EXPECT_EQ(registry.find("nope"), nullptr);
  EXPECT_EQ(registry.run("echo", "x").output, "x");
}

TEST(ToolRegistry, AnUnknownNameIsAnErrorForTheModel) {
  ToolRegistry registry;
  registry.add(std::make_unique<EchoTool>("echo"));
  const ToolResult r = registry.run("ehco", "x");
  EXPECT_EQ(r.status, ToolStatus::kError);
  EXPECT_EQ(r.output, "unknown tool `ehco`; the tools are: echo");
  EXPECT_THAT(ToolRegistry().run(std::string(2000, 'x'), "").output, HasSubstr("[truncated]"));
}

TEST(ToolRegistry, RefusesTwoToolsOfOneName) {
  ToolRegistry registry;
  registry.add(std::make_unique<EchoTool>("echo"));
  try {
    registry.add(std::make_unique<EchoTool>("echo"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "tool `echo` is registered twice; each tool name must be unique");
  }
}

}  // namespace
}  // namespace ponder
