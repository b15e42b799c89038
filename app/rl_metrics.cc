#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "app/rl_metrics.h"
#include "policy/error.h"
#include "policy/grpo.h"

namespace ponder {

HeldOutReport held_out_report(int64_t step, std::span<const RolloutRecord> records) {
  std::map<std::string, FamilyReport> by_family;
  FamilyReport all{"all"};
  for (const RolloutRecord& r : records) {
    for (FamilyReport* f : {&by_family[r.family], &all}) {
      f->n += 1;
      f->correct += r.correct;
      f->thinking_tokens += r.thinking_tokens;
      f->tool_calls += static_cast<double>(r.tool_calls.size());
    }
  }
  HeldOutReport report{step, {}};
  for (auto& [name, f] : by_family) {
    f.family = name;
    report.families.push_back(f);
  }
  report.families.push_back(all);
  for (FamilyReport& f : report.families) {
    f.thinking_tokens /= std::max(1, f.n);
    f.tool_calls /= std::max(1, f.n);
  }
  return report;
}

void add_rollout_metrics(const std::vector<RolloutRecord>& records, std::span<const double> entropy,
                         StepMetrics& m) {
  std::vector<double> rewards;
  std::map<std::string, std::vector<double>> by_reward;
  std::map<std::string, std::pair<double, double>> by_family;  // correct, n
  double correct = 0, tokens = 0, thinking = 0, calls = 0, failed = 0, truncated = 0,
         entropy_sum = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const RolloutRecord& r = records[i];
    rewards.push_back(r.reward);
    for (const auto& [name, score] : r.rewards) by_reward[name].push_back(score);
    correct += r.correct;
    by_family[r.family].first += r.correct;
    by_family[r.family].second += 1;
    tokens += r.completion_tokens;
    thinking += r.thinking_tokens;
    calls += static_cast<double>(r.tool_calls.size());
    for (const auto& call : r.tool_calls) failed += call.status != "ok";
    truncated += r.finish_reason != "end";
    entropy_sum += entropy[i];
  }
  const double n = std::max<double>(1, static_cast<double>(records.size()));
  m.values["reward_mean"] = mean_of(rewards);
  m.values["reward_std"] = std_of(rewards);
  for (const auto& [name, scores] : by_reward) m.values["reward/" + name] = mean_of(scores);
  m.values["accuracy"] = correct / n;
  for (const auto& [family, counts] : by_family) {
    m.values["accuracy/" + family] = counts.first / counts.second;
  }
  m.values["response_tokens"] = tokens / n;
  m.values["thinking_tokens"] = thinking / n;
  m.values["tool_calls_per_rollout"] = calls / n;
  m.values["tool_error_rate"] = calls > 0 ? failed / calls : 0;
  m.values["truncation_rate"] = truncated / n;
  m.values["entropy"] = entropy_sum / n;
}

nlohmann::json to_json(const HeldOutReport& report) {
  nlohmann::json families = nlohmann::json::array();
  for (const FamilyReport& f : report.families) {
    families.push_back({{"family", f.family},
                        {"n", f.n},
                        {"correct", f.correct},
                        {"thinking_tokens", f.thinking_tokens},
                        {"tool_calls", f.tool_calls}});
  }
  return {{"step", report.step}, {"families", families}};
}

HeldOutReport held_out_report_from_json(const nlohmann::json& json) {
  HeldOutReport report;
  report.step = json.at("step").get<int64_t>();
  for (const auto& f : json.at("families")) {
    report.families.push_back({f.at("family").get<std::string>(), f.at("n").get<int>(),
                               f.at("correct").get<int>(), f.at("thinking_tokens").get<double>(),
                               f.at("tool_calls").get<double>()});
  }
  return report;
}

nlohmann::json to_json(const RlSummary& summary) {
  return {{"before", to_json(summary.before)},
          {"after", to_json(summary.after)},
          {"direct", to_json(summary.direct)},
          {"checkpoint", summary.checkpoint.string()},
          {"database", summary.database.string()}};
}

RlSummary read_rl_summary(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw Error(fmt::format("RL summary `{}` cannot be read", file.string()));
  try {
    const nlohmann::json json = nlohmann::json::parse(in);
    RlSummary summary;
    summary.before = held_out_report_from_json(json.at("before"));
    summary.after = held_out_report_from_json(json.at("after"));
    summary.direct = held_out_report_from_json(json.at("direct"));
    summary.checkpoint = json.at("checkpoint").get<std::string>();
    summary.database = json.at("database").get<std::string>();
    return summary;
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("RL summary `{}` is malformed: {}; delete it and re-run the rl stage",
                            file.string(), e.what()));
  }
}

std::string format_rl_summary(const RlSummary& summary) {
  auto find = [](const HeldOutReport& report, const std::string& family) {
    for (const FamilyReport& f : report.families) {
      if (f.family == family) return f;
    }
    return FamilyReport{family};
  };
  std::string out = fmt::format(
      "held-out accuracy, before RL (step {}) -> after (step {}); direct: answering at once "
      "before RL (no thinking, no tools):\n"
      "  {:<10} {:>5} {:>7} {:>17} {:>19} {:>19}\n",
      summary.before.step, summary.after.step, "family", "n", "direct", "accuracy",
      "thinking tokens", "tool calls");
  for (const FamilyReport& after : summary.after.families) {
    const FamilyReport before = find(summary.before, after.family);
    const FamilyReport direct = find(summary.direct, after.family);
    out += fmt::format(
        "  {:<10} {:>5} {:>6.1f}% {:>7.1f}% -> {:>5.1f}% {:>8.1f} -> {:>7.1f} {:>8.2f} -> "
        "{:>7.2f}\n",
        after.family, after.n, 100 * direct.accuracy(), 100 * before.accuracy(),
        100 * after.accuracy(), before.thinking_tokens, after.thinking_tokens, before.tool_calls,
        after.tool_calls);
  }
  out += fmt::format("  checkpoint: {}\n  rollouts:   {}\n", summary.checkpoint.string(),
                     summary.database.string());
  return out;
}

}  // namespace ponder
