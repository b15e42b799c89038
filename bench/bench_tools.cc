// The tools' speed: the sandboxed Python calculator's warm pool beside a
// fresh `python3 -c` per call (same interpreter, same machine, same
// expression), and BM25 query latency on a generated 100k-document corpus.
// Prints one line per figure and, last, one JSON line. Goals (issue 4): warm
// p50 <= 3 ms, >= 200 calls/s, >= 5x the fresh-process rate.
//
// Warm and fresh calls run in alternating rounds, so that a machine shared
// with other work loads both alike; the CPU time a call costs (every process
// involved) is reported too, a figure that such load barely moves.
//
//   bench_tools [--calls N] [--fresh-calls N] [--rounds R] [--threads T]
//               [--workers W] [--docs N] [--queries N] [--isolation full|none]
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <sstream>
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

// Calls of one kind, accumulated over rounds.
class Sample {
 public:
  std::vector<double> ms;  // latency of each call
  double seconds = 0;      // wall time of the rounds
  double cpu_seconds = 0;  // CPU time of every process involved

  double percentile(double q) {
    std::sort(ms.begin(), ms.end());
    return ms[std::min(ms.size() - 1, static_cast<std::size_t>(q * ms.size()))];
  }
  double calls_per_s() const { return ms.size() / seconds; }
  double cpu_ms_per_call() const { return cpu_seconds * 1e3 / ms.size(); }
};

double seconds_of(const timeval& t) {
  return t.tv_sec + t.tv_usec / 1e6;
}

// CPU seconds of this process, of its reaped children (the fresh
// interpreters) and of its live children with theirs (the pool's workers,
// each with every call it has run).
double cpu_seconds() {
  rusage self, children;
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  double total = seconds_of(self.ru_utime) + seconds_of(self.ru_stime) +
                 seconds_of(children.ru_utime) + seconds_of(children.ru_stime);
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream list(task.path() / "children");
    for (pid_t pid; list >> pid;) {
      std::ifstream stat(fmt::format("/proc/{}/stat", pid));
      std::string line;
      std::getline(stat, line);
      if (line.rfind(')') == std::string::npos) continue;  // already gone
      std::istringstream after_name(line.substr(line.rfind(')') + 2));
      const std::vector<std::string> f{std::istream_iterator<std::string>(after_name), {}};
      if (f.size() < 15) continue;
      for (int i : {11, 12, 13, 14}) {  // utime, stime, cutime, cstime
        total += std::stod(f[static_cast<std::size_t>(i)]) / sysconf(_SC_CLK_TCK);
      }
    }
  }
  return total;
}

// Runs `calls` calls of `call` over `threads` threads into `sample`.
void measure(Sample& sample, int calls, int threads, const std::function<void()>& call) {
  const std::size_t first = sample.ms.size();
  sample.ms.resize(first + static_cast<std::size_t>(calls));
  std::atomic<int> next{0};
  const double cpu_start = cpu_seconds();
  const auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i; (i = next++) < calls;) {
        const auto t0 = Clock::now();
        call();
        sample.ms[first + static_cast<std::size_t>(i)] =
            std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      }
    });
  }
  for (auto& thread : pool) thread.join();
  sample.seconds += std::chrono::duration<double>(Clock::now() - start).count();
  sample.cpu_seconds += cpu_seconds() - cpu_start;
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
  const int spawned = posix_spawn(&pid, interpreter.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) throw Error(fmt::format("bench_tools: cannot start {}", interpreter));
  int status;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw Error("bench_tools: python3 -c failed");
}

