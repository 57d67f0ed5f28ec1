#include "core/History.h"

#include <algorithm>
#include <limits>

namespace vigil::core {

namespace {
template <typename T>
T saturate(std::uint64_t v) {
  return static_cast<T>(std::min<std::uint64_t>(v, std::numeric_limits<T>::max()));
}
// The per-second rate of a counter that moved from `before` to `now` in `elapsed`, divided
// by `unit`; 0 when it went backwards or no time passed.
std::uint64_t rate(std::uint64_t before, std::uint64_t now, Usec elapsed, std::uint64_t unit) {
  if (now < before || elapsed.count() <= 0) return 0;
  const long double per_sec =
      static_cast<long double>(now - before) * 1e6L / static_cast<long double>(elapsed.count());
  return static_cast<std::uint64_t>(per_sec / static_cast<long double>(unit) + 0.5L);
}
}  // namespace

const char* toString(HistoryMetric m) {
  switch (m) {
    case HistoryMetric::Cpu:
      return "cpu";
    case HistoryMetric::Memory:
      return "memory";
    case HistoryMetric::Tasks:
      return "tasks";
    case HistoryMetric::IoRead:
      return "io_read";
    case HistoryMetric::IoWrite:
      return "io_write";
    case HistoryMetric::MemoryPressure:
      return "memory_pressure";
  }
  return "?";
}

std::uint32_t HistorySample::value(HistoryMetric m) const {
  switch (m) {
    case HistoryMetric::Cpu:
      return cpu;
    case HistoryMetric::Memory:
      return memory_kib;
    case HistoryMetric::Tasks:
      return tasks;
    case HistoryMetric::IoRead:
      return io_read_kib_per_sec;
    case HistoryMetric::IoWrite:
      return io_write_kib_per_sec;
    case HistoryMetric::MemoryPressure:
      return memory_pressure;
  }
  return 0;
}

History::History(std::size_t capacity, Usec interval)
    : capacity_(capacity),
      interval_(interval),
      slots_(capacity ? std::make_unique<HistorySample[]>(capacity) : nullptr) {}

void History::push(const HistorySample& sample, TimePoint at) {
  if (capacity_ == 0) return;
  if (size_ > 0 && interval_.count() > 0 && at > newest_at_) {
    // Sweeps that did not happen: gaps, so that the slots keep matching wall time.
    const std::int64_t behind = (at - newest_at_).count();
    const std::int64_t missing = (behind + interval_.count() / 2) / interval_.count() - 1;
    for (std::int64_t i = 0; i < std::min<std::int64_t>(missing, capacity_); ++i) {
      slots_[next_] = HistorySample{};
      next_ = (next_ + 1) % capacity_;
      size_ = std::min(size_ + 1, capacity_);
    }
  }
  slots_[next_] = sample;
  next_ = (next_ + 1) % capacity_;
  size_ = std::min(size_ + 1, capacity_);
  newest_at_ = at;
}

const HistorySample& History::at(std::size_t i) const {
  // The oldest is at next_ when full, at 0 otherwise.
  const std::size_t oldest = size_ == capacity_ ? next_ : 0;
  return slots_[(oldest + i) % capacity_];
}

HistorySummary History::summarize(Usec range, TimePoint now, std::size_t points) const {
  HistorySummary out;
  for (auto& s : out.series) s.assign(points, std::nullopt);
  if (size_ == 0 || interval_.count() <= 0 || range.count() <= 0) return out;
  // Slots within the range: the newest is at newest_at_, each older one interval earlier;
  // a newest sample older than the range leaves nothing.
  const Usec age = now - newest_at_;
  if (age >= range) return out;
  const std::size_t in_range = std::min<std::size_t>(
      size_, static_cast<std::size_t>((range - age - Usec(1)) / interval_) + 1);
  const std::size_t first = size_ - in_range;
  out.slots = in_range;
  // Never more points than slots: each point covers at least one slot.
  points = std::min(points, in_range);
  for (auto& s : out.series) s.assign(points, std::nullopt);

  std::array<std::uint64_t, kHistoryMetrics> sums{};
  std::array<std::uint64_t, kHistoryMetrics> part_sums{};
  std::size_t part_count = 0;
  std::size_t part = 0;
  const auto flush = [&](std::size_t index) {
    if (points == 0) return;
    for (std::size_t m = 0; m < kHistoryMetrics; ++m) {
      out.series[m][index] = part_count ? std::optional<std::uint32_t>(static_cast<std::uint32_t>(
                                              (part_sums[m] + part_count / 2) / part_count))
                                        : std::nullopt;
      part_sums[m] = 0;
    }
    part_count = 0;
  };
  for (std::size_t i = 0; i < in_range; ++i) {
    const HistorySample& s = at(first + i);
    // The point this slot belongs to: slots are spread evenly over the points.
    const std::size_t p = points ? i * points / in_range : 0;
    while (points && p > part) flush(part++);
    if (!s.present()) continue;
    ++out.samples;
    ++part_count;
    for (std::size_t m = 0; m < kHistoryMetrics; ++m) {
      const std::uint32_t v = s.value(static_cast<HistoryMetric>(m));
      HistoryStats& st = out.metrics[m];
      if (out.samples == 1) {
        st.min = st.max = v;
      } else {
        st.min = std::min(st.min, v);
        st.max = std::max(st.max, v);
      }
      sums[m] += v;
      part_sums[m] += v;
    }
  }
  if (points) {
    while (part < points) flush(part++);
  }
  if (out.samples) {
    for (std::size_t m = 0; m < kHistoryMetrics; ++m)
      out.metrics[m].avg = static_cast<double>(sums[m]) / static_cast<double>(out.samples);
  }
  return out;
}

HistorySample makeHistorySample(const CounterReading& before,
                                const CounterReading& now,
                                Usec elapsed,
                                std::uint64_t memory_bytes,
                                std::uint64_t tasks,
                                std::uint64_t memory_pressure_centipercent) {
  HistorySample s;
  if (elapsed.count() <= 0 || now.cpu_usage_usec < before.cpu_usage_usec ||
      now.io_read_bytes < before.io_read_bytes || now.io_write_bytes < before.io_write_bytes)
    return s;  // a gap
  // CPU usec per second / 100 = 1/10000 of a core.
  s.cpu = std::min<std::uint32_t>(
      saturate<std::uint32_t>(rate(before.cpu_usage_usec, now.cpu_usage_usec, elapsed, 100)),
      HistorySample::kNone - 1);
  s.memory_kib = saturate<std::uint32_t>(memory_bytes / 1024);
  s.io_read_kib_per_sec =
      saturate<std::uint32_t>(rate(before.io_read_bytes, now.io_read_bytes, elapsed, 1024));
  s.io_write_kib_per_sec =
      saturate<std::uint32_t>(rate(before.io_write_bytes, now.io_write_bytes, elapsed, 1024));
  s.tasks = saturate<std::uint16_t>(tasks);
  s.memory_pressure =
      saturate<std::uint16_t>(std::min<std::uint64_t>(memory_pressure_centipercent, 10000));
  return s;
}

}  // namespace vigil::core
