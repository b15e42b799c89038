#include "app/tools_commands.h"

#include <unistd.h>

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>

#include "policy/error.h"
#include "tools/sandbox_check.h"

namespace ponder {

PythonToolOptions python_tool_options(const Config& config) {
  PythonToolOptions options;
  options.interpreter = config.get_string("tools.python.interpreter");
  options.timeout_s = config.get_float("tools.python.timeout_s");
  options.cpu_s = config.get_int("tools.python.cpu_s");
  options.memory_mb = config.get_int("tools.python.memory_mb");
  options.output_bytes = config.get_int("tools.python.output_bytes");
  options.workers = config.get_int("tools.python.workers");
  options.isolation =
      parse_isolation(config.get_string("tools.python.isolation"), "tools.python.isolation");
  options.processes = config.get_int("tools.python.processes");
  options.tmp_mb = config.get_int("tools.python.tmp_mb");
  return options;
}

SearchToolOptions search_tool_options(const Config& config) {
  SearchToolOptions options;
  options.corpus = config.get_string("tools.search.corpus");
  options.top_k = config.get_int("tools.search.top_k");
  options.snippet_bytes = config.get_int("tools.search.snippet_bytes");
  return options;
}

namespace {

std::unique_ptr<PythonTool> make_python_tool(const Config& config) {
  auto tool = std::make_unique<PythonTool>(python_tool_options(config));
  for (const std::string& warning : tool->warnings()) fmt::print(stderr, "ponder: {}\n", warning);
  return tool;
}

}  // namespace

ToolRegistry make_tool_registry(const Config& config) {
  ToolRegistry registry;
  registry.add(make_python_tool(config));
  const SearchToolOptions search = search_tool_options(config);
  if (!search.corpus.empty()) registry.add(std::make_unique<SearchTool>(search));
  return registry;
}

namespace {

struct ConfigArgs {
  std::string file;
  std::vector<std::string> overrides;

  void add_to(CLI::App* cmd) {
    cmd->add_option("--config", file, "run config (TOML) with [tools.*] sections");
    cmd->add_option("--set", overrides, "override a key: --set section.key=value (repeatable)");
  }
  Config load() const { return Config::load(file, overrides); }
};

void print_result(std::string_view tool, const ToolResult& result, bool json) {
  const double latency_ms = static_cast<double>(result.latency.count()) / 1000.0;
  if (json) {
    const nlohmann::json out = {{"tool", tool},
                                {"status", status_name(result.status)},
                                {"output", result.output},
                                {"latency_ms", latency_ms}};
    fmt::print("{}\n", out.dump());
  } else {
    fmt::print("{}", result.output);
    if (!result.output.empty() && result.output.back() != '\n') fmt::print("\n");
    if (result.status != ToolStatus::kOk) {
      std::fflush(stdout);
      fmt::print(stderr, "[{}: {} after {:.1f} ms]\n", tool, status_name(result.status),
                 latency_ms);
    }
  }
  std::fflush(stdout);
  // The call's status is the command's: scripts can test it.
  if (result.status != ToolStatus::kOk) throw CLI::RuntimeError(1);
}

void add_run(CLI::App& tools) {
  auto* run =
      tools.add_subcommand("run", "run one tool call by hand and print what the model would see");
  auto config = std::make_shared<ConfigArgs>();
  auto name = std::make_shared<std::string>();
  auto input = std::make_shared<std::string>();
  auto corpus = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  run->add_option("tool", *name, "python or search")->required();
  run->add_option("input", *input, "the code or query; '-' reads it from stdin")->required();
  run->add_flag("--json", *json, "print one JSON object: tool, status, output, latency_ms");
  run->add_option("--corpus", *corpus, "search: JSONL corpus (overrides tools.search.corpus)");
  config->add_to(run);
  run->callback([=] {
    std::string text = *input;
    if (text == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    }
    const Config cfg = config->load();
    std::unique_ptr<Tool> tool;
    if (*name == "python") {
      tool = make_python_tool(cfg);
    } else if (*name == "search") {
      SearchToolOptions options = search_tool_options(cfg);
      if (!corpus->empty()) options.corpus = *corpus;
      if (options.corpus.empty()) {
        throw Error(
            "ponder tools run search: no corpus; give --corpus FILE or set "
            "tools.search.corpus");
      }
      tool = std::make_unique<SearchTool>(options);
    } else {
      throw Error(fmt::format("unknown tool `{}`; the tools are: python, search", *name));
    }
    print_result(*name, tool->run(text), *json);
  });
}

// Paths the sandbox must not show: the user's home and this project (the
// working directory), as far as they exist here, and the usual secrets.
std::vector<std::string> private_host_paths() {
  std::vector<std::string> paths = {"/etc/shadow", "/root", "/home"};
  if (const char* home = std::getenv("HOME")) paths.emplace_back(home);
  std::error_code ec;
  const std::filesystem::path cwd = std::filesystem::current_path(ec);
  if (!ec && cwd != "/") paths.push_back(cwd.string());
  std::vector<std::string> existing;
  for (const std::string& path : paths) {
    if (std::filesystem::exists(path, ec) &&
        std::find(existing.begin(), existing.end(), path) == existing.end()) {
      existing.push_back(path);
    }
  }
  return existing;
}

void add_check(CLI::App& tools) {
  auto* check = tools.add_subcommand("check", "report which sandbox isolation features work here");
  auto config = std::make_shared<ConfigArgs>();
  config->add_to(check);
  check->callback([=] {
    const PythonToolOptions options = python_tool_options(config->load());
    const std::vector<IsolationCheck> checks = check_isolation(options, private_host_paths());
    fmt::print("sandbox check ({})\n", options.interpreter.string());
    for (const IsolationCheck& c : checks) {
      fmt::print("  {:<5} {:<32} {}\n", c.ok ? "ok" : (c.required ? "FAIL" : "off"),
                 c.name + (c.required ? "" : " (optional)"), c.detail);
    }
    std::fflush(stdout);
    if (!full_isolation_works(checks)) {
      throw Error(
          "full isolation does not work here (see the FAIL rows); tools.python.isolation "
          "= \"none\" runs model code unisolated");
    }
    fmt::print("full isolation works here\n");
  });
}

}  // namespace

void add_tools_commands(CLI::App& app) {
  auto* tools = app.add_subcommand("tools", "run the model's tools by hand, check the sandbox");
  tools->require_subcommand(1);
  add_run(*tools);
  add_check(*tools);
}

}  // namespace ponder
