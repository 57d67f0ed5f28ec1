#include "status/StatusPage.h"

#include <algorithm>
#include <iterator>
#include <unordered_map>

#include <fmt/format.h>

#include "status/Units.h"
#include "util/Utf8.h"

namespace vigil::status {

namespace {

constexpr std::string_view kReplacement = util::kUtf8Replacement;
using util::utf8Length;

// One page, composed into out_ in order: raw() for the renderer's own markup, text() for
// anything that comes from the snapshot or the events (escaped), put() for markup around
// numbers and the ASCII the formatters above produce.
class Page {
 public:
  Page(const StatusSnapshot& s, const PageOptions& o) : s_(s), o_(o) {}

  std::string render(const std::vector<EventView>& events);

 private:
  struct Node {
    const SupervisorView* sup = nullptr;
    const WorkerView* worker = nullptr;
    std::uint32_t position = 0;
    std::uint32_t instance = 0;
  };

  // Literal markup (never snapshot text).
  void raw(std::string_view markup) { out_ += markup; }
  // Snapshot text.
  void text(std::string_view t) { appendHtmlEscaped(out_, t); }
  template <class... Args>
  void put(fmt::format_string<Args...> f, Args&&... args) {
    fmt::format_to(std::back_inserter(out_), f, std::forward<Args>(args)...);
  }
  // "12s ago", for a time before the snapshot's.
  std::string ago(std::int64_t realtime_usec) const;

  void head();
  void summary();
  void trees();
  void tree(const SupervisorView& root);
  void walk(const SupervisorView& sup, const std::string& lead, const std::string& indent);
  void supervisorRow(const SupervisorView& sup, const std::string& lead);
  void workerRow(const WorkerView& w, const std::string& lead);
  // A memory cell: current against limit, with a bar when both are known.
  void memoryCell(const std::optional<std::uint64_t>& current,
                  const std::optional<std::uint64_t>& limit);
  void cpuCell(const std::optional<CgroupView>& stats);
  void eventTable(const std::vector<EventView>& events);
  void footer();

