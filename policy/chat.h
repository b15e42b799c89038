// The chat format: one function turns a conversation into token ids AND the
// loss mask (DESIGN.md, "Chat format").
//
//   <|bos|>
//   <|system|>{text}<|end|>                       (optional)
//   <|user|>{text}<|end|>
//   <|assistant|>{parts}<|end|>
// where an assistant's parts are, in any order and number:
//   text                          {text}
//   thinking                      <|think|>{text}<|/think|>
//   tool call                     <|tool_call|>{tool}\n{input}<|/tool_call|>
//   tool result                   <|tool_result|>{output}<|/tool_result|>
//   final answer                  <|answer|>{text}<|/answer|>
//
// Mask invariant: mask[i] = 1 exactly when ids[i] is a token the policy wrote
// and is trained to write — assistant text, thinking, answers and tool calls
// (their delimiters included) and the assistant's closing <|end|>. It is 0 for
// <|bos|>, every system/user token, the <|assistant|> header (the prompt ends
// with it) and every tool-result token (the engine forces them). Training on
// ids predicts ids[i] from ids[<i] with weight ∝ mask[i].
//
// Text never turns into special ids: a user who types "<|end|>" gets bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "policy/tokenizer.h"

namespace ponder {

struct ChatPart {
  enum class Kind { kText, kThinking, kToolCall, kToolResult, kAnswer };
  Kind kind = Kind::kText;
  std::string text;  // the call's input, for kToolCall
  std::string tool;  // the tool's name, for kToolCall
};

struct ChatTurn {
  enum class Role { kSystem, kUser, kAssistant };
  Role role = Role::kUser;
  // System and user turns hold only kText parts; a renderer error otherwise.
  std::vector<ChatPart> parts;
};

struct RenderedChat {
  std::vector<TokenId> ids;
  std::vector<uint8_t> mask;  // same length as ids
};

// Renders a whole conversation. Throws ponder::Error for a part kind its
// role cannot hold or a tool name that is empty or holds a newline.
RenderedChat render_chat(const Tokenizer& tokenizer, const std::vector<ChatTurn>& turns);

// The prompt for generation: the turns (ending with a user turn) followed by
// <|assistant|>, so the next token is the assistant's first.
std::vector<TokenId> render_prompt(const Tokenizer& tokenizer, const std::vector<ChatTurn>& turns);

// The text of generated ids, special tokens spelled out. Ordinary text that
// spells "<|" comes out as "< |", so that only real special tokens read as
// special tokens downstream (answer extraction, the database, a terminal):
// model output is hostile input.
std::string render_text(const Tokenizer& tokenizer, std::span<const TokenId> ids);

// Convenience: a single user turn.
std::vector<ChatTurn> user_turn(std::string text);

}  // namespace ponder
