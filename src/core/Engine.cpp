#include "core/Engine.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "core/Backoff.h"
#include "core/Duration.h"
#include "core/EngineState.h"

namespace vigil::core {

using namespace engine_detail;

const char* toString(ChildState s) {
  switch (s) {
    case ChildState::Idle:
      return "idle";
    case ChildState::Starting:
      return "starting";
    case ChildState::Running:
      return "running";
    case ChildState::Stopping:
      return "stopping";
    case ChildState::Waiting:
      return "backoff";
    case ChildState::Finished:
      return "finished";
    case ChildState::Stopped:
      return "stopped";
  }
  return "?";
}

const char* toString(SupervisorState s) {
  switch (s) {
    case SupervisorState::Idle:
      return "idle";
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
  return "?";
}

const char* toString(EventType t) {
  switch (t) {
    case EventType::WorkerStarting:
      return "worker-starting";
    case EventType::WorkerStarted:
      return "worker-started";
    case EventType::WorkerStartFailed:
      return "worker-start-failed";
    case EventType::WorkerExited:
      return "worker-exited";
    case EventType::WorkerStopping:
      return "worker-stopping";
    case EventType::WorkerStopped:
      return "worker-stopped";
    case EventType::WorkerAdopted:
      return "worker-adopted";
    case EventType::WorkerNotRestarted:
      return "worker-not-restarted";
    case EventType::RestartScheduled:
      return "restart-scheduled";
    case EventType::StrategyApplied:
      return "strategy-applied";
    case EventType::IntensityExceeded:
      return "intensity-exceeded";
    case EventType::SupervisorStarted:
      return "supervisor-started";
    case EventType::SupervisorFailed:
      return "supervisor-failed";
    case EventType::Escalated:
      return "escalated";
    case EventType::TreeFailed:
      return "tree-failed";
    case EventType::ConfigApplied:
      return "config-applied";
    case EventType::UnitRemoved:
      return "unit-removed";
    case EventType::SliceFailed:
      return "slice-failed";
    case EventType::OperatorCommand:
      return "operator-command";
    case EventType::ConfigRejected:
      return "config-rejected";
    case EventType::WorkerHealth:
      return "worker-health";
  }
  return "?";
}

Engine::Engine(std::uint64_t seed) : rng_(seed) {}
Engine::~Engine() = default;

// ---- construction and reconciliation ------------------------------------------------

std::unique_ptr<Engine::Sup> Engine::buildSup(std::shared_ptr<const SupervisorSpec> spec,
                                              SupervisorPath path,
                                              Sup* parent) {
  auto sup = std::make_unique<Sup>();
  sup->spec = spec;
  sup->path = std::move(path);
  sup->parent = parent;
  sup->window.setSpec(spec->intensity);
  for (const auto& cs : spec->children) {
    if (cs.worker) {
      const unsigned n = cs.worker->instances;
      const bool named = n > 1 || cs.worker->instance_names;
      for (unsigned i = (named ? 1 : 0); i <= (named ? n : 0); ++i) {
        auto c = std::make_unique<Child>();
        c->owner = sup.get();
        c->index = sup->children.size();
        c->worker = cs.worker;
        c->instance = i;
        UnitSpec u = buildUnitSpec(*cs.worker, sup->path, i);
        c->unit = ChildUnit{std::move(u.name), std::move(u.fingerprint), u.limits};
        sup->children.push_back(std::move(c));
      }
    } else {
      auto c = std::make_unique<Child>();
      c->owner = sup.get();
      c->index = sup->children.size();
      SupervisorPath sub = sup->path;
      sub.push_back(cs.supervisor->name);
      c->sup = buildSup(cs.supervisor, std::move(sub), sup.get());
      c->sup->self = c.get();
      sup->children.push_back(std::move(c));
    }
  }
  return sup;
}

void Engine::index(Sup& sup) {
  sups_[sup.pathString()] = &sup;
  for (auto& c : sup.children) {
    if (c->sup) {
      index(*c->sup);
    } else {
      units_[c->unit.name] = c.get();
    }
  }
}

void Engine::unindex(Sup& sup) {
  if (auto it = sups_.find(sup.pathString()); it != sups_.end() && it->second == &sup)
    sups_.erase(it);
  for (auto& c : sup.children) {
    if (c->sup) {
      unindex(*c->sup);
    } else {
      auto it = units_.find(c->unit.name);
      if (it != units_.end() && it->second == c.get()) units_.erase(it);
    }
  }
}

void Engine::bury(const std::string& unit, Usec timeout, bool send_stop) {
  auto dead = std::make_unique<Child>();
  dead->unit.name = unit;
  setState(*dead, ChildState::Stopping);
  if (send_stop) {
    Action a;
    a.kind = Action::Kind::Stop;
    a.unit.name = unit;
    a.timeout = timeout;
    act(std::move(a));
  }
  graveyard_[unit] = std::move(dead);
}

void Engine::adoptOrReplace(Sup& sup,
                            const std::map<std::string, ExistingUnit>& existing,
                            std::set<std::string>& claimed,
                            TimePoint now) {
  for (auto& c : sup.children) {
    if (c->sup) {
      adoptOrReplace(*c->sup, existing, claimed, now);
      continue;
    }
    auto it = existing.find(c->unit.name);
    if (it == existing.end()) continue;
    claimed.insert(it->first);
    if (it->second.stopping) {
      // A start now would collide with that stop (UnitExists) or wait behind it inside
      // PID 1; like a replaced unit, the child starts once the stop is done (the Stop
      // action joins the running stop job). Readiness does not wait for a stop timeout:
      // the tree is in a restart, as after a failure.
      bury(c->unit.name, c->worker->stop.timeout + kStopJobMargin, true);
      c->blocked_on = c->unit.name;
      sup.root().first_pass_done = true;
      emit(event(EventType::WorkerStopping, *c, "found-stopping",
                 "found stopping (a stop begun before vigild started); starting it once that "
                 "stop is done",
                 now));
      continue;
    }
    if (!it->second.active) continue;
    if (it->second.fingerprint == c->unit.fingerprint) {
      setState(*c, ChildState::Running);
      c->started_at = now;
      c->was_up = true;
      c->health = initialHealth(*c);
      c->health_since = now;
      emit(event(EventType::WorkerAdopted, *c, "adopted",
                 "found running with the configured spec; adopted without restart", now));
    } else {
      bury(c->unit.name, c->worker->stop.timeout + kStopJobMargin, true);
      emit(event(EventType::WorkerStopping, *c, "spec-changed",
                 "running unit has a different spec; replacing it", now));
      c->blocked_on = c->unit.name;
    }
  }
}

void Engine::start(const Config& config,
                   const std::vector<ExistingUnit>& existing,
                   TimePoint now,
                   const SupervisionState& restored) {
  changed_.all = true;
  config_ = config;
  for (const auto& [path, n] : restored.scale) {
    if (n < 1 || n > kMaxScale) continue;
    if (scaleInConfig(config_, path, n)) scaled_[path] = n;
  }
  std::map<std::string, ExistingUnit> by_name;
  for (const auto& u : existing) by_name[u.name] = u;
  std::set<std::string> claimed;
  for (const auto& tree : config_.trees) {
    auto root = buildSup(std::make_shared<SupervisorSpec>(tree), {tree.name}, nullptr);
    index(*root);
    adoptOrReplace(*root, by_name, claimed, now);
    roots_.push_back(std::move(root));
  }
  restore(restored, now);
  for (const auto& [name, u] : by_name) {
    // Only units vigild created (they carry a VIGIL_SPEC fingerprint) are stopped; a
    // foreign unit that merely shares the name prefix is none of our business.
    if (claimed.count(name) || !u.active || u.fingerprint.empty()) continue;
    bury(name, kUnknownStopTimeout, true);
    Event e;
    e.at = now;
    e.type = EventType::UnitRemoved;
    e.unit = name;
    e.reason = "not-configured";
    e.message = "unit is not in the configuration; stopping it";
    emit(std::move(e));
  }
  Event e;
  e.at = now;
  e.type = EventType::ConfigApplied;
  e.reason = "start";
  e.message = fmt::format("configuration {} applied: {} tree(s), tier {}", config.source_file,
                          config.trees.size(), config.tier);
  emit(std::move(e));
  for (auto& root : roots_) {
    // Kept down by the restored state: a failed tree, or one an operator stopped.
    if (root->state == SupervisorState::Failed || root->stop_reason == kStopOperator) continue;
    startSup(*root, now);
  }
  progressOperations(now);
}

namespace {

// A child's identity within its supervisor across a reload: a worker instance by its unit
// name, a nested supervisor by its name.
std::string childKey(const Engine::Child& c);

}  // namespace

void Engine::reload(const Config& config, TimePoint now) {
  if (stopping_all_) return;
  changed_.all = true;
  // A new file puts the configured instance counts back (scale lasts until a reload).
  if (!rebuilding_) scaled_.clear();
  config_ = config;
  std::map<std::string, Child*> old_workers;
  for (auto& root : roots_) collectWorkersBelow(*root, old_workers);
  std::map<std::string, Sup*> old_roots;
  for (auto& root : roots_) old_roots[root->spec->name] = root.get();

  std::vector<std::unique_ptr<Sup>> fresh_roots;
  std::vector<std::pair<Sup*, Sup*>> pairs;  // fresh root, old root carried over (or null)
  std::set<std::string> claimed;
  for (const auto& tree : config.trees) {
    auto fresh = buildSup(std::make_shared<SupervisorSpec>(tree), {tree.name}, nullptr);
    auto it = old_roots.find(tree.name);
    // A failed tree starts afresh, with a new intensity window (the documented way to
    // revive it); its children are all down already.
    Sup* old = it != old_roots.end() && it->second->state != SupervisorState::Failed ? it->second
                                                                                     : nullptr;
    carryOver(*fresh, old, old_workers, claimed, now);
    pairs.emplace_back(fresh.get(), old);
    fresh_roots.push_back(std::move(fresh));
  }

  // Everything old that was not carried over is stopped for good.
  for (auto& root : roots_) cancelTimers(*root);
  for (auto& [name, c] : old_workers) {
    if (claimed.count(name)) continue;
    if (!c->live() || c->deferred || graveyard_.count(name)) continue;
    bury(name, c->worker->stop.timeout + kStopJobMargin, c->state != ChildState::Stopping);
    emit(event(EventType::UnitRemoved, *c, "removed",
               "worker is no longer in the configuration; stopping it", now));
  }

  // The old limits of every supervisor that stays, to update slices whose budget changed.
  std::map<std::string, Limits> old_limits;
  std::vector<const Sup*> stack;
  for (const auto& [fresh, old] : pairs)
    if (old) stack.push_back(old);
  while (!stack.empty()) {
    const Sup* s = stack.back();
    stack.pop_back();
    old_limits[s->pathString()] = s->budget();
    for (const auto& c : s->children)
      if (c->sup) stack.push_back(c->sup.get());
  }

  for (auto& root : roots_) unindex(*root);
  roots_ = std::move(fresh_roots);
  for (auto& root : roots_) index(*root);

  if (!rebuilding_) {
    Event e;
    e.at = now;
    e.type = EventType::ConfigApplied;
    e.reason = "reload";
    e.message = fmt::format("configuration {} applied: {} tree(s), tier {}", config.source_file,
                            config.trees.size(), config.tier);
    emit(std::move(e));
  }

  for (const auto& [fresh, old] : pairs) {
    if (!old) {
      startSup(*fresh, now);
      continue;
    }
    // Depth first, children before their supervisor: a nested supervisor settles its own
    // children before its parent looks at it.
    std::vector<Sup*> order;
    std::vector<Sup*> todo{fresh};
    while (!todo.empty()) {
      Sup* s = todo.back();
      todo.pop_back();
      order.push_back(s);
      for (auto& c : s->children)
        if (c->sup) todo.push_back(c->sup.get());
    }
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      auto lim = old_limits.find((*it)->pathString());
      resume(**it, lim == old_limits.end() ? nullptr : &lim->second, now);
    }
  }
  progressOperations(now);
}

void Engine::carryOver(Sup& fresh,
                       Sup* old,
                       std::map<std::string, Child*>& old_workers,
                       std::set<std::string>& claimed,
                       TimePoint now) {
  if (old) {
    fresh.window = old->window;
    fresh.window.setSpec(fresh.spec->intensity);
    fresh.state = old->state;
    fresh.failure = old->failure;
    fresh.stop_reason = old->stop_reason;
    fresh.first_pass_done = old->first_pass_done;
    fresh.fresh_start = old->fresh_start;
    fresh.failed_starting = old->failed_starting;
    fresh.frozen = old->frozen;
    fresh.frozen_since = old->frozen_since;
    // An operator's budget lasts until the next reload of the file (not past a scale).
    if (rebuilding_) fresh.budget_override = old->budget_override;
    if (old->delay_timer) {
      fresh.delay_timer = std::exchange(old->delay_timer, 0);
      timers_[fresh.delay_timer] = {nullptr, &fresh};
    }
  }
  const auto moveRuntime = [this](Child& to, Child& from) {
    to.state = from.state;
    to.operator_stop = from.operator_stop;
    to.frozen = from.frozen;
    to.frozen_since = from.frozen_since;
    to.started_at = from.started_at;
    to.was_up = from.was_up;
    to.failures = from.failures;
    to.restarts = from.restarts;
    to.last_exit = from.last_exit;
    to.blocked_on = from.blocked_on;
    to.deferred = from.deferred;
    to.start_token = from.start_token;
    to.health = from.health;
    to.health_detail = from.health_detail;
    to.health_since = from.health_since;
    to.health_exit = from.health_exit;
    if (to.worker && from.worker && !(to.worker->health == from.worker->health)) {
      // New checks start afresh (HealthMonitor starts a new tracker for them).
      to.health = to.state == ChildState::Running ? initialHealth(to) : HealthState::Unknown;
      to.health_detail.clear();
    }
    if (from.timer) {
      to.timer = std::exchange(from.timer, 0);
      to.timer_deadline = from.timer_deadline;
      timers_[to.timer] = {&to, nullptr};
    }
  };
  for (auto& c : fresh.children) {
    if (c->sup) {
      Child* oc = nullptr;
      if (old) {
        for (auto& o : old->children)
          if (o->sup && o->sup->spec->name == c->sup->spec->name) oc = o.get();
      }
      if (oc) {
        moveRuntime(*c, *oc);
      } else {
        c->pending_start = true;
      }
      carryOver(*c->sup, oc ? oc->sup.get() : nullptr, old_workers, claimed, now);
      continue;
    }
    auto it = old_workers.find(c->unit.name);
    if (it == old_workers.end()) {
      c->pending_start = true;
      continue;
    }
    Child& o = *it->second;
    claimed.insert(it->first);
    if (o.unit.fingerprint == c->unit.fingerprint && !o.deferred) {
      moveRuntime(*c, o);
      if (o.limits_overridden && rebuilding_) {
        c->unit.limits = o.unit.limits;
        c->limits_overridden = true;
      } else if (o.limits_overridden && o.live()) {
        // An operator's live limits last until the next reload: put the configured ones
        // back (cgroup limits not configured go back to infinity).
        Action a;
        a.kind = Action::Kind::SetLimits;
        a.unit.name = c->unit.name;
        const Limits& l = c->unit.limits;
        a.unit.limits.memory_max = l.memory_max.value_or(kUnlimited);
        a.unit.limits.memory_high = l.memory_high.value_or(kUnlimited);
        a.unit.limits.cpu_weight = l.cpu_weight.value_or(kUnlimited);
        a.unit.limits.tasks_max = l.tasks_max.value_or(kUnlimited);
        a.unit.limits.io_weight = l.io_weight.value_or(kUnlimited);
        a.unit.limits.cpu_quota = l.cpu_quota;
        act(std::move(a));
      }
      continue;
    }
    // The spec changed (or the old incarnation was still waiting to start): the new spec
    // replaces it. Counters carry over; a finished or stopped child stays so.
    c->failures = o.failures;
    c->restarts = o.restarts;
    c->last_exit = o.last_exit;
    switch (o.state) {
      case ChildState::Finished:
      case ChildState::Stopped:
        c->state = o.state;
        break;
      case ChildState::Waiting:
        cancelTimer(o.timer);
        c->pending_start = true;
        break;
      case ChildState::Idle:
        c->pending_start = true;
        break;
      case ChildState::Starting:
      case ChildState::Running:
      case ChildState::Stopping:
        if (o.deferred) {
          c->blocked_on = o.blocked_on;
        } else {
          bury(c->unit.name, o.worker->stop.timeout + kStopJobMargin,
               o.state != ChildState::Stopping);
          emit(event(EventType::WorkerStopping, *c, "spec-changed",
                     "configuration changed for this worker; replacing it", now));
          c->blocked_on = c->unit.name;
        }
        c->pending_start = true;
        break;
    }
  }
  if (!old) return;
  if (old->current) {
    if (auto step = remapStep(*old, fresh, *old->current)) fresh.current = *step;
  }
  for (const auto& step : old->plan) {
    if (auto mapped = remapStep(*old, fresh, step)) fresh.plan.push_back(*mapped);
  }
}

std::optional<Engine::Step> Engine::remapStep(const Sup& old,
                                              const Sup& fresh,
                                              const Step& step) const {
  if (step.kind == Step::Kind::Delay || step.kind == Step::Kind::Slice) return step;
  // The same children (by unit name, or nested supervisor name) at their new positions.
  // A step covers consecutive instances of one worker, which stay consecutive.
  std::optional<std::size_t> first, last;
  for (std::size_t i = step.first; i <= step.last && i < old.children.size(); ++i) {
    const std::string key = childKey(*old.children[i]);
    for (std::size_t j = 0; j < fresh.children.size(); ++j) {
      if (childKey(*fresh.children[j]) != key) continue;
      first = std::min(first.value_or(j), j);
      last = std::max(last.value_or(j), j);
    }
  }
  if (!first) return std::nullopt;  // all gone from the configuration
  Step mapped = step;
  mapped.first = *first;
  mapped.last = *last;
  return mapped;
}

void Engine::resume(Sup& sup, const Limits* old_limits, TimePoint now) {
  // Children to start: added or replaced by this reload, idle, and not already covered by
  // a start step of the plan in flight.
  std::vector<bool> covered(sup.children.size(), false);
  const auto cover = [&](const Step& st) {
    if (st.kind != Step::Kind::Start) return;
    for (std::size_t i = st.first; i <= st.last && i < covered.size(); ++i) covered[i] = true;
  };
  if (sup.current) cover(*sup.current);
  for (const auto& st : sup.plan) cover(st);
  std::deque<Step> extra;
  for (std::size_t i = 0; i < sup.children.size();) {
    std::size_t j = i;
    while (j + 1 < sup.children.size() && sup.children[i]->worker &&
           sup.children[j + 1]->worker == sup.children[i]->worker)
      ++j;
    bool wanted = false;
    for (std::size_t k = i; k <= j; ++k) {
      Child& c = *sup.children[k];
      const bool pending = std::exchange(c.pending_start, false);  // every one is cleared
      wanted = wanted || (pending && c.state == ChildState::Idle && !covered[k]);
    }
    if (wanted) extra.push_back(Step{Step::Kind::Start, i, j});
    i = j + 1;
  }

  const bool slice_exists =
      sup.state != SupervisorState::Idle && sup.state != SupervisorState::Failed;
  if (old_limits && slice_exists && !(*old_limits == sup.budget())) sliceAction(sup);

  switch (sup.state) {
    case SupervisorState::Starting:
    case SupervisorState::Restarting:
      for (auto& st : extra) sup.plan.push_back(st);
      break;
    case SupervisorState::Running:
      if (!extra.empty()) {
        // Not a fresh start: a new child that fails to start is retried with backoff
        // without touching its running siblings.
        setState(sup, SupervisorState::Starting);
        sup.fresh_start = false;
        sup.plan = std::move(extra);
        replan(sup);
      }
      break;
    case SupervisorState::Idle:
    case SupervisorState::Stopping:
    case SupervisorState::Failed:
      // Started with everything else when the supervisor itself starts next.
      break;
  }
  if (sup.current || !sup.plan.empty()) advance(sup, now);
}

// ---- plans ------------------------------------------------------------------------

// Consecutive instances of one worker spec form a group that starts and stops together;
// groups start in list order and stop in reverse order, each waiting for the previous.
std::deque<Engine::Step> Engine::startSteps(const Sup& sup,
                                            std::size_t first,
                                            std::size_t last) const {
  std::deque<Step> steps;
  if (sup.children.empty() || first > last) return steps;
  std::size_t i = first;
  while (i <= last) {
    std::size_t j = i;
    while (j + 1 <= last && sup.children[j + 1]->worker &&
           sup.children[j + 1]->worker == sup.children[i]->worker)
      ++j;
    steps.push_back(Step{Step::Kind::Start, i, j, Usec(0), false});
    i = j + 1;
  }
  return steps;
}

std::deque<Engine::Step> Engine::stopSteps(const Sup& sup,
                                           std::size_t first,
                                           std::size_t last) const {
  std::deque<Step> steps = startSteps(sup, first, last);
  std::reverse(steps.begin(), steps.end());
  for (auto& s : steps) s.kind = Step::Kind::Stop;
  return steps;
}

void Engine::startSup(Sup& sup, TimePoint now) {
  if (sup.delay_timer) cancelTimer(sup.delay_timer);
  const bool keep_finished = std::exchange(sup.keep_finished, false);
  const std::optional<TimePoint> resume_at = std::exchange(sup.resume_at, std::nullopt);
  for (auto& c : sup.children) {
    if (c->state == ChildState::Finished && !keep_finished) setState(*c, ChildState::Idle);
  }
  sup.fresh_start = std::none_of(sup.children.begin(), sup.children.end(),
                                 [](const auto& c) { return c->live(); });
  setState(sup, SupervisorState::Starting);
  sup.failure.clear();
  sup.stop_reason = 0;
  sup.current.reset();
  sup.plan =
      sup.children.empty() ? std::deque<Step>{} : startSteps(sup, 0, sup.children.size() - 1);
  // A restored strategy restart waits out the rest of its delay before the starts.
  if (resume_at && *resume_at > now)
    sup.plan.push_front(Step{Step::Kind::Delay, 0, 0, *resume_at - now});
  // The slice (with the supervisor's budget) exists before any child starts in it.
  sup.plan.push_front(Step{Step::Kind::Slice});
  replan(sup);
  advance(sup, now);
}

void Engine::stopSup(Sup& sup, int reason, TimePoint now) {
  if (sup.delay_timer) cancelTimer(sup.delay_timer);
  for (auto& c : sup.children) {
    if (c->state == ChildState::Waiting) {
      cancelTimer(c->timer);
      setState(*c, ChildState::Idle);
    }
  }
  setState(sup, SupervisorState::Stopping);
  sup.stop_reason = reason;
  sup.current.reset();
  sup.plan = sup.children.empty() ? std::deque<Step>{} : stopSteps(sup, 0, sup.children.size() - 1);
  replan(sup);
  advance(sup, now);
}

void Engine::replan(Sup& sup) {
  sup.plan_generation++;
  if (sup.advancing) sup.readvance = true;
}

// Runs the plan as far as it can go. A fact handled while the plan runs (a nested
// supervisor that finishes stopping at once, an escalation) may ask for another advance
// of the same supervisor, or replace its plan; such requests are folded into the running
// call instead of re-entering it.
void Engine::advance(Sup& sup, TimePoint now) {
  if (sup.advancing) {
    sup.readvance = true;
    return;
  }
  sup.advancing = true;
  do {
    sup.readvance = false;
    for (;;) {
      if (!sup.current) {
        if (sup.plan.empty()) {
          planDone(sup, now);
          break;
        }
        sup.current = sup.plan.front();
        sup.plan.pop_front();
      }
      const unsigned generation = sup.plan_generation;
      Step step = *sup.current;
      execute(sup, step, now);
      if (generation != sup.plan_generation || !sup.current) break;  // replaced: start over
      sup.current = step;                                            // keeps `begun`
      if (!stepComplete(sup, step)) break;
      sup.current.reset();
    }
  } while (sup.readvance);
  sup.advancing = false;
}

void Engine::execute(Sup& sup, Step& step, TimePoint now) {
  switch (step.kind) {
    case Step::Kind::Start:
      if (stopping_all_) break;
      for (std::size_t i = step.first; i <= step.last; ++i) {
        Child& c = *sup.children[i];
        if (c.state == ChildState::Idle) startChild(c, now);
      }
      break;
    case Step::Kind::Stop:
      for (std::size_t i = step.last + 1; i-- > step.first;) {
        Child& c = *sup.children[i];
        if (c.state == ChildState::Waiting) {
          cancelTimer(c.timer);
          setState(c, ChildState::Idle);
        } else if (c.state == ChildState::Running || c.state == ChildState::Starting) {
          stopChild(c, now);
        }
      }
      break;
    case Step::Kind::Slice:
      if (step.begun) break;
      step.begun = true;
      sliceAction(sup);
      break;
    case Step::Kind::Delay:
      if (step.begun) break;
      step.begun = true;
      if (step.delay <= Usec(0)) {
        step.fired = true;
      } else {
        sup.delay_timer = armTimer(now + step.delay);
        sup.delay_deadline = now + step.delay;
        timers_[sup.delay_timer] = {nullptr, &sup};
      }
      break;
  }
}

void Engine::sliceAction(const Sup& sup) {
  Action a;
  a.kind = Action::Kind::Slice;
  a.unit.name = sliceName(sup.path);
  a.unit.description = fmt::format("vigil supervisor {}", sup.pathString());
  // An operator's live budget lasts until the next reload, across restarts of the
  // supervisor, as a worker's live limits do.
  a.unit.limits = sup.budget();
  act(std::move(a));
}

bool Engine::stepComplete(const Sup& sup, const Step& step) const {
  if (step.kind == Step::Kind::Delay || step.kind == Step::Kind::Slice) return step.fired;
  for (std::size_t i = step.first; i <= step.last; ++i) {
    const ChildState s = sup.children[i]->state;
    if (step.kind == Step::Kind::Start) {
      // Finished (temporary, or transient after a clean exit) and Stopped (by an
      // operator) children are as far up as they will go.
      if (s != ChildState::Running && s != ChildState::Finished && s != ChildState::Stopped &&
          !(stopping_all_ && s == ChildState::Idle))
        return false;
    } else if (s == ChildState::Starting || s == ChildState::Running || s == ChildState::Stopping) {
      return false;
    }
  }
  return true;
}

void Engine::planDone(Sup& sup, TimePoint now) {
  switch (sup.state) {
    case SupervisorState::Starting:
    case SupervisorState::Restarting:
      setState(sup, SupervisorState::Running);
      sup.first_pass_done = true;
      emit(event(EventType::SupervisorStarted, sup, "started",
                 fmt::format("all {} child(ren) are up", sup.children.size()), now));
      if (sup.self && sup.self->state == ChildState::Starting) childReady(*sup.self, now);
      break;
    case SupervisorState::Stopping:
      if (sup.stop_reason == kStopFailure) {
        setState(sup, SupervisorState::Failed);
        emit(event(EventType::SupervisorFailed, sup, "intensity", sup.failure, now));
        if (sup.self) {
          ExitInfo info;
          info.kind = ExitKind::Unknown;
          info.reason = "escalation";
          info.description = fmt::format("supervisor {} failed: {}", sup.pathString(), sup.failure);
          emit(
              event(EventType::Escalated, sup, "escalation",
                    fmt::format("reporting the failure to supervisor {}", sup.parent->pathString()),
                    now));
          sup.self->last_exit = info;
          setState(*sup.self, ChildState::Idle);
          const bool during_start = std::exchange(sup.failed_starting, false);
          childEnded(*sup.self, info, now, during_start);
        } else {
          emit(event(EventType::TreeFailed, sup, "intensity",
                     fmt::format("tree {} is down until an operator restarts it "
                                 "(systemctl reload vigild): {}",
                                 sup.pathString(), sup.failure),
                     now));
        }
      } else {
        setState(sup, SupervisorState::Idle);
        if (sup.self) {
          // An operator's stop lasts: the parent neither counts nor restarts it.
          setState(*sup.self,
                   sup.stop_reason == kStopOperator ? ChildState::Stopped : ChildState::Idle);
          advance(*sup.parent, now);
        }
      }
      break;
    default:
      break;
  }
}

// ---- children -----------------------------------------------------------------------

void Engine::startChild(Child& c, TimePoint now) {
  c.was_up = false;
  c.frozen = false;
  if (c.sup) {
    setState(c, ChildState::Starting);
    c.sup->window.reset();
    startSup(*c.sup, now);
    return;
  }
  setState(c, ChildState::Starting);
  if (!c.blocked_on.empty()) {
    c.deferred = true;  // started when the previous incarnation's stop finishes
    return;
  }
  c.deferred = false;
  c.start_token = next_start_token_++;
  Action a;
  a.kind = Action::Kind::Start;
  a.unit.name = c.unit.name;  // the spec: startSpec, when the call is issued
  a.start_token = c.start_token;
  // systemd enforces start_timeout itself (TimeoutStartUSec, Result=timeout); vigild's
  // own wait is a backstop for a PID 1 that does not answer.
  a.timeout = c.worker->start_timeout + kStopJobMargin;
  act(std::move(a));
  emit(event(EventType::WorkerStarting, c, c.restarts ? "restart" : "start",
             fmt::format("starting {}", c.unit.name), now));
}

util::Result<UnitSpec> Engine::startSpec(const std::string& unit, std::uint64_t start_token) const {
  auto it = units_.find(unit);
  if (it == units_.end() || !it->second->worker)
    return util::fail(fmt::format("{} is no longer in the configuration", unit));
  const Child& c = *it->second;
  if (c.state != ChildState::Starting || c.deferred || c.start_token != start_token)
    return util::fail(fmt::format(
        "this start of {} was superseded (the worker was stopped, replaced or started again)",
        unit));
  UnitSpec spec = buildUnitSpec(*c.worker, c.owner->path, c.instance);
  spec.limits = c.unit.limits;  // an operator's live limits, if any
  return spec;
}

void Engine::stopChild(Child& c, TimePoint now, const char* reason, std::string by) {
  if (!reason) {
    for (const Sup* s = c.owner; s; s = s->parent) {
      if (s->state == SupervisorState::Stopping && s->stop_reason == kStopOperator) {
        reason = "operator";
        if (by.empty()) by = s->stopped_by;
        break;
      }
    }
  }
  c.stopped_by = by;
  cancelTimer(c.timer);
  if (c.sup) {
    setState(c, ChildState::Stopping);
    stopSup(*c.sup, kStopDirected, now);
    return;
  }
  if (c.deferred) {
    c.deferred = false;
    setState(c, ChildState::Idle);
    return;
  }
  setState(c, ChildState::Stopping);
  Action a;
  a.kind = Action::Kind::Stop;
  a.unit.name = c.unit.name;
  a.timeout = c.worker->stop.timeout + kStopJobMargin;
  act(std::move(a));
  emit(event(EventType::WorkerStopping, c,
             reason          ? reason
             : stopping_all_ ? "shutdown"
                             : "strategy",
             by.empty() ? fmt::format("stopping {}", c.unit.name)
                        : fmt::format("stopping {} for an operator ({})", c.unit.name, by),
             now));
}

void Engine::childReady(Child& c, TimePoint now) {
  setState(c, ChildState::Running);
  c.started_at = now;
  c.was_up = true;
  c.health = initialHealth(c);
  c.health_since = now;
  if (!c.sup) {
    emit(event(EventType::WorkerStarted, c, "started",
               c.worker->notify ? "up (READY=1 received)" : "up (process started)", now));
  }
  advance(*c.owner, now);
}

void Engine::stoppedExternally(Child& c, const ExitInfo& info, TimePoint now) {
  setState(c, ChildState::Stopped);
  c.down_by = "a stop job from outside vigil (systemctl stop)";
  c.last_exit = info;
  emit(event(EventType::WorkerStopped, c, info.reason,
             "stopped from outside vigil (a stop job, e.g. systemctl stop): not a failure, not "
             "restarted; it stays stopped, also across restarts of vigild, until vigilctl start "
             "or the unit is started again (systemctl restart)",
             now));
  advance(*c.owner, now);
}

void Engine::failSup(Sup& sup, const std::string& why, TimePoint now) {
  sup.failure = why;
  stopSup(sup, kStopFailure, now);
}

void Engine::intensityExceeded(Sup& sup, const std::string& why, TimePoint now) {
  Event e = event(EventType::IntensityExceeded, sup, "intensity", why, now);
  e.restarts = sup.window.count(now);
  emit(std::move(e));
  failSup(sup, why, now);
}

Usec Engine::backoffDelay(Child& c) {
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  return Backoff::delay(c.backoff(), c.failures, u01(rng_));
}

void Engine::childEnded(Child& c, const ExitInfo& info, TimePoint now, bool start_failure) {
  Sup& sup = *c.owner;
  c.last_exit = info;
  setState(c, ChildState::Idle);
  sup.root().first_pass_done = true;
  if (c.frozen && !c.sup) {
    // An operator froze it: only SIGKILL (the OOM killer, kill -9) ends a frozen process.
    // It is not restarted behind the operator's back, nor counted; `start` brings it back.
    c.frozen = false;
    recordExit(c, info,
               "not restarted: it was frozen by an operator (vigilctl start brings it back)", now);
    setState(c, ChildState::Stopped);
    c.down_by = "an operator (it was frozen when it died)";
    emit(event(EventType::WorkerNotRestarted, c, "frozen",
               "not restarted: it was frozen by an operator", now));
    advance(sup, now);
    return;
  }
  if (stopping_all_ || sup.state == SupervisorState::Stopping ||
      sup.state == SupervisorState::Failed || sup.state == SupervisorState::Idle) {
    recordExit(c, info,
               stopping_all_ ? "not restarted: vigil is stopping"
                             : fmt::format("not restarted: supervisor {} is {}", sup.pathString(),
                                           toString(sup.state)),
               now);
    advance(sup, now);
    return;
  }
  if (start_failure && sup.state == SupervisorState::Starting && sup.fresh_start) {
    recordExit(c, info,
               fmt::format("failed while supervisor {} was starting: the start is aborted",
                           sup.pathString()),
               now);
    startFailed(sup, c, info, now);
    return;
  }

  const bool restart = c.restart() == RestartPolicy::Permanent ||
                       (c.restart() == RestartPolicy::Transient && info.abnormal());
  if (!restart) {
    setState(c, ChildState::Finished);
    recordExit(
        c, info,
        fmt::format("not restarted: restart is {}{}", toString(c.restart()),
                    c.restart() == RestartPolicy::Transient ? " and the exit was clean" : ""),
        now);
    emit(
        event(EventType::WorkerNotRestarted, c, toString(c.restart()),
              fmt::format("not restarted: restart is {}{}", toString(c.restart()),
                          c.restart() == RestartPolicy::Transient ? " and the exit was clean" : ""),
              now));
    advance(sup, now);
    return;
  }

  if (sup.window.record(now)) {
    recordExit(c, info,
               fmt::format("not restarted: intensity of {} exceeded, the supervisor fails",
                           sup.pathString()),
               now);
    intensityExceeded(sup,
                      fmt::format("{} restarts within {} exceed intensity {} (last: {} {})",
                                  sup.window.count(now), formatDuration(sup.window.spec().period),
                                  sup.window.spec().max_restarts,
                                  c.sup ? c.sup->pathString() : c.unit.name, info.description),
                      now);
    return;
  }

  // Only an incarnation that came up and stayed up long enough resets the backoff; a
  // child that keeps failing to start keeps backing off further.
  if (c.was_up && Backoff::wasStable(c.backoff(), c.started_at, now)) c.failures = 0;
  c.failures++;
  c.restarts++;
  const Usec delay = backoffDelay(c);

  switch (sup.spec->strategy) {
    case Strategy::OneForOne: {
      recordExit(c, info,
                 fmt::format("restart in {} (failure {} in a row, {})", formatDuration(delay),
                             c.failures, windowText(sup, now)),
                 now);
      setState(c, ChildState::Waiting);
      c.timer = armTimer(now + delay);
      c.timer_deadline = now + delay;
      timers_[c.timer] = {&c, nullptr};
      Event e = event(EventType::RestartScheduled, c, info.reason,
                      fmt::format("restarting in {}ms (failure {} in a row, {})",
                                  delay.count() / 1000, c.failures, windowText(sup, now)),
                      now);
      emitWithDelay(std::move(e), delay, sup, now);
      // A start step of the plan in flight may be waiting for this child.
      advance(sup, now);
      break;
    }
    case Strategy::OneForAll:
    case Strategy::RestForOne: {
      const bool all = sup.spec->strategy == Strategy::OneForAll;
      const std::size_t n = sup.children.size();
      const std::size_t stop_from = all ? 0 : c.index + 1;
      const std::size_t start_from = all ? 0 : c.index;
      std::string siblings;
      for (std::size_t i = stop_from; i < n; ++i) {
        if (i == c.index) continue;
        const Child& s = *sup.children[i];
        siblings += (siblings.empty() ? "" : ", ") + (s.sup ? s.sup->pathString() : s.unit.name);
      }
      recordExit(c, info,
                 fmt::format("{}: restart{} in {} ({})", toString(sup.spec->strategy),
                             siblings.empty() ? "" : " with siblings", formatDuration(delay),
                             windowText(sup, now)),
                 now);
      if (sup.delay_timer) cancelTimer(sup.delay_timer);
      setState(sup, SupervisorState::Restarting);
      sup.current.reset();
      sup.plan.clear();
      if (stop_from < n) sup.plan = stopSteps(sup, stop_from, n - 1);
      sup.plan.push_back(Step{Step::Kind::Delay, 0, 0, delay});
      for (auto& s : startSteps(sup, start_from, n - 1)) sup.plan.push_back(s);
      replan(sup);
      Event e = event(
          EventType::StrategyApplied, c, toString(sup.spec->strategy),
          fmt::format("{}: restarting {}{}{} in {}ms", toString(sup.spec->strategy),
                      c.sup ? c.sup->pathString() : c.unit.name,
                      siblings.empty() ? "" : " and siblings ", siblings, delay.count() / 1000),
          now);
      emitWithDelay(std::move(e), delay, sup, now);
      advance(sup, now);
      break;
    }
  }
}

// OTP: "If a child fails to start during supervisor start, the supervisor terminates the
// children already started and fails." A nested supervisor then fails and its parent
// decides (restart with backoff, counted in the parent's intensity). A root tree has no
// parent: vigild retries its start after the child's backoff, counting each attempt in
// the tree's own intensity, and leaves it failed once that is exceeded.
void Engine::startFailed(Sup& sup, Child& c, const ExitInfo& info, TimePoint now) {
  const std::string who = c.sup ? c.sup->pathString() : c.unit.name;
  const std::string why = fmt::format("{} failed to start: {}", who, info.description);
  if (sup.self) {
    sup.failed_starting = true;
    failSup(sup, why, now);
    return;
  }
  if (sup.window.record(now)) {
    intensityExceeded(sup,
                      fmt::format("{} start attempts within {} exceed intensity {} (last: {})",
                                  sup.window.count(now), formatDuration(sup.window.spec().period),
                                  sup.window.spec().max_restarts, why),
                      now);
    return;
  }
  c.failures++;
  c.restarts++;
  const Usec delay = backoffDelay(c);
  if (sup.delay_timer) cancelTimer(sup.delay_timer);
  sup.current.reset();
  sup.plan = stopSteps(sup, 0, sup.children.size() - 1);
  sup.plan.push_back(Step{Step::Kind::Delay, 0, 0, delay});
  for (auto& s : startSteps(sup, 0, sup.children.size() - 1)) sup.plan.push_back(s);
  replan(sup);
  Event e = event(EventType::RestartScheduled, sup, "start-failed",
                  fmt::format("{}; stopping the children already started and starting the "
                              "tree again in {}ms (attempt {}, {})",
                              why, delay.count() / 1000, c.failures + 1, windowText(sup, now)),
                  now);
  emitWithDelay(std::move(e), delay, sup, now);
  advance(sup, now);
}

// ---- inputs -------------------------------------------------------------------------

namespace {

// "user 'nobody'": the configured value of the setting an exec-phase failure names.
std::string settingValue(const WorkerSpec& w, const std::string& setting) {
  if (setting == "user") return fmt::format("user '{}'", w.user.empty() ? "root" : w.user);
  if (setting == "group") return fmt::format("group '{}'", w.group);
  if (setting == "working_directory")
    return fmt::format("working_directory '{}'", w.working_directory);
  if (setting == "command")
    return fmt::format("command[0] '{}'", w.command.empty() ? "" : w.command.front());
  return "limits (nofile, core)";
}

}  // namespace

void Engine::onStartResult(const std::string& unit,
                           std::uint64_t start_token,
                           bool ok,
                           const std::string& error,
                           const UnitOutcome& outcome,
                           bool exited,
                           TimePoint now) {
  touchUnit(unit);
  auto it = units_.find(unit);
  if (it == units_.end()) return;
  Child& c = *it->second;
  if (c.state != ChildState::Starting || c.deferred || c.start_token != start_token) return;
  c.start_token = 0;
  if (ok && !exited) {
    childReady(c, now);
    progressOperations(now);
    return;
  }
  ExitInfo info;
  if (outcome.stop_job || outcome.exec_main_code != 0 ||
      (!outcome.result.empty() && outcome.result != "success")) {
    info = classifyExit(outcome);
  } else if (ok) {
    info = classifyExit(outcome);
  } else {
    info.kind = ExitKind::Unknown;
    info.reason = "start-failed";
    info.description = error;
  }
  if (info.kind == ExitKind::Stopped) {
    stoppedExternally(c, info, now);
    progressOperations(now);
    return;
  }
  if (info.kind == ExitKind::Timeout) {
    // systemd enforces start_timeout (TimeoutStartUSec) and reports Result=timeout.
    info.description = fmt::format("did not {} within its start_timeout of {}",
                                   c.worker->notify ? "send READY=1" : "start",
                                   formatDuration(c.worker->start_timeout));
  } else if (!info.setting.empty()) {
    // "cannot apply user 'nobdy' (systemd step USER failed, status 217/USER): no such user"
    info.description =
        fmt::format("cannot apply {} (systemd step {} failed, status {}/{}){}{}",
                    settingValue(*c.worker, info.setting), execStatusName(info.status), info.status,
                    execStatusName(info.status), error.empty() ? "" : ": ", error);
  } else if (!ok && !error.empty() && info.description != error) {
    info.description += fmt::format(" ({})", error);
  }
  Event e = event(ok ? EventType::WorkerExited : EventType::WorkerStartFailed, c, info.reason,
                  ok ? fmt::format("{} right after starting", info.description)
                     : fmt::format("failed to start: {}", info.description),
                  now);
  e.exit_status = info.status;
  e.setting = info.setting;
  emit(std::move(e));
  childEnded(c, info, now, /*start_failure=*/!ok);
  progressOperations(now);
}

void Engine::onStopResult(const std::string& unit,
                          bool ok,
                          const std::string& error,
                          TimePoint now) {
  touchUnit(unit);
  auto g = graveyard_.find(unit);
  if (g != graveyard_.end()) {
    graveyard_.erase(g);
    Event e;
    e.at = now;
    e.type = EventType::WorkerStopped;
    e.unit = unit;
    e.reason = ok ? "stopped" : "stop-failed";
    e.message = ok ? "stopped" : fmt::format("stop failed: {}", error);
    emit(std::move(e));
    auto it = units_.find(unit);
    if (it != units_.end() && it->second->blocked_on == unit) {
      Child& c = *it->second;
      c.blocked_on.clear();
      if (c.state == ChildState::Starting && c.deferred) {
        if (stopping_all_) {
          c.deferred = false;
          setState(c, ChildState::Idle);
          advance(*c.owner, now);
        } else {
          startChild(c, now);
        }
      }
    }
    progressOperations(now);
    return;
  }
  auto it = units_.find(unit);
  if (it == units_.end()) return;
  Child& c = *it->second;
  if (c.state != ChildState::Stopping) return;
  Sup& sup = *c.owner;
  // A health restart: the stop is done, now the end is handled as a failure. Under a
  // strategy restart or a stop of the supervisor in flight, the plan owns the child.
  if (c.health_exit && !c.operator_stop && !stopping_all_ &&
      (sup.state == SupervisorState::Running || sup.state == SupervisorState::Starting)) {
    const ExitInfo info = *c.health_exit;
    c.frozen = false;
    c.stopped_by.clear();
    emit(
        event(EventType::WorkerStopped, c, ok ? "unhealthy" : "stop-failed",
              ok ? "stopped: " + info.description
                 : fmt::format("stop failed ({}); handled as its end: {}", error, info.description),
              now));
    childEnded(c, info, now);
    progressOperations(now);
    return;
  }
  const bool temporary_by_strategy =
      c.restart() == RestartPolicy::Temporary && sup.state == SupervisorState::Restarting;
  setState(c, std::exchange(c.operator_stop, false) ? ChildState::Stopped
              : temporary_by_strategy               ? ChildState::Finished
                                                    : ChildState::Idle);
  c.frozen = false;
  const std::string by = std::exchange(c.stopped_by, {});
  if (c.state == ChildState::Stopped) c.down_by = by.empty() ? "an operator" : by;
  emit(event(EventType::WorkerStopped, c, ok ? "stopped" : "stop-failed",
             !ok          ? fmt::format("stop failed: {}", error)
             : by.empty() ? std::string("stopped")
                          : fmt::format("stopped by operator ({})", by),
             now));
  advance(sup, now);
  progressOperations(now);
}

void Engine::onSliceResult(const std::string& slice,
                           bool ok,
                           const std::string& error,
                           TimePoint now) {
  std::vector<Sup*> stack;
  for (auto& r : roots_) stack.push_back(r.get());
  while (!stack.empty()) {
    Sup* s = stack.back();
    stack.pop_back();
    for (auto& c : s->children)
      if (c->sup) stack.push_back(c->sup.get());
    if (sliceName(s->path) != slice) continue;
    if (!ok) {
      emit(event(EventType::SliceFailed, *s, "slice-failed",
                 fmt::format("could not set up {} with its limits: {}; the children run without "
                             "that budget",
                             slice, error),
                 now));
    }
    if (!s->current || s->current->kind != Step::Kind::Slice) return;  // a budget update
    s->current->fired = true;
    advance(*s, now);
    progressOperations(now);
    return;
  }
}

void Engine::onUnitExit(const std::string& unit, const UnitOutcome& outcome, TimePoint now) {
  touchUnit(unit);
  auto it = units_.find(unit);
  if (it == units_.end()) return;
  Child& c = *it->second;
  if (c.state != ChildState::Running) return;
  ExitInfo info = classifyExit(outcome);
  if (info.kind == ExitKind::Stopped) {
    stoppedExternally(c, info, now);
    progressOperations(now);
    return;
  }
  if (info.kind == ExitKind::Timeout && c.worker->limits.runtime_max) {
    // A running unit times out only through RuntimeMaxSec (a stop job we did not ask for
    // is classified above, one we asked for is not an exit).
    info.kind = ExitKind::RuntimeLimit;
    info.reason = toString(info.kind);
    info.description = fmt::format("stopped by systemd after its runtime limit of {} (runtime_max)",
                                   formatDuration(*c.worker->limits.runtime_max));
  }
  Event e = event(EventType::WorkerExited, c, info.reason, info.description, now);
  e.exit_status = info.status;
  emit(std::move(e));
  childEnded(c, info, now);
  progressOperations(now);
}

void Engine::onUnitActive(const std::string& unit, TimePoint now) {
  touchUnit(unit);
  if (stopping_all_) return;
  auto it = units_.find(unit);
  if (it == units_.end()) return;
  Child& c = *it->second;
  if (c.state != ChildState::Stopped) return;
  setState(c, ChildState::Running);
  c.started_at = now;
  c.was_up = true;
  c.health = initialHealth(c);
  c.health_since = now;
  emit(event(EventType::WorkerStarted, c, "started-externally",
             "started from outside vigil (e.g. systemctl restart); supervised again", now));
  advance(*c.owner, now);
  progressOperations(now);
}

void Engine::onHealth(const std::string& unit,
                      TimePoint started,
                      const HealthChange& change,
                      TimePoint now) {
  auto it = units_.find(unit);
  if (it == units_.end()) return;
  Child& c = *it->second;
  if (c.state != ChildState::Running || c.started_at != started || !c.worker) return;
  // HealthMonitor repeats an unhealthy verdict after each failed probe, so that a restart
  // held back (its supervisor was restarting) happens at the first probe after that.
  const bool repeated = c.health == change.to;
  if (repeated && change.to != HealthState::Unhealthy) return;
  // Restarted only while its supervisor runs it: under a strategy restart or a stop in
  // flight the plan already owns the child; a frozen worker is left to its operator.
  const SupervisorState owner = c.owner->state;
  const bool owned = owner == SupervisorState::Running || owner == SupervisorState::Starting;
  const bool restart =
      change.to == HealthState::Unhealthy && c.worker->health.restart && !c.frozen && owned;
  if (repeated && !restart) return;
  if (!repeated) {
    c.health = change.to;
    c.health_detail = change.detail;
    c.health_since = now;
    touch(c);
  }
  std::string message;
  switch (change.to) {
    case HealthState::Healthy:
      message = fmt::format("healthy ({})", change.detail);
      break;
    case HealthState::Unhealthy:
      message =
          fmt::format("unhealthy: {}{}", change.detail,
                      restart && c.restart() == RestartPolicy::Temporary
                          ? "; stopping it (restart is temporary: it is not started again)"
                      : restart                   ? "; restarting it through its supervisor"
                      : !c.worker->health.restart ? " (health.restart is false: reported only)"
                      : c.frozen                  ? " (frozen by an operator: not restarted)"
                                 : fmt::format(" (supervisor {} is {}: not restarted for it yet)",
                                               c.owner->pathString(), toString(owner)));
      break;
    default:
      message = fmt::format("{} ({})", toString(change.to), change.detail);
      break;
  }
  emit(event(EventType::WorkerHealth, c, toString(change.to), std::move(message), now));
  if (restart) {
    ExitInfo info;
    info.kind = ExitKind::Unhealthy;
    info.reason = toString(info.kind);
    info.description = "health: " + change.detail;
    stopChild(c, now, "unhealthy");
    c.health_exit = std::move(info);
  }
  progressOperations(now);  // a rolling restart may wait for this verdict
}

std::shared_ptr<const WorkerSpec> Engine::workerSpec(const std::string& unit) const {
  auto it = units_.find(unit);
  if (it == units_.end()) return nullptr;
  return it->second->worker;
}

void Engine::onTimer(std::uint64_t id, TimePoint now) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return;  // cancelled
  auto [child, sup] = it->second;
  timers_.erase(it);
  if (child) touch(*child);
  if (sup) touch(*sup);
  if (child) {
    child->timer = 0;
    if (child->state != ChildState::Waiting) return;
    setState(*child, ChildState::Idle);
    if (stopping_all_) return;
    startChild(*child, now);
  } else if (sup) {
    sup->delay_timer = 0;
    if (sup->current && sup->current->kind == Step::Kind::Delay) {
      sup->current->fired = true;
      advance(*sup, now);
    }
  }
  progressOperations(now);
}

