// Names and text from a config file or a reward process, as messages show
// them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ponder {

// `text` as a JSON string literal ("a\nb" in quotes, control characters
// escaped, each invalid UTF-8 byte as U+FFFD), so a message stays one line;
// cut on a character boundary after `max_bytes` bytes, with "..." after the
// closing quote.
std::string shown(std::string_view text, std::size_t max_bytes = 200);

// Whether `name` is a plain name: non-empty, letters, digits, '_' and '-'.
// Reward, parameter and part names are plain: they become keys in the
// database, in metrics and in messages.
bool is_plain_name(std::string_view name);

}  // namespace ponder
