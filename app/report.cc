#include "app/report.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <set>

#include <fmt/format.h>

#include "policy/atomic_file.h"
#include "rollout/text.h"

namespace ponder {
namespace {

// No colour here may equal kPlotBackground: the screenshot test finds the
// charts by it.
constexpr std::string_view kHead = R"(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font-family: sans-serif; margin: 0 auto; max-width: 1240px; padding: 0 16px 32px;
       color: #1d2228; }
h1 { margin-top: 20px; }
h2 { margin-top: 32px; border-bottom: 1px solid #d5dbe3; padding-bottom: 4px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 12px; }
figure { margin: 0; border: 1px solid #e1e5ea; border-radius: 4px; padding: 6px; }
figcaption { font-weight: bold; font-size: 14px; }
svg.chart { width: 100%; height: auto; display: block; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid #e1e5ea; padding: 3px 8px; text-align: left;
         vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.text { font-family: monospace; white-space: pre-wrap; word-break: break-word; max-width: 46ch; }
tr.family th { background: #eef0f3; }
.note { color: #5b6570; font-style: italic; }
pre { background: #f6f6f6; padding: 8px; white-space: pre-wrap; font-size: 12px; }
code { font-size: 12px; }
</style>
)";

std::string duration(double seconds) {
  if (!std::isfinite(seconds)) return "not recorded";
  const auto whole = static_cast<int64_t>(std::llround(seconds));
  if (seconds < 60) return fmt::format("{:.1f} s", seconds);
  if (seconds < 3600) return fmt::format("{} min {:02} s", whole / 60, whole % 60);
  return fmt::format("{} h {:02} min", whole / 3600, whole % 3600 / 60);
}

std::string utc(double unix_seconds) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buffer;
}

std::string note(std::string_view text) {
  return fmt::format("<p class=\"note\">{}</p>\n", html_escape(text));
}

std::string percent(double fraction) {
  return fmt::format("{:.1f}%", 100 * fraction);
}

// The start of `text`, cut on a UTF-8 boundary, escaped.
std::string excerpt(std::string_view text, size_t max_bytes) {
  size_t end = 0;
  while (end < text.size()) {
    const size_t n = std::max<size_t>(utf8_sequence_length(text.substr(end)), 1);
    if (end + n > max_bytes) break;
    end += n;
  }
  return html_escape(text.substr(0, end)) + (end < text.size() ? "…" : "");
}

// ---- charts -----------------------------------------------------------

ChartSeries step_series(const std::vector<StepRow>& steps, const std::string& key,
                        std::string name) {
  ChartSeries s{std::move(name), {}};
  for (const StepRow& row : steps) {
    const auto it = row.metrics.find(key);
    if (it != row.metrics.end()) s.points.push_back({static_cast<double>(row.step), it->second});
  }
  return s;
}

// One series per metric key `prefix<name>` (accuracy/count, difficulty/lookup, …), named <name>.
std::vector<ChartSeries> prefixed_series(const std::vector<StepRow>& steps,
                                         const std::string& prefix) {
  std::set<std::string> keys;
  for (const StepRow& row : steps) {
    for (const auto& [key, value] : row.metrics) {
      if (key.starts_with(prefix)) keys.insert(key);
    }
  }
  std::vector<ChartSeries> out;
  for (const std::string& key : keys) {
    out.push_back(step_series(steps, key, key.substr(prefix.size())));
  }
  return out;
}

std::string figure(const LineChart& chart, std::string_view missing) {
  if (has_points(chart)) return "<figure>\n" + render_svg(chart) + "</figure>\n";
  return fmt::format("<figure><figcaption>{}</figcaption>{}</figure>\n", html_escape(chart.title),
                     note(missing));
}

std::vector<LineChart> rl_charts(const RunRecord& r) {
  const auto& steps = r.steps;
  std::vector<ChartSeries> reward = {step_series(steps, "reward_mean", "total")};
  for (ChartSeries& s : prefixed_series(steps, "reward/")) reward.push_back(std::move(s));
  std::vector<ChartSeries> accuracy = {step_series(steps, "accuracy", "all")};
  for (ChartSeries& s : prefixed_series(steps, "accuracy/")) accuracy.push_back(std::move(s));
  std::map<std::string, ChartSeries> benchmarks;
  for (const EvalSummary& e : r.evals) {
    ChartSeries& s = benchmarks[e.benchmark];
    s.name = e.benchmark;
    s.points.push_back({static_cast<double>(e.step), e.accuracy});
  }
  std::vector<ChartSeries> evals;
  for (auto& [name, s] : benchmarks) evals.push_back(std::move(s));
  return {
      {"reward", "Reward (train rollouts)", "step", "mean reward", std::move(reward)},
      {"accuracy", "Accuracy (train rollouts)", "step", "fraction correct", std::move(accuracy)},
      {"length",
       "Response and thinking length",
       "step",
       "tokens per rollout",
       {step_series(steps, "response_tokens", "response"),
        step_series(steps, "thinking_tokens", "thinking")}},
      {"tool-calls",
       "Tool calls per rollout",
       "step",
       "calls",
       {step_series(steps, "tool_calls_per_rollout", "tool calls")}},
      {"tool-errors",
       "Tool error rate",
       "step",
       "fraction of calls failed",
       {step_series(steps, "tool_error_rate", "tool errors")}},
      {"kl", "KL to the reference policy", "step", "mean k3 KL", {step_series(steps, "kl", "kl")}},
      {"clip-fraction",
       "Clip fraction",
       "step",
       "fraction of tokens clipped",
       {step_series(steps, "clip_fraction", "clip fraction")}},
      {"eval-accuracy", "Eval accuracy (evals table)", "step", "accuracy", std::move(evals)},
      {"difficulty", "Curriculum difficulty", "step", "level",
       prefixed_series(steps, "difficulty/")},
  };
}

LineChart loss_chart(std::string id, std::string title, const LossCurve& curve) {
  return {std::move(id),
          std::move(title),
          "step",
          "loss",
          {{"train", curve.train}, {"held-out", curve.val}}};
}

// ---- sections -----------------------------------------------------------

std::string loss_timing_row(std::string_view stage, std::string_view file,
                            const std::optional<LossCurve>& curve) {
  if (!curve) {
    return fmt::format("<tr><td>{}</td><td colspan=\"3\" class=\"note\">no {}</td></tr>\n", stage,
                       file);
  }
  const std::string skipped =
      curve->malformed_lines ? fmt::format(" ({} malformed lines skipped)", curve->malformed_lines)
                             : "";
  return fmt::format(
      "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}: the sum over "
      "logged steps of (tokens since the previous line) / tokens_per_s{}</td></tr>\n",
      stage, curve->last_step, duration(curve->seconds), file, skipped);
}

std::string stages_section(const RunRecord& r) {
  std::string html =
      "<h2 id=\"stages\">Stages</h2>\n<table>\n<tr><th>stage</th><th class=\"num\">last "
      "step</th><th class=\"num\">time</th><th>from</th></tr>\n";
  html += loss_timing_row("pretrain", "metrics.jsonl", r.pretrain);
  html += loss_timing_row("sft", "sft/metrics.jsonl", r.sft);
  if (r.steps.empty()) {
    html += "<tr><td>rl</td><td colspan=\"3\" class=\"note\">no steps in rollouts.db</td></tr>\n";
  } else {
    double total = 0;
    std::map<std::string, double> parts;
    for (const StepRow& s : r.steps) {
      if (std::isfinite(s.seconds)) total += s.seconds;
      for (const char* key : {"time_generate", "time_tools", "time_reward", "time_train"}) {
        if (const auto it = s.metrics.find(key); it != s.metrics.end()) parts[key] += it->second;
      }
    }
    std::string split;
    for (const auto& [key, seconds] : parts) {
      split += fmt::format("{}{} {}", split.empty() ? "" : ", ", key.substr(5), duration(seconds));
    }
    html += fmt::format(
        "<tr><td>rl</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>steps table: the "
        "sum of <code>seconds</code>; rows logged {} to {} ({} of wall time){}</td></tr>\n",
        r.steps.back().step, duration(total), utc(r.steps.front().logged_at),
        utc(r.steps.back().logged_at),
        duration(r.steps.back().logged_at - r.steps.front().logged_at),
        split.empty() ? ""
                      : fmt::format("; of the steps' metrics: {} (tools overlap generation)",
                                    html_escape(split)));
  }
  html += "</table>\n";
  html += note(
      "The tokenizer and corpus stages keep no timings in the run folder; `ponder train` prints "
      "each stage's time as it ends.");
  return html;
}

std::string held_out_section(const RunRecord& r) {
  std::string html = "<h2 id=\"held-out\">Held-out accuracy before and after RL</h2>\n";
  if (!r.rl_summary) return html + note(r.rl_summary_note);
  const RlSummary& s = *r.rl_summary;
  auto find = [](const HeldOutReport& report, const std::string& family) -> const FamilyReport* {
    for (const FamilyReport& f : report.families) {
      if (f.family == family) return &f;
    }
    return nullptr;
  };
  html += fmt::format(
      "<p>From rl/summary.json: step {} → step {}; <em>direct</em> answers at once, without "
      "thinking or tools.</p>\n<table>\n<tr><th>family</th><th class=\"num\">n</th><th "
      "class=\"num\">direct</th><th class=\"num\">before</th><th class=\"num\">after</th><th "
      "class=\"num\">thinking tokens</th><th class=\"num\">tool calls</th></tr>\n",
      s.before.step, s.after.step);
  for (const FamilyReport& after : s.after.families) {
    const FamilyReport* before = find(s.before, after.family);
    const FamilyReport* direct = find(s.direct, after.family);
    html += fmt::format(
        "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td "
        "class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}{:.1f}</td><td "
        "class=\"num\">{}{:.2f}</td></tr>\n",
        html_escape(after.family), after.n, direct ? percent(direct->accuracy()) : "—",
        before ? percent(before->accuracy()) : "—", percent(after.accuracy()),
        before ? fmt::format("{:.1f} → ", before->thinking_tokens) : "", after.thinking_tokens,
        before ? fmt::format("{:.2f} → ", before->tool_calls) : "", after.tool_calls);
  }
  return html + "</table>\n";
}

std::string charts_section(const RunRecord& r) {
  std::string html = "<h2 id=\"rl\">RL, per step</h2>\n";
  if (!r.database_note.empty()) return html + note(r.database_note);
  if (r.steps.empty() && r.evals.empty()) return html + note("rollouts.db holds no steps yet.");
  html += "<div class=\"charts\">\n";
  for (const LineChart& chart : rl_charts(r)) {
    html += figure(chart, "No values for this chart in the database yet.");
  }
  return html + "</div>\n";
}

std::string loss_section(const RunRecord& r) {
  std::string html = "<h2 id=\"loss\">Pretraining and SFT loss</h2>\n<div class=\"charts\">\n";
  const auto add = [&](std::string id, std::string title, const std::optional<LossCurve>& curve,
                       std::string_view file) {
    const LossCurve empty;
    html += figure(loss_chart(std::move(id), std::move(title), curve ? *curve : empty),
                   fmt::format("No losses logged: {} is {}.", file, curve ? "empty" : "missing"));
  };
  add("pretrain-loss", "Pretraining loss", r.pretrain, "metrics.jsonl");
  add("sft-loss", "SFT loss", r.sft, "sft/metrics.jsonl");
  return html + "</div>\n";
}

std::string example_row(std::string_view kind, const RolloutExample& e) {
  return fmt::format(
      "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td "
      "class=\"num\">{:.3f}</td><td>{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td><td "
      "class=\"text\">{}</td><td class=\"text\">{}</td></tr>\n",
      kind, e.id, e.step, e.reward, e.correct ? "yes" : "no",
      e.extracted_answer ? excerpt(*e.extracted_answer, 40) : "<span class=\"note\">none</span>",
      excerpt(e.expected_answer, 40), excerpt(e.prompt, 160), excerpt(e.completion, 320));
}

std::string examples_section(const RunRecord& r) {
  std::string html = "<h2 id=\"rollouts\">Best and worst rollouts per family</h2>\n";
  if (!r.database_note.empty()) return html + note(r.database_note);
  if (r.examples.empty()) return html + note("rollouts.db holds no train rollouts yet.");
  html += fmt::format(
      "<p>Train rollouts by reward, {} at each end per family. <code>ponder inspect "
      "{}/rollouts.db show ID</code> shows one whole.</p>\n<table>\n<tr><th></th><th "
      "class=\"num\">id</th><th class=\"num\">step</th><th class=\"num\">reward</th><th>correct</"
      "th><th>answer</th><th>expected</th><th>prompt</th><th>completion</th></tr>\n",
      kExamplesPerEnd, html_escape(r.folder.string()));
  for (const FamilyExamples& f : r.examples) {
    html +=
        fmt::format("<tr class=\"family\"><th colspan=\"9\">{}</th></tr>\n", html_escape(f.family));
    for (const RolloutExample& e : f.best) html += example_row("best", e);
    for (const RolloutExample& e : f.worst) html += example_row("worst", e);
  }
  return html + "</table>\n";
}

}  // namespace

std::string render_report(const RunRecord& r) {
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::string html(kHead);
  html += fmt::format("<title>ponder report: {}</title>\n</head>\n<body>\n", html_escape(r.name));
  html += fmt::format(
      "<h1>ponder run <code>{}</code></h1>\n<p>Run folder <code>{}</code>; written {} by "
      "<code>ponder report</code>. <a href=\"#stages\">Stages</a> · <a "
      "href=\"#held-out\">Held-out</a> · <a href=\"#rl\">RL</a> · <a href=\"#loss\">Loss</a> · <a "
      "href=\"#rollouts\">Rollouts</a> · <a href=\"#config\">Config</a></p>\n",
      html_escape(r.name), html_escape(r.folder.string()), utc(now));
  html += stages_section(r);
  html += held_out_section(r);
  html += charts_section(r);
  html += loss_section(r);
  html += examples_section(r);
  html += fmt::format("<h2 id=\"config\">Config (config.toml)</h2>\n<pre>{}</pre>\n",
                      html_escape(r.config_toml));
  return html + "</body>\n</html>\n";
}

std::filesystem::path write_report(const std::filesystem::path& run_dir,
                                   const std::filesystem::path& out) {
  const RunRecord record = read_run_record(run_dir);
  const std::filesystem::path file = out.empty() ? run_dir / "report.html" : out;
  write_file_atomically(file, render_report(record));
  return file;
}

}  // namespace ponder
