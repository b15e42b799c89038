#include "app/eval.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>

#include <fmt/format.h>

#include "app/progress.h"
#include "app/records.h"
#include "curricula/random.h"
#include "policy/chat.h"
#include "policy/error.h"

namespace ponder {
namespace {

// The samples of a prompt that leaves the model no room to answer.
Rollout unanswerable(size_t prompt, int sample, size_t prompt_tokens) {
  Rollout r;
  r.prompt = static_cast<int>(prompt);
  r.sample = sample;
  r.prompt_tokens = static_cast<int>(prompt_tokens);
  r.finish_reason = "length";
  return r;
}

// Every rollout of one benchmark, problem-major.
std::vector<Rollout> generate_benchmark(Engine& engine, const Tokenizer& tokenizer,
                                        const Benchmark& benchmark, const EvalOptions& options) {
  const auto samples = static_cast<size_t>(options.samples);
  const size_t per_call = std::max<size_t>(1, options.generation.batch_rows / samples);
  std::vector<Rollout> rollouts(benchmark.tasks.size() * samples);
  std::optional<Progress> progress;
  if (options.progress) progress.emplace("eval " + benchmark.name, rollouts.size(), "rollouts");
  size_t too_long = 0;
  for (size_t first = 0; first < benchmark.tasks.size(); first += per_call) {
    const size_t end = std::min(first + per_call, benchmark.tasks.size());
    std::vector<size_t> fits;
    std::vector<std::vector<TokenId>> prompts;
    for (size_t p = first; p < end; ++p) {
      std::vector<TokenId> prompt = render_prompt(tokenizer, user_turn(benchmark.tasks[p].prompt));
      if (static_cast<int>(prompt.size()) >= engine.max_positions()) {
        ++too_long;
        for (int s = 0; s < options.samples; ++s) {
          rollouts[p * samples + s] = unanswerable(p, s, prompt.size());
        }
        continue;
      }
      fits.push_back(p);
      prompts.push_back(std::move(prompt));
    }
    if (!prompts.empty()) {
      GenerationOptions generation = options.generation;
      generation.seed = Rng({options.generation.seed, fnv1a64(benchmark.name), first}).next();
      std::vector<Rollout> out = engine.generate(prompts, options.samples, generation);
      for (size_t i = 0; i < fits.size(); ++i) {
        for (size_t s = 0; s < samples; ++s) {
          rollouts[fits[i] * samples + s] = std::move(out[i * samples + s]);
          rollouts[fits[i] * samples + s].prompt = static_cast<int>(fits[i]);
        }
      }
    }
    if (progress) progress->advance((end - first) * samples);
  }
  if (progress) progress->finish();
  if (too_long > 0) {
    fmt::print(
        "eval {}: {} of {} prompts fill the model's {} positions; counted as format errors\n",
        benchmark.name, too_long, benchmark.tasks.size(), engine.max_positions());
  }
  return rollouts;
}

nlohmann::json to_json(const EvalMetrics& m) {
  return {{"problems", m.problems},
          {"samples", m.samples},
          {"pass@1", m.pass_at_1},
          {"pass@k", m.pass_at_k},
          {"maj@k", m.maj_at_k},
          {"ci95", {m.ci95.low, m.ci95.high}},
          {"response_tokens", m.response_tokens},
          {"thinking_tokens", m.thinking_tokens},
          {"tool_calls", m.tool_calls},
          {"format_error_rate", m.format_error_rate}};
}

EvalMetrics metrics_from_json(const nlohmann::json& j) {
  EvalMetrics m;
  m.problems = j.at("problems").get<int>();
  m.samples = j.at("samples").get<int>();
  m.pass_at_1 = j.at("pass@1").get<double>();
  m.pass_at_k = j.at("pass@k").get<double>();
  m.maj_at_k = j.at("maj@k").get<double>();
  m.ci95 = {j.at("ci95").at(0).get<double>(), j.at("ci95").at(1).get<double>()};
  m.response_tokens = j.at("response_tokens").get<double>();
  m.thinking_tokens = j.at("thinking_tokens").get<double>();
  m.tool_calls = j.at("tool_calls").get<double>();
  m.format_error_rate = j.at("format_error_rate").get<double>();
  return m;
}

std::string settings_line(const EvalReport& r) {
  const GenerationOptions& g = r.options.generation;
  return fmt::format(
      "{} (step {}): {} sample{} a problem, temperature {}, top-p {}, {} new tokens, tools {}, "
      "seed {}{}",
      r.checkpoint.string(), r.checkpoint_step, r.options.samples,
      r.options.samples == 1 ? "" : "s", g.sampler.temperature, g.sampler.top_p, g.max_new_tokens,
      g.tools ? "on" : "off", g.seed,
      r.limit > 0 ? fmt::format(", first {} problems", r.limit) : "");
}

}  // namespace

EvalResults run_eval(Engine& engine, const Tokenizer& tokenizer,
                     const std::vector<Benchmark>& benchmarks, const EvalOptions& options,
                     int64_t step) {
  if (options.samples < 1) {
    throw Error(
        fmt::format("eval samples per problem must be at least 1, got {}", options.samples));
  }
  const auto start = std::chrono::steady_clock::now();
  const auto samples = static_cast<size_t>(options.samples);
  EvalResults results;
  for (const Benchmark& benchmark : benchmarks) {
    const std::vector<Rollout> rollouts = generate_benchmark(engine, tokenizer, benchmark, options);
    std::vector<std::vector<SampleOutcome>> all;
    std::map<int, std::vector<std::vector<SampleOutcome>>> by_difficulty;
    for (size_t p = 0; p < benchmark.tasks.size(); ++p) {
      const Task& task = benchmark.tasks[p];
      std::vector<SampleOutcome> outcomes;
      for (size_t s = 0; s < samples; ++s) {
        RolloutRecord record =
            rollout_record(task, rollouts[p * samples + s], step, "eval", benchmark.name);
        SampleOutcome o;
        if (record.extracted_answer && record.finish_reason == "end") {
          o.answer_key = vote_key(task, *record.extracted_answer);
        }
        o.correct = record.correct;
        o.response_tokens = record.completion_tokens;
        o.thinking_tokens = record.thinking_tokens;
        o.tool_calls = static_cast<int>(record.tool_calls.size());
        outcomes.push_back(std::move(o));
        results.records.push_back(std::move(record));
      }
      by_difficulty[task.difficulty].push_back(outcomes);
      all.push_back(std::move(outcomes));
    }
    BenchmarkResult result{benchmark.name, summarize(all), {}};
    for (const auto& [difficulty, problems] : by_difficulty) {
      result.by_difficulty.emplace_back(difficulty, summarize(problems));
    }
    results.benchmarks.push_back(std::move(result));
  }
  results.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return results;
}

void add_eval_metrics(const EvalResults& results, std::map<std::string, double>& values) {
  for (const BenchmarkResult& b : results.benchmarks) {
    values["eval/" + b.name + "/pass@1"] = b.all.pass_at_1;
    values["eval/" + b.name + "/pass@k"] = b.all.pass_at_k;
    values["eval/" + b.name + "/maj@k"] = b.all.maj_at_k;
    values["eval/" + b.name + "/format_error_rate"] = b.all.format_error_rate;
  }
}

nlohmann::json to_json(const EvalReport& r) {
  const GenerationOptions& g = r.options.generation;
  nlohmann::json benchmarks = nlohmann::json::array();
  for (const BenchmarkResult& b : r.benchmarks) {
    nlohmann::json levels = nlohmann::json::array();
    for (const auto& [difficulty, m] : b.by_difficulty) {
      nlohmann::json level = to_json(m);
      level["difficulty"] = difficulty;
      levels.push_back(std::move(level));
    }
    benchmarks.push_back({{"name", b.name}, {"all", to_json(b.all)}, {"by_difficulty", levels}});
  }
  return {{"checkpoint", r.checkpoint.string()},
          {"checkpoint_step", r.checkpoint_step},
          {"settings",
           {{"samples", r.options.samples},
            {"temperature", g.sampler.temperature},
            {"top_k", g.sampler.top_k},
            {"top_p", g.sampler.top_p},
            {"max_new_tokens", g.max_new_tokens},
            {"max_tool_calls", g.max_tool_calls},
            {"tools", g.tools},
            {"seed", g.seed},
            {"limit", r.limit}}},
          {"database", r.database.string()},
          {"run", r.run},
          {"step", r.step},
          {"seconds", r.seconds},
          {"benchmarks", benchmarks}};
}

EvalReport read_eval_report(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in || std::filesystem::is_directory(file)) {
    throw Error(fmt::format("eval results file `{}` not found or unreadable", file.string()));
  }
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    EvalReport r;
    r.checkpoint = j.at("checkpoint").get<std::string>();
    r.checkpoint_step = j.at("checkpoint_step").get<int64_t>();
    const nlohmann::json& s = j.at("settings");
    r.options.samples = s.at("samples").get<int>();
    GenerationOptions& g = r.options.generation;
    g.sampler.temperature = s.at("temperature").get<double>();
    g.sampler.top_k = s.at("top_k").get<int>();
    g.sampler.top_p = s.at("top_p").get<double>();
    g.max_new_tokens = s.at("max_new_tokens").get<int>();
    g.max_tool_calls = s.at("max_tool_calls").get<int>();
    g.tools = s.at("tools").get<bool>();
    g.seed = s.at("seed").get<uint64_t>();
    r.limit = s.at("limit").get<size_t>();
    r.database = j.at("database").get<std::string>();
    r.run = j.at("run").get<std::string>();
    r.step = j.at("step").get<int64_t>();
    r.seconds = j.at("seconds").get<double>();
    for (const nlohmann::json& b : j.at("benchmarks")) {
      BenchmarkResult result{b.at("name").get<std::string>(), metrics_from_json(b.at("all")), {}};
      for (const nlohmann::json& level : b.at("by_difficulty")) {
        result.by_difficulty.emplace_back(level.at("difficulty").get<int>(),
                                          metrics_from_json(level));
      }
      r.benchmarks.push_back(std::move(result));
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("`{}` is not a ponder eval results file: {}", file.string(), e.what()));
  }
}

