// The doctor's checks (doctor/Doctor.h): each verdict from facts that call for it, the exit
// decision, the text and JSON forms; and the facts reader against a bus without PID 1 (a
// private dbus-daemon). On a real host with systemd 252: VM test 82-doctor.

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <fstream>

#include "doctor/Doctor.h"
#include "doctor/HostFacts.h"
#include "support/PrivateDbusDaemon.h"
#include "systemd/ManagerProbe.h"

using namespace vigil;
using doctor::Verdict;

namespace {

status::SupervisorView sup(const std::string& path, const std::string& state) {
  status::SupervisorView s;
  s.path = path;
  s.tree = path.substr(0, path.find('/'));
  s.state = state;
  return s;
}

// A host where every check passes.
doctor::Facts healthy() {
  doctor::Facts f;
  f.systemd_version = "252.38-1~deb12u1";
  f.cgroup_root = "/sys/fs/cgroup";
  f.cgroup_fs = "cgroup2fs";
  f.cgroup2 = true;
  f.root_controllers = {"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"};
  f.slice_exists = true;
  f.slice_controllers = {"cpu", "io", "memory", "pids"};
  f.psi_host = true;
  f.psi_slice = true;
  f.bus_connected = true;
  f.pid1_answered = true;
  f.ping_usec = 1500;
  f.clock_synchronized = true;
  f.realtime_usec = 1'800'000'000'000'000;
  f.not_before_realtime_usec = 1'700'000'000'000'000;
  f.unit_known = true;
  f.unit_load_state = "loaded";
  f.unit_active_state = "active";
  f.unit_sub_state = "running";
  f.unit_result = "success";
  f.unit_main_pid = 321;
  f.watchdog_usec = 30'000'000;
  f.watchdog_timestamp_monotonic_usec = 100'000'000;
  f.monotonic_now_usec = 103'000'000;  // fed 3 s ago
  f.api_reachable = true;
  status::VigildView v;
  v.version = "0.1.0";
  v.pid = 321;
  v.ready = true;
  v.config_generation = 2;
  v.last_reload.result = "applied";
  v.config = "/etc/vigil/vigil.yaml";
  f.vigild = v;
  f.supervisors = {sup("web", "running"), sup("web/backend", "running"), sup("jobs", "running")};
  f.config_file = "/etc/vigil/vigil.yaml";
  f.config_checked = true;
  f.config_trees = 2;
  f.config_tier = "tier_3";
  return f;
}

const doctor::Check& check(const std::vector<doctor::Check>& checks, const std::string& name) {
  auto it =
      std::find_if(checks.begin(), checks.end(), [&](const auto& c) { return c.name == name; });
  BOOST_REQUIRE(it != checks.end());
  return *it;
}

Verdict verdictOf(const doctor::Facts& f, const std::string& name) {
  return check(doctor::evaluate(f), name).verdict;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(doctor_checks)

BOOST_AUTO_TEST_CASE(a_healthy_host_passes_every_check_in_order) {
  const auto checks = doctor::evaluate(healthy());
  BOOST_REQUIRE_EQUAL(checks.size(), std::size(doctor::kCheckNames));
  for (std::size_t i = 0; i < checks.size(); i++) {
    BOOST_TEST(checks[i].name == doctor::kCheckNames[i]);
    BOOST_TEST((checks[i].verdict == Verdict::Ok), checks[i].name << ": " << checks[i].detail);
    BOOST_TEST(checks[i].fix.empty());
  }
  BOOST_TEST(doctor::passed(checks));
  BOOST_TEST(check(checks, "trees").detail == "2 tree(s) running");
  BOOST_TEST(check(checks, "watchdog").detail == "WatchdogSec=30.0s, last keep-alive 3.0s ago");
  const std::string text = doctor::formatText(checks, false);
  BOOST_TEST(std::count(text.begin(), text.end(), '\n') == 10);
  BOOST_TEST(!contains(text, "fix:"));
  BOOST_TEST(!contains(text, "\033["));
}

BOOST_AUTO_TEST_CASE(systemd_older_than_252_fails) {
  auto f = healthy();
  f.systemd_version = "251.4-3";
  BOOST_TEST((verdictOf(f, "systemd") == Verdict::Fail));
  f.systemd_version = "252";
  BOOST_TEST((verdictOf(f, "systemd") == Verdict::Ok));
  f.systemd_version = "v255";
  BOOST_TEST((verdictOf(f, "systemd") == Verdict::Ok));
  f.systemd_version = "";
  BOOST_TEST((verdictOf(f, "systemd") == Verdict::Fail));
  BOOST_TEST(!doctor::passed(doctor::evaluate(f)));
}

BOOST_AUTO_TEST_CASE(a_hybrid_hierarchy_fails_and_skips_the_controllers) {
  auto f = healthy();
  f.cgroup2 = false;
  f.cgroup_fs = "tmpfs (hybrid or legacy cgroup v1)";
  const auto checks = doctor::evaluate(f);
  BOOST_TEST((check(checks, "cgroup2").verdict == Verdict::Fail));
  BOOST_TEST(contains(check(checks, "cgroup2").detail, "tmpfs"));
  BOOST_TEST(contains(check(checks, "cgroup2").fix, "systemd.unified_cgroup_hierarchy=0"));
  BOOST_TEST((check(checks, "controllers").verdict == Verdict::Skip));
}

BOOST_AUTO_TEST_CASE(controllers_missing_from_the_slice_or_the_kernel) {
  auto f = healthy();
  f.slice_controllers = {"cpu", "memory", "pids"};
  auto c = check(doctor::evaluate(f), "controllers");
  BOOST_TEST((c.verdict == Verdict::Fail));
  BOOST_TEST(c.detail ==
             "not delegated to vigil.slice: io (cgroup.controllers of /sys/fs/cgroup/vigil.slice)");
  BOOST_TEST(contains(c.fix, "IOAccounting="));

  f.root_controllers.erase("io");
  c = check(doctor::evaluate(f), "controllers");
  BOOST_TEST((c.verdict == Verdict::Fail));
  BOOST_TEST(c.detail == "the kernel does not offer: io (cgroup.controllers of /sys/fs/cgroup)");

  // Both kinds at once: each named as what it is.
  f.slice_controllers.erase("pids");
  c = check(doctor::evaluate(f), "controllers");
  BOOST_TEST(c.detail ==
             "the kernel does not offer: io (cgroup.controllers of /sys/fs/cgroup); not "
             "delegated to vigil.slice: pids");

  // Before vigil.target ever started: what the root offers.
  f = healthy();
  f.slice_exists = false;
  f.slice_controllers.clear();
  c = check(doctor::evaluate(f), "controllers");
  BOOST_TEST((c.verdict == Verdict::Ok));
  BOOST_TEST(contains(c.detail, "vigil.slice not created yet"));
  f.root_controllers.erase("pids");
  BOOST_TEST((verdictOf(f, "controllers") == Verdict::Fail));
}

BOOST_AUTO_TEST_CASE(psi_off_is_a_warning_not_a_failure) {
  auto f = healthy();
  f.psi_host = false;
  f.psi_host_error = "Operation not supported";
  f.psi_slice.reset();
  const auto checks = doctor::evaluate(f);
  const auto& c = check(checks, "psi");
  BOOST_TEST((c.verdict == Verdict::Warn));
  BOOST_TEST(contains(c.detail, "Operation not supported"));
  BOOST_TEST(contains(c.fix, "psi=1"));
  BOOST_TEST(doctor::passed(checks));
  const std::string text = doctor::formatText(checks, false);
  BOOST_TEST(contains(text, "warn  psi "));
  BOOST_TEST(contains(text, "fix: add psi=1"));
}

BOOST_AUTO_TEST_CASE(no_bus_fails_dbus_and_skips_what_needs_it) {
  auto f = healthy();
  f.bus_connected = false;
  f.pid1_answered = false;
  f.bus_error = "cannot connect to the system bus: No such file or directory";
  f.systemd_version.clear();
  f.unit_known = false;
  f.api_reachable = false;
  f.vigild.reset();
  f.supervisors.clear();
  const auto checks = doctor::evaluate(f);
  BOOST_TEST((check(checks, "dbus").verdict == Verdict::Fail));
  BOOST_TEST((check(checks, "vigild").verdict == Verdict::Skip));
  BOOST_TEST((check(checks, "trees").verdict == Verdict::Skip));
  BOOST_TEST((check(checks, "watchdog").verdict == Verdict::Skip));
  BOOST_TEST((check(checks, "config").verdict == Verdict::Ok));
  BOOST_TEST(!doctor::passed(checks));
}

BOOST_AUTO_TEST_CASE(vigild_stopped_starting_or_mute) {
  auto f = healthy();
  f.unit_active_state = "inactive";
  f.unit_sub_state = "dead";
  f.api_reachable = false;
  f.vigild.reset();
  auto checks = doctor::evaluate(f);
  BOOST_TEST((check(checks, "vigild").verdict == Verdict::Fail));
  BOOST_TEST(check(checks, "vigild").detail == "vigild.service is inactive (dead)");
  BOOST_TEST(contains(check(checks, "vigild").fix, "systemctl start vigil.target"));
  BOOST_TEST((check(checks, "watchdog").verdict == Verdict::Skip));

  f = healthy();
  f.unit_active_state = "failed";
  f.unit_sub_state = "failed";
  f.unit_result = "watchdog";
  f.api_reachable = false;
  f.vigild.reset();
  BOOST_TEST(check(doctor::evaluate(f), "vigild").detail ==
             "vigild.service is failed (failed, result watchdog)");

  f = healthy();
  f.unit_load_state = "not-found";
  BOOST_TEST(check(doctor::evaluate(f), "vigild").detail == "vigild.service is not installed");

  f = healthy();
  f.vigild->ready = false;
  BOOST_TEST((verdictOf(f, "vigild") == Verdict::Warn));

  f = healthy();
  f.api_reachable = false;
  f.vigild.reset();
  f.api_error = "org.vigil.Vigil1 is not on the bus";
  checks = doctor::evaluate(f);
  BOOST_TEST((check(checks, "vigild").verdict == Verdict::Fail));
  BOOST_TEST(contains(check(checks, "vigild").detail, "org.vigil.Vigil1 is not on the bus"));
}

BOOST_AUTO_TEST_CASE(an_invalid_file_a_fallback_or_a_rejected_reload) {
  auto f = healthy();
  f.config_errors = {
      "/etc/vigil/vigil.yaml:7:22: trees.web.children[0].limits.memory_max: "
      "expected a size like 512M, found 'lots'",
      "/etc/vigil/vigil.yaml:9:3: trees.web.children[1]: unknown key 'comand'"};
  auto c = check(doctor::evaluate(f), "config");
  BOOST_TEST((c.verdict == Verdict::Fail));
  BOOST_TEST(c.detail ==
             "/etc/vigil/vigil.yaml: 2 error(s), first: /etc/vigil/vigil.yaml:7:22: "
             "trees.web.children[0].limits.memory_max: expected a size like 512M, found 'lots'");
  BOOST_TEST(contains(c.fix, "vigild --check-config /etc/vigil/vigil.yaml"));

  f = healthy();
  f.vigild->config_fallback = "the file was invalid at 12:00";
  BOOST_TEST((verdictOf(f, "config") == Verdict::Fail));

  f = healthy();
  f.vigild->last_reload.result = "rejected";
  BOOST_TEST((verdictOf(f, "config") == Verdict::Warn));

  f = healthy();
  f.config_warnings = 1;
  c = check(doctor::evaluate(f), "config");
  BOOST_TEST((c.verdict == Verdict::Warn));
  BOOST_TEST(c.detail == "/etc/vigil/vigil.yaml: valid (tier tier_3, 2 tree(s), 1 warning(s))");
}

BOOST_AUTO_TEST_CASE(a_tree_that_is_not_running_fails_by_name) {
  auto f = healthy();
  f.supervisors = {sup("web", "failed"), sup("web/backend", "stopped"), sup("jobs", "running")};
  f.supervisors[0].failure = "intensity: 4 restarts in 10s";
  const auto c = check(doctor::evaluate(f), "trees");
  BOOST_TEST((c.verdict == Verdict::Fail));
  // Trees are the roots: web/backend is part of web.
  BOOST_TEST(c.detail == "1 of 2 tree(s) not running: web: failed (intensity: 4 restarts in 10s)");

  f.supervisors.clear();
  BOOST_TEST(check(doctor::evaluate(f), "trees").detail == "no tree configured");

  // The status call failed: no false "no tree configured".
  f.status_error = "Connection timed out";
  auto c2 = check(doctor::evaluate(f), "trees");
  BOOST_TEST((c2.verdict == Verdict::Fail));
  BOOST_TEST(c2.detail == "vigild's status could not be read: Connection timed out");

  // A tree failed between the info and the status answers: vigild's own count says so.
  f = healthy();
  f.vigild->trees_failed = 1;
  c2 = check(doctor::evaluate(f), "trees");
  BOOST_TEST((c2.verdict == Verdict::Fail));
  BOOST_TEST(c2.detail == "1 tree(s) failed (vigild's count)");
}

BOOST_AUTO_TEST_CASE(watchdog_late_absent_or_restarted) {
  auto f = healthy();
  f.monotonic_now_usec = f.watchdog_timestamp_monotonic_usec + 31'000'000;
  auto c = check(doctor::evaluate(f), "watchdog");
  BOOST_TEST((c.verdict == Verdict::Fail));
  BOOST_TEST(c.detail ==
             "no keep-alive from vigild within its watchdog period (30.0s; last 31.0s ago)");

  f = healthy();
  f.watchdog_usec = 0;
  BOOST_TEST((verdictOf(f, "watchdog") == Verdict::Warn));

  f = healthy();
  f.watchdog_timestamp_monotonic_usec = 0;
  BOOST_TEST((verdictOf(f, "watchdog") == Verdict::Fail));

  f = healthy();
  f.unit_n_restarts = 2;
  f.unit_result = "watchdog";
  c = check(doctor::evaluate(f), "watchdog");
  BOOST_TEST((c.verdict == Verdict::Warn));
  BOOST_TEST(contains(c.detail, "restarted 2 time(s) this boot, last by its watchdog"));
}

BOOST_AUTO_TEST_CASE(a_clock_before_the_build_fails_an_unsynchronised_one_warns) {
  auto f = healthy();
  f.realtime_usec = f.not_before_realtime_usec - 1;
  BOOST_TEST((verdictOf(f, "clock") == Verdict::Fail));
  f = healthy();
  f.clock_synchronized = false;
  BOOST_TEST((verdictOf(f, "clock") == Verdict::Warn));
  f.clock_synchronized.reset();
  BOOST_TEST((verdictOf(f, "clock") == Verdict::Warn));
}

BOOST_AUTO_TEST_CASE(json_document) {
  auto f = healthy();
  f.supervisors[0].state = "failed";
  const auto j = doctor::toJson(doctor::evaluate(f));
  BOOST_TEST(j["ok"] == false);
  BOOST_REQUIRE_EQUAL(j["checks"].size(), std::size(doctor::kCheckNames));
  const auto& trees = j["checks"][8];
  BOOST_TEST(trees["name"] == "trees");
  BOOST_TEST(trees["verdict"] == "fail");
  BOOST_TEST(!trees["fix"].get<std::string>().empty());
  BOOST_TEST(j["checks"][0]["verdict"] == "ok");
  BOOST_TEST(j["checks"][0]["fix"] == "");
  BOOST_TEST(doctor::toJson(doctor::evaluate(healthy()))["ok"] == true);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(doctor_facts)

// A bus without PID 1 on it: connected, but systemd1 does not answer, so nothing about it
// or vigild is read and the checks say so.
BOOST_AUTO_TEST_CASE(a_bus_without_pid1) {
  test::PrivateDbusDaemon daemon("vigil-doctor-test");
  const auto m = systemd::probeManager("vigild.service", std::chrono::seconds(2), daemon.address());
  BOOST_TEST(m.bus_connected);
  BOOST_TEST(!m.pid1_answered);
  BOOST_TEST(contains(m.bus_error, "did not answer a ping"));
  BOOST_TEST(!m.service.has_value());

  doctor::GatherOptions o;
  o.bus_address = daemon.address();
  o.config_file = VIGIL_SOURCE_DIR "/config/vigil.yaml";
  o.tier_dirs = {VIGIL_SOURCE_DIR "/config/tiers"};
  o.timeout = std::chrono::seconds(2);
  const auto facts = doctor::gather(o);
  BOOST_TEST(facts.bus_connected);
  BOOST_TEST(!facts.pid1_answered);
  BOOST_TEST(!facts.api_reachable);
  BOOST_TEST(facts.config_checked);
  BOOST_TEST(facts.config_errors.empty());
  BOOST_TEST(facts.config_tier == "tier_3");
  const auto checks = doctor::evaluate(facts);
  BOOST_TEST((check(checks, "dbus").verdict == Verdict::Fail));
  BOOST_TEST((check(checks, "systemd").verdict == Verdict::Fail));
  BOOST_TEST((check(checks, "vigild").verdict == Verdict::Skip));
  BOOST_TEST((check(checks, "config").verdict == Verdict::Ok));
}

// vigild takes VIGIL_TIER from its EnvironmentFile (/etc/default/vigil): the file is checked
// with that tier, and the check says where the tier came from.
BOOST_AUTO_TEST_CASE(the_tier_comes_from_the_environment_file) {
  test::PrivateDbusDaemon daemon("vigil-doctor-test");
  const auto env = daemon.dir() / "default-vigil";
  {
    std::ofstream out(env);
    out << "# comment\nVIGILD_OPTS=--stderr --tier-dir /x\n  VIGIL_TIER=\"tier_1\"\n";
  }
  doctor::GatherOptions o;
  o.bus_address = daemon.address();
  o.config_file = VIGIL_SOURCE_DIR "/config/vigil.yaml";
  o.tier_dirs = {VIGIL_SOURCE_DIR "/config/tiers"};
  o.environment_file = env;
  o.timeout = std::chrono::seconds(2);
  auto facts = doctor::gather(o);
  BOOST_TEST(facts.config_tier == "tier_1");
  BOOST_TEST(check(doctor::evaluate(facts), "config").detail ==
             VIGIL_SOURCE_DIR "/config/vigil.yaml: valid (tier tier_1 from VIGIL_TIER in " +
                 env.string() + ", 0 tree(s))");
  // The caller's own VIGIL_TIER wins, as it would for vigild.
  o.tier_override = "tier_2";
  facts = doctor::gather(o);
  BOOST_TEST(facts.config_tier == "tier_2");
  BOOST_TEST(facts.config_tier_source == "VIGIL_TIER in the environment");
  // No such line, or no such file: the file's own tier:.
  o.tier_override.reset();
  o.environment_file = daemon.dir() / "missing";
  BOOST_TEST(doctor::gather(o).config_tier == "tier_3");
}

BOOST_AUTO_TEST_CASE(an_invalid_file_is_read_with_its_errors) {
  test::PrivateDbusDaemon daemon("vigil-doctor-test");
  doctor::GatherOptions o;
  o.bus_address = daemon.address();
  o.config_file = VIGIL_FIXTURES_DIR "/hostile/duplicate_worker.yaml";
  o.timeout = std::chrono::seconds(2);
  const auto facts = doctor::gather(o);
  BOOST_TEST(!facts.config_errors.empty());
  BOOST_TEST(contains(facts.config_errors.front(), "duplicate_worker.yaml:"));
  BOOST_TEST((check(doctor::evaluate(facts), "config").verdict == Verdict::Fail));
}

BOOST_AUTO_TEST_SUITE_END()
