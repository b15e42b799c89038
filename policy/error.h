// ponder::Error: the one exception type for failures a user can cause or fix
// (a bad config value, a missing or corrupt file, a bad argument).
//
// Contract: the message is complete and user-facing. It names the file, key or
// value at fault and what was expected, on one line, without a trailing period.
// The `ponder` command prints it as "ponder: <message>" and exits non-zero;
// library code never prints errors itself.
#pragma once

#include <stdexcept>
#include <string>

namespace ponder {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace ponder
