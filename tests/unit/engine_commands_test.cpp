// Operator commands on the engine: targets and their errors, what each command does to the
// tree, that an operator's stop is never a failure, and how commands that meet each other
// (a stop during a start, a restart during a rolling restart, a scale during a backoff)
// end in a consistent state.

#include <boost/test/unit_test.hpp>

#include <chrono>

#include "core/UnitSpec.h"
#include "support/EngineHarness.h"

using namespace vigil;
using namespace vigil::test;
using core::ChildState;
using core::Command;
using core::EventType;
using core::RestartPolicy;
using core::Strategy;
using core::SupervisorState;

namespace {

const std::string kA = "vigil-t-a.service";
const std::string kB = "vigil-t-b.service";
const std::string kC = "vigil-t-c.service";

// t: [a, w@1..3, sub{x, y}, c]; max_restarts 1 by default so that counting would show.
core::Config fleet(Strategy s = Strategy::OneForOne, unsigned max_restarts = 1) {
  auto w = worker("w");
  w->instances = 3;
  auto sub = std::make_shared<core::SupervisorSpec>(
      tree("sub", Strategy::OneForOne, {worker("x"), worker("y")}, 1, 1h));
  core::SupervisorSpec t = tree("t", s, {worker("a"), w}, max_restarts, 1h);
  t.children.push_back(core::ChildSpec{nullptr, sub});
  t.children.push_back(core::ChildSpec{worker("c"), nullptr});
  return config({t});
}

std::uint64_t accept(EngineHarness& h, const Command& c) {
  auto r = h.engine.command(c, h.now);
  BOOST_TEST_REQUIRE(r.has_value(), c.target << ": " << (r ? "" : r.error().message));
  h.collect();
  return r->operation;
}

std::string refusal(EngineHarness& h, const Command& c) {
  const auto before = h.all_actions.size();
  auto r = h.engine.command(c, h.now);
  BOOST_TEST_REQUIRE(!r.has_value(), c.target << " was accepted");
  h.collect();
  BOOST_TEST(h.all_actions.size() == before, "a refused command acted");
  return r.error().name + ": " + r.error().message;
}

const core::Completion* completion(const EngineHarness& h, std::uint64_t op) {
  for (const auto& c : h.completions)
    if (c.operation == op) return &c;
  return nullptr;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(engine_commands)

BOOST_AUTO_TEST_CASE(targets_resolve_like_config_paths_and_unknown_ones_name_the_nearest) {
  EngineHarness h;
  h.start(fleet());
  h.upAll();
  BOOST_TEST(h.engine.targets() ==
             (std::vector<std::string>{"t", "t/a", "t/c", "t/sub", "t/sub/x", "t/sub/y", "t/w",
                                       "t/w@1", "t/w@2", "t/w@3"}));
  BOOST_TEST(refusal(h, cmd(Command::Kind::Stop, "t/ww")) ==
             "org.vigil.Vigil1.Error.UnknownTarget: unknown target 't/ww'; nearest: t/w, t/a, "
             "t/c");
  BOOST_TEST(
      refusal(h, cmd(Command::Kind::Stop, "t/w@4"))
          .starts_with(
              "org.vigil.Vigil1.Error.UnknownTarget: unknown target 't/w@4'; nearest: t/w@1"));
  BOOST_TEST(refusal(h, cmd(Command::Kind::Stop, "t/a@1"))
                 .starts_with("org.vigil.Vigil1.Error.UnknownTarget"));
  BOOST_TEST(refusal(h, cmd(Command::Kind::Stop, "")) ==
             "org.vigil.Vigil1.Error.InvalidArgument: the target is empty");
}

// Hostile API arguments: refused before any work grows with them, never echoed whole,
// and nothing changes.
BOOST_AUTO_TEST_CASE(hostile_targets_and_numbers_are_refused_cheaply_and_change_nothing) {
  EngineHarness h;
  h.start(fleet());
  h.upAll();
  const auto actions = h.all_actions.size();
  const std::string huge(1 << 20, 'a');
  const auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST(refusal(h, cmd(Command::Kind::Stop, huge)) ==
             "org.vigil.Vigil1.Error.InvalidArgument: the target is 1048576 bytes long; no path "
             "is longer than 525");
  // Just over the longest possible path: still refused by length, not ranked.
  BOOST_TEST(refusal(h, cmd(Command::Kind::Stop, std::string(526, 'a')))
                 .starts_with("org.vigil.Vigil1.Error.InvalidArgument: the target is 526 bytes"));
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(100)));
  BOOST_TEST(refusal(h, cmd(Command::Kind::Stop, "t/w\xff\xfe")) ==
             "org.vigil.Vigil1.Error.InvalidArgument: the target contains the byte 0xff; a path "
             "is names of letters, digits and '_' joined by '/', with '@N' for an instance");
  BOOST_TEST(refusal(h, cmd(Command::Kind::Stop, "t/a;rm -rf /")) ==
             "org.vigil.Vigil1.Error.InvalidArgument: the target contains ';'; a path is names "
             "of letters, digits and '_' joined by '/', with '@N' for an instance");
  BOOST_TEST(refusal(h, cmd(Command::Kind::Stop, std::string("t/a\0b", 5))).find("the byte 0x00") !=
             std::string::npos);
  for (const int sig : {-1, 0, 65, 1 << 30}) {
    auto k = cmd(Command::Kind::Kill, "t/a");
    k.signal = sig;
    BOOST_TEST(refusal(h, k).find("is not a signal number (1 to 64)") != std::string::npos);
  }
  for (const unsigned n : {0u, 1001u, 4294967295u}) {
    auto sc = cmd(Command::Kind::Scale, "t/w");
    sc.instances = n;
    BOOST_TEST(refusal(h, sc).find("expected an instance count from 1 to 1000") !=
               std::string::npos);
  }
  BOOST_TEST(h.all_actions.size() == actions);
  for (const auto& w : h.engine.workers(h.now)) BOOST_TEST((w.state == ChildState::Running));
}

