// The `ponder` command: parses arguments (CLI11) and hands each subcommand to
// the code that does the work. Every ponder::Error ends here as one line on
// stderr and exit status 1; argument errors exit through CLI11 (status 2+).
#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "app/backend_choice.h"
#include "app/chat.h"
#include "app/config.h"
#include "app/config_schema.h"
#include "app/eval.h"
#include "app/inspect_commands.h"
#include "app/pretrain.h"
#include "app/records.h"
#include "app/report.h"
#include "app/sample.h"
#include "app/stages.h"
#include "app/task_tools.h"
#include "app/tasks_commands.h"
#include "app/tools_commands.h"
#include "parallel/communicator.h"
#include "policy/cpu/blas.h"
#include "policy/error.h"
#include "policy/pretokenizer.h"
#include "policy/special_tokens.h"
#include "policy/tokenizer.h"
#include "rollout/rollout_store.h"

namespace ponder {
namespace {

std::string read_stdin() {
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

std::vector<TokenId> parse_ids(const std::vector<std::string>& words) {
  std::vector<TokenId> ids;
  for (const auto& word : words) {
    size_t used = 0;
    long value = 0;
    try {
      value = std::stol(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size() || value < 0 || value > kMaxVocabSize) {
      throw Error(fmt::format("token id `{}` is not a non-negative integer id", word));
    }
    ids.push_back(static_cast<TokenId>(value));
  }
  return ids;
}

void add_train(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "run the stages of a config (run.stages), in order");
  auto config_file = std::make_shared<std::string>();
  auto overrides = std::make_shared<std::vector<std::string>>();
  cmd->add_option("config,--config", *config_file, "run config (TOML)")->required();
  cmd->add_option("--set", *overrides, "override a key: --set section.key=value (repeatable)");
  auto range = std::make_shared<StageRange>();
  auto only = std::make_shared<std::string>();
  auto* from_opt =
      cmd->add_option("--from", range->first, "start at this stage (the ones before it have run)");
  cmd->add_option("--only", *only, "run just this stage (the ones before it have run)")
      ->excludes(from_opt);
  cmd->callback([=] {
    StageRange chosen = *range;
    if (!only->empty()) chosen.first = chosen.last = *only;
    run_stages(Config::load(*config_file, *overrides), chosen);
  });
}

// `ponder pretrain` and `ponder sft`: the run's stages up to this one (earlier
// stages keep their outputs), stopping early at --stop-after.
void add_training_stage(CLI::App& app, const std::string& stage, const std::string& help) {
  auto* cmd = app.add_subcommand(stage, help);
  auto config_file = std::make_shared<std::string>();
  auto overrides = std::make_shared<std::vector<std::string>>();
  auto stop_after = std::make_shared<int64_t>(0);
  cmd->add_option("config,--config", *config_file, "run config (TOML)")->required();
  cmd->add_option("--set", *overrides, "override a key: --set section.key=value (repeatable)");
  cmd->add_option("--stop-after", *stop_after,
                  "stop once this step is done (checkpointed; re-run to resume)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([=] {
    run_stages(Config::load(*config_file, *overrides), StageRange{"", stage, *stop_after});
  });
}

void add_sample(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "sample", "greedy-decode task prompts from a checkpoint; report format and accuracy");
  auto checkpoint = std::make_shared<std::string>();
  auto config_file = std::make_shared<std::string>();
  auto overrides = std::make_shared<std::vector<std::string>>();
  auto family = std::make_shared<std::string>("count");
  auto split = std::make_shared<std::string>("eval");
  auto options = std::make_shared<SampleOptions>();
  cmd->add_option("checkpoint", *checkpoint, "checkpoint folder")->required();
  cmd->add_option("--config", *config_file, "run config for [tasks] (default: defaults)");
  cmd->add_option("--set", *overrides, "override a key: --set section.key=value (repeatable)");
  add_device_option(cmd, *overrides);
  cmd->add_option("--family", *family, "task family")->capture_default_str();
  cmd->add_option("--split", *split, "train or eval")->capture_default_str();
  cmd->add_option("--n", options->n, "prompts")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--difficulty", options->difficulty, "task difficulty")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", options->seed, "task seed")->capture_default_str();
  cmd->add_option("--max-new-tokens", options->max_new_tokens, "tokens per response")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--direct", options->direct, "force a direct answer (no thinking, no tools)");
  cmd->add_option("--show", options->show, "responses printed in full")->capture_default_str();
  auto db = std::make_shared<std::string>();
  cmd->add_option("--db", *db, "also write every rollout to this SQLite store (split eval)");
  cmd->add_option("--temperature", options->temperature, "0: greedy")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->callback([=] {
    const Config config = Config::load(*config_file, *overrides);
    const TaskGenerator generator(task_sources(config));
    const Family f = parse_family(*family);
    options->split = parse_split(*split);
    options->device = device_choice(config);
    std::vector<Task> tasks;
    for (int i = 0; i < options->n; ++i) {
      tasks.push_back(generator.generate(f, options->split, static_cast<uint64_t>(i),
                                         options->difficulty, options->seed));
    }
    const ToolRegistry tools = task_tools(config, generator.lookup_world());
    const auto responses = sample_responses(*checkpoint, tasks, *options, tool_caller(tools));
    for (int i = 0; i < std::min(options->show, options->n); ++i) {
      fmt::print("--- {} (answer {})\n{}\n{}\n", tasks[i].id, tasks[i].answer, tasks[i].prompt,
                 responses[i].text);
    }
    const SampleReport r = score_responses(tasks, responses);
    if (!db->empty()) {
      RolloutStore store = RolloutStore::open(*db, "sample", config.to_toml());
      std::vector<RolloutRecord> records;
      for (size_t i = 0; i < tasks.size(); ++i) {
        records.push_back(rollout_record(tasks[i], responses[i], 0, "eval",
                                         "sample/" + *family + (options->direct ? "/direct" : "")));
      }
      store.write_step(0, std::move(records),
                       {{{"accuracy", static_cast<double>(r.correct) / r.n},
                         {"well_formed", static_cast<double>(r.well_formed) / r.n}},
                        0});
      store.flush();
      fmt::print("wrote {} rollouts to {}\n", r.n, *db);
    }
    fmt::print(
        "{} {} prompts{}: {:.1f}% well formed, {:.1f}% correct, {} tool calls, "
        "{:.1f} tokens per response\n",
        *family, r.n, options->direct ? " (direct answers)" : "", 100.0 * r.well_formed / r.n,
        100.0 * r.correct / r.n, r.tool_calls, r.mean_response_tokens);
    fmt::print(
        "{{\"family\": \"{}\", \"n\": {}, \"direct\": {}, \"well_formed\": {:.4f}, "
        "\"accuracy\": {:.4f}, \"tool_calls\": {}, \"mean_response_tokens\": {:.2f}}}\n",
        *family, r.n, options->direct, static_cast<double>(r.well_formed) / r.n,
        static_cast<double>(r.correct) / r.n, r.tool_calls, r.mean_response_tokens);
  });
}

