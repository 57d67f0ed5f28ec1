#pragma once
// The engine's view of a worker or supervisor turned into what operators see
// (status/StatusSnapshot.h): the state vocabulary of vigilctl(1), realtime timestamps,
// limits as optional numbers. Pure.

#include <cstdint>

#include "core/Engine.h"
#include "status/StatusSnapshot.h"

namespace vigil::status {

// The two clocks at one instant: engine times are CLOCK_MONOTONIC, views CLOCK_REALTIME.
struct Clocks {
  core::TimePoint monotonic{0};
  std::int64_t realtime_usec = 0;
  std::int64_t toRealtime(core::TimePoint t) const {
    return realtime_usec - (monotonic - t).count();
  }
};

// starting running stopping backoff stopped exited failed frozen. A worker that is idle
// takes its meaning from its supervisor: waiting for a strategy's delay (backoff), pending
// in a start (starting), its supervisor failed (failed), else stopped. A worker that is
// not restarted is "exited" after a clean exit and "failed" after an abnormal one.
const char* workerState(const core::WorkerStatus& worker, core::SupervisorState owner);
// starting running restarting stopping stopped failed.
const char* supervisorState(core::SupervisorState state);
// "exited" | "killed" | "dumped" | "" for ExecMainCode 1, 2, 3, other.
const char* exitCodeName(int code);

ExitView exitView(const core::ExitRecord& record, const Clocks& clocks);
// Without unit facts and cgroup figures (the caller adds those).
WorkerView workerView(const core::WorkerStatus& worker,
                      core::SupervisorState owner,
                      const Clocks& clocks);
SupervisorView supervisorView(const core::SupervisorStatus& supervisor);
EventView eventView(const core::Event& event, const Clocks& clocks);

}  // namespace vigil::status