BOOST_AUTO_TEST_CASE(an_operator_stop_is_not_a_failure_and_start_brings_it_back) {
  EngineHarness h;
  h.start(fleet());
  h.upAll();
  const auto op = accept(h, cmd(Command::Kind::Stop, "t/w"));
  BOOST_TEST(h.stopped == (std::vector<std::string>{"vigil-t-w@1.service", "vigil-t-w@2.service",
                                                    "vigil-t-w@3.service"}));
  const auto* e = h.last(EventType::OperatorCommand);
  BOOST_TEST_REQUIRE(e);
  BOOST_TEST(e->caller == "uid 1000 (alice)");
  BOOST_TEST(e->message == "stop requested by uid 1000 (alice)");
  BOOST_TEST(!completion(h, op));
  h.stopAllDone();
  BOOST_TEST_REQUIRE(completion(h, op));
  BOOST_TEST(completion(h, op)->ok);
  BOOST_TEST(completion(h, op)->message == "t/w is stopped");
  BOOST_TEST(h.last(EventType::WorkerStopping)->reason == "operator");
  BOOST_TEST(h.last(EventType::WorkerStopping)->message ==
             "stopping vigil-t-w@3.service for an operator (uid 1000 (alice))");
  BOOST_TEST(h.last(EventType::WorkerStopped)->message == "stopped by operator (uid 1000 (alice))");
  for (int i = 1; i <= 3; ++i)
    BOOST_TEST((h.state("vigil-t-w@" + std::to_string(i) + ".service") == ChildState::Stopped));
  h.advance(1h);
  BOOST_TEST(h.started.empty());
  BOOST_TEST(h.windowOf("t") == 0u);
  BOOST_TEST(h.count(EventType::WorkerExited) == 0u);

  const auto start = accept(h, cmd(Command::Kind::Start, "t/w@2"));
  BOOST_TEST(h.started == std::vector<std::string>{"vigil-t-w@2.service"});
  h.up("vigil-t-w@2.service");
  BOOST_TEST(completion(h, start)->ok);
  BOOST_TEST((h.state("vigil-t-w@1.service") == ChildState::Stopped));
}