// Words from the system dictionary, shuffled.
std::vector<std::string> dictionary(std::mt19937& rng) {
  std::vector<std::string> words;
  std::ifstream dict("/usr/share/dict/words");
  for (std::string w; std::getline(dict, w);) {
    if (!w.empty() &&
        std::all_of(w.begin(), w.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
      words.push_back(w);
    }
  }
  if (words.size() < 1000) throw Error("bench_tools: /usr/share/dict/words is missing (wamerican)");
  std::shuffle(words.begin(), words.end(), rng);
  return words;
}

// A word drawn with a Zipf-like skew (small u^power is common), so that
// common words have long posting lists, as in real text.
const std::string& skewed_word(const std::vector<std::string>& words, std::mt19937& rng,
                               double power) {
  const double u = std::uniform_real_distribution<double>(0, 1)(rng);
  return words[static_cast<std::size_t>(std::pow(u, power) * (words.size() - 1))];
}

std::filesystem::path write_corpus(int docs, const std::vector<std::string>& words,
                                   std::mt19937& rng) {
  const auto path = std::filesystem::temp_directory_path() /
                    fmt::format("ponder-bench-corpus-{}.jsonl", getpid());
  std::ofstream out(path);
  for (int d = 0; d < docs; ++d) {
    std::string title, text;
    for (int i = 0; i < 3; ++i) title += skewed_word(words, rng, 3.0) + " ";
    for (int i = 0; i < 60; ++i) text += skewed_word(words, rng, 3.0) + (i % 12 == 11 ? ". " : " ");
    out << nlohmann::json{{"id", d}, {"title", title}, {"text", text}}.dump() << '\n';
  }
  return path;
}

int run(int argc, char** argv) {
  int calls = 3000, fresh_calls = 300, rounds = 5, threads = 2, docs = 100000, queries = 2000;
  PythonToolOptions options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int value = std::atoi(argv[i + 1]);
    if (flag == "--calls") {
      calls = value;
    } else if (flag == "--fresh-calls") {
      fresh_calls = value;
    } else if (flag == "--rounds") {
      rounds = value;
    } else if (flag == "--threads") {
      threads = value;
    } else if (flag == "--workers") {
      options.workers = value;
    } else if (flag == "--docs") {
      docs = value;
    } else if (flag == "--queries") {
      queries = value;
    } else if (flag == "--isolation") {
      options.isolation = parse_isolation(argv[i + 1], "--isolation");
    } else {
      throw Error(fmt::format("bench_tools: unknown option `{}`", flag));
    }
  }
  if (rounds < 1 || calls < rounds || fresh_calls < rounds || threads < 1 || docs < 1 ||
      queries < 1) {
    throw Error("bench_tools: counts must be at least 1, and the call counts at least --rounds");
  }

  PythonTool tool(options);
  const auto warm_call = [&] {
    if (tool.run(kExpression).output != "1045\n") throw Error("bench_tools: wrong answer");
  };
  const std::string interpreter = options.interpreter.string();
  const auto fresh_call = [&] { fresh_python(interpreter); };
  for (int i = 0; i < 50; ++i) warm_call();  // page the workers in
  Sample warm_one, warm, fresh_one, fresh;
  for (int r = 0; r < rounds; ++r) {
    measure(warm_one, calls / rounds, 1, warm_call);
    measure(fresh_one, fresh_calls / rounds, 1, fresh_call);
    measure(warm, calls / rounds, threads, warm_call);
    measure(fresh, fresh_calls / rounds, threads, fresh_call);
  }
  const double rate_ratio = warm.calls_per_s() / fresh.calls_per_s();
  const double cpu_ratio = fresh_one.cpu_ms_per_call() / warm_one.cpu_ms_per_call();
  fmt::print(
      "python, warm pool ({} isolation, {} workers), 1 thread: p50 {:.2f} ms, p99 {:.2f} ms, "
      "{:.0f} calls/s, {:.2f} ms CPU per call\n",
      isolation_name(options.isolation), options.workers, warm_one.percentile(0.5),
      warm_one.percentile(0.99), warm_one.calls_per_s(), warm_one.cpu_ms_per_call());
  fmt::print("python, warm pool, {} threads: p50 {:.2f} ms, p99 {:.2f} ms, {:.0f} calls/s\n",
             threads, warm.percentile(0.5), warm.percentile(0.99), warm.calls_per_s());
  fmt::print(
      "python, fresh `python3 -c` per call, 1 thread: p50 {:.2f} ms, p99 {:.2f} ms, {:.0f} "
      "calls/s, {:.2f} ms CPU per call\n",
      fresh_one.percentile(0.5), fresh_one.percentile(0.99), fresh_one.calls_per_s(),
      fresh_one.cpu_ms_per_call());
  fmt::print("python, fresh `python3 -c` per call, {} threads: {:.0f} calls/s\n", threads,
             fresh.calls_per_s());
  fmt::print("warm / fresh: {:.1f}x the calls/s ({} threads); {:.1f}x less CPU per call\n",
             rate_ratio, threads, cpu_ratio);

  std::mt19937 rng(1234);
  const std::vector<std::string> words = dictionary(rng);
  const std::filesystem::path corpus = write_corpus(docs, words, rng);
  const auto load_start = Clock::now();
  auto index = std::make_shared<const Bm25Index>(Bm25Index::load_jsonl(corpus));
  const double load_s = std::chrono::duration<double>(Clock::now() - load_start).count();
  std::filesystem::remove(corpus);
  SearchTool search(index, SearchToolOptions{});
  std::vector<std::string> query_text;
  for (int q = 0; q < queries; ++q) {
    std::string text;
    for (int w = 0; w < 3; ++w) text += skewed_word(words, rng, 2.0) + " ";
    query_text.push_back(text);
  }
  std::atomic<int> next_query{0};
  Sample bm25;
  measure(bm25, queries, 1,
          [&] { search.run(query_text[static_cast<std::size_t>(next_query++)]); });
  fmt::print(
      "search, BM25 over {} documents (loaded in {:.2f} s): p50 {:.3f} ms, p99 {:.3f} ms per "
      "3-word query, top 3\n",
      docs, load_s, bm25.percentile(0.5), bm25.percentile(0.99));

  const nlohmann::json figures = {{"isolation", isolation_name(options.isolation)},
                                  {"workers", options.workers},
                                  {"threads", threads},
                                  {"warm_p50_ms", warm_one.percentile(0.5)},
                                  {"warm_p99_ms", warm_one.percentile(0.99)},
                                  {"warm_calls_per_s_1_thread", warm_one.calls_per_s()},
                                  {"warm_calls_per_s", warm.calls_per_s()},
                                  {"warm_cpu_ms_per_call", warm_one.cpu_ms_per_call()},
                                  {"fresh_p50_ms", fresh_one.percentile(0.5)},
                                  {"fresh_p99_ms", fresh_one.percentile(0.99)},
                                  {"fresh_calls_per_s", fresh.calls_per_s()},
                                  {"fresh_cpu_ms_per_call", fresh_one.cpu_ms_per_call()},
                                  {"warm_over_fresh_calls_per_s", rate_ratio},
                                  {"fresh_over_warm_cpu", cpu_ratio},
                                  {"bm25_docs", docs},
                                  {"bm25_load_s", load_s},
                                  {"bm25_p50_ms", bm25.percentile(0.5)},
                                  {"bm25_p99_ms", bm25.percentile(0.99)}};
  fmt::print("{}\n", figures.dump());
  return 0;
}

}  // namespace
}  // namespace ponder

int main(int argc, char** argv) {
  try {
    return ponder::run(argc, argv);
  } catch (const ponder::Error& e) {
    fmt::print(stderr, "{}\n", e.what());
    return 1;
  }
}
