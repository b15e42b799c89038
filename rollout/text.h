// Model output is hostile input: a prompt or completion may hold any bytes.
// How the rollout store keeps text (always valid UTF-8) and how to show it
// (nothing in it can drive a terminal).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ponder {

// Length of the valid UTF-8 sequence at the start of `s`, or 0 when there is
// none (an empty `s`, a stray byte, a cut sequence, an overlong form, a
// surrogate, a code point above U+10FFFF).
size_t utf8_sequence_length(std::string_view s);

// `bytes` as valid UTF-8: `bytes` itself when it already is (no copy), else
// `scratch` filled with it, each byte outside a valid sequence as U+FFFD.
std::string_view valid_utf8(std::string_view bytes, std::string& scratch);

// `text` safe to print on a terminal: C0 and C1 control characters (ESC
// included), DEL and bytes outside valid UTF-8 become `\xNN`, bidirectional
// overrides and isolates `\u{NNNN}`, so that text cannot move the cursor,
// recolour the screen or reorder what is shown. Newlines and tabs are kept,
// unless `one_line` (a table cell), where they become `\n` and `\t`.
std::string printable(std::string_view text, bool one_line);

}  // namespace ponder
