// The progress display, driven by a fake clock so no test sleeps.
#include "app/progress.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace ponder {
namespace {

// A FILE* whose contents a test can read back; not a terminal.
class CapturedOutput {
 public:
  CapturedOutput() : file_(open_memstream(&buffer_, &size_)) {}
  ~CapturedOutput() {
    std::fclose(file_);
    std::free(buffer_);
  }
  std::FILE* file() { return file_; }
  std::string text() {
    std::fflush(file_);
    return std::string(buffer_, size_);
  }

 private:
  char* buffer_ = nullptr;
  std::size_t size_ = 0;
  std::FILE* file_;
};

struct FakeClock {
  double now = 0;
  ProgressOptions options(std::optional<bool> terminal = std::nullopt) {
    ProgressOptions o;
    o.terminal = terminal;
    o.clock = [this] { return now; };
    return o;
  }
};

TEST(Progress, PlainLinesAtEachPeriodWithRateAndEta) {
  CapturedOutput out;
  FakeClock clock;
  Progress progress("tokenizer", 1000, "merges", out.file(), clock.options());
  clock.now = 5;
  progress.advance(100);
  EXPECT_EQ(out.text(), "");  // not yet due
  clock.now = 10;
  progress.advance(100);
  EXPECT_EQ(out.text(),
            "tokenizer: 200/1000 merges (20.0%), 20 merges/s, elapsed 0:10, ETA 0:40\n");
  clock.now = 19.9;
  progress.advance(100);
  clock.now = 20;
  progress.advance(100);
  EXPECT_EQ(out.text(),
            "tokenizer: 200/1000 merges (20.0%), 20 merges/s, elapsed 0:10, ETA 0:40\n"
            "tokenizer: 400/1000 merges (40.0%), 20 merges/s, elapsed 0:20, ETA 0:30\n");
}

TEST(Progress, FinishPrintsOneFinalLine) {
  CapturedOutput out;
  FakeClock clock;
  Progress progress("tokenizer", 1000, "merges", out.file(), clock.options());
  clock.now = 4;
  progress.advance(1000);
  progress.finish();
  progress.finish();
  progress.advance(5);  // ignored once finished
  EXPECT_EQ(out.text(), "tokenizer: 1000 merges in 0:04 (250 merges/s)\n");
  EXPECT_EQ(progress.done(), 1000u);
}

TEST(Progress, PeriodIsConfigurable) {
  CapturedOutput out;
  FakeClock clock;
  ProgressOptions options = clock.options();
  options.period_s = 1;
  Progress progress("work", 10, "items", out.file(), options);
  for (int i = 1; i <= 10; ++i) {
    clock.now = i * 0.5;
    progress.advance();
  }
  EXPECT_EQ(out.text(),
            "work: 2/10 items (20.0%), 2 items/s, elapsed 0:01, ETA 0:04\n"
            "work: 4/10 items (40.0%), 2 items/s, elapsed 0:02, ETA 0:03\n"
            "work: 6/10 items (60.0%), 2 items/s, elapsed 0:03, ETA 0:02\n"
            "work: 8/10 items (80.0%), 2 items/s, elapsed 0:04, ETA 0:01\n"
            "work: 10/10 items (100.0%), 2 items/s, elapsed 0:05, ETA 0:00\n");
}

TEST(Progress, UnknownTotalShowsNoPercentageOrEta) {
  CapturedOutput out;
  FakeClock clock;
  Progress progress("shards", 0, "B", out.file(), clock.options());
  clock.now = 10;
  progress.advance(1'500'000);
  clock.now = 3725;
  progress.advance(2'000'000'000);
  progress.finish();
  EXPECT_EQ(out.text(),
            "shards: 1.50M B, 150k B/s, elapsed 0:10\n"
            "shards: 2.00G B, 537k B/s, elapsed 1:02:05\n"
            "shards: 2.00G B in 1:02:05 (537k B/s)\n");
}

TEST(Progress, EtaUnknownBeforeAnyProgress) {
  CapturedOutput out;
  FakeClock clock;
  Progress progress("work", 10, "items", out.file(), clock.options());
  clock.now = 10;
  progress.advance(0);
  EXPECT_EQ(out.text(), "work: 0/10 items (0.0%), 0 items/s, elapsed 0:10, ETA unknown\n");
}

TEST(Progress, TerminalRedrawsOneLineAtMostTenTimesASecond) {
  CapturedOutput out;
  FakeClock clock;
  Progress progress("work", 100, "items", out.file(), clock.options(/*terminal=*/true));
  for (double t : {0.05, 0.1, 0.15, 0.2}) {  // four advances, two redraws
    clock.now = t;
    progress.advance(5);
  }
  progress.finish();
  EXPECT_EQ(out.text(),
            "\rwork: 10/100 items (10.0%), 100 items/s, elapsed 0:00, ETA 0:01\x1b[K"
            "\rwork: 20/100 items (20.0%), 100 items/s, elapsed 0:00, ETA 0:01\x1b[K"
            "\rwork: 20 items in 0:00 (100 items/s)\x1b[K\n");
}

TEST(Progress, DestructorEndsAHalfDrawnTerminalLine) {
  CapturedOutput out;
  FakeClock clock;
  {
    Progress progress("work", 0, "items", out.file(), clock.options(/*terminal=*/true));
    clock.now = 1;
    progress.advance();
  }
  EXPECT_EQ(out.text(), "\rwork: 1 items, 1 items/s, elapsed 0:01\x1b[K\n");
}

TEST(Progress, RealClockAndNonTerminalByDefault) {
  CapturedOutput out;
  Progress progress("work", 3, "items", out.file());
  progress.advance(3);
  EXPECT_EQ(out.text(), "");  // a plain line is due only after 10 s
  progress.finish();
  EXPECT_EQ(out.text().rfind("work: 3 items in 0:00 (", 0), 0u) << out.text();
}

}  // namespace
}  // namespace ponder
