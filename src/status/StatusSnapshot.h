#pragma once
// What vigild shows of itself and its trees: one typed, immutable value composed in one
// place (daemon/StatusModel) and read by the D-Bus API, vigilctl, the state file and, later,
// the metrics exporter and the status page. Plain data, no I/O.
//
// Field names are the keys of `vigilctl status --json` and of the API's a{sv} dictionaries
// (docs/DBUS-API.md); each struct lists its fields once, in visitFields(self, visitor)
// (self const for encoders, mutable for decoders), which every encoder and decoder uses,
// so the JSON and the D-Bus forms cannot drift apart.
// Times are CLOCK_REALTIME usec (`*_realtime_usec`) or spans in usec (`*_usec`), so that a
// client on another host (vigilctl -H) can show them. Optional fields are absent (JSON
// null) when unknown or unset: a limit that is not set, a figure not sampled.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vigil::status {

// Worker states as operators see them (vigilctl(1), STATES).
inline constexpr const char* kWorkerStates[] = {"starting", "running", "stopping", "backoff",
                                                "stopped",  "exited",  "failed",   "frozen"};
// A checked worker's health (core::HealthState); "" in WorkerView::health: no checks.
inline constexpr const char* kHealthStates[] = {"starting", "healthy", "unhealthy", "unknown"};
// Supervisor states.
inline constexpr const char* kSupervisorStates[] = {"starting", "running", "restarting",
                                                    "stopping", "stopped", "failed"};

// One end of a worker's unit and what was decided about it.
struct ExitView {
  std::int64_t at_realtime_usec = 0;
  std::string description;  // "exited with status 3"
  std::string reason;       // machine tag: "exit-code", "signal", "oom-kill", ...
  std::string code;         // how the main process ended: exited | killed | dumped | ""
  std::int32_t status = 0;  // exit status, or signal number when killed/dumped
  std::string decision;     // "restart in 1.2s (failure 2 in a row, 2 of 5 restarts ...)"

  template <class Self, class V>
  static void visitFields(Self& self, V&& v) {
    v("at_realtime_usec", self.at_realtime_usec);
    v("description", self.description);
    v("reason", self.reason);
    v("code", self.code);
    v("status", self.status);
    v("decision", self.decision);
  }
};

// PSI (*.pressure, /proc/pressure/*): the cumulative stall time of "some" and "full", and
// the 10 s average of "some" in hundredths of a percent (the kernel's two decimals: 1234 is
// 12.34 %). Absent when the kernel has no such file or line (PSI off, "full" of cpu before
// 5.13).
struct PressureView {
  std::optional<std::uint64_t> cpu_some_usec;
  std::optional<std::uint64_t> cpu_full_usec;
  std::optional<std::uint64_t> memory_some_usec;
  std::optional<std::uint64_t> memory_full_usec;
  std::optional<std::uint64_t> io_some_usec;
  std::optional<std::uint64_t> io_full_usec;
  std::optional<std::uint64_t> cpu_some_avg10_centipercent;
  std::optional<std::uint64_t> memory_some_avg10_centipercent;
  std::optional<std::uint64_t> io_some_avg10_centipercent;

  template <class Self, class V>
  static void visitFields(Self& self, V&& v) {
    v("cpu_some_usec", self.cpu_some_usec);
    v("cpu_full_usec", self.cpu_full_usec);
    v("memory_some_usec", self.memory_some_usec);
    v("memory_full_usec", self.memory_full_usec);
    v("io_some_usec", self.io_some_usec);
    v("io_full_usec", self.io_full_usec);
    v("cpu_some_avg10_centipercent", self.cpu_some_avg10_centipercent);
    v("memory_some_avg10_centipercent", self.memory_some_avg10_centipercent);
    v("io_some_avg10_centipercent", self.io_some_avg10_centipercent);
  }
};

