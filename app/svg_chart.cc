#include "app/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "rollout/text.h"

namespace ponder {
namespace {

// Tableau 10 without its grey: every series colour is saturated, which is
// how the screenshot test tells drawn lines from grid and text.
constexpr std::string_view kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                         "#8c564b", "#e377c2", "#bcbd22", "#17becf"};

// The layout, in SVG user units; the element scales to its container.
constexpr double kWidth = 640;
constexpr double kPlotLeft = 64;
constexpr double kPlotRight = kWidth - 16;
constexpr double kPlotHeight = 200;
constexpr double kLegendTop = 30;
constexpr double kLegendRow = 16;
constexpr double kCharWidth = 6.5;  // a rough mean advance at font-size 11
// Above this many points a series is a line only: markers would blot it out.
constexpr size_t kMaxMarkedPoints = 40;

bool finite(const ChartPoint& p) {
  return std::isfinite(p.x) && std::isfinite(p.y);
}

std::string tick_label(double value, int decimals, double step) {
  // Ticks computed as lo + i·step can land a hair off zero; "-0.00" reads oddly.
  if (std::fabs(value) < step * 1e-6) value = 0;
  return fmt::format("{:.{}f}", value, decimals);
}

struct Extent {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
};

// Legend entries flow left to right and wrap at the plot's width.
struct LegendEntry {
  double x = 0, y = 0;
};

std::vector<LegendEntry> lay_out_legend(const LineChart& chart, int& rows) {
  std::vector<LegendEntry> entries;
  double x = kPlotLeft;
  rows = chart.series.empty() ? 0 : 1;
  for (const ChartSeries& s : chart.series) {
    const double width = 24 + kCharWidth * static_cast<double>(s.name.size()) + 14;
    if (x > kPlotLeft && x + width > kPlotRight) {
      x = kPlotLeft;
      ++rows;
    }
    entries.push_back({x, kLegendTop + kLegendRow * (rows - 1)});
    x += width;
  }
  return entries;
}

}  // namespace

std::string html_escape(std::string_view text) {
  const std::string shown = printable(text, false);
  std::string out;
  out.reserve(shown.size());
  for (const char c : shown) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

Axis nice_axis(double lo, double hi, int target) {
  if (hi - lo <= std::fabs(hi) * 1e-12) {
    const double pad = lo != 0 ? std::fabs(lo) * 0.1 : 1;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / std::max(target, 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / magnitude;
  Axis axis;
  axis.step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * magnitude;
  const double first = std::floor(lo / axis.step + 1e-9);
  const double last = std::ceil(hi / axis.step - 1e-9);
  axis.lo = first * axis.step;
  axis.hi = last * axis.step;
  // Multiples of an integer index, not repeated additions, so ticks do not drift.
  for (double i = first; i <= last; ++i) axis.ticks.push_back(i * axis.step);
  axis.decimals = std::max(0, static_cast<int>(-std::floor(std::log10(axis.step) + 1e-9)));
  return axis;
}

bool has_points(const LineChart& chart) {
  return std::any_of(chart.series.begin(), chart.series.end(), [](const ChartSeries& s) {
    return std::any_of(s.points.begin(), s.points.end(), finite);
  });
}

std::string render_svg(const LineChart& chart) {
  Extent xs, ys;
  for (const ChartSeries& s : chart.series) {
    for (const ChartPoint& p : s.points) {
      if (!finite(p)) continue;
      xs.add(p.x);
      ys.add(p.y);
    }
  }
  const Axis x_axis = nice_axis(xs.lo, xs.hi, 6);
  const Axis y_axis = nice_axis(ys.lo, ys.hi, 5);
  int legend_rows = 0;
  const std::vector<LegendEntry> legend = lay_out_legend(chart, legend_rows);
  const double top = kLegendTop + kLegendRow * legend_rows;
  const double bottom = top + kPlotHeight;
  const double height = bottom + 44;
  auto px = [&](double x) {
    return kPlotLeft + (x - x_axis.lo) / (x_axis.hi - x_axis.lo) * (kPlotRight - kPlotLeft);
  };
  auto py = [&](double y) {
    return bottom - (y - y_axis.lo) / (y_axis.hi - y_axis.lo) * kPlotHeight;
  };

  std::string svg = fmt::format(
      "<svg id=\"chart-{}\" class=\"chart\" viewBox=\"0 0 {} {:.0f}\" role=\"img\" "
      "aria-label=\"{}\" font-family=\"sans-serif\" font-size=\"11\">\n",
      html_escape(chart.id), kWidth, height, html_escape(chart.title));
  svg += fmt::format("<text x=\"{}\" y=\"18\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
                     kPlotLeft, html_escape(chart.title));
  svg += fmt::format("<rect x=\"{}\" y=\"{:.1f}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>\n",
                     kPlotLeft, top, kPlotRight - kPlotLeft, kPlotHeight, kPlotBackground);
  // Horizontal grid lines only: a value is read across, and the plot's
  // background stays one unbroken colour in every column.
  for (const double t : y_axis.ticks) {
    svg += fmt::format(
        "<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#d5dbe3\"/>"
        "<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n",
        kPlotLeft, kPlotRight, py(t), py(t), kPlotLeft - 6, py(t) + 4,
        tick_label(t, y_axis.decimals, y_axis.step));
  }
  for (const double t : x_axis.ticks) {
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\" stroke=\"#555\"/>"
        "<text x=\"{0:.1f}\" y=\"{3:.1f}\" text-anchor=\"middle\">{4}</text>\n",
        px(t), bottom, bottom + 5, bottom + 17, tick_label(t, x_axis.decimals, x_axis.step));
  }
  svg += fmt::format(
      "<path d=\"M{0} {1:.1f}V{2:.1f}H{3}\" fill=\"none\" stroke=\"#555\"/>\n"
      "<text x=\"{4}\" y=\"{5:.1f}\" text-anchor=\"middle\">{6}</text>\n"
      "<text transform=\"translate(14 {7:.1f}) rotate(-90)\" text-anchor=\"middle\">{8}</text>\n",
      kPlotLeft, top, bottom, kPlotRight, (kPlotLeft + kPlotRight) / 2, bottom + 36,
      html_escape(chart.x_label), (top + bottom) / 2, html_escape(chart.y_label));

  for (size_t i = 0; i < chart.series.size(); ++i) {
    const ChartSeries& s = chart.series[i];
    const std::string_view colour = kColours[i % std::size(kColours)];
    const std::string name = html_escape(s.name);
    std::string points;
    std::string markers;
    size_t count = 0;
    for (const ChartPoint& p : s.points) count += finite(p) ? 1 : 0;
    for (const ChartPoint& p : s.points) {
      if (!finite(p)) continue;
      points += fmt::format("{}{:.1f},{:.1f}", points.empty() ? "" : " ", px(p.x), py(p.y));
      if (count <= kMaxMarkedPoints) {
        markers += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\" fill=\"{}\"/>",
                               px(p.x), py(p.y), colour);
      }
    }
    svg += fmt::format(
        "<polyline class=\"series\" data-series=\"{}\" points=\"{}\" fill=\"none\" "
        "stroke=\"{}\" stroke-width=\"2\" stroke-linejoin=\"round\"/>{}\n",
        name, points, colour, markers);
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" x2=\"{1:.1f}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\" "
        "stroke-width=\"3\"/><text x=\"{4:.1f}\" y=\"{5:.1f}\">{6}</text>\n",
        legend[i].x, legend[i].x + 18, legend[i].y - 4, colour, legend[i].x + 24, legend[i].y,
        name);
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace ponder
