// The tools' speed: the sandboxed Python calculator's warm pool beside a
// fresh `python3 -c` per call (same interpreter, same machine, same
// expression), and BM25 query latency on a generated 100k-document corpus.
// Prints one line per figure and, last, one JSON line. Goals (issue 4): warm
// p50 <= 3 ms, >= 200 calls/s, >= 5x the fresh-process rate.
//
//   bench_tools [--calls N] [--fresh-calls N] [--threads T] [--workers W]
//               [--docs N] [--queries N] [--isolation full|none]
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "policy/error.h"
#include "tools/python_tool.h"
#include "tools/search.h"

extern char** environ;

namespace ponder {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kExpression = "2**10 + 3*7";

struct Latencies {
  double p50_ms = 0, p99_ms = 0, calls_per_s = 0;
};

// Runs `calls` calls of `call` over `threads` threads; latency percentiles
// of every call, and the overall rate.
Latencies measure(int calls, int threads, const std::function<void()>& call) {
  std::vector<double> ms(static_cast<std::size_t>(calls));
  std::atomic<int> next{0};
  const auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i; (i = next++) < calls;) {
        const auto t0 = Clock::now();
        call();
        ms[static_cast<std::size_t>(i)] =
            std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      }
    });
  }
  for (auto& thread : pool) thread.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 99 / 100)], calls / seconds};
}

// One fresh interpreter: `python3 -c 'print(EXPR)'`, output to /dev/null.
void fresh_python(const std::string& interpreter) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  const std::string code = fmt::format("print({})", kExpression);
  char* argv[] = {const_cast<char*>(interpreter.c_str()), const_cast<char*>("-c"),
                  const_cast<char*>(code.c_str()), nullptr};
  pid_t pid;
  if (posix_spawn(&pid, interpreter.c_str(), &actions, nullptr, argv, environ) != 0) {
    throw Error(fmt::format("cannot start {}", interpreter));
  }
  posix_spawn_file_actions_destroy(&actions);
  int status;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw Error("python3 -c failed");
}

