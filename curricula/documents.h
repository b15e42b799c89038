// Documents: the text of a training file, one document at a time.
//
// A file whose name ends in .jsonl holds one JSON object per line (blank lines
// are skipped); its document is the values of `fields`, joined by "\n" — or,
// when `fields` is empty, every string value of the object in file order.
// Any other file is one document: its whole content, bytes as they are.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ponder {

// Calls `document` for each document of `file`; returns how many bytes of
// text were passed. Stops early once `max_bytes` (0 = no limit) is reached.
// Throws ponder::Error naming the file (and line, for JSONL) when the file is
// missing, a line is not a JSON object, or a named field is missing or is not
// a string.
uint64_t for_each_document(const std::filesystem::path& file,
                           const std::vector<std::string>& fields,
                           const std::function<void(std::string_view)>& document,
                           uint64_t max_bytes = 0);

}  // namespace ponder
