#include <boost/test/unit_test.hpp>

#include "core/UnitSpec.h"
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

core::Config abc(Strategy s,
                 RestartPolicy ra = RestartPolicy::Permanent,
                 RestartPolicy rb = RestartPolicy::Permanent,
                 RestartPolicy rc = RestartPolicy::Permanent,
                 unsigned max_restarts = 3) {
  return config({tree("t", s, {worker("a", ra), worker("b", rb), worker("c", rc)}, max_restarts)});
}
}  // namespace

BOOST_AUTO_TEST_SUITE(engine)

BOOST_AUTO_TEST_CASE(children_start_in_order_each_waiting_for_the_previous) {
  EngineHarness h;
  h.start(abc(Strategy::OneForOne));
  BOOST_TEST(h.started == std::vector<std::string>{kA});
  h.up(kA);
  BOOST_TEST(h.started == std::vector<std::string>{kB});
  h.up(kB);
  BOOST_TEST(h.started == std::vector<std::string>{kC});
  BOOST_TEST(!h.engine.initialStartComplete());
  h.up(kC);
  BOOST_TEST(h.engine.initialStartComplete());
  BOOST_TEST((h.treeState("t") == SupervisorState::Running));
  BOOST_TEST(h.count(EventType::SupervisorStarted) == 1u);
}

BOOST_AUTO_TEST_CASE(instances_of_one_worker_start_together) {
  EngineHarness h;
  auto w = worker("w");
  w->instances = 3;
  h.start(config({tree("t", Strategy::OneForOne, {w, worker("z")})}));
  BOOST_TEST(h.started == (std::vector<std::string>{"vigil-t-w@1.service", "vigil-t-w@2.service",
                                                    "vigil-t-w@3.service"}));
  h.up("vigil-t-w@1.service");
  h.up("vigil-t-w@3.service");
  BOOST_TEST(h.started == std::vector<std::string>{"vigil-t-w@2.service"});
  h.up("vigil-t-w@2.service");
  BOOST_TEST(h.started == std::vector<std::string>{"vigil-t-z.service"});
}

// A child keeps only its unit's name, fingerprint and limits; each start rebuilds the
// whole spec from the worker's configuration: the first start and a restart send the same
// StartTransientUnit properties as buildUnitSpec gives, for every instance.
BOOST_AUTO_TEST_CASE(every_start_sends_the_whole_spec_of_its_instance) {
  EngineHarness h;
  auto w = worker("w");
  w->instances = 2;
  w->command = {"/bin/sleep", "100"};
  w->environment = {{"MODE", "fast"}};
  w->limits.memory_max = 64u << 20;
  w->user = "nobody";
  w->working_directory = "/tmp";
  w->notify = true;
  w->watchdog = core::Usec(30s);
  w->stop.signal = 2;
  h.start(config({tree("t", Strategy::OneForOne, {w})}));
  auto sameAsBuilt = [&](const core::Action& a, unsigned instance) {
    BOOST_TEST((a.unit == core::buildUnitSpec(*w, {"t"}, instance)), a.unit.name);
  };
  BOOST_TEST_REQUIRE(h.all_actions.size() >= 2u);
  const auto n = h.all_actions.size();
  sameAsBuilt(h.all_actions[n - 2], 1);
  sameAsBuilt(h.all_actions[n - 1], 2);
  BOOST_TEST(h.all_actions[n - 1].unit.environment ==
             (std::vector<std::string>{"MODE=fast", "VIGIL_INSTANCE=2"}));
  BOOST_TEST(h.all_actions[n - 1].unit.argv == (std::vector<std::string>{"/bin/sleep", "100"}));
  BOOST_TEST(h.all_actions[n - 1].unit.user == "nobody");
  h.upAll();
  h.exits("vigil-t-w@2.service", killed(9));
  h.advance(2s);
  BOOST_TEST(h.started == std::vector<std::string>{"vigil-t-w@2.service"});
  sameAsBuilt(h.all_actions.back(), 2);
}

