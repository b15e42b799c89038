#include "app/inspect_commands.h"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "policy/error.h"
#include "rollout/store_reader.h"
#include "rollout/text.h"

namespace ponder {
namespace {

using nlohmann::json;

// Valid UTF-8 whatever the file held (a foreign or hand-edited store).
std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// At most `width` characters of printable(text, one line), "…" marking a cut.
std::string cell(std::string_view text, size_t width) {
  const std::string safe = printable(text, true);  // valid UTF-8 from here on
  size_t chars = 0, cut = 0;
  for (size_t i = 0; i < safe.size(); i += utf8_sequence_length(safe.substr(i))) {
    if (++chars == width) cut = i;
    if (chars > width) return safe.substr(0, cut) + "…";
  }
  return safe;
}

class Painter {
 public:
  explicit Painter(bool enabled) : enabled_(enabled) {}
  std::string operator()(std::string_view text, std::string_view sgr) const {
    if (!enabled_ || text.empty()) return std::string(text);
    return fmt::format("\x1b[{}m{}\x1b[0m", sgr, text);
  }

 private:
  bool enabled_;
};

constexpr std::string_view kBold = "1", kDim = "2", kRed = "31", kGreen = "32", kYellow = "33",
                           kCyan = "36";

struct OutputArgs {
  bool json = false;
  std::string color = "auto";

  void add_to(CLI::App* cmd) {
    cmd->add_flag("--json", json, "print JSON for scripts");
    cmd->add_option("--color", color, "auto, always or never")->capture_default_str();
  }
  Painter painter() const {
    if (color == "always") return Painter(true);
    if (color == "never") return Painter(false);
    if (color != "auto") {
      throw Error(fmt::format("--color `{}`: expected auto, always or never", color));
    }
    const char* no_color = std::getenv("NO_COLOR");
    return Painter(isatty(STDOUT_FILENO) == 1 && !(no_color && *no_color));
  }
};

Error bad_step(const std::string& spec) {
  return Error(fmt::format(
      "--step `{}`: expected a step N or a range A:B, A: or :B of whole numbers", spec));
}

// One bound of --step `spec`.
int64_t parse_step(const std::string& text, const std::string& spec) {
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size()) throw bad_step(spec);
  return value;
}

struct FilterArgs {
  std::string run, split, step, family, finish, search, sort = "id";
  std::optional<double> min_reward, max_reward;
  bool tool_calls = false, no_tool_calls = false, correct = false, wrong = false, desc = false;
  int64_t limit = 0;

