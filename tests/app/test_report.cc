// `ponder report`: the HTML page of a fixture run folder (a rollout database
// written with RolloutStore, metrics.jsonl files, rl/summary.json) holds one
// <svg> per chart with the right points, escapes hostile completions, and
// turns missing pieces into notes. tests/app/test_report_render.py renders
// the same fixture in headless Chromium.
#include <algorithm>
#include <cstdlib>
#include <regex>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "app/report.h"
#include "policy/error.h"
#include "rollout/rollout_store.h"
#include "tests/rollout/store_test_util.h"
#include "tests/test_util.h"

namespace ponder {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kHostile =
    "<|think|><script>alert('x')</script><img src=x onerror=alert(1)> \x1b[31mred\xe2\x80\xae "
    "& done<|end|>";

// Steps 1..6 of RL (8 train rollouts each, every metric the charts read), eval
// rollouts at steps 0, 3 and 6, pretraining and SFT metrics, rl/summary.json.
// Rollout 3 of step 4 has the highest reward of its family and a hostile completion.
void write_fixture_run(const fs::path& run) {
  fs::create_directories(run / "sft");
  fs::create_directories(run / "rl");
  testing::write_file(run / "config.toml", "[run]\nname = \"fixture\"\nseed = 1\n");
  std::string pretrain;
  for (int step = 10; step <= 50; step += 10) {
    pretrain += fmt::format(
        R"({{"step":{},"split":"train","loss":{},"lr":0.001,"tokens":{},"tokens_per_s":1000}})"
        "\n",
        step, 4.0 - step / 20.0, step * 100);
  }
  pretrain += "{\"step\":25,\"split\":\"val\",\"loss\":3.1}\nnot json\n";
  pretrain += "{\"step\":50,\"split\":\"val\",\"loss\":2.0}\n";
  testing::write_file(run / "metrics.jsonl", pretrain);
  testing::write_file(run / "sft" / "metrics.jsonl",
                      "{\"step\":5,\"split\":\"train\",\"loss\":1.5}\n"
                      "{\"step\":10,\"split\":\"train\",\"loss\":1.2}\n"
                      "{\"step\":15,\"split\":\"train\",\"loss\":1.0}\n"
                      "{\"step\":15,\"split\":\"val\",\"loss\":1.1}\n");

  RolloutStore store = RolloutStore::open(run / "rollouts.db", "fixture", "[run]\n");
  store.write_step(0, ponder::testing::make_step(0, 4, "eval"), {{{"heldout_accuracy", 0.25}}, 0});
  for (int step = 1; step <= 6; ++step) {
    std::vector<RolloutRecord> rows = ponder::testing::make_step(step, 8);
    if (step == 4) {
      rows[3].completion = kHostile;
      rows[3].reward = 9;
    }
    if (step % 3 == 0) {
      for (RolloutRecord& r : ponder::testing::make_step(step, 4, "eval")) rows.push_back(r);
    }
    const double s = step;
    StepMetrics metrics{{{"reward_mean", 0.1 * s},
                         {"reward/correct", 0.05 * s},
                         {"reward/format", 0.5},
                         {"accuracy", 0.1 * s},
                         {"accuracy/count", 0.2},
                         {"response_tokens", 30 + s},
                         {"thinking_tokens", 10 + s},
                         {"tool_calls_per_rollout", 0.5},
                         {"tool_error_rate", 0.1},
                         {"kl", 0.01 * s},
                         {"clip_fraction", 0.02},
                         {"difficulty/count", s > 3 ? 2.0 : 1.0},
                         {"difficulty/<b>evil</b>", 1},
                         {"time_generate", 1.0},
                         {"time_train", 0.5}},
                        1.5};
    store.write_step(step, std::move(rows), metrics);
  }
  store.flush();

  RlSummary summary;
  summary.before.step = 0;
  summary.after.step = 6;
  summary.before.families = {{"count", 4, 1, 12.0, 0.5}, {"all", 4, 1, 12.0, 0.5}};
  summary.after.families = {{"count", 4, 3, 9.0, 0.25}, {"all", 4, 3, 9.0, 0.25}};
  summary.direct.families = {{"count", 4, 2, 0.0, 0.0}, {"all", 4, 2, 0.0, 0.0}};
  testing::write_file(run / "rl" / "summary.json", to_json(summary).dump(2));
}

// The <svg> element of chart `id`, or "" when the page has none.
std::string chart(const std::string& html, const std::string& id) {
  const size_t start = html.find("<svg id=\"chart-" + id + "\"");
  if (start == std::string::npos) return "";
  return html.substr(start, html.find("</svg>", start) - start);
}

// The number of points of each series' polyline in `svg`, by series name.
std::map<std::string, int> polyline_points(const std::string& svg) {
  std::map<std::string, int> out;
  const std::regex polyline(
      R"re(<polyline class="series" data-series="([^"]*)" points="([^"]*)")re");
  for (std::sregex_iterator it(svg.begin(), svg.end(), polyline), end; it != end; ++it) {
    const std::string points = (*it)[2];
    out[(*it)[1]] =
        points.empty() ? 0 : 1 + static_cast<int>(std::count(points.begin(), points.end(), ' '));
  }
  return out;
}

int count(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

TEST(Report, DrawsOneChartPerMetricWithAPointPerStep) {
  testing::TempDir dir;
  write_fixture_run(dir / "fixture");
  const fs::path file = write_report(dir / "fixture");
  EXPECT_EQ(file, dir / "fixture" / "report.html");
  const std::string html = testing::read_file(file);

  EXPECT_EQ(count(html, "<svg"), 11);
  using Points = std::map<std::string, int>;
  EXPECT_EQ(polyline_points(chart(html, "reward")),
            (Points{{"total", 6}, {"correct", 6}, {"format", 6}}));
  EXPECT_EQ(polyline_points(chart(html, "accuracy")), (Points{{"all", 6}, {"count", 6}}));
  EXPECT_EQ(polyline_points(chart(html, "length")), (Points{{"response", 6}, {"thinking", 6}}));
  for (const char* id : {"tool-calls", "tool-errors", "kl", "clip-fraction"}) {
    const Points points = polyline_points(chart(html, id));
    ASSERT_EQ(points.size(), 1u) << id;
    EXPECT_EQ(points.begin()->second, 6) << id;
  }
  // The evals table: benchmark arith-eval at steps 0, 3 and 6.
  EXPECT_EQ(polyline_points(chart(html, "eval-accuracy")), (Points{{"arith-eval", 3}}));
  EXPECT_EQ(polyline_points(chart(html, "difficulty")),
            (Points{{"&lt;b&gt;evil&lt;/b&gt;", 6}, {"count", 6}}));
  EXPECT_EQ(polyline_points(chart(html, "pretrain-loss")), (Points{{"train", 5}, {"held-out", 2}}));
  EXPECT_EQ(polyline_points(chart(html, "sft-loss")), (Points{{"train", 3}, {"held-out", 1}}));

  // Timings: 5000 tokens at 1000 tokens/s; six RL steps of 1.5 s.
  EXPECT_THAT(html, HasSubstr("5.0 s"));
  EXPECT_THAT(html, HasSubstr("9.0 s"));
  EXPECT_THAT(html, HasSubstr("1 malformed lines skipped"));
  // The held-out table from rl/summary.json: direct, before, after.
  EXPECT_THAT(html, HasSubstr("50.0%</td><td class=\"num\">25.0%</td><td class=\"num\">75.0%"));
}

TEST(Report, EscapesEverythingTheRunWrote) {
  testing::TempDir dir;
  write_fixture_run(dir / "fixture");
  const std::string html = render_report(read_run_record(dir / "fixture"));
  // The hostile completion is the best of its family, shown with its id.
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&lt;img src=x "
                              "onerror=alert(1)&gt; \\x1b[31mred\\u{202e} &amp; done"));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("<img")));
  EXPECT_THAT(html, Not(HasSubstr("<b>evil")));
  EXPECT_THAT(html, Not(HasSubstr("\x1b")));
  // Nothing is fetched: no external reference of any kind.
  for (const char* external : {"http://", "https://", "<link", "url(", "@import"}) {
    EXPECT_THAT(html, Not(HasSubstr(external))) << external;
  }
  EXPECT_THAT(html, HasSubstr("default-src 'none'"));
}

