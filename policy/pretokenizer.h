// Pretokenizer: splits text into the pieces BPE works on, by a regex.
//
// Contract:
//  - The pieces are contiguous and cover the text exactly: concatenating them
//    gives the input back, byte for byte, for any bytes (invalid UTF-8 too).
//  - Valid UTF-8 is split exactly as Hugging Face's `Split(pattern, Isolated)`
//    pre-tokenizer splits it (Unicode classes, PCRE2 with UCP). Bytes that are
//    not valid UTF-8 cannot match any pattern; each maximal run of them (and
//    any other unmatched gap) becomes a piece of its own.
//  - Thread-safe: `split` may be called concurrently on one Pretokenizer.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace ponder {

// The GPT-4 (cl100k) split pattern with digit runs capped at `digits_per_token`
// (1 = every digit is its own piece, which helps arithmetic).
std::string gpt4_style_pattern(int digits_per_token);

class Pretokenizer {
 public:
  // Compiles `pattern` (PCRE2 syntax, UTF + UCP). Throws ponder::Error naming
  // the pattern, the offset and the reason when it does not compile.
  explicit Pretokenizer(std::string pattern);
  ~Pretokenizer();
  Pretokenizer(Pretokenizer&&) noexcept;
  Pretokenizer& operator=(Pretokenizer&&) noexcept;

  const std::string& pattern() const { return pattern_; }

  // Calls `piece` for each piece of `text`, in order.
  void split(std::string_view text, const std::function<void(std::string_view)>& piece) const;

 private:
  struct Compiled;
  std::string pattern_;
  std::unique_ptr<Compiled> compiled_;
};

}  // namespace ponder
