#include "ctl/Journal.h"

#include <grp.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>

#include <fmt/format.h>
#include <systemd/sd-journal.h>

namespace vigil::ctl {

bool withinTarget(const std::string& path, const std::string& target) {
  if (target.empty() || path == target) return true;
  if (path.size() <= target.size() || !path.starts_with(target)) return false;
  const char next = path[target.size()];
  return next == '/' || (next == '@' && target.find('@') == std::string::npos);
}

struct Journal::Impl {
  sd_journal* j = nullptr;
  ~Impl() {
    if (j) sd_journal_close(j);
  }

  std::string field(const char* name) {
    const void* data = nullptr;
    size_t len = 0;
    if (sd_journal_get_data(j, name, &data, &len) < 0) return "";
    const std::size_t prefix = std::strlen(name) + 1;
    if (len < prefix) return "";
    return std::string(static_cast<const char*>(data) + prefix, len - prefix);
  }

  // Matches for the kind of entries wanted; the target is filtered in code (a prefix).
  void matchLogs(const std::string& target) {
    sd_journal_flush_matches(j);
    const std::string tree = target.substr(0, target.find_first_of("/@"));
    if (!tree.empty()) sd_journal_add_match(j, ("VIGIL_TREE=" + tree).c_str(), 0);
  }
  void matchEvents() {
    sd_journal_flush_matches(j);
    sd_journal_add_match(j, "_SYSTEMD_UNIT=vigild.service", 0);
  }

  // The current entry as worker output of `target`, or nullopt.
  std::optional<LogEntry> logEntry(const std::string& target, bool with_fields) {
    if (!field("VIGIL_EVENT").empty()) return std::nullopt;  // vigild's own event
    LogEntry e;
    e.worker = field("VIGIL_WORKER");
    if (e.worker.empty() || !withinTarget(e.worker, target)) return std::nullopt;
    e.unit = field("_SYSTEMD_UNIT");
    if (e.unit == "vigild.service") return std::nullopt;
    std::uint64_t t = 0;
    sd_journal_get_realtime_usec(j, &t);
    e.realtime_usec = static_cast<std::int64_t>(t);
    e.message = field("MESSAGE");
    const std::string pid = field("_PID");
    e.pid = static_cast<std::uint32_t>(std::strtoul(pid.c_str(), nullptr, 10));
    const std::string prio = field("PRIORITY");
    if (!prio.empty()) e.priority = std::atoi(prio.c_str());
    if (with_fields) {
      const void* data = nullptr;
      size_t len = 0;
      sd_journal_restart_data(j);
      while (sd_journal_enumerate_data(j, &data, &len) > 0) {
        const std::string kv(static_cast<const char*>(data), len);
        const auto eq = kv.find('=');
        if (eq != std::string::npos) e.fields.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
      }
    }
    return e;
  }

  std::optional<status::EventView> eventEntry(const std::string& target) {
    status::EventView e;
    e.type = field("VIGIL_EVENT");
    if (e.type.empty() || e.type == "config-warning") return std::nullopt;
    e.tree = field("VIGIL_TREE");
    e.supervisor = field("VIGIL_SUPERVISOR");
    e.worker = field("VIGIL_WORKER");
    if (!target.empty()) {
      const std::string& path = !e.worker.empty() ? e.worker : e.supervisor;
      if (path.empty() || !withinTarget(path, target)) return std::nullopt;
    }
    std::uint64_t t = 0;
    sd_journal_get_realtime_usec(j, &t);
    e.at_realtime_usec = static_cast<std::int64_t>(t);
    e.unit = field("VIGIL_UNIT");
    e.reason = field("VIGIL_REASON");
    e.caller = field("VIGIL_CALLER");
    std::string message = field("MESSAGE");
    // MESSAGE is "who: message" (vigild(8)); the view keeps who and message apart.
    const std::string who = !e.worker.empty()       ? e.worker
                            : !e.supervisor.empty() ? e.supervisor
                                                    : "vigil";
    if (message.starts_with(who + ": ")) message = message.substr(who.size() + 2);
    e.message = message;
    e.exit_status = std::atoi(field("VIGIL_EXIT_STATUS").c_str());
    e.delay_usec = std::atoll(field("VIGIL_DELAY_USEC").c_str());
    e.restarts =
        static_cast<std::uint32_t>(std::strtoul(field("VIGIL_RESTARTS").c_str(), nullptr, 10));
    return e;
  }

