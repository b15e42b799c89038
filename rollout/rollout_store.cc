#include "rollout/rollout_store.h"

#include <fmt/format.h>
#include <bit>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <thread>

#include "rollout/sqlite.h"
#include "rollout/store_schema.h"
#include "rollout/text.h"

namespace ponder {
namespace {

// Token ids and log-probs go into BLOBs as the host's bytes; the format says
// little-endian.
static_assert(std::endian::native == std::endian::little, "BLOB columns are little-endian");

// A name -> number map as a JSON object; NaN and Inf become null (JSON has
// neither), and names that are not UTF-8 get U+FFFD.
std::string json_object(const std::map<std::string, double>& values) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [name, value] : values) object[name] = value;
  return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool known_finish_reason(const std::string& reason) {
  return reason == "end" || reason == "length" || reason == "tool_budget" || reason == "error";
}

void check_record(int64_t step, const RolloutRecord& r) {
  if (r.step != step) {
    throw std::invalid_argument(fmt::format(
        "RolloutStore::write_step({}): a rollout of step {} (task {})", step, r.step, r.task_id));
  }
  if (r.split == "train" ? !r.benchmark.empty() : r.split != "eval" || r.benchmark.empty()) {
    throw std::invalid_argument(
        fmt::format("RolloutStore::write_step: split `{}` with benchmark `{}` (task {}); expected "
                    "train without a benchmark or eval with one",
                    r.split, r.benchmark, r.task_id));
  }
  if (!known_finish_reason(r.finish_reason)) {
    throw std::invalid_argument(
        fmt::format("RolloutStore::write_step: finish_reason `{}` (task {}); expected end, length, "
                    "tool_budget or error",
                    r.finish_reason, r.task_id));
  }
}

// Binds a double, NULL for NaN (what SQLite would store anyway, said outright).
void bind_real(sqlite::Statement& s, int index, double value) {
  if (std::isnan(value)) {
    s.bind_null(index);
  } else {
    s.bind(index, value);
  }
}

// Runs a statement that returns no rows and readies it for the next use.
void run(sqlite::Statement& s) {
  s.step();
  s.reset();
}

struct QueuedStep {
  int64_t step = 0;
  double logged_at = 0;
  std::vector<RolloutRecord> rollouts;
  StepMetrics metrics;
};

}  // namespace

struct RolloutStore::Impl {
  sqlite::Database db;
  int64_t run_id = 0;
  size_t capacity = 0;

  // Owned by the writer thread once it starts.
  sqlite::Statement begin, commit, rollback;
  sqlite::Statement delete_rollouts, delete_step, delete_evals;
  sqlite::Statement insert_step, insert_rollout, insert_tool_call, insert_eval;

  std::mutex mutex;
  std::condition_variable changed;  // any field below changed
  std::deque<QueuedStep> queue;
  bool writing = false;   // the writer holds a step taken from the queue
  bool stopping = false;  // the destructor wants the thread to end once drained
  std::optional<std::string> error;
  bool error_thrown = false;
  std::thread thread;

  explicit Impl(sqlite::Database database) : db(std::move(database)) {}
  // Here rather than in ~RolloutStore, so that move-assigning a store drains
  // the one it replaces too.
  ~Impl();

  void prepare_statements();
  void writer_loop();
  void write(const QueuedStep& step);
  void write_rollout(const RolloutRecord& r);
  void write_evals(const QueuedStep& step);
  [[noreturn]] void throw_error();  // with the mutex held
};

