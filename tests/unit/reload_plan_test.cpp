// The plan a reload prints (vigilctl reload --dry-run) is what the engine then does: every
// line with its reason, and, for a range of changes, exactly the units the engine's reload
// stops and starts.

#include <boost/test/unit_test.hpp>

#include "core/ReloadPlan.h"
#include "support/EngineHarness.h"

using namespace vigil;
using namespace vigil::test;
using core::PlanLine;
using core::Strategy;

namespace {

struct Fleet {
  unsigned w_instances = 2;
  std::string w_arg = "w";
  bool with_c = true;
  bool with_d = false;
  core::RestartPolicy b_restart = core::RestartPolicy::Permanent;
  std::optional<std::uint64_t> t_memory_max;
  std::optional<std::uint64_t> a_memory_max;
  Strategy sub_strategy = Strategy::OneForOne;
};

// t: [a, b, w@1..N, sub{c?, d?}]
core::Config fleet(const Fleet& f) {
  auto a = worker("a");
  a->limits.memory_max = f.a_memory_max;
  auto w = worker("w");
  w->instances = f.w_instances;
  w->command = {"/usr/bin/true", f.w_arg};
  std::vector<std::shared_ptr<core::WorkerSpec>> sub_workers;
  if (f.with_c) sub_workers.push_back(worker("c"));
  if (f.with_d) sub_workers.push_back(worker("d"));
  auto sub = std::make_shared<core::SupervisorSpec>(tree("sub", f.sub_strategy, sub_workers));
  core::SupervisorSpec t = tree("t", Strategy::OneForOne, {a, worker("b", f.b_restart), w});
  t.limits.memory_max = f.t_memory_max;
  t.children.push_back(core::ChildSpec{nullptr, sub});
  return config({t});
}

std::vector<std::string> lines(const core::ReloadPlan& p) {
  std::vector<std::string> out;
  for (const auto& l : p.lines)
    out.push_back(std::string(core::toString(l.kind)) + " " + l.target + " (" + l.reason + ")");
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(reload_plan)

BOOST_AUTO_TEST_CASE(an_unchanged_file_plans_nothing) {
  const auto p = core::planReload(fleet({}), fleet({}));
  BOOST_TEST(p.empty());
  BOOST_TEST(p.unchanged_workers == 5u);  // a, b, w@1, w@2, c
  BOOST_TEST(p.unchanged_supervisors == 2u);
  BOOST_TEST(core::formatPlan(p) ==
             std::vector<std::string>{"unchanged: 5 worker(s), 2 supervisor(s)"});
}

BOOST_AUTO_TEST_CASE(every_kind_of_change_has_its_line_and_reason) {
  Fleet next;
  next.w_arg = "w2";                                // command of every instance
  next.w_instances = 3;                             // and one more
  next.with_c = false;                              // removed
  next.with_d = true;                               // added
  next.b_restart = core::RestartPolicy::Transient;  // policy only: no restart
  next.t_memory_max = 2u << 30;                     // slice budget
  next.a_memory_max = 512u << 20;                   // a unit limit: replace
  next.sub_strategy = Strategy::OneForAll;          // supervisor in place
  const auto p = core::planReload(fleet({}), fleet(next));
  BOOST_TEST(lines(p) == (std::vector<std::string>{
                             "stop t/sub/c (removed from the configuration)",
                             "update t (slice budget memory_max unset -> 2G)",
                             "update t/sub (strategy one_for_one -> one_for_all)",
                             "replace t/a (limits: memory_max unset -> 512M)",
                             "update t/b (restart permanent -> transient)",
                             "replace t/w@1 (command changed)",
                             "replace t/w@2 (command changed)",
                             "start t/w@3 (instance added)",
                             "start t/sub/d (new worker)",
                         }),
             core::formatPlan(p)[0]);
  BOOST_TEST(p.unchanged_workers == 0u);
  BOOST_TEST(core::formatPlan(p).back() == "unchanged: 0 worker(s), 0 supervisor(s)");
  BOOST_TEST(core::formatPlan(p)[0] == "stop     t/sub/c  (removed from the configuration)");
  BOOST_TEST(core::formatPlan(p)[5] == "replace  t/w@1    (command changed)");
}

BOOST_AUTO_TEST_CASE(a_failed_tree_is_revived_and_live_changes_revert) {
  const auto p = core::planReload(fleet({}), fleet({}), {"t"}, {"t/a", "t/sub"});
  BOOST_TEST(lines(p) == (std::vector<std::string>{
                             "revive t (failed; started afresh with a new intensity window)",
                             "update t/sub (slice budget set live reverts to the file)",
                         }));
  // t/a's live limits: its tree is revived anyway, so no line of its own.
  const auto q = core::planReload(fleet({}), fleet({}), {}, {"t/a"});
  BOOST_TEST(lines(q) ==
             std::vector<std::string>{"update t/a (limits set live revert to the file)"});
}

BOOST_AUTO_TEST_CASE(going_from_one_instance_to_two_renames_the_unit) {
  Fleet one;
  one.w_instances = 1;
  const auto p = core::planReload(fleet(one), fleet({}));
  BOOST_TEST(lines(p) == (std::vector<std::string>{"stop t/w (instance no longer configured)",
                                                   "start t/w@1 (instance added)",
                                                   "start t/w@2 (instance added)"}));
}

// The plan against the engine: for each change, the units the plan says are stopped
// (stop, replace) are exactly those the engine's reload stops, and those it says are
// started (start, replace) exactly those it starts.
BOOST_AUTO_TEST_CASE(the_plan_is_what_the_engine_does) {
  std::vector<Fleet> changes(6);
  changes[0].w_arg = "other";
  changes[1].w_instances = 4;
  changes[2].w_instances = 1;
  changes[3].with_c = false;
  changes[3].with_d = true;
  changes[4].a_memory_max = 64u << 20;
  changes[4].b_restart = core::RestartPolicy::Temporary;
  changes[5].t_memory_max = 1u << 30;
  changes[5].sub_strategy = Strategy::RestForOne;
  for (std::size_t i = 0; i < changes.size(); ++i) {
    EngineHarness h;
    h.start(fleet({}));
    h.upAll();
    const auto plan = core::planReload(h.engine.config(), fleet(changes[i]), h.engine.failedTrees(),
                                       h.engine.overrides());
    std::set<std::string> plan_stops, plan_starts;
    for (const auto& l : plan.lines) {
      if (l.supervisor) continue;
      std::string unit;
      for (const auto& w : h.engine.workers(h.now))
        if (w.worker == l.target) unit = w.unit;
      if (l.kind == PlanLine::Kind::Stop || l.kind == PlanLine::Kind::Replace)
        plan_stops.insert(unit);
      if (l.kind == PlanLine::Kind::Start || l.kind == PlanLine::Kind::Replace) {
        // A new unit: its name from the target ("t/w@3" -> vigil-t-w@3.service).
        std::string u = "vigil-" + l.target + ".service";
        std::replace(u.begin(), u.end(), '/', '-');
        plan_starts.insert(u);
      }
    }
    h.stopped.clear();
    h.started.clear();
    const std::size_t before = h.events.size();
    h.reload(fleet(changes[i]));
    std::set<std::string> stops(h.stopped.begin(), h.stopped.end());
    h.stopAllDone();
    h.upAll();
    std::set<std::string> starts;
    for (std::size_t e = before; e < h.events.size(); ++e)
      if (h.events[e].type == core::EventType::WorkerStarting) starts.insert(h.events[e].unit);
    BOOST_TEST(plan_stops == stops, "change " << i);
    BOOST_TEST(plan_starts == starts, "change " << i);
  }
}

BOOST_AUTO_TEST_SUITE_END()
