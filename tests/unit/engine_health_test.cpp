// Health verdicts in the engine: an unhealthy worker is stopped and then handled as a
// failure by its supervisor's strategy (counted in the intensity), a report-only check
// changes nothing but the state, a verdict about an earlier incarnation is ignored, and a
// rolling restart waits for each instance to be healthy.

#include <boost/test/unit_test.hpp>

#include "core/UnitSpec.h"
#include "support/EngineHarness.h"

using namespace vigil;
using namespace vigil::test;
using core::ChildState;
using core::Command;
using core::EventType;
using core::HealthChange;
using core::HealthSpec;
using core::HealthState;
using core::Strategy;
using core::SupervisorState;

namespace {

const std::string kA = "vigil-t-a.service";
const std::string kB = "vigil-t-b.service";
const std::string kC = "vigil-t-c.service";

std::shared_ptr<core::WorkerSpec> checked(const std::string& name, bool restart = true) {
  auto w = worker(name);
  w->health.probe = HealthSpec::Probe::Http;
  w->health.url = "http://127.0.0.1:8080/healthz";
  w->health.restart = restart;
  return w;
}

core::TimePoint since(EngineHarness& h, const std::string& unit) {
  const auto w = h.engine.worker(unit, h.now);
  BOOST_REQUIRE(w && w->since);
  return *w->since;
}

HealthState health(EngineHarness& h, const std::string& unit) {
  const auto w = h.engine.worker(unit, h.now);
  return w ? w->health : HealthState::Unknown;
}

void verdict(EngineHarness& h, const std::string& unit, HealthState to, std::string detail) {
  h.engine.onHealth(unit, since(h, unit), HealthChange{health(h, unit), to, std::move(detail)},
                    h.now);
  h.collect();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(engine_health)

BOOST_AUTO_TEST_CASE(a_checked_worker_starts_starting_an_unchecked_one_unknown) {
  EngineHarness h;
  h.start(config({tree("t", Strategy::OneForOne, {checked("a"), worker("b")})}));
  BOOST_TEST((health(h, kA) == HealthState::Unknown));  // not running yet
  h.upAll();
  BOOST_TEST((health(h, kA) == HealthState::Starting));
  BOOST_TEST((health(h, kB) == HealthState::Unknown));
  verdict(h, kA, HealthState::Healthy, "http: http 200");
  BOOST_TEST((health(h, kA) == HealthState::Healthy));
  const auto* e = h.last(EventType::WorkerHealth);
  BOOST_REQUIRE(e);
  BOOST_TEST(e->reason == "healthy");
  BOOST_TEST(e->message == "healthy (http: http 200)");
}

BOOST_AUTO_TEST_CASE(unhealthy_stops_then_restarts_through_the_strategy_counted_in_intensity) {
  EngineHarness h;
  h.start(config({tree("t", Strategy::OneForOne, {checked("a"), worker("b")}, 3)}));
  h.upAll();
  verdict(h, kA, HealthState::Unhealthy, "http: http 503");
  BOOST_TEST(h.stopped == std::vector<std::string>{kA});
  BOOST_TEST((health(h, kA) == HealthState::Unhealthy));  // still, while it stops
  const auto* stopping = h.last(EventType::WorkerStopping);
  BOOST_REQUIRE(stopping);
  BOOST_TEST(stopping->reason == "unhealthy");
  h.stopDone(kA);
  BOOST_TEST((h.state(kA) == ChildState::Waiting));
  BOOST_TEST((health(h, kA) == HealthState::Unknown));
  const auto* scheduled = h.last(EventType::RestartScheduled);
  BOOST_REQUIRE(scheduled);
  BOOST_TEST(scheduled->reason == "unhealthy");
  const auto w = h.engine.worker(kA, h.now);
  BOOST_REQUIRE(w);
  BOOST_TEST(w->last_exit == "health: http: http 503");
  BOOST_TEST(w->restarts == 1u);
  BOOST_TEST(h.windowOf("t") == 1u);
  BOOST_TEST((h.state(kB) == ChildState::Running));  // one_for_one: b untouched
  h.advance(1s);
  h.up(kA);
  BOOST_TEST((health(h, kA) == HealthState::Starting));
}

BOOST_AUTO_TEST_CASE(one_for_all_restarts_the_siblings_of_an_unhealthy_worker) {
  EngineHarness h;
  h.start(config({tree("t", Strategy::OneForAll, {worker("a"), checked("b"), worker("c")}, 3)}));
  h.upAll();
  verdict(h, kB, HealthState::Unhealthy, "tcp: connect refused");
  h.stopDone(kB);
  const auto* strategy = h.last(EventType::StrategyApplied);
  BOOST_REQUIRE(strategy);
  // The siblings stop in reverse order, one at a time, then all start again.
  BOOST_TEST(h.stopped == std::vector<std::string>{kC});
  h.stopDone(kC);
  BOOST_TEST(h.stopped == std::vector<std::string>{kA});
  h.stopDone(kA);
  h.advance(1s);
  BOOST_TEST(h.started == std::vector<std::string>{kA});
}

BOOST_AUTO_TEST_CASE(repeated_unhealthy_verdicts_exceed_the_intensity_and_fail_the_tree) {
  EngineHarness h;
  h.start(config({tree("t", Strategy::OneForOne, {checked("a")}, 1)}));
  h.upAll();
  verdict(h, kA, HealthState::Unhealthy, "exec: exit 1");
  h.stopDone(kA);
  h.advance(1s);
  h.up(kA);
  verdict(h, kA, HealthState::Unhealthy, "exec: timeout after 2s");
  h.stopDone(kA);
  BOOST_TEST((h.treeState("t") == SupervisorState::Failed));
  const auto* e = h.last(EventType::IntensityExceeded);
  BOOST_REQUIRE(e);
  BOOST_TEST(e->message.find("health: exec: timeout after 2s") != std::string::npos, e->message);
}

BOOST_AUTO_TEST_CASE(report_only_changes_the_state_and_nothing_else) {
  EngineHarness h;
  h.start(config({tree("t", Strategy::OneForOne, {checked("a", false)})}));
  h.upAll();
  verdict(h, kA, HealthState::Unhealthy, "http: http 500");
  BOOST_TEST(h.stopped.empty());
  BOOST_TEST((h.state(kA) == ChildState::Running));
  BOOST_TEST((health(h, kA) == HealthState::Unhealthy));
  BOOST_TEST(h.last(EventType::WorkerHealth)->message ==
             "unhealthy: http: http 500 (health.restart is false: reported only)");
  verdict(h, kA, HealthState::Healthy, "http: http 200");
  BOOST_TEST((health(h, kA) == HealthState::Healthy));
  BOOST_TEST(h.windowOf("t") == 0u);
}

BOOST_AUTO_TEST_CASE(a_verdict_about_an_earlier_incarnation_is_ignored) {
  EngineHarness h;
  h.start(config({tree("t", Strategy::OneForOne, {checked("a")}, 5)}));
  h.upAll();
  const core::TimePoint first = since(h, kA);
  h.exits(kA, exited(1));
  h.advance(1s);
  h.up(kA);
  BOOST_TEST((since(h, kA) != first));
  const auto before = h.events.size();
  h.engine.onHealth(kA, first, HealthChange{HealthState::Starting, HealthState::Unhealthy, "x"},
                    h.now);
  h.collect();
  BOOST_TEST(h.events.size() == before);
  BOOST_TEST(h.stopped.empty());
  BOOST_TEST((health(h, kA) == HealthState::Starting));
}

BOOST_AUTO_TEST_CASE(a_frozen_worker_is_reported_unhealthy_but_not_restarted) {
  EngineHarness h;
  h.start(config({tree("t", Strategy::OneForOne, {checked("a")}, 5)}));
  h.upAll();
  const Command freeze = cmd(Command::Kind::Freeze, "t/a");
  BOOST_REQUIRE(h.engine.command(freeze, h.now).has_value());
  h.collect();
  for (const auto& a : h.unit_actions)  // FreezeUnit done
    h.engine.onActionResult(a.operation, a.unit.name, true, "", h.now);
  h.unit_actions.clear();
  h.collect();
  verdict(h, kA, HealthState::Unhealthy, "http: timeout after 5s");
  BOOST_TEST(h.stopped.empty());
  BOOST_TEST(h.last(EventType::WorkerHealth)->message ==
             "unhealthy: http: timeout after 5s (frozen by an operator: not restarted)");
  // Thawed, its checks start afresh: a new verdict is not swallowed.
  const Command thaw = cmd(Command::Kind::Thaw, "t/a");
  BOOST_REQUIRE(h.engine.command(thaw, h.now).has_value());
  h.collect();
  for (const auto& a : h.unit_actions)
    h.engine.onActionResult(a.operation, a.unit.name, true, "", h.now);
  h.collect();
  BOOST_TEST((health(h, kA) == HealthState::Starting));
  verdict(h, kA, HealthState::Unhealthy, "http: timeout after 5s");
  BOOST_TEST(h.stopped == std::vector<std::string>{kA});
}

BOOST_AUTO_TEST_CASE(a_verdict_during_a_strategy_restart_leaves_the_child_to_the_plan) {
  EngineHarness h;
  h.start(config({tree("t", Strategy::OneForAll, {worker("a"), checked("b"), worker("c")}, 5)}));
  h.upAll();
  h.exits(kA, exited(1));  // one_for_all: c, then b, are stopped by the plan
  BOOST_REQUIRE((h.treeState("t") == SupervisorState::Restarting));
  BOOST_REQUIRE(h.stopped == std::vector<std::string>{kC});
  verdict(h, kB, HealthState::Unhealthy, "http: http 503");  // b still runs
  BOOST_TEST(h.stopped == std::vector<std::string>{kC});     // no stop of b for it
  BOOST_TEST(h.last(EventType::WorkerHealth)->message ==
             "unhealthy: http: http 503 (supervisor t is restarting: not restarted for it yet)");
  h.stopDone(kC);
  BOOST_TEST(h.stopped == std::vector<std::string>{kB});  // the plan's stop
  h.stopDone(kB);
  h.advance(2s);
  h.upAll();
  BOOST_TEST((h.treeState("t") == SupervisorState::Running));
  BOOST_TEST(h.windowOf("t") == 1u);  // a's exit only
}

BOOST_AUTO_TEST_CASE(a_held_back_restart_happens_at_the_next_unhealthy_verdict) {
  EngineHarness h;
  h.start(config({tree("t", Strategy::RestForOne, {checked("a"), worker("b"), worker("c")}, 5)}));
  h.upAll();
  h.exits(kB, exited(1));  // rest_for_one: c is stopped, a (before b) keeps running
  BOOST_REQUIRE((h.treeState("t") == SupervisorState::Restarting));
  verdict(h, kA, HealthState::Unhealthy, "http: http 503");  // held back
  BOOST_TEST(h.stopped == std::vector<std::string>{kC});
  h.stopDone(kC);
  h.advance(2s);
  h.upAll();
  BOOST_REQUIRE((h.treeState("t") == SupervisorState::Running));
  BOOST_TEST((health(h, kA) == HealthState::Unhealthy));
  // The monitor repeats the verdict after its next failed probe: now a restarts.
  h.engine.onHealth(kA, since(h, kA),
                    HealthChange{HealthState::Unhealthy, HealthState::Unhealthy, "http: http 503"},
                    h.now);
  h.collect();
  BOOST_TEST(h.stopped == std::vector<std::string>{kA});
}

BOOST_AUTO_TEST_CASE(a_failed_health_stop_still_ends_in_a_restart) {
  EngineHarness h;
  h.start(config({tree("t", Strategy::OneForOne, {checked("a")}, 5)}));
  h.upAll();
  verdict(h, kA, HealthState::Unhealthy, "http: http 503");
  h.stopped.clear();
  h.engine.onStopResult(kA, false, "job timed out", h.now);
  h.collect();
  BOOST_TEST((h.state(kA) == ChildState::Waiting));  // not stranded Idle
}

BOOST_AUTO_TEST_CASE(a_temporary_worker_found_unhealthy_is_stopped_and_not_restarted) {
  EngineHarness h;
  auto a = checked("a");
  a->restart = core::RestartPolicy::Temporary;
  h.start(config({tree("t", Strategy::OneForOne, {a}, 5)}));
  h.upAll();
  verdict(h, kA, HealthState::Unhealthy, "tcp: connect refused");
  BOOST_TEST(h.last(EventType::WorkerHealth)->message ==
             "unhealthy: tcp: connect refused; stopping it (restart is temporary: it is not "
             "started again)");
  h.stopDone(kA);
  BOOST_TEST((h.state(kA) == ChildState::Finished));
}

BOOST_AUTO_TEST_CASE(an_operator_stop_during_a_health_stop_leaves_it_stopped) {
  EngineHarness h;
  h.start(config({tree("t", Strategy::OneForOne, {checked("a")}, 5)}));
  h.upAll();
  verdict(h, kA, HealthState::Unhealthy, "http: http 503");
  const Command stop = cmd(Command::Kind::Stop, "t/a");
  BOOST_REQUIRE(h.engine.command(stop, h.now).has_value());
  h.collect();
  h.stopDone(kA);
  BOOST_TEST((h.state(kA) == ChildState::Stopped));
  BOOST_TEST(h.windowOf("t") == 0u);
}

BOOST_AUTO_TEST_CASE(a_rolling_restart_waits_for_each_instance_to_be_healthy) {
  EngineHarness h;
  auto w = checked("w");
  w->instances = 2;
  h.start(config({tree("t", Strategy::OneForOne, {w}, 5)}));
  h.upAll();
  const std::string w1 = "vigil-t-w@1.service", w2 = "vigil-t-w@2.service";
  const Command roll = cmd(Command::Kind::RollingRestart, "t/w");
  const auto op = h.engine.command(roll, h.now);
  BOOST_REQUIRE(op.has_value());
  h.collect();
  h.stopDone(w1);
  h.up(w1);
  BOOST_TEST(h.stopped.empty());  // @1 runs but is not healthy yet: @2 waits
  verdict(h, w1, HealthState::Healthy, "http: http 200");
  BOOST_TEST(h.stopped == std::vector<std::string>{w2});
  h.stopDone(w2);
  h.up(w2);
  BOOST_TEST(h.completions.empty());
  verdict(h, w2, HealthState::Healthy, "http: http 200");
  BOOST_REQUIRE(h.completions.size() == 1u);
  BOOST_TEST(h.completions[0].ok);
}

BOOST_AUTO_TEST_CASE(a_rolling_restart_stops_at_an_unhealthy_instance) {
  EngineHarness h;
  auto w = checked("w");
  w->instances = 2;
  h.start(config({tree("t", Strategy::OneForOne, {w}, 5)}));
  h.upAll();
  const Command roll = cmd(Command::Kind::RollingRestart, "t/w");
  BOOST_REQUIRE(h.engine.command(roll, h.now).has_value());
  h.collect();
  h.stopDone("vigil-t-w@1.service");
  h.up("vigil-t-w@1.service");
  verdict(h, "vigil-t-w@1.service", HealthState::Unhealthy, "http: http 503");
  BOOST_REQUIRE(h.completions.size() == 1u);
  BOOST_TEST(!h.completions[0].ok);
  BOOST_TEST(h.completions[0].message.find("health: http: http 503") != std::string::npos,
             h.completions[0].message);
  // @2 was left running.
  BOOST_TEST((h.state("vigil-t-w@2.service") == ChildState::Running));
}

BOOST_AUTO_TEST_SUITE_END()