  void add_to(CLI::App* cmd, int64_t default_limit) {
    limit = default_limit;
    cmd->add_option("--run", run, "only this run");
    cmd->add_option("--split", split, "train or eval");
    cmd->add_option("--step", step, "a step N or a range A:B, A: or :B");
    cmd->add_option("--family", family, "task family");
    cmd->add_option("--min-reward", min_reward, "reward at least this");
    cmd->add_option("--max-reward", max_reward, "reward at most this");
    cmd->add_option("--finish", finish, "end, length, tool_budget or error");
    auto* with = cmd->add_flag("--tool-calls", tool_calls, "only rollouts that called a tool");
    cmd->add_flag("--no-tool-calls", no_tool_calls, "only rollouts without tool calls")
        ->excludes(with);
    auto* right = cmd->add_flag("--correct", correct, "only correct answers");
    cmd->add_flag("--wrong", wrong, "only wrong or missing answers")->excludes(right);
    cmd->add_option("--search", search, "text in the prompt or completion (ASCII case-blind)");
    cmd->add_option("--sort", sort,
                    "id, step, reward, advantage, tokens, thinking, tool_calls or seconds")
        ->capture_default_str();
    cmd->add_flag("--desc", desc, "sort descending");
    cmd->add_option("--limit", limit, "at most this many (0: all)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
  }

  RolloutFilter filter() const {
    RolloutFilter f;
    f.run = run;
    if (!split.empty() && split != "train" && split != "eval") {
      throw Error(fmt::format("--split `{}`: expected train or eval", split));
    }
    f.split = split;
    if (!step.empty()) {
      const size_t colon = step.find(':');
      if (colon == std::string::npos) {
        f.min_step = f.max_step = parse_step(step, step);
      } else {
        const std::string low = step.substr(0, colon), high = step.substr(colon + 1);
        if (low.empty() && high.empty()) throw bad_step(step);
        if (!low.empty()) f.min_step = parse_step(low, step);
        if (!high.empty()) f.max_step = parse_step(high, step);
      }
      if (f.min_step && f.max_step && *f.min_step > *f.max_step) {
        throw Error(fmt::format("--step {}: the range is empty ({} is above {})", step, *f.min_step,
                                *f.max_step));
      }
    }
    f.family = family;
    for (const auto& [name, bound] :
         {std::pair{"--min-reward", min_reward}, std::pair{"--max-reward", max_reward}}) {
      if (bound && !std::isfinite(*bound)) {
        throw Error(fmt::format("{} {}: expected a finite number", name, *bound));
      }
    }
    if (min_reward && max_reward && *min_reward > *max_reward) {
      throw Error(fmt::format("--min-reward {} is above --max-reward {}: nothing can match",
                              *min_reward, *max_reward));
    }
    f.min_reward = min_reward;
    f.max_reward = max_reward;
    if (!finish.empty() && finish != "end" && finish != "length" && finish != "tool_budget" &&
        finish != "error") {
      throw Error(fmt::format("--finish `{}`: expected end, length, tool_budget or error", finish));
    }
    f.finish_reason = finish;
    if (tool_calls || no_tool_calls) f.has_tool_calls = tool_calls;
    if (correct || wrong) f.correct = correct;
    f.search = search;
    static constexpr std::array<std::pair<std::string_view, RolloutSort>, 8> kSorts = {{
        {"id", RolloutSort::kId},
        {"step", RolloutSort::kStep},
        {"reward", RolloutSort::kReward},
        {"advantage", RolloutSort::kAdvantage},
        {"tokens", RolloutSort::kTokens},
        {"thinking", RolloutSort::kThinking},
        {"tool_calls", RolloutSort::kToolCalls},
        {"seconds", RolloutSort::kSeconds},
    }};
    const auto* key = std::find_if(kSorts.begin(), kSorts.end(),
                                   [&](const auto& entry) { return entry.first == sort; });
    if (key == kSorts.end()) {
      throw Error(fmt::format(
          "--sort `{}`: expected id, step, reward, advantage, tokens, thinking, tool_calls or "
          "seconds",
          sort));
    }
    f.sort = key->second;
    f.descending = desc;
    f.limit = limit;
    return f;
  }
};

json nullable(std::optional<std::string> text) {
  return text ? json(*text) : json(nullptr);
}

json rollout_json(const StoredRollout& stored, bool tokens) {
  const RolloutRecord& r = stored.record;
  json calls = json::array();
  for (const ToolCallRecord& c : r.tool_calls) {
    calls.push_back({{"tool", c.tool},
                     {"input", c.input},
                     {"output", c.output},
                     {"status", c.status},
                     {"latency_ms", c.latency_ms}});
  }
  json out = {{"id", stored.id},
              {"run", stored.run},
              {"step", r.step},
              {"split", r.split},
              {"benchmark", r.benchmark.empty() ? json(nullptr) : json(r.benchmark)},
              {"family", r.family},
              {"task_id", r.task_id},
              {"prompt", r.prompt},
              {"completion", r.completion},
              {"expected_answer", r.expected_answer},
              {"extracted_answer", nullable(r.extracted_answer)},
              {"correct", r.correct},
              {"reward", r.reward},
              {"rewards", r.rewards},
              {"advantage", r.advantage},
              {"prompt_tokens", r.prompt_tokens},
              {"completion_tokens", r.completion_tokens},
              {"thinking_tokens", r.thinking_tokens},
              {"finish_reason", r.finish_reason},
              {"seconds", r.seconds},
              {"tool_calls", calls}};
  if (tokens) {
    out["token_ids"] = r.token_ids;
    out["logprobs"] = r.logprobs;
  }
  return out;
}

void add_summary(CLI::App& inspect, std::shared_ptr<std::string> db) {
  auto* cmd = inspect.add_subcommand("summary", "per-step table of the train rollouts, then evals");
  auto run = std::make_shared<std::string>();
  auto output = std::make_shared<OutputArgs>();
  cmd->add_option("--run", *run, "only this run");
  output->add_to(cmd);
  cmd->callback([=] {
    const Painter paint = output->painter();
    const StoreSummary s = StoreReader::open(*db).summary(*run);
    if (output->json) {
      json steps = json::array(), evals = json::array();
      for (const StepSummary& r : s.steps) {
        steps.push_back({{"run", r.run},
                         {"step", r.step},
                         {"rollouts", r.rollouts},
                         {"reward", r.reward},
                         {"accuracy", r.accuracy},
                         {"completion_tokens", r.completion_tokens},
                         {"thinking_tokens", r.thinking_tokens},
                         {"with_tool_calls", r.with_tool_calls},
                         {"tool_calls", r.tool_calls},
                         {"truncated", r.truncated}});
      }
      for (const EvalSummary& e : s.evals) {
        evals.push_back({{"run", e.run},
                         {"step", e.step},
                         {"benchmark", e.benchmark},
                         {"n", e.n},
                         {"accuracy", e.accuracy},
                         {"reward", e.reward},
                         {"completion_tokens", e.completion_tokens}});
      }
      fmt::print("{}\n", dump({{"steps", steps}, {"evals", evals}}));
      return;
    }
    if (s.steps.empty() && s.evals.empty()) {
      fmt::print("no rollouts yet\n");
      return;
    }
    std::string run_shown;
    for (const StepSummary& r : s.steps) {
      if (r.run != run_shown) {
        run_shown = r.run;
        fmt::print("{}\n",
                   paint(fmt::format("run {} (train rollouts)", printable(r.run, true)), kBold));
        fmt::print("{:>8} {:>6} {:>7} {:>6} {:>7} {:>6} {:>6} {:>6} {:>6}\n", "step", "n", "reward",
                   "acc", "tokens", "think", "tools", "calls", "trunc");
      }
      fmt::print("{:>8} {:>6} {:>7.3f} {:>5.1f}% {:>7.1f} {:>6.1f} {:>5.1f}% {:>6.2f} {:>5.1f}%\n",
                 r.step, r.rollouts, r.reward, 100 * r.accuracy, r.completion_tokens,
                 r.thinking_tokens, 100 * r.with_tool_calls, r.tool_calls, 100 * r.truncated);
    }
    run_shown.clear();
    for (const EvalSummary& e : s.evals) {
      if (e.run != run_shown) {
        run_shown = e.run;
        fmt::print("{}\n", paint(fmt::format("run {} (evals)", printable(e.run, true)), kBold));
        fmt::print("{:>8} {:<16} {:>6} {:>6} {:>7} {:>7}\n", "step", "benchmark", "n", "acc",
                   "reward", "tokens");
      }
      fmt::print("{:>8} {:<16} {:>6} {:>5.1f}% {:>7.3f} {:>7.1f}\n", e.step, cell(e.benchmark, 16),
                 e.n, 100 * e.accuracy, e.reward, e.completion_tokens);
    }
  });
}

void add_list(CLI::App& inspect, std::shared_ptr<std::string> db) {
  auto* cmd = inspect.add_subcommand("list", "one line per rollout, filtered and sorted");
  auto filter = std::make_shared<FilterArgs>();
  auto output = std::make_shared<OutputArgs>();
  filter->add_to(cmd, 20);
  output->add_to(cmd);
  cmd->callback([=] {
    const Painter paint = output->painter();
    const RolloutFilter f = filter->filter();
    const std::vector<RolloutListing> rows = StoreReader::open(*db).list(f);
    if (output->json) {
      json out = json::array();
      for (const RolloutListing& r : rows) {
        out.push_back({{"id", r.id},
                       {"run", r.run},
                       {"step", r.step},
                       {"split", r.split},
                       {"benchmark", r.benchmark.empty() ? json(nullptr) : json(r.benchmark)},
                       {"family", r.family},
                       {"task_id", r.task_id},
                       {"expected_answer", r.expected_answer},
                       {"extracted_answer", nullable(r.extracted_answer)},
                       {"correct", r.correct},
                       {"reward", r.reward},
                       {"advantage", r.advantage},
                       {"completion_tokens", r.completion_tokens},
                       {"thinking_tokens", r.thinking_tokens},
                       {"num_tool_calls", r.num_tool_calls},
                       {"finish_reason", r.finish_reason},
                       {"seconds", r.seconds}});
      }
      fmt::print("{}\n", dump(out));
      return;
    }
    if (rows.empty()) {
      fmt::print("no rollouts match\n");
      return;
    }
    fmt::print("{}\n", paint(fmt::format("{:>8} {:>6} {:<5} {:<9} {:>7} {:<2} {:<11} {:>6} {:>5} "
                                         "{:<20} {}",
                                         "id", "step", "split", "family", "reward", "ok", "finish",
                                         "tokens", "calls", "answer (expected)", "task"),
                             kBold));
    for (const RolloutListing& r : rows) {
      std::string answer = r.extracted_answer ? cell(*r.extracted_answer, 12) : "-";
      if (!r.correct) answer += fmt::format(" ({})", cell(r.expected_answer, 12));
      fmt::print("{:>8} {:>6} {:<5} {:<9} {:>7.3f} {:<2} {:<11} {:>6} {:>5} {:<20} {}\n", r.id,
                 r.step, r.split, cell(r.family, 9), r.reward,
                 r.correct ? paint("✓", kGreen) : paint("✗", kRed), r.finish_reason,
                 r.completion_tokens, r.num_tool_calls, answer, cell(r.task_id, 40));
    }
  });
}

// The completion cut at its special tokens: each span on its own lines with a
// label, coloured by kind. render_text spells ordinary "<|" as "< |", so every
// "<|name|>" left in the text is a real special token.
void print_completion(std::string_view text, const Painter& paint) {
  struct Marker {
    std::string_view token, label, style;
  };
  static constexpr std::array<Marker, 6> kOpen = {{
      {"<|think|>", "thinking", kDim},
      {"<|tool_call|>", "tool call", kCyan},
      {"<|tool_result|>", "tool result", kYellow},
      {"<|answer|>", "answer", kGreen},
      {"<|end|>", "end", kDim},
      {"<|assistant|>", "assistant", kDim},
  }};
  static constexpr std::array<std::string_view, 4> kClose = {"<|/think|>", "<|/tool_call|>",
                                                             "<|/tool_result|>", "<|/answer|>"};
  std::string_view style;  // of the span being printed; empty: plain text
  auto emit = [&](std::string_view piece) {
    // The newlines around a span are the model's layout, not content to show.
    while (!piece.empty() && piece.front() == '\n') piece.remove_prefix(1);
    while (!piece.empty() && piece.back() == '\n') piece.remove_suffix(1);
    if (piece.empty()) return;
    std::string safe = printable(piece, false);
    size_t start = 0;  // indent every line of a span, colour each line on its own
    while (start <= safe.size()) {
      const size_t end = std::min(safe.find('\n', start), safe.size());
      fmt::print("  {}\n", paint(safe.substr(start, end - start), style));
      start = end + 1;
    }
  };
  size_t i = 0, from = 0;
  while ((i = text.find("<|", i)) != std::string_view::npos) {
    const std::string_view rest = text.substr(i);
    const auto* open = std::find_if(kOpen.begin(), kOpen.end(),
                                    [&](const Marker& m) { return rest.starts_with(m.token); });
    const auto* close = std::find_if(kClose.begin(), kClose.end(),
                                     [&](std::string_view m) { return rest.starts_with(m); });
    if (open == kOpen.end() && close == kClose.end()) {
      i += 2;
      continue;
    }
    emit(text.substr(from, i - from));
    if (open != kOpen.end()) {
      fmt::print("{}\n", paint(fmt::format("[{}]", open->label), kBold));
      style = open->style;
      i += open->token.size();
    } else {
      style = {};
      i += close->size();
    }
    from = i;
  }
  emit(text.substr(from));
}

void add_show(CLI::App& inspect, std::shared_ptr<std::string> db) {
  auto* cmd = inspect.add_subcommand("show", "one rollout whole: prompt, completion, tool calls");
  auto id = std::make_shared<int64_t>(0);
  auto output = std::make_shared<OutputArgs>();
  cmd->add_option("id", *id, "rollout id (from list)")->required();
  output->add_to(cmd);
  cmd->callback([=] {
    const Painter paint = output->painter();
    const StoredRollout stored = StoreReader::open(*db).get(*id);
    if (output->json) {
      fmt::print("{}\n", dump(rollout_json(stored, true)));
      return;
    }
    const RolloutRecord& r = stored.record;
    auto heading = [&](std::string_view title) {
      fmt::print("{}\n", paint(fmt::format("── {} ──", title), kBold));
    };
    fmt::print("{}\n",
               paint(fmt::format("rollout {} · run {} · step {} · {}{} · {} · {}", stored.id,
                                 printable(stored.run, true), r.step, r.split,
                                 r.benchmark.empty() ? "" : " " + printable(r.benchmark, true),
                                 printable(r.family, true), printable(r.task_id, true)),
                     kBold));
    std::string rewards;
    for (const auto& [name, value] : r.rewards) {
      rewards +=
          fmt::format("{}{} {:.3f}", rewards.empty() ? "" : ", ", printable(name, true), value);
    }
    fmt::print("reward {:.3f}{} · advantage {:.3f} · {}\n", r.reward,
               rewards.empty() ? "" : " (" + rewards + ")", r.advantage,
               r.correct ? paint("correct", kGreen) : paint("wrong", kRed));
    fmt::print("answer {} · expected {}\n",
               r.extracted_answer ? printable(*r.extracted_answer, true) : "(none)",
               printable(r.expected_answer, true));
    fmt::print(
        "finish {} · {} prompt + {} completion tokens ({} thinking) · {} tool calls · {:.2f} s\n",
        printable(r.finish_reason, true), r.prompt_tokens, r.completion_tokens, r.thinking_tokens,
        r.tool_calls.size(), r.seconds);
    heading("prompt");
    fmt::print("{}\n", printable(r.prompt, false));
    heading("completion");
    print_completion(r.completion, paint);
    if (!r.tool_calls.empty()) heading("tool calls");
    for (size_t i = 0; i < r.tool_calls.size(); ++i) {
      const ToolCallRecord& c = r.tool_calls[i];
      fmt::print("#{} {} · {} · {:.1f} ms\n", i, printable(c.tool, true),
                 paint(printable(c.status, true), c.status == "ok" ? kGreen : kRed), c.latency_ms);
      fmt::print("  {} {}\n  {} {}\n", paint("input: ", kCyan), printable(c.input, true),
                 paint("output:", kYellow), printable(c.output, true));
    }
  });
}

std::string sql_cell(const SqlValue& value) {
  if (std::holds_alternative<std::monostate>(value)) return "NULL";
  if (const auto* i = std::get_if<int64_t>(&value)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&value)) return fmt::format("{}", *d);
  if (const auto* t = std::get_if<std::string>(&value)) return printable(*t, true);
  return fmt::format("<blob {} bytes>", std::get<SqlBlob>(value).bytes.size());
}

json sql_json(const SqlValue& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) return *i;
  if (const auto* d = std::get_if<double>(&value)) return *d;
  if (const auto* t = std::get_if<std::string>(&value)) return *t;
  if (const auto* b = std::get_if<SqlBlob>(&value)) {
    std::string hex;
    for (unsigned char c : b->bytes) hex += fmt::format("{:02x}", c);
    return {{"blob_hex", hex}};
  }
  return nullptr;
}

