// The byte-level alphabet of GPT-2 / Hugging Face `ByteLevel`: every byte maps to
// one printable Unicode character, so a token's bytes can be written as a JSON
// string in tokenizer.json. Bytes 33..126, 161..172 and 174..255 map to
// themselves; the other 68 map to U+0100.. in byte order.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ponder {

// The token's bytes written in the byte-level alphabet (UTF-8).
std::string bytes_to_byte_level(std::string_view bytes);

// The inverse; nullopt when `text` holds a character outside the alphabet or
// is not valid UTF-8.
std::optional<std::string> byte_level_to_bytes(std::string_view text);

}  // namespace ponder