void add_report(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "report", "write a run's self-contained HTML report: timings, charts, example rollouts");
  auto run_dir = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  cmd->add_option("run_dir,--run-dir", *run_dir, "run folder (<run.out_dir>/<run.name>)")
      ->required();
  cmd->add_option("--out", *out, "the HTML file to write (default: RUN_DIR/report.html)");
  cmd->callback([=] {
    const std::filesystem::path file = write_report(*run_dir, *out);
    fmt::print("wrote {} ({:.0f} KB)\n", file.string(),
               static_cast<double>(std::filesystem::file_size(file)) / 1024);
  });
}

void add_config(CLI::App& app) {
  auto* cmd = app.add_subcommand("config", "show a resolved config or the config reference");
  cmd->require_subcommand(1);
  auto* show = cmd->add_subcommand("show", "print FILE with overrides applied and defaults filled");
  auto file = std::make_shared<std::string>();
  auto overrides = std::make_shared<std::vector<std::string>>();
  show->add_option("config,--config", *file, "run config (TOML); omitted: the defaults");
  show->add_option("--set", *overrides, "override a key: --set section.key=value (repeatable)");
  show->callback([=] { fmt::print("{}", Config::load(*file, *overrides).to_toml()); });
  auto* docs = cmd->add_subcommand("docs", "print the reference of every config key (Markdown)");
  docs->callback([] { fmt::print("{}", config_reference_markdown()); });
}

