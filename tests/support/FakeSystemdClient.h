#pragma once
// A scripted stand-in for PID 1: records every request and lets the test decide when and
// how each one finishes. Never the proof that vigil works with systemd (the VM tests are);
// it checks the daemon's wiring.

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "systemd/SystemdClient.h"

namespace vigil::test {

class FakeSystemdClient final : public systemd::SystemdClient {
 public:
  struct Start {
    core::UnitSpec spec;
    JobDone done;
  };
  struct Stop {
    std::string name;
    JobDone done;
  };

  std::deque<Start> starts;
  std::deque<Stop> stops;
  std::vector<std::function<void(util::Result<std::vector<core::ExistingUnit>>)>> lists;
  std::map<std::string, systemd::UnitState> units;
  std::vector<std::string> log;  // "start NAME" / "stop NAME" in request order

  // A start's spec is built when it is issued, as the real client does when a job slot
  // is free: at once, or, with hold_starts, when the test calls issueHeldStarts() (the
  // start waited behind the job window). A withdrawn start (the source failed) is logged
  // as "withdrawn NAME" and waits in `withdrawn`, with its error, for the test to answer.
  bool hold_starts = false;
  struct Held {
    std::string name;
    SpecSource source;
    JobDone done;
  };
  std::deque<Held> held;
  struct Withdrawn {
    std::string name;
    std::string error;
    JobDone done;
  };
  std::deque<Withdrawn> withdrawn;
  void startService(const std::string& name, SpecSource source, core::Usec, JobDone done) override {
    if (hold_starts) {
      log.push_back("hold " + name);
      held.push_back({name, std::move(source), std::move(done)});
      return;
    }
    issue(name, source, std::move(done));
  }
  void issueHeldStarts() {
    std::deque<Held> now;
    now.swap(held);
    for (auto& h : now) issue(h.name, h.source, std::move(h.done));
  }
  // Answers the oldest withdrawn start as the real client does (ok = false, its error).
  void answerWithdrawn() {
    Withdrawn w = std::move(withdrawn.front());
    withdrawn.pop_front();
    systemd::JobOutcome o;
    o.unit.name = w.name;
    o.error = "start withdrawn: " + w.error;
    w.done(o);
  }
  // Slices are created at once and successfully (recorded as "slice NAME").
  std::map<std::string, core::Limits> slices;
  void ensureSlice(const std::string& name,
                   const std::string&,
                   const core::Limits& limits,
                   core::Usec,
                   JobDone done) override {
    log.push_back("slice " + name);
    slices[name] = limits;
    systemd::JobOutcome o;
    o.ok = true;
    o.unit.name = name;
    done(o);
  }
  void stopUnit(const std::string& name, core::Usec, JobDone done) override {
    log.push_back("stop " + name);
    stops.push_back({name, std::move(done)});
  }
  void listManagedUnits(
      std::function<void(util::Result<std::vector<core::ExistingUnit>>)> done) override {
    lists.push_back(std::move(done));
  }
  void setExitObserver(std::function<void(const systemd::UnitState&)> observer) override {
    observer_ = std::move(observer);
  }
  void setActiveObserver(std::function<void(const systemd::UnitState&)> observer) override {
    active_observer_ = std::move(observer);
  }
  // Kill/Freeze/Thaw/SetLimits calls ("kill NAME", "freeze NAME", ...), answered by the test.
  struct Simple {
    std::string what;
    JobDone done;
  };
  std::deque<Simple> simple;
  void killUnit(const std::string& name, bool main_only, int signal, JobDone done) override {
    log.push_back(std::string(main_only ? "kill-main " : "kill ") + std::to_string(signal) + " " +
                  name);
    simple.push_back({"kill " + name, std::move(done)});
  }
  void freezeUnit(const std::string& name, bool freeze, JobDone done) override {
    log.push_back((freeze ? "freeze " : "thaw ") + name);
    simple.push_back({(freeze ? "freeze " : "thaw ") + name, std::move(done)});
  }
  void setUnitLimits(const std::string& name, const core::Limits&, JobDone done) override {
    log.push_back("set " + name);
    simple.push_back({"set " + name, std::move(done)});
  }
  void finishSimple(bool ok = true) {
    Simple s = std::move(simple.front());
    simple.pop_front();
    systemd::JobOutcome o;
    o.ok = ok;
    if (!ok) o.error = "refused";
    s.done(o);
  }
  // ping: answered at once unless pid1_silent, when it is never answered (a PID 1 that
  // does not answer).
  bool pid1_silent = false;
  std::size_t ping_count = 0;
  std::vector<std::function<void(util::Result<void>)>> unanswered_pings;
  void ping(core::Usec, std::function<void(util::Result<void>)> done) override {
    ping_count++;
    if (pid1_silent) {
      unanswered_pings.push_back(std::move(done));
      return;
    }
    done({});
  }
  // The pings PID 1 left unanswered reach their timeout (as sd-bus reports it).
  void timeOutPings() {
    auto pending = std::move(unanswered_pings);
    unanswered_pings.clear();
    for (auto& done : pending) done(util::fail("Connection timed out"));
  }
  // queryStackStop requests, answered by the test.
  std::vector<std::function<void(util::Result<bool>)>> stack_queries;
  void queryStackStop(std::function<void(util::Result<bool>)> done) override {
    log.push_back("query stack stop");
    stack_queries.push_back(std::move(done));
  }
  std::optional<systemd::UnitState> unitState(const std::string& name) const override {
    auto it = units.find(name);
    if (it == units.end()) return std::nullopt;
    return it->second;
  }
  std::size_t pendingOperations() const override {
    return starts.size() + stops.size() + held.size() + withdrawn.size();
  }
  // resetFailed calls that found the unit failed (then it is gone, as PID 1 would unload it).
  std::vector<std::string> resets;
  void resetFailed(const std::string& name) override {
    auto it = units.find(name);
    if (it == units.end() || it->second.active_state != "failed") return;
    resets.push_back(name);
    units.erase(it);
  }
  std::vector<std::string> failedUnits() const override {
    std::vector<std::string> out;
    for (const auto& [name, st] : units)
      if (st.active_state == "failed") out.push_back(name);
    return out;
  }