void add_sql(CLI::App& inspect, std::shared_ptr<std::string> db) {
  auto* cmd = inspect.add_subcommand("sql", "run one read-only SQL statement (writes are refused)");
  auto statement = std::make_shared<std::string>();
  auto output = std::make_shared<OutputArgs>();
  cmd->add_option("statement", *statement, "e.g. \"SELECT step, avg(reward) FROM rollouts ...\"")
      ->required();
  output->add_to(cmd);
  cmd->callback([=] {
    const Painter paint = output->painter();
    const StoreReader reader = StoreReader::open(*db);
    json rows = json::array();
    std::vector<std::string> names;
    reader.query(
        *statement,
        [&](const std::vector<std::string>& columns) {
          names = columns;
          if (output->json) return;
          std::vector<std::string> safe;
          for (const std::string& name : names) safe.push_back(printable(name, true));
          fmt::print("{}\n", paint(fmt::format("{}", fmt::join(safe, " | ")), kBold));
        },
        [&](const std::vector<SqlValue>& row) {
          if (output->json) {
            json values = json::array();
            for (const SqlValue& v : row) values.push_back(sql_json(v));
            rows.push_back(std::move(values));
            return;
          }
          std::vector<std::string> cells;
          for (const SqlValue& v : row) cells.push_back(sql_cell(v));
          fmt::print("{}\n", fmt::join(cells, " | "));
        });
    if (output->json) fmt::print("{}\n", dump({{"columns", names}, {"rows", rows}}));
  });
}