// A cgroup's figures from the sampler's last read (daemon/MetricsSampler.h), in base units.
// Counters are cumulative since the cgroup was created (a restarted worker starts again at
// 0). Limits are what the kernel enforces (the cgroup's own memory.max, pids.max): absent
// for "max".
struct CgroupView {
  std::int64_t sampled_realtime_usec = 0;
  std::uint64_t memory_current_bytes = 0;
  std::uint64_t memory_anon_bytes = 0;
  std::uint64_t memory_file_bytes = 0;
  std::optional<std::uint64_t> memory_max_bytes;
  std::optional<std::uint64_t> memory_high_bytes;
  std::uint64_t memory_events_high = 0;  // memory.events: times over memory.high
  std::uint64_t memory_events_max = 0;   // times at memory.max (reclaim or OOM)
  std::uint64_t oom_kills = 0;           // memory.events oom_kill
  std::uint64_t cpu_usage_usec = 0;
  std::uint64_t cpu_nr_throttled = 0;  // periods throttled by cpu.max
  std::uint64_t cpu_throttled_usec = 0;
  // CPU time per second of wall time between the last two sweeps: 1000000 is one core.
  // Absent until the cgroup has been read by two sweeps.
  std::optional<std::uint64_t> cpu_usec_per_sec;
  std::uint64_t tasks_current = 0;
  std::optional<std::uint64_t> tasks_max;
  std::uint64_t io_read_bytes = 0;  // io.stat summed over devices
  std::uint64_t io_write_bytes = 0;
  std::uint64_t io_read_ios = 0;
  std::uint64_t io_write_ios = 0;
  // Bytes per second between the last two sweeps (absent, as cpu_usec_per_sec, until then).
  std::optional<std::uint64_t> io_read_bytes_per_sec;
  std::optional<std::uint64_t> io_write_bytes_per_sec;
  PressureView pressure;

  template <class Self, class V>
  static void visitFields(Self& self, V&& v) {
    v("sampled_realtime_usec", self.sampled_realtime_usec);
    v("memory_current_bytes", self.memory_current_bytes);
    v("memory_anon_bytes", self.memory_anon_bytes);
    v("memory_file_bytes", self.memory_file_bytes);
    v("memory_max_bytes", self.memory_max_bytes);
    v("memory_high_bytes", self.memory_high_bytes);
    v("memory_events_high", self.memory_events_high);
    v("memory_events_max", self.memory_events_max);
    v("oom_kills", self.oom_kills);
    v("cpu_usage_usec", self.cpu_usage_usec);
    v("cpu_nr_throttled", self.cpu_nr_throttled);
    v("cpu_throttled_usec", self.cpu_throttled_usec);
    v("cpu_usec_per_sec", self.cpu_usec_per_sec);
    v("tasks_current", self.tasks_current);
    v("tasks_max", self.tasks_max);
    v("io_read_bytes", self.io_read_bytes);
    v("io_write_bytes", self.io_write_bytes);
    v("io_read_ios", self.io_read_ios);
    v("io_write_ios", self.io_write_ios);
    v("io_read_bytes_per_sec", self.io_read_bytes_per_sec);
    v("io_write_bytes_per_sec", self.io_write_bytes_per_sec);
    v("pressure", self.pressure);
  }
};

