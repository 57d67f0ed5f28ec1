#pragma once
// One synchronous look at the service manager, for the host checks of `vigild --doctor` and
// `vigilctl doctor` (doctor/HostFacts.h). Not for vigild's loop: it blocks on the bus for up
// to the timeout given, which is why the daemon never calls it.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace vigil::systemd {

// A service unit as PID 1 describes it (org.freedesktop.systemd1.Unit and .Service
// properties, systemd.directives(7)).
struct ServiceFacts {
  std::string load_state;    // LoadState: "loaded", "not-found", ...
  std::string active_state;  // ActiveState: "active", "activating", "failed", ...
  std::string sub_state;     // SubState: "running", "start", ...
  std::string result;        // Result: "success", "watchdog", "exit-code", ...
  std::uint32_t main_pid = 0;
  std::uint32_t n_restarts = 0;
  std::uint64_t watchdog_usec = 0;  // WatchdogUSec: the configured period, 0 = none
  // WatchdogTimestampMonotonic: CLOCK_MONOTONIC usec of the last WATCHDOG=1 PID 1 accepted
  // (or of the start, before the first); 0 = never.
  std::uint64_t watchdog_timestamp_monotonic_usec = 0;
};

struct ManagerFacts {
  bool bus_connected = false;  // the system bus could be opened
  std::string bus_error;       // why not, or why PID 1 did not answer
  bool pid1_answered = false;  // org.freedesktop.DBus.Peer.Ping to PID 1 returned in time
  std::chrono::microseconds ping_time{0};
  std::string version;                   // Manager.Version: "252.38-1~deb12u1"; "" if not read
  std::optional<ServiceFacts> service;   // the unit asked for, if PID 1 knows it
  std::string service_error;             // why `service` is absent
  std::uint64_t monotonic_now_usec = 0;  // CLOCK_MONOTONIC when `service` was read
};

// Opens the system bus (or `address`, for tests), pings PID 1, reads its version and the
// properties of `service` ("vigild.service"). Every call is bounded by `timeout`. Never
// fails: what could not be read is said in the fields above.
ManagerFacts probeManager(const std::string& service,
                          std::chrono::microseconds timeout,
                          const std::string& address = "");

}  // namespace vigil::systemd