void Engine::stopAll(TimePoint now) {
  stopping_all_ = true;
  changed_.all = true;
  for (auto& [id, op] : operations_) finish(*op, false, "vigil is stopping");
  operations_.clear();
  for (auto& root : roots_) {
    if (root->state == SupervisorState::Failed) {
      cancelTimers(*root);
      continue;
    }
    stopSup(*root, kStopDirected, now);
  }
}

// ---- timers, events, views -------------------------------------------------------------

std::string Engine::windowText(const Sup& sup, TimePoint now) {
  return fmt::format("{} of {} restarts allowed in {}", sup.window.count(now),
                     sup.window.spec().max_restarts, formatDuration(sup.window.spec().period));
}

void Engine::emitWithDelay(Event e, Usec delay, Sup& sup, TimePoint now) {
  e.delay = delay;
  e.restarts = sup.window.count(now);
  emit(std::move(e));
}

std::uint64_t Engine::armTimer(TimePoint deadline) {
  const std::uint64_t id = next_timer_++;
  Action a;
  a.kind = Action::Kind::ArmTimer;
  a.timer = id;
  a.deadline = deadline;
  act(std::move(a));
  return id;
}

void Engine::cancelTimer(std::uint64_t& id) {
  if (auto t = timers_.find(id); id && t != timers_.end()) {
    if (t->second.first) touch(*t->second.first);
    if (t->second.second) touch(*t->second.second);
    timers_.erase(t);
    Action a;
    a.kind = Action::Kind::CancelTimer;
    a.timer = id;
    act(std::move(a));
  }
  id = 0;
}