struct WorkerView {
  std::string path;        // "web/api@2": the target that names this instance
  std::string tree;        // "web"
  std::string supervisor;  // "web" or "web/backend"
  std::string unit;        // "vigil-web-api@2.service"
  std::uint32_t instance = 0;
  std::uint32_t position = 0;  // index among its supervisor's children (start order)
  std::string state;           // kWorkerStates
  std::string active_state;    // systemd's ActiveState, "" if unknown
  std::uint32_t main_pid = 0;
  std::string cgroup;  // ControlGroup
  std::uint32_t restarts = 0;
  std::uint32_t consecutive_failures = 0;
  std::optional<std::int64_t> uptime_usec;      // running: for how long
  std::optional<std::int64_t> restart_in_usec;  // backoff: when the restart is due
  std::optional<std::int64_t> frozen_since_realtime_usec;
  // Health (vigil.yaml(5), HEALTH): "" when the worker has no checks, else kHealthStates.
  std::string health;
  std::string health_check;   // what is checked: "http GET http://127.0.0.1:8080/healthz every 10s"
  std::string health_detail;  // why it is in that state: "http: http 503"
  std::optional<std::int64_t> health_since_realtime_usec;
  std::optional<ExitView> last_exit;
  std::vector<ExitView> exits;  // the last five, oldest first
  // Limits the unit has (as configured, or as changed live by `set`); absent: none.
  std::optional<std::uint64_t> memory_max_bytes;
  std::optional<std::uint64_t> memory_high_bytes;
  std::optional<std::uint32_t> cpu_quota_percent;
  std::optional<std::uint64_t> cpu_weight;
  std::optional<std::uint64_t> tasks_max;
  std::optional<std::uint64_t> io_weight;
  bool limits_set_live = false;  // changed by `set`; a reload puts the file's back
  // cgroup figures from the last sample (absent: not running or not sampled).
  std::optional<std::uint64_t> memory_current_bytes;
  std::optional<std::uint64_t> cpu_usage_usec;
  std::optional<std::uint64_t> tasks_current;
  std::optional<std::uint64_t> oom_kills;
  std::optional<std::int64_t> sampled_realtime_usec;
  // Every figure of the last sample (the flat ones above repeat a few of them).
  std::optional<CgroupView> cgroup_stats;

  template <class Self, class V>
  static void visitFields(Self& self, V&& v) {
    v("path", self.path);
    v("tree", self.tree);
    v("supervisor", self.supervisor);
    v("unit", self.unit);
    v("instance", self.instance);
    v("position", self.position);
    v("state", self.state);
    v("active_state", self.active_state);
    v("main_pid", self.main_pid);
    v("cgroup", self.cgroup);
    v("restarts", self.restarts);
    v("consecutive_failures", self.consecutive_failures);
    v("uptime_usec", self.uptime_usec);
    v("restart_in_usec", self.restart_in_usec);
    v("frozen_since_realtime_usec", self.frozen_since_realtime_usec);
    v("health", self.health);
    v("health_check", self.health_check);
    v("health_detail", self.health_detail);
    v("health_since_realtime_usec", self.health_since_realtime_usec);
    v("last_exit", self.last_exit);
    v("exits", self.exits);
    v("memory_max_bytes", self.memory_max_bytes);
    v("memory_high_bytes", self.memory_high_bytes);
    v("cpu_quota_percent", self.cpu_quota_percent);
    v("cpu_weight", self.cpu_weight);
    v("tasks_max", self.tasks_max);
    v("io_weight", self.io_weight);
    v("limits_set_live", self.limits_set_live);
    v("memory_current_bytes", self.memory_current_bytes);
    v("cpu_usage_usec", self.cpu_usage_usec);
    v("tasks_current", self.tasks_current);
    v("oom_kills", self.oom_kills);
    v("sampled_realtime_usec", self.sampled_realtime_usec);
    v("cgroup_stats", self.cgroup_stats);
  }
};

struct SupervisorView {
  std::string path;  // "web", "web/backend"
  std::string tree;
  std::uint32_t position = 0;  // index among its parent's children; roots: 0
  std::string state;           // kSupervisorStates
  std::string strategy;
  std::string slice;
  std::uint32_t restarts_in_window = 0;
  std::uint32_t max_restarts = 0;
  std::int64_t period_usec = 0;
  std::string failure;  // why it failed, when failed
  bool frozen = false;
  // The slice budget (as configured, or as changed live by `set`); absent: none.
  std::optional<std::uint64_t> memory_max_bytes;
  std::optional<std::uint64_t> memory_high_bytes;
  std::optional<std::uint32_t> cpu_quota_percent;
  std::optional<std::uint64_t> cpu_weight;
  std::optional<std::uint64_t> tasks_max;
  std::optional<std::uint64_t> io_weight;
  bool limits_set_live = false;
  // The slice's cgroup figures (every worker below it included), from the last sample.
  std::optional<CgroupView> cgroup_stats;