// A corpus with a Zipf-like word distribution over a dictionary, so that
// common query words have long posting lists, as in real text.
std::filesystem::path write_corpus(int docs, std::mt19937& rng, std::vector<std::string>& words) {
  std::ifstream dict("/usr/share/dict/words");
  for (std::string w; std::getline(dict, w);) {
    if (!w.empty() &&
        std::all_of(w.begin(), w.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
      words.push_back(w);
    }
  }
  if (words.size() < 1000) throw Error("bench_tools: /usr/share/dict/words is missing (wamerican)");
  std::shuffle(words.begin(), words.end(), rng);
  const auto path = std::filesystem::temp_directory_path() /
                    fmt::format("ponder-bench-corpus-{}.jsonl", getpid());
  std::ofstream out(path);
  std::uniform_real_distribution<double> u(0, 1);
  const auto word = [&] {
    return words[static_cast<std::size_t>(std::pow(u(rng), 3.0) * (words.size() - 1))];
  };
  for (int d = 0; d < docs; ++d) {
    std::string title = word() + " " + word() + " " + word(), text;
    for (int i = 0; i < 60; ++i) text += word() + (i % 12 == 11 ? ". " : " ");
    out << nlohmann::json{{"id", d}, {"title", title}, {"text", text}}.dump() << '\n';
  }
  return path;
}

int run(int argc, char** argv) {
  int calls = 2000, fresh_calls = 200, threads = 2, docs = 100000, queries = 2000;
  PythonToolOptions options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int value = std::atoi(argv[i + 1]);
    if (flag == "--calls")
      calls = value;
    else if (flag == "--fresh-calls")
      fresh_calls = value;
    else if (flag == "--threads")
      threads = value;
    else if (flag == "--workers")
      options.workers = value;
    else if (flag == "--docs")
      docs = value;
    else if (flag == "--queries")
      queries = value;
    else if (flag == "--isolation")
      options.isolation = parse_isolation(argv[i + 1], "--isolation");
    else
      throw Error(fmt::format("bench_tools: unknown option `{}`", flag));
  }
  if (calls < 1 || fresh_calls < 1 || threads < 1 || docs < 1 || queries < 1) {
    throw Error("bench_tools: counts must be at least 1");
  }

  PythonTool tool(options);
  const auto warm_call = [&] {
    if (tool.run(kExpression).output != "1045\n") throw Error("bench_tools: wrong answer");
  };
  for (int i = 0; i < 50; ++i) warm_call();  // page in the workers
  const Latencies warm_one = measure(calls, 1, warm_call);
  const Latencies warm = measure(calls, threads, warm_call);
  const std::string interpreter = options.interpreter.string();
  const Latencies fresh_one = measure(fresh_calls, 1, [&] { fresh_python(interpreter); });
  const Latencies fresh = measure(fresh_calls, threads, [&] { fresh_python(interpreter); });
  fmt::print(
      "python, warm pool ({} isolation, {} workers), 1 thread: p50 {:.2f} ms, p99 {:.2f} ms, "
      "{:.0f} calls/s\n",
      isolation_name(options.isolation), options.workers, warm_one.p50_ms, warm_one.p99_ms,
      warm_one.calls_per_s);
  fmt::print("python, warm pool, {} threads: p50 {:.2f} ms, p99 {:.2f} ms, {:.0f} calls/s\n",
             threads, warm.p50_ms, warm.p99_ms, warm.calls_per_s);
  fmt::print(
      "python, fresh `python3 -c` per call, 1 thread: p50 {:.2f} ms, p99 {:.2f} ms, "
      "{:.0f} calls/s\n",
      fresh_one.p50_ms, fresh_one.p99_ms, fresh_one.calls_per_s);
  fmt::print(
      "python, fresh `python3 -c` per call, {} threads: {:.0f} calls/s; warm / fresh: "
      "{:.1f}x\n",
      threads, fresh.calls_per_s, warm.calls_per_s / fresh.calls_per_s);

  std::mt19937 rng(1234);
  std::vector<std::string> words;
  const std::filesystem::path corpus = write_corpus(docs, rng, words);
  const auto load_start = Clock::now();
  auto index = std::make_shared<const Bm25Index>(Bm25Index::load_jsonl(corpus));
  const double load_s = std::chrono::duration<double>(Clock::now() - load_start).count();
  std::filesystem::remove(corpus);
  SearchToolOptions search_options;
  search_options.corpus = corpus;
  SearchTool search(index, search_options);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<std::string> query_text;
  for (int q = 0; q < queries; ++q) {
    std::string text;
    for (int w = 0; w < 3; ++w) {
      text += words[static_cast<std::size_t>(std::pow(u(rng), 2.0) * (words.size() - 1))] + " ";
    }
    query_text.push_back(text);
  }
  std::atomic<int> next_query{0};
  const Latencies bm25 =
      measure(queries, 1, [&] { search.run(query_text[static_cast<std::size_t>(next_query++)]); });
  fmt::print(
      "search, BM25 over {} documents (loaded in {:.2f} s): p50 {:.3f} ms, p99 {:.3f} ms "
      "per 3-word query, top 3\n",
      docs, load_s, bm25.p50_ms, bm25.p99_ms);

  const nlohmann::json figures = {{"isolation", isolation_name(options.isolation)},
                                  {"workers", options.workers},
                                  {"threads", threads},
                                  {"warm_p50_ms", warm_one.p50_ms},
                                  {"warm_p99_ms", warm_one.p99_ms},
                                  {"warm_calls_per_s_1_thread", warm_one.calls_per_s},
                                  {"warm_calls_per_s", warm.calls_per_s},
                                  {"warm_p50_ms_threads", warm.p50_ms},
                                  {"fresh_p50_ms", fresh_one.p50_ms},
                                  {"fresh_p99_ms", fresh_one.p99_ms},
                                  {"fresh_calls_per_s", fresh.calls_per_s},
                                  {"warm_over_fresh", warm.calls_per_s / fresh.calls_per_s},
                                  {"bm25_docs", docs},
                                  {"bm25_load_s", load_s},
                                  {"bm25_p50_ms", bm25.p50_ms},
                                  {"bm25_p99_ms", bm25.p99_ms}};
  fmt::print("{}\n", figures.dump());
  return 0;
}

}  // namespace
}  // namespace ponder

int main(int argc, char** argv) {
  try {
    return ponder::run(argc, argv);
  } catch (const ponder::Error& e) {
    fmt::print(stderr, "bench_tools: {}\n", e.what());
    return 1;
  }
}