  // Finishes the oldest start request: the unit is now active (ok) or failed.
  std::string finishStart(bool ok = true, core::UnitOutcome outcome = {}) {
    Start s = std::move(starts.front());
    starts.pop_front();
    systemd::JobOutcome o;
    o.ok = ok;
    o.unit.name = s.spec.name;
    o.unit.active_state = ok ? "active" : "failed";
    o.unit.outcome = outcome;
    o.unit.main_pid = ok ? 4242 : 0;
    // As the real client: known from the slice and the name.
    if (ok) o.unit.control_group = core::controlGroupOf(s.spec.slice, s.spec.name);
    if (!ok) o.error = "start job failed";
    units[s.spec.name] = o.unit;
    s.done(o);
    return s.spec.name;
  }
  std::string finishStop() {
    Stop s = std::move(stops.front());
    stops.pop_front();
    systemd::JobOutcome o;
    o.ok = true;
    o.unit.name = s.name;
    o.unit.active_state = "inactive";
    units[s.name] = o.unit;
    s.done(o);
    return s.name;
  }
  // The unit's main process ended on its own.
  void unitExits(const std::string& name, core::UnitOutcome outcome) {
    systemd::UnitState st;
    st.name = name;
    st.active_state = "failed";
    st.outcome = outcome;
    units[name] = st;
    observer_(st);
  }
  // The unit became active (e.g. an operator's `systemctl restart`).
  void unitActive(const std::string& name) {
    systemd::UnitState st;
    st.name = name;
    st.active_state = "active";
    st.main_pid = 4343;
    units[name] = st;
    if (active_observer_) active_observer_(st);
  }

 private:
  void issue(const std::string& name, const SpecSource& source, JobDone done) {
    util::Result<core::UnitSpec> spec = source();
    if (!spec) {
      log.push_back("withdrawn " + name);
      withdrawn.push_back({name, spec.error().message(), std::move(done)});
      return;
    }
    log.push_back("start " + name);
    starts.push_back({std::move(*spec), std::move(done)});
  }
  std::function<void(const systemd::UnitState&)> observer_;
  std::function<void(const systemd::UnitState&)> active_observer_;
};

}  // namespace vigil::test
