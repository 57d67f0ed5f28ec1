#include "ctl/Render.h"

#include <algorithm>
#include <functional>
#include <map>

#include <fmt/format.h>

namespace vigil::ctl {

namespace {

std::string parentOf(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

std::string leafOf(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Pads to `width` visible columns (UTF-8 continuation bytes do not count).
std::string pad(const std::string& s, std::size_t width) {
  std::size_t visible = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) visible++;
  return visible >= width ? s + " " : s + std::string(width - visible, ' ');
}

std::string styledState(const Style& style, const std::string& state, std::size_t width) {
  return style.state(state) + std::string(width > state.size() ? width - state.size() : 1, ' ');
}

std::string limitOf(const std::optional<std::uint64_t>& v) {
  return v ? shortBytes(*v) : "";
}

std::string memoryCell(const status::WorkerView& w) {
  if (!w.memory_current_bytes) return w.memory_max_bytes ? "-/" + limitOf(w.memory_max_bytes) : "-";
  std::string out = shortBytes(*w.memory_current_bytes);
  if (w.memory_max_bytes) out += "/" + shortBytes(*w.memory_max_bytes);
  return out;
}

std::string tasksCell(const status::WorkerView& w) {
  if (!w.tasks_current) return "-";
  std::string out = std::to_string(*w.tasks_current);
  if (w.tasks_max) out += "/" + std::to_string(*w.tasks_max);
  return out;
}

// The CPU rate between the sampler's last two sweeps: "12.3%" of one core ("-" until a
// worker has been swept twice).
std::string cpuPercent(const status::WorkerView& w) {
  if (!w.cgroup_stats || !w.cgroup_stats->cpu_usec_per_sec) return "-";
  return fmt::format("{:.1f}%", static_cast<double>(*w.cgroup_stats->cpu_usec_per_sec) / 1e4);
}

std::string timeCell(const status::WorkerView& w) {
  if (w.uptime_usec && (w.state == "running" || w.state == "frozen"))
    return "up " + shortSpan(*w.uptime_usec);
  if (w.restart_in_usec) return "in " + shortSpan(*w.restart_in_usec);
  return "-";
}

constexpr std::size_t kStateWidth = 11;
constexpr std::size_t kHealthWidth = 11;
constexpr std::size_t kPidWidth = 8;
constexpr std::size_t kTimeWidth = 13;
constexpr std::size_t kRestartsWidth = 9;
constexpr std::size_t kMemoryWidth = 15;
constexpr std::size_t kCpuWidth = 9;
constexpr std::size_t kTasksWidth = 9;

struct Node {
  const status::SupervisorView* sup = nullptr;
  const status::WorkerView* worker = nullptr;
  std::uint32_t position = 0;
  std::uint32_t instance = 0;
};

}  // namespace

std::string renderTree(const status::StatusSnapshot& s, const RenderOptions& o) {
  const Style& st = o.style;
  std::string out;
  const auto& v = s.vigild;
  out += fmt::format("vigild {} (pid {}), {}; config {} (generation {}, {}), tier {}\n", v.version,
                     v.pid, v.ready ? "ready" : "starting", v.config, v.config_generation,
                     v.last_reload.result.empty() ? "none" : v.last_reload.result,
                     v.tier.empty() ? "-" : v.tier);
  out += fmt::format("workers: {} running, {} in backoff, {} other; failed trees: {}\n",
                     v.workers_running, v.workers_backoff, v.workers_other, v.trees_failed);
  if (!v.config_fallback.empty()) {
    out += st.red("LAST GOOD CONFIGURATION: " + v.config_fallback) + "\n";
    for (const auto& e : v.last_reload.errors) out += "  " + e + "\n";
  } else if (v.last_reload.result == "rejected") {
    out += st.red("the last reload was rejected; the previous configuration is in force:") + "\n";
    for (const auto& e : v.last_reload.errors) out += "  " + e + "\n";
  }
  if (!v.state_error.empty()) out += st.red("state: " + v.state_error) + "\n";
  if (s.supervisors.empty()) {
    out += "\nno trees configured (add them to " + v.config + ", then vigilctl reload)\n";
    return out;
  }

  // Children of each supervisor, in start order.
  std::map<std::string, std::vector<Node>> children;
  std::vector<const status::SupervisorView*> roots;
  for (const auto& sup : s.supervisors) {
    const std::string parent = parentOf(sup.path);
    if (parent.empty()) {
      roots.push_back(&sup);
    } else {
      children[parent].push_back(Node{&sup, nullptr, sup.position, 0});
    }
  }
  for (const auto& w : s.workers)
    children[w.supervisor].push_back(Node{nullptr, &w, w.position, w.instance});
  for (auto& [path, list] : children) {
    std::stable_sort(list.begin(), list.end(), [](const Node& a, const Node& b) {
      return a.position != b.position ? a.position < b.position : a.instance < b.instance;
    });
  }

  // Name column width: the deepest indented name.
  std::size_t name_width = 4;
  const std::function<void(const std::string&, std::size_t)> measure = [&](const std::string& path,
                                                                           std::size_t depth) {
    name_width = std::max(name_width, depth * 3 + leafOf(path).size());
    auto it = children.find(path);
    if (it == children.end()) return;
    for (const auto& n : it->second) {
      if (n.sup) {
        measure(n.sup->path, depth + 1);
      } else {
        name_width = std::max(name_width, (depth + 1) * 3 + leafOf(n.worker->path).size());
      }
    }
  };
  for (const auto* r : roots) measure(r->path, 0);
  name_width += 2;

  out += "\n" +
         st.bold(pad("NAME", name_width) + pad("STATE", kStateWidth) + pad("PID", kPidWidth) +
                 pad("UP/NEXT", kTimeWidth) + pad("RESTARTS", kRestartsWidth) +
                 pad("MEMORY", kMemoryWidth) + pad("CPU%", kCpuWidth) + pad("TASKS", kTasksWidth) +
                 pad("HEALTH", kHealthWidth) + "LAST EXIT") +
         "\n";
  const char* tee = o.unicode ? "├─ " : "|- ";
  const char* corner = o.unicode ? "└─ " : "`- ";
  const char* bar = o.unicode ? "│  " : "|  ";

  const auto supLine = [&](const status::SupervisorView& sup, const std::string& prefix) {
    std::string line =
        pad(prefix + leafOf(sup.path), name_width) + styledState(st, sup.state, kStateWidth);
    line += fmt::format("{}, {} of {} restarts in {}", sup.strategy, sup.restarts_in_window,
                        sup.max_restarts, shortSpan(sup.period_usec));
    if (sup.frozen) line += ", frozen";
    if (!sup.failure.empty()) line += ": " + st.red(sup.failure);
    return line + "\n";
  };
  const auto workerLine = [&](const status::WorkerView& w, const std::string& prefix) {
    std::string line =
        pad(prefix + leafOf(w.path), name_width) + styledState(st, w.state, kStateWidth);
    line += pad(w.main_pid ? std::to_string(w.main_pid) : "-", kPidWidth);
    line += pad(timeCell(w), kTimeWidth);
    line += pad(std::to_string(w.restarts), kRestartsWidth);
    line += pad(memoryCell(w), kMemoryWidth);
    line += pad(cpuPercent(w), kCpuWidth);
    line += pad(tasksCell(w), kTasksWidth);
    // After the figures: scripts that read "NAME STATE PID ..." keep working.
    const std::string health = w.health.empty() ? "-" : w.health;
    line += (w.health == "unhealthy" ? st.red(health) : health) +
            std::string(kHealthWidth > health.size() ? kHealthWidth - health.size() : 1, ' ');
    line += w.last_exit ? w.last_exit->description : "-";
    // No trailing blanks.
    while (!line.empty() && line.back() == ' ') line.pop_back();
    return line + "\n";
  };
  const std::function<void(const status::SupervisorView&, const std::string&, const std::string&)>
      walk = [&](const status::SupervisorView& sup, const std::string& lead,
                 const std::string& indent) {
        out += supLine(sup, lead);
        auto it = children.find(sup.path);
        if (it == children.end()) return;
        const auto& list = it->second;
        for (std::size_t i = 0; i < list.size(); ++i) {
          const bool last = i + 1 == list.size();
          const std::string branch = indent + (last ? corner : tee);
          const std::string next_indent = indent + (last ? "   " : bar);
          if (list[i].sup) {
            walk(*list[i].sup, branch, next_indent);
          } else {
            out += workerLine(*list[i].worker, branch);
          }
        }
      };
  for (const auto* r : roots) walk(*r, "", "");
  return out;
}

namespace {
// A metric's value in its unit (status::HistoryMetricView::unit) as operators read it.
std::string historyValue(const std::string& name, std::uint64_t v) {
  if (name == "cpu") return fmt::format("{:.1f}%", static_cast<double>(v) / 100);
  if (name == "memory") return shortBytes(v);
  if (name == "io_read" || name == "io_write") return shortBytes(v) + "/s";
  if (name == "memory_pressure") return fmt::format("{:.2f}%", static_cast<double>(v) / 100);
  return std::to_string(v);
}

std::string sparkline(const std::vector<std::uint64_t>& series, bool unicode) {
  static const char* const kBlocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  static const char* const kAscii[] = {"_", ".", "-", "~", "=", "+", "*", "#"};
  std::uint64_t lo = UINT64_MAX, hi = 0;
  for (auto v : series) {
    if (v == status::HistoryMetricView::kNoSample) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  std::string out;
  for (auto v : series) {
    if (v == status::HistoryMetricView::kNoSample) {
      out += ' ';
      continue;
    }
    // A flat series sits on the lowest level; otherwise min..max over the 8 levels.
    const std::size_t level = hi > lo ? static_cast<std::size_t>((v - lo) * 7 / (hi - lo)) : 0;
    out += unicode ? kBlocks[level] : kAscii[level];
  }
  return out;
}
}  // namespace

std::string renderHistory(const std::vector<status::HistoryView>& histories,
                          const RenderOptions& o) {
  const Style& st = o.style;
  std::string out;
  static const std::map<std::string, std::string> kLabels = {
      {"cpu", "CPU"},         {"memory", "memory"},     {"tasks", "tasks"},
      {"io_read", "IO read"}, {"io_write", "IO write"}, {"memory_pressure", "memory pressure"}};
  bool first = true;
  for (const auto& h : histories) {
    if (!first) out += "\n";
    first = false;
    out += fmt::format("{} {} ({}): last {}, one sample every {}, {} of {} present\n",
                       h.kind == "supervisor" ? "supervisor" : "worker", st.bold(h.path), h.unit,
                       shortSpan(h.range_usec), shortSpan(h.interval_usec), h.samples, h.slots);
    if (h.samples == 0) {
      out += "  no samples in this range (not running, or sampled too recently)\n";
      continue;
    }
    out += st.bold(fmt::format("  {:<16} {:>10} {:>10} {:>10}  {}", "METRIC", "MIN", "AVG", "MAX",
                               "OLDEST -> NOW")) +
           "\n";
    for (const auto& m : h.metrics) {
      const auto label = kLabels.find(m.name);
      out += fmt::format("  {:<16} {:>10} {:>10} {:>10}  {}\n",
                         label == kLabels.end() ? m.name : label->second,
                         historyValue(m.name, m.min), historyValue(m.name, m.avg),
                         historyValue(m.name, m.max), sparkline(m.series, o.unicode));
    }
  }
  return out;
}

std::string renderWorker(const status::WorkerView& w,
                         const status::SupervisorView* sup,
                         const std::vector<std::string>& log_lines,
                         const std::string& log_note,
                         const RenderOptions& o) {
  const Style& st = o.style;
  std::string out;
  const char* dot = o.unicode ? "●" : "*";
  out += fmt::format("{} {} - {}\n", w.state == "running" ? st.state(dot) : dot, st.bold(w.path),
                     st.state(w.state));
  const auto row = [&](const char* key, const std::string& value) {
    out += fmt::format("{:>14}: {}\n", key, value);
  };
  row("Unit", w.unit + (w.active_state.empty() ? "" : " (" + w.active_state + ")"));
  if (sup) row("Supervisor", fmt::format("{} ({}, {})", sup->path, sup->strategy, sup->state));
  if (sup) row("Slice", sup->slice);
  if (!w.cgroup.empty()) row("CGroup", w.cgroup);
  row("Main PID", w.main_pid ? std::to_string(w.main_pid) : "-");
  if (w.uptime_usec && (w.state == "running" || w.state == "frozen"))
    row("Up", shortSpan(*w.uptime_usec));
  if (w.frozen_since_realtime_usec) row("Frozen since", localTime(*w.frozen_since_realtime_usec));
  if (w.restart_in_usec) row("Next restart", "in " + shortSpan(*w.restart_in_usec));
  row("Restarts",
      fmt::format("{} ({} consecutive failure(s))", w.restarts, w.consecutive_failures));
  if (!w.health.empty()) {
    std::string h = w.health == "unhealthy" ? st.red(w.health) : w.health;
    if (!w.health_detail.empty()) h += " (" + w.health_detail + ")";
    if (w.health_since_realtime_usec) h += " since " + localTime(*w.health_since_realtime_usec);
    row("Health", h);
    row("Checks", w.health_check);
  }
  const auto limit = [](const std::optional<std::uint64_t>& v, bool bytes) {
    return v ? (bytes ? shortBytes(*v) : std::to_string(*v)) : std::string("none");
  };
  row("Memory", fmt::format("{} (max {}, high {})",
                            w.memory_current_bytes ? shortBytes(*w.memory_current_bytes) : "-",
                            limit(w.memory_max_bytes, true), limit(w.memory_high_bytes, true)));
  row("CPU", fmt::format("{} now, {} in total (quota {}, weight {})", cpuPercent(w),
                         w.cpu_usage_usec ? cpuTime(*w.cpu_usage_usec) : "-",
                         w.cpu_quota_percent ? fmt::format("{}%", *w.cpu_quota_percent) : "none",
                         w.cpu_weight ? std::to_string(*w.cpu_weight) : "default"));
  if (w.cgroup_stats && w.cgroup_stats->cpu_nr_throttled > 0)
    row("Throttled",
        fmt::format("{} in {} period(s) (cpu quota)", cpuTime(w.cgroup_stats->cpu_throttled_usec),
                    w.cgroup_stats->cpu_nr_throttled));
  row("Tasks", fmt::format("{} (max {})", w.tasks_current ? std::to_string(*w.tasks_current) : "-",
                           limit(w.tasks_max, false)));
  if (w.io_weight) row("IO weight", std::to_string(*w.io_weight));
  if (w.cgroup_stats) {
    const status::CgroupView& c = *w.cgroup_stats;
    row("IO", fmt::format("{} read, {} written", shortBytes(c.io_read_bytes),
                          shortBytes(c.io_write_bytes)));
    const auto psi = [](const std::optional<std::uint64_t>& v) {
      return v ? fmt::format("{:.2f}%", static_cast<double>(*v) / 100) : std::string("-");
    };
    if (c.pressure.cpu_some_avg10_centipercent || c.pressure.memory_some_avg10_centipercent ||
        c.pressure.io_some_avg10_centipercent)
      row("Pressure", fmt::format("cpu {}, memory {}, io {} (some, avg10)",
                                  psi(c.pressure.cpu_some_avg10_centipercent),
                                  psi(c.pressure.memory_some_avg10_centipercent),
                                  psi(c.pressure.io_some_avg10_centipercent)));
  }
  if (w.limits_set_live)
    row("Note", "limits were changed live (vigilctl set); a reload restores the file's");
  if (w.oom_kills && *w.oom_kills > 0) row("OOM kills", std::to_string(*w.oom_kills));
  if (w.exits.empty()) {
    row("Last exit", w.last_exit ? w.last_exit->description : "none");
  } else {
    out += fmt::format("{:>14}:\n", "Last exits");
    for (auto it = w.exits.rbegin(); it != w.exits.rend(); ++it) {
      out += fmt::format("    {}  {} ({})\n", localTime(it->at_realtime_usec), it->description,
                         it->reason);
      out += fmt::format("    {:19}  -> {}\n", "", it->decision);
    }
  }
  out += "\n";
  if (!log_note.empty()) out += st.dim(log_note) + "\n";
  for (const auto& l : log_lines) out += l + "\n";
  return out;
}

std::string renderEvent(const status::EventView& e, const Style& style) {
  const std::string who = !e.worker.empty()       ? e.worker
                          : !e.supervisor.empty() ? e.supervisor
                                                  : "vigil";
  std::string line =
      fmt::format("{} {:<20} {}: {}", localTime(e.at_realtime_usec), e.type, who, e.message);
  if (!e.reason.empty()) line += " (" + e.reason + ")";
  const bool bad = e.type == "intensity-exceeded" || e.type == "tree-failed" ||
                   e.type == "supervisor-failed" || e.type == "worker-start-failed" ||
                   e.type == "config-rejected";
  return bad ? style.red(line) : line;
}

}  // namespace vigil::ctl
