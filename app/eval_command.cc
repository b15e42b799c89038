// The `ponder eval` command line (app/eval.h): loads a checkpoint and the
// run's config, runs run_eval, and stores, writes and prints what it measured.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "app/backend_choice.h"
#include "app/config.h"
#include "app/eval.h"
#include "app/task_tools.h"
#include "app/tasks_commands.h"
#include "policy/atomic_file.h"
#include "policy/checkpoint.h"
#include "policy/cpu/blas.h"
#include "policy/error.h"
#include "rollout/rollout_store.h"
#include "rollout/store_reader.h"

namespace ponder {
namespace {

constexpr const char* kEvalRun = "eval";

struct EvalArgs {
  std::string checkpoint;
  std::vector<std::string> compare;
  std::vector<std::string> benchmarks = builtin_benchmark_names();
  int samples = 1;
  std::optional<double> temperature;
  double top_p = 1.0;
  std::optional<int> max_new_tokens;
  std::string tools = "on";
  size_t limit = 0;
  uint64_t seed = 0;
  std::string config, db, out;
  std::vector<std::string> overrides;
};

// The run folder a checkpoint belongs to: the nearest of its parent folders
// (<run>/checkpoints/step_N, <run>/<stage>/checkpoints/step_N) holding the
// config.toml that `ponder train` writes there.
std::optional<std::filesystem::path> run_folder_of(const std::filesystem::path& checkpoint) {
  std::filesystem::path folder = std::filesystem::absolute(checkpoint).lexically_normal();
  if (!folder.has_filename()) folder = folder.parent_path();  // a trailing '/'
  for (int up = 0; up < 3 && folder.has_parent_path() && folder != folder.root_path(); ++up) {
    folder = folder.parent_path();
    if (std::filesystem::exists(folder / "config.toml")) return folder;
  }
  return std::nullopt;
}

// The step after the last of the eval run in `database` (1 for a new one), so
// that no evaluation replaces an earlier one.
int64_t next_eval_step(const std::filesystem::path& database) {
  if (!std::filesystem::exists(database)) return 1;
  int64_t last = 0;
  StoreReader::open(database).query(
      fmt::format("SELECT coalesce(max(s.step), 0) FROM steps s JOIN runs r ON r.id = s.run_id "
                  "WHERE r.name = '{}'",
                  kEvalRun),
      [](const auto&) {},
      [&](const std::vector<SqlValue>& row) { last = std::get<int64_t>(row[0]); });
  return last + 1;
}

}  // namespace

EvalOptions eval_options(const Config& config) {
  EvalOptions options;
  options.samples = static_cast<int>(config.get_int("eval.samples"));
  GenerationOptions& g = options.generation;
  g.sampler.temperature = config.get_float("eval.temperature");
  g.max_new_tokens = static_cast<int>(config.get_int("rl.max_new_tokens"));
  g.max_tool_calls = static_cast<int>(config.get_int("rl.max_tool_calls"));
  g.tools = config.get_bool("eval.tools");
  g.seed = static_cast<uint64_t>(config.get_int("run.seed"));
  return options;
}

EvalReport evaluate_checkpoint(const Config& config, const std::filesystem::path& checkpoint,
                               const std::vector<std::string>& benchmark_names, size_t limit,
                               const EvalOptions& options, const std::filesystem::path& database,
                               const std::filesystem::path& out_file) {
  set_math_threads(static_cast<int>(config.get_int("run.threads")));
  EvalReport report;
  report.checkpoint = checkpoint;
  report.limit = limit;
  report.run = kEvalRun;
  report.database = database;
  report.options = options;
  const GenerationOptions& g = options.generation;
  const TaskGenerator generator(task_sources(config));
  const std::vector<Benchmark> benchmarks = load_benchmarks(generator, benchmark_names, limit);
  const Checkpoint ckpt = load_checkpoint(checkpoint, false);
  report.checkpoint_step = ckpt.state.step;
  const Tokenizer tokenizer = load_checkpoint_tokenizer(checkpoint);
  const auto backend = make_backend(config);
  Model<float> model(*backend, ckpt.config);
  model.set_params(ckpt.params);
  ModelDecoder decoder(model);
  // Tools off: no registry at all, so not even a worker starts.
  std::optional<ToolRegistry> tools;
  if (g.tools) tools.emplace(task_tools(config, generator.lookup_world()));
  Engine engine(decoder, tokenizer, tools ? tool_caller(*tools) : ToolCaller{});

  report.step = next_eval_step(report.database);
  std::string sizes;
  for (const Benchmark& b : benchmarks) {
    sizes += fmt::format("{}{} ({})", sizes.empty() ? "" : ", ", b.name, b.tasks.size());
  }
  fmt::print(
      "eval: {} (step {}) on {}; {} sample{} a problem, temperature {}, top-p {}, {} new tokens, "
      "tools {}\n",
      checkpoint.string(), report.checkpoint_step, sizes, options.samples,
      options.samples == 1 ? "" : "s", g.sampler.temperature, g.sampler.top_p, g.max_new_tokens,
      g.tools ? "on" : "off");
  EvalResults results = run_eval(engine, tokenizer, benchmarks, options, report.step);
  report.seconds = results.seconds;
  report.benchmarks = results.benchmarks;

  StepMetrics metrics;
  add_eval_metrics(results, metrics.values);
  metrics.values["checkpoint_step"] = static_cast<double>(report.checkpoint_step);
  metrics.values["samples"] = options.samples;
  metrics.values["temperature"] = g.sampler.temperature;
  metrics.values["tools"] = g.tools;
  metrics.seconds = results.seconds;
  const size_t rows = results.records.size();
  RolloutStore store = RolloutStore::open(report.database, kEvalRun, config.to_toml());
  store.write_step(report.step, std::move(results.records), std::move(metrics));
  store.flush();

  const std::filesystem::path out = !out_file.empty()
                                        ? out_file
                                        : report.database.parent_path() / "eval" /
                                              fmt::format("{}_{:06}.json", kEvalRun, report.step);
  if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
  write_file_atomically(out, to_json(report).dump(2) + "\n");
  fmt::print("{}", format_eval_table(report.benchmarks));
  fmt::print(
      "eval: {:.1f} s; results in {}; {} rollouts in {} (run {}, step {}: ponder inspect {} "
      "list --run {} --step {})\n",
      report.seconds, out.string(), rows, report.database.string(), kEvalRun, report.step,
      report.database.string(), kEvalRun, report.step);
  return report;
}

namespace {

EvalReport evaluate_checkpoint(const EvalArgs& args, const std::filesystem::path& checkpoint) {
  const auto run_folder = run_folder_of(checkpoint);
  std::filesystem::path config_file = args.config;
  if (config_file.empty() && run_folder) config_file = *run_folder / "config.toml";
  const Config config = Config::load(config_file, args.overrides);
  const std::filesystem::path database = !args.db.empty() ? std::filesystem::path(args.db)
                                         : run_folder     ? *run_folder / "rollouts.db"
                                                          : std::filesystem::path();
  if (database.empty()) {
    throw Error(
        fmt::format("`{}` is not inside a run folder (no config.toml above it); "
                    "name the rollout database with --db",
                    checkpoint.string()));
  }
  EvalOptions options;
  options.samples = args.samples;
  options.progress = true;
  GenerationOptions& g = options.generation;
  // Greedy answers one sample well; several samples of one greedy answer are
  // the same answer, so pass@k and maj@k need sampling.
  g.sampler.temperature = args.temperature.value_or(args.samples == 1 ? 0.0 : 1.0);
  g.sampler.top_p = args.top_p;
  // The budgets the model was trained with.
  g.max_new_tokens =
      args.max_new_tokens.value_or(static_cast<int>(config.get_int("rl.max_new_tokens")));
  g.max_tool_calls = static_cast<int>(config.get_int("rl.max_tool_calls"));
  g.tools = args.tools == "on";
  g.seed = args.seed;
  return evaluate_checkpoint(config, checkpoint, args.benchmarks, args.limit, options, database,
                             args.out);
}

void run_eval_command(const EvalArgs& args) {
  if (args.compare.empty()) {
    if (args.checkpoint.empty()) throw Error("eval: give a checkpoint, or --compare A B");
    evaluate_checkpoint(args, args.checkpoint);
    return;
  }
  if (!args.checkpoint.empty()) {
    throw Error("eval: give a checkpoint or --compare A B, not both");
  }
  // A results file is read; a checkpoint folder is evaluated first.
  std::vector<EvalReport> reports;
  for (const std::string& side : args.compare) {
    reports.push_back(std::filesystem::is_directory(side) ? evaluate_checkpoint(args, side)
                                                          : read_eval_report(side));
  }
  fmt::print("{}", format_comparison(reports[0], reports[1]));
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "eval", "measure a checkpoint on benchmarks (pass@1, pass@k, maj@k), or compare two");
  auto args = std::make_shared<EvalArgs>();
  cmd->add_option("checkpoint", args->checkpoint, "checkpoint folder");
  cmd->add_option("--compare", args->compare,
                  "compare A and B: results files (.json) or checkpoints (evaluated first)")
      ->expected(2);
  cmd->add_option("--bench", args->benchmarks,
                  "benchmarks, comma-separated: gsm8k, arith, count, wordprob, lookup, countdown "
                  "or a .jsonl file")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--samples", args->samples, "samples per problem (the k of pass@k, maj@k)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--temperature", args->temperature,
                  "sampling temperature (default: 0, greedy, for 1 sample; 1 for more)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-p", args->top_p, "nucleus mass")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--max-new-tokens", args->max_new_tokens,
                  "tokens per answer (default: the config's rl.max_new_tokens)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--tools", args->tools, "on, or off: the tool-call token is never sampled")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off"}));
  cmd->add_option("--limit", args->limit, "the first k problems of each benchmark (0: all)")
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "sampling seed")->capture_default_str();
  cmd->add_option("--config", args->config,
                  "run config for [tasks], [tools] and budgets (default: the checkpoint's run "
                  "folder's config.toml, else the defaults)");
  cmd->add_option("--set", args->overrides, "override a key: --set section.key=value");
  add_device_option(cmd, args->overrides);
  cmd->add_option("--db", args->db,
                  "rollout database (default: rollouts.db in the checkpoint's run folder)");
  cmd->add_option("--out", args->out,
                  "results file (default: eval/eval_<step>.json beside the database)");
  cmd->callback([args] { run_eval_command(*args); });
}

}  // namespace ponder
