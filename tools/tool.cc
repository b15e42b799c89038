#include "tools/tool.h"

#include <fmt/format.h>

#include <exception>

namespace ponder {

std::string_view status_name(ToolStatus status) {
  switch (status) {
    case ToolStatus::kOk:
      return "ok";
    case ToolStatus::kError:
      return "error";
    case ToolStatus::kTimeout:
      return "timeout";
    case ToolStatus::kLimit:
      return "limit";
  }
  return "error";
}

ToolResult Tool::run(std::string_view input) {
  const auto start = std::chrono::steady_clock::now();
  ToolResult result;
  try {
    result = call(input);
  } catch (const std::exception& e) {
    result = {ToolStatus::kError, fmt::format("internal error in tool {}: {}", name(), e.what())};
  }
  result.latency = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start);
  return result;
}

namespace {

// Length of the valid UTF-8 sequence at the start of `s`, or 0 when it is not
// one (overlong forms, surrogates and code points past U+10FFFF are invalid).
std::size_t utf8_sequence_length(std::string_view s) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  std::size_t length;
  unsigned char low = 0x80, high = 0xBF;  // bounds of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // overlong
    if (lead == 0xED) high = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // overlong
    if (lead == 0xF4) high = 0x8F;  // past U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < length || byte(1) < low || byte(1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return length;
}

}  // namespace

std::string bounded_output(std::string_view bytes, std::size_t cap, bool truncated,
                           std::string_view marker) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  std::string out;
  out.reserve(std::min(bytes.size(), cap));
  std::size_t i = 0;
  while (i < bytes.size()) {
    const std::size_t length = utf8_sequence_length(bytes.substr(i));
    const std::string_view piece = length ? bytes.substr(i, length) : kReplacement;
    if (out.size() + piece.size() > cap) {
      truncated = true;
      break;
    }
    out += piece;
    i += length ? length : 1;
  }
  if (truncated) out += marker;
  return out;
}

}  // namespace ponder
