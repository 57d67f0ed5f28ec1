#include "status/Prometheus.h"

#include <cmath>
#include <functional>
#include <optional>
#include <string_view>

#include <fmt/format.h>

namespace vigil::status {

namespace {

using Getter = std::function<std::optional<double>(const CgroupView&)>;

// One series of a cgroup family: an extra label ("" for none) and its value.
struct Series {
  std::string_view extra_labels;
  Getter get;
};
struct CgroupFamily {
  std::string_view suffix;
  std::string_view type;
  std::string_view help;
  std::vector<Series> series;
};

double seconds(std::uint64_t usec) {
  return static_cast<double>(usec) / 1e6;
}
Getter plain(std::uint64_t CgroupView::*field) {
  return [field](const CgroupView& v) -> std::optional<double> {
    return static_cast<double>(v.*field);
  };
}
Getter optional(std::optional<std::uint64_t> CgroupView::*field) {
  return [field](const CgroupView& v) -> std::optional<double> {
    if (!(v.*field)) return std::nullopt;
    return static_cast<double>(*(v.*field));
  };
}
Getter usecAsSeconds(std::uint64_t CgroupView::*field) {
  return [field](const CgroupView& v) -> std::optional<double> { return seconds(v.*field); };
}

// The six series of a pressure_stall_seconds_total family: labels, and the field.
using PressureField = std::optional<std::uint64_t> PressureView::*;
constexpr std::pair<std::string_view, PressureField> kPressureSeries[] = {
    {"resource=\"cpu\",kind=\"some\"", &PressureView::cpu_some_usec},
    {"resource=\"cpu\",kind=\"full\"", &PressureView::cpu_full_usec},
    {"resource=\"memory\",kind=\"some\"", &PressureView::memory_some_usec},
    {"resource=\"memory\",kind=\"full\"", &PressureView::memory_full_usec},
    {"resource=\"io\",kind=\"some\"", &PressureView::io_some_usec},
    {"resource=\"io\",kind=\"full\"", &PressureView::io_full_usec}};

std::vector<Series> pressureSeries() {
  std::vector<Series> out;
  for (const auto& [labels, field] : kPressureSeries) {
    out.push_back({labels, [field = field](const CgroupView& v) -> std::optional<double> {
                     const auto& value = v.pressure.*field;
                     if (!value) return std::nullopt;
                     return seconds(*value);
                   }});
  }
  return out;
}

// The families every worker and every supervisor slice has, from its cgroup's figures
// (names after cAdvisor's container_* families where one exists).
const std::vector<CgroupFamily>& cgroupFamilies() {
  static const std::vector<CgroupFamily> families = {
      {"memory_bytes",
       "gauge",
       "Memory charged to the cgroup (memory.current), in bytes.",
       {{"", plain(&CgroupView::memory_current_bytes)}}},
      {"memory_limit_bytes",
       "gauge",
       "The cgroup's hard memory limit (memory.max), in bytes; absent when unlimited.",
       {{"", optional(&CgroupView::memory_max_bytes)}}},
      {"memory_high_bytes",
       "gauge",
       "The cgroup's memory throttling threshold (memory.high), in bytes; absent when "
       "unlimited.",
       {{"", optional(&CgroupView::memory_high_bytes)}}},
      {"memory_anon_bytes",
       "gauge",
       "Anonymous memory of the cgroup (memory.stat anon), in bytes.",
       {{"", plain(&CgroupView::memory_anon_bytes)}}},
      {"memory_file_bytes",
       "gauge",
       "Page cache of the cgroup (memory.stat file), in bytes.",
       {{"", plain(&CgroupView::memory_file_bytes)}}},
      {"memory_events_total",
       "counter",
       "Times the cgroup went over memory.high (event=\"high\") or reached memory.max "
       "(event=\"max\") (memory.events).",
       {{"event=\"high\"", plain(&CgroupView::memory_events_high)},
        {"event=\"max\"", plain(&CgroupView::memory_events_max)}}},
      {"oom_kills_total",
       "counter",
       "Processes of the cgroup killed by the OOM killer (memory.events oom_kill).",
       {{"", plain(&CgroupView::oom_kills)}}},
      {"cpu_seconds_total",
       "counter",
       "CPU time used by the cgroup (cpu.stat usage_usec), in seconds.",
       {{"", usecAsSeconds(&CgroupView::cpu_usage_usec)}}},
      {"cpu_throttled_seconds_total",
       "counter",
       "Time the cgroup was throttled by its CPU quota (cpu.stat throttled_usec), in seconds.",
       {{"", usecAsSeconds(&CgroupView::cpu_throttled_usec)}}},
      {"cpu_throttled_periods_total",
       "counter",
       "Scheduler periods in which the cgroup was throttled (cpu.stat nr_throttled).",
       {{"", plain(&CgroupView::cpu_nr_throttled)}}},
      {"tasks",
       "gauge",
       "Processes and threads in the cgroup (pids.current).",
       {{"", plain(&CgroupView::tasks_current)}}},
      {"tasks_limit",
       "gauge",
       "The cgroup's task limit (pids.max); absent when unlimited.",
       {{"", optional(&CgroupView::tasks_max)}}},
      {"io_read_bytes_total",
       "counter",
       "Bytes read by the cgroup, all devices (io.stat rbytes).",
       {{"", plain(&CgroupView::io_read_bytes)}}},
      {"io_write_bytes_total",
       "counter",
       "Bytes written by the cgroup, all devices (io.stat wbytes).",
       {{"", plain(&CgroupView::io_write_bytes)}}},
      {"io_read_operations_total",
       "counter",
       "Read operations of the cgroup (io.stat rios).",
       {{"", plain(&CgroupView::io_read_ios)}}},
      {"io_write_operations_total",
       "counter",
       "Write operations of the cgroup (io.stat wios).",
       {{"", plain(&CgroupView::io_write_ios)}}},
      {"pressure_stall_seconds_total", "counter",
       "Time some (kind=\"some\") or all (kind=\"full\") of the cgroup's tasks were stalled on "
       "a resource (PSI, *.pressure total), in seconds.",
       pressureSeries()},
  };
  return families;
}

void escapeLabel(std::string_view value, std::string& out) {
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

// `name="value"` appended, with a comma before it unless `out` is empty.
void label(std::string& out, std::string_view name, std::string_view value) {
  if (!out.empty()) out += ',';
  out += name;
  out += "=\"";
  escapeLabel(value, out);
  out += '"';
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

// `name{labels,extra} value`.
void emit(std::string& out,
          std::string_view name,
          std::string_view labels,
          std::string_view extra,
          double value) {
  out += name;
  if (!labels.empty() || !extra.empty()) {
    out += '{';
    out += labels;
    if (!labels.empty() && !extra.empty()) out += ',';
    out += extra;
    out += '}';
  }
  // Integers as integers (a counter of bytes reads exactly); others in the shortest form
  // that reads back to the same double.
  // (The range is checked before the cast: casting NaN or 2^63 to an integer is undefined.)
  if (std::isfinite(value) && std::fabs(value) < 9.0e15 &&
      value == static_cast<double>(static_cast<std::int64_t>(value))) {
    fmt::format_to(std::back_inserter(out), " {}\n", static_cast<std::int64_t>(value));
  } else {
    fmt::format_to(std::back_inserter(out), " {}\n", value);
  }
}

std::string workerLabels(const WorkerView& w) {
  std::string l;
  label(l, "tree", w.tree);
  label(l, "supervisor", w.supervisor);
  std::string_view path = w.path;
  if (const auto at = path.rfind('@'); at != std::string_view::npos && w.instance > 0)
    path = path.substr(0, at);
  label(l, "worker", path);
  label(l, "worker_instance", w.instance > 0 ? std::to_string(w.instance) : "");
  label(l, "unit", w.unit);
  return l;
}

std::string supervisorLabels(const SupervisorView& s) {
  std::string l;
  label(l, "tree", s.tree);
  label(l, "supervisor", s.path);
  label(l, "unit", s.slice);
  return l;
}

template <typename View>
void writeCgroupFamilies(std::string& out,
                         std::string_view prefix,
                         const std::vector<View>& views,
                         const std::vector<std::string>& labels) {
  for (const CgroupFamily& f : cgroupFamilies()) {
    const std::string name = fmt::format("{}{}", prefix, f.suffix);
    header(out, name, f.type, f.help);
    for (std::size_t i = 0; i < views.size(); ++i) {
      if (!views[i].cgroup_stats) continue;
      for (const Series& s : f.series) {
        if (const auto v = s.get(*views[i].cgroup_stats))
          emit(out, name, labels[i], s.extra_labels, *v);
      }
    }
  }
}

template <std::size_t N>
void writeStates(std::string& out,
                 std::string_view name,
                 std::string_view help,
                 const char* const (&states)[N],
                 const std::vector<std::string>& labels,
                 const std::function<std::string_view(std::size_t)>& state_of) {
  header(out, name, "gauge", help);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    for (const char* st : states) {
      std::string extra;
      label(extra, "state", st);
      emit(out, name, labels[i], extra, state_of(i) == st ? 1 : 0);
    }
  }
}

// A family of one series without labels.
void single(std::string& out,
            std::string_view name,
            std::string_view type,
            std::string_view help,
            double value) {
  header(out, name, type, help);
  emit(out, name, "", "", value);
}

// A family with one series per view: `value` of each, labelled as `labels` says.
template <typename View, typename Value>
void perView(std::string& out,
             std::string_view name,
             std::string_view type,
             std::string_view help,
             const std::vector<View>& views,
             const std::vector<std::string>& labels,
             Value value) {
  header(out, name, type, help);
  for (std::size_t i = 0; i < views.size(); ++i)
    emit(out, name, labels[i], "", static_cast<double>(value(views[i])));
}

}  // namespace

void writePrometheus(const VigildView& vigild,
                     const std::vector<SupervisorView>& supervisors,
                     const std::vector<WorkerView>& workers,
                     const SamplerView& sampler,
                     std::string& out) {
  std::string build;
  label(build, "version", vigild.version);
  header(out, "vigil_build_info", "gauge", "vigild's version; the value is always 1.");
  emit(out, "vigil_build_info", build, "", 1);
  single(out, "vigil_config_last_reload_successful", "gauge",
         "1 when the last configuration load was applied, 0 when it was rejected.",
         vigild.last_reload.result == "rejected" ? 0 : 1);
  single(out, "vigil_config_last_good_in_use", "gauge",
         "1 when the configuration file was invalid at start and vigild supervises with the "
         "last good copy, else 0.",
         vigild.config_fallback.empty() ? 0 : 1);
  single(out, "vigil_state_write_failing", "gauge",
         "1 while vigild cannot write its state directory (supervision goes on), else 0.",
         vigild.state_error.empty() ? 0 : 1);

  std::vector<std::string> wl;
  wl.reserve(workers.size());
  for (const auto& w : workers) wl.push_back(workerLabels(w));
  perView(out, "vigil_worker_up", "gauge", "1 when the worker is running, else 0.", workers, wl,
          [](const WorkerView& w) { return w.state == "running" ? 1 : 0; });
  writeStates(out, "vigil_worker_state", "The worker's state: 1 for the current one, else 0.",
              kWorkerStates, wl,
              [&](std::size_t i) -> std::string_view { return workers[i].state; });
  // Health: only the workers that have checks get series.
  header(out, "vigil_worker_healthy", "gauge",
         "1 when the worker's health checks pass, else 0 (starting, unhealthy, not running); "
         "only workers with health checks.");
  for (std::size_t i = 0; i < workers.size(); ++i)
    if (!workers[i].health.empty())
      emit(out, "vigil_worker_healthy", wl[i], "", workers[i].health == "healthy" ? 1 : 0);
  header(out, "vigil_worker_health_state", "gauge",
         "The health of a worker with checks: 1 for the current state, else 0.");
  for (std::size_t i = 0; i < workers.size(); ++i) {
    if (workers[i].health.empty()) continue;
    for (const char* st : kHealthStates) {
      std::string extra;
      label(extra, "state", st);
      emit(out, "vigil_worker_health_state", wl[i], extra, workers[i].health == st ? 1 : 0);
    }
  }
  perView(out, "vigil_worker_restarts_total", "counter",
          "Restarts of the worker by its supervisor since vigild started supervising it.", workers,
          wl, [](const WorkerView& w) { return w.restarts; });
  perView(out, "vigil_worker_consecutive_failures", "gauge",
          "Failures of the worker in a row (reset when it stays up for backoff.reset_after).",
          workers, wl, [](const WorkerView& w) { return w.consecutive_failures; });
  writeCgroupFamilies(out, "vigil_worker_", workers, wl);

  std::vector<std::string> sl;
  sl.reserve(supervisors.size());
  for (const auto& s : supervisors) sl.push_back(supervisorLabels(s));
  writeStates(out, "vigil_supervisor_state",
              "The supervisor's state: 1 for the current one, else 0.", kSupervisorStates, sl,
              [&](std::size_t i) -> std::string_view { return supervisors[i].state; });
  perView(out, "vigil_supervisor_restarts_in_window", "gauge",
          "Restarts the supervisor counts toward its intensity (within intensity.period).",
          supervisors, sl, [](const SupervisorView& s) { return s.restarts_in_window; });
  perView(out, "vigil_supervisor_max_restarts", "gauge",
          "The supervisor's intensity: more restarts than this within the period fail it.",
          supervisors, sl, [](const SupervisorView& s) { return s.max_restarts; });
  writeCgroupFamilies(out, "vigil_supervisor_", supervisors, sl);

  if (vigild.host) {
    const HostView& h = *vigild.host;
    single(out, "vigil_host_cpus", "gauge", "CPUs of the host (/proc/stat).", h.cpus);
    header(out, "vigil_host_cpu_seconds_total", "counter",
           "CPU time of the host, all CPUs, by mode (/proc/stat; user includes nice, system "
           "includes irq and softirq).");
    emit(out, "vigil_host_cpu_seconds_total", "", "mode=\"user\"", seconds(h.cpu_user_usec));
    emit(out, "vigil_host_cpu_seconds_total", "", "mode=\"system\"", seconds(h.cpu_system_usec));
    emit(out, "vigil_host_cpu_seconds_total", "", "mode=\"idle\"", seconds(h.cpu_idle_usec));
    emit(out, "vigil_host_cpu_seconds_total", "", "mode=\"iowait\"", seconds(h.cpu_iowait_usec));
    emit(out, "vigil_host_cpu_seconds_total", "", "mode=\"steal\"", seconds(h.cpu_steal_usec));
    single(out, "vigil_host_memory_total_bytes", "gauge", "MemTotal (/proc/meminfo), in bytes.",
           static_cast<double>(h.memory_total_bytes));
    single(out, "vigil_host_memory_available_bytes", "gauge",
           "MemAvailable (/proc/meminfo), in bytes.",
           static_cast<double>(h.memory_available_bytes));
    single(out, "vigil_host_swap_total_bytes", "gauge", "SwapTotal (/proc/meminfo), in bytes.",
           static_cast<double>(h.swap_total_bytes));
    single(out, "vigil_host_swap_free_bytes", "gauge", "SwapFree (/proc/meminfo), in bytes.",
           static_cast<double>(h.swap_free_bytes));
    header(out, "vigil_host_pressure_stall_seconds_total", "counter",
           "Time some or all of the host's tasks were stalled on a resource "
           "(/proc/pressure/*), in seconds.");
    for (const auto& [labels, field] : kPressureSeries)
      if (const auto& value = h.pressure.*field)
        emit(out, "vigil_host_pressure_stall_seconds_total", "", labels, seconds(*value));
  }

  single(out, "vigil_sampler_sweeps_total", "counter", "Sweeps of every cgroup completed.",
         static_cast<double>(sampler.sweeps));
  single(out, "vigil_sampler_skipped_sweeps_total", "counter",
         "Sweeps skipped because the previous one was still running when they were due.",
         static_cast<double>(sampler.skipped_sweeps));
  single(out, "vigil_sampler_cgroups", "gauge", "Cgroups read by the last sweep.",
         static_cast<double>(sampler.cgroups));
  single(out, "vigil_sampler_read_errors_total", "counter",
         "Cgroup reads that failed (other than a cgroup that vanished).",
         static_cast<double>(sampler.read_errors));
  single(out, "vigil_sampler_interval_seconds", "gauge",
         "The sampling interval (metrics.interval).",
         static_cast<double>(sampler.interval_usec) / 1e6);
  single(out, "vigil_sampler_last_sweep_duration_seconds", "gauge",
         "Wall time of the last sweep, from its first read to its last.",
         static_cast<double>(sampler.last_sweep_usec) / 1e6);
  single(out, "vigil_sampler_longest_batch_seconds", "gauge",
         "The longest vigild's event loop was held by one batch of cgroup reads.",
         static_cast<double>(sampler.longest_batch_usec) / 1e6);
  single(out, "vigil_sampler_last_sweep_longest_batch_seconds", "gauge",
         "The longest the loop was held by one batch of the last sweep (wall time).",
         static_cast<double>(sampler.last_sweep_longest_batch_usec) / 1e6);
  single(out, "vigil_sampler_last_sweep_longest_batch_cpu_seconds", "gauge",
         "vigild's CPU time in the longest batch of the last sweep (without preemption).",
         static_cast<double>(sampler.last_sweep_longest_batch_cpu_usec) / 1e6);
}

void writeScrapeDuration(double seconds_taken, std::string& out) {
  single(out, "vigil_exporter_scrape_duration_seconds", "gauge",
         "How long composing this exposition took.", seconds_taken);
}

}  // namespace vigil::status