  // Positions the cursor so that the following sd_journal_next() calls return the
  // entries the query wants, and collects them with `take`.
  template <class T, class Take>
  util::Result<std::vector<T>> collect(const Query& q, Take take) {
    std::vector<T> out;
    int r = 0;
    if (q.lines > 0) {
      // The last N matching entries after `since`: walk back from the tail.
      r = sd_journal_seek_tail(j);
      if (r < 0) return util::sysFail(-r, "seeking the journal");
      while (out.size() < q.lines && (r = sd_journal_previous(j)) > 0) {
        std::uint64_t t = 0;
        sd_journal_get_realtime_usec(j, &t);
        if (q.since && static_cast<std::int64_t>(t) < *q.since) break;
        if (auto e = take()) out.push_back(std::move(*e));
      }
      if (r < 0) return util::sysFail(-r, "reading the journal");
      std::reverse(out.begin(), out.end());
      // Leave the cursor at the tail for following.
      sd_journal_seek_tail(j);
      sd_journal_previous(j);
      return out;
    }
    r = q.since ? sd_journal_seek_realtime_usec(j, static_cast<std::uint64_t>(*q.since))
                : sd_journal_seek_head(j);
    if (r < 0) return util::sysFail(-r, "seeking the journal");
    while ((r = sd_journal_next(j)) > 0) {
      if (auto e = take()) out.push_back(std::move(*e));
    }
    if (r < 0) return util::sysFail(-r, "reading the journal");
    return out;
  }
};

Journal::Journal(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Journal::~Journal() = default;

std::optional<std::string> Journal::accessHint() {
  if (geteuid() == 0) return std::nullopt;
  std::vector<gid_t> gids(static_cast<std::size_t>(std::max(getgroups(0, nullptr), 0)) + 1);
  const int n = getgroups(static_cast<int>(gids.size()), gids.data());
  gids.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  gids.push_back(getegid());
  for (const char* name : {"systemd-journal", "adm", "wheel"}) {
    const group* g = getgrnam(name);
    if (g && std::find(gids.begin(), gids.end(), g->gr_gid) != gids.end()) return std::nullopt;
  }
  return std::string(
      "hint: you may not read the system journal, so workers' output and vigild's events are "
      "missing here; users in the group 'systemd-journal' or 'adm' see them (or use sudo)");
}

util::Result<std::unique_ptr<Journal>> Journal::open() {
  auto impl = std::make_unique<Impl>();
  int r = sd_journal_open(&impl->j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
  if (r < 0) return util::sysFail(-r, "opening the journal");
  return std::unique_ptr<Journal>(new Journal(std::move(impl)));
}

util::Result<std::vector<LogEntry>> Journal::logs(const Query& q) {
  impl_->matchLogs(q.target);
  return impl_->collect<LogEntry>(q, [&] { return impl_->logEntry(q.target, q.with_fields); });
}

util::Result<std::vector<status::EventView>> Journal::events(const Query& q) {
  impl_->matchEvents();
  return impl_->collect<status::EventView>(q, [&] { return impl_->eventEntry(q.target); });
}

util::Result<void> Journal::followLogs(const Query& q,
                                       const std::function<bool(const LogEntry&)>& fn) {
  for (;;) {
    int r;
    while ((r = sd_journal_next(impl_->j)) > 0) {
      if (auto e = impl_->logEntry(q.target, q.with_fields)) {
        if (!fn(*e)) return {};
      }
    }
    if (r < 0) return util::sysFail(-r, "reading the journal");
    r = sd_journal_wait(impl_->j, UINT64_MAX);
    if (r < 0) return util::sysFail(-r, "waiting for the journal");
  }
}

}  // namespace vigil::ctl