// A Start action names its unit and carries a token; the spec is built by startSpec when
// the call is issued (a mass start queues most starts behind the job window), and only for
// the start the child still waits for.
BOOST_AUTO_TEST_CASE(a_start_names_its_unit_and_its_spec_is_built_when_issued) {
  core::Engine engine(1);
  auto w = worker("w");
  w->instances = 2;
  engine.start(config({tree("t", Strategy::OneForOne, {w, worker("z")})}), {},
               core::TimePoint{1'000'000'000});
  std::vector<core::Action> starts;
  for (int round = 0; round < 2; ++round) {
    for (auto& a : engine.takeActions()) {
      if (a.kind == core::Action::Kind::Start) starts.push_back(a);
      if (a.kind == core::Action::Kind::Slice)
        engine.onSliceResult(a.unit.name, true, "", core::TimePoint{1'000'000'000});
    }
  }
  BOOST_TEST_REQUIRE(starts.size() == 2u);
  core::UnitSpec only_name;
  only_name.name = "vigil-t-w@2.service";
  BOOST_TEST((starts[1].unit == only_name));
  BOOST_TEST(starts[0].start_token != starts[1].start_token);
  auto spec = engine.startSpec("vigil-t-w@2.service", starts[1].start_token);
  BOOST_TEST_REQUIRE(spec.has_value());
  BOOST_TEST((*spec == core::buildUnitSpec(*w, {"t"}, 2)));
  BOOST_TEST(!engine.startSpec("vigil-t-w@2.service", starts[0].start_token).has_value());
}

// A start still queued when a reload removes its worker has no spec any more: it is
// withdrawn, its answer is ignored, and the removal's stop follows.
BOOST_AUTO_TEST_CASE(a_start_whose_worker_a_reload_removed_is_withdrawn) {
  EngineHarness h;
  h.start(abc(Strategy::OneForOne));
  BOOST_TEST(h.started == std::vector<std::string>{kA});
  const std::uint64_t token = h.start_tokens[kA].back();
  h.reload(config({tree("t", Strategy::OneForOne, {worker("b"), worker("c")})}));
  const auto gone = h.engine.startSpec(kA, token);
  BOOST_TEST_REQUIRE(!gone.has_value());
  BOOST_TEST(gone.error().message() == kA + " is no longer in the configuration");
  BOOST_TEST(h.stopped == std::vector<std::string>{kA});
  h.startFails(kA);
  h.stopDone(kA);
  BOOST_TEST(h.count(EventType::WorkerStartFailed) == 0u);
  BOOST_TEST(h.started == std::vector<std::string>{kB});
  h.up(kB);
  h.up(kC);
  BOOST_TEST((h.treeState("t") == SupervisorState::Running));
}

// A reload that changes a worker's spec while its start is queued replaces the child: the
// queued start must not run the new spec before the old incarnation's stop (one
// incarnation of a unit name at a time). It is withdrawn; the new incarnation starts with
// its own Start after the stop.
BOOST_AUTO_TEST_CASE(a_queued_start_is_not_built_from_the_spec_of_its_successor) {
  EngineHarness h;
  h.start(abc(Strategy::OneForOne));
  BOOST_TEST(h.started == std::vector<std::string>{kA});
  const std::uint64_t old_token = h.start_tokens[kA].back();
  auto changed = abc(Strategy::OneForOne);
  auto a2 = worker("a");
  a2->command = {"/usr/bin/true", "a", "v2"};
  changed.trees[0].children[0].worker = a2;
  h.reload(changed);
  const auto superseded = h.engine.startSpec(kA, old_token);
  BOOST_TEST_REQUIRE(!superseded.has_value());
  BOOST_TEST(superseded.error().message() ==
             "this start of " + kA +
                 " was superseded (the worker was stopped, replaced or started again)");
  BOOST_TEST(h.stopped == std::vector<std::string>{kA});
  // The withdrawn start's answer changes nothing; the stop lets the new incarnation start.
  h.engine.onStartResult(kA, old_token, false, "start withdrawn", {}, false, h.now);
  h.collect();
  BOOST_TEST(h.count(EventType::WorkerStartFailed) == 0u);
  h.stopDone(kA);
  BOOST_TEST_REQUIRE(h.start_tokens[kA].size() == 2u);
  const std::uint64_t new_token = h.start_tokens[kA].back();
  BOOST_TEST(new_token != old_token);
  const auto spec = h.engine.startSpec(kA, new_token);
  BOOST_TEST_REQUIRE(spec.has_value());
  BOOST_TEST(spec->argv == a2->command);
  h.up(kA);
  BOOST_TEST((h.state(kA) == ChildState::Running));
}

// A reload that keeps the spec carries a queued start over to the new tree unchanged.
BOOST_AUTO_TEST_CASE(a_queued_start_survives_a_reload_that_keeps_its_spec) {
  EngineHarness h;
  h.start(abc(Strategy::OneForOne));
  const std::uint64_t token = h.start_tokens[kA].back();
  h.reload(abc(Strategy::OneForOne));
  BOOST_TEST(h.stopped.empty());
  BOOST_TEST(h.engine.startSpec(kA, token).has_value());
  h.up(kA);
  BOOST_TEST((h.state(kA) == ChildState::Running));
}

BOOST_AUTO_TEST_CASE(one_for_one_restarts_only_the_failed_child_after_backoff) {
  EngineHarness h;
  h.start(abc(Strategy::OneForOne));
  h.upAll();
  h.exits(kB, killed(9));
  BOOST_TEST((h.state(kB) == ChildState::Waiting));
  BOOST_TEST(h.started.empty());
  BOOST_TEST(h.stopped.empty());
  const auto* ev = h.last(EventType::WorkerExited);
  BOOST_REQUIRE(ev);
  BOOST_TEST(ev->reason == "signal");
  BOOST_TEST(ev->message == "killed by SIGKILL");
  h.advance(999ms);
  BOOST_TEST(h.started.empty());
  h.advance(1ms);
  BOOST_TEST(h.started == std::vector<std::string>{kB});
  h.up(kB);
  BOOST_TEST((h.state(kA) == ChildState::Running));
  BOOST_TEST((h.state(kC) == ChildState::Running));
}

BOOST_AUTO_TEST_CASE(restart_policy_matrix_under_one_for_one) {
  struct Case {
    RestartPolicy policy;
    core::UnitOutcome outcome;
    bool restarted;
  };
  const Case cases[] = {
      {RestartPolicy::Permanent, exited(0), true},
      {RestartPolicy::Permanent, exited(3), true},
      {RestartPolicy::Permanent, killed(9), true},
      {RestartPolicy::Transient, exited(0), false},
      {RestartPolicy::Transient, exited(3), true},
      {RestartPolicy::Transient, killed(15), true},
      {RestartPolicy::Transient, {"oom-kill", 2, 9}, true},
      {RestartPolicy::Temporary, exited(0), false},
      {RestartPolicy::Temporary, exited(3), false},
      {RestartPolicy::Temporary, killed(9), false},
  };
  for (const auto& c : cases) {
    EngineHarness h;
    h.start(config({tree("t", Strategy::OneForOne, {worker("a", c.policy)})}));
    h.upAll();
    h.exits(kA, c.outcome);
    h.advance(2s);
    BOOST_TEST(h.started.size() == (c.restarted ? 1u : 0u), core::toString(c.policy)
                                                                << " " << c.outcome.result);
    if (!c.restarted) {
      BOOST_TEST((h.state(kA) == ChildState::Finished));
      BOOST_TEST(h.count(EventType::WorkerNotRestarted) == 1u);
    }
  }
}

BOOST_AUTO_TEST_CASE(one_for_all_stops_siblings_in_reverse_then_restarts_all_in_order) {
  EngineHarness h;
  h.start(abc(Strategy::OneForAll));
  h.upAll();
  h.exits(kB, exited(1));
  // Reverse order: c first, then a; b is already dead.
  BOOST_TEST(h.stopped == std::vector<std::string>{kC});
  h.stopDone(kC);
  BOOST_TEST(h.stopped == std::vector<std::string>{kA});
  h.stopDone(kA);
  BOOST_TEST(h.started.empty());  // backoff delay first
  h.advance(1s);
  BOOST_TEST(h.started == std::vector<std::string>{kA});
  h.up(kA);
  BOOST_TEST(h.started == std::vector<std::string>{kB});
  h.up(kB);
  h.up(kC);
  BOOST_TEST((h.treeState("t") == SupervisorState::Running));
  BOOST_TEST(h.count(EventType::StrategyApplied) == 1u);
}

BOOST_AUTO_TEST_CASE(rest_for_one_restarts_the_failed_child_and_those_after_it) {
  EngineHarness h;
  h.start(abc(Strategy::RestForOne));
  h.upAll();
  h.exits(kB, exited(1));
  BOOST_TEST(h.stopped == std::vector<std::string>{kC});
  h.stopDone(kC);
  h.advance(1s);
  BOOST_TEST(h.started == std::vector<std::string>{kB});
  h.up(kB);
  BOOST_TEST(h.started == std::vector<std::string>{kC});
  h.up(kC);
  BOOST_TEST((h.state(kA) == ChildState::Running));
}

BOOST_AUTO_TEST_CASE(one_for_all_does_not_restart_temporary_siblings) {
  EngineHarness h;
  h.start(abc(Strategy::OneForAll, RestartPolicy::Permanent, RestartPolicy::Permanent,
              RestartPolicy::Temporary));
  h.upAll();
  h.exits(kA, exited(1));
  h.stopAllDone();
  h.advance(1s);
  h.upAll();
  BOOST_TEST((h.state(kC) == ChildState::Finished));
  BOOST_TEST((h.treeState("t") == SupervisorState::Running));
}

BOOST_AUTO_TEST_CASE(exceeding_intensity_stops_the_tree_and_leaves_it_failed) {
  EngineHarness h;
  h.start(abc(Strategy::OneForOne, RestartPolicy::Permanent, RestartPolicy::Permanent,
              RestartPolicy::Permanent, 2));
  h.upAll();
  for (int i = 0; i < 2; ++i) {
    h.exits(kA, exited(1));
    h.advance(2s);
    h.up(kA);
  }
  h.exits(kA, exited(1));  // third restart within 4 s: exceeds 2 in 10 s
  BOOST_TEST(h.count(EventType::IntensityExceeded) == 1u);
  BOOST_TEST(h.stopped == std::vector<std::string>{kC});
  h.stopDone(kC);
  BOOST_TEST(h.stopped == std::vector<std::string>{kB});
  h.stopDone(kB);
  BOOST_TEST((h.treeState("t") == SupervisorState::Failed));
  BOOST_TEST(h.count(EventType::TreeFailed) == 1u);
  h.advance(10min);
  BOOST_TEST(h.started.empty());  // stays down
}

BOOST_AUTO_TEST_CASE(intensity_window_slides) {
  EngineHarness h;
  auto a = worker("a");
  a->backoff.max = 1s;
  h.start(config({tree("t", Strategy::OneForOne, {a}, 2, 10s)}));
  h.upAll();
  for (int i = 0; i < 6; ++i) {  // one failure every 6 s: never 3 within 10 s
    h.exits(kA, exited(1));
    h.advance(6s);
    h.up(kA);
  }
  BOOST_TEST(h.count(EventType::IntensityExceeded) == 0u);
  BOOST_TEST((h.treeState("t") == SupervisorState::Running));
}

BOOST_AUTO_TEST_CASE(backoff_doubles_per_consecutive_failure_and_resets_after_stable_run) {
  EngineHarness h;
  h.start(config({tree("t", Strategy::OneForOne, {worker("a")}, 100, 1s)}));
  h.upAll();
  std::vector<std::int64_t> delays;
  for (int i = 0; i < 6; ++i) {
    h.exits(kA, exited(1));
    delays.push_back(h.last(EventType::RestartScheduled)->delay.count() / 1000);
    h.advance(1min);
    h.up(kA);
  }
  BOOST_TEST(delays == (std::vector<std::int64_t>{1000, 2000, 4000, 8000, 16000, 30000}),
             boost::test_tools::per_element());
  // Up for longer than reset_after (60 s): the next failure starts from the initial delay.
  h.advance(61s);
  h.exits(kA, exited(1));
  BOOST_TEST(h.last(EventType::RestartScheduled)->delay.count() == 1'000'000);
}

BOOST_AUTO_TEST_CASE(start_failure_is_reported_and_retried_no_faster_than_backoff) {
  EngineHarness h;
  h.start(config({tree("t", Strategy::OneForOne, {worker("a")}, 10, 1h)}));
  h.startFails(kA);
  const auto* ev = h.last(EventType::WorkerStartFailed);
  BOOST_REQUIRE(ev);
  BOOST_TEST(ev->reason == "exec-failure");
  BOOST_TEST(ev->message ==
             "failed to start: cannot apply command[0] '/usr/bin/true' (systemd step EXEC failed, "
             "status 203/EXEC): start job failed");
  BOOST_TEST(h.engine.initialStartComplete());  // READY=1 is not held back by a failure
  h.advance(999ms);
  BOOST_TEST(h.started.empty());
  h.advance(1ms);
  BOOST_TEST(h.started.size() == 1u);
  h.startFails(kA);
  h.advance(1999ms);
  BOOST_TEST(h.started.empty());
  h.advance(1ms);
  BOOST_TEST(h.started.size() == 1u);
}

BOOST_AUTO_TEST_CASE(start_failure_rolls_back_started_siblings_then_retries_the_tree) {
  EngineHarness h;
  h.start(abc(Strategy::OneForOne, RestartPolicy::Permanent, RestartPolicy::Permanent,
              RestartPolicy::Permanent, 10));
  h.up(kA);
  h.startFails(kB);
  // OTP: the children already started are stopped; c never starts.
  BOOST_TEST(h.stopped == std::vector<std::string>{kA});
  BOOST_TEST(h.started.empty());
  h.stopDone(kA);
  const auto* ev = h.last(EventType::RestartScheduled);
  BOOST_REQUIRE(ev);
  BOOST_TEST(ev->reason == "start-failed");
  h.advance(999ms);
  BOOST_TEST(h.started.empty());
  h.advance(1ms);
  BOOST_TEST(h.started == std::vector<std::string>{kA});  // again, in order
  h.up(kA);
  h.up(kB);
  h.up(kC);
  BOOST_TEST((h.treeState("t") == SupervisorState::Running));
}

BOOST_AUTO_TEST_CASE(a_tree_that_keeps_failing_to_start_fails_after_its_intensity) {
  EngineHarness h;
  h.start(config({tree("t", Strategy::OneForOne, {worker("a"), worker("b")}, 2, 1h)}));
  for (int i = 0; i < 2; ++i) {
    h.up(kA);
    h.startFails(kB);
    h.stopDone(kA);
    h.advance(1min);
  }
  h.up(kA);
  h.startFails(kB);  // third failed start within the hour: exceeds 2
  h.stopAllDone();
  BOOST_TEST((h.treeState("t") == SupervisorState::Failed));
  BOOST_TEST(h.count(EventType::TreeFailed) == 1u);
  h.advance(1h);
  BOOST_TEST(h.started.empty());
}

BOOST_AUTO_TEST_CASE(a_nested_supervisor_that_cannot_start_fails_and_its_parent_decides) {
  EngineHarness h;
  auto inner = std::make_shared<core::SupervisorSpec>(
      tree("inner", Strategy::OneForOne, {worker("x"), worker("y")}));
  core::SupervisorSpec outer = tree("t", Strategy::OneForOne, {worker("a")}, 5, 1h);
  outer.children.push_back(core::ChildSpec{nullptr, inner});
  h.start(config({outer}));
  h.up(kA);
  h.up("vigil-t-inner-x.service");
  h.startFails("vigil-t-inner-y.service");
  BOOST_TEST(h.stopped == std::vector<std::string>{"vigil-t-inner-x.service"});
  h.stopDone("vigil-t-inner-x.service");
  BOOST_TEST(h.count(EventType::Escalated) == 1u);
  // The parent's own start fails in turn (OTP): a is stopped, and the root retries.
  BOOST_TEST(h.stopped == std::vector<std::string>{kA});
  h.stopDone(kA);
  h.advance(2s);
  BOOST_TEST(h.started == std::vector<std::string>{kA});
}

BOOST_AUTO_TEST_CASE(a_start_failure_after_a_reload_does_not_stop_running_siblings) {
  EngineHarness h;
  h.start(config({tree("t", Strategy::OneForOne, {worker("a")}, 10, 1h)}));
  h.upAll();
  h.reload(config({tree("t", Strategy::OneForOne, {worker("a"), worker("b")}, 10, 1h)}));
  h.startFails(kB);
  BOOST_TEST(h.stopped.empty());
  BOOST_TEST((h.state(kA) == ChildState::Running));
  BOOST_TEST((h.state(kB) == ChildState::Waiting));
}

BOOST_AUTO_TEST_CASE(adopts_running_units_with_the_same_spec_and_replaces_changed_ones) {
  auto cfg = abc(Strategy::OneForOne);
  // Learn the fingerprints the engine stamps on units.
  EngineHarness probe;
  probe.start(cfg);
  std::map<std::string, std::string> fp;
  for (const auto& a : probe.all_actions)
    if (a.kind == core::Action::Kind::Start) fp[a.unit.name] = a.unit.fingerprint;
  probe.upAll();
  for (const auto& a : probe.all_actions)
    if (a.kind == core::Action::Kind::Start) fp[a.unit.name] = a.unit.fingerprint;

  EngineHarness h;
  h.start(cfg, {{kA, fp[kA], true},
                {kB, "0000000000000000", true},
                {"vigil-old-gone.service", "x", true},
                {"vigil-foreign.service", "", true}});  // not ours: no fingerprint
  BOOST_TEST(h.count(EventType::WorkerAdopted) == 1u);
  BOOST_TEST((h.state(kA) == ChildState::Running));
  // b has another spec: stopped first, started once the stop is done. The unknown unit
  // is stopped for good.
  BOOST_TEST(h.stopped == (std::vector<std::string>{kB, "vigil-old-gone.service"}));
  BOOST_TEST(h.started.empty());
  h.stopDone(kB);
  BOOST_TEST(h.started == std::vector<std::string>{kB});
  h.up(kB);
  h.up(kC);
  h.stopDone("vigil-old-gone.service");
  BOOST_TEST((h.treeState("t") == SupervisorState::Running));
}

BOOST_AUTO_TEST_CASE(a_unit_found_stopping_is_started_after_that_stop_and_readiness_does_not_wait) {
  // vigild restarted while the stop half of a strategy restart was running (VM test 29).
  auto cfg = abc(Strategy::OneForAll);
  EngineHarness probe;
  probe.start(cfg);
  std::map<std::string, std::string> fp;
  probe.upAll();
  for (const auto& a : probe.all_actions)
    if (a.kind == core::Action::Kind::Start) fp[a.unit.name] = a.unit.fingerprint;

  EngineHarness h;
  core::ExistingUnit stopping{kB, fp[kB], false};
  stopping.stopping = true;
  h.start(cfg, {{kA, fp[kA], true}, stopping});
  BOOST_TEST(h.count(EventType::WorkerAdopted) == 1u);
  BOOST_TEST(h.stopped == std::vector<std::string>{kB});  // joins the running stop job
  BOOST_TEST(h.started.empty());                          // no start collides with it
  BOOST_TEST(h.engine.initialStartComplete());            // READY=1 does not wait for it
  bool told = false;
  for (const auto& e : h.events)
    told |= e.type == EventType::WorkerStopping && e.reason == "found-stopping" && e.unit == kB;
  BOOST_TEST(told);
  h.stopDone(kB);
  BOOST_TEST(h.started == std::vector<std::string>{kB});
  h.up(kB);
  h.up(kC);
  BOOST_TEST((h.treeState("t") == SupervisorState::Running));
  BOOST_TEST(h.count(EventType::WorkerExited) == 0u);  // not a failure: nothing counted
}

BOOST_AUTO_TEST_CASE(reload_leaves_unchanged_workers_alone) {
  EngineHarness h;
  auto a = worker("a");
  auto b = worker("b");
  h.start(config({tree("t", Strategy::OneForOne, {a, b})}));
  h.upAll();
  auto b2 = worker("b");
  b2->command = {"/usr/bin/true", "changed"};
  auto d = worker("d");
  h.reload(config({tree("t", Strategy::OneForOne, {worker("a"), b2, d})}));
  // a untouched; b replaced (stop, then start); d is new.
  BOOST_TEST(h.stopped == std::vector<std::string>{kB});
  BOOST_TEST(h.started.empty());
  h.stopDone(kB);
  BOOST_TEST(h.started == std::vector<std::string>{kB});
  h.up(kB);
  BOOST_TEST(h.started == std::vector<std::string>{"vigil-t-d.service"});
  h.up("vigil-t-d.service");
  BOOST_TEST((h.state(kA) == ChildState::Running));
  // Removing a worker stops it; removing a tree stops all its workers.
  h.reload(config({tree("t", Strategy::OneForOne, {worker("a"), b2})}));
  BOOST_TEST(h.stopped == std::vector<std::string>{"vigil-t-d.service"});
  h.stopAllDone();
  h.reload(config({}));
  BOOST_TEST(h.stopped.size() == 2u);
  h.stopAllDone();
  BOOST_TEST(h.engine.liveUnits().empty());
}

BOOST_AUTO_TEST_CASE(reload_restarts_a_failed_tree) {
  EngineHarness h;
  auto cfg = config({tree("t", Strategy::OneForOne, {worker("a")}, 0)});
  h.start(cfg);
  h.upAll();
  h.exits(kA, exited(1));
  BOOST_TEST((h.treeState("t") == SupervisorState::Failed));
  h.reload(cfg);
  BOOST_TEST(h.started == std::vector<std::string>{kA});
}

BOOST_AUTO_TEST_CASE(a_worker_exiting_while_being_stopped_is_not_a_failure) {
  EngineHarness h;
  h.start(abc(Strategy::OneForAll));
  h.upAll();
  h.exits(kA, exited(1));
  // c is being stopped; its exit signal arrives before the stop job result.
  h.exits(kC, killed(15));
  h.stopDone(kC);
  h.stopDone(kB);
  BOOST_TEST(h.count(EventType::StrategyApplied) == 1u);
  BOOST_TEST(h.count(EventType::IntensityExceeded) == 0u);
}

BOOST_AUTO_TEST_CASE(nested_supervisor_failure_escalates_to_the_parent) {
  EngineHarness h;
  auto inner =
      std::make_shared<core::SupervisorSpec>(tree("inner", Strategy::OneForOne, {worker("x")}, 0));
  core::SupervisorSpec outer = tree("t", Strategy::OneForOne, {worker("a")}, 1, 1h);
  outer.children.push_back(core::ChildSpec{nullptr, inner});
  h.start(config({outer}));
  h.up(kA);
  BOOST_TEST(h.started == std::vector<std::string>{"vigil-t-inner-x.service"});
  h.up("vigil-t-inner-x.service");
  BOOST_TEST((h.treeState("t") == SupervisorState::Running));
  h.exits("vigil-t-inner-x.service", exited(1));  // inner intensity 0: inner fails
  BOOST_TEST(h.count(EventType::Escalated) == 1u);
  BOOST_TEST((h.treeState("t/inner") == SupervisorState::Failed));
  h.advance(2s);  // the parent restarts the inner supervisor after its backoff (1 s + jitter)
  BOOST_TEST(h.started == std::vector<std::string>{"vigil-t-inner-x.service"});
  h.up("vigil-t-inner-x.service");
  BOOST_TEST((h.treeState("t/inner") == SupervisorState::Running));
  h.exits("vigil-t-inner-x.service", exited(1));  // second escalation exceeds outer's 1
  h.stopAllDone();
  BOOST_TEST((h.treeState("t") == SupervisorState::Failed));
}

BOOST_AUTO_TEST_CASE(each_supervisor_sets_up_its_slice_with_its_budget_before_its_children) {
  EngineHarness h;
  auto inner =
      std::make_shared<core::SupervisorSpec>(tree("edge", Strategy::OneForOne, {worker("x")}));
  core::SupervisorSpec outer = tree("t", Strategy::OneForOne, {worker("a")});
  outer.limits.memory_max = 2ull << 30;
  outer.limits.tasks_max = 100;
  outer.children.push_back(core::ChildSpec{nullptr, inner});
  h.start(config({outer}));
  BOOST_TEST(h.slices == std::vector<std::string>{"vigil-t.slice"});
  const auto& first = h.all_actions.front();
  BOOST_TEST((first.kind == core::Action::Kind::Slice));
  BOOST_TEST(*first.unit.limits.memory_max == 2ull << 30);
  BOOST_TEST(*first.unit.limits.tasks_max == 100u);
  BOOST_TEST(!first.unit.limits.cpu_quota.has_value());
  h.up(kA);
  BOOST_TEST(h.slices == (std::vector<std::string>{"vigil-t.slice", "vigil-t-edge.slice"}));
  BOOST_TEST(h.started == std::vector<std::string>{"vigil-t-edge-x.service"});
}

BOOST_AUTO_TEST_CASE(full_strategy_matrix_for_the_middle_child) {
  // Each strategy x each restart type of the failing child b x clean/abnormal end; a and
  // c are permanent. Expected: which units are stopped by the strategy and which start.
  const Strategy strategies[] = {Strategy::OneForOne, Strategy::OneForAll, Strategy::RestForOne};
  const RestartPolicy policies[] = {RestartPolicy::Permanent, RestartPolicy::Transient,
                                    RestartPolicy::Temporary};
  for (Strategy s : strategies) {
    for (RestartPolicy p : policies) {
      for (bool abnormal : {false, true}) {
        EngineHarness h;
        h.start(abc(s, RestartPolicy::Permanent, p, RestartPolicy::Permanent, 10));
        h.upAll();
        h.exits(kB, abnormal ? killed(9) : exited(0));
        const bool restart =
            p == RestartPolicy::Permanent || (p == RestartPolicy::Transient && abnormal);
        std::vector<std::string> want_stopped, want_started;
        if (restart) {
          if (s == Strategy::OneForAll) want_stopped = {kC, kA};
          if (s == Strategy::RestForOne) want_stopped = {kC};
          want_started = {kB};
          if (s == Strategy::OneForAll) want_started = {kA, kB, kC};
          if (s == Strategy::RestForOne) want_started = {kB, kC};
        }
        std::vector<std::string> stopped, started;
        for (int guard = 0;
             guard < 20 && !(h.stopped.empty() && h.started.empty() && h.timers.empty()); ++guard) {
          while (!h.stopped.empty()) {
            stopped.push_back(h.stopped.front());
            h.stopDone(h.stopped.front());
          }
          while (!h.started.empty()) {
            started.push_back(h.started.front());
            h.up(h.started.front());
          }
          h.advance(2s);
        }
        const std::string what = std::string(core::toString(s)) + " / " + core::toString(p) +
                                 (abnormal ? " / abnormal" : " / clean");
        BOOST_TEST(stopped == want_stopped, what);
        BOOST_TEST(started == want_started, what);
        BOOST_TEST((h.state(kB) == (restart ? ChildState::Running : ChildState::Finished)), what);
        BOOST_TEST((h.state(kA) == ChildState::Running), what);
        BOOST_TEST((h.state(kC) == ChildState::Running), what);
        BOOST_TEST((h.treeState("t") == SupervisorState::Running), what);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(escalation_goes_two_levels_up) {
  EngineHarness h;
  auto inner =
      std::make_shared<core::SupervisorSpec>(tree("inner", Strategy::OneForOne, {worker("x")}, 0));
  auto mid = std::make_shared<core::SupervisorSpec>(tree("mid", Strategy::OneForOne, {}, 0));
  mid->children.push_back(core::ChildSpec{nullptr, inner});
  core::SupervisorSpec root = tree("t", Strategy::OneForOne, {worker("a")}, 0);
  root.children.push_back(core::ChildSpec{nullptr, mid});
  h.start(config({root}));
  h.upAll();
  BOOST_TEST((h.treeState("t") == SupervisorState::Running));
  h.exits("vigil-t-mid-inner-x.service", exited(1));
  h.stopAllDone();
  BOOST_TEST(h.count(EventType::IntensityExceeded) == 3u);  // inner, mid, t
  BOOST_TEST(h.count(EventType::Escalated) == 2u);          // inner -> mid -> t
  BOOST_TEST((h.treeState("t/mid/inner") == SupervisorState::Failed));
  BOOST_TEST((h.treeState("t/mid") == SupervisorState::Failed));
  BOOST_TEST((h.treeState("t") == SupervisorState::Failed));
  BOOST_TEST((h.state(kA) == ChildState::Idle));  // the root stopped its other children
  BOOST_TEST(h.count(EventType::TreeFailed) == 1u);
}

BOOST_AUTO_TEST_CASE(jittered_delays_stay_within_bounds) {
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    EngineHarness h(seed);
    auto a = worker("a");
    a->backoff.jitter = 0.5;
    h.start(config({tree("t", Strategy::OneForOne, {a}, 100, 1s)}));
    h.upAll();
    h.exits(kA, exited(1));
    const auto d = h.last(EventType::RestartScheduled)->delay.count();
    BOOST_TEST(d >= 1'000'000);
    BOOST_TEST(d <= 1'500'000);
  }
}

BOOST_AUTO_TEST_CASE(a_runtime_limit_exit_is_named_and_restarted_per_policy) {
  EngineHarness h;
  auto w = worker("w", RestartPolicy::Transient);
  w->limits.runtime_max = 1h;
  h.start(config({tree("t", Strategy::OneForOne, {w})}));
  h.upAll();
  h.exits("vigil-t-w.service", {"timeout", 2, 15});  // RuntimeMaxSec: SIGTERM, Result=timeout
  const auto* e = h.last(EventType::WorkerExited);
  BOOST_TEST_REQUIRE(e);
  BOOST_TEST(e->reason == "runtime-limit");
  BOOST_TEST(e->message == "stopped by systemd after its runtime limit of 1h (runtime_max)");
  // Not a clean exit: even a transient worker is restarted.
  BOOST_TEST(h.last(EventType::RestartScheduled)->reason == "runtime-limit");
  h.advance(2s);
  BOOST_TEST(h.started == std::vector<std::string>{"vigil-t-w.service"});
}

BOOST_AUTO_TEST_CASE(a_start_failure_event_names_the_setting) {
  EngineHarness h;
  auto w = worker("w");
  w->user = "nobdy";
  h.start(config({tree("t", Strategy::OneForOne, {w}, 10, 1h)}));
  h.startFails("vigil-t-w.service", {"exit-code", 1, 217});
  const auto* e = h.last(EventType::WorkerStartFailed);
  BOOST_TEST_REQUIRE(e);
  BOOST_TEST(e->setting == "user");
  BOOST_TEST(e->message ==
             "failed to start: cannot apply user 'nobdy' (systemd step USER failed, status "
             "217/USER): start job failed");
}

BOOST_AUTO_TEST_CASE(a_start_timeout_names_the_start_timeout) {
  EngineHarness h;
  auto w = worker("w");
  w->notify = true;
  w->start_timeout = 3s;
  h.start(config({tree("t", Strategy::OneForOne, {w}, 10, 1h)}));
  h.startFails("vigil-t-w.service", {"timeout", 2, 15});
  const auto* e = h.last(EventType::WorkerStartFailed);
  BOOST_TEST_REQUIRE(e);
  BOOST_TEST(e->reason == "timeout");
  BOOST_TEST(e->message == "failed to start: did not send READY=1 within its start_timeout of 3s");
}

BOOST_AUTO_TEST_SUITE_END()
