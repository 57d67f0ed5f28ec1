#pragma once
// What of the engine's state outlives vigild: the part systemd cannot tell a new vigild.
// A unit's existence, MainPID and ActiveState are PID 1's and are read again at start
// (adoption); restart counters, backoff deadlines, intensity windows, operator stops and
// live overrides exist only in vigild, and without them a restarted vigild would restart
// a worker in backoff at once, forget how often a tree failed, and start what an operator
// stopped. The daemon persists this (daemon/SupervisionStore, under StateDirectory) and
// hands it back to Engine::start(). Times are on the engine's monotonic clock here; the
// file carries them as wall-clock times (the daemon converts).

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/Spec.h"
#include "core/Time.h"

namespace vigil::core {

// One worker instance, by unit name. Only entries with something to say are kept (see
// empty()): a fleet that never failed persists nothing.
struct PersistedWorker {
  unsigned restarts = 0;  // WorkerStatus::restarts
  unsigned failures = 0;  // consecutive failures: the backoff exponent
  // In backoff (one_for_one): when it is started again.
  std::optional<TimePoint> next_restart;
  // Down on an operator's decision (vigilctl stop, systemctl stop, or frozen when it
  // died): it stays down. `stopped_by` says who, for the status ("uid 0 (root)").
  bool stopped = false;
  std::string stopped_by;
  // Ended and not restarted by its restart type (temporary, or transient after a clean
  // exit): it stays down; starting it again would be a restart for nothing.
  bool finished = false;
  // An operator's live limits (vigilctl set), whole: what the unit runs with.
  std::optional<Limits> limits;
  // The last exit, for the status ("killed by SIGKILL"), its reason tag ("signal") and
  // kind (toString(ExitKind): whether it was clean decides how a finished worker shows).
  std::string last_exit;
  std::string last_exit_reason;
  std::string last_exit_kind;
  bool empty() const {
    return restarts == 0 && failures == 0 && !next_restart && !stopped && !finished && !limits &&
           last_exit.empty();
  }
  bool operator==(const PersistedWorker&) const = default;
};

// One supervisor, by path ("tree/sub").
struct PersistedSupervisor {
  // Restarts counted in its intensity window, oldest first (IntensityWindow).
  std::vector<TimePoint> window;
  // A root tree that failed (intensity exceeded) stays failed: `failure` is why.
  bool failed = false;
  std::string failure;
  // Stopped by an operator (vigilctl stop of a supervisor): its children stay down.
  bool stopped = false;
  std::string stopped_by;
  // A strategy restart or a tree's start retry waits out its backoff until then; the
  // start of its down children waits for it.
  std::optional<TimePoint> restart_at;
  // An operator's live slice budget (vigilctl set).
  std::optional<Limits> budget;
  bool empty() const { return window.empty() && !failed && !stopped && !restart_at && !budget; }
  bool operator==(const PersistedSupervisor&) const = default;
};

struct SupervisionState {
  std::map<std::string, PersistedWorker> workers;          // unit name -> state
  std::map<std::string, PersistedSupervisor> supervisors;  // path -> state
  // Operators' live instance counts (vigilctl scale): worker path "tree/sub/w" -> count.
  std::map<std::string, unsigned> scale;
  bool operator==(const SupervisionState&) const = default;
};

}  // namespace vigil::core