void Engine::cancelTimers(Sup& sup) {
  cancelTimer(sup.delay_timer);
  for (auto& c : sup.children) {
    cancelTimer(c->timer);
    if (c->sup) cancelTimers(*c->sup);
  }
}

Event Engine::event(
    EventType type, const Sup& sup, std::string reason, std::string message, TimePoint now) const {
  Event e;
  e.at = now;
  e.type = type;
  e.tree = sup.path.empty() ? "" : sup.path.front();
  e.supervisor = sup.pathString();
  e.reason = std::move(reason);
  e.message = std::move(message);
  return e;
}

Event Engine::event(
    EventType type, const Child& c, std::string reason, std::string message, TimePoint now) const {
  if (c.sup) return event(type, *c.sup, std::move(reason), std::move(message), now);
  Event e = event(type, *c.owner, std::move(reason), std::move(message), now);
  e.worker = displayName(c.owner->path, c.worker->name, c.instance);
  e.unit = c.unit.name;
  return e;
}

void Engine::emit(Event e) {
  if (!e.unit.empty()) touchUnit(e.unit);
  if (!e.supervisor.empty()) {
    if (const Sup* s = findSup(e.supervisor)) touch(*s);
  }
  events_.push_back(std::move(e));
}

void Engine::act(Action a) {
  switch (a.kind) {
    case Action::Kind::Start:
    case Action::Kind::Stop:
    case Action::Kind::Kill:
    case Action::Kind::Freeze:
    case Action::Kind::Thaw:
    case Action::Kind::SetLimits:
      touchUnit(a.unit.name);
      break;
    default:
      break;
  }
  actions_.push_back(std::move(a));
}

