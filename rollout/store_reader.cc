#include "rollout/store_reader.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "rollout/sqlite.h"
#include "rollout/store_schema.h"

namespace ponder {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double real(const sqlite::Statement& s, int column) {
  return s.column_is_null(column) ? kNaN : s.column_double(column);
}

std::optional<std::string> optional_text(const sqlite::Statement& s, int column) {
  if (s.column_is_null(column)) return std::nullopt;
  return std::string(s.column_text(column));
}

// Keeps one snapshot across several statements (a rollout and its tool calls).
class ReadTransaction {
 public:
  explicit ReadTransaction(sqlite::Database& db) : db_(db) { db_.exec("BEGIN"); }
  ~ReadTransaction() {
    try {
      db_.exec("COMMIT");
    } catch (const Error&) {
      // Ending a read transaction changes nothing; a failure here has no effect to report.
    }
  }
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;

 private:
  sqlite::Database& db_;
};

// The columns of a whole rollout, in the order read_rollout expects.
constexpr std::string_view kRolloutColumns =
    "r.id, runs.name, r.step, r.split, r.benchmark, r.family, r.task_id, r.prompt, "
    "r.completion, r.expected_answer, r.extracted_answer, r.correct, r.reward, r.rewards, "
    "r.advantage, r.prompt_tokens, r.completion_tokens, r.thinking_tokens, r.finish_reason, "
    "r.seconds, r.token_ids, r.logprobs";

// The columns of a listing, in the order read_listing expects.
constexpr std::string_view kListingColumns =
    "r.id, runs.name, r.step, r.split, r.benchmark, r.family, r.task_id, r.expected_answer, "
    "r.extracted_answer, r.correct, r.reward, r.advantage, r.seconds, r.completion_tokens, "
    "r.thinking_tokens, r.num_tool_calls, r.finish_reason";

std::string_view sort_column(RolloutSort sort) {
  switch (sort) {
    case RolloutSort::kId:
      return "r.id";
    case RolloutSort::kStep:
      return "r.step";
    case RolloutSort::kReward:
      return "r.reward";
    case RolloutSort::kAdvantage:
      return "r.advantage";
    case RolloutSort::kTokens:
      return "r.completion_tokens";
    case RolloutSort::kThinking:
      return "r.thinking_tokens";
    case RolloutSort::kToolCalls:
      return "r.num_tool_calls";
    case RolloutSort::kSeconds:
      return "r.seconds";
  }
  return "r.id";
}

// LIKE's wildcards in `text` made literal (with ESCAPE '\').
std::string like_pattern(std::string_view text) {
  std::string pattern = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') pattern += '\\';
    pattern += c;
  }
  return pattern + "%";
}

// SQL for the rollouts a filter selects, with its parameters bound in order.
struct FilterQuery {
  std::string sql;
  std::vector<std::variant<int64_t, double, std::string>> params;

  void bind(sqlite::Statement& s) const {
    for (size_t i = 0; i < params.size(); ++i) {
      const int index = static_cast<int>(i + 1);
      std::visit(
          [&](const auto& value) {
            using T = std::decay_t<decltype(value)>;
            if constexpr (std::is_same_v<T, std::string>) {
              s.bind_text(index, value);
            } else {
              s.bind(index, value);
            }
          },
          params[i]);
    }
  }
};

template <typename T>
std::vector<T> blob_values(const sqlite::Statement& s, int column, const std::string& path,
                           int64_t id, std::string_view name) {
  const std::span<const std::byte> bytes = s.column_blob(column);
  if (bytes.size() % sizeof(T) != 0) {
    throw Error(
        fmt::format("`{}`: rollout {}: {} holds {} bytes, not a whole number of {}-byte "
                    "values",
                    path, id, name, bytes.size(), sizeof(T)));
  }
  std::vector<T> values(bytes.size() / sizeof(T));
  if (!bytes.empty()) std::memcpy(values.data(), bytes.data(), bytes.size());
  return values;
}

}  // namespace

struct StoreReader::Impl {
  sqlite::Database db;

  explicit Impl(sqlite::Database database) : db(std::move(database)) {}