void RolloutStore::Impl::prepare_statements() {
  constexpr bool kPersistent = true;
  begin = db.prepare("BEGIN IMMEDIATE", kPersistent);
  commit = db.prepare("COMMIT", kPersistent);
  rollback = db.prepare("ROLLBACK", kPersistent);
  // Tool calls go with their rollouts (ON DELETE CASCADE).
  delete_rollouts = db.prepare("DELETE FROM rollouts WHERE run_id = ?1 AND step = ?2", kPersistent);
  delete_step = db.prepare("DELETE FROM steps WHERE run_id = ?1 AND step = ?2", kPersistent);
  delete_evals = db.prepare("DELETE FROM evals WHERE run_id = ?1 AND step = ?2", kPersistent);
  insert_step = db.prepare(
      "INSERT INTO steps (run_id, step, logged_at, seconds, rollouts, metrics) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
      kPersistent);
  insert_rollout = db.prepare(
      "INSERT INTO rollouts (run_id, step, split, benchmark, family, task_id, prompt, "
      "completion, expected_answer, extracted_answer, correct, reward, rewards, advantage, "
      "prompt_tokens, completion_tokens, thinking_tokens, num_tool_calls, finish_reason, "
      "seconds, token_ids, logprobs) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
      "?18, ?19, ?20, ?21, ?22)",
      kPersistent);
  insert_tool_call = db.prepare(
      "INSERT INTO tool_calls (rollout_id, call_index, tool, input, output, status, latency_ms) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
      kPersistent);
  insert_eval = db.prepare(
      "INSERT INTO evals (run_id, step, benchmark, n, accuracy, mean_reward, "
      "mean_completion_tokens) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
      kPersistent);
}

void RolloutStore::Impl::write_rollout(const RolloutRecord& r) {
  // Each text needs its own scratch: all stay bound until the insert runs.
  std::string scratch[7];
  sqlite::Statement& s = insert_rollout;
  s.bind(1, run_id);
  s.bind(2, r.step);
  s.bind_text(3, r.split);
  if (r.benchmark.empty()) {
    s.bind_null(4);
  } else {
    s.bind_text(4, valid_utf8(r.benchmark, scratch[0]));
  }
  s.bind_text(5, valid_utf8(r.family, scratch[1]));
  s.bind_text(6, valid_utf8(r.task_id, scratch[2]));
  s.bind_text(7, valid_utf8(r.prompt, scratch[3]));
  s.bind_text(8, valid_utf8(r.completion, scratch[4]));
  s.bind_text(9, valid_utf8(r.expected_answer, scratch[5]));
  if (r.extracted_answer) {
    s.bind_text(10, valid_utf8(*r.extracted_answer, scratch[6]));
  } else {
    s.bind_null(10);
  }
  s.bind(11, int64_t{r.correct});
  bind_real(s, 12, r.reward);
  const std::string rewards = json_object(r.rewards);
  s.bind_text(13, rewards);
  bind_real(s, 14, r.advantage);
  s.bind(15, int64_t{r.prompt_tokens});
  s.bind(16, int64_t{r.completion_tokens});
  s.bind(17, int64_t{r.thinking_tokens});
  s.bind(18, static_cast<int64_t>(r.tool_calls.size()));
  s.bind_text(19, r.finish_reason);
  bind_real(s, 20, r.seconds);
  if (r.token_ids.empty()) {
    s.bind_null(21);
  } else {
    s.bind_blob(21, r.token_ids.data(), r.token_ids.size() * sizeof(int32_t));
  }
  if (r.logprobs.empty()) {
    s.bind_null(22);
  } else {
    s.bind_blob(22, r.logprobs.data(), r.logprobs.size() * sizeof(float));
  }
  run(s);
  const int64_t rollout_id = db.last_insert_rowid();
  for (size_t i = 0; i < r.tool_calls.size(); ++i) {
    const ToolCallRecord& call = r.tool_calls[i];
    sqlite::Statement& t = insert_tool_call;
    t.bind(1, rollout_id);
    t.bind(2, static_cast<int64_t>(i));
    t.bind_text(3, valid_utf8(call.tool, scratch[0]));
    t.bind_text(4, valid_utf8(call.input, scratch[1]));
    t.bind_text(5, valid_utf8(call.output, scratch[2]));
    t.bind_text(6, valid_utf8(call.status, scratch[3]));
    bind_real(t, 7, call.latency_ms);
    run(t);
  }
}

