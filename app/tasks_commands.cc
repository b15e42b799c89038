#include "app/tasks_commands.h"

#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "curricula/answer.h"
#include "curricula/lookup.h"
#include "policy/error.h"

namespace ponder {

TaskSources task_sources(const Config& config) {
  TaskSources sources;
  sources.words_file = config.get_string("tasks.words_file");
  sources.gsm8k_dir = config.get_string("tasks.gsm8k_dir");
  sources.lookup_entities = static_cast<int>(config.get_int("tasks.lookup_entities"));
  sources.lookup_seed = static_cast<uint64_t>(config.get_int("tasks.lookup_seed"));
  return sources;
}

TaskSettings task_settings(const Config& config) {
  TaskSettings settings;
  settings.sources = task_sources(config);
  double total = 0;
  for (Family family : kFamilies) {
    const double w = config.get_float(fmt::format("tasks.{}", family_name(family)));
    settings.weights[static_cast<int>(family)] = w;
    total += w;
  }
  if (total <= 0) {
    const std::string file = config.source().empty() ? "the defaults" : config.source().string();
    throw Error(fmt::format(
        "{}: every task family weight is 0; set at least one of tasks.arith, tasks.count, "
        "tasks.wordprob, tasks.lookup, tasks.countdown, tasks.gsm8k above 0",
        file));
  }
  settings.difficulty = static_cast<int>(config.get_int("tasks.difficulty"));
  return settings;
}

namespace {

struct ConfigArgs {
  std::string file;
  std::vector<std::string> overrides;
};

void add_config_options(CLI::App* cmd, ConfigArgs& args) {
  cmd->add_option("--config", args.file, "run config (TOML); omitted: the defaults");
  cmd->add_option("--set", args.overrides, "override a key: --set section.key=value (repeatable)");
}

void print_task(const Task& task, bool json) {
  if (json) {
    fmt::print("{}\n", task_to_json(task).dump());
    return;
  }
  fmt::print("[{}] difficulty {}\n{}\nanswer: {}\n\n", task.id, task.difficulty, task.prompt,
             task.answer);
}

void add_sample(CLI::App* tasks) {
  struct Args {
    ConfigArgs config;
    std::string family, split = "train";
    int n = 5;
    std::optional<uint64_t> seed;
    std::optional<int> difficulty;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = tasks->add_subcommand("sample", "print tasks with their answers");
  add_config_options(cmd, args->config);
  cmd->add_option("--family", args->family,
                  "arith, count, wordprob, lookup, countdown or gsm8k (omitted: the config's "
                  "mixture)");
  cmd->add_option("--n", args->n, "how many tasks")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--split", args->split, "train or eval")->capture_default_str();
  cmd->add_option("--seed", args->seed, "seed (default: run.seed)");
  cmd->add_option("--difficulty", args->difficulty, "difficulty (default: tasks.difficulty)");
  cmd->add_flag("--json", args->json, "one JSON object per task, metadata included");
  cmd->callback([args] {
    const Config config = Config::load(args->config.file, args->config.overrides);
    const Split split = parse_split(args->split);
    const std::optional<Family> family =
        args->family.empty() ? std::nullopt : std::optional(parse_family(args->family));
    const uint64_t seed = args->seed.value_or(static_cast<uint64_t>(config.get_int("run.seed")));
    const int difficulty =
        args->difficulty.value_or(static_cast<int>(config.get_int("tasks.difficulty")));
    // One family needs no mixture, so it works even with every weight 0.
    if (family) {
      const TaskGenerator generator(task_sources(config));
      for (int i = 0; i < args->n; ++i) {
        print_task(generator.generate(*family, split, static_cast<uint64_t>(i), difficulty, seed),
                   args->json);
      }
      return;
    }
    const TaskSettings settings = task_settings(config);
    const TaskGenerator generator(settings.sources);
    const TaskMixture mixture(generator, settings.weights, difficulty, seed);
    for (int i = 0; i < args->n; ++i) {
      print_task(mixture.sample(split, static_cast<uint64_t>(i)), args->json);
    }
  });
}

void add_corpus(CLI::App* tasks) {
  struct Args {
    ConfigArgs config;
    std::string out, split = "all";
  };
  auto args = std::make_shared<Args>();
  auto* cmd = tasks->add_subcommand("corpus", "write the lookup world's documents as JSONL");
  add_config_options(cmd, args->config);
  cmd->add_option("--out", args->out, "JSONL file to write")->required();
  cmd->add_option("--split", args->split,
                  "all (the search tool's corpus), train (pretraining) or eval")
      ->capture_default_str();
  cmd->callback([args] {
    const Config config = Config::load(args->config.file, args->config.overrides);
    const TaskSources sources = task_sources(config);
    const LookupWorld world(sources.lookup_entities, sources.lookup_seed);
    const std::vector<CorpusDocument> docs =
        args->split == "all" ? world.search_corpus() : world.documents(parse_split(args->split));
    write_corpus_jsonl(docs, args->out);
    fmt::print("wrote {} documents ({} places and their look-alikes) to {}\n", docs.size(),
               docs.size() / 2, args->out);
  });
}

// The task and final answer of one `tasks verify` line; throws ponder::Error
// without the line number.
std::pair<Task, std::string> parse_verify_line(const std::string& line) {
  if (line.find_first_not_of(" \t\r") == std::string::npos) {
    throw Error("blank line; each line is one JSON object {\"expected\", \"answer\", \"family\"}");
  }
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(line);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(fmt::format("not JSON (syntax error at byte {})", e.byte));
  }
  if (!json.is_object()) {
    throw Error(fmt::format("{} is not a JSON object {{\"expected\", \"answer\", \"family\"}}",
                            json.dump()));
  }
  for (const auto& [key, value] : json.items()) {
    if (key != "expected" && key != "answer" && key != "family" && key != "metadata") {
      throw Error(
          fmt::format("unknown key \"{}\"; the keys: expected, answer, family, metadata", key));
    }
  }
  auto text = [&json](const char* key) {
    const auto it = json.find(key);
    if (it == json.end()) throw Error(fmt::format("missing \"{}\"", key));
    if (!it->is_string()) throw Error(fmt::format("\"{}\" is {}, not a string", key, it->dump()));
    return it->get<std::string>();
  };
  Task task;
  task.family = parse_family(text("family"));
  task.answer = text("expected");
  if (const auto it = json.find("metadata"); it != json.end()) {
    if (!it->is_object()) throw Error(fmt::format("\"metadata\" is {}, not an object", it->dump()));
    task.metadata = *it;
  }
  return {std::move(task), text("answer")};
}

// One `tasks verify` line's verdict as a JSON line; throws ponder::Error
// without the line number.
std::string verify_line(const std::string& line) {
  const auto [task, answer] = parse_verify_line(line);
  bool equal = false;
  try {
    equal = check(task, answer);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("the {} verifier cannot read \"metadata\" {} ({})",
                            family_name(task.family), task.metadata.dump(), e.what()));
  }
  const std::optional<std::string> normalized = normalize_number(answer);
  return nlohmann::json{{"equal", equal},
                        {"normalized", normalized ? nlohmann::json(*normalized) : nullptr}}
      .dump();
}

void add_verify(CLI::App* tasks) {
  auto input = std::make_shared<std::string>();
  auto* cmd = tasks->add_subcommand(
      "verify",
      "check answers as rewards and eval do: JSONL {expected, answer, family} in, "
      "{equal, normalized} out");
  cmd->add_option("--input", *input, "JSONL file to read (default: stdin)");
  cmd->callback([input] {
    std::ifstream file;
    if (!input->empty()) {
      file.open(*input);
      if (!file) throw Error(fmt::format("cannot open {}", *input));
    }
    std::istream& in = input->empty() ? std::cin : file;
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
      try {
        fmt::print("{}\n", verify_line(line));
      } catch (const Error& e) {
        const std::string source = input->empty() ? "stdin" : *input;
        throw Error(fmt::format("{} line {}: {}", source, number, e.what()));
      }
    }
  });
}

}  // namespace

void add_tasks_commands(CLI::App& app) {
  auto* tasks = app.add_subcommand(
      "tasks", "task families: sample tasks, write the lookup corpus, check answers");
  tasks->require_subcommand(1);
  add_sample(tasks);
  add_corpus(tasks);
  add_verify(tasks);
}

}  // namespace ponder
