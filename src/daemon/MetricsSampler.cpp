#include "daemon/MetricsSampler.h"

#include <cmath>
#include <cstdio>
#include <ctime>

#include <unistd.h>

namespace vigil::daemon {

namespace {
std::int64_t realtimeUsec() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}
// CPU time of this thread: a batch's own cost, without the time the kernel gave others
// (under emulation, or on a busy host, wall time includes being preempted).
std::int64_t threadCpuUsec() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}
std::int64_t monotonicUsec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}
std::uint64_t centipercent(double percent) {
  return percent <= 0 ? 0 : static_cast<std::uint64_t>(std::llround(percent * 100));
}
void fillPressure(const std::optional<cgroup::Pressure>& p,
                  std::optional<std::uint64_t>& some_usec,
                  std::optional<std::uint64_t>& full_usec,
                  std::optional<std::uint64_t>& some_avg10) {
  some_usec.reset();
  full_usec.reset();
  some_avg10.reset();
  if (!p) return;
  if (p->some) {
    some_usec = p->some->total_usec;
    some_avg10 = centipercent(p->some->avg10);
  }
  if (p->full) full_usec = p->full->total_usec;
}
// The three PSI files of a cgroup or of the host.
void fillPressures(const std::optional<cgroup::Pressure>& cpu,
                   const std::optional<cgroup::Pressure>& memory,
                   const std::optional<cgroup::Pressure>& io,
                   status::PressureView& v) {
  fillPressure(cpu, v.cpu_some_usec, v.cpu_full_usec, v.cpu_some_avg10_centipercent);
  fillPressure(memory, v.memory_some_usec, v.memory_full_usec, v.memory_some_avg10_centipercent);
  fillPressure(io, v.io_some_usec, v.io_full_usec, v.io_some_avg10_centipercent);
}
void fillView(const cgroup::CgroupStats& c, std::int64_t realtime, status::CgroupView& v) {
  v.sampled_realtime_usec = realtime;
  v.memory_current_bytes = c.memory_current.value_or(0);
  v.memory_anon_bytes = c.memory_anon.value_or(0);
  v.memory_file_bytes = c.memory_file.value_or(0);
  v.memory_max_bytes = c.memory_max;
  v.memory_high_bytes = c.memory_high;
  v.memory_events_high = c.memory_events_high;
  v.memory_events_max = c.memory_events_max;
  v.oom_kills = c.memory_events_oom_kill;
  v.cpu_usage_usec = c.cpu_usage_usec;
  v.cpu_nr_throttled = c.cpu_nr_throttled;
  v.cpu_throttled_usec = c.cpu_throttled_usec;
  v.tasks_current = c.pids_current.value_or(0);
  v.tasks_max = c.pids_max;
  v.io_read_bytes = c.io_rbytes;
  v.io_write_bytes = c.io_wbytes;
  v.io_read_ios = c.io_rios;
  v.io_write_ios = c.io_wios;
  fillPressures(c.cpu_pressure, c.memory_pressure, c.io_pressure, v.pressure);
}
void clearRates(status::CgroupView& v) {
  v.cpu_usec_per_sec.reset();
  v.io_read_bytes_per_sec.reset();
  v.io_write_bytes_per_sec.reset();
}
}  // namespace

MetricsSampler::MetricsSampler(sd_event* event,
                               std::filesystem::path root,
                               std::filesystem::path proc_root)
    : event_(event),
      root_(std::move(root)),
      proc_root_(std::move(proc_root)),
      ticks_per_sec_(sysconf(_SC_CLK_TCK)) {}

MetricsSampler::~MetricsSampler() {
  if (source_) sd_event_source_disable_unref(source_);
  if (timer_) sd_event_source_disable_unref(timer_);
}

core::TimePoint MetricsSampler::now() const {
  return core::TimePoint(monotonicUsec());
}

