// The engine under reloads, operator stops and vigil-wide stops: a plan in flight survives a
// reload at any of its steps, a reload preserves every child's state, a stop from outside
// vigil is not a failure, and stopAll() follows the tree.

#include <boost/test/unit_test.hpp>

#include <deque>
#include <functional>
#include <optional>
#include <set>

#include "support/EngineHarness.h"

using namespace vigil;
using namespace vigil::test;
using core::ChildState;
using core::EventType;
using core::RestartPolicy;
using core::Strategy;
using core::SupervisorState;

namespace {

const std::string kA = "vigil-t-a.service";
const std::string kB = "vigil-t-b.service";
const std::string kC = "vigil-t-c.service";

// Answers the engine's requests one at a time, oldest first, as PID 1 would (a start comes
// up, or fails once for the units in `fail_once`; a stop completes), and fires the next
// timer when nothing else is pending. Records every start and stop in order.
struct Driver {
  explicit Driver(EngineHarness& harness) : h(harness) {}
  EngineHarness& h;
  std::set<std::string> fail_once;
  std::size_t seen = 0;
  std::deque<core::Action> pending;
  std::vector<std::string> trace;

  void pull() {
    while (seen < h.all_actions.size()) {
      const core::Action& a = h.all_actions[seen++];
      if (a.kind == core::Action::Kind::Start) {
        pending.push_back(a);
        trace.push_back("start " + a.unit.name);
      } else if (a.kind == core::Action::Kind::Stop) {
        pending.push_back(a);
        trace.push_back("stop " + a.unit.name);
      }
    }
  }
  // One step; false once nothing is pending and no timer is armed.
  bool step() {
    pull();
    if (!pending.empty()) {
      const core::Action a = pending.front();
      pending.pop_front();
      if (a.kind == core::Action::Kind::Stop) {
        h.stopDone(a.unit.name);
      } else if (fail_once.erase(a.unit.name)) {
        h.startFails(a.unit.name);
      } else {
        h.up(a.unit.name);
      }
      pull();
      return true;
    }
    if (h.timers.empty()) return false;
    auto next = std::min_element(h.timers.begin(), h.timers.end(),
                                 [](auto& x, auto& y) { return x.second < y.second; });
    h.advance(std::max(next->second - h.now, core::Usec(0)));
    pull();
    return true;
  }
  void settle() {
    for (int i = 0; i < 10000 && step(); ++i) {
    }
  }
};

struct Outcome {
  std::vector<std::string> trace;
  std::map<std::string, ChildState> workers;
  std::map<std::string, SupervisorState> supervisors;
  std::size_t live = 0;
};

Outcome outcomeOf(EngineHarness& h, Driver& d) {
  Outcome o;
  o.trace = d.trace;
  for (const auto& w : h.engine.workers(h.now)) o.workers[w.unit] = w.state;
  for (const auto& s : h.engine.supervisors(h.now)) o.supervisors[s.path] = s.state;
  o.live = h.engine.liveUnits().size();
  return o;
}

// Starts `cfg` and settles; applies `trigger`; then drives to the end, reloading
// `reload_cfg` (if given) just before step `reload_at`.
Outcome run(const core::Config& cfg,
            const std::function<void(EngineHarness&, Driver&)>& trigger,
            std::optional<std::size_t> reload_at = std::nullopt,
            const core::Config* reload_cfg = nullptr,
            bool settle_first = true) {
  EngineHarness h;
  Driver d(h);
  h.start(cfg);
  if (settle_first) {
    d.settle();
    d.trace.clear();
  }
  trigger(h, d);
  for (std::size_t k = 0;; ++k) {
    if (reload_at && k == *reload_at) h.reload(reload_cfg ? *reload_cfg : cfg);
    if (!d.step()) {
      if (reload_at && k < *reload_at) h.reload(reload_cfg ? *reload_cfg : cfg);
      break;
    }
  }
  d.settle();
  return outcomeOf(h, d);
}

std::string describe(const Outcome& o) {
  std::string s;
  for (const auto& t : o.trace) s += t + "; ";
  s += "| ";
  for (const auto& [u, st] : o.workers) s += u + "=" + core::toString(st) + " ";
  for (const auto& [p, st] : o.supervisors) s += p + "=" + core::toString(st) + " ";
  return s;
}

// A reload of the same configuration at every step of whatever `trigger` sets in motion
// changes nothing: the same starts and stops, in the same order, and the same end state.
void checkReloadAtEveryStep(const std::string& name,
                            const core::Config& cfg,
                            const std::function<void(EngineHarness&, Driver&)>& trigger,
                            bool settle_first = true) {
  const Outcome baseline = run(cfg, trigger, std::nullopt, nullptr, settle_first);
  BOOST_TEST_REQUIRE(!baseline.trace.empty(), name);
  for (const auto& [unit, state] : baseline.workers) {
    BOOST_TEST((state == ChildState::Running || state == ChildState::Finished),
               name << ": baseline " << describe(baseline));
  }
  for (std::size_t k = 0; k <= baseline.trace.size() * 2 + 4; ++k) {
    const Outcome with = run(cfg, trigger, k, nullptr, settle_first);
    BOOST_TEST(with.trace == baseline.trace, name << ", reload before step " << k << ":\n  got  "
                                                  << describe(with) << "\n  want "
                                                  << describe(baseline));
    BOOST_TEST((with.workers == baseline.workers), name << ", reload before step " << k);
    BOOST_TEST((with.supervisors == baseline.supervisors), name << ", reload before step " << k);
    BOOST_TEST(with.live == baseline.live, name << ", reload before step " << k);
  }
}

core::Config flat(Strategy s, unsigned max_restarts = 10) {
  return config({tree("t", s, {worker("a"), worker("b"), worker("c")}, max_restarts, 1h)});
}

// t: [a, sub{x, y}, c]; sub has its own strategy and intensity.
core::Config nested(Strategy outer, Strategy inner, unsigned inner_max = 10) {
  auto sub = std::make_shared<core::SupervisorSpec>(
      tree("sub", inner, {worker("x"), worker("y")}, inner_max, 1h));
  core::SupervisorSpec t = tree("t", outer, {worker("a")}, 10, 1h);
  t.children.push_back(core::ChildSpec{nullptr, sub});
  t.children.push_back(core::ChildSpec{worker("c"), nullptr});
  return config({t});
}

// t: [a, w@1..3, c]
core::Config withInstances(Strategy s) {
  auto w = worker("w");
  w->instances = 3;
  return config({tree("t", s, {worker("a"), w, worker("c")}, 10, 1h)});
}

std::function<void(EngineHarness&, Driver&)> kill(const std::string& unit) {
  return [unit](EngineHarness& h, Driver&) { h.exits(unit, killed(9)); };
}

const Strategy kStrategies[] = {Strategy::OneForOne, Strategy::OneForAll, Strategy::RestForOne};

}  // namespace