BOOST_AUTO_TEST_CASE(start_of_a_running_supervisor_starts_what_an_operator_stopped) {
  EngineHarness h;
  h.start(fleet());
  h.upAll();
  accept(h, cmd(Command::Kind::Stop, "t/w@2"));
  accept(h, cmd(Command::Kind::Stop, "t/sub/x"));
  h.stopAllDone();
  const auto op = accept(h, cmd(Command::Kind::Start, "t"));
  BOOST_TEST(h.started ==
             (std::vector<std::string>{"vigil-t-w@2.service", "vigil-t-sub-x.service"}));
  h.upAll();
  BOOST_TEST_REQUIRE(completion(h, op));
  BOOST_TEST(completion(h, op)->ok);
  // Nothing stopped any more: already running, nothing to wait for.
  auto again = h.engine.command(cmd(Command::Kind::Start, "t"), h.now);
  BOOST_TEST_REQUIRE(again.has_value());
  BOOST_TEST(again->operation == 0u);
  BOOST_TEST(again->message == "t is already running");
}

BOOST_AUTO_TEST_CASE(stopping_a_supervisor_stops_its_children_in_reverse_and_keeps_it_down) {
  for (const Strategy s : {Strategy::OneForOne, Strategy::OneForAll, Strategy::RestForOne}) {
    EngineHarness h;
    h.start(fleet(s));
    h.upAll();
    const auto op = accept(h, cmd(Command::Kind::Stop, "t"));
    BOOST_TEST(h.stopped == std::vector<std::string>{kC});
    BOOST_TEST(h.last(EventType::WorkerStopping)->reason == "operator");
    BOOST_TEST(h.last(EventType::WorkerStopping)->message ==
               "stopping vigil-t-c.service for an operator (uid 1000 (alice))");
    h.stopDone(kC);
    BOOST_TEST(h.stopped == std::vector<std::string>{"vigil-t-sub-y.service"});
    h.stopDone("vigil-t-sub-y.service");
    h.stopDone("vigil-t-sub-x.service");
    BOOST_TEST(h.stopped.size() == 3u);  // the three instances together
    for (const char* w : {"vigil-t-w@1.service", "vigil-t-w@2.service", "vigil-t-w@3.service"})
      h.stopDone(w);
    BOOST_TEST(h.stopped == std::vector<std::string>{kA});
    h.stopDone(kA);
    BOOST_TEST(completion(h, op)->ok);
    BOOST_TEST((h.treeState("t") == SupervisorState::Idle));
    h.advance(1h);
    BOOST_TEST(h.started.empty());
    // A reload of the same file keeps it stopped; start brings it back in order.
    h.reload(fleet(s));
    BOOST_TEST(h.started.empty());
    const auto start = accept(h, cmd(Command::Kind::Start, "t"));
    BOOST_TEST(h.started == std::vector<std::string>{kA});
    h.upAll();
    BOOST_TEST(completion(h, start)->ok);
    BOOST_TEST((h.treeState("t") == SupervisorState::Running));
  }
}

BOOST_AUTO_TEST_CASE(a_nested_supervisor_stopped_by_an_operator_is_not_restarted_by_its_parent) {
  EngineHarness h;
  h.start(fleet(Strategy::OneForAll));
  h.upAll();
  accept(h, cmd(Command::Kind::Stop, "t/sub"));
  h.stopAllDone();
  BOOST_TEST((h.treeState("t/sub") == SupervisorState::Idle));
  // A crash of a sibling restarts everything but the stopped supervisor.
  h.exits(kA, killed(9));
  h.stopAllDone();
  h.advance(2s);
  h.upAll();
  BOOST_TEST((h.treeState("t") == SupervisorState::Running));
  BOOST_TEST((h.treeState("t/sub") == SupervisorState::Idle));
  const auto start = accept(h, cmd(Command::Kind::Start, "t/sub"));
  h.upAll();
  BOOST_TEST(completion(h, start)->ok);
  BOOST_TEST((h.treeState("t/sub") == SupervisorState::Running));
}