std::string format_eval_table(const std::vector<BenchmarkResult>& benchmarks) {
  const int k = benchmarks.empty() ? 1 : benchmarks.front().all.samples;
  const bool several = k > 1;
  std::string out =
      fmt::format("{:<12} {:>5} {:>6} {:>7} {:>15}", "benchmark", "level", "n", "pass@1", "95% CI");
  if (several) {
    out += fmt::format(" {:>7} {:>7}", fmt::format("pass@{}", k), fmt::format("maj@{}", k));
  }
  out += fmt::format(" {:>7} {:>7} {:>6} {:>8}\n", "tokens", "think", "tools", "fmt err");
  auto row = [&](const std::string& name, const std::string& level, const EvalMetrics& m) {
    out += fmt::format("{:<12} {:>5} {:>6} {:>7.3f} {:>15}", name, level, m.problems, m.pass_at_1,
                       fmt::format("[{:.3f}, {:.3f}]", m.ci95.low, m.ci95.high));
    if (several) out += fmt::format(" {:>7.3f} {:>7.3f}", m.pass_at_k, m.maj_at_k);
    out += fmt::format(" {:>7.1f} {:>7.1f} {:>6.2f} {:>8.3f}\n", m.response_tokens,
                       m.thinking_tokens, m.tool_calls, m.format_error_rate);
  };
  for (const BenchmarkResult& b : benchmarks) {
    row(b.name, "all", b.all);
    if (b.by_difficulty.size() > 1) {
      for (const auto& [difficulty, m] : b.by_difficulty) row("", std::to_string(difficulty), m);
    }
  }
  return out;
}

