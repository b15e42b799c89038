// The chat format's special tokens (DESIGN.md, "Chat format").
//
// Invariants:
//  - Each special token is one atomic id. Special ids are the last
//    kNumSpecialTokens ids of the vocabulary, in the order of kSpecialTokens.
//  - Ordinary text never encodes to a special id: a string that spells
//    "<|user|>" encodes as plain bytes. Only the chat renderer inserts them.
//  - A tool call names its tool inside the span, as the first line:
//    <|tool_call|>python\n print(6*7)<|/tool_call|>.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ponder {

// A token id: bytes, merges, then special tokens (policy/tokenizer.h).
using TokenId = int32_t;

enum class Special : int {
  kBos = 0,     // beginning of a sequence (and a document separator in shards)
  kUser,        // a user turn starts
  kAssistant,   // an assistant turn starts
  kEnd,         // end of a turn; ends generation
  kThinkStart,  // thinking span
  kThinkEnd,
  kToolCallStart,  // tool-call span: tool name, newline, input
  kToolCallEnd,
  kToolResultStart,  // tool-result span: forced into the sequence, never trained on
  kToolResultEnd,
  kAnswerStart,  // the final answer, unambiguous
  kAnswerEnd,
  kPad,     // padding in batches; never sampled, never trained on
  kSystem,  // a system turn starts (instructions above the user's turn)
};

inline constexpr std::array<std::string_view, 14> kSpecialTokens = {
    "<|bos|>",    "<|user|>",      "<|assistant|>",  "<|end|>",         "<|think|>",
    "<|/think|>", "<|tool_call|>", "<|/tool_call|>", "<|tool_result|>", "<|/tool_result|>",
    "<|answer|>", "<|/answer|>",   "<|pad|>",        "<|system|>",
};
inline constexpr int kNumSpecialTokens = static_cast<int>(kSpecialTokens.size());

// Smallest vocabulary: every byte plus every special token (no merges).
inline constexpr int kMinVocabSize = 256 + kNumSpecialTokens;
// Largest vocabulary: token shards store ids as uint16.
inline constexpr int kMaxVocabSize = 65536;

}  // namespace ponder
