#pragma once
// The host checks of `vigild --doctor` and `vigilctl doctor` (vigild(8) DOCTOR): pure
// verdicts over facts read beforehand (doctor/HostFacts.h), as systemd-oomd decides over a
// snapshot it took. One check per line, each with a verdict and, when not ok, the fix.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "status/StatusSnapshot.h"

namespace vigil::doctor {

enum class Verdict { Ok, Warn, Fail, Skip };
const char* toString(Verdict v);  // "ok", "warn", "fail", "skip"

struct Check {
  std::string name;  // stable identifier: "systemd", "cgroup2", "controllers", ...
  Verdict verdict = Verdict::Skip;
  std::string detail;  // what was found
  std::string fix;     // what to do about it; "" when ok
};

// The names of the checks, in the order evaluate() returns them. The first six are about
// the host and hold before vigil is installed or started; the rest are about vigild.
inline constexpr const char* kCheckNames[] = {"systemd", "cgroup2", "controllers", "psi",
                                              "dbus",    "clock",   "vigild",      "config",
                                              "trees",   "watchdog"};

// The controllers a worker's limits need (systemd.resource-control(5): MemoryMax= needs
// memory, CPUQuota=/CPUWeight= cpu, TasksMax= pids, IOWeight= io).
inline constexpr const char* kControllers[] = {"cpu", "io", "memory", "pids"};

// The oldest systemd vigil supports: Debian 12's (README, debian/control).
inline constexpr int kMinSystemd = 252;

// Everything the checks look at. "Not read" is said by an empty optional or an error text.
struct Facts {
  // Manager.Version ("252.38-1~deb12u1"); "" when PID 1 could not be asked.
  std::string systemd_version;

  std::string cgroup_root;                  // "/sys/fs/cgroup"
  std::string cgroup_fs;                    // "cgroup2fs", "tmpfs" (hybrid or legacy), or an error
  bool cgroup2 = false;                     // statfs(2) f_type == CGROUP2_SUPER_MAGIC
  std::set<std::string> root_controllers;   // <root>/cgroup.controllers
  bool slice_exists = false;                // <root>/vigil.slice is there
  std::set<std::string> slice_controllers;  // <root>/vigil.slice/cgroup.controllers

  bool psi_host = false;          // /proc/pressure/memory could be read
  std::string psi_host_error;     // why not ("Operation not supported": psi=0)
  std::optional<bool> psi_slice;  // <root>/vigil.slice/memory.pressure readable (slice exists)

  bool bus_connected = false;
  bool pid1_answered = false;
  std::string bus_error;
  std::uint64_t ping_usec = 0;

  // adjtimex(2): the kernel's clock is synchronised (STA_UNSYNC clear) and its state.
  std::optional<bool> clock_synchronized;
  std::int64_t realtime_usec = 0;             // the wall clock when the facts were read
  std::int64_t not_before_realtime_usec = 0;  // a time the clock cannot be before (the build's)

  // vigild.service as PID 1 sees it (absent: PID 1 not reachable or unit unknown).
  bool unit_known = false;
  std::string unit_load_state, unit_active_state, unit_sub_state, unit_result;
  std::uint32_t unit_main_pid = 0, unit_n_restarts = 0;
  std::uint64_t watchdog_usec = 0;
  std::uint64_t watchdog_timestamp_monotonic_usec = 0;
  std::uint64_t monotonic_now_usec = 0;

  // vigild's own API (org.vigil.Vigil1): reachable, and what it says.
  bool api_reachable = false;
  std::string api_error;
  std::optional<status::VigildView> vigild;
  std::vector<status::SupervisorView> supervisors;  // every supervisor; roots have no '/'
  std::string status_error;  // why `supervisors` could not be read ("" = read)

  // The configuration file as `vigild --check-config` loads it.
  std::string config_file;
  bool config_checked = false;
  std::vector<std::string> config_errors;  // formatted "file:line:col: key: message"
  std::size_t config_warnings = 0;
  std::size_t config_trees = 0;
  std::string config_tier;
  std::string config_tier_source;  // "" (the file's tier:), or where VIGIL_TIER came from
};

// The checks over `facts`, one per kCheckNames entry, in that order. Pure.
std::vector<Check> evaluate(const Facts& facts);

// True when no check failed (warnings and skips allowed): the exit status is 0 then, else 1.
bool passed(const std::vector<Check>& checks);

// One line per check: "VERDICT  NAME  DETAIL", then for a check that is not ok an indented
// "fix: ..." line. `color`: verdicts in ANSI colour (a terminal).
std::string formatText(const std::vector<Check>& checks, bool color);

// {"ok": bool, "checks": [{"name", "verdict", "detail", "fix"}]}, documented in vigild(8).
nlohmann::json toJson(const std::vector<Check>& checks);

}  // namespace vigil::doctor
