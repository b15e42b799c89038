// `ponder tasks`: look at the task families (curricula/) from the command
// line, and the config keys (tasks.*) that set up the task mixture.
//
//   ponder tasks sample [--family F] [--n N] [--split train|eval] [--seed S]
//                       [--difficulty D] [--json] [--config FILE] [--set k=v]
//       prints N tasks with their answers: of family F, or drawn from the
//       config's mixture when --family is left out. Seed and difficulty
//       default to run.seed and tasks.difficulty.
//   ponder tasks corpus --out FILE [--split train|eval|all] [--config FILE]
//       writes the lookup world's documents as JSONL {id, title, text}:
//       all of them (the search tool's corpus, the default) or one split's
//       (train: the lookup part of the pretraining corpus).
//   ponder tasks verify [--input FILE]
//       checks answers as training rewards and eval do (check in
//       curricula/task.h). Reads JSONL from FILE or stdin, one object a line:
//         {"expected": gold answer, "answer": final answer text,
//          "family": F, "metadata": {...}}
//       (strings; "metadata" optional, what the family's verifier reads:
//       countdown needs {"numbers": [...], "target": N}) and prints one line
//       per input line, in order:
//         {"equal": whether check accepts the answer,
//          "normalized": normalize_number(answer), or null when not a number}
//       A bad line (not a JSON object, a blank line, a missing, extra or
//       non-string key, an unknown family, metadata the verifier cannot read)
//       is a ponder::Error naming its 1-based line number; the lines before it
//       have been printed.
#pragma once

#include "app/config.h"
#include "curricula/generator.h"

namespace CLI {
class App;
}

namespace ponder {

struct TaskSettings {
  TaskSources sources;
  FamilyWeights weights{};
  int difficulty = 1;
};

// The sources a config names (tasks.words_file, tasks.gsm8k_dir,
// tasks.lookup_entities, tasks.lookup_seed).
TaskSources task_sources(const Config& config);

// The task settings a config asks for (tasks.* keys). Throws ponder::Error
// naming the config file when every family weight is 0.
TaskSettings task_settings(const Config& config);

// Adds the `tasks` subcommand and its subcommands to `app`.
void add_tasks_commands(CLI::App& app);

}  // namespace ponder
