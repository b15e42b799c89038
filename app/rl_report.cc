// The RL stage's held-out reports and summary: JSON in and out, and the
// before/after table the pipeline prints.
#include <fstream>

#include <fmt/format.h>

#include "app/rl.h"
#include "policy/error.h"

namespace ponder {

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