  const StatusSnapshot& s_;
  const PageOptions& o_;
  std::string out_;
  // Children of each supervisor path, in supervision order; keys view the snapshot.
  std::unordered_map<std::string_view, std::vector<Node>> children_;
};

// The class of a state's badge; states outside the documented sets get "st-other" (the
// class attribute never carries snapshot text).
const char* stateClass(std::string_view state) {
  static constexpr std::string_view kKnown[] = {"starting", "running", "stopping",
                                                "backoff",  "stopped", "exited",
                                                "failed",   "frozen",  "restarting"};
  static constexpr const char* kClass[] = {"st st-starting", "st st-running", "st st-stopping",
                                           "st st-backoff",  "st st-stopped", "st st-exited",
                                           "st st-failed",   "st st-frozen",  "st st-restarting"};
  for (std::size_t i = 0; i < std::size(kKnown); ++i)
    if (state == kKnown[i]) return kClass[i];
  return "st st-other";
}

const char* healthClass(std::string_view health) {
  if (health == "healthy") return "h h-healthy";
  if (health == "unhealthy") return "h h-unhealthy";
  if (health == "starting") return "h h-starting";
  return "h h-other";
}

// Events that vigilctl events shows in red (ctl::renderEvent).
bool badEvent(std::string_view type) {
  return type == "intensity-exceeded" || type == "tree-failed" || type == "supervisor-failed" ||
         type == "worker-start-failed" || type == "config-rejected";
}

std::string_view parentOf(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

constexpr std::string_view kStyle = R"(<style>
body{font:14px/1.4 "DejaVu Sans",system-ui,sans-serif;margin:1.2em;color:#1d1f21;background:#fff}
h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.15em;margin:1.4em 0 .4em}
p{margin:.2em 0}.dim,.sub{color:#666}.sub{font-size:.85em}
.alert{color:#b00020;font-weight:bold;border:2px solid #b00020;padding:.4em .6em;margin:.5em 0}
.alert ul{margin:.2em 0 0;font-weight:normal}
table{border-collapse:collapse;width:100%}
th{text-align:left;font-weight:600;border-bottom:2px solid #ccc;padding:.25em .5em;white-space:nowrap}
td{border-bottom:1px solid #e4e4e4;padding:.25em .5em;vertical-align:top}
tr.supervisor td{background:#f4f6f8}
td.name{font-family:"DejaVu Sans Mono",monospace;white-space:pre}
td.num{text-align:right;white-space:nowrap}
.guide{color:#999}
.st{font-weight:600}.st-running{color:#1a7f37}.st-failed{color:#b00020}
.st-starting,.st-stopping,.st-backoff,.st-restarting{color:#9a6700}
.st-frozen{color:#0969da}.st-stopped,.st-exited,.st-other{color:#666}
.h-healthy{color:#1a7f37}.h-unhealthy{color:#b00020;font-weight:600}.h-starting{color:#9a6700}
.bar{width:8em;height:.55em;background:#e4e4e4;border-radius:.2em;margin-top:.2em}
.fill{height:100%;border-radius:.2em}.ok{background:#2da44e}.warn{background:#d4a72c}
.crit{background:#cf222e}
tr.bad td{color:#b00020}
footer{margin-top:1.5em;font-size:.85em;color:#666}
</style>
)";

}  // namespace

void appendHtmlEscaped(std::string& out, std::string_view text) {
  std::size_t i = 0;
  std::size_t run = 0;  // start of the bytes copied as they are
  const auto flush = [&](std::size_t end) {
    if (end > run) out.append(text.data() + run, end - run);
  };
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::string_view replacement;
    std::size_t skip = 1;
    if (c < 0x80) {
      switch (c) {
        case '&':
          replacement = "&amp;";
          break;
        case '<':
          replacement = "&lt;";
          break;
        case '>':
          replacement = "&gt;";
          break;
        case '"':
          replacement = "&quot;";
          break;
        case '\'':
          replacement = "&#39;";
          break;
        case '\t':
        case '\n':
        case '\r':
          break;
        default:
          if (c < 0x20 || c == 0x7F) replacement = kReplacement;
      }
    } else {
      std::size_t bad = 0;
      const std::size_t len = utf8Length(text, i, &bad);
      if (len == 0) {
        replacement = kReplacement;
        skip = bad;
      } else {
        i += len;
        continue;
      }
    }
    if (replacement.empty()) {
      ++i;
      continue;
    }
    flush(i);
    out += replacement;
    i += skip;
    run = i;
  }
  flush(text.size());
}

std::string htmlEscaped(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  appendHtmlEscaped(out, text);
  return out;
}

std::optional<unsigned> memoryPermille(std::uint64_t current, std::uint64_t limit) {
  if (limit == 0) return std::nullopt;
  if (current >= limit) return 1000;
  // 128 bits: current * 1000 overflows 64 beyond 16 PiB.
  __extension__ using Wide = unsigned __int128;
  return static_cast<unsigned>(static_cast<Wide>(current) * 1000 / limit);
}

std::string utcTime(std::int64_t realtime_usec) {
  constexpr std::int64_t kDay = 86400LL * 1000000;
  std::int64_t days = realtime_usec / kDay;
  std::int64_t rest = realtime_usec % kDay;
  if (rest < 0) {
    rest += kDay;
    days -= 1;
  }
  // civil_from_days (Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms"), in
  // 64-bit arithmetic so that every int64 day count has its date.
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const std::int64_t secs = rest / 1000000;
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC", year, month, day, secs / 3600,
                     secs / 60 % 60, secs % 60);
}

std::string Page::ago(std::int64_t realtime_usec) const {
  const std::int64_t d = s_.taken_realtime_usec - realtime_usec;
  if (d <= 0) return "just now";
  return shortSpan(d) + " ago";
}

std::string Page::render(const std::vector<EventView>& events) {
  const std::size_t shown = std::min(events.size(), o_.max_events);
  // Rows measured on this page: 0.45 KB for a bare worker, 0.7 KB with health, figures and
  // a last exit; 0.3 to 0.5 KB per supervisor and per event. With this reserve a page is
  // one allocation unless its strings are unusually long.
  out_.reserve(6144 + s_.workers.size() * 1024 + s_.supervisors.size() * 640 + shown * 512);
  head();
  raw("<body>\n");
  summary();
  trees();
  eventTable(events);
  footer();
  raw("</body>\n</html>\n");
  return std::move(out_);
}

void Page::head() {
  const VigildView& v = s_.vigild;
  raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
  if (o_.refresh_seconds > 0)
    put("<meta http-equiv=\"refresh\" content=\"{}\">\n", o_.refresh_seconds);
  raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
  put("<title>vigild: {} running, {} in backoff, {} other</title>\n", v.workers_running,
      v.workers_backoff, v.workers_other);
  raw(kStyle);
  raw("</head>\n");
}

void Page::summary() {
  const VigildView& v = s_.vigild;
  raw("<header>\n<h1>vigild ");
  text(v.version);
  put(" <span class=\"{}\">{}</span></h1>\n", v.ready ? "st st-running" : "st st-starting",
      v.ready ? "ready" : "starting");
  put("<p class=\"summary\">pid {} &middot; config <code>", v.pid);
  text(v.config);
  put("</code> (generation {}, last reload {}) &middot; tier ", v.config_generation,
      v.last_reload.result == "applied"    ? "applied"
      : v.last_reload.result == "rejected" ? "<b class=\"st-failed\">rejected</b>"
                                           : "none");
  text(v.tier.empty() ? std::string_view("-") : std::string_view(v.tier));
  raw("</p>\n");
  put("<p class=\"counts\">workers: <b>{}</b> running, <b>{}</b> in backoff, <b>{}</b> other; "
      "failed trees: <b>{}</b></p>\n",
      v.workers_running, v.workers_backoff, v.workers_other, v.trees_failed);
  if (v.host) {
    const HostView& h = *v.host;
    put("<p class=\"host\">host: {} CPU{}", h.cpus, h.cpus == 1 ? "" : "s");
    if (h.cpu_busy_usec_per_sec && h.cpus > 0)
      put(", {:.1f}% busy",
          static_cast<double>(*h.cpu_busy_usec_per_sec) / (static_cast<double>(h.cpus) * 1e4));
    put("; memory {} available of {}", shortBytes(h.memory_available_bytes),
        shortBytes(h.memory_total_bytes));
    if (h.pressure.memory_some_avg10_centipercent)
      put("; memory pressure {:.2f}%",
          static_cast<double>(*h.pressure.memory_some_avg10_centipercent) / 100);
    raw("</p>\n");
  }
  const auto errors = [&] {
    if (v.last_reload.errors.empty()) return;
    raw("<ul>");
    for (const auto& e : v.last_reload.errors) {
      raw("<li>");
      text(e);
      raw("</li>");
    }
    raw("</ul>");
  };
  if (!v.config_fallback.empty()) {
    raw("<div class=\"alert\" id=\"config-fallback\">LAST GOOD CONFIGURATION: ");
    text(v.config_fallback);
    errors();
    raw("</div>\n");
  } else if (v.last_reload.result == "rejected") {
    raw("<div class=\"alert\" id=\"reload-rejected\">The last reload was rejected; the previous "
        "configuration is in force:");
    errors();
    raw("</div>\n");
  }
  if (!v.state_error.empty()) {
    raw("<div class=\"alert\" id=\"state-error\">state: ");
    text(v.state_error);
    raw("</div>\n");
  }
  raw("</header>\n");
}

void Page::trees() {
  raw("<main>\n");
  if (s_.supervisors.empty()) {
    raw("<p id=\"no-trees\">No trees configured (add them to <code>");
    text(s_.vigild.config);
    raw("</code>, then <code>vigilctl reload</code>).</p>\n</main>\n");
    return;
  }
  std::vector<const SupervisorView*> roots;
  children_.reserve(s_.supervisors.size());
  for (const auto& sup : s_.supervisors) {
    const std::string_view parent = parentOf(sup.path);
    if (parent.empty()) {
      roots.push_back(&sup);
    } else {
      children_[parent].push_back(Node{&sup, nullptr, sup.position, 0});
    }
  }
  for (const auto& w : s_.workers)
    children_[w.supervisor].push_back(Node{nullptr, &w, w.position, w.instance});
  for (auto& [path, list] : children_) {
    std::stable_sort(list.begin(), list.end(), [](const Node& a, const Node& b) {
      return a.position != b.position ? a.position < b.position : a.instance < b.instance;
    });
  }
  for (const auto* r : roots) tree(*r);
  raw("</main>\n");
}

void Page::tree(const SupervisorView& root) {
  raw("<section class=\"tree\" data-tree=\"");
  text(root.tree);
  raw("\">\n<h2>");
  text(root.path);
  put(" <span class=\"{}\">", stateClass(root.state));
  text(root.state);
  raw("</span></h2>\n<table>\n<thead><tr><th>name</th><th>state</th><th>health</th>"
      "<th>unit</th><th>PID</th><th>up / next</th><th>restarts</th><th>memory</th>"
      "<th>CPU</th><th>last exit</th></tr></thead>\n<tbody>\n");
  walk(root, "", "");
  raw("</tbody>\n</table>\n</section>\n");
}

void Page::walk(const SupervisorView& sup, const std::string& lead, const std::string& indent) {
  supervisorRow(sup, lead);
  const auto it = children_.find(sup.path);
  if (it == children_.end()) return;
  const auto& list = it->second;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const bool last = i + 1 == list.size();
    const std::string branch = indent + (last ? "└─ " : "├─ ");
    if (list[i].sup) {
      walk(*list[i].sup, branch, indent + (last ? "   " : "│  "));
    } else {
      workerRow(*list[i].worker, branch);
    }
  }
}

void Page::supervisorRow(const SupervisorView& sup, const std::string& lead) {
  raw("<tr class=\"supervisor\" data-path=\"");
  text(sup.path);
  raw("\"><td class=\"name\"><span class=\"guide\">");
  text(lead);
  raw("</span><b>");
  text(sup.path);
  put("</b></td><td><span class=\"{}\">", stateClass(sup.state));
  text(sup.state);
  raw("</span>");
  if (sup.frozen) raw(" <span class=\"st st-frozen\">frozen</span>");
  raw("</td><td></td><td>");
  text(sup.slice);
  raw("</td><td class=\"dim\" colspan=\"2\">");
  text(sup.strategy);
  put("</td><td class=\"num\">{} of {} in {}</td>", sup.restarts_in_window, sup.max_restarts,
      shortSpan(sup.period_usec));
  std::optional<std::uint64_t> current;
  if (sup.cgroup_stats) current = sup.cgroup_stats->memory_current_bytes;
  memoryCell(current, sup.memory_max_bytes);
  cpuCell(sup.cgroup_stats);
  raw("<td>");
  if (!sup.failure.empty()) {
    raw("<span class=\"st-failed\">");
    text(sup.failure);
    raw("</span>");
  }
  raw("</td></tr>\n");
}

void Page::workerRow(const WorkerView& w, const std::string& lead) {
  raw("<tr class=\"worker\" data-path=\"");
  text(w.path);
  raw("\"><td class=\"name\"><span class=\"guide\">");
  text(lead);
  raw("</span>");
  text(w.path);
  put("</td><td><span class=\"{}\">", stateClass(w.state));
  text(w.state);
  raw("</span></td><td>");
  if (w.health.empty()) {
    raw("<span class=\"dim\">-</span>");
  } else {
    put("<span class=\"{}\">", healthClass(w.health));
    text(w.health);
    raw("</span>");
    if (!w.health_detail.empty()) {
      raw("<div class=\"sub\">");
      text(w.health_detail);
      raw("</div>");
    }
  }
  raw("</td><td>");
  text(w.unit);
  if (!w.active_state.empty()) {
    raw("<div class=\"sub\">");
    text(w.active_state);
    raw("</div>");
  }
  raw("</td><td class=\"num\">");
  if (w.main_pid)
    put("{}", w.main_pid);
  else
    raw("-");
  raw("</td><td class=\"num\">");
  if (w.uptime_usec && (w.state == "running" || w.state == "frozen")) {
    put("up {}", shortSpan(*w.uptime_usec));
  } else if (w.restart_in_usec) {
    put("in {}", shortSpan(*w.restart_in_usec));
  } else {
    raw("-");
  }
  put("</td><td class=\"num\">{}", w.restarts);
  if (w.consecutive_failures > 0)
    put("<div class=\"sub\">{} failed in a row</div>", w.consecutive_failures);
  raw("</td>");
  memoryCell(w.memory_current_bytes, w.memory_max_bytes);
  cpuCell(w.cgroup_stats);
  raw("<td>");
  if (w.last_exit) {
    text(w.last_exit->description);
    raw("<div class=\"sub\">");
    if (!w.last_exit->decision.empty()) {
      raw("&rarr; ");
      text(w.last_exit->decision);
      raw(" &middot; ");
    }
    raw(ago(w.last_exit->at_realtime_usec));
    raw("</div>");
  } else {
    raw("<span class=\"dim\">-</span>");
  }
  raw("</td></tr>\n");
}

void Page::memoryCell(const std::optional<std::uint64_t>& current,
                      const std::optional<std::uint64_t>& limit) {
  raw("<td class=\"num\">");
  raw(current ? shortBytes(*current) : "-");
  if (limit) {
    raw(" / ");
    raw(shortBytes(*limit));
  }
  if (current && limit) {
    if (const auto pm = memoryPermille(*current, *limit)) {
      const char* level = *pm >= 900 ? "crit" : *pm >= 700 ? "warn" : "ok";
      put("<div class=\"bar\"><div class=\"fill {}\" style=\"width:{}.{}%\"></div></div>", level,
          *pm / 10, *pm % 10);
    }
  }
  raw("</td>");
}

void Page::cpuCell(const std::optional<CgroupView>& stats) {
  raw("<td class=\"num\">");
  if (stats && stats->cpu_usec_per_sec) {
    put("{:.1f}%", static_cast<double>(*stats->cpu_usec_per_sec) / 1e4);
  } else {
    raw("-");
  }
  if (stats) put("<div class=\"sub\">{} total</div>", cpuTime(stats->cpu_usage_usec));
  raw("</td>");
}

void Page::eventTable(const std::vector<EventView>& events) {
  const std::size_t shown = std::min(events.size(), o_.max_events);
  put("<h2>Recent events <span class=\"sub\">(newest first, at most {}; the whole history: "
      "<code>vigilctl events</code>)</span></h2>\n",
      o_.max_events);
  if (shown == 0) {
    raw("<p id=\"no-events\" class=\"dim\">None since vigild started.</p>\n");
    return;
  }
  raw("<table id=\"events\">\n<thead><tr><th>time</th><th>event</th><th>target</th>"
      "<th>message</th></tr></thead>\n<tbody>\n");
  for (std::size_t k = 0; k < shown; ++k) {
    const EventView& e = events[events.size() - 1 - k];
    const std::string_view who = !e.worker.empty()       ? std::string_view(e.worker)
                                 : !e.supervisor.empty() ? std::string_view(e.supervisor)
                                                         : std::string_view("vigil");
    raw(badEvent(e.type) ? "<tr class=\"event bad\"><td class=\"num\">"
                         : "<tr class=\"event\"><td class=\"num\">");
    raw(utcTime(e.at_realtime_usec));
    raw("<div class=\"sub\">");
    raw(ago(e.at_realtime_usec));
    raw("</div></td><td>");
    text(e.type);
    raw("</td><td>");
    text(who);
    raw("</td><td>");
    text(e.message);
    if (!e.reason.empty()) {
      raw(" <span class=\"dim\">(");
      text(e.reason);
      raw(")</span>");
    }
    raw("</td></tr>\n");
  }
  raw("</tbody>\n</table>\n");
}

void Page::footer() {
  raw("<footer>Taken ");
  raw(utcTime(s_.taken_realtime_usec));
  raw(". States are as vigild knows them now; memory and CPU figures are from its last sweep "
      "of the cgroups (every <code>metrics.interval</code>).");
  if (o_.refresh_seconds > 0) put(" This page reloads every {} s.", o_.refresh_seconds);
  raw(" The same status as JSON: <a href=\"/api/v1/status\">/api/v1/status</a>; metrics: "
      "<a href=\"/metrics\">/metrics</a>.</footer>\n");
}

std::string renderStatusPage(const StatusSnapshot& snapshot,
                             const std::vector<EventView>& recent_events,
                             const PageOptions& options) {
  return Page(snapshot, options).render(recent_events);
}

}  // namespace vigil::status
