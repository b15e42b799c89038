// Line charts as inline SVG, for the HTML run report (app/report.h): a title,
// a legend, axes with "nice" ticks and labels, and one polyline per series.
//
// Contract:
//  - The output is one self-contained <svg> element: no scripts, no external
//    fonts, styles or images, so a page embedding it loads nothing.
//  - Every text in it (title, labels, series names) goes through html_escape:
//    series names may come from a database written by model-driven code.
//  - Each series is drawn as exactly one
//    `<polyline class="series" data-series="NAME" points="x,y x,y …">` with
//    one pair per finite point, in input order; non-finite points are left
//    out. Series of few points also get a circle per point, so a series of
//    one point (a baseline measured once) is visible.
//  - The plot area is filled with kPlotBackground, which appears nowhere
//    else: tests/app/test_report_render.py finds charts in a screenshot by it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ponder {

inline constexpr std::string_view kPlotBackground = "#f4f7fb";

struct ChartPoint {
  double x = 0, y = 0;
};

struct ChartSeries {
  std::string name;
  std::vector<ChartPoint> points;
};

struct LineChart {
  std::string id;  // the <svg> element's id attribute ("chart-" + id)
  std::string title;
  std::string x_label = "step";
  std::string y_label;
  std::vector<ChartSeries> series;
};

// Whether any series has a finite point; a chart without one has nothing to draw.
bool has_points(const LineChart& chart);

// The chart as one <svg> element that scales to its container's width.
// Precondition: has_points(chart).
std::string render_svg(const LineChart& chart);

// An axis covering [lo, hi] with ticks at multiples of 1, 2 or 5 × 10^k, about
// `target` of them; the axis ends on ticks. A zero-width range is widened
// around its value so that a flat series sits mid-chart.
struct Axis {
  double lo = 0, hi = 1, step = 1;
  std::vector<double> ticks;
  int decimals = 0;  // for tick labels: enough to tell neighbours apart
};
Axis nice_axis(double lo, double hi, int target);

// `text` safe as HTML or SVG text and attribute values: & < > " ' as
// entities, and control characters, invalid UTF-8 and bidirectional
// overrides shown as escapes (rollout/text.h `printable`), so that hostile
// text can neither add markup nor reorder what is shown.
std::string html_escape(std::string_view text);

}  // namespace ponder
