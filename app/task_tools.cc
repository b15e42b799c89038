#include "app/task_tools.h"

#include <memory>

#include "app/tools_commands.h"
#include "tools/search.h"

namespace ponder {

ToolRegistry task_tools(const Config& config, const LookupWorld& world) {
  ToolRegistry registry = make_tool_registry(config);
  if (registry.find("search") == nullptr) {
    std::vector<SearchDocument> documents;
    for (auto& d : world.search_corpus()) documents.push_back({d.id, d.title, d.text});
    registry.add(std::make_unique<SearchTool>(
        std::make_shared<const Bm25Index>(std::move(documents)), search_tool_options(config)));
  }
  return registry;
}

ToolRunner tool_runner(const ToolRegistry& registry) {
  return [&registry](std::string_view tool, std::string_view input) {
    return registry.run(tool, input).output;
  };
}

ToolCaller tool_caller(const ToolRegistry& registry) {
  return [&registry](std::string_view tool, std::string_view input) {
    const ToolResult result = registry.run(tool, input);
    return ToolOutcome{result.output, std::string(status_name(result.status)),
                       std::chrono::duration<double, std::milli>(result.latency).count()};
  };
}

}  // namespace ponder
