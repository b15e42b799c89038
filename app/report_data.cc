#include "app/report_data.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>
#include <nlohmann/json.hpp>

#include "policy/error.h"

namespace ponder {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot read `{}`", file.string()));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

double number(const SqlValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  return kNaN;
}

double number(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_number() ? it->get<double>() : kNaN;
}

std::string text(const SqlValue& v) {
  const auto* s = std::get_if<std::string>(&v);
  return s ? *s : std::string();
}

// run.name of the config, or the folder's name: `ponder train` puts a run in
// <out_dir>/<run.name>, so the two agree unless the folder was renamed.
std::string run_name(const std::string& config_toml, const std::filesystem::path& folder) {
  try {
    const toml::table config = toml::parse(config_toml);
    if (auto name = config["run"]["name"].value<std::string>()) return *name;
  } catch (const toml::parse_error&) {
    // A config that does not parse is still shown verbatim; the name falls back.
  }
  return folder.filename().string();
}

std::vector<StepRow> read_steps(const StoreReader& reader, const std::string& run) {
  std::vector<StepRow> steps;
  reader.query(
      "SELECT runs.name, s.step, s.logged_at, s.seconds, s.rollouts, s.metrics FROM steps s "
      "JOIN runs ON runs.id = s.run_id ORDER BY s.step",
      [](const std::vector<std::string>&) {},
      [&](const std::vector<SqlValue>& row) {
        if (text(row[0]) != run) return;
        StepRow& s = steps.emplace_back();
        s.step = static_cast<int64_t>(number(row[1]));
        s.logged_at = number(row[2]);
        s.seconds = number(row[3]);
        s.rollouts = static_cast<int64_t>(number(row[4]));
        const auto metrics = nlohmann::json::parse(text(row[5]), nullptr, false);
        if (!metrics.is_object()) return;
        for (const auto& [key, value] : metrics.items()) {
          if (value.is_number()) s.metrics[key] = value.get<double>();
        }
      });
  return steps;
}

RolloutExample example(const StoredRollout& stored) {
  const RolloutRecord& r = stored.record;
  return {stored.id,          r.step,          r.reward, r.correct,   r.expected_answer,
          r.extracted_answer, r.finish_reason, r.prompt, r.completion};
}

// One pass over the run's train rollouts ranks each family's from both ends
// (reward, then id: the order `ponder inspect list --sort reward` shows);
// then only the chosen few are read whole.
std::vector<FamilyExamples> read_examples(const StoreReader& reader, const std::string& run) {
  const std::string sql = fmt::format(
      "SELECT name, family, id, from_top FROM ("
      " SELECT runs.name, r.family, r.id,"
      "  row_number() OVER (PARTITION BY r.run_id, r.family ORDER BY r.reward DESC, r.id DESC)"
      "   AS from_top,"
      "  row_number() OVER (PARTITION BY r.run_id, r.family ORDER BY r.reward, r.id)"
      "   AS from_bottom"
      " FROM rollouts r JOIN runs ON runs.id = r.run_id"
      // A rollout whose reward is NaN (NULL) is neither best nor worst.
      " WHERE r.split = 'train' AND r.reward IS NOT NULL)"
      " WHERE from_top <= {0} OR from_bottom <= {0}"
      " ORDER BY family, from_top",
      kExamplesPerEnd);
  struct Ranked {
    std::string family;
    int64_t id;
    bool best;
  };
  std::vector<Ranked> ranked;
  reader.query(
      sql, [](const std::vector<std::string>&) {},
      [&](const std::vector<SqlValue>& row) {
        if (text(row[0]) != run) return;
        ranked.push_back({text(row[1]), static_cast<int64_t>(number(row[2])),
                          number(row[3]) <= kExamplesPerEnd});
      });
  std::vector<FamilyExamples> out;
  for (const Ranked& r : ranked) {
    if (out.empty() || out.back().family != r.family) out.push_back({r.family, {}, {}});
    (r.best ? out.back().best : out.back().worst).push_back(example(reader.get(r.id)));
  }
  // Ranked from the top, the worst came out least bad first.
  for (FamilyExamples& f : out) std::reverse(f.worst.begin(), f.worst.end());
  return out;
}

void read_database(const std::filesystem::path& file, RunRecord& record) {
  if (!std::filesystem::exists(file)) {
    record.database_note = "There is no rollouts.db in the run folder: the RL stage has not run.";
    return;
  }
  try {
    const StoreReader reader = StoreReader::open(file);
    const std::vector<std::string> runs = reader.runs();
    std::string run = record.name;
    if (std::find(runs.begin(), runs.end(), run) == runs.end()) {
      if (runs.size() != 1) {
        record.database_note = runs.empty()
                                   ? "rollouts.db holds no run yet."
                                   : fmt::format("rollouts.db has no run named `{}`; it holds {}.",
                                                 run, fmt::join(runs, ", "));
        return;
      }
      run = runs.front();
    }
    record.steps = read_steps(reader, run);
    record.evals = reader.summary(run).evals;
    record.examples = read_examples(reader, run);
  } catch (const Error& e) {
    record.database_note = fmt::format("rollouts.db could not be read: {}", e.what());
  }
}

}  // namespace

std::optional<LossCurve> read_loss_curve(const std::filesystem::path& file) {
  if (!std::filesystem::exists(file)) return std::nullopt;
  std::istringstream lines(read_text(file));
  LossCurve curve;
  double tokens_before = 0;
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("step") || !j["step"].is_number_integer() ||
        !j.contains("split") || !j["split"].is_string()) {
      ++curve.malformed_lines;
      continue;
    }
    const auto step = j["step"].get<int64_t>();
    curve.last_step = std::max(curve.last_step, step);
    const bool train = j["split"] == "train";
    (train ? curve.train : curve.val).push_back({static_cast<double>(step), number(j, "loss")});
    if (!train) continue;
    // Each train line's rate covers the window since the previous line (app/training.cc).
    const double tokens = number(j, "tokens");
    const double rate = number(j, "tokens_per_s");
    curve.seconds += rate > 0 ? (tokens - tokens_before) / rate : kNaN;
    tokens_before = tokens;
  }
  return curve;
}

RunRecord read_run_record(const std::filesystem::path& run_dir) {
  const std::filesystem::path config = run_dir / "config.toml";
  if (!std::filesystem::exists(run_dir)) {
    throw Error(fmt::format("run folder `{}` does not exist", run_dir.string()));
  }
  if (!std::filesystem::is_directory(run_dir) || !std::filesystem::is_regular_file(config)) {
    throw Error(
        fmt::format("`{}` is not a run folder: it has no config.toml (`ponder train CONFIG` makes "
                    "<run.out_dir>/<run.name>/ and writes config.toml there first)",
                    run_dir.string()));
  }
  RunRecord record;
  record.folder = run_dir;
  record.config_toml = read_text(config);
  record.name = run_name(record.config_toml, run_dir);
  record.pretrain = read_loss_curve(run_dir / "metrics.jsonl");
  record.sft = read_loss_curve(run_dir / "sft" / "metrics.jsonl");
  read_database(run_dir / "rollouts.db", record);
  const std::filesystem::path summary = run_dir / "rl" / "summary.json";
  if (!std::filesystem::exists(summary)) {
    record.rl_summary_note =
        "There is no rl/summary.json: the RL stage writes it when its last step is done.";
  } else {
    try {
      record.rl_summary = read_rl_summary(summary);
    } catch (const Error& e) {
      record.rl_summary_note = e.what();
    }
  }
  return record;
}

}  // namespace ponder