void RolloutStore::Impl::write_evals(const QueuedStep& step) {
  struct Totals {
    int64_t n = 0, correct = 0;
    double reward = 0, completion_tokens = 0;
  };
  std::map<std::string, Totals> by_benchmark;
  for (const RolloutRecord& r : step.rollouts) {
    if (r.split != "eval") continue;
    Totals& t = by_benchmark[r.benchmark];
    ++t.n;
    t.correct += r.correct;
    t.reward += r.reward;
    t.completion_tokens += r.completion_tokens;
  }
  std::string scratch;
  for (const auto& [benchmark, t] : by_benchmark) {
    const auto n = static_cast<double>(t.n);
    insert_eval.bind(1, run_id);
    insert_eval.bind(2, step.step);
    insert_eval.bind_text(3, valid_utf8(benchmark, scratch));
    insert_eval.bind(4, t.n);
    bind_real(insert_eval, 5, static_cast<double>(t.correct) / n);
    bind_real(insert_eval, 6, t.reward / n);
    bind_real(insert_eval, 7, t.completion_tokens / n);
    run(insert_eval);
  }
}

void RolloutStore::Impl::write(const QueuedStep& step) {
  run(begin);
  try {
    for (sqlite::Statement* s : {&delete_rollouts, &delete_step, &delete_evals}) {
      s->bind(1, run_id);
      s->bind(2, step.step);
      run(*s);
    }
    const std::string metrics = json_object(step.metrics.values);
    insert_step.bind(1, run_id);
    insert_step.bind(2, step.step);
    insert_step.bind(3, step.logged_at);
    bind_real(insert_step, 4, step.metrics.seconds);
    insert_step.bind(5, static_cast<int64_t>(step.rollouts.size()));
    insert_step.bind_text(6, metrics);
    run(insert_step);
    for (const RolloutRecord& r : step.rollouts) write_rollout(r);
    write_evals(step);
    run(commit);
  } catch (...) {
    for (sqlite::Statement* s : {&delete_rollouts, &delete_step, &delete_evals, &insert_step,
                                 &insert_rollout, &insert_tool_call, &insert_eval, &commit}) {
      s->reset();
    }
    // The transaction may already be gone (SQLite rolls back on some errors).
    try {
      run(rollback);
    } catch (const sqlite::SqliteError&) {
      rollback.reset();
    }
    throw;
  }
}

void RolloutStore::Impl::writer_loop() {
  std::unique_lock lock(mutex);
  while (true) {
    changed.wait(lock, [&] { return !queue.empty() || stopping; });
    if (queue.empty()) return;  // stopping, and everything is written
    QueuedStep step = std::move(queue.front());
    queue.pop_front();
    writing = true;
    const bool failed = error.has_value();
    changed.notify_all();  // a place in the queue is free
    lock.unlock();
    std::optional<std::string> failure;
    if (!failed) {
      try {
        write(step);
      } catch (const std::exception& e) {
        failure =
            fmt::format("{} (step {} was not written, nor any step after it)", e.what(), step.step);
      }
    }
    step = QueuedStep();  // free the rows outside the lock
    lock.lock();
    writing = false;
    if (failure && !error) error = std::move(failure);
    changed.notify_all();
  }
}

RolloutStore::Impl::~Impl() {
  if (!thread.joinable()) return;  // open() failed before starting it
  {
    std::lock_guard lock(mutex);
    stopping = true;
  }
  changed.notify_all();
  thread.join();
  if (error && !error_thrown) {
    // A destructor cannot throw, and a lost write must not go unnoticed.
    std::fprintf(stderr, "ponder: %s\n", error->c_str());
  }
}

void RolloutStore::Impl::throw_error() {
  error_thrown = true;
  throw Error(*error);
}

