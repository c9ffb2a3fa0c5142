// The text of progress displays: clocks, durations, rates, bar frames and log lines.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "progress/progress_format.hpp"

namespace {

using namespace std::chrono_literals;
using mp::ProgressInfo;
using mp::progress::format_bar;
using mp::progress::format_clock;
using mp::progress::format_duration;
using mp::progress::format_line;
using mp::progress::format_rate;

TEST(ProgressFormat, ClockShowsMinutesAndSecondsThenHours) {
  EXPECT_EQ(format_clock(0s), "00:00");
  EXPECT_EQ(format_clock(7s + 900ms), "00:07");
  EXPECT_EQ(format_clock(12min + 34s), "12:34");
  EXPECT_EQ(format_clock(1h + 2min + 3s), "1:02:03");
  EXPECT_EQ(format_clock(-5s), "00:00");
}

TEST(ProgressFormat, DurationKeepsTenthsOnlyWhenShort) {
  EXPECT_EQ(format_duration(400ms), "0.4 s");
  EXPECT_EQ(format_duration(12s), "12 s");
  EXPECT_EQ(format_duration(3min + 5s), "3 min 05 s");
  EXPECT_EQ(format_duration(2h + 1min), "2 h 01 min");
}

TEST(ProgressFormat, RateUsesSiPrefixes) {
  EXPECT_EQ(format_rate(0), "0");
  EXPECT_EQ(format_rate(0.5), "0.5");
  EXPECT_EQ(format_rate(350), "350");
  EXPECT_EQ(format_rate(12'345), "12.3k");
  EXPECT_EQ(format_rate(4'560'000), "4.56M");
  EXPECT_EQ(format_rate(250e6), "250M");
}

TEST(ProgressFormat, RateAndEtaFollowFromTheCounts) {
  const ProgressInfo half{.done = 500, .total = 1000, .elapsed = 2s};
  EXPECT_DOUBLE_EQ(half.rate(), 250.0);
  ASSERT_TRUE(half.eta().has_value());
  EXPECT_EQ(std::chrono::round<std::chrono::milliseconds>(*half.eta()), 2000ms);
  EXPECT_FALSE((ProgressInfo{.done = 0, .total = 10, .elapsed = 1s}.eta().has_value()));
  EXPECT_FALSE((ProgressInfo{.done = 5, .total = 0, .elapsed = 1s}.eta().has_value()));
  EXPECT_EQ((ProgressInfo{.done = 10, .total = 10, .elapsed = 1s}.eta()), 0ns);
  EXPECT_EQ((ProgressInfo{.done = 0, .total = 10, .elapsed = 0s}.rate()), 0.0);
}

TEST(ProgressFormat, BarFillsInProportionAndFitsTheTerminal) {
  const ProgressInfo info{.done = 450, .total = 1000, .elapsed = 1s + 300ms};
  const std::string frame = format_bar(info, "resize", 80);
  EXPECT_EQ(frame.rfind("resize  45%|", 0), 0u) << frame;
  EXPECT_NE(frame.find("| 450/1000 [00:01<00:01, 346/s]"), std::string::npos) << frame;
  EXPECT_LE(frame.size(), 79u);  // the last column stays empty
  const std::size_t open = frame.find('|');
  const std::size_t close = frame.find('|', open + 1);
  const std::string bar = frame.substr(open + 1, close - open - 1);
  const auto filled = static_cast<std::size_t>(std::count(bar.begin(), bar.end(), '#'));
  EXPECT_EQ(filled, bar.size() * 450 / 1000);
  EXPECT_EQ(bar.find_first_not_of('#'), filled);  // filled from the left
}

TEST(ProgressFormat, HundredPercentOnlyWhenEverythingIsIn) {
  EXPECT_NE(format_bar({.done = 999, .total = 1000, .elapsed = 1s}, "", 80).find(" 99%"),
            std::string::npos);
  const std::string full = format_bar({.done = 1000, .total = 1000, .elapsed = 1s}, "", 80);
  EXPECT_EQ(full.rfind("100%|", 0), 0u) << full;
  EXPECT_EQ(full.find(' ', 5), full.find("| 1000/1000") + 1);  // no empty cell in the bar
}

TEST(ProgressFormat, NarrowTerminalsGetTheNumbersAlone) {
  const std::string frame = format_bar({.done = 3, .total = 8, .elapsed = 1s}, "job", 24);
  EXPECT_EQ(frame, "job  37% 3/8");
  EXPECT_LE(format_bar({.done = 3, .total = 8, .elapsed = 1s}, "a-very-long-label", 10).size(), 9u);
}

TEST(ProgressFormat, UnknownTotalShowsCountAndRate) {
  EXPECT_EQ(format_bar({.done = 42, .total = 0, .elapsed = 2s}, "scan", 80),
            "scan 42 [00:02, 21/s]");
  EXPECT_EQ(format_line({.done = 42, .total = 0, .elapsed = 2s}, "scan"),
            "scan: 42 done in 2.0 s, 21/s");
}

TEST(ProgressFormat, LogLineSaysWhatIsLeftUntilTheEnd) {
  EXPECT_EQ(format_line({.done = 450, .total = 1000, .elapsed = 1s}, "resize"),
            "resize: 450/1000 (45%) done in 1.0 s, 450/s, about 1.2 s left");
  EXPECT_EQ(format_line({.done = 1000, .total = 1000, .elapsed = 2s, .finished = true}, ""),
            "1000/1000 (100%) done in 2.0 s, 500/s");
}

}  // namespace
