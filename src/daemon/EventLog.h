#pragma once
// Where supervision events go: the journal, with structured fields (one MESSAGE_ID per
// event type, VIGIL_* fields), optionally stderr, and a bounded in-memory history that
// the state file (and later the D-Bus API) exposes.

#include <cstddef>
#include <deque>
#include <string>
#include <vector>

#include "core/Event.h"

namespace vigil::daemon {

class EventLog {
 public:
  explicit EventLog(bool to_journal, bool to_stderr, std::size_t keep = 200)
      : to_journal_(to_journal), to_stderr_(to_stderr), keep_(keep) {}

  void record(const core::Event& event);
  // Events less important than `level` (trace|debug|info|warn|error, from the
  // configuration's log_level) are kept in memory but not logged.
  void setLevel(const std::string& level);
  // A rejected configuration is not an engine decision but is reported the same way.
  void configRejected(const std::string& file, const std::string& error, core::TimePoint now);
  // Warnings about a configuration (applied or not), one journal entry each.
  void configWarnings(const std::string& file, const std::vector<std::string>& warnings);

  const std::deque<core::Event>& recent() const { return recent_; }

  // The human sentence of an event: "web/api: exited with status 3".
  static std::string text(const core::Event& event);
  // Journal PRIORITY for an event type (3 = err, 4 = warning, 6 = info).
  static int priority(const core::Event& event);
  static const char* messageId(core::EventType type);

 private:
  bool to_journal_;
  bool to_stderr_;
  std::size_t keep_;
  int max_priority_ = 6;  // log events with PRIORITY <= this (6 = info)
  std::deque<core::Event> recent_;
};

}  // namespace vigil::daemon