BOOST_AUTO_TEST_CASE(restart_gives_new_processes_without_counting) {
  EngineHarness h;
  h.start(fleet());
  h.upAll();
  const auto op = accept(h, cmd(Command::Kind::Restart, "t/a"));
  BOOST_TEST(h.stopped == std::vector<std::string>{kA});
  BOOST_TEST(h.started.empty());
  h.stopDone(kA);
  BOOST_TEST(h.started == std::vector<std::string>{kA});
  h.up(kA);
  BOOST_TEST(completion(h, op)->ok);
  BOOST_TEST(completion(h, op)->message == "t/a restarted");
  BOOST_TEST(h.windowOf("t") == 0u);
  // A supervisor: everything below it stops in reverse, then starts in order.
  const auto sup = accept(h, cmd(Command::Kind::Restart, "t/sub"));
  BOOST_TEST(h.stopped == std::vector<std::string>{"vigil-t-sub-y.service"});
  h.stopDone("vigil-t-sub-y.service");
  h.stopDone("vigil-t-sub-x.service");
  BOOST_TEST(h.started == std::vector<std::string>{"vigil-t-sub-x.service"});
  h.upAll();
  BOOST_TEST(completion(h, sup)->ok);
  BOOST_TEST(h.windowOf("t") == 0u);
  BOOST_TEST(h.windowOf("t/sub") == 0u);
}

BOOST_AUTO_TEST_CASE(a_rolling_restart_never_has_two_instances_down_and_stops_at_a_failure) {
  EngineHarness h;
  h.start(fleet());
  h.upAll();
  const auto op = accept(h, cmd(Command::Kind::RollingRestart, "t/w"));
  for (int i = 1; i <= 3; ++i) {
    const std::string u = "vigil-t-w@" + std::to_string(i) + ".service";
    BOOST_TEST(h.stopped == std::vector<std::string>{u});
    BOOST_TEST(h.started.empty());
    h.stopDone(u);
    BOOST_TEST(h.started == std::vector<std::string>{u});
    BOOST_TEST(h.stopped.empty());
    h.up(u);
  }
  BOOST_TEST(completion(h, op)->ok);
  BOOST_TEST(completion(h, op)->message == "t/w: all 3 restarted, one at a time");

  const auto failing = accept(h, cmd(Command::Kind::RollingRestart, "t/w"));
  h.stopDone("vigil-t-w@1.service");
  h.startFails("vigil-t-w@1.service");
  BOOST_TEST_REQUIRE(completion(h, failing));
  BOOST_TEST(!completion(h, failing)->ok);
  BOOST_TEST(
      completion(h, failing)->message.starts_with("rolling restart of t/w stopped at t/w@1: "));
  BOOST_TEST(h.stopped.empty());  // @2 and @3 were left running
}

BOOST_AUTO_TEST_CASE(reset_starts_a_failed_tree_afresh_and_is_refused_otherwise) {
  EngineHarness h;
  h.start(config({tree("t", Strategy::OneForOne, {worker("a")}, 0)}));
  h.upAll();
  BOOST_TEST(refusal(h, cmd(Command::Kind::Reset, "t")) ==
             "org.vigil.Vigil1.Error.NotPossible: t has not failed (it is running); reset starts "
             "a failed supervisor afresh");
  h.exits(kA, exited(1));
  BOOST_TEST((h.treeState("t") == SupervisorState::Failed));
  BOOST_TEST(refusal(h, cmd(Command::Kind::Start, "t"))
                 .starts_with("org.vigil.Vigil1.Error.NotPossible: t has failed"));
  const auto op = accept(h, cmd(Command::Kind::Reset, "t"));
  BOOST_TEST(h.started == std::vector<std::string>{kA});
  h.up(kA);
  BOOST_TEST(completion(h, op)->ok);
  BOOST_TEST(h.windowOf("t") == 0u);
}