  int64_t run_id(const std::string& name);
  FilterQuery filter_query(std::string_view columns, const RolloutFilter& filter);
  StoredRollout read_rollout(const sqlite::Statement& s, sqlite::Statement& calls);
};

int64_t StoreReader::Impl::run_id(const std::string& name) {
  sqlite::Statement s = db.prepare("SELECT id FROM runs WHERE name = ?1");
  s.bind_text(1, name);
  if (s.step()) return s.column_int(0);
  std::vector<std::string> names;
  sqlite::Statement all = db.prepare("SELECT name FROM runs ORDER BY id");
  while (all.step()) names.emplace_back(all.column_text(0));
  throw Error(fmt::format("run `{}` is not in `{}` (its runs: {})", name, db.path(),
                          names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
}

FilterQuery StoreReader::Impl::filter_query(std::string_view columns, const RolloutFilter& filter) {
  FilterQuery q;
  std::vector<std::string> where;
  auto param = [&](auto value) {
    q.params.emplace_back(std::move(value));
    return fmt::format("?{}", q.params.size());
  };
  if (!filter.run.empty()) where.push_back("r.run_id = " + param(run_id(filter.run)));
  if (!filter.split.empty()) where.push_back("r.split = " + param(filter.split));
  if (filter.min_step) where.push_back("r.step >= " + param(*filter.min_step));
  if (filter.max_step) where.push_back("r.step <= " + param(*filter.max_step));
  if (!filter.family.empty()) where.push_back("r.family = " + param(filter.family));
  if (filter.min_reward) where.push_back("r.reward >= " + param(*filter.min_reward));
  if (filter.max_reward) where.push_back("r.reward <= " + param(*filter.max_reward));
  if (!filter.finish_reason.empty()) {
    where.push_back("r.finish_reason = " + param(filter.finish_reason));
  }
  if (filter.has_tool_calls) {
    where.push_back(*filter.has_tool_calls ? "r.num_tool_calls > 0" : "r.num_tool_calls = 0");
  }
  if (filter.correct) where.push_back(*filter.correct ? "r.correct = 1" : "r.correct = 0");
  if (!filter.search.empty()) {
    const std::string p = param(like_pattern(filter.search));
    where.push_back(
        fmt::format("(r.prompt LIKE {0} ESCAPE '\\' OR r.completion LIKE {0} ESCAPE "
                    "'\\')",
                    p));
  }
  q.sql = fmt::format("SELECT {} FROM rollouts r JOIN runs ON runs.id = r.run_id", columns);
  if (!where.empty()) q.sql += fmt::format(" WHERE {}", fmt::join(where, " AND "));
  const std::string_view order = filter.descending ? " DESC" : "";
  // The id breaks ties, so that equal keys list in the order they were written.
  q.sql += fmt::format(" ORDER BY {}{}, r.id{}", sort_column(filter.sort), order, order);
  if (filter.limit > 0) q.sql += " LIMIT " + param(filter.limit);
  return q;
}

StoredRollout StoreReader::Impl::read_rollout(const sqlite::Statement& s,
                                              sqlite::Statement& calls) {
  StoredRollout out;
  out.id = s.column_int(0);
  out.run = s.column_text(1);
  RolloutRecord& r = out.record;
  r.step = s.column_int(2);
  r.split = s.column_text(3);
  r.benchmark = optional_text(s, 4).value_or("");
  r.family = s.column_text(5);
  r.task_id = s.column_text(6);
  r.prompt = s.column_text(7);
  r.completion = s.column_text(8);
  r.expected_answer = s.column_text(9);
  r.extracted_answer = optional_text(s, 10);
  r.correct = s.column_int(11) != 0;
  r.reward = real(s, 12);
  const nlohmann::json rewards = nlohmann::json::parse(s.column_text(13), nullptr, false);
  if (!rewards.is_object()) {
    throw Error(fmt::format("`{}`: rollout {}: rewards is not a JSON object", db.path(), out.id));
  }
  for (const auto& [name, value] : rewards.items()) {
    r.rewards[name] = value.is_number() ? value.get<double>() : kNaN;
  }
  r.advantage = real(s, 14);
  r.prompt_tokens = static_cast<int>(s.column_int(15));
  r.completion_tokens = static_cast<int>(s.column_int(16));
  r.thinking_tokens = static_cast<int>(s.column_int(17));
  r.finish_reason = s.column_text(18);
  r.seconds = real(s, 19);
  r.token_ids = blob_values<int32_t>(s, 20, db.path(), out.id, "token_ids");
  r.logprobs = blob_values<float>(s, 21, db.path(), out.id, "logprobs");
  calls.bind(1, out.id);
  while (calls.step()) {
    r.tool_calls.push_back({std::string(calls.column_text(0)), std::string(calls.column_text(1)),
                            std::string(calls.column_text(2)), std::string(calls.column_text(3)),
                            real(calls, 4)});
  }
  calls.reset();
  return out;
}

StoreReader StoreReader::open(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw Error(fmt::format("rollout database `{}` not found", path.string()));
  }
  if (std::filesystem::is_directory(path, ec)) {
    throw Error(fmt::format("`{}` is a folder, not a rollout database", path.string()));
  }
  auto impl = std::make_unique<Impl>(sqlite::Database(path, sqlite::Database::Mode::kReadOnly));
  if (check_store_schema(impl->db) == StoreState::kEmpty) {
    throw Error(
        fmt::format("`{}` is a SQLite database but not a ponder rollout store: it has no tables",
                    path.string()));
  }
  return StoreReader(std::move(impl));
}

StoreReader::StoreReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StoreReader::StoreReader(StoreReader&&) noexcept = default;
StoreReader& StoreReader::operator=(StoreReader&&) noexcept = default;
StoreReader::~StoreReader() = default;

const std::string& StoreReader::path() const {
  return impl_->db.path();
}

std::vector<std::string> StoreReader::runs() const {
  sqlite::Statement s = impl_->db.prepare("SELECT name FROM runs ORDER BY id");
  std::vector<std::string> names;
  while (s.step()) names.emplace_back(s.column_text(0));
  return names;
}

StoreSummary StoreReader::summary(const std::string& run) const {
  ReadTransaction snapshot(impl_->db);
  const int64_t id = run.empty() ? 0 : impl_->run_id(run);
  const std::string where_run = run.empty() ? "" : " AND r.run_id = ?1";
  StoreSummary summary;
  sqlite::Statement steps = impl_->db.prepare(
      fmt::format("SELECT runs.name, r.step, count(*), avg(r.reward), avg(r.correct), "
                  "avg(r.completion_tokens), avg(r.thinking_tokens), avg(r.num_tool_calls > 0), "
                  "avg(r.num_tool_calls), avg(r.finish_reason = 'length') "
                  "FROM rollouts r JOIN runs ON runs.id = r.run_id WHERE r.split = 'train'{} "
                  "GROUP BY r.run_id, r.step ORDER BY r.run_id, r.step",
                  where_run));
  if (id) steps.bind(1, id);
  while (steps.step()) {
    summary.steps.push_back({std::string(steps.column_text(0)), steps.column_int(1),
                             steps.column_int(2), real(steps, 3), real(steps, 4), real(steps, 5),
                             real(steps, 6), real(steps, 7), real(steps, 8), real(steps, 9)});
  }
  sqlite::Statement evals = impl_->db.prepare(
      fmt::format("SELECT runs.name, r.step, r.benchmark, r.n, r.accuracy, r.mean_reward, "
                  "r.mean_completion_tokens FROM evals r JOIN runs ON runs.id = r.run_id WHERE 1{} "
                  "ORDER BY r.run_id, r.step, r.benchmark",
                  where_run));
  if (id) evals.bind(1, id);
  while (evals.step()) {
    summary.evals.push_back({std::string(evals.column_text(0)), evals.column_int(1),
                             std::string(evals.column_text(2)), evals.column_int(3), real(evals, 4),
                             real(evals, 5), real(evals, 6)});
  }
  return summary;
}

std::vector<RolloutListing> StoreReader::list(const RolloutFilter& filter) const {
  ReadTransaction snapshot(impl_->db);
  const FilterQuery q = impl_->filter_query(kListingColumns, filter);
  sqlite::Statement s = impl_->db.prepare(q.sql);
  q.bind(s);
  std::vector<RolloutListing> rows;
  while (s.step()) {
    RolloutListing& row = rows.emplace_back();
    row.id = s.column_int(0);
    row.run = s.column_text(1);
    row.step = s.column_int(2);
    row.split = s.column_text(3);
    row.benchmark = optional_text(s, 4).value_or("");
    row.family = s.column_text(5);
    row.task_id = s.column_text(6);
    row.expected_answer = s.column_text(7);
    row.extracted_answer = optional_text(s, 8);
    row.correct = s.column_int(9) != 0;
    row.reward = real(s, 10);
    row.advantage = real(s, 11);
    row.seconds = real(s, 12);
    row.completion_tokens = s.column_int(13);
    row.thinking_tokens = s.column_int(14);
    row.num_tool_calls = s.column_int(15);
    row.finish_reason = s.column_text(16);
  }
  return rows;
}

namespace {
constexpr std::string_view kToolCallsOfRollout =
    "SELECT tool, input, output, status, latency_ms FROM tool_calls WHERE rollout_id = ?1 "
    "ORDER BY call_index";
}  // namespace

void StoreReader::for_each(const RolloutFilter& filter,
                           const std::function<void(const StoredRollout&)>& visit) const {
  ReadTransaction snapshot(impl_->db);
  const FilterQuery q = impl_->filter_query(kRolloutColumns, filter);
  sqlite::Statement s = impl_->db.prepare(q.sql);
  q.bind(s);
  sqlite::Statement calls = impl_->db.prepare(kToolCallsOfRollout);
  while (s.step()) visit(impl_->read_rollout(s, calls));
}

StoredRollout StoreReader::get(int64_t id) const {
  ReadTransaction snapshot(impl_->db);
  sqlite::Statement s = impl_->db.prepare(
      fmt::format("SELECT {} FROM rollouts r JOIN runs ON runs.id = r.run_id WHERE r.id = ?1",
                  kRolloutColumns));
  s.bind(1, id);
  if (!s.step()) throw Error(fmt::format("no rollout {} in `{}`", id, impl_->db.path()));
  sqlite::Statement calls = impl_->db.prepare(kToolCallsOfRollout);
  return impl_->read_rollout(s, calls);
}

void StoreReader::query(std::string_view sql,
                        const std::function<void(const std::vector<std::string>&)>& columns,
                        const std::function<void(const std::vector<SqlValue>&)>& row) const {
  size_t offset = 0;
  sqlite::Statement s = impl_->db.prepare_next(sql, &offset);
  if (!s) throw Error("sql: no statement given (expected one SELECT)");
  if (impl_->db.prepare_next(sql, &offset)) {
    throw Error("sql: several statements given; run one at a time");
  }
  // The connection is read-only as well; this says why before SQLite refuses.
  if (!s.read_only()) {
    throw Error(
        fmt::format("sql: `{}` would change the database; ponder inspect sql runs "
                    "read-only statements",
                    sql.substr(0, std::min(sql.size(), sql.find('\n')))));
  }
  std::vector<std::string> names;
  for (int i = 0; i < s.column_count(); ++i) names.push_back(s.column_name(i));
  columns(names);
  std::vector<SqlValue> values(names.size());
  while (s.step()) {
    for (int i = 0; i < s.column_count(); ++i) {
      switch (s.column_type(i)) {
        case SQLITE_INTEGER:
          values[i] = s.column_int(i);
          break;
        case SQLITE_FLOAT:
          values[i] = s.column_double(i);
          break;
        case SQLITE_TEXT:
          values[i] = std::string(s.column_text(i));
          break;
        case SQLITE_BLOB: {
          const auto blob = s.column_blob(i);
          values[i] = SqlBlob{std::string(reinterpret_cast<const char*>(blob.data()), blob.size())};
          break;
        }
        default:
          values[i] = std::monostate{};
          break;
      }
    }
    row(values);
  }
}

}  // namespace ponder
