// The engine's persisted state (core/SupervisionState.h): what one engine records, a second
// engine started with the same configuration, the units systemd still runs and that record
// takes back, as a restarted vigild does. Both share one monotonic clock (one boot).

#include <boost/test/unit_test.hpp>

#include "support/EngineHarness.h"

using namespace vigil;
using namespace vigil::test;
using core::ChildState;
using core::Command;
using core::EventType;
using core::Strategy;
using core::SupervisorState;

namespace {

const std::string kA = "vigil-t-a.service";
const std::string kB = "vigil-t-b.service";

// The units `h` believes systemd runs, as ListUnitsByPatterns would report them to the
// next vigild (the fingerprint is the one the engine stamped on each start).
std::vector<core::ExistingUnit> running(const EngineHarness& h) {
  std::map<std::string, std::string> fp;
  for (const auto& a : h.all_actions)
    if (a.kind == core::Action::Kind::Start) fp[a.unit.name] = a.unit.fingerprint;
  std::vector<core::ExistingUnit> out;
  for (const auto& w : h.engine.workers(h.now)) {
    if (w.state == ChildState::Running) out.push_back({w.unit, fp[w.unit], true, false});
  }
  return out;
}

// A second vigild: same clock, same configuration, the record of the first.
void restartFrom(EngineHarness& before, EngineHarness& after, const core::Config& c) {
  after.now = before.now;
  after.engine.start(c, running(before), after.now, before.engine.supervisionState(before.now));
  after.collect();
}

std::size_t startsOf(const EngineHarness& h, const std::string& unit) {
  return static_cast<std::size_t>(std::count(h.started.begin(), h.started.end(), unit));
}

core::WorkerStatus statusOf(const EngineHarness& h, const std::string& unit) {
  auto w = h.engine.worker(unit, h.now);
  BOOST_REQUIRE(w);
  return *w;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_quiet_fleet_persists_nothing) {
  EngineHarness h;
  h.start(config({tree("t", Strategy::OneForOne, {worker("a"), worker("b")})}));
  h.upAll();
  const auto record = h.engine.supervisionState(h.now);
  BOOST_TEST(record.workers.empty());
  BOOST_TEST(record.supervisors.empty());
  BOOST_TEST(record.scale.empty());
}

BOOST_AUTO_TEST_CASE(a_backoff_deadline_and_the_counters_survive_a_restart) {
  const auto c = config({tree("t", Strategy::OneForOne, {worker("a"), worker("b")})});
  EngineHarness one;
  one.start(c);
  one.upAll();
  one.exits(kA, exited(3));  // failure 1: restart in 1 s (no jitter)
  one.advance(1s);
  one.up(kA);
  one.exits(kA, exited(3));  // failure 2: restart in 2 s
  BOOST_TEST((one.state(kA) == ChildState::Waiting));
  const core::TimePoint deadline = one.now + 2s;
  one.advance(500ms);
  const auto record = one.engine.supervisionState(one.now);
  BOOST_REQUIRE(record.workers.count(kA));
  BOOST_TEST(record.workers.at(kA).next_restart.value().count() == deadline.count());

  EngineHarness two;
  restartFrom(one, two, c);
  BOOST_TEST((two.state(kB) == ChildState::Running));  // adopted, not started
  BOOST_TEST((two.state(kA) == ChildState::Waiting));  // still in backoff, not started now
  BOOST_TEST(two.started.empty());
  BOOST_TEST(two.engine.initialStartComplete());  // READY=1 does not wait for a backoff
  const auto* e = two.last(EventType::RestartScheduled);
  BOOST_REQUIRE(e);
  BOOST_TEST(e->reason == "restored");
  BOOST_TEST(e->delay.count() == core::Usec(1500ms).count());
  auto a = statusOf(two, kA);
  BOOST_TEST(a.restarts == 2u);
  BOOST_TEST(a.failures == 2u);
  BOOST_TEST(a.last_exit == "exited with status 3");
  BOOST_TEST(a.next_restart.value().count() == deadline.count());

  two.advance(1499ms);
  BOOST_TEST(two.started.empty());
  two.advance(1ms);
  BOOST_TEST(startsOf(two, kA) == 1u);
  two.up(kA);
  two.exits(kA, exited(3));  // failure 3 in a row: 4 s, the counter went on
  BOOST_TEST(statusOf(two, kA).restarts == 3u);
  BOOST_TEST(two.last(EventType::RestartScheduled)->delay.count() == core::Usec(4s).count());
}

BOOST_AUTO_TEST_CASE(a_deadline_that_passed_while_vigild_was_down_starts_at_once) {
  const auto c = config({tree("t", Strategy::OneForOne, {worker("a"), worker("b")})});
  EngineHarness one;
  one.start(c);
  one.upAll();
  one.exits(kA, exited(1));
  EngineHarness two;
  two.now = one.now + 5s;
  two.engine.start(c, running(one), two.now, one.engine.supervisionState(one.now));
  two.collect();
  BOOST_TEST(startsOf(two, kA) == 1u);
  BOOST_TEST(statusOf(two, kA).failures == 1u);
}

BOOST_AUTO_TEST_CASE(operator_stops_survive_and_start_brings_the_worker_back) {
  const auto c = config({tree("t", Strategy::OneForOne, {worker("a"), worker("b")})});
  EngineHarness one;
  one.start(c);
  one.upAll();
  BOOST_TEST(one.engine.command(cmd(Command::Kind::Stop, "t/a"), one.now).has_value());
  one.collect();
  one.stopDone(kA);
  BOOST_TEST((one.state(kA) == ChildState::Stopped));
  // systemctl stop of b: stopped from outside, also an operator's decision.
  core::UnitOutcome by_stop_job{"success", 1, 0};
  by_stop_job.stop_job = true;
  one.exits(kB, by_stop_job);
  BOOST_TEST((one.state(kB) == ChildState::Stopped));

  EngineHarness two;
  restartFrom(one, two, c);
  BOOST_TEST(two.started.empty());
  BOOST_TEST((two.state(kA) == ChildState::Stopped));
  BOOST_TEST((two.state(kB) == ChildState::Stopped));
  BOOST_TEST(two.engine.initialStartComplete());
  const auto* e = two.last(EventType::WorkerStopped);
  BOOST_REQUIRE(e);
  BOOST_TEST(e->reason == "restored");
  BOOST_TEST(two.events.front().message.find("uid 1000 (alice)") != std::string::npos);

  BOOST_TEST(two.engine.command(cmd(Command::Kind::Start, "t/a"), two.now).has_value());
  two.collect();
  BOOST_TEST(startsOf(two, kA) == 1u);
}

BOOST_AUTO_TEST_CASE(a_unit_found_running_wins_over_the_record) {
  // Stopped in the record, but systemd runs it (started from outside meanwhile): it is
  // adopted as running.
  const auto c = config({tree("t", Strategy::OneForOne, {worker("a"), worker("b")})});
  EngineHarness one;
  one.start(c);
  one.upAll();
  auto units = running(one);
  BOOST_TEST(one.engine.command(cmd(Command::Kind::Stop, "t/a"), one.now).has_value());
  one.collect();
  one.stopDone(kA);
  EngineHarness two;
  two.now = one.now;
  two.engine.start(c, units, two.now, one.engine.supervisionState(one.now));
  two.collect();
  BOOST_TEST((two.state(kA) == ChildState::Running));
  BOOST_TEST(two.started.empty());
}

BOOST_AUTO_TEST_CASE(the_intensity_window_continues_across_a_restart) {
  // At most 2 restarts in 10 s: two before the restart, the third after it exceeds.
  const auto c = config({tree("t", Strategy::OneForOne, {worker("a"), worker("b")}, 2, 10s)});
  EngineHarness one;
  one.start(c);
  one.upAll();
  for (int i = 0; i < 2; ++i) {
    one.exits(kA, exited(1));
    one.advance(3s);
    one.up(kA);
  }
  BOOST_TEST(one.windowOf("t") == 2u);
  EngineHarness two;
  restartFrom(one, two, c);
  BOOST_TEST(two.windowOf("t") == 2u);
  two.exits(kA, exited(1));
  BOOST_TEST(two.count(EventType::IntensityExceeded) == 1u);
  two.stopAllDone();
  BOOST_TEST((two.treeState("t") == SupervisorState::Failed));
}

BOOST_AUTO_TEST_CASE(a_failed_tree_stays_failed_until_reset) {
  const auto c = config({tree("t", Strategy::OneForOne, {worker("a"), worker("b")}, 0, 10s)});
  EngineHarness one;
  one.start(c);
  one.upAll();
  one.exits(kA, exited(1));
  one.stopAllDone();
  BOOST_TEST((one.treeState("t") == SupervisorState::Failed));

  EngineHarness two;
  restartFrom(one, two, c);
  BOOST_TEST((two.treeState("t") == SupervisorState::Failed));
  BOOST_TEST(two.started.empty());
  BOOST_TEST(two.slices.empty());
  BOOST_TEST(two.engine.initialStartComplete());
  BOOST_TEST(two.engine.failedTrees().count("t") == 1u);
  BOOST_TEST(two.last(EventType::TreeFailed)->reason == "restored");

  BOOST_TEST(two.engine.command(cmd(Command::Kind::Reset, "t"), two.now).has_value());
  two.collect();
  BOOST_TEST(startsOf(two, kA) == 1u);
  two.up(kA);
  BOOST_TEST(startsOf(two, kB) == 1u);
}

BOOST_AUTO_TEST_CASE(a_finished_temporary_worker_stays_down) {
  const auto c = config(
      {tree("t", Strategy::OneForOne, {worker("a", core::RestartPolicy::Temporary), worker("b")})});
  EngineHarness one;
  one.start(c);
  one.upAll();
  one.exits(kA, exited(0));
  BOOST_TEST((one.state(kA) == ChildState::Finished));
  EngineHarness two;
  restartFrom(one, two, c);
  BOOST_TEST((two.state(kA) == ChildState::Finished));
  BOOST_TEST(two.started.empty());
  // Still a clean exit: shown as exited, not failed.
  BOOST_TEST(!statusOf(two, kA).last->abnormal());
}

BOOST_AUTO_TEST_CASE(an_operator_stopped_tree_stays_stopped) {
  const auto c = config({tree("t", Strategy::OneForOne, {worker("a"), worker("b")})});
  EngineHarness one;
  one.start(c);
  one.upAll();
  BOOST_TEST(one.engine.command(cmd(Command::Kind::Stop, "t"), one.now).has_value());
  one.collect();
  one.stopAllDone();
  EngineHarness two;
  restartFrom(one, two, c);
  BOOST_TEST(two.started.empty());
  BOOST_TEST(two.engine.initialStartComplete());
  BOOST_TEST(two.engine.command(cmd(Command::Kind::Start, "t"), two.now).has_value());
  two.collect();
  BOOST_TEST(startsOf(two, kA) == 1u);
}

BOOST_AUTO_TEST_CASE(a_strategy_restart_waits_out_its_delay_after_a_restart) {
  const auto c = config({tree("t", Strategy::OneForAll, {worker("a"), worker("b")})});
  EngineHarness one;
  one.start(c);
  one.upAll();
  one.exits(kA, exited(1));  // one_for_all: stop b, wait 1 s, start both
  one.stopDone(kB);
  one.advance(200ms);
  const auto record = one.engine.supervisionState(one.now);
  BOOST_REQUIRE(record.supervisors.count("t"));
  BOOST_TEST(record.supervisors.at("t").restart_at.has_value());

  EngineHarness two;
  restartFrom(one, two, c);
  BOOST_TEST(two.started.empty());
  BOOST_TEST(two.engine.initialStartComplete());
  two.advance(799ms);
  BOOST_TEST(two.started.empty());
  two.advance(1ms);
  BOOST_TEST(startsOf(two, kA) == 1u);
  two.up(kA);
  BOOST_TEST(startsOf(two, kB) == 1u);
}

BOOST_AUTO_TEST_CASE(live_limits_and_scale_survive) {
  auto w = worker("w");
  w->instances = 2;
  w->instance_names = true;
  const auto c = config({tree("t", Strategy::OneForOne, {w, worker("b")})});
  EngineHarness one;
  one.start(c);
  one.upAll();
  auto set = cmd(Command::Kind::SetLimits, "t/b");
  set.limits.memory_max = 64u << 20;
  BOOST_TEST(one.engine.command(set, one.now).has_value());
  one.collect();
  for (auto& a : one.unit_actions)
    one.engine.onActionResult(a.operation, a.unit.name, true, "", one.now);
  one.collect();
  auto scale = cmd(Command::Kind::Scale, "t/w");
  scale.instances = 3;
  BOOST_TEST(one.engine.command(scale, one.now).has_value());
  one.collect();
  one.upAll();
  const auto record = one.engine.supervisionState(one.now);
  BOOST_TEST(record.scale.at("t/w") == 3u);

  EngineHarness two;
  restartFrom(one, two, c);
  BOOST_TEST(two.started.empty());  // all three instances adopted
  BOOST_TEST(two.engine.worker("vigil-t-w@3.service", two.now).has_value());
  const auto b = statusOf(two, kB);
  BOOST_TEST(b.limits_overridden);
  BOOST_TEST(b.limits.memory_max.value() == 64u << 20);
  two.exits(kB, exited(1));
  two.advance(1s);
  BOOST_REQUIRE(!two.started.empty());
  const auto& start = two.all_actions.back();
  BOOST_TEST(start.unit.name == kB);
  BOOST_TEST(start.unit.limits.memory_max.value() == 64u << 20);

  // A reload of the file puts the configured count back, and the record forgets it.
  two.upAll();
  two.reload(c);
  BOOST_TEST(two.engine.supervisionState(two.now).scale.empty());
}

BOOST_AUTO_TEST_CASE(implausible_records_are_bounded) {
  // A damaged or hand-edited record: a deadline a year away is cut to the longest backoff
  // (max 30 s, no jitter), restarts "in the future" count as now, unknown units and
  // supervisors are ignored, a scale of 0 or beyond the maximum is dropped.
  const auto c = config({tree("t", Strategy::OneForOne, {worker("a"), worker("b")}, 3, 10s)});
  EngineHarness two;
  core::SupervisionState record;
  record.workers[kA].failures = 4;
  record.workers[kA].next_restart = two.now + std::chrono::hours(24 * 365);
  record.workers["vigil-gone.service"].stopped = true;
  record.supervisors["t"].window = {two.now + 1h, two.now - 1s, two.now - 1h};
  record.supervisors["nope/x"].failed = true;
  record.scale["t/a"] = 0;
  record.scale["t/b"] = 5000;
  two.engine.start(c, {}, two.now, record);
  two.collect();
  BOOST_TEST((two.state(kA) == ChildState::Waiting));
  BOOST_TEST(statusOf(two, kA).next_restart.value().count() == (two.now + 30s).count());
  BOOST_TEST(two.windowOf("t") == 2u);
  BOOST_TEST(two.engine.workers(two.now).size() == 2u);
  // b is started in order, once a is up.
  BOOST_TEST(two.started.empty());
  two.advance(30s);
  two.up(kA);
  BOOST_TEST(startsOf(two, kB) == 1u);
}