void add_tokenizer(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("tokenizer", "train, use and inspect the byte-level BPE tokenizer");
  cmd->require_subcommand(1);

  auto* train = cmd->add_subcommand("train", "train a tokenizer on text or JSONL files");
  auto options = std::make_shared<TokenizerTrainingOptions>();
  auto inputs = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  auto digits = std::make_shared<int>(1);
  train->add_option("--input", *inputs, "text or .jsonl files")->required();
  train->add_option("--vocab-size", options->vocab_size, "total vocabulary size")
      ->capture_default_str();
  train->add_option("--out", *out, "folder to write tokenizer.json into")->required();
  train->add_option("--field", options->fields, "JSONL fields to read (default: every string)");
  train->add_option("--digits-per-token", *digits, "longest digit run in one piece (1-3)")
      ->capture_default_str();
  train->add_option("--pattern", options->pattern, "pre-tokenization regex (overrides digits)");
  train->add_option("--max-mb", options->max_input_mb, "read at most this many MB (0: all)");
  train->callback([=] {
    for (const auto& input : *inputs) options->inputs.emplace_back(input);
    if (options->pattern.empty()) options->pattern = gpt4_style_pattern(*digits);
    const Tokenizer tokenizer = train_tokenizer(*options);
    tokenizer.save(*out);
    fmt::print("wrote {}/tokenizer.json\n", *out);
  });

  auto* encode = cmd->add_subcommand("encode", "print the ids of a text (--text, --file or stdin)");
  auto folder = std::make_shared<std::string>();
  auto text = std::make_shared<std::string>();
  auto file = std::make_shared<std::string>();
  auto show_pieces = std::make_shared<bool>(false);
  encode->add_option("--tokenizer", *folder, "tokenizer folder or tokenizer.json")->required();
  auto* text_opt = encode->add_option("--text", *text, "text to encode");
  encode->add_option("--file", *file, "file to encode")->excludes(text_opt);
  encode->add_flag("--pieces", *show_pieces, "show how the text splits, then the ids");
  encode->callback([=] {
    const Tokenizer tokenizer = Tokenizer::load(*folder);
    std::string input = *text;
    if (!file->empty()) {
      std::ifstream in(*file, std::ios::binary);
      if (!in) throw Error(fmt::format("input file `{}` not found or unreadable", *file));
      input.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } else if (text->empty()) {
      input = read_stdin();
    }
    if (*show_pieces) {
      fmt::print("{}\n", describe_encoding(tokenizer, input));
      return;
    }
    fmt::print("{}\n", fmt::join(tokenizer.encode(input), " "));
  });

  auto* decode = cmd->add_subcommand("decode", "print the text of ids (arguments or stdin)");
  auto decode_folder = std::make_shared<std::string>();
  auto words = std::make_shared<std::vector<std::string>>();
  decode->add_option("--tokenizer", *decode_folder, "tokenizer folder or tokenizer.json")
      ->required();
  decode->add_option("ids", *words, "token ids");
  decode->callback([=] {
    const Tokenizer tokenizer = Tokenizer::load(*decode_folder);
    std::vector<std::string> id_words = *words;
    if (id_words.empty()) {
      std::istringstream in(read_stdin());
      id_words.assign(std::istream_iterator<std::string>(in), std::istream_iterator<std::string>());
    }
    const std::string bytes = tokenizer.decode(parse_ids(id_words));
    std::fwrite(bytes.data(), 1, bytes.size(), stdout);
  });
}

