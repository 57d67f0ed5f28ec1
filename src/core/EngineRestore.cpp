// The engine's persisted state (core/SupervisionState.h): what is recorded of it, and how a
// new vigild takes it back after adoption.

#include <algorithm>

#include <fmt/format.h>

#include "core/Duration.h"
#include "core/EngineState.h"

namespace vigil::core {

using namespace engine_detail;

namespace {

template <typename Map>
const typename Map::mapped_type* lookup(const Map& map, const std::string& key) {
  auto it = map.find(key);
  return it == map.end() ? nullptr : &it->second;
}

// The longest delay a backoff of `spec` can give (Backoff::delay: at most max, then the
// jitter on top): a restored deadline further away than this came from a wrong clock or a
// damaged file, and is cut to it.
Usec longestDelay(const BackoffSpec& spec) {
  return Usec(static_cast<std::int64_t>(static_cast<double>(spec.max.count()) *
                                        (1.0 + std::clamp(spec.jitter, 0.0, 1.0))));
}

// The longest backoff any child of `sup` can give: a strategy restart's delay is the
// failing child's.
Usec longestDelay(const Engine::Sup& sup) {
  Usec out = longestDelay(BackoffSpec{});
  for (const auto& c : sup.children) out = std::max(out, longestDelay(c->backoff()));
  return out;
}

// A unit below `sup` that systemd runs, or is stopping: then systemd's view wins over the
// record (the supervisor is not kept down).
bool liveBelow(const Engine::Sup& sup) {
  return std::any_of(sup.children.begin(), sup.children.end(), [](const auto& c) {
    if (c->sup) return liveBelow(*c->sup);
    return c->live() || !c->blocked_on.empty();
  });
}

}  // namespace

std::optional<PersistedWorker> Engine::persistedWorker(const std::string& unit,
                                                       TimePoint /*now*/) const {
  auto it = units_.find(unit);
  if (it == units_.end() || !it->second->worker) return std::nullopt;
  const Child& c = *it->second;
  PersistedWorker p;
  p.restarts = c.restarts;
  p.failures = c.failures;
  if (c.state == ChildState::Waiting && c.timer) p.next_restart = c.timer_deadline;
  if (c.state == ChildState::Stopped) {
    p.stopped = true;
    p.stopped_by = c.down_by;
  }
  p.finished = c.state == ChildState::Finished;
  if (c.limits_overridden) p.limits = c.unit.limits;
  if (c.last_exit) {
    p.last_exit = c.last_exit->description;
    p.last_exit_reason = c.last_exit->reason;
    p.last_exit_kind = toString(c.last_exit->kind);
  }
  if (p.empty()) return std::nullopt;
  return p;
}

std::optional<PersistedSupervisor> Engine::persistedSupervisor(const std::string& path,
                                                               TimePoint now) const {
  const Sup* s = findSup(path);
  if (!s) return std::nullopt;
  PersistedSupervisor p;
  p.window = s->window.restarts(now);
  if (!s->parent && s->state == SupervisorState::Failed) {
    p.failed = true;
    p.failure = s->failure;
  }
  if (s->state == SupervisorState::Idle && s->stop_reason == kStopOperator) {
    p.stopped = true;
    p.stopped_by = s->stopped_by;
  }
  if (s->current && s->current->kind == Step::Kind::Delay && s->delay_timer)
    p.restart_at = s->delay_deadline;
  if (s->budget_override) p.budget = *s->budget_override;
  if (p.empty()) return std::nullopt;
  return p;
}

SupervisionState Engine::supervisionState(TimePoint now) const {
  SupervisionState out;
  for (const auto& [unit, c] : units_) {
    if (auto p = persistedWorker(unit, now)) out.workers.emplace(unit, std::move(*p));
  }
  for (const auto& [path, s] : sups_) {
    if (auto p = persistedSupervisor(path, now)) out.supervisors.emplace(path, std::move(*p));
  }
  out.scale = scaled_;
  return out;
}

void Engine::restore(const SupervisionState& restored, TimePoint now) {
  if (restored.workers.empty() && restored.supervisors.empty()) return;
  for (auto& root : roots_) restoreSup(*root, restored, now);
}

void Engine::restoreSup(Sup& sup, const SupervisionState& restored, TimePoint now) {
  const PersistedSupervisor* ps = lookup(restored.supervisors, sup.pathString());
  if (ps) {
    sup.window.restore(ps->window, now);
    if (ps->budget) sup.budget_override = *ps->budget;
  }
  for (auto& cp : sup.children) {
    Child& c = *cp;
    if (c.sup) {
      restoreSup(*c.sup, restored, now);
      continue;
    }
    const PersistedWorker* pw = lookup(restored.workers, c.unit.name);
    if (!pw) continue;
    c.restarts = pw->restarts;
    c.failures = pw->failures;
    if (!pw->last_exit.empty() && !c.last_exit) {
      ExitInfo info;
      info.description = pw->last_exit;
      info.reason = pw->last_exit_reason;
      info.kind = exitKindFromString(pw->last_exit_kind);
      c.last_exit = std::move(info);
    }
    if (pw->limits) {
      c.unit.limits = *pw->limits;
      c.limits_overridden = true;
    }
    // Found running, or stopping: what systemd runs wins over the record.
    if (c.state != ChildState::Idle || !c.blocked_on.empty()) continue;
    if (pw->stopped) {
      setState(c, ChildState::Stopped);
      c.down_by = pw->stopped_by.empty() ? "an operator" : pw->stopped_by;
      emit(event(EventType::WorkerStopped, c, "restored",
                 fmt::format("stays stopped: stopped by {} before vigild restarted (vigilctl "
                             "start brings it back)",
                             c.down_by),
                 now));
    } else if (pw->finished) {
      setState(c, ChildState::Finished);
      sup.keep_finished = true;
      emit(event(EventType::WorkerNotRestarted, c, "restored",
                 fmt::format("stays down: it had ended before vigild restarted and its restart "
                             "type is {}",
                             toString(c.restart())),
                 now));
    } else if (pw->next_restart && *pw->next_restart > now) {
      const TimePoint deadline = std::min(*pw->next_restart, now + longestDelay(c.backoff()));
      setState(c, ChildState::Waiting);
      c.timer = armTimer(deadline);
      c.timer_deadline = deadline;
      timers_[c.timer] = {&c, nullptr};
      // Readiness does not wait for a backoff: the tree was up before vigild restarted.
      sup.root().first_pass_done = true;
      Event e = event(EventType::RestartScheduled, c, "restored",
                      fmt::format("still in backoff from before vigild restarted: restarting "
                                  "in {}ms (failure {} in a row)",
                                  (deadline - now).count() / 1000, c.failures),
                      now);
      e.delay = deadline - now;
      e.restarts = sup.window.count(now);
      emit(std::move(e));
    }
  }
  if (!ps || liveBelow(sup)) return;
  if (ps->failed && !sup.parent) {
    setState(sup, SupervisorState::Failed);
    sup.failure = ps->failure;
    emit(event(EventType::TreeFailed, sup, "restored",
               fmt::format("tree {} stays failed, as it was before vigild restarted (vigilctl "
                           "reset {} revives it): {}",
                           sup.pathString(), sup.pathString(), sup.failure),
               now));
  } else if (ps->stopped) {
    sup.stop_reason = kStopOperator;
    sup.stopped_by = ps->stopped_by;
    if (sup.self) {
      setState(*sup.self, ChildState::Stopped);
    } else {
      sup.first_pass_done = true;
    }
    emit(event(EventType::WorkerStopped, sup, "restored",
               fmt::format("supervisor {} stays stopped: stopped by {} before vigild restarted "
                           "(vigilctl start brings it back)",
                           sup.pathString(),
                           sup.stopped_by.empty() ? std::string("an operator") : sup.stopped_by),
               now));
  } else if (ps->restart_at && *ps->restart_at > now) {
    const TimePoint at = std::min(*ps->restart_at, now + longestDelay(sup));
    sup.resume_at = at;
    sup.root().first_pass_done = true;
    Event e = event(EventType::RestartScheduled, sup, "restored",
                    fmt::format("a restart of {}'s children was waiting out its backoff before "
                                "vigild restarted: starting them in {}ms",
                                sup.pathString(), (at - now).count() / 1000),
                    now);
    e.delay = at - now;
    emit(std::move(e));
  }
}

}  // namespace vigil::core
