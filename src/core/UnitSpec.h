#pragma once
// What one worker incarnation looks like as a transient systemd service: a plain value
// the systemd adapter turns into StartTransientUnit properties. Also the naming scheme
// that lets vigild find its units again after a restart.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/Spec.h"

namespace vigil::core {

// Path of a supervisor from its tree root: {"ingest"} or {"ingest", "parsers"}.
using SupervisorPath = std::vector<std::string>;

inline constexpr const char* kUnitPrefix = "vigil-";
inline constexpr const char* kRootSlice = "vigil.slice";
// Every worker is PartOf=kTarget (stopping the target stops it) and Before=kWorkersTarget.
// kWorkersTarget is ordered Before=vigild.service, so when PID 1 stops vigil as a whole
// (`systemctl stop vigil.target`, package removal, shutdown) the workers' stop jobs wait
// until vigild has stopped every tree in order and exited. No worker is ordered against
// vigild.service itself, so vigild's reload and restart never wait for a worker's job.
inline constexpr const char* kTarget = "vigil.target";
inline constexpr const char* kWorkersTarget = "vigil-workers.target";

// vigil-ingest.slice, vigil-ingest-parsers.slice: a dash means hierarchy to systemd, so
// each component is unit-name escaped and never contains a raw dash.
std::string sliceName(const SupervisorPath& path);
// vigil-ingest-parsers-csv.service, or vigil-web-api@3.service for instance 3.
std::string serviceName(const SupervisorPath& path, const std::string& worker, unsigned instance);
// The cgroup systemd 252 gives `unit` in `slice` (its ControlGroup property), computed
// instead of asked for (one D-Bus call less per started worker), by systemd's own rules:
// a slice "a-b-c.slice" lives at /a.slice/a-b.slice/a-b-c.slice (slice_build_subslice(),
// src/core/slice.c), "-.slice" at the root, and a unit's cgroup is its slice's path plus
// its name escaped by cg_escape() (src/basic/cgroup-util.c: a leading "_" when the name
// starts with "_" or ".", is "notify_on_release", "release_agent" or "tasks", or starts
// with "cgroup." or "<controller>."). Slices named by sliceName() always qualify; the
// result is e.g. "/vigil.slice/vigil-web.slice/vigil-web-api.service".
std::string controlGroupOf(const std::string& slice, const std::string& unit);
// The cgroup of `slice` itself by the same rules: "vigil-web.slice" ->
// "/vigil.slice/vigil-web.slice"; "-.slice" -> "" (the root).
std::string sliceControlGroup(const std::string& slice);
// "ingest/parsers/csv" or "web/api@3": how events and humans name a worker.
std::string displayName(const SupervisorPath& path, const std::string& worker, unsigned instance);

struct UnitSpec {
  std::string name;                      // vigil-web-api.service
  std::string slice;                     // vigil-web.slice
  std::string description;               // "vigil worker web/api"
  std::vector<std::string> argv;         // argv[0] is the executable's absolute path
  std::vector<std::string> environment;  // "NAME=value"
  std::string working_directory;
  std::string user;
  std::string group;
  Limits limits;
  int kill_signal = 15;
  Usec timeout_stop{0};
  Usec timeout_start{0};  // TimeoutStartUSec: systemd fails a start that takes longer
  bool notify = false;
  NotifyAccess notify_access = NotifyAccess::All;  // meaningful with notify only
  std::optional<Usec> watchdog;
  // LogExtraFields: tag every journal line of the worker (VIGIL_TREE, VIGIL_WORKER, ...).
  // VIGIL_SPEC carries the fingerprint, read back on re-adoption.
  std::vector<std::pair<std::string, std::string>> log_fields;
  std::string fingerprint;  // hex digest of everything above except log_fields
  bool operator==(const UnitSpec&) const = default;
};

// A unit found at startup whose name has our prefix.
struct ExistingUnit {
  std::string name;
  std::string fingerprint;  // VIGIL_SPEC from LogExtraFields; empty if unknown
  bool active = false;      // active, activating or reloading
  // deactivating: a stop job is running, begun before this vigild started (typically the
  // stop half of a strategy restart the previous vigild was carrying out).
  bool stopping = false;
};

// instance: 0 when the worker has a single instance, else 1..N.
UnitSpec buildUnitSpec(const WorkerSpec& worker, const SupervisorPath& path, unsigned instance);

// Stable 64-bit FNV-1a digest (16 hex chars) of the unit-shaping fields of `spec`.
std::string fingerprintOf(const UnitSpec& spec);

}  // namespace vigil::core
