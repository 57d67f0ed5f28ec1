// core::History: the ring, its summaries over a range (min/avg/max, sparkline points, gaps)
// and the rates of makeHistorySample.

#include <chrono>
#include <cstdint>

#include <boost/test/unit_test.hpp>

#include "core/History.h"

using namespace std::chrono_literals;
using vigil::core::CounterReading;
using vigil::core::History;
using vigil::core::HistoryMetric;
using vigil::core::HistorySample;
using vigil::core::makeHistorySample;
using vigil::core::TimePoint;
using vigil::core::Usec;

namespace {
HistorySample cpuSample(std::uint32_t cpu, std::uint32_t memory_kib = 0) {
  HistorySample s;
  s.cpu = cpu;
  s.memory_kib = memory_kib;
  return s;
}
TimePoint at(int seconds) {
  return TimePoint(Usec(std::chrono::seconds(seconds)).count());
}
std::size_t index(HistoryMetric m) {
  return static_cast<std::size_t>(m);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(history)

BOOST_AUTO_TEST_CASE(a_sample_is_20_bytes) {
  // The memory figure vigil.yaml(5) and the tier files quote.
  BOOST_TEST(sizeof(HistorySample) == 20u);
}

BOOST_AUTO_TEST_CASE(min_avg_max_over_the_range_ending_now) {
  History h(10, 1s);
  for (int i = 1; i <= 4; ++i) h.push(cpuSample(static_cast<std::uint32_t>(i * 1000), i), at(i));
  // The whole ring: 1000, 2000, 3000, 4000.
  auto s = h.summarize(1h, at(4), 0);
  BOOST_TEST(s.samples == 4u);
  BOOST_TEST(s.slots == 4u);
  BOOST_TEST(s.metrics[index(HistoryMetric::Cpu)].min == 1000u);
  BOOST_TEST(s.metrics[index(HistoryMetric::Cpu)].max == 4000u);
  BOOST_TEST(s.metrics[index(HistoryMetric::Cpu)].avg == 2500.0);
  BOOST_TEST(s.metrics[index(HistoryMetric::Memory)].avg == 2.5);
  // The last 2 s at 1 s: the newest two samples.
  s = h.summarize(2s, at(4), 0);
  BOOST_TEST(s.samples == 2u);
  BOOST_TEST(s.metrics[index(HistoryMetric::Cpu)].min == 3000u);
  // Asked 1.5 s after the newest sample, 2 s reach back one sample only.
  s = h.summarize(2s, TimePoint(at(4).count() + 1500000), 0);
  BOOST_TEST(s.samples == 1u);
  BOOST_TEST(s.metrics[index(HistoryMetric::Cpu)].min == 4000u);
  // Nothing within the range.
  BOOST_TEST(h.summarize(2s, at(10), 0).samples == 0u);
}

BOOST_AUTO_TEST_CASE(the_ring_keeps_the_newest_capacity_samples) {
  History h(3, 1s);
  for (int i = 1; i <= 5; ++i) h.push(cpuSample(static_cast<std::uint32_t>(i)), at(i));
  BOOST_TEST(h.size() == 3u);
  const auto s = h.summarize(1h, at(5), 3);
  BOOST_TEST(s.samples == 3u);
  BOOST_TEST(s.metrics[index(HistoryMetric::Cpu)].min == 3u);
  BOOST_TEST(s.metrics[index(HistoryMetric::Cpu)].max == 5u);
  const auto& series = s.series[index(HistoryMetric::Cpu)];
  BOOST_TEST_REQUIRE(series.size() == 3u);
  BOOST_TEST(*series[0] == 3u);  // oldest first
  BOOST_TEST(*series[2] == 5u);
}

BOOST_AUTO_TEST_CASE(gaps_are_left_out_of_the_figures_and_shown_in_the_series) {
  History h(8, 1s);
  h.push(cpuSample(100), at(1));
  h.push(cpuSample(300), at(2));
  h.push(HistorySample{}, at(3));  // not running
  h.push(HistorySample{}, at(4));
  h.push(cpuSample(500), at(5));
  h.push(cpuSample(700), at(6));
  const auto s = h.summarize(1h, at(6), 3);
  BOOST_TEST(s.slots == 6u);
  BOOST_TEST(s.samples == 4u);
  BOOST_TEST(s.metrics[index(HistoryMetric::Cpu)].avg == 400.0);
  const auto& series = s.series[index(HistoryMetric::Cpu)];
  BOOST_TEST(*series[0] == 200u);  // average of 100 and 300
  BOOST_TEST(!series[1].has_value());
  BOOST_TEST(*series[2] == 600u);
}

BOOST_AUTO_TEST_CASE(never_more_points_than_slots) {
  // 2 slots asked for as 4 points: 2 points, no false gaps.
  History h(4, 1s);
  h.push(cpuSample(10), at(1));
  h.push(cpuSample(20), at(2));
  const auto s = h.summarize(1h, at(2), 4);
  const auto& series = s.series[index(HistoryMetric::Cpu)];
  BOOST_TEST_REQUIRE(series.size() == 2u);
  BOOST_TEST(*series[0] == 10u);
  BOOST_TEST(*series[1] == 20u);
}

BOOST_AUTO_TEST_CASE(missed_sweeps_become_gaps) {
  // A sweep at 1 s, then the next at 4 s (two skipped): slots for 2 s and 3 s are gaps, so
  // the last 2 s hold the 4 s sample and one gap.
  History h(10, 1s);
  h.push(cpuSample(100), at(1));
  h.push(cpuSample(400), at(4));
  BOOST_TEST(h.size() == 4u);
  auto s = h.summarize(2s, at(4), 0);
  BOOST_TEST(s.slots == 2u);
  BOOST_TEST(s.samples == 1u);
  // A sweep a little late (1.4 intervals) is not a gap.
  h.push(cpuSample(500), TimePoint(at(5).count() + 400000));
  BOOST_TEST(h.size() == 5u);
}

BOOST_AUTO_TEST_CASE(a_ring_of_capacity_0_keeps_nothing) {
  History h(0, 1s);
  h.push(cpuSample(1), at(1));
  BOOST_TEST(h.size() == 0u);
  BOOST_TEST(h.summarize(1h, at(1), 2).samples == 0u);
}

BOOST_AUTO_TEST_CASE(rates_from_counter_deltas) {
  // 0.5 s of CPU in 2 s: a quarter of a core = 2500 ten-thousandths; 2 MiB read in 2 s =
  // 1024 KiB/s; 1 MiB written = 512 KiB/s.
  const CounterReading before{1000000, 0, 4096};
  const CounterReading now{1500000, 2 << 20, 4096 + (1 << 20)};
  const HistorySample s = makeHistorySample(before, now, 2s, 100 << 20, 12, 1234);
  BOOST_TEST(s.cpu == 2500u);
  BOOST_TEST(s.io_read_kib_per_sec == 1024u);
  BOOST_TEST(s.io_write_kib_per_sec == 512u);
  BOOST_TEST(s.memory_kib == 102400u);
  BOOST_TEST(s.tasks == 12u);
  BOOST_TEST(s.memory_pressure == 1234u);
  // Two cores for 1 s.
  BOOST_TEST(makeHistorySample({0, 0, 0}, {2000000, 0, 0}, 1s, 0, 0, 0).cpu == 20000u);
}

BOOST_AUTO_TEST_CASE(a_counter_that_went_backwards_or_no_time_is_a_gap) {
  // A restarted worker's new cgroup starts its counters at 0: no rate across the two.
  BOOST_TEST(!makeHistorySample({5000000, 9000, 9000}, {100, 10, 10}, 1s, 0, 0, 0).present());
  BOOST_TEST(!makeHistorySample({0, 9000, 0}, {100, 10, 0}, 1s, 0, 0, 0).present());
  BOOST_TEST(!makeHistorySample({0, 0, 0}, {100, 0, 0}, 0s, 0, 0, 0).present());
}

BOOST_AUTO_TEST_CASE(figures_saturate) {
  const HistorySample s = makeHistorySample({0, 0, 0}, {0, 0, 0}, 1s, UINT64_MAX, 1u << 20, 20000);
  BOOST_TEST(s.memory_kib == UINT32_MAX);
  BOOST_TEST(s.tasks == 65535u);
  BOOST_TEST(s.memory_pressure == 10000u);  // 100 %
  // A CPU rate never reads as "no sample".
  const HistorySample huge = makeHistorySample({0, 0, 0}, {UINT64_MAX / 2, 0, 0}, 1s, 0, 0, 0);
  BOOST_TEST(huge.present());
}

BOOST_AUTO_TEST_SUITE_END()
