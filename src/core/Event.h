#pragma once
// Every supervision decision is an Event: what happened, to whom, and why. The daemon
// sends each one to the journal with structured fields and keeps the recent ones in
// memory for the API.

#include <string>

#include "core/Spec.h"
#include "core/Time.h"

namespace vigil::core {

enum class EventType {
  WorkerStarting,      // a start job was submitted
  WorkerStarted,       // the unit is up (start job done; READY=1 for notify workers)
  WorkerStartFailed,   // the start job failed
  WorkerExited,        // the unit's main process ended on its own
  WorkerStopping,      // vigil asked systemd to stop the unit
  WorkerStopped,       // the stop finished
  WorkerAdopted,       // found running at startup with the same spec: left alone
  WorkerNotRestarted,  // restart policy says no (temporary, or transient + clean exit)
  RestartScheduled,    // a restart will happen after a backoff delay
  StrategyApplied,     // one_for_all / rest_for_one is restarting siblings
  IntensityExceeded,   // too many restarts in the period: the supervisor gives up
  SupervisorStarted,   // all children of a supervisor are up
  SupervisorFailed,    // a supervisor stopped its children after exceeding its intensity
  Escalated,           // a failed supervisor is reported to its parent
  TreeFailed,          // a root tree stays down until an operator restarts it
  ConfigApplied,       // a configuration was loaded and reconciled
  UnitRemoved,         // a unit no longer in the configuration is being stopped
  SliceFailed,         // a supervisor's slice could not be created or updated
  OperatorCommand,     // an operator's command was accepted (Event::caller says whose)
  ConfigRejected,      // a configuration could not be loaded; nothing changed
  WorkerHealth,        // a worker's health changed (reason: the new state)
};

const char* toString(EventType type);

struct Event {
  TimePoint at{0};
  EventType type = EventType::ConfigApplied;
  std::string tree;        // root tree name
  std::string supervisor;  // "ingest/parsers"
  std::string worker;      // "ingest/parsers/csv@2"; empty for supervisor events
  std::string unit;        // vigil-ingest-parsers-csv@2.service
  std::string reason;      // short machine tag: "exit-code", "oom-kill", "one_for_all", ...
  std::string message;     // one human sentence
  std::string setting;     // the configuration key a start failure points at, e.g. "user"
  std::string caller;      // OperatorCommand: who asked, e.g. "uid 1000 (alice)"
  int exit_status = 0;
  Usec delay{0};          // RestartScheduled
  unsigned restarts = 0;  // restarts inside the intensity window
};

}  // namespace vigil::core
