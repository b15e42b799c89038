// `ponder tools ...` run in-process through add_tools_commands, and the
// [tools.*] config keys.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "app/tools_commands.h"
#include "policy/error.h"
#include "tests/test_util.h"
#include "tests/tools/tools_test_util.h"

namespace ponder {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

struct Outcome {
  int exit_code = 0;  // as `ponder` would exit: 0, 1 for a failed call or an Error
  std::string out, err;
  std::string error;  // a ponder::Error's message
};

Outcome tools_command(std::vector<std::string> args) {
  CLI::App app("ponder", "ponder");
  add_tools_commands(app);
  args.insert(args.begin(), {"ponder", "tools"});
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  Outcome outcome;
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    outcome.exit_code = e.get_exit_code();
    outcome.error = e.what();
  } catch (const Error& e) {
    outcome.exit_code = 1;
    outcome.error = e.what();
  }
  outcome.out = ::testing::internal::GetCapturedStdout();
  outcome.err = ::testing::internal::GetCapturedStderr();
  return outcome;
}

class ToolsCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }
  void TearDown() override { testing::expect_nothing_left_running(); }
};

TEST_F(ToolsCli, RunsPython) {
  const Outcome ok = tools_command({"run", "python", "2 ** 10"});
  EXPECT_EQ(ok.exit_code, 0) << ok.error;
  EXPECT_EQ(ok.out, "1024\n");
  const Outcome failed = tools_command({"run", "python", "1/0"});
  EXPECT_EQ(failed.exit_code, 1);
  EXPECT_EQ(failed.out, "ZeroDivisionError: division by zero\n");
  EXPECT_THAT(failed.err, StartsWith("[python: error after "));
}

TEST_F(ToolsCli, JsonCarriesStatusOutputAndLatency) {
  const Outcome timeout = tools_command(
      {"run", "python", "while True: pass", "--json", "--set", "tools.python.timeout_s=0.2"});
  EXPECT_EQ(timeout.exit_code, 1);
  const nlohmann::json json = nlohmann::json::parse(timeout.out);
  EXPECT_EQ(json["tool"], "python");
  EXPECT_EQ(json["status"], "timeout");
  EXPECT_THAT(json["output"].get<std::string>(), HasSubstr("0.2 s wall-time limit"));
  EXPECT_GE(json["latency_ms"].get<double>(), 200.0);
}

TEST_F(ToolsCli, ConfigFileSetsTheSandbox) {
  testing::TempDir dir;
  testing::write_file(dir / "run.toml", "[tools.python]\noutput_bytes = 16\n");
  const Outcome r =
      tools_command({"run", "python", "'x' * 100", "--config", (dir / "run.toml").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "'xxxxxxxxxxxxxxx…[truncated]\n");
}

TEST_F(ToolsCli, RunsSearch) {
  testing::TempDir dir;
  testing::write_file(dir / "c.jsonl",
                      "{\"id\": \"a\", \"title\": \"Moon\", \"text\": \"The Moon orbits Earth.\"}\n"
                      "{\"id\": \"b\", \"title\": \"Mars\", \"text\": \"Mars is red.\"}\n");
  const Outcome r =
      tools_command({"run", "search", "what orbits earth", "--corpus", (dir / "c.jsonl").string()});
  EXPECT_EQ(r.exit_code, 0) << r.error;
  EXPECT_EQ(r.out, "[1] Moon (a)\nThe Moon orbits Earth.\n");
  const Outcome via_config = tools_command({"run", "search", "red", "--json", "--set",
                                            "tools.search.corpus=" + (dir / "c.jsonl").string()});
  EXPECT_EQ(nlohmann::json::parse(via_config.out)["output"], "[1] Mars (b)\nMars is red.");
}

TEST_F(ToolsCli, BadInputsGiveOneClearLine) {
  EXPECT_EQ(tools_command({"run", "perl", "1"}).error,
            "unknown tool `perl`; the tools are: python, search");
  EXPECT_EQ(tools_command({"run", "search", "x"}).error,
            "ponder tools run search: no corpus; give --corpus FILE or set tools.search.corpus");
  EXPECT_THAT(tools_command({"run", "search", "x", "--corpus", "/nonexistent.jsonl"}).error,
              HasSubstr("`/nonexistent.jsonl`: not found or unreadable"));
  EXPECT_THAT(
      tools_command({"run", "python", "1", "--set", "tools.python.isolation=partial"}).error,
      HasSubstr("tools.python.isolation"));
  EXPECT_THAT(tools_command({"run", "python", "1", "--set", "tools.python.timeout_s=0"}).error,
              HasSubstr("tools.python.timeout_s"));
  EXPECT_THAT(
      tools_command({"run", "python", "1", "--set", "tools.python.interpreter=python3"}).error,
      HasSubstr("an absolute path"));
  EXPECT_NE(tools_command({"run", "python"}).exit_code, 0);
  EXPECT_NE(tools_command({}).exit_code, 0);
}

TEST_F(ToolsCli, UnisolatedRunWarnsOnStderr) {
  const Outcome r =
      tools_command({"run", "python", "1 + 1", "--set", "tools.python.isolation=none"});
  EXPECT_EQ(r.out, "2\n");
  EXPECT_THAT(r.err, HasSubstr("ponder: WARNING: tools.python.isolation = \"none\""));
}

TEST_F(ToolsCli, CheckReportsEachFeature) {
  const Outcome r = tools_command({"check"});
  EXPECT_EQ(r.exit_code, 0) << r.error << r.out;
  for (const char* row : {"ok    pid namespace", "ok    seccomp filter", "ok    sandbox starts",
                          "ok    inside: no network", "ok    inside: host files out of view",
                          "full isolation works here"}) {
    EXPECT_THAT(r.out, HasSubstr(row));
  }
}

TEST(ToolsConfig, DefaultsAndMapping) {
  const Config config = Config::load("", {"tools.python.workers=3", "tools.search.top_k=5"});
  const PythonToolOptions python = python_tool_options(config);
  EXPECT_EQ(python.interpreter, "/usr/bin/python3");
  EXPECT_EQ(python.timeout_s, 2.0);
  EXPECT_EQ(python.memory_mb, 256);
  EXPECT_EQ(python.output_bytes, 2048);
  EXPECT_EQ(python.workers, 3);
  EXPECT_EQ(python.isolation, Isolation::kFull);
  const SearchToolOptions search = search_tool_options(config);
  EXPECT_TRUE(search.corpus.empty());
  EXPECT_EQ(search.top_k, 5);
}

TEST(ToolsConfig, TheRegistryHasSearchOnlyWithACorpus) {
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  {
    const ToolRegistry registry = make_tool_registry(Config::load("", {"tools.python.workers=1"}));
    EXPECT_THAT(registry.names(), ::testing::ElementsAre("python"));
    EXPECT_EQ(registry.run("python", "3 * 3").output, "9\n");
  }
  testing::expect_nothing_left_running();
  EXPECT_THROW(make_tool_registry(Config::load("", {"tools.search.corpus=/nonexistent.jsonl"})),
               Error);
}

TEST(ToolsConfig, BadValuesAreRefusedByTheSchema) {
  EXPECT_THROW(Config::load("", {"tools.python.isolation=partial"}), Error);
  EXPECT_THROW(Config::load("", {"tools.python.workers=0"}), Error);
  EXPECT_THROW(Config::load("", {"tools.python.memory_mb=16"}), Error);
  EXPECT_THROW(Config::load("", {"tools.search.top_k=0"}), Error);
  EXPECT_THROW(Config::load("", {"tools.python.interpreter=bin/python"}), Error);
}

}  // namespace
}  // namespace ponder