void Engine::setState(Child& c, ChildState state) {
  c.state = state;
  // An unhealthy worker stays unhealthy while it is stopped; not running, it has none.
  if (state != ChildState::Running && state != ChildState::Stopping) {
    c.health = HealthState::Unknown;
    c.health_detail.clear();
  }
  if (state != ChildState::Stopping) c.health_exit.reset();
  touch(c);
}

void Engine::setState(Sup& s, SupervisorState state) {
  s.state = state;
  touch(s);
}

void Engine::touch(const Child& c) {
  if (c.sup) {
    touch(*c.sup);
    return;
  }
  changed_.units.insert(c.unit.name);
  if (c.owner) touch(*c.owner);
}

void Engine::touch(const Sup& s) {
  for (const Sup* p = &s; p; p = p->parent) {
    if (!changed_.supervisors.insert(p->pathString()).second) break;  // ancestors are in
  }
}

void Engine::touchUnit(const std::string& unit) {
  auto it = units_.find(unit);
  if (it != units_.end()) touch(*it->second);
}

Engine::Changes Engine::takeChanged() {
  Changes out = std::exchange(changed_, {});
  if (out.all) {
    out.units.clear();
    out.supervisors.clear();
  }
  return out;
}

void Engine::recordExit(Child& c, const ExitInfo& info, std::string decision, TimePoint now) {
  if (c.exits.capacity() < kExitHistory) c.exits.reserve(kExitHistory);
  if (c.exits.size() >= kExitHistory) c.exits.erase(c.exits.begin());
  c.exits.push_back(ExitRecord{now, info, std::move(decision)});
  touch(c);
}

