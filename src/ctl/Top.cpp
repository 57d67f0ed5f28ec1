#include "ctl/Top.h"

#include <algorithm>
#include <functional>
#include <map>

#include <fmt/format.h>

#include "ctl/Format.h"

namespace vigil::ctl {

namespace {

std::string leafOf(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}
std::string parentOf(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

void fill(TopRow& row, const std::optional<status::CgroupView>& view) {
  if (!view) return;
  const status::CgroupView& c = *view;
  if (c.cpu_usec_per_sec) row.cpu_percent = static_cast<double>(*c.cpu_usec_per_sec) / 1e4;
  row.memory_bytes = c.memory_current_bytes;
  row.memory_limit_bytes = c.memory_max_bytes;
  row.tasks = c.tasks_current;
  row.tasks_limit = c.tasks_max;
  if (c.pressure.memory_some_avg10_centipercent)
    row.memory_pressure_percent =
        static_cast<double>(*c.pressure.memory_some_avg10_centipercent) / 100;
  if (c.io_read_bytes_per_sec) row.io_read_per_sec = static_cast<double>(*c.io_read_bytes_per_sec);
  if (c.io_write_bytes_per_sec)
    row.io_write_per_sec = static_cast<double>(*c.io_write_bytes_per_sec);
}

double key(const TopRow& r, TopSort sort) {
  switch (sort) {
    case TopSort::Cpu:
      return r.cpu_percent.value_or(-1);
    case TopSort::Memory:
      return r.memory_bytes ? static_cast<double>(*r.memory_bytes) : -1;
    case TopSort::Tasks:
      return r.tasks ? static_cast<double>(*r.tasks) : -1;
    case TopSort::Restarts:
      return r.restarts;
    case TopSort::Tree:
      break;
  }
  return 0;
}

std::string cell(const std::optional<double>& v, const char* format) {
  return v ? fmt::format(fmt::runtime(format), *v) : "-";
}
std::string bytesOver(const std::optional<std::uint64_t>& v,
                      const std::optional<std::uint64_t>& limit) {
  if (!v) return "-";
  return limit ? shortBytes(*v) + "/" + shortBytes(*limit) : shortBytes(*v);
}
std::string countOver(const std::optional<std::uint64_t>& v,
                      const std::optional<std::uint64_t>& limit) {
  if (!v) return "-";
  return limit ? fmt::format("{}/{}", *v, *limit) : std::to_string(*v);
}
std::string rate(const std::optional<double>& v) {
  return v ? shortBytes(static_cast<std::uint64_t>(*v + 0.5)) + "/s" : "-";
}

// Pads to `width` visible columns (UTF-8 continuation bytes do not count); cuts longer text.
std::string fit(const std::string& s, std::size_t width, bool right = false) {
  std::size_t visible = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) visible++;
  if (visible >= width) return s + " ";
  const std::string fill(width - visible, ' ');
  return right ? fill + s + " " : s + fill + " ";
}

std::string cut(const std::string& line, std::size_t width) {
  if (width == 0) return line;
  std::size_t visible = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if ((static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) continue;
    if (visible++ == width) return line.substr(0, i);
  }
  return line;
}

}  // namespace

const char* toString(TopSort sort) {
  switch (sort) {
    case TopSort::Tree:
      return "start order";
    case TopSort::Cpu:
      return "CPU";
    case TopSort::Memory:
      return "memory";
    case TopSort::Tasks:
      return "tasks";
    case TopSort::Restarts:
      return "restarts";
  }
  return "?";
}

std::vector<TopRow> topRows(const status::StatusSnapshot& current, TopSort sort) {
  struct Node {
    TopRow row;
    std::uint32_t position = 0;
    std::uint32_t instance = 0;
  };
  std::map<std::string, std::vector<Node>> children;  // by parent supervisor path
  std::vector<Node> roots;
  for (const auto& s : current.supervisors) {
    Node n;
    n.row.supervisor = true;
    n.row.name = leafOf(s.path);
    n.row.path = s.path;
    n.row.state = s.state;
    n.row.restarts = s.restarts_in_window;
    fill(n.row, s.cgroup_stats);
    n.position = s.position;
    const std::string parent = parentOf(s.path);
    (parent.empty() ? roots : children[parent]).push_back(std::move(n));
  }
  for (const auto& w : current.workers) {
    Node n;
    n.row.name = leafOf(w.path);
    n.row.path = w.path;
    n.row.state = w.state;
    n.row.restarts = w.restarts;
    n.row.health = w.health;
    fill(n.row, w.cgroup_stats);
    n.position = w.position;
    n.instance = w.instance;
    children[w.supervisor].push_back(std::move(n));
  }
  const auto order = [sort](std::vector<Node>& list) {
    std::stable_sort(list.begin(), list.end(), [sort](const Node& a, const Node& b) {
      if (sort != TopSort::Tree) {
        const double ka = key(a.row, sort), kb = key(b.row, sort);
        if (ka != kb) return ka > kb;
      }
      return a.position != b.position ? a.position < b.position : a.instance < b.instance;
    });
  };
  order(roots);
  std::vector<TopRow> out;
  const std::function<void(Node&, std::size_t)> walk = [&](Node& n, std::size_t depth) {
    n.row.depth = depth;
    out.push_back(n.row);
    if (!n.row.supervisor) return;
    auto it = children.find(n.row.path);
    if (it == children.end()) return;
    order(it->second);
    for (auto& c : it->second) walk(c, depth + 1);
  };
  for (auto& r : roots) walk(r, 0);
  return out;
}

std::vector<std::string> topTable(const std::vector<TopRow>& rows, std::size_t width) {
  std::size_t name_width = 4;
  for (const auto& r : rows) name_width = std::max(name_width, r.depth * 2 + r.name.size());
  name_width += 1;
  std::vector<std::string> out;
  std::string header = fit("NAME", name_width) + fit("STATE", 10) + fit("CPU%", 7, true) +
                       fit("MEMORY", 15, true) + fit("TASKS", 10, true) + fit("IO READ", 10, true) +
                       fit("IO WRITE", 10, true) + fit("MEM PSI", 8, true) +
                       fit("RESTARTS", 9, true) + " HEALTH";
  while (!header.empty() && header.back() == ' ') header.pop_back();
  out.push_back(cut(header, width));
  for (const auto& r : rows) {
    // Indentation shows the tree; siblings may be sorted by a figure, so no branch lines.
    const std::string indent(r.depth * 2, ' ');
    std::string line = fit(indent + r.name, name_width) + fit(r.state, 10) +
                       fit(cell(r.cpu_percent, "{:.1f}"), 7, true) +
                       fit(bytesOver(r.memory_bytes, r.memory_limit_bytes), 15, true) +
                       fit(countOver(r.tasks, r.tasks_limit), 10, true) +
                       fit(rate(r.io_read_per_sec), 10, true) +
                       fit(rate(r.io_write_per_sec), 10, true) +
                       fit(cell(r.memory_pressure_percent, "{:.2f}"), 8, true) +
                       fit(std::to_string(r.restarts), 9, true) + " " +
                       (r.health.empty() ? (r.supervisor ? "" : "-") : r.health);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out.push_back(cut(line, width));
  }
  return out;
}

std::string topHeader(const status::StatusSnapshot& s, TopSort sort) {
  const auto& v = s.vigild;
  std::string host;
  if (v.host) {
    const auto& h = *v.host;
    host = fmt::format(
        "; host {} CPU(s) {} busy, memory {} of {} available", h.cpus,
        h.cpu_busy_usec_per_sec
            ? fmt::format("{:.1f}%", static_cast<double>(*h.cpu_busy_usec_per_sec) / 1e4)
            : std::string("-"),
        shortBytes(h.memory_available_bytes), shortBytes(h.memory_total_bytes));
  }
  return fmt::format(
      "vigild {}: {} running, {} in backoff, {} other, {} failed tree(s){}; sorted by {}  "
      "[c]pu [m]emory [t]asks [r]estarts [p] start order [q]uit",
      v.version, v.workers_running, v.workers_backoff, v.workers_other, v.trees_failed, host,
      toString(sort));
}

}  // namespace vigil::ctl
