#include <boost/test/unit_test.hpp>

#include "core/Backoff.h"
#include "core/ExitInfo.h"
#include "core/IntensityWindow.h"
#include "core/UnitSpec.h"

using namespace vigil::core;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(exit_classification)

BOOST_AUTO_TEST_CASE(names_every_kind_of_end) {
  struct Case {
    UnitOutcome in;
    ExitKind kind;
    const char* description;
  };
  const Case cases[] = {
      {{"success", 1, 0}, ExitKind::Clean, "exited cleanly (status 0)"},
      {{"exit-code", 1, 3}, ExitKind::ExitCode, "exited with status 3"},
      {{"signal", 2, 9}, ExitKind::Signal, "killed by SIGKILL"},
      {{"core-dump", 3, 11}, ExitKind::Signal, "killed by SIGSEGV (core dumped)"},
      {{"oom-kill", 2, 9}, ExitKind::OomKill, "killed by the OOM killer (memory limit reached)"},
      {{"watchdog", 2, 6},
       ExitKind::Watchdog,
       "watchdog timeout: no WATCHDOG=1 ping in time, killed by systemd"},
      {{"exit-code", 1, 203},
       ExitKind::ExecFailure,
       "systemd could not start the process: step EXEC failed (status 203/EXEC)"},
      {{"exit-code", 1, 217},
       ExitKind::ExecFailure,
       "systemd could not start the process: step USER failed (status 217/USER)"},
      {{"timeout", 2, 9}, ExitKind::Timeout, "timed out (start or stop took too long)"},
      {{"success", 0, 0}, ExitKind::Clean, "stopped cleanly"},
  };
  for (const auto& c : cases) {
    const ExitInfo info = classifyExit(c.in);
    BOOST_TEST((info.kind == c.kind), c.in.result);
    BOOST_TEST(info.description == c.description);
    BOOST_TEST(info.reason == toString(c.kind));
  }
  BOOST_TEST(!classifyExit({"success", 1, 0}).abnormal());
  BOOST_TEST(classifyExit({"signal", 2, 15}).abnormal());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(backoff)

BOOST_AUTO_TEST_CASE(grows_geometrically_up_to_the_cap) {
  BackoffSpec s;
  s.initial = 500ms;
  s.max = 10s;
  s.multiplier = 3.0;
  BOOST_TEST(Backoff::baseDelay(s, 1).count() == 500000);
  BOOST_TEST(Backoff::baseDelay(s, 2).count() == 1500000);
  BOOST_TEST(Backoff::baseDelay(s, 3).count() == 4500000);
  BOOST_TEST(Backoff::baseDelay(s, 4).count() == 10000000);
  BOOST_TEST(Backoff::baseDelay(s, 1000).count() == 10000000);  // no overflow
}

BOOST_AUTO_TEST_CASE(jitter_stays_within_bounds) {
  BackoffSpec s;
  s.initial = 1s;
  s.jitter = 0.25;
  BOOST_TEST(Backoff::delay(s, 1, 0.0).count() == 1000000);
  BOOST_TEST(Backoff::delay(s, 1, 0.5).count() == 1125000);
  BOOST_TEST(Backoff::delay(s, 1, 1.0).count() == 1250000);
  BOOST_TEST(Backoff::delay(s, 1, 7.0).count() == 1250000);  // clamped
}

BOOST_AUTO_TEST_CASE(stable_runs_reset_the_count) {
  BackoffSpec s;
  s.reset_after = 60s;
  BOOST_TEST(!Backoff::wasStable(s, TimePoint(0), TimePoint(59'999'999)));
  BOOST_TEST(Backoff::wasStable(s, TimePoint(0), TimePoint(60'000'000)));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(intensity)

BOOST_AUTO_TEST_CASE(exceeds_only_past_max_restarts_inside_the_period) {
  IntensityWindow w(IntensitySpec{2, 5s});
  BOOST_TEST(!w.record(TimePoint(0)));
  BOOST_TEST(!w.record(TimePoint(1'000'000)));
  BOOST_TEST(w.record(TimePoint(4'999'999)));
  IntensityWindow v(IntensitySpec{2, 5s});
  v.record(TimePoint(0));
  v.record(TimePoint(1'000'000));
  BOOST_TEST(!v.record(TimePoint(5'000'000)));  // the first one has left the window
  BOOST_TEST(v.count(TimePoint(5'000'000)) == 2u);
}

BOOST_AUTO_TEST_CASE(zero_intensity_fails_on_the_first_restart) {
  IntensityWindow w(IntensitySpec{0, 5s});
  BOOST_TEST(w.record(TimePoint(0)));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(unit_naming)

BOOST_AUTO_TEST_CASE(slices_mirror_the_tree_and_services_live_in_them) {
  BOOST_TEST(sliceName({"ingest"}) == "vigil-ingest.slice");
  BOOST_TEST(sliceName({"ingest", "parsers"}) == "vigil-ingest-parsers.slice");
  BOOST_TEST(serviceName({"ingest", "parsers"}, "csv", 0) == "vigil-ingest-parsers-csv.service");
  BOOST_TEST(serviceName({"web"}, "api", 3) == "vigil-web-api@3.service");
  BOOST_TEST(displayName({"web"}, "api", 3) == "web/api@3");
}

BOOST_AUTO_TEST_CASE(fingerprint_changes_with_the_command_but_not_with_the_source_line) {
  WorkerSpec w;
  w.name = "api";
  w.command = {"/usr/bin/env", "a"};
  w.where.line = 3;
  const auto base = buildUnitSpec(w, {"web"}, 0);
  WorkerSpec moved = w;
  moved.where.line = 30;
  BOOST_TEST(buildUnitSpec(moved, {"web"}, 0).fingerprint == base.fingerprint);
  WorkerSpec changed = w;
  changed.command = {"/usr/bin/env", "b"};
  BOOST_TEST(buildUnitSpec(changed, {"web"}, 0).fingerprint != base.fingerprint);
  WorkerSpec split = w;
  split.command = {"/usr/bin/env a"};
  BOOST_TEST(buildUnitSpec(split, {"web"}, 0).fingerprint != base.fingerprint);
  BOOST_TEST(base.fingerprint.size() == 16u);
}

BOOST_AUTO_TEST_CASE(fingerprints_of_existing_workers_survive_an_upgrade) {
  // Values computed by vigil 0.1.0 (commit db9d186) for this spec: a unit it started must
  // be adopted, not restarted, by this version. Keys added since are digested only when set.
  WorkerSpec w;
  w.name = "api";
  w.command = {"/usr/bin/api", "--port", "8080"};
  w.environment = {{"A", "1"}};
  w.user = "www-data";
  w.limits.memory_max = 256u << 20;
  w.limits.tasks_max = 64;
  w.notify = true;
  w.watchdog = vigil::core::Usec(30000000);
  BOOST_TEST(buildUnitSpec(w, {"web"}, 0).fingerprint == "0a3a92e9088d2d47");
  BOOST_TEST(buildUnitSpec(w, {"web"}, 2).fingerprint == "20ea9d156c950129");
  for (int field = 0; field < 4; ++field) {
    WorkerSpec n = w;
    if (field == 0) n.limits.runtime_max = vigil::core::Usec(3600000000);
    if (field == 1) n.limits.nofile = vigil::core::ResourceLimit{1024, 4096};
    if (field == 2) n.limits.core = vigil::core::ResourceLimit{0, 0};
    if (field == 3) n.notify_access = vigil::core::NotifyAccess::Main;
    BOOST_TEST(buildUnitSpec(n, {"web"}, 0).fingerprint != "0a3a92e9088d2d47", field);
  }
}

BOOST_AUTO_TEST_CASE(exec_failures_name_the_setting_they_come_from) {
  using vigil::core::execStatusSetting;
  BOOST_TEST(std::string(execStatusSetting(200)) == "working_directory");
  BOOST_TEST(std::string(execStatusSetting(203)) == "command");
  BOOST_TEST(std::string(execStatusSetting(205)) == "limits");
  BOOST_TEST(std::string(execStatusSetting(216)) == "group");
  BOOST_TEST(std::string(execStatusSetting(217)) == "user");
  BOOST_TEST(std::string(execStatusSetting(209)) == "");
  const auto info = vigil::core::classifyExit({"exit-code", 1, 217});
  BOOST_TEST(info.setting == "user");
  vigil::core::UnitOutcome stopped{"success", 2, 15};
  stopped.stop_job = true;
  BOOST_TEST((vigil::core::classifyExit(stopped).kind == vigil::core::ExitKind::Stopped));
  BOOST_TEST(vigil::core::classifyExit(stopped).reason == "stopped-externally");
}

BOOST_AUTO_TEST_SUITE_END()