void MetricsSampler::configure(core::Usec interval,
                               std::size_t history_slots,
                               TargetsFn targets,
                               std::function<void()> swept) {
  targets_ = std::move(targets);
  swept_ = std::move(swept);
  if (interval != interval_ || history_slots != history_slots_) {
    for (auto& [key, e] : entries_) e.history = core::History(history_slots, interval);
  }
  history_slots_ = history_slots;
  if (interval == interval_ && (timer_ || interval.count() == 0)) return;
  interval_ = interval;
  if (timer_) {
    sd_event_source_disable_unref(timer_);
    timer_ = nullptr;
  }
  if (!event_ || interval_.count() == 0) return;
  // The first sweep right away: figures (and the exposition) exist from the start.
  if (sd_event_add_time_relative(event_, &timer_, CLOCK_MONOTONIC, 0, 0, &MetricsSampler::onTimer,
                                 this) < 0) {
    std::fprintf(stderr, "<3>vigild: cannot arm the metrics timer; no periodic sampling\n");
    timer_ = nullptr;
  }
}

int MetricsSampler::onTimer(sd_event_source* s, std::uint64_t usec, void* ud) {
  auto* self = static_cast<MetricsSampler*>(ud);
  // Fixed rate: the next sweep one interval after this one was due, or one interval from
  // now when the loop fell behind by more than that.
  const std::uint64_t interval = static_cast<std::uint64_t>(self->interval_.count());
  std::uint64_t next = usec + interval;
  const std::uint64_t now = static_cast<std::uint64_t>(monotonicUsec());
  if (next <= now) next = now + interval;
  sd_event_source_set_time(s, next);
  sd_event_source_set_enabled(s, SD_EVENT_ON);
  if (self->sweep_queued_) {
    self->skipped_++;
    return 0;
  }
  Request r;
  r.sweep = true;
  r.units = self->targets_ ? self->targets_() : nullptr;
  if (!r.units) r.units = std::make_shared<const std::vector<Target>>();
  self->sweep_queued_ = true;
  self->enqueue(std::move(r));
  return 0;
}

void MetricsSampler::refresh(std::vector<Target> units,
                             core::Usec max_age,
                             std::function<void()> done) {
  Request r;
  r.units = std::make_shared<const std::vector<Target>>(std::move(units));
  r.max_age = max_age;
  r.done = std::move(done);
  enqueue(std::move(r));
}

void MetricsSampler::enqueue(Request r) {
  // Refreshes (someone waits on the bus) before a sweep in progress.
  if (!r.sweep && !queue_.empty() && queue_.back().sweep) {
    auto it = queue_.begin();
    while (it != queue_.end() && !it->sweep) ++it;
    queue_.insert(it, std::move(r));
  } else {
    queue_.push_back(std::move(r));
  }
  if (!source_) {
    if (!event_ || sd_event_add_defer(event_, &source_, &MetricsSampler::onDefer, this) < 0) {
      // No loop: do it all now (tests without an event loop).
      source_ = nullptr;
      while (!queue_.empty()) work();
      return;
    }
    // Everything else the loop has to do (bus messages, timers) goes first.
    sd_event_source_set_priority(source_, SD_EVENT_PRIORITY_IDLE);
  }
  sd_event_source_set_enabled(source_, SD_EVENT_ON);
}

int MetricsSampler::onDefer(sd_event_source*, void* ud) {
  static_cast<MetricsSampler*>(ud)->work();
  return 0;
}

