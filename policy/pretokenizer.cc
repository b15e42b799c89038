#include "policy/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <fmt/format.h>

#include "policy/error.h"

namespace ponder {

std::string gpt4_style_pattern(int digits_per_token) {
  if (digits_per_token < 1 || digits_per_token > 3) {
    throw Error(
        fmt::format("digits_per_token = {} is out of range; expected 1, 2 or 3", digits_per_token));
  }
  const std::string digits =
      digits_per_token == 1 ? "\\p{N}" : fmt::format("\\p{{N}}{{1,{}}}", digits_per_token);
  return "'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}+|" + digits +
         "| ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+";
}

struct Pretokenizer::Compiled {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Compiled() { pcre2_code_free(code); }
};

Pretokenizer::Pretokenizer(std::string pattern)
    : pattern_(std::move(pattern)), compiled_(std::make_unique<Compiled>()) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  // MATCH_INVALID_UTF: invalid bytes never match (they become gap pieces)
  // instead of making the whole match fail.
  compiled_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern_.data()), pattern_.size(),
                                  PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error_code,
                                  &error_offset, nullptr);
  if (compiled_->code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof(message));
    throw Error(fmt::format("pre-tokenization pattern `{}` does not compile at offset {}: {}",
                            pattern_, error_offset, reinterpret_cast<const char*>(message)));
  }
  // JIT makes splitting several times faster; without it matching still works.
  compiled_->jit = pcre2_jit_compile(compiled_->code, PCRE2_JIT_COMPLETE) == 0;
}

Pretokenizer::~Pretokenizer() = default;
Pretokenizer::Pretokenizer(Pretokenizer&&) noexcept = default;
Pretokenizer& Pretokenizer::operator=(Pretokenizer&&) noexcept = default;

void Pretokenizer::split(std::string_view text,
                         const std::function<void(std::string_view)>& piece) const {
  // Match data is per call so that concurrent callers share nothing mutable.
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match(
      pcre2_match_data_create_from_pattern(compiled_->code, nullptr), &pcre2_match_data_free);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;
  while (pos < text.size()) {
    // NOTEMPTY: a user pattern that can match the empty string must not stall the scan.
    const int rc = compiled_->jit ? pcre2_jit_match(compiled_->code, subject, text.size(), pos,
                                                    PCRE2_NOTEMPTY, match.get(), nullptr)
                                  : pcre2_match(compiled_->code, subject, text.size(), pos,
                                                PCRE2_NOTEMPTY, match.get(), nullptr);
    if (rc < 0) {
      piece(text.substr(pos));  // no further match: the rest is one gap piece
      return;
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.get());
    const size_t start = ovector[0];
    const size_t end = ovector[1];
    if (start > pos) piece(text.substr(pos, start - pos));
    piece(text.substr(start, end - start));
    pos = end;
  }
}

}  // namespace ponder
