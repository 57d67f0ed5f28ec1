// The status model follows the engine by its change set alone (O(changes) per input).
// Property: after any sequence of inputs (job results, exits, timers, operator commands,
// reloads), the model updated incrementally composes exactly the snapshot that a model
// rebuilt from the whole engine composes, and its STATUS= counts are the same; and every
// worker whose status changed is in the engine's change set (the daemon re-reads, resets
// and writes the state file from it).

#include <map>
#include <random>
#include <sstream>

#include <boost/test/unit_test.hpp>

#include "daemon/StatusModel.h"
#include "status/StatusJson.h"
#include "support/EngineHarness.h"

using namespace vigil;
using namespace vigil::test;
using core::Command;
using core::Strategy;

namespace {

core::Config fleet(Strategy s, unsigned instances, const std::string& api_arg) {
  auto api = worker("api");
  api->instances = instances;
  api->command = {"/bin/sleep", api_arg};
  auto tmp = worker("job");
  tmp->restart = core::RestartPolicy::Transient;
  auto sub = std::make_shared<core::SupervisorSpec>(
      tree("sub", Strategy::RestForOne, {worker("x"), worker("y")}, 3, 10s));
  core::SupervisorSpec t = tree("t", s, {worker("db"), api, tmp}, 4, 30s);
  t.children.push_back(core::ChildSpec{nullptr, sub});
  core::SupervisorSpec u = tree("u", Strategy::OneForAll, {worker("a"), worker("b")}, 2, 5s);
  return config({t, u});
}

std::string snapshotJson(const daemon::StatusModel& m, const core::Engine& e, core::TimePoint now) {
  const status::Clocks clocks{now, 1'700'000'000'000'000};
  return status::toJson(*m.snapshot(e, clocks, {}, nullptr, {})).dump();
}

// What a worker's status holds, by unit (absolute times: nothing here moves with the clock).
std::map<std::string, std::string> workerStates(const core::Engine& e, core::TimePoint now) {
  std::map<std::string, std::string> out;
  const auto t = [](const std::optional<core::TimePoint>& p) {
    return p ? std::to_string(p->count()) : std::string("-");
  };
  for (const auto& w : e.workers(now)) {
    std::ostringstream o;
    o << static_cast<int>(w.state) << ' ' << w.frozen << ' ' << t(w.frozen_since) << ' '
      << w.restarts << ' ' << w.failures << ' ' << w.last_exit << ' ' << w.last_exit_reason << ' '
      << t(w.since) << ' ' << t(w.next_restart) << ' ' << w.exits.size() << ' '
      << w.limits_overridden << ' ' << w.limits.memory_max.value_or(0) << ' ' << w.position;
    out[w.unit] = o.str();
  }
  return out;
}

template <class T>
const T& pick(std::mt19937_64& rng, const std::vector<T>& v) {
  return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)];
}

