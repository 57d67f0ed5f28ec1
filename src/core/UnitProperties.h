#pragma once
// Which systemd properties a worker's transient service and a supervisor's slice get, as
// (name, value) pairs in the D-Bus types of org.freedesktop.systemd1(5) and
// systemd.resource-control(5) (systemd 252). Pure: the sd-bus adapter only serializes the
// list, so the unit policy is unit-tested without a bus.

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/Spec.h"
#include "core/UnitSpec.h"

namespace vigil::core {

// One ExecStartEx entry, a(sasas): the executable, argv (argv[0] included) and flags.
struct ExecCommand {
  std::string path;
  std::vector<std::string> argv;
  std::vector<std::string> flags;
  bool operator==(const ExecCommand&) const = default;
};

// LogExtraFields, aay: "KEY=value" byte arrays.
struct JournalFields {
  std::vector<std::pair<std::string, std::string>> fields;
  bool operator==(const JournalFields&) const = default;
};

// D-Bus signatures: s, b, t, i, as, a(sasas), aay.
using PropertyValue = std::variant<std::string,
                                   bool,
                                   std::uint64_t,
                                   std::int32_t,
                                   std::vector<std::string>,
                                   ExecCommand,
                                   JournalFields>;

struct UnitProperty {
  std::string name;
  PropertyValue value;
  bool operator==(const UnitProperty&) const = default;
};
using UnitProperties = std::vector<UnitProperty>;

// What to do with a limit that is not configured.
enum class UnsetLimits {
  Omit,      // leave systemd's default (a new worker unit)
  Infinity,  // send "infinity" (UINT64_MAX), so that removing a limit removes it (slices)
};

// The cgroup limits of `limits` plus the four *Accounting=yes switches; runtime_max,
// nofile and core too when `with_process_limits` (workers). CPUQuota is sent as
// CPUQuotaPerSecUSec: N% of one CPU is N * 10 ms per second (as systemctl converts it);
// kNoCpuQuota is sent as infinity. A weight of kUnlimited is sent as UINT64_MAX, which
// systemd 252 takes as "unset" (CGROUP_WEIGHT_INVALID): its default weight.
UnitProperties limitProperties(const Limits& limits, UnsetLimits unset, bool with_process_limits);

// Every property of a worker's transient service, in the order they are sent:
// - Type=exec (or notify, with NotifyAccess from notify_access);
// - Restart=no: vigild makes every restart decision; systemd's own would double-count;
// - KillMode=control-group: nothing the worker forked survives a stop;
// - CollectMode=inactive: a unit that ends cleanly is unloaded at once; a failed one stays
//   loaded (listed by `systemctl --failed`) so that vigild restarts it in place with
//   StartUnit, without building a new transient unit (measured in the VM, systemd 252:
//   195 ms against 285 ms per restart through busctl), and resets it (ResetFailedUnit) as
//   soon as it will not restart it;
// - KillSignal/TimeoutStopUSec from stop; stop.timeout 0 is OTP's brutal_kill, sent as
//   KillSignal=SIGKILL with a 5 s timeout (TimeoutStopUSec=0 would mean "none");
// - TimeoutStartUSec from start_timeout; WatchdogUSec from watchdog;
// - limits, environment, working directory, user, group;
// - PartOf=vigil.target and Before=vigil-workers.target (see kWorkersTarget);
// - LogExtraFields (VIGIL_TREE, VIGIL_SUPERVISOR, VIGIL_WORKER, VIGIL_SPEC);
// - ExecStartEx with the flag no-env-expand: argv reaches the process verbatim (PID 1
//   expands $FOO and ${FOO} in plain ExecStart, measured on 252).
UnitProperties serviceProperties(const UnitSpec& spec);

// A digest of `props` (names, D-Bus types and values, in order): equal lists give equal
// digests, in every run. The sd-bus adapter keeps it per unit to tell whether a failed
// unit still has exactly the properties a restart would send (then StartUnit suffices).
std::uint64_t propertiesDigest(const UnitProperties& props);

// A supervisor's slice: Description (at creation only) and its budget, unset limits sent
// as infinity.
UnitProperties sliceProperties(const std::string& description, const Limits& budget, bool create);

}  // namespace vigil::core
