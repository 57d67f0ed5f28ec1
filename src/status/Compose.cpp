#include "status/Compose.h"

namespace vigil::status {

namespace {

template <class T>
std::optional<T> limit(const std::optional<T>& v, T unlimited) {
  if (!v || *v == unlimited) return std::nullopt;
  return v;
}

template <class View>
void setLimits(View& v, const core::Limits& l) {
  v.memory_max_bytes = limit(l.memory_max, core::kUnlimited);
  v.memory_high_bytes = limit(l.memory_high, core::kUnlimited);
  v.cpu_quota_percent = limit(l.cpu_quota, core::kNoCpuQuota);
  v.cpu_weight = limit(l.cpu_weight, core::kUnlimited);
  v.tasks_max = limit(l.tasks_max, core::kUnlimited);
  v.io_weight = limit(l.io_weight, core::kUnlimited);
}

}  // namespace

const char* workerState(const core::WorkerStatus& w, core::SupervisorState owner) {
  using core::ChildState;
  switch (w.state) {
    case ChildState::Starting:
      return "starting";
    case ChildState::Running:
      return w.frozen ? "frozen" : "running";
    case ChildState::Stopping:
      return "stopping";
    case ChildState::Waiting:
      return "backoff";
    case ChildState::Stopped:
      return "stopped";
    case ChildState::Finished:
      return w.last && w.last->abnormal() ? "failed" : "exited";
    case ChildState::Idle:
      switch (owner) {
        case core::SupervisorState::Restarting:
          return "backoff";
        case core::SupervisorState::Starting:
          return "starting";
        case core::SupervisorState::Failed:
          return "failed";
        default:
          return "stopped";
      }
  }
  return "stopped";
}

const char* supervisorState(core::SupervisorState s) {
  using core::SupervisorState;
  switch (s) {
    case SupervisorState::Idle:
      return "stopped";
    case SupervisorState::Starting:
      return "starting";
    case SupervisorState::Running:
      return "running";
    case SupervisorState::Restarting:
      return "restarting";
    case SupervisorState::Stopping:
      return "stopping";
    case SupervisorState::Failed:
      return "failed";
  }
  return "stopped";
}

const char* exitCodeName(int code) {
  switch (code) {
    case 1:
      return "exited";
    case 2:
      return "killed";
    case 3:
      return "dumped";
    default:
      return "";
  }
}

ExitView exitView(const core::ExitRecord& r, const Clocks& clocks) {
  ExitView e;
  e.at_realtime_usec = clocks.toRealtime(r.at);
  e.description = r.info.description;
  e.reason = r.info.reason;
  e.code = exitCodeName(r.info.code);
  e.status = r.info.status;
  e.decision = r.decision;
  return e;
}

WorkerView workerView(const core::WorkerStatus& w,
                      core::SupervisorState owner,
                      const Clocks& clocks) {
  WorkerView v;
  v.path = w.worker;
  v.tree = w.tree;
  v.supervisor = w.supervisor;
  v.unit = w.unit;
  v.instance = w.instance;
  v.position = w.position;
  v.state = workerState(w, owner);
  v.restarts = w.restarts;
  v.consecutive_failures = w.failures;
  if (w.since) v.uptime_usec = (clocks.monotonic - *w.since).count();
  if (w.next_restart)
    v.restart_in_usec = std::max<std::int64_t>((*w.next_restart - clocks.monotonic).count(), 0);
  if (w.frozen && w.frozen_since) v.frozen_since_realtime_usec = clocks.toRealtime(*w.frozen_since);
  if (!w.health_check.empty()) {
    v.health = core::toString(w.health);
    v.health_check = w.health_check;
    v.health_detail = w.health_detail;
    if (w.health_since) v.health_since_realtime_usec = clocks.toRealtime(*w.health_since);
  }
  for (const auto& r : w.exits) v.exits.push_back(exitView(r, clocks));
  if (!v.exits.empty()) {
    v.last_exit = v.exits.back();
  } else if (w.last) {
    // An exit from before vigild restarted is not in the history; its description is.
    ExitView e;
    e.description = w.last->description;
    e.reason = w.last->reason;
    e.code = exitCodeName(w.last->code);
    e.status = w.last->status;
    v.last_exit = e;
  }
  setLimits(v, w.limits);
  v.limits_set_live = w.limits_overridden;
  return v;
}

SupervisorView supervisorView(const core::SupervisorStatus& s) {
  SupervisorView v;
  v.path = s.path;
  v.tree = s.tree;
  v.position = s.position;
  v.state = supervisorState(s.state);
  v.strategy = s.strategy;
  v.slice = s.slice;
  v.restarts_in_window = s.restarts_in_window;
  v.max_restarts = s.intensity.max_restarts;
  v.period_usec = s.intensity.period.count();
  v.failure = s.failure;
  v.frozen = s.frozen;
  setLimits(v, s.limits);
  v.limits_set_live = s.limits_overridden;
  return v;
}

EventView eventView(const core::Event& e, const Clocks& clocks) {
  EventView v;
  v.at_realtime_usec = clocks.toRealtime(e.at);
  v.type = core::toString(e.type);
  v.tree = e.tree;
  v.supervisor = e.supervisor;
  v.worker = e.worker;
  v.unit = e.unit;
  v.reason = e.reason;
  v.message = e.message;
  v.caller = e.caller;
  v.exit_status = e.exit_status;
  v.delay_usec = e.delay.count();
  v.restarts = e.restarts;
  return v;
}

}  // namespace vigil::status