void MetricsSampler::work() {
  const std::int64_t began = monotonicUsec();
  const std::int64_t cpu_began = threadCpuUsec();
  std::size_t budget = kBatch;
  bool swept = false;
  std::vector<std::function<void()>> done;
  while (!queue_.empty() && budget > 0) {
    Request& r = queue_.front();
    if (r.sweep && r.next == 0) {
      r.started = now();
      sweep_no_++;
      sweep_reads_ = 0;
      sweep_batch_wall_ = core::Usec{0};
      sweep_batch_cpu_ = core::Usec{0};
      sweeping_ = true;
      readHost();
    }
    const std::vector<Target>& units = *r.units;
    while (r.next < units.size() && budget > 0) {
      const Target& target = units[r.next++];
      Entry& e = entries_[target.key];
      e.listed = r.sweep ? sweep_no_ : std::max<std::uint64_t>(e.listed, sweep_no_);
      if (!r.sweep && e.sampled && e.cgroup == target.cgroup && now() - e.at < r.max_age) continue;
      if (target.running && !target.cgroup.empty()) budget--;
      read(e, target, r.sweep);
    }
    if (r.next < units.size()) break;  // out of budget: the next iteration goes on
    Request finished = std::move(r);
    queue_.pop_front();
    if (finished.sweep) {
      finishSweep(finished);
      swept = true;
    }
    if (finished.done) done.push_back(std::move(finished.done));
  }
  // The reads only: what the callers do next (an API answer, the textfile) is their own
  // cost, measured as theirs.
  if (budget < kBatch) batches_++;
  const core::Usec held{monotonicUsec() - began};
  const core::Usec held_cpu{threadCpuUsec() - cpu_began};
  if (held > longest_batch_) longest_batch_ = held;
  if (sweeping_ || swept) {
    sweep_batch_wall_ = std::max(sweep_batch_wall_, held);
    sweep_batch_cpu_ = std::max(sweep_batch_cpu_, held_cpu);
  }
  if (swept) {
    sweeping_ = false;
    last_sweep_batch_wall_ = sweep_batch_wall_;
    last_sweep_batch_cpu_ = sweep_batch_cpu_;
  }
  if (queue_.empty() && source_) sd_event_source_set_enabled(source_, SD_EVENT_OFF);
  for (auto& d : done) d();
  if (swept && swept_) swept_();
}

void MetricsSampler::read(Entry& e, const Target& target, bool sweep) {
  if (e.history.capacity() != history_slots_ || e.history.interval() != interval_)
    e.history = core::History(history_slots_, interval_);
  if (e.cgroup != target.cgroup) {
    // A new cgroup path (first read, or the unit moved): nothing carries over.
    e.cgroup = target.cgroup;
    e.reads = 0;
    e.dir.reset();
    e.sampled = false;
    e.swept.reset();
  }
  const core::TimePoint t = now();
  const auto gap = [&]() {
    e.sampled = false;
    e.reads = 0;
    e.dir.reset();
    if (sweep) {
      e.swept.reset();
      e.history.push(core::HistorySample{}, t);
    }
  };
  if (!target.running || target.cgroup.empty()) return gap();
  // Two attempts: a restarted unit's cgroup is a new directory under the same path, and
  // the kept-open one then reads as gone.
  bool ok = false;
  for (int attempt = 0; attempt < 2 && !ok; ++attempt) {
    if (!e.dir) {
      auto opened = cgroup::CgroupDirectory::open(root_, target.cgroup);
      if (!opened) {
        errors_++;
        return gap();
      }
      if (!*opened) return gap();  // not there (yet, or any more)
      e.dir = std::move(**opened);
    }
    reads_++;
    if (sweep) sweep_reads_++;
    const bool full = e.reads++ % kLimitsEvery == 0;
    auto r = e.dir->read(stats_, full ? cgroup::Detail::Full : cgroup::Detail::Sweep, buffer_);
    if (!r) {
      errors_++;
      return gap();
    }
    if (*r) {
      ok = true;
      if (!full) {
        // Not read this time: the last read's.
        stats_.memory_max = e.view.memory_max_bytes;
        stats_.memory_high = e.view.memory_high_bytes;
        stats_.pids_max = e.view.tasks_max;
      }
    } else {
      e.dir.reset();
      e.swept.reset();
      e.reads = 0;
    }
  }
  if (!ok) return gap();
  e.sampled = true;
  e.at = t;
  fillView(stats_, realtimeUsec(), e.view);
  if (!sweep) return;
  const core::CounterReading counters{stats_.cpu_usage_usec, stats_.io_rbytes, stats_.io_wbytes};
  if (e.swept) {
    const core::Usec elapsed = t - e.swept_at;
    const core::HistorySample s = core::makeHistorySample(
        *e.swept, counters, elapsed, e.view.memory_current_bytes, e.view.tasks_current,
        e.view.pressure.memory_some_avg10_centipercent.value_or(0));
    if (s.present()) {
      const double seconds = static_cast<double>(elapsed.count()) / 1e6;
      e.view.cpu_usec_per_sec = static_cast<std::uint64_t>(s.cpu) * 100;
      e.view.io_read_bytes_per_sec = static_cast<std::uint64_t>(
          static_cast<double>(counters.io_read_bytes - e.swept->io_read_bytes) / seconds);
      e.view.io_write_bytes_per_sec = static_cast<std::uint64_t>(
          static_cast<double>(counters.io_write_bytes - e.swept->io_write_bytes) / seconds);
    } else {
      clearRates(e.view);
    }
    e.history.push(s, t);
  } else {
    // No rate from one reading: the first sweep of a cgroup is a gap.
    clearRates(e.view);
    e.history.push(core::HistorySample{}, t);
  }
  e.swept = counters;
  e.swept_at = t;
}

