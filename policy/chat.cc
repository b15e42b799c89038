#include "policy/chat.h"

#include <fmt/format.h>

#include "policy/error.h"

namespace ponder {
namespace {

class Renderer {
 public:
  explicit Renderer(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}

  void special(Special s, bool trained) { push(tokenizer_.special_id(s), trained); }

  void text(const std::string& text, bool trained) {
    tokenizer_.encode_append(text, out_.ids);
    out_.mask.resize(out_.ids.size(), trained ? 1 : 0);
  }

  void turn(const ChatTurn& turn) {
    switch (turn.role) {
      case ChatTurn::Role::kSystem:
      case ChatTurn::Role::kUser: {
        const bool system = turn.role == ChatTurn::Role::kSystem;
        special(system ? Special::kSystem : Special::kUser, false);
        for (const auto& part : turn.parts) {
          if (part.kind != ChatPart::Kind::kText) {
            throw Error(fmt::format("chat: a {} turn can hold only text parts",
                                    system ? "system" : "user"));
          }
          text(part.text, false);
        }
        special(Special::kEnd, false);
        break;
      }
      case ChatTurn::Role::kAssistant:
        special(Special::kAssistant, false);
        for (const auto& part : turn.parts) assistant_part(part);
        special(Special::kEnd, true);
        break;
    }
  }

  RenderedChat& result() { return out_; }

 private:
  void push(TokenId id, bool trained) {
    out_.ids.push_back(id);
    out_.mask.push_back(trained ? 1 : 0);
  }

  void assistant_part(const ChatPart& part) {
    switch (part.kind) {
      case ChatPart::Kind::kText:
        text(part.text, true);
        break;
      case ChatPart::Kind::kThinking:
        special(Special::kThinkStart, true);
        text(part.text, true);
        special(Special::kThinkEnd, true);
        break;
      case ChatPart::Kind::kToolCall:
        if (part.tool.empty() || part.tool.find('\n') != std::string::npos) {
          throw Error(
              fmt::format("chat: tool name `{}` must be non-empty and on one line", part.tool));
        }
        special(Special::kToolCallStart, true);
        text(part.tool + "\n" + part.text, true);
        special(Special::kToolCallEnd, true);
        break;
      case ChatPart::Kind::kToolResult:
        special(Special::kToolResultStart, false);
        text(part.text, false);
        special(Special::kToolResultEnd, false);
        break;
      case ChatPart::Kind::kAnswer:
        special(Special::kAnswerStart, true);
        text(part.text, true);
        special(Special::kAnswerEnd, true);
        break;
    }
  }

  const Tokenizer& tokenizer_;
  RenderedChat out_;
};

}  // namespace

RenderedChat render_chat(const Tokenizer& tokenizer, const std::vector<ChatTurn>& turns) {
  Renderer r(tokenizer);
  r.special(Special::kBos, false);
  for (const auto& turn : turns) r.turn(turn);
  return std::move(r.result());
}

std::vector<TokenId> render_prompt(const Tokenizer& tokenizer, const std::vector<ChatTurn>& turns) {
  Renderer r(tokenizer);
  r.special(Special::kBos, false);
  for (const auto& turn : turns) r.turn(turn);
  r.special(Special::kAssistant, false);
  return std::move(r.result().ids);
}

std::string render_text(const Tokenizer& tokenizer, std::span<const TokenId> ids) {
  std::string text, run;
  auto flush = [&] {
    for (size_t at = 0; (at = run.find("<|", at)) != std::string::npos;) run.replace(at, 2, "< |");
    text += run;
    run.clear();
  };
  for (TokenId id : ids) {
    if (tokenizer.is_special(id)) {
      flush();
      text += tokenizer.token_text(id);
    } else {
      run += tokenizer.token_text(id);
    }
  }
  flush();
  return text;
}

std::vector<ChatTurn> user_turn(std::string text) {
  return {ChatTurn{ChatTurn::Role::kUser, {ChatPart{ChatPart::Kind::kText, std::move(text), ""}}}};
}

}  // namespace ponder
