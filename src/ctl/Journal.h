#pragma once
// vigilctl's reading of the local journal (sd-journal): the output of workers (`logs`,
// the last lines in `status TARGET`) and the history of supervision events (`events`),
// which survives vigild restarts because it is in the journal, not in vigild.
//
// Worker output is found by the fields vigild puts on every worker unit
// (LogExtraFields: VIGIL_TREE, VIGIL_SUPERVISOR, VIGIL_WORKER), so every incarnation of
// every instance is found, also after the unit is gone. Events are vigild's own entries
// (_SYSTEMD_UNIT=vigild.service) with a VIGIL_EVENT field (vigild(8), JOURNAL FIELDS).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "status/StatusSnapshot.h"
#include "util/Result.h"

namespace vigil::ctl {

struct LogEntry {
  std::int64_t realtime_usec = 0;
  std::string worker;  // VIGIL_WORKER: "web/api@2"
  std::string unit;    // _SYSTEMD_UNIT
  std::uint32_t pid = 0;
  int priority = 6;
  std::string message;
  std::vector<std::pair<std::string, std::string>> fields;  // all of them, for -o json
};

// Is `path` the target or below it ("" matches all)? Targets as in the configuration.
bool withinTarget(const std::string& path, const std::string& target);

class Journal {
 public:
  // The local system journal. Errors: sd_journal_open's, with context.
  static util::Result<std::unique_ptr<Journal>> open();
  // When this process may not read the system journal (not root, not in the groups
  // 'systemd-journal', 'adm' or 'wheel' that journald grants read access to, per
  // systemd-journald.service(8) ACCESS CONTROL), the one-line hint to print; otherwise
  // nullopt. Entries are then silently missing, as with journalctl, hence the hint.
  static std::optional<std::string> accessHint();
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  struct Query {
    std::string target;                 // "" = everything
    std::size_t lines = 10;             // the last N (0 = all since `since`)
    std::optional<std::int64_t> since;  // CLOCK_REALTIME usec
    bool with_fields = false;           // fill LogEntry::fields
  };
  // Worker output of `target`, oldest first.
  util::Result<std::vector<LogEntry>> logs(const Query& q);
  // Supervision events about `target`, oldest first.
  util::Result<std::vector<status::EventView>> events(const Query& q);

  // After logs()/events(): waits for new entries of the same kind and target and calls
  // `fn` with each, until fn returns false. Blocks.
  util::Result<void> followLogs(const Query& q, const std::function<bool(const LogEntry&)>& fn);

  struct Impl;

 private:
  explicit Journal(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::ctl
