#include "app/chat.h"

#include <unistd.h>

#include <iostream>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "app/backend_choice.h"
#include "app/config.h"
#include "app/task_tools.h"
#include "app/tasks_commands.h"
#include "policy/checkpoint.h"
#include "rollout/engine.h"

namespace ponder {
namespace {

struct ChatArgs {
  std::string checkpoint, config;
  std::vector<std::string> overrides;
  GenerationOptions generation;
  std::string tools = "on";
};

// How each special token shows: terminal escape codes, or plain markers.
struct Style {
  bool terminal;
  std::string on(Special s) const {
    switch (s) {
      case Special::kThinkStart:
        return terminal ? "\x1b[2m" : "[thinking] ";
      case Special::kThinkEnd:
        return terminal ? "\x1b[0m\n" : "\n[/thinking]\n";
      case Special::kToolCallStart:
        return terminal ? "\n\x1b[36m⟶ " : "\n[tool call] ";
      case Special::kToolCallEnd:
        return terminal ? "\x1b[0m\n" : "\n";
      case Special::kToolResultStart:
        return terminal ? "\x1b[33m⟵ " : "[tool result] ";
      case Special::kToolResultEnd:
        return terminal ? "\x1b[0m\n" : "\n";
      case Special::kAnswerStart:
        return terminal ? "\x1b[1m" : "[answer] ";
      case Special::kAnswerEnd:
        return terminal ? "\x1b[0m" : "";
      default:
        return "";
    }
  }
};

void run_chat(const ChatArgs& args) {
  const Config config = Config::load(args.config, args.overrides);
  const Checkpoint ckpt = load_checkpoint(args.checkpoint, false);
  const Tokenizer tokenizer = load_checkpoint_tokenizer(args.checkpoint);
  const auto backend = make_backend(config);
  Model<float> model(*backend, ckpt.config);
  model.set_params(ckpt.params);
  ModelDecoder decoder(model);
  const TaskGenerator generator(task_sources(config));
  const ToolRegistry tools = task_tools(config, generator.lookup_world());
  Engine engine(decoder, tokenizer, tool_caller(tools));
  GenerationOptions generation = args.generation;
  generation.tools = args.tools == "on";

  const Style style{isatty(STDOUT_FILENO) == 1};
  fmt::print("ponder chat: {} ({:.1f}M parameters; tools {}). An empty line ends.\n",
             args.checkpoint, model.num_parameters() / 1e6, args.tools);
  std::vector<TokenId> history = {tokenizer.special_id(Special::kBos)};
  for (std::string line;;) {
    fmt::print("\n> ");
    std::fflush(stdout);
    if (!std::getline(std::cin, line) || line.empty()) break;
    history.push_back(tokenizer.special_id(Special::kUser));
    tokenizer.encode_append(line, history);
    history.push_back(tokenizer.special_id(Special::kEnd));
    history.push_back(tokenizer.special_id(Special::kAssistant));
    auto show = [&](size_t, TokenId id) {
      if (tokenizer.is_special(id)) {
        fmt::print("{}", style.on(static_cast<Special>(id - tokenizer.special_id(Special::kBos))));
      } else {
        // Model text could hold escape sequences: show control bytes as '?'.
        std::string text(tokenizer.token_text(id));
        for (char& c : text) {
          if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') c = '?';
        }
        fmt::print("{}", text);
      }
      std::fflush(stdout);
    };
    const Rollout reply = engine.generate({history}, 1, generation, show)[0];
    if (style.terminal) fmt::print("\x1b[0m");
    if (reply.finish_reason != "end") fmt::print("\n[stopped: {}]", reply.finish_reason);
    history.insert(history.end(), reply.ids.begin(), reply.ids.end());
    if (reply.finish_reason != "end") history.push_back(tokenizer.special_id(Special::kEnd));
    if (static_cast<int>(history.size()) >= ckpt.config.max_position_embeddings) {
      fmt::print("\n[the conversation fills the model's {} positions; starting afresh]",
                 ckpt.config.max_position_embeddings);
      history = {tokenizer.special_id(Special::kBos)};
    }
  }
  fmt::print("\n");
}

}  // namespace

void add_chat_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("chat", "chat with a checkpoint in the terminal, tools live");
  auto args = std::make_shared<ChatArgs>();
  args->generation.sampler.temperature = 0.7;
  args->generation.max_new_tokens = 256;
  cmd->add_option("checkpoint", args->checkpoint, "checkpoint folder")->required();
  cmd->add_option("--config", args->config,
                  "run config for [tools] and [tasks] (default: defaults)");
  cmd->add_option("--set", args->overrides, "override a key: --set section.key=value");
  add_device_option(cmd, args->overrides);
  cmd->add_option("--temperature", args->generation.sampler.temperature, "0: greedy")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-k", args->generation.sampler.top_k, "0: all")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-p", args->generation.sampler.top_p, "nucleus mass")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--max-new-tokens", args->generation.max_new_tokens, "tokens per reply")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", args->generation.seed, "sampling seed")->capture_default_str();
  cmd->add_option("--tools", args->tools, "on or off")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off"}));
  cmd->callback([args] { run_chat(*args); });
}

}  // namespace ponder
