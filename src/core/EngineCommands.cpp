// Operator commands on the supervision engine: resolving targets, refusing what cannot be
// done, and running each accepted command as an Operation that progresses with the facts
// the engine receives, until every target reached the state asked for.

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "core/Engine.h"
#include "core/EngineState.h"

namespace vigil::core {

using namespace engine_detail;

const char* toString(Command::Kind kind) {
  switch (kind) {
    case Command::Kind::Start:
      return "start";
    case Command::Kind::Stop:
      return "stop";
    case Command::Kind::Restart:
      return "restart";
    case Command::Kind::RollingRestart:
      return "rolling-restart";
    case Command::Kind::Reset:
      return "reset";
    case Command::Kind::Kill:
      return "kill";
    case Command::Kind::Freeze:
      return "freeze";
    case Command::Kind::Thaw:
      return "thaw";
    case Command::Kind::SetLimits:
      return "set";
    case Command::Kind::Scale:
      return "scale";
  }
  return "?";
}

namespace {

tl::unexpected<CommandError> refuse(const char* name, std::string message) {
  return tl::unexpected<CommandError>(CommandError{name, std::move(message)});
}

// Levenshtein distance, for "did you mean".
std::size_t distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

bool live(ChildState s) {
  return s == ChildState::Starting || s == ChildState::Running || s == ChildState::Stopping;
}

// The limits that a set command may change live: the cgroup ones.
bool onlyCgroupLimits(const Limits& l) {
  return !l.runtime_max && !l.nofile && !l.core;
}

bool anyLimit(const Limits& l) {
  return l.memory_max || l.memory_high || l.cpu_quota || l.cpu_weight || l.tasks_max || l.io_weight;
}

void mergeLimits(Limits& into, const Limits& from) {
  if (from.memory_max) into.memory_max = from.memory_max;
  if (from.memory_high) into.memory_high = from.memory_high;
  if (from.cpu_quota) into.cpu_quota = from.cpu_quota;
  if (from.cpu_weight) into.cpu_weight = from.cpu_weight;
  if (from.tasks_max) into.tasks_max = from.tasks_max;
  if (from.io_weight) into.io_weight = from.io_weight;
}

// Is `inner` the supervisor path `outer` or below it?
bool within(const std::string& inner, const std::string& outer) {
  return inner == outer ||
         (inner.size() > outer.size() && inner.starts_with(outer) && inner[outer.size()] == '/');
}

}  // namespace

// ---- targets -----------------------------------------------------------------------

std::vector<std::string> Engine::targets() const {
  std::vector<std::string> out;
  std::vector<const Sup*> stack;
  for (const auto& r : roots_) stack.push_back(r.get());
  while (!stack.empty()) {
    const Sup* s = stack.back();
    stack.pop_back();
    out.push_back(s->pathString());
    for (const auto& c : s->children) {
      if (c->sup) {
        stack.push_back(c->sup.get());
        continue;
      }
      const std::string worker = s->pathString() + "/" + c->worker->name;
      if (c->instance <= 1) out.push_back(worker);
      if (c->instance >= 1) out.push_back(fmt::format("{}@{}", worker, c->instance));
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Engine::Sup* Engine::findSup(const std::string& path) const {
  auto it = sups_.find(path);
  return it == sups_.end() ? nullptr : it->second;
}

tl::expected<Engine::Resolved, CommandError> Engine::resolve(const std::string& target) const {
  // A target comes from the API: bounded and checked before anything is computed from it
  // (the "nearest" ranking below costs its length times every path's) or echoed back.
  if (target.size() > kMaxTargetBytes)
    return refuse(kErrorInvalidArgument,
                  fmt::format("the target is {} bytes long; no path is longer than {}",
                              target.size(), kMaxTargetBytes));
  for (const char ch : target) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
        c == '/' || c == '@')
      continue;
    return refuse(kErrorInvalidArgument,
                  c >= 0x20 && c < 0x7f
                      ? fmt::format("the target contains '{}'; a path is names of letters, "
                                    "digits and '_' joined by '/', with '@N' for an instance",
                                    ch)
                      : fmt::format("the target contains the byte 0x{:02x}; a path is names of "
                                    "letters, digits and '_' joined by '/', with '@N' for an "
                                    "instance",
                                    c));
  }
  const auto unknown = [&]() {
    std::vector<std::pair<std::size_t, std::string>> ranked;
    for (const auto& t : targets()) ranked.emplace_back(distance(t, target), t);
    std::sort(ranked.begin(), ranked.end());
    std::string nearest;
    for (std::size_t i = 0; i < ranked.size() && i < 3; ++i)
      nearest += (i ? ", " : "") + ranked[i].second;
    return refuse(kErrorUnknownTarget,
                  ranked.empty()
                      ? fmt::format("unknown target '{}': nothing is configured", target)
                      : fmt::format("unknown target '{}'; nearest: {}", target, nearest));
  };
  if (target.empty()) return refuse(kErrorInvalidArgument, "the target is empty");
  Resolved r;
  r.path = target;
  std::string base = target;
  std::optional<unsigned> instance;
  if (const std::size_t at = target.rfind('@'); at != std::string::npos) {
    base = target.substr(0, at);
    const std::string digits = target.substr(at + 1);
    unsigned n = 0;
    for (const char ch : digits) {
      if (ch < '0' || ch > '9' || n > 100000) return unknown();
      n = n * 10 + static_cast<unsigned>(ch - '0');
    }
    if (digits.empty() || n == 0) return unknown();
    instance = n;
  }
  if (!instance) {
    if (Sup* s = findSup(base)) {
      r.sup = s;
      return r;
    }
  }
  const std::size_t slash = base.rfind('/');
  if (slash == std::string::npos) return unknown();
  Sup* owner = findSup(base.substr(0, slash));
  if (!owner) return unknown();
  const std::string name = base.substr(slash + 1);
  for (const auto& c : owner->children) {
    if (!c->worker || c->worker->name != name) continue;
    if (instance && c->instance != *instance) continue;
    r.workers.push_back(c.get());
  }
  if (r.workers.empty()) return unknown();
  return r;
}

// ---- commands ----------------------------------------------------------------------

void Engine::emitCommand(const Command& cmd, const std::string& message, TimePoint now) {
  Event e;
  e.at = now;
  e.type = EventType::OperatorCommand;
  e.reason = toString(cmd.kind);
  e.caller = cmd.caller;
  e.message = message;
  if (auto r = resolve(cmd.target)) {
    const Sup* s = r->sup ? r->sup : r->workers.front()->owner;
    e.tree = s->path.front();
    e.supervisor = s->pathString();
    if (!r->sup) {
      e.worker = cmd.target;
      if (r->workers.size() == 1) e.unit = r->workers.front()->unit.name;
    }
  }
  emit(std::move(e));
}

tl::expected<CommandAccepted, CommandError> Engine::command(const Command& cmd, TimePoint now) {
  if (stopping_all_) return refuse(kErrorNotPossible, "vigil is stopping");
  auto resolved = resolve(cmd.target);
  if (!resolved) return tl::unexpected(resolved.error());
  const Resolved& t = *resolved;
  const std::string who = cmd.caller.empty() ? "" : fmt::format(" by {}", cmd.caller);
  const auto ownerRunning = [](const Sup& s) {
    return s.state == SupervisorState::Running || s.state == SupervisorState::Starting ||
           s.state == SupervisorState::Restarting;
  };
  const auto needRunningOwner = [&]() -> std::optional<CommandError> {
    const Sup& owner = t.sup ? *t.sup->parent : *t.workers.front()->owner;
    if (ownerRunning(owner)) return std::nullopt;
    return CommandError{
        kErrorNotPossible,
        fmt::format("supervisor {} is {}; start it first", owner.pathString(),
                    owner.state == SupervisorState::Failed ? "failed" : toString(owner.state))};
  };

  auto op = std::make_unique<Operation>();
  op->id = next_operation_;
  op->command = cmd;
  if (t.sup) {
    op->items.push_back({true, t.sup->pathString()});
  } else {
    for (const Child* w : t.workers) op->items.push_back({false, w->unit.name});
  }
  std::string accepted;

  switch (cmd.kind) {
    case Command::Kind::Start:
    case Command::Kind::Reset: {
      if (t.sup) {
        Sup& s = *t.sup;
        if (s.state == SupervisorState::Stopping)
          return refuse(kErrorNotPossible,
                        fmt::format("{} is stopping; start it once it has stopped", t.path));
        if (cmd.kind == Command::Kind::Reset && s.state != SupervisorState::Failed)
          return refuse(kErrorNotPossible,
                        fmt::format("{} has not failed (it is {}); reset starts a failed "
                                    "supervisor afresh",
                                    t.path, toString(s.state)));
        if (cmd.kind == Command::Kind::Start && s.state == SupervisorState::Failed)
          return refuse(kErrorNotPossible,
                        fmt::format("{} has failed ({}); use reset to start it afresh with a "
                                    "fresh intensity window",
                                    t.path, s.failure));
        if (s.parent) {
          if (auto e = needRunningOwner()) return tl::unexpected(*e);
        }
        if (s.state == SupervisorState::Running) {
          // Running, but children an operator stopped (below it, in running supervisors)
          // are started again, as systemctl start of a target starts what it wants.
          std::vector<Child*> stopped;
          const std::function<void(Sup&)> collect = [&](Sup& sup) {
            for (auto& c : sup.children) {
              if (c->state == ChildState::Stopped) {
                stopped.push_back(c.get());
              } else if (c->sup && c->sup->state == SupervisorState::Running) {
                collect(*c->sup);
              }
            }
          };
          collect(s);
          if (stopped.empty()) {
            emitCommand(
                cmd, fmt::format("{} requested{}: already running", toString(cmd.kind), who), now);
            return CommandAccepted{0, fmt::format("{} is already running", t.path)};
          }
          op->items.clear();
          for (Child* c : stopped) {
            if (c->sup) {
              op->items.push_back({true, c->sup->pathString()});
              startSupByOperator(*c->sup, now);
            } else {
              op->items.push_back({false, c->unit.name});
              cancelTimer(c->timer);
              setState(*c, ChildState::Idle);
              startChild(*c, now);
            }
          }
          accepted = fmt::format("start requested{}: {} stopped child(ren)", who, stopped.size());
          op->phase = Operation::Phase::Starting;
          break;
        }
        if (s.state == SupervisorState::Idle || s.state == SupervisorState::Failed) {
          if (cmd.kind == Command::Kind::Reset) s.window.reset();
          startSupByOperator(s, now);
        }
      } else {
        if (cmd.kind == Command::Kind::Reset)
          return refuse(kErrorInvalidArgument,
                        fmt::format("reset applies to supervisors; {} is a worker (use start "
                                    "or restart)",
                                    t.path));
        if (auto e = needRunningOwner()) return tl::unexpected(*e);
        for (const Child* w : t.workers) {
          if (w->state == ChildState::Stopping)
            return refuse(kErrorNotPossible,
                          fmt::format("{} is stopping; start it once it has stopped",
                                      displayName(w->owner->path, w->worker->name, w->instance)));
        }
        const bool all_up = std::all_of(t.workers.begin(), t.workers.end(), [](const Child* w) {
          return w->state == ChildState::Running;
        });
        if (all_up) {
          emitCommand(cmd, fmt::format("start requested{}: already running", who), now);
          return CommandAccepted{0, fmt::format("{} is already running", t.path)};
        }
        for (Child* w : t.workers) {
          if (w->state == ChildState::Running || w->state == ChildState::Starting) continue;
          cancelTimer(w->timer);
          setState(*w, ChildState::Idle);
          startChild(*w, now);
        }
      }
      accepted = fmt::format("{} requested{}", toString(cmd.kind), who);
      op->phase = Operation::Phase::Starting;
      break;
    }
    case Command::Kind::Stop: {
      if (t.sup) {
        Sup& s = *t.sup;
        if (s.state == SupervisorState::Idle || s.state == SupervisorState::Failed) {
          emitCommand(cmd, fmt::format("stop requested{}: already stopped", who), now);
          return CommandAccepted{0, fmt::format("{} is already stopped", t.path)};
        }
        if (s.self) setState(*s.self, ChildState::Stopping);
        s.stopped_by = cmd.caller;
        stopSup(s, kStopOperator, now);
      } else {
        for (Child* w : t.workers) {
          if (w->state == ChildState::Running || w->state == ChildState::Starting) {
            w->operator_stop = true;
            stopChild(*w, now, "operator", cmd.caller);
          } else if (w->state == ChildState::Stopping) {
            w->operator_stop = true;
          } else {
            cancelTimer(w->timer);
            setState(*w, ChildState::Stopped);
          }
        }
      }
      accepted = fmt::format("stop requested{}", who);
      break;
    }
    case Command::Kind::Restart:
    case Command::Kind::RollingRestart: {
      if (t.sup) {
        Sup& s = *t.sup;
        if (s.state == SupervisorState::Stopping)
          return refuse(kErrorNotPossible, fmt::format("{} is stopping", t.path));
        if (s.state == SupervisorState::Failed)
          return refuse(kErrorNotPossible,
                        fmt::format("{} has failed ({}); use reset", t.path, s.failure));
        if (s.parent) {
          if (auto e = needRunningOwner()) return tl::unexpected(*e);
        }
        if (cmd.kind == Command::Kind::RollingRestart) {
          op->items.clear();
          for (const auto& c : s.children) {
            if (c->sup) {
              op->items.push_back({true, c->sup->pathString()});
            } else if (c->state != ChildState::Stopped && c->state != ChildState::Finished) {
              op->items.push_back({false, c->unit.name});
            }
          }
        }
      } else {
        if (auto e = needRunningOwner()) return tl::unexpected(*e);
        for (const Child* w : t.workers) {
          if (w->state == ChildState::Stopping)
            return refuse(kErrorNotPossible,
                          fmt::format("{} is stopping",
                                      displayName(w->owner->path, w->worker->name, w->instance)));
        }
      }
      accepted = fmt::format("{} requested{}", toString(cmd.kind), who);
      op->phase = Operation::Phase::Stopping;
      op->next = 0;
      break;
    }
    case Command::Kind::Kill: {
      if (cmd.signal < 1 || cmd.signal > 64)
        return refuse(kErrorInvalidArgument,
                      fmt::format("signal {} is not a signal number (1 to 64)", cmd.signal));
      std::vector<const Child*> victims;
      if (t.sup) {
        std::map<std::string, Child*> all;
        collectWorkersBelow(*t.sup, all);
        for (const auto& [name, c] : all)
          if (c->state == ChildState::Running || c->state == ChildState::Starting)
            victims.push_back(c);
      } else {
        for (const Child* w : t.workers)
          if (w->state == ChildState::Running || w->state == ChildState::Starting)
            victims.push_back(w);
      }
      if (victims.empty())
        return refuse(kErrorNotPossible, fmt::format("nothing of {} is running", t.path));
      for (const Child* v : victims) {
        Action a;
        a.kind = Action::Kind::Kill;
        a.unit.name = v->unit.name;
        a.operation = op->id;
        a.signal = cmd.signal;
        a.main_only = cmd.main_only;
        act(std::move(a));
        op->outstanding++;
      }
      accepted = fmt::format("kill -{} of {}{} requested{}", cmd.signal,
                             cmd.main_only ? "the main process of " : "", t.path, who);
      op->phase = Operation::Phase::Results;
      break;
    }
    case Command::Kind::Freeze:
    case Command::Kind::Thaw: {
      const bool freeze = cmd.kind == Command::Kind::Freeze;
      if (t.sup) {
        if (!ownerRunning(*t.sup))
          return refuse(kErrorNotPossible, fmt::format("{} is not running", t.path));
        if (t.sup->frozen == freeze)
          return refuse(kErrorNotPossible,
                        fmt::format("{} is {}", t.path, freeze ? "frozen already" : "not frozen"));
        Action a;
        a.kind = freeze ? Action::Kind::Freeze : Action::Kind::Thaw;
        a.unit.name = sliceName(t.sup->path);
        a.operation = op->id;
        act(std::move(a));
        op->outstanding++;
      } else {
        for (const Child* w : t.workers) {
          if (w->state != ChildState::Running || w->frozen == freeze) continue;
          Action a;
          a.kind = freeze ? Action::Kind::Freeze : Action::Kind::Thaw;
          a.unit.name = w->unit.name;
          a.operation = op->id;
          act(std::move(a));
          op->outstanding++;
        }
        if (op->outstanding == 0)
          return refuse(kErrorNotPossible,
                        fmt::format("{} is {}", t.path,
                                    freeze ? "not running (or frozen already)" : "not frozen"));
      }
      accepted = fmt::format("{} requested{}", toString(cmd.kind), who);
      op->phase = Operation::Phase::Results;
      break;
    }
    case Command::Kind::SetLimits: {
      if (!anyLimit(cmd.limits) || !onlyCgroupLimits(cmd.limits))
        return refuse(kErrorInvalidArgument,
                      "set changes memory_max, memory_high, cpu_quota, cpu_weight, tasks_max "
                      "and io_weight");
      if (t.sup) {
        Limits merged = t.sup->budget();
        mergeLimits(merged, cmd.limits);
        t.sup->budget_override = merged;
        if (t.sup->state != SupervisorState::Idle && t.sup->state != SupervisorState::Failed) {
          Action a;
          a.kind = Action::Kind::SetLimits;
          a.unit.name = sliceName(t.sup->path);
          a.unit.limits = cmd.limits;
          a.operation = op->id;
          act(std::move(a));
          op->outstanding++;
        }
      } else {
        for (Child* w : t.workers) {
          mergeLimits(w->unit.limits, cmd.limits);
          w->limits_overridden = true;
          if (!live(w->state)) continue;  // applies at its next start
          Action a;
          a.kind = Action::Kind::SetLimits;
          a.unit.name = w->unit.name;
          a.unit.limits = cmd.limits;
          a.operation = op->id;
          act(std::move(a));
          op->outstanding++;
        }
      }
      accepted = fmt::format("set requested{}: until the next reload", who);
      op->phase = Operation::Phase::Results;
      break;
    }
    case Command::Kind::Scale: {
      if (t.sup)
        return refuse(kErrorInvalidArgument,
                      fmt::format("scale applies to workers; {} is a supervisor", t.path));
      if (cmd.target.find('@') != std::string::npos)
        return refuse(kErrorInvalidArgument,
                      fmt::format("scale applies to a worker, not to one instance ({})", t.path));
      if (cmd.instances < 1 || cmd.instances > kMaxScale)
        return refuse(kErrorInvalidArgument,
                      fmt::format("expected an instance count from 1 to {}, found {}", kMaxScale,
                                  cmd.instances));
      const Sup& owner = *t.workers.front()->owner;
      if (owner.state != SupervisorState::Running)
        return refuse(kErrorNotPossible,
                      fmt::format("supervisor {} is {}; scale once it is running",
                                  owner.pathString(), toString(owner.state)));
      const unsigned current = static_cast<unsigned>(t.workers.size());
      if (cmd.instances == current) {
        emitCommand(cmd, fmt::format("scale requested{}: already {} instance(s)", who, current),
                    now);
        return CommandAccepted{0, fmt::format("{} has {} instance(s) already", t.path, current)};
      }
      op->scale_to = cmd.instances;
      op->items.clear();
      // Surplus instances stop one at a time, highest first.
      for (auto it = t.workers.rbegin(); it != t.workers.rend(); ++it) {
        if ((*it)->instance > cmd.instances) op->items.push_back({false, (*it)->unit.name});
      }
      accepted = fmt::format("scale from {} to {} instance(s) requested{}: until the next reload",
                             current, cmd.instances, who);
      op->phase = Operation::Phase::Stopping;
      break;
    }
  }

  // An earlier operation on an overlapping target gives way to this one.
  const auto overlaps = [&](const Operation& other) {
    for (const auto& a : other.items) {
      for (const auto& b : op->items) {
        const std::string pa =
            a.supervisor ? a.key
                         : (units_.count(a.key) ? units_.at(a.key)->owner->pathString() : "");
        const std::string pb =
            b.supervisor ? b.key
                         : (units_.count(b.key) ? units_.at(b.key)->owner->pathString() : "");
        if (!a.supervisor && !b.supervisor && a.key == b.key) return true;
        if (a.supervisor && within(pb, a.key)) return true;
        if (b.supervisor && within(pa, b.key)) return true;
      }
    }
    return false;
  };
  for (auto& [id, other] : operations_) {
    if (overlaps(*other))
      finish(*other, false,
             fmt::format("superseded by {} of {}{}", toString(cmd.kind), cmd.target, who));
  }
  emitCommand(cmd, accepted, now);
  if (t.sup) touch(*t.sup);
  for (const Child* w : t.workers) touch(*w);
  const std::uint64_t id = op->id;
  next_operation_++;
  operations_[id] = std::move(op);
  progressOperations(now);
  return CommandAccepted{id, accepted};
}

void Engine::onActionResult(std::uint64_t operation,
                            const std::string& unit,
                            bool ok,
                            const std::string& error,
                            TimePoint now) {
  auto it = operations_.find(operation);
  if (it == operations_.end()) return;
  Operation& op = *it->second;
  if (op.outstanding > 0) op.outstanding--;
  if (!ok) {
    op.errors.push_back(fmt::format("{}: {}", unit, error));
  } else if (op.command.kind == Command::Kind::Freeze || op.command.kind == Command::Kind::Thaw) {
    const bool freeze = op.command.kind == Command::Kind::Freeze;
    const auto mark = [&](Child& c) {
      c.frozen = freeze;
      c.frozen_since = now;
      // A frozen worker is not probed (unknown); thawed, its checks start afresh.
      c.health = freeze || c.state != ChildState::Running ? HealthState::Unknown : initialHealth(c);
      c.health_detail.clear();
      c.health_since = now;
      touch(c);
    };
    if (auto found = units_.find(unit); found != units_.end()) {
      mark(*found->second);
    } else if (!op.items.empty() && op.items.front().supervisor) {
      if (Sup* s = findSup(op.items.front().key)) {
        s->frozen = freeze;
        s->frozen_since = now;
        touch(*s);
        std::map<std::string, Child*> all;
        collectWorkersBelow(*s, all);
        for (auto& [name, c] : all) mark(*c);
      }
    }
  }
  progressOperations(now);
}

// ---- operations ----------------------------------------------------------------------

void Engine::startSupByOperator(Sup& sup, TimePoint now) {
  if (sup.self) {
    cancelTimer(sup.self->timer);
    setState(*sup.self, ChildState::Idle);
    const IntensityWindow window = sup.window;
    startChild(*sup.self, now);  // resets the window: a start by the parent
    if (sup.state != SupervisorState::Failed) sup.window = window;
  } else {
    for (auto& c : sup.children)
      if (c->state == ChildState::Stopped) setState(*c, ChildState::Idle);
    startSup(sup, now);
  }
}

void Engine::restartChild(Child& c, TimePoint now, const std::string& by) {
  if (live(c.state)) {
    if (c.state != ChildState::Stopping) stopChild(c, now, "operator", by);
    return;
  }
  cancelTimer(c.timer);
  setState(c, ChildState::Idle);
  startChild(c, now);
}

void Engine::finish(Operation& op, bool ok, std::string message) {
  completions_.push_back(Completion{op.id, ok, std::move(message)});
  op.items.clear();
  op.command.target.clear();
  op.outstanding = 0;
  op.id = 0;  // marks it finished; removed by progressOperations
}

void Engine::progressOperations(TimePoint now) {
  // An operation's step can itself feed the engine (scale reloads the tree); the inner call
  // only asks the outer loop for another pass, so no operation is advanced or erased twice.
  if (progressing_) {
    progress_again_ = true;
    return;
  }
  progressing_ = true;
  for (bool again = true; again;) {
    again = progress_again_;
    progress_again_ = false;
    for (auto it = operations_.begin(); it != operations_.end();) {
      Operation& op = *it->second;
      if (op.id == 0 || progress(op, now)) {
        it = operations_.erase(it);
        again = true;
      } else {
        ++it;
      }
    }
    again = again || progress_again_;
  }
  progressing_ = false;
}

// Advances `op` as far as the current state allows; true once it has finished.
bool Engine::progress(Operation& op, TimePoint now) {
  const Command& cmd = op.command;
  const auto child = [&](const Operation::Item& item) -> Child* {
    auto it = units_.find(item.key);
    return it == units_.end() ? nullptr : it->second;
  };
  const auto name = [&](const Operation::Item& item) {
    if (item.supervisor) return item.key;
    const Child* c = child(item);
    return c ? displayName(c->owner->path, c->worker->name, c->instance) : item.key;
  };
  // Whether `item` is up: 1 yes, 0 not yet, -1 failed (with why).
  const auto up = [&](const Operation::Item& item, std::string& why) -> int {
    if (item.supervisor) {
      const Sup* s = findSup(item.key);
      if (!s) return 1;  // gone from the configuration
      switch (s->state) {
        case SupervisorState::Running:
          return 1;
        case SupervisorState::Starting:
        case SupervisorState::Restarting:
          return 0;
        case SupervisorState::Failed:
          why = fmt::format("{} failed: {}", item.key, s->failure);
          return -1;
        default:
          why = fmt::format("{} is {}", item.key, toString(s->state));
          return -1;
      }
    }
    const Child* c = child(item);
    if (!c) return 1;
    switch (c->state) {
      case ChildState::Running:
      case ChildState::Finished:
        return 1;
      case ChildState::Starting:
      case ChildState::Idle:
        return 0;
      default:
        why = fmt::format("{} {}", name(item),
                          c->health_exit ? "was stopped: " + c->health_exit->description
                          : c->last_exit ? c->last_exit->description
                                         : std::string(toString(c->state)));
        return -1;
    }
  };
  // A rolling restart moves on only once the restarted instance passes its health
  // probe, if it has one (Kubernetes' rolling updates wait for readiness likewise); an
  // instance found unhealthy stops the roll.
  const auto upHealthy = [&](const Operation::Item& item, std::string& why) -> int {
    const int u = up(item, why);
    if (u != 1 || item.supervisor) return u;
    const Child* c = child(item);
    if (!c || c->state != ChildState::Running || !c->worker ||
        c->worker->health.probe == HealthSpec::Probe::None)
      return u;
    if (c->health == HealthState::Healthy) return 1;
    if (c->health == HealthState::Unhealthy) {
      why = fmt::format("{} is unhealthy: {}", name(item), c->health_detail);
      return -1;
    }
    return 0;
  };
  const auto down = [&](const Operation::Item& item) {
    if (item.supervisor) {
      const Sup* s = findSup(item.key);
      return !s || s->state != SupervisorState::Stopping;
    }
    const Child* c = child(item);
    return !c || !live(c->state);
  };
  const auto allUp = [&](std::string& why) {
    int worst = 1;
    for (const auto& item : op.items) {
      std::string w;
      const int u = up(item, w);
      if (u < 0 && worst >= 0) why = w;
      worst = std::min(worst, u);
    }
    return worst;
  };

  switch (cmd.kind) {
    case Command::Kind::Start:
    case Command::Kind::Reset: {
      std::string why;
      const int u = allUp(why);
      if (u == 0) return false;
      finish(op, u > 0,
             u > 0 ? fmt::format("{} is running", cmd.target)
                   : fmt::format("{} did not come up: {}", cmd.target, why));
      return true;
    }
    case Command::Kind::Stop: {
      if (!std::all_of(op.items.begin(), op.items.end(), down)) return false;
      finish(op, true, fmt::format("{} is stopped", cmd.target));
      return true;
    }
    case Command::Kind::Kill:
    case Command::Kind::Freeze:
    case Command::Kind::Thaw:
    case Command::Kind::SetLimits: {
      if (op.outstanding > 0) return false;
      std::string errors;
      for (const auto& e : op.errors) errors += (errors.empty() ? "" : "; ") + e;
      const bool ok = op.errors.empty();
      finish(op, ok,
             ok ? fmt::format("{} of {} done", toString(cmd.kind), cmd.target)
                : fmt::format("{} of {} failed: {}", toString(cmd.kind), cmd.target, errors));
      return true;
    }
    case Command::Kind::Restart: {
      if (op.phase == Operation::Phase::Stopping) {
        bool stopped = true;
        for (const auto& item : op.items) {
          if (item.supervisor) {
            Sup* s = findSup(item.key);
            if (!s) continue;
            if (s->state == SupervisorState::Running || s->state == SupervisorState::Starting ||
                s->state == SupervisorState::Restarting) {
              if (s->self) setState(*s->self, ChildState::Stopping);
              stopSup(*s, kStopDirected, now);
            }
            if (s->state == SupervisorState::Stopping) stopped = false;
          } else if (Child* c = child(item)) {
            if (c->state == ChildState::Running || c->state == ChildState::Starting)
              stopChild(*c, now, "operator", cmd.caller);
            if (live(c->state)) stopped = false;
          }
        }
        if (!stopped) return false;
        for (const auto& item : op.items) {
          if (item.supervisor) {
            if (Sup* s = findSup(item.key)) startSupByOperator(*s, now);
          } else if (Child* c = child(item)) {
            restartChild(*c, now, cmd.caller);
          }
        }
        op.phase = Operation::Phase::Starting;
      }
      std::string why;
      const int u = allUp(why);
      if (u == 0) return false;
      finish(op, u > 0,
             u > 0 ? fmt::format("{} restarted", cmd.target)
                   : fmt::format("{} did not come back: {}", cmd.target, why));
      return true;
    }
    case Command::Kind::RollingRestart: {
      while (op.next < op.items.size()) {
        const Operation::Item& item = op.items[op.next];
        if (op.phase == Operation::Phase::Stopping) {
          if (item.supervisor) {
            Sup* s = findSup(item.key);
            if (s && s->state != SupervisorState::Idle && s->state != SupervisorState::Stopping &&
                s->state != SupervisorState::Failed) {
              if (s->self) setState(*s->self, ChildState::Stopping);
              stopSup(*s, kStopDirected, now);
            }
            if (s && s->state == SupervisorState::Stopping) return false;
            if (s) startSupByOperator(*s, now);
          } else if (Child* c = child(item)) {
            if (c->state == ChildState::Running || c->state == ChildState::Starting)
              stopChild(*c, now, "operator", cmd.caller);
            if (live(c->state)) return false;
            restartChild(*c, now, cmd.caller);
          }
          op.phase = Operation::Phase::Starting;
        }
        std::string why;
        const int u = upHealthy(item, why);
        if (u == 0) return false;
        if (u < 0) {
          finish(op, false,
                 fmt::format("rolling restart of {} stopped at {}: {}; {} of {} restarted",
                             cmd.target, name(item), why, op.next, op.items.size()));
          return true;
        }
        op.next++;
        op.phase = Operation::Phase::Stopping;
      }
      finish(op, true,
             fmt::format("{}: all {} restarted, one at a time", cmd.target, op.items.size()));
      return true;
    }
    case Command::Kind::Scale: {
      if (op.phase == Operation::Phase::Stopping) {
        while (op.next < op.items.size()) {
          Child* c = child(op.items[op.next]);
          if (c && (c->state == ChildState::Running || c->state == ChildState::Starting)) {
            c->operator_stop = true;
            stopChild(*c, now, "operator", cmd.caller);
          } else if (c && c->state == ChildState::Stopping) {
            c->operator_stop = true;  // e.g. a health restart: it ends scaled away, uncounted
          }
          if (c && live(c->state)) return false;
          if (c && c->state == ChildState::Waiting) {
            cancelTimer(c->timer);
            setState(*c, ChildState::Stopped);
          }
          op.next++;
        }
        // The surplus is down: change the instance count in the configuration in force.
        Config scaled = config_;
        const Child* any = nullptr;
        std::string worker_name;
        for (const auto& [unit, w] : units_) {
          if (w->worker &&
              fmt::format("{}/{}", w->owner->pathString(), w->worker->name) == cmd.target) {
            any = w;
            worker_name = w->worker->name;
          }
        }
        if (!any || !scaleInConfig(scaled, cmd.target, op.scale_to)) {
          finish(op, false, fmt::format("{} is gone from the configuration", cmd.target));
          return true;
        }
        const SupervisorPath path = any->owner->path;
        std::set<std::string> before;
        for (const auto& [unit, w] : units_) before.insert(unit);
        rebuild(scaled, now);
        scaled_[cmd.target] = op.scale_to;
        // The scale answers for the instances it added; the others keep their own course
        // (one in backoff stays in backoff, see the test "a scale during a backoff").
        op.items.clear();
        for (const auto& [unit, w] : units_) {
          if (w->worker && w->worker->name == worker_name && w->owner->path == path &&
              !before.contains(unit))
            op.items.push_back({false, unit});
        }
        op.phase = Operation::Phase::Starting;
      }
      std::string why;
      const int u = allUp(why);
      if (u == 0) return false;
      finish(
          op, u > 0,
          u > 0 ? fmt::format("{} runs {} instance(s)", cmd.target, op.scale_to)
                : fmt::format("{} did not reach {} instance(s): {}", cmd.target, op.scale_to, why));
      return true;
    }
  }
  return true;
}

void Engine::rebuild(const Config& config, TimePoint now) {
  rebuilding_ = true;
  reload(config, now);
  rebuilding_ = false;
}

std::optional<CommandError> Engine::checkTarget(const std::string& target) const {
  auto r = resolve(target);
  if (r) return std::nullopt;
  return r.error();
}

std::set<std::string> Engine::overrides() const {
  std::set<std::string> out;
  for (const auto& [unit, c] : units_) {
    if (c->limits_overridden && c->worker)
      out.insert(displayName(c->owner->path, c->worker->name, c->instance));
  }
  for (const auto& [path, s] : sups_) {
    if (s->budget_override) out.insert(path);
  }
  return out;
}

std::set<std::string> Engine::failedTrees() const {
  std::set<std::string> out;
  for (const auto& r : roots_) {
    if (r->state == SupervisorState::Failed) out.insert(r->spec->name);
  }
  return out;
}

bool scaleInConfig(Config& config, const std::string& worker_path, unsigned instances) {
  std::vector<std::string> parts;
  std::size_t from = 0;
  for (;;) {
    const std::size_t slash = worker_path.find('/', from);
    parts.push_back(worker_path.substr(from, slash - from));
    if (slash == std::string::npos) break;
    from = slash + 1;
  }
  if (parts.size() < 2) return false;
  const std::string worker_name = parts.back();
  parts.pop_back();
  // Copy-on-write down the path: the specs are shared with the engine's trees.
  std::function<bool(SupervisorSpec&, std::size_t)> edit = [&](SupervisorSpec& s,
                                                               std::size_t depth) {
    if (depth + 1 == parts.size()) {
      for (auto& cs : s.children) {
        if (!cs.worker || cs.worker->name != worker_name) continue;
        auto w = std::make_shared<WorkerSpec>(*cs.worker);
        w->instances = instances;
        w->instance_names = true;
        cs.worker = w;
        return true;
      }
      return false;
    }
    for (auto& cs : s.children) {
      if (cs.supervisor && cs.supervisor->name == parts[depth + 1]) {
        auto sub = std::make_shared<SupervisorSpec>(*cs.supervisor);
        if (!edit(*sub, depth + 1)) return false;
        cs.supervisor = sub;
        return true;
      }
    }
    return false;
  };
  for (auto& tree : config.trees)
    if (tree.name == parts.front()) return edit(tree, 0);
  return false;
}

}  // namespace vigil::core
