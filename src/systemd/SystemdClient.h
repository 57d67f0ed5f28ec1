#pragma once
// The seam between vigild and systemd (PID 1): a narrow, domain-level interface with no
// sd-bus types. SdBusSystemdClient implements it over the system bus; tests use
// tests/support/FakeSystemdClient.
//
// All operations are asynchronous: they return at once and report through callbacks
// that run on the event loop, never from inside the call itself.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/ExitInfo.h"
#include "core/UnitSpec.h"
#include "util/Result.h"

namespace vigil::systemd {

// The last known properties of one unit, as PID 1 reported them.
struct UnitState {
  std::string name;
  std::string active_state;  // active, activating, deactivating, inactive, failed, reloading
  std::string sub_state;
  std::uint32_t main_pid = 0;
  std::string control_group;  // e.g. /vigil.slice/vigil-web.slice/vigil-web-api.service
  core::UnitOutcome outcome;  // Result, ExecMainCode, ExecMainStatus

  bool running() const {
    return active_state == "active" || active_state == "activating" ||
           active_state == "reloading" || active_state == "deactivating";
  }
};

struct JobOutcome {
  bool ok = false;    // the job finished with result "done"
  std::string error;  // why not, for humans
  UnitState unit;     // the unit's properties when the job finished
};

class SystemdClient {
 public:
  virtual ~SystemdClient() = default;
  using JobDone = std::function<void(const JobOutcome&)>;

  // Builds a unit's spec when its start is issued; an error withdraws the start.
  using SpecSource = std::function<util::Result<core::UnitSpec>()>;

  // Starts unit `name`, then waits for its start job (for Type=notify units that is
  // READY=1). The spec comes from `spec`, called once when the start is issued (it may
  // wait behind other jobs first, see SdBusSystemdClient's job window), so what waits is
  // the name, not a copy of every spec of a mass start; its name must be `name`. An error
  // from `spec` ends the operation without a call to PID 1: `done` gets ok = false and
  // that error. A failed unit that vigild created with exactly the properties the spec
  // gives now, and that nothing changed since, is restarted in place (StartUnit);
  // otherwise StartTransientUnit, where a leftover unit of the same name is reset
  // (ResetFailedUnit) and the call retried once. `done` runs exactly once, never inside
  // this call: job done, job failed, call failed or start withdrawn; a lost reply or job
  // signal is settled from the unit's state.
  virtual void startService(const std::string& name,
                            SpecSource spec,
                            core::Usec timeout,
                            JobDone done) = 0;

  // ResetFailedUnit(name) if PID 1 last reported the unit failed (CollectMode=inactive
  // keeps a failed worker loaded for its restart in place): for a unit vigild will not
  // start again now, so that it is unloaded and not left in `systemctl --failed`.
  virtual void resetFailed(const std::string& name) = 0;
  // The vigil units PID 1 last reported failed (from the signals seen; no call).
  virtual std::vector<std::string> failedUnits() const = 0;

  // Makes slice `name` hold `limits` as its budget (limits not set: none, sent as
  // infinity), with as few calls to PID 1 as that takes:
  //  - an empty budget for a slice vigild has not seen: no call. PID 1 loads the slice
  //    implicitly when the first worker names it in Slice= (systemd.slice(5)), with no
  //    limits. Measured: a transient slice per tree cost PID 1 more CPU than the tree's
  //    worker (bench/RESULTS.md, cold start of trees).
  //  - the budget vigild last set on it: no call.
  //  - a budget for a slice vigild has not seen: StartTransientUnit with `description`.
  //  - a slice whose budget is unknown (left by a previous vigild: listManagedUnits lists
  //    slices too; or changed by setUnitLimits): GetAll of its limits, then
  //    SetUnitProperties only if one differs (PID 1 writes each property set at runtime
  //    as a drop-in file under /run/systemd).
  //  - otherwise SetUnitProperties.
  // Calls for one slice run one at a time, in the order asked: PID 1 ends up with the last
  // budget asked for. `done` runs once, never inside this call: when PID 1 has answered
  // the last call (the slice exists with its limits), or at once when no call is needed;
  // not when the slice's start job ends: a worker started in it afterwards is created
  // after it (PID 1 handles one connection's calls in order) and its start job waits for
  // the slice's (Slice= implies Requires= and After=, systemd.resource-control(5)). That
  // saves a job round trip before each tree's first worker (bench/RESULTS.md).
  virtual void ensureSlice(const std::string& name,
                           const std::string& description,
                           const core::Limits& limits,
                           core::Usec timeout,
                           JobDone done) = 0;