void MetricsSampler::finishSweep(const Request& r) {
  sweep_queued_ = false;
  sweeps_++;
  last_cgroups_ = sweep_reads_;
  last_sweep_ = now() - r.started;
  // Targets no sweep has listed for two sweeps went away (a worker removed by a reload).
  for (auto it = entries_.begin(); it != entries_.end();)
    it = it->second.listed + 1 < sweep_no_ ? entries_.erase(it) : std::next(it);
}

void MetricsSampler::readHost() {
  const std::optional<cgroup::HostStats> before =
      host_ ? std::optional<cgroup::HostStats>(host_stats_) : std::nullopt;
  const core::TimePoint before_at = host_at_;
  if (auto r = cgroup::readHostStats(proc_root_, ticks_per_sec_, host_stats_, buffer_); !r) {
    errors_++;
    host_.reset();
    return;
  }
  host_at_ = now();
  const cgroup::HostStats& h = host_stats_;
  status::HostView v;
  v.sampled_realtime_usec = realtimeUsec();
  v.cpus = h.cpus;
  v.cpu_user_usec = h.cpu_user_usec;
  v.cpu_system_usec = h.cpu_system_usec;
  v.cpu_idle_usec = h.cpu_idle_usec;
  v.cpu_iowait_usec = h.cpu_iowait_usec;
  v.cpu_steal_usec = h.cpu_steal_usec;
  v.memory_total_bytes = h.memory_total_bytes;
  v.memory_available_bytes = h.memory_available_bytes;
  v.swap_total_bytes = h.swap_total_bytes;
  v.swap_free_bytes = h.swap_free_bytes;
  fillPressures(h.cpu_pressure, h.memory_pressure, h.io_pressure, v.pressure);
  if (before && host_at_ > before_at) {
    const std::uint64_t busy = h.cpu_user_usec + h.cpu_system_usec + h.cpu_steal_usec;
    const std::uint64_t busy_before =
        before->cpu_user_usec + before->cpu_system_usec + before->cpu_steal_usec;
    if (busy >= busy_before)
      v.cpu_busy_usec_per_sec =
          static_cast<std::uint64_t>(static_cast<double>(busy - busy_before) * 1e6 /
                                     static_cast<double>((host_at_ - before_at).count()));
  }
  host_ = std::move(v);
}

void MetricsSampler::limitsChanged() {
  for (auto& [key, e] : entries_) e.reads = 0;
}

const MetricsSampler::Entry* MetricsSampler::find(const std::string& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

status::SamplerView MetricsSampler::view() const {
  status::SamplerView v;
  v.sweeps = sweeps_;
  v.cgroups = last_cgroups_;
  v.read_errors = errors_;
  v.last_sweep_usec = last_sweep_.count();
  v.longest_batch_usec = longest_batch_.count();
  v.last_sweep_longest_batch_usec = last_sweep_batch_wall_.count();
  v.last_sweep_longest_batch_cpu_usec = last_sweep_batch_cpu_.count();
  v.interval_usec = interval_.count();
  v.skipped_sweeps = skipped_;
  return v;
}

}  // namespace vigil::daemon