BOOST_AUTO_TEST_CASE(bad_calls_change_nothing) {
  EngineHarness h;
  h.start(fleet());
  h.upAll();
  Command scale = cmd(Command::Kind::Scale, "t/w");
  scale.instances = 0;
  BOOST_TEST(refusal(h, scale) ==
             "org.vigil.Vigil1.Error.InvalidArgument: expected an instance count from 1 to 1000, "
             "found 0");
  scale.instances = 1001;
  BOOST_TEST(refusal(h, scale).starts_with("org.vigil.Vigil1.Error.InvalidArgument"));
  scale.target = "t/w@2";
  scale.instances = 2;
  BOOST_TEST(
      refusal(h, scale).starts_with("org.vigil.Vigil1.Error.InvalidArgument: scale applies "
                                    "to a worker, not to one instance"));
  Command kill = cmd(Command::Kind::Kill, "t/a");
  kill.signal = 0;
  BOOST_TEST(refusal(h, kill).starts_with("org.vigil.Vigil1.Error.InvalidArgument"));
  Command set = cmd(Command::Kind::SetLimits, "t/a");
  BOOST_TEST(refusal(h, set).starts_with("org.vigil.Vigil1.Error.InvalidArgument"));
  set.limits.runtime_max = 1h;
  BOOST_TEST(refusal(h, set).starts_with("org.vigil.Vigil1.Error.InvalidArgument"));
  BOOST_TEST(refusal(h, cmd(Command::Kind::Thaw, "t/a")) ==
             "org.vigil.Vigil1.Error.NotPossible: t/a is not frozen");
  // A target that is stopping cannot be started.
  accept(h, cmd(Command::Kind::Stop, "t/c"));
  BOOST_TEST(refusal(h, cmd(Command::Kind::Start, "t/c")) ==
             "org.vigil.Vigil1.Error.NotPossible: t/c is stopping; start it once it has stopped");
}

BOOST_AUTO_TEST_CASE(kill_freeze_thaw_and_set_act_on_the_live_units) {
  EngineHarness h;
  h.start(fleet());
  h.upAll();
  Command kill = cmd(Command::Kind::Kill, "t/w");
  kill.signal = 10;
  const auto k = accept(h, kill);
  BOOST_TEST_REQUIRE(h.unit_actions.size() == 3u);
  BOOST_TEST(h.unit_actions[0].signal == 10);
  for (const auto& a : h.unit_actions) h.engine.onActionResult(k, a.unit.name, true, "", h.now);
  h.unit_actions.clear();
  h.collect();
  BOOST_TEST(completion(h, k)->ok);

  const auto f = accept(h, cmd(Command::Kind::Freeze, "t/a"));
  BOOST_TEST((h.unit_actions.at(0).kind == core::Action::Kind::Freeze));
  h.engine.onActionResult(f, kA, true, "", h.now);
  h.unit_actions.clear();
  h.collect();
  BOOST_TEST(completion(h, f)->ok);
  bool frozen = false;
  for (const auto& w : h.engine.workers(h.now))
    if (w.unit == kA) frozen = w.frozen;
  BOOST_TEST(frozen);
  BOOST_TEST(refusal(h, cmd(Command::Kind::Freeze, "t/a"))
                 .starts_with("org.vigil.Vigil1.Error.NotPossible"));

  Command set = cmd(Command::Kind::SetLimits, "t/sub");
  set.limits.memory_max = 32u << 20;
  const auto s = accept(h, set);
  BOOST_TEST(h.unit_actions.at(0).unit.name == "vigil-t-sub.slice");
  h.engine.onActionResult(s, "vigil-t-sub.slice", false, "no such unit", h.now);
  h.collect();
  BOOST_TEST(!completion(h, s)->ok);
  BOOST_TEST(completion(h, s)->message == "set of t/sub failed: vigil-t-sub.slice: no such unit");
  for (const auto& sup : h.engine.supervisors(h.now))
    if (sup.path == "t/sub") BOOST_TEST(*sup.limits.memory_max == 32u << 20);
}

BOOST_AUTO_TEST_CASE(a_frozen_worker_that_dies_is_not_restarted_behind_the_operator) {
  EngineHarness h;
  h.start(fleet());
  h.upAll();
  const auto op = accept(h, cmd(Command::Kind::Freeze, "t/a"));
  BOOST_TEST_REQUIRE(h.unit_actions.size() == 1u);
  h.engine.onActionResult(op, kA, true, "", h.now);
  h.collect();
  h.exits(kA, killed(9));  // the OOM killer, or kill -9
  h.advance(1h);
  BOOST_TEST(h.started.empty());
  BOOST_TEST((h.state(kA) == ChildState::Stopped));
  BOOST_TEST(h.windowOf("t") == 0u);
  BOOST_TEST(h.last(EventType::WorkerNotRestarted)->reason == "frozen");
  accept(h, cmd(Command::Kind::Start, "t/a"));
  BOOST_TEST(h.started == std::vector<std::string>{kA});
}

