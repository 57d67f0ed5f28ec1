#pragma once
// The journal sink: every event as a journal entry with structured fields (one MESSAGE_ID
// per event type, VIGIL_* fields, documented in vigild(8)), optionally also on stderr.

#include <cstddef>
#include <deque>
#include <string>
#include <vector>

#include "core/Event.h"
#include "daemon/EventSink.h"

namespace vigil::daemon {

class EventLog : public EventSink {
 public:
  EventLog(bool to_journal, bool to_stderr) : to_journal_(to_journal), to_stderr_(to_stderr) {}

  void publish(const core::Event& event, const status::EventView& view) override;
  void record(const core::Event& event);
  // Events less important than `level` (trace|debug|info|warn|error, from the
  // configuration's log_level) are kept in memory and sent on the bus but not logged,
  // except the audit trail (alwaysLogged()).
  void setLevel(const std::string& level);
  // True for the events logged whatever the level: operator commands and configuration
  // loads (issue 7: every operator action is an event in the journal, naming the caller).
  static bool alwaysLogged(core::EventType type);
  // Warnings about a configuration (applied or not), one journal entry each.
  void configWarnings(const std::string& file, const std::vector<std::string>& warnings);

  // The human sentence of an event: "web/api: exited with status 3".
  static std::string text(const core::Event& event);
  // Journal PRIORITY for an event type (3 = err, 4 = warning, 6 = info).
  static int priority(const core::Event& event);
  static const char* messageId(core::EventType type);

 private:
  bool to_journal_;
  bool to_stderr_;
  int max_priority_ = 6;  // log events with PRIORITY <= this (6 = info)
};

}  // namespace vigil::daemon