// The fleet of fleet(OneForOne, 3) up, with t/api@2 killed once, and its model.
struct CrashedFleet {
  EngineHarness h;
  daemon::StatusModel model;
  status::Clocks clocks;
  CrashedFleet() {
    h.start(fleet(Strategy::OneForOne, 3, "100"));
    h.upAll();
    h.exits("vigil-t-api@2.service", killed(9));
    model.update(h.engine, h.engine.takeChanged(), h.now);
    clocks = {h.now, 1'700'000'000'000'000};
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(status_model)

BOOST_AUTO_TEST_CASE(incremental_updates_compose_the_same_snapshot_as_a_rebuild) {
  const std::vector<core::UnitOutcome> outcomes = {killed(9), exited(0), exited(3), [] {
                                                     core::UnitOutcome o{"success", 2, 15};
                                                     o.stop_job = true;
                                                     return o;
                                                   }()};
  const std::vector<Command::Kind> kinds = {Command::Kind::Start,     Command::Kind::Stop,
                                            Command::Kind::Restart,   Command::Kind::RollingRestart,
                                            Command::Kind::Reset,     Command::Kind::Kill,
                                            Command::Kind::Freeze,    Command::Kind::Thaw,
                                            Command::Kind::SetLimits, Command::Kind::Scale};
  std::size_t steps_checked = 0;
  std::size_t worker_changes_checked = 0;  // changed workers found in a partial change set
  for (std::uint64_t seed = 1; seed <= 25; ++seed) {
    std::mt19937_64 rng(seed);
    EngineHarness h(seed);
    const Strategy s = seed % 3 == 0   ? Strategy::OneForAll
                       : seed % 3 == 1 ? Strategy::RestForOne
                                       : Strategy::OneForOne;
    daemon::StatusModel model;
    h.start(fleet(s, 3, "100"));
    model.update(h.engine, h.engine.takeChanged(), h.now);
    auto before = workerStates(h.engine, h.now);
    for (int step = 0; step < 250; ++step) {
      const int op = std::uniform_int_distribution<int>(0, 9)(rng);
      if (op <= 1 && !h.started.empty()) {
        const std::string unit = pick(rng, h.started);
        if (op == 0) {
          h.up(unit);
        } else {
          h.startFails(unit);
        }
      } else if (op == 2 && !h.stopped.empty()) {
        h.stopDone(pick(rng, h.stopped));
      } else if (op == 3) {
        std::vector<std::string> running;
        for (const auto& w : h.engine.workers(h.now))
          if (w.state == core::ChildState::Running) running.push_back(w.unit);
        if (!running.empty()) h.exits(pick(rng, running), pick(rng, outcomes));
      } else if (op == 4) {
        h.advance(core::Usec(std::uniform_int_distribution<std::int64_t>(0, 5'000'000)(rng)));
      } else if (op == 5 || op == 6) {
        Command c;
        c.kind = pick(rng, kinds);
        c.target = pick(rng, h.engine.targets());
        c.caller = "uid 0";
        c.limits.memory_max = 64u << 20;
        c.instances = std::uniform_int_distribution<unsigned>(1, 5)(rng);
        (void)h.engine.command(c, h.now);
        h.collect();
      } else if (op == 7 && !h.unit_actions.empty()) {
        const core::Action a = h.unit_actions.front();
        h.unit_actions.erase(h.unit_actions.begin());
        h.engine.onActionResult(a.operation, a.unit.name, rng() % 4 != 0, "refused", h.now);
        h.collect();
      } else if (op == 8 && rng() % 8 == 0) {
        h.reload(fleet(s, 1 + static_cast<unsigned>(rng() % 4), rng() % 2 ? "100" : "200"));
      } else if (op == 9) {
        for (const auto& w : h.engine.workers(h.now)) {
          if (w.state == core::ChildState::Stopped) {
            h.engine.onUnitActive(w.unit, h.now);
            h.collect();
            break;
          }
        }
      }
      const core::Engine::Changes changes = h.engine.takeChanged();
      auto after = workerStates(h.engine, h.now);
      if (!changes.all) {
        BOOST_TEST_REQUIRE(after.size() == before.size(), "seed " << seed << " step " << step);
        for (const auto& [unit, state] : after) {
          if (before[unit] == state) continue;
          BOOST_TEST_REQUIRE(changes.units.count(unit) == 1u,
                             "seed " << seed << " step " << step << " op " << op << ": " << unit
                                     << " changed (" << before[unit] << " -> " << state
                                     << ") but is not in the change set");
          worker_changes_checked++;
        }
      }
      before = std::move(after);
      model.update(h.engine, changes, h.now);
      daemon::StatusModel fresh;
      core::Engine::Changes all;
      all.all = true;
      fresh.update(h.engine, all, h.now);
      const std::string a = snapshotJson(model, h.engine, h.now);
      const std::string b = snapshotJson(fresh, h.engine, h.now);
      if (a != b) {
        // Name the first entry that differs.
        const auto ja = nlohmann::json::parse(a), jb = nlohmann::json::parse(b);
        for (std::size_t i = 0; i < ja["workers"].size(); ++i)
          if (ja["workers"][i] != jb["workers"][i])
            BOOST_TEST_MESSAGE("incremental " << ja["workers"][i].dump() << "\nrebuilt     "
                                              << jb["workers"][i].dump());
        for (std::size_t i = 0; i < ja["supervisors"].size(); ++i)
          if (ja["supervisors"][i] != jb["supervisors"][i])
            BOOST_TEST_MESSAGE("incremental " << ja["supervisors"][i].dump() << "\nrebuilt     "
                                              << jb["supervisors"][i].dump());
      }
      BOOST_TEST_REQUIRE(a == b, "seed " << seed << " step " << step << " op " << op);
      BOOST_TEST_REQUIRE((model.counts() == fresh.counts()), "seed " << seed << " step " << step);
      steps_checked++;
    }
  }
  BOOST_TEST(steps_checked == 25u * 250u);
  BOOST_TEST(worker_changes_checked > 1000u);  // the change-set property was exercised
}

BOOST_AUTO_TEST_CASE(an_exit_touches_only_that_worker_and_its_supervisors) {
  EngineHarness h;
  h.start(fleet(Strategy::OneForOne, 3, "100"));
  h.upAll();
  (void)h.engine.takeChanged();
  h.exits("vigil-t-api@2.service", killed(9));
  const auto changes = h.engine.takeChanged();
  BOOST_TEST(!changes.all);
  BOOST_TEST(changes.units == std::set<std::string>{"vigil-t-api@2.service"});
  BOOST_TEST(changes.supervisors == std::set<std::string>{"t"});
}

BOOST_AUTO_TEST_CASE(units_of_a_target_are_its_workers_in_order) {
  EngineHarness h;
  h.start(fleet(Strategy::OneForOne, 3, "100"));
  daemon::StatusModel model;
  model.update(h.engine, h.engine.takeChanged(), h.now);
  BOOST_TEST(model.unitsOf(h.engine, "t/api", h.now) ==
             (std::vector<std::string>{"vigil-t-api@1.service", "vigil-t-api@2.service",
                                       "vigil-t-api@3.service"}));
  BOOST_TEST(model.unitsOf(h.engine, "t/api@2", h.now) ==
             std::vector<std::string>{"vigil-t-api@2.service"});
  BOOST_TEST(model.unitsOf(h.engine, "t/sub", h.now) ==
             (std::vector<std::string>{"vigil-t-sub-x.service", "vigil-t-sub-y.service"}));
  BOOST_TEST(model.unitsOf(h.engine, "u", h.now).size() == 2u);
  BOOST_TEST(model.unitsOf(h.engine, "", h.now).size() == 9u);
}

// The state file's text (written element by element) is the document of toJson plus the
// events, whatever the key order; bad UTF-8 in a message is replaced, not thrown on.
BOOST_FIXTURE_TEST_CASE(the_state_text_is_the_status_document_with_the_events, CrashedFleet) {
  const auto snap = model.snapshot(h.engine, clocks, {}, nullptr, {});
  BOOST_TEST_REQUIRE(snap->workers.size() == 9u);
  std::vector<status::EventView> events(2);
  events[0].type = "worker-exited";
  events[0].worker = "t/api@2";
  events[0].message = "killed by signal 9";
  events[1].type = "operator-command";
  events[1].message = std::string("bad \xff byte");

  nlohmann::json expected = status::toJson(*snap);
  expected["events"] =
      nlohmann::json::array({status::toJson(events[0]), status::toJson(events[1])});
  expected["events"][1]["message"] = "bad \xEF\xBF\xBD byte";
  const nlohmann::json parsed = nlohmann::json::parse(status::toJsonText(*snap, &events));
  BOOST_TEST(parsed == expected);
  BOOST_TEST(nlohmann::json::parse(status::toJsonText(*snap, nullptr)) == status::toJson(*snap));
}

// The state file is written from head() and forEachWorker() one worker at a time: the
// text is byte for byte that of the whole snapshot, for the fleet and for a target, and
// the workers reach the writer one by one (never as a vector).
BOOST_FIXTURE_TEST_CASE(the_streamed_document_is_the_snapshots_text, CrashedFleet) {
  const daemon::StatusModel::FactsFn facts =
      [](const std::string& unit) -> std::optional<daemon::StatusModel::UnitFacts> {
    if (unit != "vigil-t-api@1.service") return std::nullopt;
    return daemon::StatusModel::UnitFacts{"active", 4242, "/vigil.slice/x"};
  };
  std::vector<status::EventView> events(1);
  events[0].type = "worker-exited";
  const status::EventSource event_source =
      [&events](const std::function<void(const status::EventView&)>& emit) {
        for (const auto& e : events) emit(e);
      };
  for (const std::string target : {"", "t", "t/sub", "t/api@2", "u"}) {
    status::VigildView vigild;
    vigild.pid = 7;
    const auto snap = model.snapshot(h.engine, clocks, facts, nullptr, vigild, target);
    BOOST_TEST_REQUIRE(!snap->workers.empty());
    const status::StatusSnapshot head = model.head(h.engine, clocks, vigild, target);
    BOOST_TEST(head.workers.empty());
    std::size_t emitted = 0;
    const status::WorkerSource workers =
        [&](const std::function<void(const status::WorkerView&)>& emit) {
          model.forEachWorker(h.engine, clocks, facts, nullptr, target,
                              [&](status::WorkerView&& v) {
                                ++emitted;
                                emit(v);
                              });
        };
    std::string text;
    std::size_t pieces = 0;
    status::writeJsonText(head, workers, &event_source, [&](std::string_view piece) {
      text += piece;
      ++pieces;
    });
    BOOST_TEST(text == status::toJsonText(*snap, &events), "target '" << target << "'");
    BOOST_TEST(emitted == snap->workers.size());
    BOOST_TEST(pieces > snap->workers.size());
  }
}

BOOST_AUTO_TEST_SUITE_END()