  // StopUnit(name, "ignore-dependencies") and wait for the stop job; a unit left failed
  // is then reset (resetFailed). A unit that does not exist counts as stopped. The job mode lets
  // the stop run at once even when PID 1 holds the unit's own stop job behind vigil-workers.target
  // (a stop of vigil as a whole): the two jobs merge and the merged one ignores ordering (systemd's
  // job_merge_into_installed).
  virtual void stopUnit(const std::string& name, core::Usec timeout, JobDone done) = 0;

  // KillUnit(name, whom, signal): `whom` is "all" (every process of the unit's cgroup) or
  // "main" (its main process). `done` runs once with ok or the error.
  virtual void killUnit(const std::string& name, bool main_only, int signal, JobDone done) = 0;
  // FreezeUnit / ThawUnit: suspend or resume every process of the unit (a slice: of every
  // unit in it) through the cgroup v2 freezer. `done` runs once.
  virtual void freezeUnit(const std::string& name, bool freeze, JobDone done) = 0;
  // SetUnitProperties(name, runtime=true) with the limits set in `limits` (the others are
  // left alone; kUnlimited removes a limit), on a running unit or slice. `done` runs once.
  virtual void setUnitLimits(const std::string& name, const core::Limits& limits, JobDone done) = 0;

  // Whether PID 1 answers: org.freedesktop.DBus.Peer.Ping to org.freedesktop.systemd1,
  // sent at once (not queued behind a mass start's calls) with a `timeout`. `done` runs
  // once, never inside this call: ok, or why not (no bus connection, no answer in time).
  // vigild feeds its watchdog only while PID 1 answers (vigild(8), WATCHDOG).
  virtual void ping(core::Usec timeout, std::function<void(util::Result<void>)> done) = 0;

  // Whether PID 1 is stopping vigil as a whole: a stop job is queued for
  // core::kWorkersTarget (`systemctl stop vigil.target`, package removal, system shutdown),
  // as opposed to vigild alone being stopped or restarted. From Manager.ListJobs().
  virtual void queryStackStop(std::function<void(util::Result<bool>)> done) = 0;

  // Units named vigil-*.service known to PID 1, with the fingerprint vigild stamped on
  // them (LogExtraFields VIGIL_SPEC). Used to re-adopt workers after a vigild restart.
  // The vigil-*.slice units listed with them are remembered by the adapter (ensureSlice),
  // not returned.
  virtual void listManagedUnits(
      std::function<void(util::Result<std::vector<core::ExistingUnit>>)> done) = 0;

  // Registers the observer for unit exits: called when a vigil unit goes from a running
  // state to inactive or failed, with its final properties.
  virtual void setExitObserver(std::function<void(const UnitState&)> observer) = 0;
  // Registers the observer for unit starts: called when a vigil unit's ActiveState becomes
  // "active" (whoever started it).
  virtual void setActiveObserver(std::function<void(const UnitState&)> observer) = 0;

  // Last known state of a unit, if any signal or reply about it was seen.
  virtual std::optional<UnitState> unitState(const std::string& name) const = 0;

  // Jobs and calls not yet finished (for tests, status and shutdown).
  virtual std::size_t pendingOperations() const = 0;
};

}  // namespace vigil::systemd