std::string format_comparison(const EvalReport& a, const EvalReport& b) {
  std::string out = fmt::format("A: {}\nB: {}\n", settings_line(a), settings_line(b));
  out += fmt::format("{:<12} {:>5} {:>6} {:>8} {:>6} {:>8} {:>8} {:>7}  {}\n", "benchmark", "level",
                     "n A", "pass@1 A", "n B", "pass@1 B", "B - A", "p", "beyond noise (95%)");
  auto row = [&](const std::string& name, const std::string& level, const EvalMetrics& ma,
                 const EvalMetrics& mb) {
    const ProportionTest t =
        two_proportion_test(ma.pass_at_1, ma.problems, mb.pass_at_1, mb.problems);
    out += fmt::format("{:<12} {:>5} {:>6} {:>8.3f} {:>6} {:>8.3f} {:>+8.3f} {:>7.4f}  {}\n", name,
                       level, ma.problems, ma.pass_at_1, mb.problems, mb.pass_at_1, t.difference,
                       t.p_value, t.beyond_noise ? "yes" : "no");
  };
  for (const BenchmarkResult& x : a.benchmarks) {
    const auto y = std::find_if(b.benchmarks.begin(), b.benchmarks.end(),
                                [&](const BenchmarkResult& r) { return r.name == x.name; });
    if (y == b.benchmarks.end()) {
      out += fmt::format("{:<12} only in A\n", x.name);
      continue;
    }
    row(x.name, "all", x.all, y->all);
    for (const auto& [difficulty, ma] : x.by_difficulty) {
      for (const auto& [other, mb] : y->by_difficulty) {
        if (other == difficulty && x.by_difficulty.size() > 1) {
          row("", std::to_string(difficulty), ma, mb);
        }
      }
    }
  }
  for (const BenchmarkResult& y : b.benchmarks) {
    const bool in_a = std::any_of(a.benchmarks.begin(), a.benchmarks.end(),
                                  [&](const BenchmarkResult& r) { return r.name == y.name; });
    if (!in_a) out += fmt::format("{:<12} only in B\n", y.name);
  }
  out += "p: two-sided two-proportion z-test on pass@1 over problems; beyond noise when p < 0.05\n";
  return out;
}

}  // namespace ponder
