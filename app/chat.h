// `ponder chat CKPT`: an interactive chat with a checkpoint's model in the
// terminal, tools live (the calculator, search over the lookup world). The
// reply streams as it is generated; on a terminal the thinking is dimmed and
// tool calls and results are set apart in colour; elsewhere they are marked
// with plain brackets. An empty line or end of input ends the chat.
#pragma once

namespace CLI {
class App;
}

namespace ponder {

void add_chat_command(CLI::App& app);

}  // namespace ponder
