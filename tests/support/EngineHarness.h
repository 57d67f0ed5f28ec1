#pragma once
// Drives core::Engine in tests: a fake monotonic clock, a record of the actions the
// engine asked for, and helpers that answer them the way systemd would.

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/Engine.h"

namespace vigil::test {

using namespace std::chrono_literals;

inline std::shared_ptr<core::WorkerSpec> worker(
    const std::string& name, core::RestartPolicy restart = core::RestartPolicy::Permanent) {
  auto w = std::make_shared<core::WorkerSpec>();
  w->name = name;
  w->command = {"/usr/bin/true", name};
  w->restart = restart;
  w->backoff.initial = 1s;
  w->backoff.max = 30s;
  w->backoff.multiplier = 2.0;
  w->backoff.jitter = 0.0;
  w->backoff.reset_after = 60s;
  return w;
}

inline core::SupervisorSpec tree(const std::string& name,
                                 core::Strategy strategy,
                                 std::vector<std::shared_ptr<core::WorkerSpec>> workers,
                                 unsigned max_restarts = 3,
                                 core::Usec period = 10s) {
  core::SupervisorSpec s;
  s.name = name;
  s.strategy = strategy;
  s.intensity.max_restarts = max_restarts;
  s.intensity.period = period;
  for (auto& w : workers) s.children.push_back(core::ChildSpec{w, nullptr});
  return s;
}

inline core::Config config(std::vector<core::SupervisorSpec> trees) {
  core::Config c;
  c.tier = "tier_2";
  c.source_file = "test.yaml";
  c.trees = std::move(trees);
  return c;
}

inline core::UnitOutcome exited(int status) {
  return {status ? "exit-code" : "success", 1, status};
}
inline core::UnitOutcome killed(int sig) {
  return {"signal", 2, sig};
}

// An operator's command as the API would hand it over.
inline core::Command cmd(core::Command::Kind kind, std::string target) {
  core::Command c;
  c.kind = kind;
  c.target = std::move(target);
  c.caller = "uid 1000 (alice)";
  return c;
}

class EngineHarness {
 public:
  explicit EngineHarness(std::uint64_t seed = 42) : engine(seed) {}
  core::Engine engine;
  core::TimePoint now{1'000'000'000};
  std::vector<std::string> started;  // Start actions, in order, not yet answered
  // The start_token of each unit's Start actions not yet answered, oldest first.
  std::map<std::string, std::deque<std::uint64_t>> start_tokens;
  // Answers `unit`'s start as PID 1 would: with the token of its newest Start action, the
  // only one the engine still waits for (older ones were superseded); those are dropped.
  void startResult(const std::string& unit,
                   bool ok,
                   const std::string& error,
                   const core::UnitOutcome& o = {},
                   bool exited = false) {
    std::uint64_t token = 0;
    auto it = start_tokens.find(unit);
    if (it != start_tokens.end() && !it->second.empty()) {
      token = it->second.back();
      start_tokens.erase(it);
    }
    engine.onStartResult(unit, token, ok, error, o, exited, now);
  }
  std::vector<std::string> stopped;  // Stop actions, in order, not yet answered
  std::vector<core::Action> all_actions;
  std::vector<core::Event> events;
  std::map<std::uint64_t, core::TimePoint> timers;

  std::vector<std::string> slices;         // Slice actions (answered at once, successfully)
  std::vector<core::Action> unit_actions;  // Kill/Freeze/Thaw/SetLimits, not yet answered
  std::vector<core::Completion> completions;

  void collect() {
    for (;;) {
      std::vector<std::string> answer;
      for (auto& a : engine.takeActions()) {
        // A Start carries the unit's name; record the spec the daemon builds when it issues
        // the call (here: at once).
        if (a.kind == core::Action::Kind::Start) {
          start_tokens[a.unit.name].push_back(a.start_token);
          if (auto spec = engine.startSpec(a.unit.name, a.start_token)) {
            const std::uint64_t token = a.start_token;
            a.unit = std::move(*spec);
            a.start_token = token;
          }
        }
        all_actions.push_back(a);
        switch (a.kind) {
          case core::Action::Kind::Start:
            started.push_back(a.unit.name);
            break;
          case core::Action::Kind::Stop:
            stopped.push_back(a.unit.name);
            break;
          case core::Action::Kind::ArmTimer:
            timers[a.timer] = a.deadline;
            break;
          case core::Action::Kind::Slice:
            slices.push_back(a.unit.name);
            answer.push_back(a.unit.name);
            break;
          case core::Action::Kind::CancelTimer:
            timers.erase(a.timer);
            break;
          case core::Action::Kind::Kill:
          case core::Action::Kind::Freeze:
          case core::Action::Kind::Thaw:
          case core::Action::Kind::SetLimits:
            unit_actions.push_back(a);
            break;
        }
      }
      for (auto& e : engine.takeEvents()) events.push_back(e);
      for (auto& c : engine.takeCompletions()) completions.push_back(c);
      if (answer.empty()) break;
      for (const auto& s : answer) engine.onSliceResult(s, true, "", now);
    }
  }

  void start(const core::Config& c, const std::vector<core::ExistingUnit>& existing = {}) {
    engine.start(c, existing, now);
    collect();
  }
  void reload(const core::Config& c) {
    engine.reload(c, now);
    collect();
  }

  // Answers the oldest pending start of `unit` successfully.
  void up(std::string unit) {
    take(started, unit);
    startResult(unit, true, "");
    collect();
  }
  // Answers every pending start successfully, repeatedly, until none is left.
  void upAll() {
    while (!started.empty()) up(started.front());
  }
  void startFails(const std::string& unit, core::UnitOutcome o = {"exit-code", 1, 203}) {
    take(started, unit);
    startResult(unit, false, "start job failed", o);
    collect();
  }
  void stopDone(std::string unit) {
    take(stopped, unit);
    engine.onStopResult(unit, true, "", now);
    collect();
  }
  void stopAllDone() {
    while (!stopped.empty()) stopDone(stopped.front());
  }
  void exits(const std::string& unit, core::UnitOutcome o) {
    engine.onUnitExit(unit, o, now);
    collect();
  }
  // Moves the clock and fires due timers in deadline order.
  void advance(core::Usec d) {
    const core::TimePoint target = now + d;
    for (;;) {
      auto next = std::min_element(timers.begin(), timers.end(),
                                   [](auto& a, auto& b) { return a.second < b.second; });
      if (next == timers.end() || next->second > target) break;
      now = std::max(now, next->second);
      const auto id = next->first;
      timers.erase(next);
      engine.onTimer(id, now);
      collect();
    }
    now = target;
  }
  std::size_t count(core::EventType t) const {
    return static_cast<std::size_t>(
        std::count_if(events.begin(), events.end(), [t](const auto& e) { return e.type == t; }));
  }
  const core::Event* last(core::EventType t) const {
    for (auto it = events.rbegin(); it != events.rend(); ++it)
      if (it->type == t) return &*it;
    return nullptr;
  }
  core::ChildState state(const std::string& unit) {
    for (const auto& w : engine.workers(now))
      if (w.unit == unit) return w.state;
    return core::ChildState::Idle;
  }
  // The restarts the supervisor at `path` counts in its intensity window (99: no such one).
  unsigned windowOf(const std::string& path) {
    for (const auto& s : engine.supervisors(now))
      if (s.path == path) return s.restarts_in_window;
    return 99;
  }
  core::SupervisorState treeState(const std::string& tree) {
    for (const auto& s : engine.supervisors(now))
      if (s.path == tree) return s.state;
    return core::SupervisorState::Idle;
  }

 private:
  static void take(std::vector<std::string>& v, const std::string& unit) {
    auto it = std::find(v.begin(), v.end(), unit);
    if (it == v.end()) throw std::runtime_error("no pending action for " + unit);
    v.erase(it);
  }
};

}  // namespace vigil::test
