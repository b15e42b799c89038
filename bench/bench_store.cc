// The rollout store's speed (issue 6): rollouts inserted per second with
// realistic rows, and what logging costs a training step. Goals: >= 20,000
// rollouts/s; logging adds < 2% to a step.
//
// Rows look like a GRPO run's: a word-problem prompt (200-400 bytes), a
// completion of 60-256 tokens (~3.5 bytes each) with thinking, a tool call on
// two rollouts in three and an answer, three reward functions, and — in the
// second pass — the completion's token ids and log-probs as BLOBs.
//
// What a step pays: the trainer builds the step's RolloutRecords (copies of
// the engine's text and tokens) and calls write_step, which queues them and
// returns; the writer thread does the SQLite work on another core. Both the
// producer's time and the writer's CPU time per step are reported as fractions
// of a reference step (--reference-step-s, default the CPU training step of
// bench/RESULTS.md on the dev box: 2.51 s for 2048 tokens; a GRPO step over
// --per-step rollouts trains on far more tokens, so this overstates the cost).
//
//   bench_store [--rollouts N] [--per-step R] [--reference-step-s S] [--dir DIR]
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "rollout/rollout_store.h"

namespace ponder {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double process_cpu_s() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double thread_cpu_s() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

constexpr const char* kWords[] = {
    "the",       "farmer", "sells",  "apples", "at",   "market", "each",  "basket",
    "holds",     "twelve", "how",    "many",   "does", "she",    "have",  "left",
    "after",     "giving", "away",   "three",  "of",   "them",   "to",    "her",
    "neighbour", "and",    "buying", "more",   "with", "money",  "earned"};

std::string words(std::mt19937& rng, size_t bytes) {
  std::string text;
  while (text.size() < bytes) {
    text += kWords[rng() % std::size(kWords)];
    text += rng() % 9 ? " " : ". ";
  }
  return text;
}

RolloutRecord realistic_rollout(std::mt19937& rng, int64_t step, int index, bool tokens) {
  RolloutRecord r;
  r.step = step;
  r.family = index % 3 ? "gsm8k" : "arith";
  r.task_id = fmt::format("{}/train/{}", r.family, rng() % 7000);
  r.prompt = words(rng, 200 + rng() % 200);
  const int completion_tokens = 60 + static_cast<int>(rng() % 197);
  const size_t bytes = static_cast<size_t>(completion_tokens * 3.5);
  const std::string answer = std::to_string(rng() % 1000);
  r.completion = "<|think|>" + words(rng, bytes * 6 / 10) + "<|/think|>";
  if (index % 3 != 2) {
    const std::string input = fmt::format("({} * {}) + {}", rng() % 100, rng() % 100, rng() % 50);
    r.completion += "<|tool_call|>python\n" + input + "<|/tool_call|><|tool_result|>" + answer +
                    "<|/tool_result|>";
    r.tool_calls.push_back(
        {"python", input, answer, rng() % 10 ? "ok" : "error", 2.0 + (rng() % 1000) / 100.0});
  }
  r.completion += words(rng, bytes * 3 / 10) + "<|answer|>" + answer + "<|/answer|><|end|>";
  r.expected_answer = std::to_string(rng() % 1000);
  r.extracted_answer = answer;
  r.correct = rng() % 2;
  r.rewards = {{"correct", r.correct ? 1.0 : 0.0}, {"format", 1.0}, {"length", -0.01}};
  r.reward = r.rewards["correct"] + 0.1 * r.rewards["format"] + r.rewards["length"];
  r.advantage = (rng() % 2001) / 1000.0 - 1.0;
  r.prompt_tokens = static_cast<int>(r.prompt.size() / 4);
  r.completion_tokens = completion_tokens;
  r.thinking_tokens = completion_tokens * 6 / 10;
  r.finish_reason = rng() % 20 ? "end" : "length";
  r.seconds = 1.0 + (rng() % 1000) / 100.0;
  if (tokens) {
    for (int t = 0; t < completion_tokens; ++t) {
      r.token_ids.push_back(static_cast<int32_t>(rng() % 8192));
      r.logprobs.push_back(-static_cast<float>(rng() % 5000) / 1000.0f);
    }
  }
  return r;
}

struct Pass {
  double rollouts_per_s = 0;
  double writer_cpu_ms_per_step = 0;
  double enqueue_ms_p50 = 0;       // write_step alone, rows already built
  double copy_enqueue_ms_p50 = 0;  // building the rows (copies) and write_step
  double db_bytes_per_rollout = 0;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Pass run_pass(const std::filesystem::path& path, int64_t rollouts, int per_step, bool tokens) {
  std::mt19937 rng(42);
  // Eight distinct steps of rows, copied for each step written: the copy is
  // what a trainer pays to turn the engine's rollouts into records.
  std::vector<std::vector<RolloutRecord>> templates(8);
  for (size_t t = 0; t < templates.size(); ++t) {
    for (int i = 0; i < per_step; ++i) templates[t].push_back(realistic_rollout(rng, 0, i, tokens));
  }
  auto rows_for = [&](int64_t step) {
    std::vector<RolloutRecord> rows = templates[step % templates.size()];
    for (RolloutRecord& r : rows) r.step = step;
    return rows;
  };
  const StepMetrics metrics{{{"loss", 0.5}, {"kl", 0.01}, {"lr", 1e-5}, {"grad_norm", 1.2}}, 2.5};
  Pass pass;
  std::filesystem::remove(path);
  auto store_owner = std::make_unique<RolloutStore>(
      RolloutStore::open(path, "bench", "[run]\nname = \"bench\"\n"));
  RolloutStore& store = *store_owner;

  // Throughput: steps as fast as the writer takes them (the queue full).
  const int64_t steps = std::max<int64_t>(1, rollouts / per_step);
  const double cpu0 = process_cpu_s(), main_cpu0 = thread_cpu_s();
  const Clock::time_point start = Clock::now();
  for (int64_t step = 0; step < steps; ++step) store.write_step(step, rows_for(step), metrics);
  store.flush();
  const double seconds = since(start);
  const double writer_cpu = (process_cpu_s() - cpu0) - (thread_cpu_s() - main_cpu0);
  pass.rollouts_per_s = static_cast<double>(steps * per_step) / seconds;
  pass.writer_cpu_ms_per_step = writer_cpu * 1e3 / static_cast<double>(steps);

  // The producer's cost, one step at a time with the writer idle (as in a
  // run, where a step takes far longer than its write).
  std::vector<double> enqueue_ms, copy_enqueue_ms;
  for (int64_t step = steps; step < steps + 15; ++step) {
    const Clock::time_point copy_start = Clock::now();
    std::vector<RolloutRecord> rows = rows_for(step);
    const Clock::time_point enqueue_start = Clock::now();
    store.write_step(step, std::move(rows), metrics);
    enqueue_ms.push_back(since(enqueue_start) * 1e3);
    copy_enqueue_ms.push_back(since(copy_start) * 1e3);
    store.flush();
  }
  pass.enqueue_ms_p50 = median(enqueue_ms);
  pass.copy_enqueue_ms_p50 = median(copy_enqueue_ms);
  store_owner.reset();  // the last connection checkpoints the WAL into the file
  pass.db_bytes_per_rollout = static_cast<double>(std::filesystem::file_size(path)) /
                              static_cast<double>((steps + 15) * per_step);
  return pass;
}

int64_t arg_int(int argc, char** argv, const char* name, int64_t fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == name) return std::atoll(argv[i + 1]);
  }
  return fallback;
}