void add_export(CLI::App& inspect, std::shared_ptr<std::string> db) {
  auto* cmd = inspect.add_subcommand("export", "print rollouts as JSON lines, one per rollout");
  auto filter = std::make_shared<FilterArgs>();
  auto tokens = std::make_shared<bool>(false);
  auto jsonl = std::make_shared<bool>(false);
  cmd->add_flag("--jsonl", *jsonl, "JSON lines (the one format; the flag says so in scripts)");
  cmd->add_flag("--tokens", *tokens, "include token_ids and logprobs");
  filter->add_to(cmd, 0);
  cmd->callback([=] {
    StoreReader::open(*db).for_each(filter->filter(), [&](const StoredRollout& stored) {
      fmt::print("{}\n", dump(rollout_json(stored, *tokens)));
    });
  });
}

}  // namespace

void add_inspect_commands(CLI::App& app) {
  auto* inspect = app.add_subcommand(
      "inspect", "read a rollout database (also while its run writes it): summary, list, ...");
  auto db = std::make_shared<std::string>();
  inspect->add_option("db", *db, "the rollout database (runs/out/NAME/rollouts.db)")->required();
  inspect->require_subcommand(1);
  add_summary(*inspect, db);
  add_list(*inspect, db);
  add_show(*inspect, db);
  add_sql(*inspect, db);
  add_export(*inspect, db);
}

}  // namespace ponder