RolloutStore RolloutStore::open(const std::filesystem::path& path, const std::string& run_name,
                                const std::string& config_toml, RolloutStoreOptions options) {
  if (options.queue_steps < 1) {
    throw std::invalid_argument("RolloutStore::open: queue_steps must be at least 1");
  }
  const std::filesystem::path folder = path.parent_path();
  std::error_code ec;
  if (!folder.empty() && !std::filesystem::is_directory(folder, ec)) {
    throw Error(fmt::format("rollout store `{}`: folder `{}` does not exist", path.string(),
                            folder.string()));
  }
  auto impl =
      std::make_unique<Impl>(sqlite::Database(path, sqlite::Database::Mode::kReadWriteCreate));
  sqlite::Database& db = impl->db;
  // Checked before anything is written: a foreign file is left as it was.
  StoreState state = check_store_schema(db);
  // A rollout row (completion and token BLOBs) is 1-4 KB: 16 KiB pages keep it
  // off overflow pages, for a quarter less CPU and file per rollout. Only a new
  // file takes a page size; WAL mode fixes it from then on.
  if (state == StoreState::kEmpty) db.exec("PRAGMA page_size = 16384");
  {
    sqlite::Statement wal = db.prepare("PRAGMA journal_mode = WAL");
    if (!wal.step() || wal.column_text(0) != "wal") {
      throw Error(fmt::format("rollout store `{}`: cannot switch it to WAL mode", path.string()));
    }
  }
  // NORMAL is safe in WAL mode against a killed process; only a power cut can
  // lose the last commits. The page cache keeps indexes hot while inserting.
  db.exec(
      "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -32768; "
      "PRAGMA journal_size_limit = 67108864");
  db.exec("BEGIN IMMEDIATE");
  try {
    // Again inside the write lock: another process may have created it meanwhile.
    if (state == StoreState::kEmpty) state = check_store_schema(db);
    if (state == StoreState::kEmpty) create_store_schema(db);
    sqlite::Statement upsert = db.prepare(
        "INSERT INTO runs (name, config, created_at, opened_at) VALUES (?1, ?2, ?3, ?3) "
        "ON CONFLICT (name) DO UPDATE SET config = excluded.config, opened_at = "
        "excluded.opened_at RETURNING id");
    std::string scratch[2];
    upsert.bind_text(1, valid_utf8(run_name, scratch[0]));
    upsert.bind_text(2, valid_utf8(config_toml, scratch[1]));
    upsert.bind(3, unix_seconds());
    upsert.step();
    impl->run_id = upsert.column_int(0);
    upsert.reset();
    db.exec("COMMIT");
  } catch (...) {
    try {
      db.exec("ROLLBACK");
    } catch (const sqlite::SqliteError&) {
      // SQLite has rolled back already; the first error is the one to report.
    }
    throw;
  }
  impl->capacity = static_cast<size_t>(options.queue_steps);
  impl->prepare_statements();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->writer_loop(); });
  return RolloutStore(std::move(impl));
}

RolloutStore::RolloutStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RolloutStore::RolloutStore(RolloutStore&&) noexcept = default;
RolloutStore& RolloutStore::operator=(RolloutStore&&) noexcept = default;

RolloutStore::~RolloutStore() = default;

void RolloutStore::write_step(int64_t step, std::vector<RolloutRecord> rollouts,
                              StepMetrics metrics) {
  for (const RolloutRecord& r : rollouts) check_record(step, r);
  QueuedStep queued{step, unix_seconds(), std::move(rollouts), std::move(metrics)};
  {
    std::unique_lock lock(impl_->mutex);
    impl_->changed.wait(lock,
                        [&] { return impl_->error || impl_->queue.size() < impl_->capacity; });
    if (impl_->error) impl_->throw_error();
    impl_->queue.push_back(std::move(queued));
  }
  impl_->changed.notify_all();
}

void RolloutStore::flush() {
  std::unique_lock lock(impl_->mutex);
  impl_->changed.wait(lock, [&] { return impl_->queue.empty() && !impl_->writing; });
  if (impl_->error) impl_->throw_error();
}

int64_t RolloutStore::run_id() const {
  return impl_->run_id;
}

}  // namespace ponder