std::vector<Action> Engine::takeActions() {
  return std::exchange(actions_, {});
}
std::vector<Event> Engine::takeEvents() {
  return std::exchange(events_, {});
}
std::vector<Completion> Engine::takeCompletions() {
  return std::exchange(completions_, {});
}

bool Engine::allStopped() const {
  if (!stopping_all_ || !graveyard_.empty()) return false;
  for (const auto& [name, c] : units_) {
    if (c->live() && !c->deferred) return false;
  }
  return std::none_of(roots_.begin(), roots_.end(),
                      [](const auto& r) { return r->state == SupervisorState::Stopping; });
}

bool Engine::initialStartComplete() const {
  return std::all_of(roots_.begin(), roots_.end(), [](const auto& r) {
    return r->first_pass_done || r->state == SupervisorState::Failed;
  });
}

std::set<std::string> Engine::liveUnits() const {
  std::set<std::string> out;
  for (const auto& [name, c] : units_) {
    if (c->live() && !c->deferred) out.insert(name);
  }
  for (const auto& [name, c] : graveyard_) out.insert(name);
  return out;
}

namespace {

WorkerStatus workerStatus(const Engine::Child& c) {
  const Engine::Sup& s = *c.owner;
  WorkerStatus w;
  w.tree = s.path.front();
  w.supervisor = s.pathString();
  w.worker = displayName(s.path, c.worker->name, c.instance);
  w.unit = c.unit.name;
  w.instance = c.instance;
  w.position = static_cast<unsigned>(c.index);
  w.state = c.state;
  w.frozen = c.frozen;
  if (c.frozen) w.frozen_since = c.frozen_since;
  w.restarts = c.restarts;
  w.failures = c.failures;
  if (c.last_exit) {
    w.last_exit = c.last_exit->description;
    w.last_exit_reason = c.last_exit->reason;
    w.last = c.last_exit;
  }
  w.exits.assign(c.exits.begin(), c.exits.end());
  w.limits = c.unit.limits;
  w.limits_overridden = c.limits_overridden;
  w.health = c.health;
  w.health_detail = c.health_detail;
  if (c.worker->health.any())
    w.health_check = describeHealth(withInstance(c.worker->health, c.instance));
  if (c.health != HealthState::Unknown) w.health_since = c.health_since;
  if (c.state == ChildState::Running) w.since = c.started_at;
  if (c.state == ChildState::Waiting) w.next_restart = c.timer_deadline;
  return w;
}

SupervisorStatus supervisorStatus(const Engine::Sup& s, TimePoint now) {
  SupervisorStatus st;
  st.tree = s.path.front();
  st.path = s.pathString();
  st.position = s.self ? static_cast<unsigned>(s.self->index) : 0;
  st.state = s.state;
  st.strategy = toString(s.spec->strategy);
  st.restarts_in_window = s.window.count(now);
  st.intensity = s.window.spec();
  st.failure = s.failure;
  st.slice = sliceName(s.path);
  st.limits = s.budget();
  st.limits_overridden = s.budget_override.has_value();
  st.frozen = s.frozen;
  return st;
}

}  // namespace

