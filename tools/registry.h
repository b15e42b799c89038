// The tools a run offers the model, by name.
//
// Contract:
//  - Tools are added before the registry is shared; after that, find() and
//    run() may be called from many threads at once (the registry itself is
//    not changed by them, and each Tool is thread-safe).
//  - run() on a name the registry lacks is a kError result naming the tools
//    there are: the model may misspell a tool, and that is its mistake to
//    learn from, not a reason to stop.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tools/tool.h"

namespace ponder {

class ToolRegistry {
 public:
  // Throws ponder::Error when a tool of the same name is already registered.
  void add(std::unique_ptr<Tool> tool);

  // The tool called `name`, or null.
  Tool* find(std::string_view name) const;

  // Every tool's name, sorted.
  std::vector<std::string> names() const;

  ToolResult run(std::string_view name, std::string_view input) const;

 private:
  std::vector<std::unique_ptr<Tool>> tools_;
};

}  // namespace ponder