BOOST_AUTO_TEST_CASE(set_limits_last_until_the_next_reload) {
  EngineHarness h;
  auto cfg = fleet();
  h.start(cfg);
  h.upAll();
  Command set = cmd(Command::Kind::SetLimits, "t/a");
  set.limits.memory_max = 32u << 20;
  const auto s = accept(h, set);
  h.engine.onActionResult(s, kA, true, "", h.now);
  h.unit_actions.clear();
  h.collect();
  // A restart keeps the operator's limit ...
  h.exits(kA, killed(9));
  h.advance(2s);
  BOOST_TEST(h.started == std::vector<std::string>{kA});
  BOOST_TEST(*h.all_actions.back().unit.limits.memory_max == 32u << 20);
  // ... and otherwise the whole spec of the configuration (each start rebuilds it).
  core::UnitSpec want = core::buildUnitSpec(*cfg.trees[0].children[0].worker, {"t"}, 0);
  want.limits.memory_max = 32u << 20;
  BOOST_TEST((h.all_actions.back().unit == want));
  h.up(kA);
  // ... a reload puts the configured one back, live, without restarting.
  h.reload(cfg);
  BOOST_TEST(h.started.empty());
  BOOST_TEST(h.stopped.empty());
  BOOST_TEST_REQUIRE(h.unit_actions.size() == 1u);
  BOOST_TEST((h.unit_actions[0].kind == core::Action::Kind::SetLimits));
  BOOST_TEST(*h.unit_actions[0].unit.limits.memory_max == core::kUnlimited);
}

// The Slice action sent the configured budget whenever a supervisor (re)started, so an
// operator's live budget was lost at the supervisor's first restart, and one set while it
// was stopped never applied.
BOOST_AUTO_TEST_CASE(a_live_budget_lasts_across_supervisor_restarts_until_the_next_reload) {
  EngineHarness h;
  auto cfg = fleet();
  h.start(cfg);
  h.upAll();
  const auto lastSlice = [&h]() -> const core::Action* {
    for (auto it = h.all_actions.rbegin(); it != h.all_actions.rend(); ++it)
      if (it->kind == core::Action::Kind::Slice && it->unit.name == "vigil-t-sub.slice")
        return &*it;
    return nullptr;
  };
  Command set = cmd(Command::Kind::SetLimits, "t/sub");
  set.limits.memory_max = 32u << 20;
  const auto s = accept(h, set);
  h.engine.onActionResult(s, "vigil-t-sub.slice", true, "", h.now);
  h.unit_actions.clear();
  h.collect();
  h.all_actions.clear();
  // An operator's restart of the supervisor: its slice keeps the live budget.
  accept(h, cmd(Command::Kind::Restart, "t/sub"));
  h.stopAllDone();
  h.upAll();
  BOOST_TEST_REQUIRE(lastSlice());
  BOOST_TEST((lastSlice()->unit.limits.memory_max == std::optional<std::uint64_t>(32u << 20)));
  // Stopped, a new budget is kept for its next start, and sent then.
  accept(h, cmd(Command::Kind::Stop, "t/sub"));
  h.stopAllDone();
  set.limits.memory_max = 48u << 20;
  accept(h, set);
  BOOST_TEST(h.unit_actions.empty());  // no slice to change while it is stopped
  h.all_actions.clear();
  accept(h, cmd(Command::Kind::Start, "t/sub"));
  h.upAll();
  BOOST_TEST_REQUIRE(lastSlice());
  BOOST_TEST((lastSlice()->unit.limits.memory_max == std::optional<std::uint64_t>(48u << 20)));
  // A reload puts the configured budget (none) back on the live slice.
  h.all_actions.clear();
  h.reload(cfg);
  BOOST_TEST_REQUIRE(lastSlice());
  BOOST_TEST((lastSlice()->unit.limits == cfg.trees[0].children[2].supervisor->limits));
  BOOST_TEST(h.started.empty());
}