  template <class Self, class V>
  static void visitFields(Self& self, V&& v) {
    v("path", self.path);
    v("tree", self.tree);
    v("position", self.position);
    v("state", self.state);
    v("strategy", self.strategy);
    v("slice", self.slice);
    v("restarts_in_window", self.restarts_in_window);
    v("max_restarts", self.max_restarts);
    v("period_usec", self.period_usec);
    v("failure", self.failure);
    v("frozen", self.frozen);
    v("memory_max_bytes", self.memory_max_bytes);
    v("memory_high_bytes", self.memory_high_bytes);
    v("cpu_quota_percent", self.cpu_quota_percent);
    v("cpu_weight", self.cpu_weight);
    v("tasks_max", self.tasks_max);
    v("io_weight", self.io_weight);
    v("limits_set_live", self.limits_set_live);
    v("cgroup_stats", self.cgroup_stats);
  }
};

struct ReloadView {
  std::string result;               // "applied" | "rejected" | "" (none yet)
  std::vector<std::string> errors;  // file:line:col lines of a rejected configuration
  std::vector<std::string> warnings;

  template <class Self, class V>
  static void visitFields(Self& self, V&& v) {
    v("result", self.result);
    v("errors", self.errors);
    v("warnings", self.warnings);
  }
};

// The host's totals from the sampler's last sweep (/proc/stat, /proc/meminfo,
// /proc/pressure/*).
struct HostView {
  std::int64_t sampled_realtime_usec = 0;
  std::uint32_t cpus = 0;
  std::uint64_t cpu_user_usec = 0;    // user + nice, all CPUs
  std::uint64_t cpu_system_usec = 0;  // system + irq + softirq
  std::uint64_t cpu_idle_usec = 0;
  std::uint64_t cpu_iowait_usec = 0;
  std::uint64_t cpu_steal_usec = 0;
  // Busy CPU time (all but idle and iowait) per second between the last two sweeps:
  // 1000000 is one CPU busy.
  std::optional<std::uint64_t> cpu_busy_usec_per_sec;
  std::uint64_t memory_total_bytes = 0;
  std::uint64_t memory_available_bytes = 0;
  std::uint64_t swap_total_bytes = 0;
  std::uint64_t swap_free_bytes = 0;
  PressureView pressure;

  template <class Self, class V>
  static void visitFields(Self& self, V&& v) {
    v("sampled_realtime_usec", self.sampled_realtime_usec);
    v("cpus", self.cpus);
    v("cpu_user_usec", self.cpu_user_usec);
    v("cpu_system_usec", self.cpu_system_usec);
    v("cpu_idle_usec", self.cpu_idle_usec);
    v("cpu_iowait_usec", self.cpu_iowait_usec);
    v("cpu_steal_usec", self.cpu_steal_usec);
    v("cpu_busy_usec_per_sec", self.cpu_busy_usec_per_sec);
    v("memory_total_bytes", self.memory_total_bytes);
    v("memory_available_bytes", self.memory_available_bytes);
    v("swap_total_bytes", self.swap_total_bytes);
    v("swap_free_bytes", self.swap_free_bytes);
    v("pressure", self.pressure);
  }
};

struct VigildView {
  std::string version;
  std::uint32_t pid = 0;
  std::string config;  // the configuration file
  std::string tier;
  bool ready = false;                   // READY=1 sent: the first start of every tree has settled
  std::uint32_t config_generation = 0;  // bumped by every load, applied or not
  ReloadView last_reload;
  std::string status_text;  // what systemctl status shows (STATUS=)
  std::uint32_t workers_running = 0;
  std::uint32_t workers_backoff = 0;
  std::uint32_t workers_other = 0;
  std::uint32_t trees_failed = 0;
  std::optional<HostView> host;  // from the sampler's last sweep, once there was one
  // Not "": the configuration file was invalid when vigild started, and it supervises with
  // the last good copy (why, and from when).
  std::string config_fallback;
  // Not "": vigild cannot write its state directory (full, read-only); it supervises on.
  std::string state_error;