std::vector<WorkerStatus> Engine::workers(TimePoint now) const {
  return workers(now, "");
}

std::vector<WorkerStatus> Engine::workers(TimePoint now, const std::string& target) const {
  std::vector<WorkerStatus> out;
  forEachWorker(now, target, [&out](WorkerStatus&& w) { out.push_back(std::move(w)); });
  return out;
}

void Engine::forEachWorker(TimePoint now,
                           const std::string& target,
                           const std::function<void(WorkerStatus&&)>& fn) const {
  (void)now;
  std::vector<const Sup*> stack;
  if (target.empty()) {
    for (auto it = roots_.rbegin(); it != roots_.rend(); ++it) stack.push_back(it->get());
  } else {
    auto r = resolve(target);
    if (!r) return;
    if (!r->sup) {
      for (const Child* c : r->workers) fn(workerStatus(*c));
      return;
    }
    stack.push_back(r->sup);
  }
  while (!stack.empty()) {
    const Sup* s = stack.back();
    stack.pop_back();
    for (auto it = s->children.rbegin(); it != s->children.rend(); ++it) {
      if ((*it)->sup) stack.push_back((*it)->sup.get());
    }
    for (const auto& c : s->children) {
      if (!c->sup) fn(workerStatus(*c));
    }
  }
}