BOOST_AUTO_TEST_CASE(scale_up_and_down_then_a_reload_restores_the_configured_count) {
  EngineHarness h;
  auto cfg = fleet();
  h.start(cfg);
  h.upAll();
  Command scale = cmd(Command::Kind::Scale, "t/w");
  scale.instances = 5;
  const auto up = accept(h, scale);
  BOOST_TEST(h.started == (std::vector<std::string>{"vigil-t-w@4.service", "vigil-t-w@5.service"}));
  h.upAll();
  BOOST_TEST(completion(h, up)->ok);
  BOOST_TEST(completion(h, up)->message == "t/w runs 5 instance(s)");
  // Down to 1: the surplus stops one at a time, the highest first; @1 keeps its name.
  scale.instances = 1;
  const auto down = accept(h, scale);
  for (int i = 5; i >= 2; --i) {
    const std::string u = "vigil-t-w@" + std::to_string(i) + ".service";
    BOOST_TEST(h.stopped == std::vector<std::string>{u});
    h.stopDone(u);
  }
  BOOST_TEST(completion(h, down)->ok);
  BOOST_TEST(h.started.empty());
  BOOST_TEST((h.state("vigil-t-w@1.service") == ChildState::Running));
  BOOST_TEST(h.engine.targets() == (std::vector<std::string>{"t", "t/a", "t/c", "t/sub", "t/sub/x",
                                                             "t/sub/y", "t/w", "t/w@1"}));
  BOOST_TEST(h.windowOf("t") == 0u);
  // The file says 3: a reload brings @2 and @3 back.
  h.reload(cfg);
  BOOST_TEST(h.started == (std::vector<std::string>{"vigil-t-w@2.service", "vigil-t-w@3.service"}));
}

BOOST_AUTO_TEST_CASE(a_stop_during_a_pending_start_wins_and_the_start_reports_it) {
  EngineHarness h;
  h.start(fleet());
  h.upAll();
  accept(h, cmd(Command::Kind::Stop, "t/a"));
  h.stopDone(kA);
  const auto start = accept(h, cmd(Command::Kind::Start, "t/a"));
  BOOST_TEST(h.started == std::vector<std::string>{kA});
  const auto stop = accept(h, cmd(Command::Kind::Stop, "t/a"));
  BOOST_TEST_REQUIRE(completion(h, start));
  BOOST_TEST(!completion(h, start)->ok);
  BOOST_TEST(completion(h, start)->message == "superseded by stop of t/a by uid 1000 (alice)");
  BOOST_TEST(h.stopped == std::vector<std::string>{kA});
  h.startResult(kA, false, "start job canceled");  // PID 1's answer
  h.collect();
  h.stopDone(kA);
  BOOST_TEST(completion(h, stop)->ok);
  BOOST_TEST((h.state(kA) == ChildState::Stopped));
  BOOST_TEST(h.count(EventType::WorkerStartFailed) == 0u);
  h.advance(1h);
  BOOST_TEST(h.started == std::vector<std::string>{kA});  // the one canceled above, no more
}

// An operator's stop and a crash of the same worker meet: the crash lands while the stop
// job runs (the process died on its own first). The worker ends stopped, as asked: not
// restarted, not counted in the intensity, the stop reported done once.
BOOST_AUTO_TEST_CASE(a_crash_during_an_operators_stop_ends_stopped_and_uncounted) {
  EngineHarness h;
  h.start(fleet());
  h.upAll();
  const auto stop = accept(h, cmd(Command::Kind::Stop, "t/a"));
  BOOST_TEST(h.stopped == std::vector<std::string>{kA});
  h.exits(kA, killed(9));
  h.stopDone(kA);
  BOOST_TEST((h.state(kA) == ChildState::Stopped));
  BOOST_TEST_REQUIRE(completion(h, stop));
  BOOST_TEST(completion(h, stop)->ok);
  BOOST_TEST(h.windowOf("t") == 0u);
  h.advance(1h);
  BOOST_TEST(h.started.empty());
  // And a crash that lands just before a restart command: one restart, not two.
  const auto restart = accept(h, cmd(Command::Kind::Start, "t/a"));
  h.upAll();
  h.exits(kA, killed(9));  // a crash: restart scheduled after the backoff
  const auto starts = [&] {
    return std::count_if(h.all_actions.begin(), h.all_actions.end(), [](const auto& a) {
      return a.kind == core::Action::Kind::Start && a.unit.name == kA;
    });
  };
  const auto before = starts();
  const auto again = accept(h, cmd(Command::Kind::Restart, "t/a"));
  h.upAll();
  h.advance(1h);
  BOOST_TEST(starts() == before + 1);
  BOOST_TEST((h.state(kA) == ChildState::Running));
  BOOST_TEST_REQUIRE(completion(h, again));
  BOOST_TEST(completion(h, again)->ok);
  (void)restart;
}

