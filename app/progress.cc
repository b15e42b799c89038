#include "app/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>

namespace ponder {
namespace {

// Redraws beyond ten a second are invisible, and each one costs a write.
constexpr double kTerminalPeriodS = 0.1;

// Up to four digits in full (7, 42.5, 3827), then 3 significant digits with a
// k/M/G/T/P suffix (12.3k, 45.6M): short enough to read at a glance.
std::string human(double x) {
  static constexpr const char* kSuffix[] = {"", "k", "M", "G", "T", "P"};
  int scale = 0;
  if (x >= 9999.5) {
    while (x >= 999.5 && scale < 5) {
      x /= 1000;
      ++scale;
    }
  }
  if (scale == 0 && (x == std::floor(x) || x >= 99.95)) return fmt::format("{:.0f}", x);
  int decimals = x >= 99.95 ? 0 : x >= 9.995 ? 1 : 2;
  return fmt::format("{:.{}f}{}", x, decimals, kSuffix[scale]);
}

// m:ss, or h:mm:ss from an hour on.
std::string hms(double seconds) {
  auto s = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

double steady_seconds() {
  auto since_epoch = std::chrono::steady_clock::now().time_since_epoch();
  return std::chrono::duration<double>(since_epoch).count();
}

}  // namespace

Progress::Progress(std::string label, uint64_t total, std::string unit, std::FILE* out,
                   ProgressOptions options)
    : label_(std::move(label)),
      total_(total),
      unit_(std::move(unit)),
      out_(out),
      options_(std::move(options)),
      terminal_(options_.terminal.value_or(isatty(fileno(out)) == 1)),
      start_(now()),
      next_print_(start_ + (terminal_ ? kTerminalPeriodS : options_.period_s)) {}

Progress::~Progress() {
  if (line_drawn_) {
    std::fputc('\n', out_);
    std::fflush(out_);
  }
}

double Progress::now() const {
  return options_.clock ? options_.clock() : steady_seconds();
}

void Progress::advance(uint64_t n) {
  if (finished_) return;
  done_ += n;
  double t = now();
  if (t < next_print_) return;
  next_print_ = t + (terminal_ ? kTerminalPeriodS : options_.period_s);
  print(status_line(t - start_), /*final=*/false);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  print(final_line(now() - start_), /*final=*/true);
}

void Progress::print(const std::string& line, bool final) {
  if (terminal_) {
    // Back to the line's start, draw, and clear what a longer previous line left.
    std::fprintf(out_, "\r%s\x1b[K%s", line.c_str(), final ? "\n" : "");
    line_drawn_ = !final;
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
}

std::string Progress::status_line(double elapsed) const {
  double rate = elapsed > 0 ? done_ / elapsed : 0;
  if (total_ == 0) {
    return fmt::format("{}: {} {}, {} {}/s, elapsed {}", label_, human(done_), unit_, human(rate),
                       unit_, hms(elapsed));
  }
  std::string eta = "unknown";
  if (done_ >= total_) {
    eta = hms(0);
  } else if (rate > 0) {
    eta = hms((total_ - done_) / rate);
  }
  return fmt::format("{}: {}/{} {} ({:.1f}%), {} {}/s, elapsed {}, ETA {}", label_, human(done_),
                     human(total_), unit_, 100.0 * done_ / total_, human(rate), unit_, hms(elapsed),
                     eta);
}

std::string Progress::final_line(double elapsed) const {
  double rate = elapsed > 0 ? done_ / elapsed : 0;
  return fmt::format("{}: {} {} in {} ({} {}/s)", label_, human(done_), unit_, hms(elapsed),
                     human(rate), unit_);
}

}  // namespace ponder
