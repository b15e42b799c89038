// `ponder inspect DB ...`: read a run's rollout database (docs/DATABASE.md),
// also while the run is writing it. Each command takes --json for scripts.
//
//   summary [--run NAME]                 a table per step of the train rollouts
//                                        (reward, accuracy, length, thinking,
//                                        tool-call rate, truncation), then evals
//   list [FILTERS] [--sort KEY] [--desc] [--limit N]
//                                        one line per rollout
//   show ID                              one rollout whole: thinking, tool calls
//                                        and results set apart (coloured on a
//                                        terminal)
//   sql "SELECT ..."                     any read-only statement; writes refused
//   export --jsonl [FILTERS] [--tokens]  one JSON object per rollout
//
// FILTERS: --run NAME, --split train|eval, --step N|A:B|A:|:B, --family F,
// --min-reward X, --max-reward Y, --finish end|length|tool_budget|error,
// --tool-calls / --no-tool-calls, --correct / --wrong, --search TEXT.
// --color auto|always|never (auto: colour when stdout is a terminal and
// NO_COLOR is unset).
//
// Model output is hostile: text output escapes control characters, terminal
// escape sequences, invalid UTF-8 and bidirectional overrides, so a completion
// can never drive the terminal. JSON output is always valid UTF-8.
#pragma once

namespace CLI {
class App;
}

namespace ponder {

void add_inspect_commands(CLI::App& app);

}  // namespace ponder