BOOST_AUTO_TEST_CASE(a_restart_during_a_rolling_restart_supersedes_it_and_leaves_all_up) {
  EngineHarness h;
  h.start(fleet());
  h.upAll();
  const auto rolling = accept(h, cmd(Command::Kind::RollingRestart, "t/w"));
  h.stopDone("vigil-t-w@1.service");
  const auto restart = accept(h, cmd(Command::Kind::Restart, "t/w"));
  BOOST_TEST(!completion(h, rolling)->ok);
  BOOST_TEST(completion(h, rolling)->message.starts_with("superseded by restart of t/w"));
  // @1 (down, starting) is restarted with the others: @2 and @3 stop, then all start.
  h.stopAllDone();
  h.upAll();
  BOOST_TEST(completion(h, restart)->ok);
  for (int i = 1; i <= 3; ++i)
    BOOST_TEST((h.state("vigil-t-w@" + std::to_string(i) + ".service") == ChildState::Running));
}

BOOST_AUTO_TEST_CASE(a_scale_during_a_backoff_keeps_the_backoff_and_adds_the_new_instances) {
  EngineHarness h;
  h.start(fleet(Strategy::OneForOne, 5));
  h.upAll();
  h.exits("vigil-t-w@2.service", killed(9));
  BOOST_TEST((h.state("vigil-t-w@2.service") == ChildState::Waiting));
  Command scale = cmd(Command::Kind::Scale, "t/w");
  scale.instances = 4;
  const auto op = accept(h, scale);
  BOOST_TEST(h.started == std::vector<std::string>{"vigil-t-w@4.service"});
  h.up("vigil-t-w@4.service");
  // The scale answers for what it added; @2 keeps its own backoff.
  BOOST_TEST_REQUIRE(completion(h, op));
  BOOST_TEST(completion(h, op)->ok, completion(h, op)->message);
  BOOST_TEST((h.state("vigil-t-w@2.service") == ChildState::Waiting));
  h.advance(2s);  // the backoff of @2 runs out as scheduled
  BOOST_TEST(h.started == std::vector<std::string>{"vigil-t-w@2.service"});
  h.up("vigil-t-w@2.service");
  // Down to 1 while @3 is in backoff: the waiting one is dropped without a stop job.
  h.exits("vigil-t-w@3.service", killed(9));
  scale.instances = 1;
  const auto down = accept(h, scale);
  h.stopDone("vigil-t-w@4.service");
  BOOST_TEST(h.stopped == std::vector<std::string>{"vigil-t-w@2.service"});
  h.stopDone("vigil-t-w@2.service");
  BOOST_TEST(completion(h, down)->ok);
  h.advance(1h);
  BOOST_TEST(h.started.empty());
}

BOOST_AUTO_TEST_CASE(operations_survive_a_reload_and_end_with_stop_all) {
  EngineHarness h;
  auto cfg = fleet();
  h.start(cfg);
  h.upAll();
  const auto op = accept(h, cmd(Command::Kind::Restart, "t/a"));
  h.reload(cfg);  // between the stop and the start
  h.stopDone(kA);
  BOOST_TEST(h.started == std::vector<std::string>{kA});
  h.up(kA);
  BOOST_TEST(completion(h, op)->ok);
  const auto pending = accept(h, cmd(Command::Kind::Stop, "t/c"));
  h.engine.stopAll(h.now);
  h.collect();
  BOOST_TEST(!completion(h, pending)->ok);
  BOOST_TEST(completion(h, pending)->message == "vigil is stopping");
  BOOST_TEST(refusal(h, cmd(Command::Kind::Start, "t/a")) ==
             "org.vigil.Vigil1.Error.NotPossible: vigil is stopping");
}

BOOST_AUTO_TEST_SUITE_END()