TEST(Report, ListsTheBestAndWorstRolloutsOfEachFamily) {
  testing::TempDir dir;
  write_fixture_run(dir / "fixture");
  const RunRecord record = read_run_record(dir / "fixture");
  ASSERT_EQ(record.examples.size(), 2u);  // arith, count (train rollouts only)
  for (const FamilyExamples& f : record.examples) {
    ASSERT_EQ(f.best.size(), 3u) << f.family;
    ASSERT_EQ(f.worst.size(), 3u) << f.family;
    EXPECT_GE(f.best.back().reward, f.worst.back().reward) << f.family;
  }
  const FamilyExamples& counting = record.examples[1];
  EXPECT_EQ(counting.family, "count");
  EXPECT_EQ(counting.best[0].completion, kHostile);
  EXPECT_EQ(counting.best[0].reward, 9);
  EXPECT_EQ(counting.worst[0].reward, 0.1);  // rollout 1 of a step: 0.1·i, wrong
}

TEST(Report, AnEmptyDatabaseIsANoteNotACrash) {
  testing::TempDir dir;
  const fs::path run = dir / "empty";
  fs::create_directories(run);
  testing::write_file(run / "config.toml", "[run]\nname = \"empty\"\n");
  RolloutStore::open(run / "rollouts.db", "empty", "").flush();
  const std::string html = testing::read_file(write_report(run));
  EXPECT_EQ(count(html, "<svg"), 0);
  EXPECT_THAT(html, HasSubstr("rollouts.db holds no steps yet."));
  EXPECT_THAT(html, HasSubstr("rollouts.db holds no train rollouts yet."));
  EXPECT_THAT(html, HasSubstr("There is no rl/summary.json"));
  EXPECT_THAT(html, HasSubstr("No losses logged: metrics.jsonl is missing."));
}