  template <class Self, class V>
  static void visitFields(Self& self, V&& v) {
    v("version", self.version);
    v("pid", self.pid);
    v("config", self.config);
    v("tier", self.tier);
    v("ready", self.ready);
    v("config_generation", self.config_generation);
    v("last_reload", self.last_reload);
    v("status_text", self.status_text);
    v("workers_running", self.workers_running);
    v("workers_backoff", self.workers_backoff);
    v("workers_other", self.workers_other);
    v("trees_failed", self.trees_failed);
    v("host", self.host);
    v("config_fallback", self.config_fallback);
    v("state_error", self.state_error);
  }
};

// A supervision event as the journal and the bus signal carry it.
struct EventView {
  std::int64_t at_realtime_usec = 0;
  std::string type;  // "worker-exited", ... (core::toString(EventType))
  std::string tree;
  std::string supervisor;
  std::string worker;  // path, "" for supervisor events
  std::string unit;
  std::string reason;
  std::string message;
  std::string caller;  // operator-command: who asked ("uid 1000")
  std::int32_t exit_status = 0;
  std::int64_t delay_usec = 0;
  std::uint32_t restarts = 0;

  template <class Self, class V>
  static void visitFields(Self& self, V&& v) {
    v("at_realtime_usec", self.at_realtime_usec);
    v("type", self.type);
    v("tree", self.tree);
    v("supervisor", self.supervisor);
    v("worker", self.worker);
    v("unit", self.unit);
    v("reason", self.reason);
    v("message", self.message);
    v("caller", self.caller);
    v("exit_status", self.exit_status);
    v("delay_usec", self.delay_usec);
    v("restarts", self.restarts);
  }
};

// One metric of a cgroup's history over a range (core::History::summarize), in the unit
// `unit` names.
struct HistoryMetricView {
  static constexpr std::uint64_t kNoSample = UINT64_MAX;
  std::string name;  // cpu, memory, tasks, io_read, io_write, memory_pressure
  // "1/10000 core" (cpu: 10000 is one core busy), "bytes" (memory), "tasks",
  // "bytes/s" (io_read, io_write), "1/100 %" (memory_pressure: PSI some avg10)
  std::string unit;
  std::uint64_t min = 0;  // over the present samples; 0 when there are none
  std::uint64_t avg = 0;  // rounded
  std::uint64_t max = 0;
  // `points` values evenly spread over the range, oldest first; kNoSample where that part
  // of the range has no sample (the cgroup was not running).
  std::vector<std::uint64_t> series;

  template <class Self, class V>
  static void visitFields(Self& self, V&& v) {
    v("name", self.name);
    v("unit", self.unit);
    v("min", self.min);
    v("avg", self.avg);
    v("max", self.max);
    v("series", self.series);
  }
};

// The history of one worker instance's or supervisor slice's cgroup.
struct HistoryView {
  std::string path;                // "web/api@2" or "web" (a supervisor)
  std::string kind;                // "worker" | "supervisor"
  std::string unit;                // the service or slice
  std::int64_t interval_usec = 0;  // between samples (metrics.interval)
  std::int64_t range_usec = 0;     // what the summary covers (at most the ring's reach)
  std::uint32_t samples = 0;       // present samples in the range
  std::uint32_t slots = 0;         // samples and gaps in the range
  std::vector<HistoryMetricView> metrics;

  template <class Self, class V>
  static void visitFields(Self& self, V&& v) {
    v("path", self.path);
    v("kind", self.kind);
    v("unit", self.unit);
    v("interval_usec", self.interval_usec);
    v("range_usec", self.range_usec);
    v("samples", self.samples);
    v("slots", self.slots);
    v("metrics", self.metrics);
  }
};

struct StatusSnapshot {
  std::int64_t taken_realtime_usec = 0;
  VigildView vigild;
  std::vector<SupervisorView> supervisors;  // depth first, in configuration order
  std::vector<WorkerView> workers;          // the same order; each instance its own entry
};

}  // namespace vigil::status