std::string arg_text(int argc, char** argv, const char* name, std::string fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == name) return argv[i + 1];
  }
  return fallback;
}

}  // namespace
}  // namespace ponder

int main(int argc, char** argv) {
  using namespace ponder;
  const int64_t rollouts = arg_int(argc, argv, "--rollouts", 100'000);
  const int per_step =
      static_cast<int>(std::max<int64_t>(1, arg_int(argc, argv, "--per-step", 512)));
  const double reference_s = std::atof(arg_text(argc, argv, "--reference-step-s", "2.51").c_str());
  const std::filesystem::path dir =
      arg_text(argc, argv, "--dir", std::filesystem::temp_directory_path().string());
  const std::filesystem::path path = dir / fmt::format("ponder-bench-store-{}.db", getpid());

  fmt::print("rollout store: {} rollouts in steps of {}, file {}\n", rollouts, per_step,
             path.string());
  const Pass text = run_pass(path, rollouts, per_step, false);
  const Pass tokens = run_pass(path, rollouts, per_step, true);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(path.string() + suffix);
  }
  for (const auto& [name, p] :
       {std::pair{"text only        ", text}, std::pair{"with token BLOBs ", tokens}}) {
    fmt::print(
        "{}: {:>8.0f} rollouts/s (goal 20000) | writer CPU {:.1f} ms/step | producer "
        "{:.3f} ms/step enqueue, {:.2f} ms with copying the rows | {:.0f} bytes/rollout\n",
        name, p.rollouts_per_s, p.writer_cpu_ms_per_step, p.enqueue_ms_p50, p.copy_enqueue_ms_p50,
        p.db_bytes_per_rollout);
  }
  const double producer_fraction = tokens.copy_enqueue_ms_p50 / 1e3 / reference_s;
  const double writer_fraction = tokens.writer_cpu_ms_per_step / 1e3 / reference_s;
  fmt::print(
      "per step of {} rollouts vs a {:.2f} s reference step (with token BLOBs): producer "
      "{:.3f}% (goal < 2%), writer thread's CPU {:.2f}%\n",
      per_step, reference_s, 100 * producer_fraction, 100 * writer_fraction);
  fmt::print(
      "{{\"per_step\": {}, \"rollouts_per_s_text\": {:.0f}, \"rollouts_per_s_tokens\": {:.0f}, "
      "\"enqueue_ms\": {:.4f}, \"copy_enqueue_ms\": {:.3f}, \"writer_cpu_ms_per_step\": {:.2f}, "
      "\"reference_step_s\": {:.2f}, \"producer_fraction\": {:.5f}, \"writer_fraction\": {:.4f}, "
      "\"bytes_per_rollout_tokens\": {:.0f}}}\n",
      per_step, text.rollouts_per_s, tokens.rollouts_per_s, tokens.enqueue_ms_p50,
      tokens.copy_enqueue_ms_p50, tokens.writer_cpu_ms_per_step, reference_s, producer_fraction,
      writer_fraction, tokens.db_bytes_per_rollout);
  return 0;
}