void add_data(CLI::App& app) {
  auto* cmd = app.add_subcommand("data", "prepare training data");
  cmd->require_subcommand(1);
  auto* corpus = cmd->add_subcommand(
      "corpus", "build the pretraining text mixture and its shards (and the tokenizer if needed)");
  auto corpus_config = std::make_shared<std::string>();
  auto corpus_overrides = std::make_shared<std::vector<std::string>>();
  corpus->add_option("config,--config", *corpus_config, "run config (TOML)")->required();
  corpus->add_option("--set", *corpus_overrides, "override a key: --set section.key=value");
  corpus->callback([=] {
    std::vector<std::string> overrides = *corpus_overrides;
    overrides.push_back("run.stages=[\"tokenizer\", \"corpus\"]");
    run_stages(Config::load(*corpus_config, overrides));
  });

  auto* shard = cmd->add_subcommand("shard", "encode text/JSONL files into binary token shards");
  auto folder = std::make_shared<std::string>();
  auto inputs = std::make_shared<std::vector<std::string>>();
  auto fields = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  auto per_shard = std::make_shared<uint64_t>(100'000'000);
  shard->add_option("--tokenizer", *folder, "tokenizer folder or tokenizer.json")->required();
  shard->add_option("--input", *inputs, "text or .jsonl files")->required();
  shard->add_option("--field", *fields, "JSONL fields to read (default: every string)");
  shard->add_option("--out", *out, "folder for shard_NNNNN.bin files")->required();
  shard->add_option("--tokens-per-shard", *per_shard, "ids per shard")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  shard->callback([=] {
    const Tokenizer tokenizer = Tokenizer::load(*folder);
    std::vector<std::filesystem::path> paths(inputs->begin(), inputs->end());
    const ShardingSummary summary = write_token_shards(tokenizer, paths, *fields, *out, *per_shard);
    fmt::print(
        "wrote {} shards to {}: {} documents, {:.2f} MB of text, {} tokens ({:.2f} bytes/token)\n",
        summary.shards.size(), *out, summary.documents, summary.bytes / 1e6, summary.tokens,
        summary.tokens ? static_cast<double>(summary.bytes) / summary.tokens : 0.0);
  });
}

// The subcommands that train data-parallel; every other one would only do the
// same work N times, writing the same files.
constexpr std::array<std::string_view, 4> kParallelCommands = {"train", "pretrain", "sft", "rl"};

// One rank of a job started by an MPI launcher (docs/SCALING.md). Rank 0
// alone prints: the other ranks' stdout goes to /dev/null, so the console
// shows one run. Any failure ends the whole job (MPI_Abort) with the rank
// named on stderr, so that no rank waits forever in a collective for it.
int run_as_rank(Communicator& world, CLI::App& app, int argc, char** argv) {
  int status = 0;
  try {
    if (!world.is_root() && std::freopen("/dev/null", "w", stdout) == nullptr) {
      throw Error("cannot send standard output to /dev/null");
    }
    const auto command =
        std::find_if(argv + 1, argv + argc, [](const char* a) { return a[0] != '-'; });
    if (command != argv + argc && std::find(kParallelCommands.begin(), kParallelCommands.end(),
                                            *command) == kParallelCommands.end()) {
      throw Error(
          fmt::format("`ponder {}` runs in one process: start it without mpirun or srun "
                      "(the data-parallel commands are {})",
                      *command, fmt::join(kParallelCommands, ", ")));
    }
    app.parse(argc, argv);
    return 0;
  } catch (const CLI::ParseError& e) {
    status = world.is_root() ? app.exit(e) : app.exit(e, std::cout, std::cout);
    if (status == 0) return 0;  // --help, --version
  } catch (const std::exception& e) {
    std::fflush(stdout);
    fmt::print(stderr, "ponder: rank {} of {}: {}\n", world.rank(), world.size(), e.what());
    status = 1;
  }
  std::fflush(stderr);
  world.abort(status);
}

}  // namespace

}  // namespace ponder

int main(int argc, char** argv) {
  ponder::use_passive_openmp_wait(argv);
  // Progress lines must reach a log file or CI as they happen, not at exit.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  CLI::App app{"ponder: a C++ trainer that teaches small language models to reason", "ponder"};
  app.set_version_flag("--version", "ponder " PONDER_VERSION);
  app.require_subcommand(1);
  ponder::add_train(app);
  ponder::add_training_stage(app, "pretrain",
                             "pretrain the policy (the run's stages before it first, if needed)");
  ponder::add_training_stage(app, "sft",
                             "fine-tune on demonstrations (the run's stages before it first)");
  ponder::add_training_stage(app, "rl",
                             "improve the policy with GRPO (the run's stages before it first)");
  ponder::add_sample(app);
  ponder::add_eval_command(app);
  ponder::add_chat_command(app);
  ponder::add_tasks_commands(app);
  ponder::add_tools_commands(app);
  ponder::add_inspect_commands(app);
  ponder::add_report(app);
  ponder::add_config(app);
  ponder::add_tokenizer(app);
  ponder::add_data(app);
  try {
    ponder::Communicator& world = ponder::Communicator::world();
    if (world.size() > 1) return ponder::run_as_rank(world, app, argc, argv);
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const ponder::Error& e) {
    std::fflush(stdout);
    fmt::print(stderr, "ponder: {}\n", e.what());
    return 1;
  }
  return 0;
}
