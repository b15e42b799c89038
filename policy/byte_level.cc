#include "policy/byte_level.h"

#include <array>
#include <cstdint>

namespace ponder {
namespace {

struct Alphabet {
  std::array<char32_t, 256> char_of_byte{};
  std::array<int, 324> byte_of_char{};  // indexed by code point; -1 = not in the alphabet

  Alphabet() {
    byte_of_char.fill(-1);
    int shifted = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
      char_of_byte[b] =
          printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + shifted++);
      byte_of_char[char_of_byte[b]] = b;
    }
  }
};

const Alphabet& alphabet() {
  static const Alphabet instance;
  return instance;
}

}  // namespace

std::string bytes_to_byte_level(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    const char32_t c = alphabet().char_of_byte[b];
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {  // every code point of the alphabet is below U+0800: two UTF-8 bytes
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

std::optional<std::string> byte_level_to_bytes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    char32_t c;
    if (lead < 0x80) {
      c = lead;
      i += 1;
    } else if (lead >= 0xC2 && lead < 0xE0 && i + 1 < text.size() &&
               (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80) {
      c = (static_cast<char32_t>(lead & 0x1F) << 6) |
          (static_cast<unsigned char>(text[i + 1]) & 0x3F);
      i += 2;
    } else {
      return std::nullopt;
    }
    if (c >= alphabet().byte_of_char.size() || alphabet().byte_of_char[c] < 0) return std::nullopt;
    out.push_back(static_cast<char>(alphabet().byte_of_char[c]));
  }
  return out;
}

}  // namespace ponder