BOOST_AUTO_TEST_SUITE(engine_reload)

BOOST_AUTO_TEST_CASE(a_reload_at_any_step_of_a_strategy_restart_changes_nothing) {
  for (const Strategy s : kStrategies) {
    for (const std::string& victim : {kA, kB, kC}) {
      checkReloadAtEveryStep(std::string(core::toString(s)) + " kill " + victim, flat(s),
                             kill(victim));
    }
    checkReloadAtEveryStep(std::string(core::toString(s)) + " kill w@2", withInstances(s),
                           kill("vigil-t-w@2.service"));
  }
}

BOOST_AUTO_TEST_CASE(a_reload_at_any_step_of_a_nested_restart_or_escalation_changes_nothing) {
  for (const Strategy outer : kStrategies) {
    for (const Strategy inner : kStrategies) {
      const std::string name =
          std::string(core::toString(outer)) + "/" + core::toString(inner) + " ";
      checkReloadAtEveryStep(name + "kill x", nested(outer, inner), kill("vigil-t-sub-x.service"));
      checkReloadAtEveryStep(name + "kill c", nested(outer, inner), kill(kC));
      // Inner intensity 0: the nested supervisor fails and escalates to t.
      checkReloadAtEveryStep(name + "escalation", nested(outer, inner, 0),
                             kill("vigil-t-sub-y.service"));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_reload_at_any_step_of_the_initial_start_changes_nothing) {
  const auto nothing = [](EngineHarness&, Driver&) {};
  for (const Strategy s : kStrategies) {
    checkReloadAtEveryStep(std::string("start ") + core::toString(s), nested(s, s), nothing,
                           /*settle_first=*/false);
  }
  // A start failure rolls the tree back and starts it again after the backoff.
  checkReloadAtEveryStep(
      "start with rollback", flat(Strategy::OneForOne),
      [](EngineHarness&, Driver& d) { d.fail_once.insert(kB); }, /*settle_first=*/false);
}

BOOST_AUTO_TEST_CASE(the_reported_case_reload_while_a_stubborn_sibling_stops) {
  // one_for_all [stubborn, other]: other is killed, stubborn takes its stop timeout to go;
  // a reload then must not strand the tree (seen: nothing started again, tree "starting").
  const auto cfg = config({tree("t", Strategy::OneForAll, {worker("stubborn"), worker("other")})});
  EngineHarness h;
  h.start(cfg);
  h.upAll();
  h.exits("vigil-t-other.service", killed(9));
  BOOST_TEST(h.stopped == std::vector<std::string>{"vigil-t-stubborn.service"});
  h.reload(cfg);
  BOOST_TEST(h.started.empty());
  h.stopDone("vigil-t-stubborn.service");
  BOOST_TEST(h.started.empty());  // the strategy's backoff delay still applies
  h.advance(2s);
  BOOST_TEST(h.started == std::vector<std::string>{"vigil-t-stubborn.service"});
  h.up("vigil-t-stubborn.service");
  h.up("vigil-t-other.service");
  BOOST_TEST((h.treeState("t") == SupervisorState::Running));
  BOOST_TEST((h.state("vigil-t-other.service") == ChildState::Running));
}

BOOST_AUTO_TEST_CASE(a_changed_child_during_a_plan_is_replaced_and_nothing_is_stranded) {
  for (const Strategy s : kStrategies) {
    auto changed = flat(s);
    auto c2 = worker("c");
    c2->command = {"/usr/bin/true", "v2"};
    changed.trees[0].children[2].worker = c2;
    const Outcome baseline = run(flat(s), kill(kB));
    for (std::size_t k = 0; k <= baseline.trace.size() + 4; ++k) {
      const Outcome o = run(flat(s), kill(kB), k, &changed);
      const std::string at = std::string(core::toString(s)) + " reload before step " +
                             std::to_string(k) + ": " + describe(o);
      for (const auto& [unit, state] : o.workers) {
        BOOST_TEST((state == ChildState::Running), at);
      }
      BOOST_TEST((o.supervisors.at("t") == SupervisorState::Running), at);
      // The replaced c never runs twice at once: its starts and stops alternate (it runs
      // when the trace begins).
      int live = 1;
      for (const auto& t : o.trace) {
        if (t == "start " + kC) live++;
        if (t == "stop " + kC) live--;
        BOOST_TEST((live == 0 || live == 1), at);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_reload_preserves_every_unchanged_childs_state) {
  // temporary and transient children that finished, a stopped one, one in backoff, and
  // running ones: a reload of the same file starts, stops and rearms nothing.
  EngineHarness h;
  auto temp = worker("temp", RestartPolicy::Temporary);
  auto trans = worker("trans", RestartPolicy::Transient);
  auto slow = worker("slow");
  slow->backoff.initial = 10s;
  const auto cfg = config(
      {tree("t", Strategy::OneForOne, {worker("a"), temp, trans, slow, worker("op")}, 10, 1h)});
  h.start(cfg);
  h.upAll();
  h.exits("vigil-t-temp.service", exited(0));
  h.exits("vigil-t-trans.service", exited(0));
  h.exits("vigil-t-slow.service", exited(1));
  core::UnitOutcome operator_stop{"success", 2, 15};
  operator_stop.stop_job = true;
  h.exits("vigil-t-op.service", operator_stop);
  BOOST_TEST((h.state("vigil-t-slow.service") == ChildState::Waiting));
  const auto before = h.engine.workers(h.now);
  const std::size_t actions = h.all_actions.size();
  h.advance(5s);
  h.reload(cfg);
  BOOST_TEST(h.all_actions.size() == actions);  // no start, stop, slice or timer
  const auto after = h.engine.workers(h.now);
  BOOST_TEST_REQUIRE(after.size() == before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    BOOST_TEST((after[i].state == before[i].state), after[i].unit);
    BOOST_TEST(after[i].restarts == before[i].restarts, after[i].unit);
    BOOST_TEST((after[i].next_restart == before[i].next_restart), after[i].unit);
  }
  BOOST_TEST((h.state("vigil-t-temp.service") == ChildState::Finished));
  BOOST_TEST((h.state("vigil-t-trans.service") == ChildState::Finished));
  BOOST_TEST((h.state("vigil-t-op.service") == ChildState::Stopped));
  // The backoff keeps its original deadline: the restart comes 10 s after the exit.
  h.advance(4s);
  BOOST_TEST(h.started.empty());
  h.advance(2s);
  BOOST_TEST(h.started == std::vector<std::string>{"vigil-t-slow.service"});
  // Reloads repeated while finished never run the temporary child again.
  h.up("vigil-t-slow.service");
  for (int i = 0; i < 3; ++i) h.reload(cfg);
  BOOST_TEST(h.started.empty());
  BOOST_TEST(h.stopped.empty());
}

BOOST_AUTO_TEST_CASE(a_reload_updates_a_slice_only_when_its_budget_changed) {
  EngineHarness h;
  auto cfg = flat(Strategy::OneForOne);
  h.start(cfg);
  h.upAll();
  h.slices.clear();
  h.reload(cfg);
  BOOST_TEST(h.slices.empty());
  cfg.trees[0].limits.memory_max = 1u << 30;
  h.reload(cfg);
  BOOST_TEST(h.slices == std::vector<std::string>{"vigil-t.slice"});
  BOOST_TEST(h.started.empty());
  BOOST_TEST(h.stopped.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(engine_operator_stop)

BOOST_AUTO_TEST_CASE(a_stop_from_outside_is_not_a_failure_and_is_not_restarted) {
  for (const Strategy s : kStrategies) {
    EngineHarness h;
    h.start(flat(s, 1));
    h.upAll();
    core::UnitOutcome stop{"success", 2, 15};
    stop.stop_job = true;
    h.exits(kB, stop);
    BOOST_TEST((h.state(kB) == ChildState::Stopped), core::toString(s));
    const auto* e = h.last(EventType::WorkerStopped);
    BOOST_TEST_REQUIRE(e);
    BOOST_TEST(e->reason == "stopped-externally");
    BOOST_TEST(h.count(EventType::WorkerExited) == 0u);
    h.advance(1h);
    BOOST_TEST(h.started.empty(), core::toString(s));
    BOOST_TEST(h.stopped.empty(), core::toString(s));  // siblings untouched by the strategy
    for (const auto& sup : h.engine.supervisors(h.now)) BOOST_TEST(sup.restarts_in_window == 0u);
    // Intensity 1 is intact: one real crash is still restarted, not escalated.
    h.exits(kA, killed(9));
    BOOST_TEST(h.count(EventType::IntensityExceeded) == 0u);
  }
}

BOOST_AUTO_TEST_CASE(a_stop_that_ends_a_stubborn_worker_with_a_timeout_is_still_a_stop) {
  EngineHarness h;
  h.start(flat(Strategy::OneForOne));
  h.upAll();
  core::UnitOutcome stop{"timeout", 2, 9};  // SIGTERM ignored, SIGKILL after TimeoutStopSec
  stop.stop_job = true;
  h.exits(kA, stop);
  BOOST_TEST((h.state(kA) == ChildState::Stopped));
  h.advance(1h);
  BOOST_TEST(h.started.empty());
}

BOOST_AUTO_TEST_CASE(a_worker_started_again_from_outside_is_supervised_again) {
  EngineHarness h;
  h.start(flat(Strategy::OneForOne));
  h.upAll();
  core::UnitOutcome stop{"success", 2, 15};
  stop.stop_job = true;
  h.exits(kA, stop);                 // systemctl restart: the stop half ...
  h.engine.onUnitActive(kA, h.now);  // ... and the start half
  h.collect();
  BOOST_TEST((h.state(kA) == ChildState::Running));
  BOOST_TEST(h.last(EventType::WorkerStarted)->reason == "started-externally");
  h.exits(kA, killed(9));  // and a crash afterwards is handled as usual
  BOOST_TEST((h.state(kA) == ChildState::Waiting));
  // onUnitActive for a unit vigild itself runs changes nothing.
  h.engine.onUnitActive(kB, h.now);
  h.collect();
  BOOST_TEST(h.count(EventType::WorkerStarted) == 3u + 1u);
}

BOOST_AUTO_TEST_CASE(a_start_canceled_by_a_stop_from_outside_is_not_a_start_failure) {
  EngineHarness h;
  h.start(flat(Strategy::OneForOne, 0));
  h.up(kA);
  core::UnitOutcome canceled;
  canceled.stop_job = true;
  h.startFails(kB, canceled);
  BOOST_TEST((h.state(kB) == ChildState::Stopped));
  BOOST_TEST(h.count(EventType::WorkerStartFailed) == 0u);
  BOOST_TEST(h.count(EventType::IntensityExceeded) == 0u);
  // The supervisor does not wait for a child an operator stopped: c starts.
  BOOST_TEST(h.started == std::vector<std::string>{kC});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(engine_stop_all)

BOOST_AUTO_TEST_CASE(stop_all_follows_the_tree_in_reverse_and_restarts_nothing) {
  EngineHarness h;
  // t: [a, sub{x, y}, c] and u: [p]
  core::Config cfg = nested(Strategy::RestForOne, Strategy::OneForAll);
  cfg.trees.push_back(tree("u", Strategy::OneForOne, {worker("p")}));
  h.start(cfg);
  h.upAll();
  h.exits("vigil-u-p.service", killed(9));  // p in backoff: its restart must not happen
  h.engine.stopAll(h.now);
  h.collect();
  BOOST_TEST(h.stopped == std::vector<std::string>{kC});
  BOOST_TEST(!h.engine.allStopped());
  h.stopDone(kC);
  BOOST_TEST(h.stopped == std::vector<std::string>{"vigil-t-sub-y.service"});
  // A worker that exits while stopping is not restarted.
  h.exits("vigil-t-sub-y.service", exited(1));
  h.stopDone("vigil-t-sub-y.service");
  BOOST_TEST(h.stopped == std::vector<std::string>{"vigil-t-sub-x.service"});
  h.stopDone("vigil-t-sub-x.service");
  BOOST_TEST(h.stopped == std::vector<std::string>{kA});
  h.stopDone(kA);
  BOOST_TEST(h.engine.allStopped());
  h.advance(1h);
  BOOST_TEST(h.started.empty());
  h.reload(cfg);  // ignored once vigil is stopping
  BOOST_TEST(h.started.empty());
  BOOST_TEST(h.count(EventType::IntensityExceeded) == 0u);
}

BOOST_AUTO_TEST_CASE(stop_all_during_a_start_waits_for_the_starting_children) {
  EngineHarness h;
  h.start(flat(Strategy::OneForOne));
  h.up(kA);
  BOOST_TEST(h.started == std::vector<std::string>{kB});
  h.engine.stopAll(h.now);
  h.collect();
  // b is starting: it is stopped (the stop job replaces its start job) before a.
  BOOST_TEST(h.stopped == std::vector<std::string>{kB});
  h.startResult(kB, false, "start job canceled");
  h.collect();
  h.stopDone(kB);
  BOOST_TEST(h.stopped == std::vector<std::string>{kA});
  h.stopDone(kA);
  BOOST_TEST(h.engine.allStopped());
  BOOST_TEST(h.started == std::vector<std::string>{kB});  // the one answered above, no more
}

BOOST_AUTO_TEST_SUITE_END()
