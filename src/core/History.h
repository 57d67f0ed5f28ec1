#pragma once
// A fixed-size ring of one cgroup's samples, one per sampler sweep, and the min/avg/max of a
// range of it (issue 9: "a fixed-size ring per worker and per slice"). Pure: the caller
// hands in the figures and the time.
//
// Memory: sizeof(HistorySample) (20 bytes) per slot, allocated (and initialized as gaps)
// when the ring is created: 15 minutes at 1 s is 17.6 KiB per cgroup, at 5 s 3.5 KiB.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/Spec.h"
#include "core/Time.h"

namespace vigil::core {

// The metrics a history keeps, in the order of HistorySummary::metrics.
enum class HistoryMetric : std::uint8_t {
  Cpu,             // CPU rate, in 1/10000 of a core (10000 = one core busy)
  Memory,          // memory.current, KiB
  Tasks,           // pids.current (saturates at 65535)
  IoRead,          // bytes read per second over the interval, KiB/s
  IoWrite,         // bytes written per second, KiB/s
  MemoryPressure,  // memory.pressure "some" avg10, hundredths of a percent
};
inline constexpr std::size_t kHistoryMetrics = 6;
// "cpu", "memory", "tasks", "io_read", "io_write", "memory_pressure".
const char* toString(HistoryMetric m);

// One sweep's figures, compact. Fields saturate at their type's maximum.
struct HistorySample {
  static constexpr std::uint32_t kNone = 0xffffffffU;
  std::uint32_t cpu = kNone;  // kNone: no sample (the cgroup was not running or not read)
  std::uint32_t memory_kib = 0;
  std::uint32_t io_read_kib_per_sec = 0;
  std::uint32_t io_write_kib_per_sec = 0;
  std::uint16_t tasks = 0;
  std::uint16_t memory_pressure = 0;  // hundredths of a percent, 0..10000

  bool present() const { return cpu != kNone; }
  std::uint32_t value(HistoryMetric m) const;
};

struct HistoryStats {
  std::uint32_t min = 0;
  std::uint32_t max = 0;
  double avg = 0;
};

struct HistorySummary {
  std::size_t samples = 0;  // present samples in the range (gaps excluded)
  std::size_t slots = 0;    // slots in the range, gaps included
  // Per metric, in HistoryMetric order; meaningful only when samples > 0.
  std::array<HistoryStats, kHistoryMetrics> metrics{};
  // Per metric, up to `points` values evenly spread over the range, oldest first, each the
  // average of the present samples of its part of the range; nullopt where that part has
  // none (a gap in a sparkline: not running).
  std::array<std::vector<std::optional<std::uint32_t>>, kHistoryMetrics> series;
};

class History {
 public:
  // `capacity` slots (0: keeps nothing), one per sweep, `interval` apart.
  History(std::size_t capacity, Usec interval);

  // Appends the sample of the sweep at `at`. Sweeps are `interval` apart: when `at` is
  // more than 1.5 intervals after the newest sample (sweeps skipped, the loop stalled),
  // the missing ones are appended as gaps first, so that slots keep matching wall time.
  // A sweep that did not read this cgroup appends HistorySample{} (a gap).
  void push(const HistorySample& sample, TimePoint at);

  // The samples of the last `range` (at most the capacity), ending with the newest, with
  // min(`points`, slots in the range) values per metric for a sparkline (0: none), so
  // that a point is never empty for want of slots. Samples older than `range` before
  // `now` are left out.
  HistorySummary summarize(Usec range, TimePoint now, std::size_t points) const;

  std::size_t capacity() const { return capacity_; }
  std::size_t size() const { return size_; }
  Usec interval() const { return interval_; }

 private:
  // The i-th sample from the oldest (i < size_).
  const HistorySample& at(std::size_t i) const;

  std::size_t capacity_;
  Usec interval_;
  std::unique_ptr<HistorySample[]> slots_;
  std::size_t next_ = 0;  // where the next push goes
  std::size_t size_ = 0;
  TimePoint newest_at_{0};
};

// Builds a sample from cumulative counters: the rates are (now - before) / elapsed.
// `elapsed` 0, or a counter that went backwards (a new cgroup after a restart), gives a
// gap: there is no rate across two cgroups.
struct CounterReading {
  std::uint64_t cpu_usage_usec = 0;
  std::uint64_t io_read_bytes = 0;
  std::uint64_t io_write_bytes = 0;
};
HistorySample makeHistorySample(const CounterReading& before,
                                const CounterReading& now,
                                Usec elapsed,
                                std::uint64_t memory_bytes,
                                std::uint64_t tasks,
                                std::uint64_t memory_pressure_centipercent);

}  // namespace vigil::core
