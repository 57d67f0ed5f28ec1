#pragma once
// The health of one running worker incarnation, as a pure state machine: probe results
// and memory pressure samples go in with the time, state changes come out. No clock, no
// I/O: daemon::HealthMonitor runs the probes and hands the results over.
//
// States (vigil.yaml(5), HEALTH):
//   starting   the incarnation is up and no probe has succeeded yet
//   healthy    `successes` probes in a row succeeded (and no resource rule is tripped)
//   unhealthy  `failures` probes in a row failed outside the start period, or a
//              resource rule tripped
//   unknown    not running, or no check configured (never produced here)
// A failure inside `start_period` (counted from the incarnation's start) does not count
// toward `failures`, as Docker's --health-start-period and Kubernetes' startup probes do;
// a success in it makes the worker healthy at once (given `successes`).

#include <cstdint>
#include <optional>
#include <string>

#include "core/Spec.h"
#include "core/Time.h"

namespace vigil::core {

enum class HealthState { Unknown, Starting, Healthy, Unhealthy };
const char* toString(HealthState state);  // "unknown", "starting", "healthy", "unhealthy"

// A state change and why: `detail` is "<check>: <what it saw>", the text a restart's
// reason carries after "health: " ("http: http 503", "tcp: connect refused",
// "exec: timeout after 2s", "memory_pressure: some avg10 52.3% above 40% for 1min").
struct HealthChange {
  HealthState from = HealthState::Unknown;
  HealthState to = HealthState::Unknown;
  std::string detail;
};

// What `spec` checks, for status: "http GET http://127.0.0.1:8080/healthz every 10s",
// "tcp 127.0.0.1:5432 every 10s", "exec /usr/local/bin/check every 30s", each followed by
// ", memory_pressure above 40% for 1min" when that rule is set; "" when nothing is checked.
std::string describeHealth(const HealthSpec& spec);

// `spec` for instance `instance` of its worker: every "%i" in url, address and argv
// replaced by the instance number ("" when 0: a worker without instances); "%%" is "%".
HealthSpec withInstance(HealthSpec spec, unsigned instance);

class HealthTracker {
 public:
  // `spec` must have any() true; `started` is when the incarnation came up. The state is
  // starting with a probe, healthy with resource rules only.
  HealthTracker(const HealthSpec& spec, TimePoint started);

  // One probe's outcome at `now`; `detail` says what it saw ("http 200", "exit 1").
  std::optional<HealthChange> onProbe(bool ok, const std::string& detail, TimePoint now);
  // One metrics sample of memory PSI "some avg10" in centipercent (nullopt: not read, e.g.
  // PSI absent): the rule trips once every sample for `for` was above `above`, and clears
  // at the first sample at or below it.
  std::optional<HealthChange> onMemoryPressure(std::optional<std::uint32_t> avg10_centipercent,
                                               TimePoint now);

  HealthState state() const { return state_; }
  // The last probe's text ("" before the first) and how many in a row failed/succeeded.
  const std::string& lastProbe() const { return last_probe_; }
  unsigned consecutiveFailures() const { return failures_; }
  unsigned consecutiveSuccesses() const { return successes_; }
  TimePoint started() const { return started_; }

 private:
  std::optional<HealthChange> settle(std::string detail);

  HealthSpec spec_;
  TimePoint started_;
  HealthState state_;
  HealthState probe_state_;  // what the probe alone says
  unsigned failures_ = 0;
  unsigned successes_ = 0;
  std::string last_probe_;
  std::optional<TimePoint> above_since_;  // memory pressure above the rule since
  bool pressure_tripped_ = false;
  std::string pressure_detail_;
};

}  // namespace vigil::core