TEST(Report, AFolderWithOnlyAConfigHasNoDatabaseYet) {
  testing::TempDir dir;
  testing::write_file(dir / "config.toml", "this is not TOML [");
  const fs::path out = dir / "elsewhere" / "page.html";
  EXPECT_EQ(write_report(dir.path(), out), out);
  const std::string html = testing::read_file(out);
  EXPECT_THAT(html, HasSubstr("There is no rollouts.db in the run folder"));
  EXPECT_THAT(html, HasSubstr("this is not TOML ["));
}

TEST(Report, ABrokenDatabaseIsANote) {
  testing::TempDir dir;
  testing::write_file(dir / "config.toml", "");
  testing::write_file(dir / "rollouts.db", "not a database");
  const std::string html = render_report(read_run_record(dir.path()));
  EXPECT_THAT(html, HasSubstr("rollouts.db could not be read"));
}

TEST(Report, AFolderThatIsNotARunIsAnErrorNamingIt) {
  testing::TempDir dir;
  try {
    write_report(dir.path());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(dir.path().string() + "` is not a run folder"));
  }
  EXPECT_THROW(write_report(dir / "missing"), Error);
  EXPECT_FALSE(fs::exists(dir / "report.html"));
}

TEST(SvgChart, AxesEndOnNiceTicks) {
  const Axis a = nice_axis(0.03, 0.93, 5);
  EXPECT_DOUBLE_EQ(a.step, 0.2);
  EXPECT_DOUBLE_EQ(a.lo, 0);
  EXPECT_DOUBLE_EQ(a.hi, 1.0);
  EXPECT_EQ(a.ticks.size(), 6u);
  EXPECT_EQ(a.decimals, 1);
  const Axis steps = nice_axis(1, 80, 6);
  EXPECT_DOUBLE_EQ(steps.step, 10);
  EXPECT_EQ(steps.decimals, 0);
  // A flat series sits mid-chart.
  const Axis flat = nice_axis(0, 0, 5);
  EXPECT_LT(flat.lo, 0);
  EXPECT_GT(flat.hi, 0);
}

// Writes the fixture run folder for tests/app/test_report_render.py, which
// reports it with `ponder report` and renders that in headless Chromium;
// skipped unless that script runs it.
TEST(ReportExport, WritesTheFixtureRun) {
  const char* out = std::getenv("PONDER_EXPORT_DIR");
  if (out == nullptr) GTEST_SKIP() << "PONDER_EXPORT_DIR is not set";
  write_fixture_run(fs::path(out) / "fixture");
}

}  // namespace
}  // namespace ponder
