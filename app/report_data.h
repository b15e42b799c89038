// What the run report (app/report.h) reads from a run folder, gathered in one
// value before any HTML is written.
//
// Sources, all optional but config.toml:
//   config.toml           the resolved config (`ponder train` writes it first)
//   metrics.jsonl         pretraining: train and held-out loss per logged step
//   sft/metrics.jsonl     SFT: the same
//   rollouts.db           RL: the steps table (metrics JSON, seconds,
//                         logged_at), the evals table, train rollouts
//   rl/summary.json       held-out accuracy before and after RL
//
// Contract: read_run_record throws ponder::Error when `run_dir` is not a run
// folder (not a directory, or no config.toml in it) or a file in it cannot be
// read. A missing source, an empty database, or one that is not a rollout
// store, leaves its fields empty and says why in a note; a malformed metrics
// line is skipped and counted.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "app/rl.h"
#include "app/svg_chart.h"
#include "rollout/store_reader.h"

namespace ponder {

// A TrainingSession's metrics.jsonl (app/training.h).
struct LossCurve {
  std::vector<ChartPoint> train, val;  // (step, loss)
  int64_t last_step = 0;
  // Σ over train lines of (tokens since the previous line) / tokens_per_s:
  // the time between the first and the last logged step, held-out
  // evaluation and checkpoints included. NaN when the lines lack the fields.
  double seconds = 0;
  int malformed_lines = 0;
};

// One row of the steps table.
struct StepRow {
  int64_t step = 0;
  double logged_at = 0;  // Unix seconds
  double seconds = 0;    // the step's wall time; NaN when not recorded
  int64_t rollouts = 0;
  std::map<std::string, double> metrics;  // numbers only; null (NaN) values are absent
};

// A train rollout shown as an example: its id is what `ponder inspect DB show ID` takes.
struct RolloutExample {
  int64_t id = 0;
  int64_t step = 0;
  double reward = 0;
  bool correct = false;
  std::string expected_answer;
  std::optional<std::string> extracted_answer;
  std::string finish_reason;
  std::string prompt, completion;
};

struct FamilyExamples {
  std::string family;
  std::vector<RolloutExample> best;   // highest reward first
  std::vector<RolloutExample> worst;  // lowest first; none of `best` again
};

struct RunRecord {
  std::filesystem::path folder;
  std::string name;  // run.name of config.toml, else the folder's name
  std::string config_toml;

  std::optional<LossCurve> pretrain, sft;  // absent: no metrics.jsonl

  std::string database_note;             // empty when the run's rows were read
  std::vector<StepRow> steps;            // by step
  std::vector<EvalSummary> evals;        // by step, benchmark
  std::vector<FamilyExamples> examples;  // by family

  std::optional<RlSummary> rl_summary;
  std::string rl_summary_note;  // why rl_summary is absent
};

// How many rollouts of each family the report shows at each end.
inline constexpr int kExamplesPerEnd = 3;

RunRecord read_run_record(const std::filesystem::path& run_dir);

// A TrainingSession's metrics.jsonl; nullopt when `file` does not exist.
std::optional<LossCurve> read_loss_curve(const std::filesystem::path& file);

}  // namespace ponder
