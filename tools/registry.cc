#include "tools/registry.h"

#include <fmt/format.h>

#include <algorithm>

#include "policy/error.h"

namespace ponder {

void ToolRegistry::add(std::unique_ptr<Tool> tool) {
  if (find(tool->name())) {
    throw Error(
        fmt::format("tool `{}` is registered twice; each tool name must be unique", tool->name()));
  }
  tools_.push_back(std::move(tool));
}

Tool* ToolRegistry::find(std::string_view name) const {
  for (const auto& tool : tools_) {
    if (tool->name() == name) return tool.get();
  }
  return nullptr;
}

std::vector<std::string> ToolRegistry::names() const {
  std::vector<std::string> names;
  for (const auto& tool : tools_) names.emplace_back(tool->name());
  std::sort(names.begin(), names.end());
  return names;
}

ToolResult ToolRegistry::run(std::string_view name, std::string_view input) const {
  if (Tool* tool = find(name)) return tool->run(input);
  const std::vector<std::string> known = names();
  // The name is model-written: bound it like any other output.
  return {ToolStatus::kError,
          bounded_output(
              fmt::format("unknown tool `{}`; the tools are: {}", name,
                          known.empty() ? "(none)" : fmt::format("{}", fmt::join(known, ", "))),
              512)};
}

}  // namespace ponder