std::vector<SupervisorStatus> Engine::supervisors(TimePoint now) const {
  std::vector<SupervisorStatus> out;
  std::vector<const Sup*> stack;
  for (auto it = roots_.rbegin(); it != roots_.rend(); ++it) stack.push_back(it->get());
  while (!stack.empty()) {
    const Sup* s = stack.back();
    stack.pop_back();
    out.push_back(supervisorStatus(*s, now));
    for (auto it = s->children.rbegin(); it != s->children.rend(); ++it) {
      if ((*it)->sup) stack.push_back((*it)->sup.get());
    }
  }
  return out;
}

std::optional<WorkerStatus> Engine::worker(const std::string& unit, TimePoint now) const {
  (void)now;
  auto it = units_.find(unit);
  if (it == units_.end() || it->second->sup) return std::nullopt;
  return workerStatus(*it->second);
}

std::optional<SupervisorStatus> Engine::supervisor(const std::string& path, TimePoint now) const {
  const Sup* s = findSup(path);
  if (!s) return std::nullopt;
  return supervisorStatus(*s, now);
}

namespace {
std::string childKey(const Engine::Child& c) {
  return c.sup ? "supervisor " + c.sup->spec->name : c.unit.name;
}
}  // namespace

namespace engine_detail {
void collectWorkersBelow(Engine::Sup& sup, std::map<std::string, Engine::Child*>& out) {
  // Engine::Sup is complete in this translation unit.
  for (auto& c : sup.children) {
    if (c->sup) {
      collectWorkersBelow(*c->sup, out);
    } else {
      out[c->unit.name] = c.get();
    }
  }
}
}  // namespace engine_detail

}  // namespace vigil::core
