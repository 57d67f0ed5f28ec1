#pragma once
// The cgroup sampler (issue 9): every worker's and supervisor slice's cgroup read once per
// metrics.interval, kept-open directories (cgroup::CgroupDirectory), one reused buffer, a
// history ring per cgroup (core::History). It also serves on-demand refreshes for the
// status (an API read), which re-read only what is older than they allow.
//
// The loop is never held for long: reads go in batches of kBatch cgroups, one batch per
// loop iteration, from an idle-priority source, so a crash notification or an API call
// waiting on the bus goes first. A sweep that is still running when the next one is due
// makes that one skipped (counted), never queued twice.

#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <systemd/sd-event.h>

#include "cgroup/CgroupReader.h"
#include "cgroup/HostStats.h"
#include "core/History.h"
#include "core/Time.h"
#include "status/Prometheus.h"
#include "status/StatusSnapshot.h"

namespace vigil::daemon {

class MetricsSampler {
 public:
  // A cgroup to read: `key` names it (a worker's service or a supervisor's slice unit),
  // `cgroup` is its path below the cgroup root (the unit's ControlGroup). Not `running`,
  // or an empty path: nothing is read, the history gets a gap.
  struct Target {
    std::string key;
    std::string cgroup;
    bool running = true;
  };
  struct Entry {
    std::string cgroup;
    std::optional<cgroup::CgroupDirectory> dir;
    bool sampled = false;  // `view` is a read of the current cgroup
    core::TimePoint at{0};
    status::CgroupView view;
    // The previous sweep's counters, for the rates.
    std::optional<core::CounterReading> swept;
    core::TimePoint swept_at{0};
    core::History history{0, core::Usec{1}};
    std::uint64_t listed = 0;  // the last sweep (or refresh) that named it
    std::uint64_t reads = 0;   // since its directory was opened: every kLimitsEvery-th is Full
  };
  // Cgroups read per loop iteration. Each is 15 files (Detail::Full); measured with the
  // sweep benchmark (bench/RESULTS.md): 16 keeps a batch around a millisecond natively.
  static constexpr std::size_t kBatch = 16;
  // Limits (memory.max, memory.high, pids.max, cpu.max) are read with the first read of a
  // directory, then every kLimitsEvery-th read (Detail::Full), and at once after
  // limitsChanged(); the reads between take Detail::Sweep, 10 files instead of 16.
  static constexpr std::uint64_t kLimitsEvery = 30;
  // What a sweep reads. Shared, not copied: the daemon rebuilds the list only when
  // something changed (a worker started, exited, was added), not per sweep.
  using Targets = std::shared_ptr<const std::vector<Target>>;
  using TargetsFn = std::function<Targets()>;

  // `root`: the cgroup2 mount; `proc_root`: procfs, for the host's totals.
  MetricsSampler(sd_event* event,
                 std::filesystem::path root,
                 std::filesystem::path proc_root = "/proc");
  ~MetricsSampler();
  MetricsSampler(const MetricsSampler&) = delete;
  MetricsSampler& operator=(const MetricsSampler&) = delete;

  // Sweeps every `interval` (0: none) over what `targets` lists at that moment, keeping
  // `history_slots` samples per cgroup; calls `swept` on the loop after each sweep. A
  // change of `history_slots` or `interval` starts every history afresh.
  void configure(core::Usec interval,
                 std::size_t history_slots,
                 TargetsFn targets,
                 std::function<void()> swept);

  // Reads each of `units` whose last read is older than `max_age`, then calls `done` on the
  // loop (never from inside refresh()). Requests are served in order, before a sweep.
  void refresh(std::vector<Target> units, core::Usec max_age, std::function<void()> done);

  // systemd may have changed some unit's limits (vigilctl set, a reload): the next read of
  // every cgroup includes them.
  void limitsChanged();

  // What is known of `key`: nullptr when it was never listed or was dropped (a target that
  // two sweeps in a row did not list).
  const Entry* find(const std::string& key) const;
  status::SamplerView view() const;
  // The host's totals from the last sweep (nullopt before the first, or when /proc could
  // not be read: counted in read_errors).
  const std::optional<status::HostView>& host() const { return host_; }
  std::uint64_t cgroupsRead() const { return reads_; }
  // Loop iterations that read cgroups (each at most kBatch of them).
  std::uint64_t batches() const { return batches_; }

 private:
  struct Request {
    Targets units;
    std::size_t next = 0;
    core::Usec max_age{0};
    bool sweep = false;
    core::TimePoint started{0};
    std::function<void()> done;
  };
  static int onDefer(sd_event_source* s, void* ud);
  static int onTimer(sd_event_source* s, std::uint64_t usec, void* ud);
  void enqueue(Request r);
  void work();
  void read(Entry& e, const Target& target, bool sweep);
  void finishSweep(const Request& r);
  void readHost();
  core::TimePoint now() const;

  sd_event* event_;
  std::filesystem::path root_;
  std::filesystem::path proc_root_;
  long ticks_per_sec_ = 100;
  std::optional<status::HostView> host_;
  cgroup::HostStats host_stats_;
  core::TimePoint host_at_{0};
  sd_event_source* source_ = nullptr;
  sd_event_source* timer_ = nullptr;
  core::Usec interval_{0};
  std::size_t history_slots_ = 0;
  TargetsFn targets_;
  std::function<void()> swept_;
  std::deque<Request> queue_;
  bool sweep_queued_ = false;
  std::unordered_map<std::string, Entry> entries_;
  cgroup::CgroupStats stats_;
  std::string buffer_;
  std::uint64_t sweep_no_ = 0;  // sweeps started
  std::uint64_t sweeps_ = 0;    // sweeps completed
  std::uint64_t skipped_ = 0;
  std::uint64_t reads_ = 0;
  std::uint64_t batches_ = 0;
  std::uint64_t errors_ = 0;
  std::uint64_t last_cgroups_ = 0;
  std::uint64_t sweep_reads_ = 0;
  core::Usec last_sweep_{0};
  core::Usec longest_batch_{0};
  // The longest batch of the sweep in progress and of the last complete one, in wall time
  // and in this thread's CPU time.
  bool sweeping_ = false;
  core::Usec sweep_batch_wall_{0};
  core::Usec sweep_batch_cpu_{0};
  core::Usec last_sweep_batch_wall_{0};
  core::Usec last_sweep_batch_cpu_{0};
};

}  // namespace vigil::daemon
