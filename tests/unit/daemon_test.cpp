#include <boost/test/unit_test.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include <netinet/in.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "daemon/Daemon.h"
#include "support/FakeSystemdClient.h"
#include "support/HttpProbe.h"

using namespace vigil;
namespace fs = std::filesystem;

namespace {

struct DaemonFixture {
  fs::path dir;
  sd_event* event = nullptr;
  test::FakeSystemdClient fake;
  std::unique_ptr<daemon::Daemon> daemon;

  DaemonFixture() {
    dir = fs::temp_directory_path() /
          ("vigil-daemon-test-" + std::to_string(::getpid()) + "-" +
           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    fs::create_directories(dir);
    sd_event_new(&event);
  }
  ~DaemonFixture() {
    daemon.reset();
    sd_event_unref(event);
    fs::remove_all(dir);
  }
  void writeConfig(const std::string& text) { std::ofstream(dir / "vigil.yaml") << text; }
  core::Usec state_interval{std::chrono::seconds(10)};
  core::Usec state_max_delay{std::chrono::seconds(60)};
  core::Usec status_min_interval{std::chrono::seconds(5)};
  std::function<void(const std::string&)> notifier;
  fs::path state_dir;  // "": no persistence
  core::Usec persist_retry{std::chrono::seconds(5)};
  core::Usec watchdog{0};
  void make() { make(fake); }
  void make(test::FakeSystemdClient& client) {
    daemon::DaemonOptions o;
    o.state_dir = state_dir;
    o.persist_retry = persist_retry;
    o.watchdog = watchdog;
    o.status_min_interval = status_min_interval;
    o.notifier = notifier;
    o.state_file_interval = state_interval;
    o.state_file_max_delay = state_max_delay;
    o.config_file = dir / "vigil.yaml";
    o.tier_dirs = {fs::path(VIGIL_FIXTURES_DIR) / ".." / ".." / "config" / "tiers"};
    o.state_file = dir / "state.json";
    o.cgroup_root = dir / "cgroup";
    o.log_to_journal = false;
    o.log_to_stderr = false;
    o.notify = false;
    daemon = std::make_unique<daemon::Daemon>(o, event, client);
  }
  // vigild started with kTwoWorkers (or `config`, two workers too), no existing units,
  // both start jobs done.
  void startTwoWorkersUp();
  void startTwoWorkersUp(const std::string& config);
  // Runs the loop until `pred` holds or `limit` passes.
  template <typename Pred>
  bool runUntil(Pred pred, std::chrono::milliseconds limit = std::chrono::milliseconds(2000)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > end) return false;
      sd_event_run(event, 10000);
    }
    return true;
  }
};

// A TCP port on 127.0.0.1 that was free a moment ago.
std::uint16_t freePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// A listening socket on 127.0.0.1 (another process holding a port); its port in *port.
int holdPort(std::uint16_t* port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  BOOST_REQUIRE(listen(fd, 1) == 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The loop's exit code once something asked it to end, or -1.
int exitRequested(sd_event* event) {
  int code = 0;
  if (sd_event_get_exit_code(event, &code) < 0) return -1;
  return code;
}

const char* kTwoWorkers = R"(tier: tier_2
trees:
  web:
    strategy: one_for_one
    intensity: {max_restarts: 5, period: 60s}
    children:
      - name: api
        command: [/usr/bin/sleep, "1000"]
        backoff: {initial: 20ms, max: 1s, jitter: 0}
      - name: jobs
        command: [/usr/bin/sleep, "1000"]
)";

void DaemonFixture::startTwoWorkersUp() {
  startTwoWorkersUp(kTwoWorkers);
}

void DaemonFixture::startTwoWorkersUp(const std::string& config) {
  writeConfig(config);
  make();
  BOOST_REQUIRE(daemon->start());
  fake.lists[0](std::vector<core::ExistingUnit>{});
  fake.finishStart();
  fake.finishStart();
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(daemon_wiring, DaemonFixture)

BOOST_AUTO_TEST_CASE(starts_workers_after_listing_existing_units_then_reports_ready) {
  writeConfig(kTwoWorkers);
  make();
  BOOST_REQUIRE(daemon->start());
  BOOST_TEST(fake.log.empty());  // nothing is started before existing units are known
  BOOST_REQUIRE(fake.lists.size() == 1u);
  fake.lists[0](std::vector<core::ExistingUnit>{});
  BOOST_TEST(fake.log ==
             (std::vector<std::string>{"slice vigil-web.slice", "start vigil-web-api.service"}));
  BOOST_TEST(fake.starts.front().spec.argv == (std::vector<std::string>{"/usr/bin/sleep", "1000"}));
  BOOST_TEST(fake.starts.front().spec.slice == "vigil-web.slice");
  fake.finishStart();
  BOOST_TEST(!daemon->ready());
  fake.finishStart();
  BOOST_TEST(daemon->ready());
}

// STATUS= with the counts: the first change after a quiet spell is sent within about half
// a second, the next no sooner than status_min_interval after it (each one costs PID 1 a
// broadcast of vigild.service's properties); after a quiet spell, promptly again.
BOOST_AUTO_TEST_CASE(status_updates_are_spaced_by_their_minimum_interval) {
  using std::chrono::milliseconds;
  using Clock = std::chrono::steady_clock;
  std::vector<std::pair<Clock::time_point, std::string>> sent;
  notifier = [&](const std::string& text) {
    if (text.starts_with("STATUS=") && text.find(" running, ") != std::string::npos)
      sent.emplace_back(Clock::now(), text.substr(7));
  };
  status_min_interval = milliseconds(3000);
  startTwoWorkersUp();
  const auto up = Clock::now();
  BOOST_REQUIRE(runUntil([&] { return !sent.empty(); }, milliseconds(2500)));
  BOOST_TEST(sent[0].second == "2 running, 0 in backoff, 0 other; 0 failed tree(s)");
  BOOST_TEST((sent[0].first - up < milliseconds(2000)));
  // A crash right after: the restart is under way at once (its start job is held by the
  // fake), its STATUS= waits for the interval.
  fake.unitExits("vigil-web-api.service", core::UnitOutcome{"signal", 2, 9});
  BOOST_REQUIRE(runUntil([&] { return sent.size() >= 2; }, milliseconds(5000)));
  BOOST_TEST(sent[1].second == "1 running, 0 in backoff, 1 other; 0 failed tree(s)");
  BOOST_TEST((sent[1].first - sent[0].first >= milliseconds(2950)));
  // Quiet for longer than the interval, then the restart completes: sent promptly.
  runUntil([] { return false; }, milliseconds(3500));
  BOOST_REQUIRE(sent.size() == 2u);
  fake.finishStart();
  const auto back = Clock::now();
  BOOST_REQUIRE(runUntil([&] { return sent.size() >= 3; }, milliseconds(5000)));
  BOOST_TEST(sent[2].second == "2 running, 0 in backoff, 0 other; 0 failed tree(s)");
  BOOST_TEST((sent[2].first - back < milliseconds(2000)));
}

// The state file waits while jobs are outstanding (a burst), up to its maximum delay
// after the previous write, and is written one interval after the jobs are done.
BOOST_AUTO_TEST_CASE(the_state_file_waits_for_outstanding_jobs_within_its_maximum_delay) {
  using std::chrono::milliseconds;
  state_interval = milliseconds(40);
  state_max_delay = milliseconds(700);
  writeConfig(kTwoWorkers);
  make();
  const fs::path file = dir / "state.json";
  BOOST_REQUIRE(daemon->start());
  fake.lists[0](std::vector<core::ExistingUnit>{});
  // The first write (vigild's start) is not held back: nothing was written before it.
  BOOST_TEST(runUntil([&] { return fs::exists(file); }, milliseconds(1000)));
  fs::remove(file);
  fake.finishStart();  // a change; the second worker's start is still outstanding
  BOOST_TEST_REQUIRE(fake.pendingOperations() == 1u);
  const auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST(!runUntil([&] { return fs::exists(file); }, milliseconds(300)));
  // Still outstanding: written once the maximum delay after the first write has passed.
  BOOST_TEST(runUntil([&] { return fs::exists(file); }, milliseconds(3000)));
  BOOST_TEST((std::chrono::steady_clock::now() - t0 >= milliseconds(300)));
  fs::remove(file);
  fake.finishStart();  // nothing outstanding: the next write comes one interval later
  BOOST_TEST(fake.pendingOperations() == 0u);
  // (sd-event may fire a timer up to 250 ms late: its default accuracy.)
  BOOST_TEST(runUntil([&] { return fs::exists(file); }, milliseconds(2000)));
}

// Liveness: WATCHDOG=1 goes out only while PID 1 answers (a Ping within the last period);
// a PID 1 that stops answering stops the feeding (systemd then restarts vigild), and the
// feeding resumes when it answers again.
BOOST_AUTO_TEST_CASE(the_watchdog_is_fed_only_while_pid1_answers) {
  using std::chrono::milliseconds;
  std::size_t fed = 0;
  notifier = [&](const std::string& text) { fed += text == "WATCHDOG=1"; };
  watchdog = milliseconds(400);
  startTwoWorkersUp();
  BOOST_REQUIRE(runUntil([&] { return fed >= 3; }));
  BOOST_TEST(fake.ping_count >= 2u);
  fake.pid1_silent = true;
  runUntil([] { return false; }, milliseconds(700));  // the last answer is older than 400 ms
  const std::size_t before = fed;
  runUntil([] { return false; }, milliseconds(800));
  BOOST_TEST(fed == before);
  BOOST_TEST(fake.unanswered_pings.size() == 1u);  // one at a time
  fake.pid1_silent = false;
  fake.timeOutPings();
  BOOST_TEST(runUntil([&] { return fed > before; }));
}

BOOST_AUTO_TEST_CASE(restarts_a_dead_worker_after_its_backoff_timer) {
  startTwoWorkersUp();
  fake.unitExits("vigil-web-api.service", {"signal", 2, 9});
  BOOST_TEST(fake.starts.empty());
  BOOST_TEST(runUntil([&] { return !fake.starts.empty(); }));
  BOOST_TEST(fake.starts.front().spec.name == "vigil-web-api.service");
  fake.finishStart();
  const auto state = nlohmann::json::parse(daemon->stateJson());
  std::map<std::string, int> restarts;
  for (const auto& w : state["workers"]) restarts[w["unit"]] = w["restarts"];
  BOOST_TEST(restarts["vigil-web-api.service"] == 1);
  BOOST_TEST(restarts["vigil-web-jobs.service"] == 0);
  BOOST_TEST(state["workers"].size() == 2u);
  bool exit_event = false;
  for (const auto& e : state["events"])
    exit_event = exit_event ||
                 (e["type"] == "worker-exited" &&
                  e["message"].get<std::string>().find("killed by SIGKILL") != std::string::npos);
  BOOST_TEST(exit_event);
}

BOOST_AUTO_TEST_CASE(a_failed_unit_stays_loaded_while_its_restart_waits_then_is_reset) {
  // api's backoff is long here, so that the reload lands while it waits.
  std::string config = kTwoWorkers;
  config.replace(config.find("initial: 20ms"), 13, "initial: 60s");
  config.replace(config.find("max: 1s"), 7, "max: 60s");
  startTwoWorkersUp(config);
  fake.unitExits("vigil-web-api.service", {"signal", 2, 9});
  runUntil([] { return false; }, std::chrono::milliseconds(50));
  BOOST_TEST(fake.starts.empty());
  BOOST_TEST(fake.resets.empty());  // kept for the restart in place
  BOOST_TEST(fake.failedUnits() == (std::vector<std::string>{"vigil-web-api.service"}));

  // api leaves the configuration while it waits: nothing will start it again, so it is
  // reset.
  std::string without_api = config;
  const auto from = without_api.find("      - name: api");
  without_api.erase(from, without_api.find("      - name: jobs") - from);
  writeConfig(without_api);
  BOOST_REQUIRE(daemon->reload());
  while (!fake.stops.empty()) fake.finishStop();
  BOOST_TEST(fake.resets == (std::vector<std::string>{"vigil-web-api.service"}));
  BOOST_TEST(fake.failedUnits().empty());
}

BOOST_AUTO_TEST_CASE(an_invalid_reload_changes_nothing) {
  startTwoWorkersUp();
  const auto before = fake.log;
  writeConfig("trees:\n  web:\n    strategy: one_for_some\n    children: []\n");
  auto r = daemon->reload();
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().message().find("vigil.yaml:3:15: trees.web.strategy") != std::string::npos,
             r.error().message());
  BOOST_TEST(fake.log == before);
  BOOST_TEST(fake.pendingOperations() == 0u);
}

BOOST_AUTO_TEST_CASE(a_valid_reload_applies_only_the_difference) {
  startTwoWorkersUp();
  fake.log.clear();
  std::string changed = kTwoWorkers;
  changed.replace(changed.find("- name: jobs"), 12, "- name: cron");
  writeConfig(changed);
  BOOST_REQUIRE(daemon->reload());
  BOOST_TEST(fake.log == (std::vector<std::string>{"stop vigil-web-jobs.service",
                                                   "start vigil-web-cron.service"}));
}

BOOST_AUTO_TEST_CASE(refuses_to_start_with_an_invalid_configuration) {
  writeConfig("trees:\n  web:\n    children:\n      - name: api\n        command: [sleep]\n");
  make();
  auto r = daemon->start();
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().message().find("vigil.yaml:5:") != std::string::npos, r.error().message());
  BOOST_TEST(fake.lists.empty());
  BOOST_TEST(fake.log.empty());
}

BOOST_AUTO_TEST_CASE(sigterm_leaves_the_workers_running_when_only_vigild_stops) {
  startTwoWorkersUp();
  fake.log.clear();
  daemon->shutdown();
  BOOST_TEST(fake.log == std::vector<std::string>{"query stack stop"});
  BOOST_TEST(exitRequested(event) == -1);  // waits for PID 1's answer
  fake.stack_queries[0](false);
  BOOST_TEST(exitRequested(event) == 0);
  BOOST_TEST(fake.stops.empty());
  daemon->shutdown();  // a second SIGTERM changes nothing
  BOOST_TEST(fake.stack_queries.size() == 1u);
  BOOST_TEST(!daemon->reload());  // and no reload runs any more
}

BOOST_AUTO_TEST_CASE(sigterm_when_vigil_stops_as_a_whole_stops_the_tree_in_order_then_exits) {
  startTwoWorkersUp();
  fake.log.clear();
  daemon->shutdown();
  fake.stack_queries[0](true);
  BOOST_TEST(fake.log ==
             (std::vector<std::string>{"query stack stop", "stop vigil-web-jobs.service"}));
  BOOST_TEST(exitRequested(event) == -1);
  fake.unitExits("vigil-web-jobs.service", {"success", 2, 15});  // not restarted
  fake.finishStop();
  BOOST_TEST(fake.log.back() == "stop vigil-web-api.service");
  BOOST_TEST(exitRequested(event) == -1);
  fake.finishStop();
  BOOST_TEST(exitRequested(event) == 0);
  BOOST_TEST(fake.starts.empty());
}

BOOST_AUTO_TEST_CASE(a_start_failure_names_the_setting_and_what_this_host_says_about_it) {
  writeConfig(R"(tier: tier_2
trees:
  web:
    children:
      - name: api
        command: [/usr/bin/sleep, "1000"]
        user: vigil_no_such_user
)");
  make();
  BOOST_REQUIRE(daemon->start());
  fake.lists[0](std::vector<core::ExistingUnit>{});
  fake.finishStart(false, {"exit-code", 1, 217});
  const auto doc = nlohmann::json::parse(daemon->stateJson());
  std::string message;
  for (const auto& e : doc["events"])
    if (e["type"] == "worker-start-failed")
      message = e["worker"].get<std::string>() + ": " + e["message"].get<std::string>();
  BOOST_TEST(message ==
             "web/api: failed to start: cannot apply user 'vigil_no_such_user' (systemd step USER "
             "failed, status 217/USER): no such user on this host");
  // vigild loaded the file anyway: a host fact is a warning to it, not a reason to refuse.
  const auto& warnings = doc["vigild"]["last_reload"]["warnings"];
  BOOST_TEST_REQUIRE(warnings.size() == 1u);
  BOOST_TEST(warnings[0].get<std::string>().ends_with(
      "vigil.yaml:7:15: warning: trees.web.children[0].user: user 'vigil_no_such_user': no such "
      "user on this host (on this host the start would fail with status 217/USER)"));
  BOOST_TEST(doc["vigild"]["last_reload"]["result"] == "applied");
}

BOOST_AUTO_TEST_CASE(an_operator_stop_and_restart_are_followed_not_fought) {
  startTwoWorkersUp();
  core::UnitOutcome stop{"success", 2, 15};
  stop.stop_job = true;
  fake.unitExits("vigil-web-api.service", stop);
  BOOST_TEST(!runUntil([&] { return !fake.starts.empty(); }, std::chrono::milliseconds(300)));
  fake.unitActive("vigil-web-api.service");
  const auto doc = nlohmann::json::parse(daemon->stateJson());
  for (const auto& w : doc["workers"]) BOOST_TEST(w["state"] == "running");
}

BOOST_AUTO_TEST_CASE(a_start_waiting_for_its_job_slot_is_built_when_issued_or_withdrawn) {
  // Three instances' starts wait behind the job window while a reload scales the worker
  // to two. When the slots free, @1 and @2 start, and @3's start is withdrawn without a
  // call to PID 1; the stop the reload asked for finds nothing to stop (the real client
  // takes NoSuchUnit as done).
  const std::string three = R"(tier: tier_2
trees:
  web:
    children:
      - name: api
        instances: 3
        command: [/usr/bin/sleep, "1000"]
)";
  writeConfig(three);
  fake.hold_starts = true;
  make();
  BOOST_REQUIRE(daemon->start());
  fake.lists[0](std::vector<core::ExistingUnit>{});
  BOOST_TEST(fake.held.size() == 3u);
  std::string two = three;
  two.replace(two.find("instances: 3"), 12, "instances: 2");
  writeConfig(two);
  BOOST_REQUIRE(daemon->reload());
  fake.log.clear();
  fake.hold_starts = false;
  fake.issueHeldStarts();
  BOOST_TEST(fake.log == (std::vector<std::string>{"start vigil-web-api@1.service",
                                                   "start vigil-web-api@2.service",
                                                   "withdrawn vigil-web-api@3.service"}));
  BOOST_REQUIRE(fake.starts.size() == 2u);
  BOOST_TEST(fake.starts.back().spec.argv == (std::vector<std::string>{"/usr/bin/sleep", "1000"}));
  BOOST_REQUIRE(fake.withdrawn.size() == 1u);
  BOOST_TEST(fake.withdrawn.front().error ==
             "vigil-web-api@3.service is no longer in the configuration");
  fake.answerWithdrawn();
  fake.finishStart();
  fake.finishStart();
  while (!fake.stops.empty()) fake.finishStop();
  BOOST_TEST(fake.pendingOperations() == 0u);
  const auto doc = nlohmann::json::parse(daemon->stateJson());
  BOOST_REQUIRE(doc["workers"].size() == 2u);
  for (const auto& w : doc["workers"]) BOOST_TEST(w["state"] == "running");
}

BOOST_AUTO_TEST_CASE(a_held_start_whose_spec_a_reload_changed_runs_only_after_the_old_stop) {
  // One incarnation of a unit name at a time: the start queued for the old spec is
  // withdrawn (never sent to PID 1, and not built from the new spec); the new incarnation
  // starts once the old one's stop is done.
  const std::string one = R"(tier: tier_2
trees:
  web:
    children:
      - name: api
        command: [/usr/bin/sleep, "1000"]
)";
  writeConfig(one);
  fake.hold_starts = true;
  make();
  BOOST_REQUIRE(daemon->start());
  fake.lists[0](std::vector<core::ExistingUnit>{});
  BOOST_TEST(fake.held.size() == 1u);
  fake.log.clear();
  std::string two = one;
  two.replace(two.find("\"1000\""), 6, "\"2000\"");
  writeConfig(two);
  BOOST_REQUIRE(daemon->reload());
  fake.hold_starts = false;
  fake.issueHeldStarts();
  BOOST_TEST(fake.starts.empty());
  BOOST_REQUIRE(fake.withdrawn.size() == 1u);
  BOOST_TEST(fake.withdrawn.front().error ==
             "this start of vigil-web-api.service was superseded (the worker was stopped, "
             "replaced or started again)");
  fake.answerWithdrawn();
  BOOST_REQUIRE(fake.stops.size() == 1u);
  fake.finishStop();
  BOOST_REQUIRE(fake.starts.size() == 1u);
  BOOST_TEST(fake.starts.front().spec.argv == (std::vector<std::string>{"/usr/bin/sleep", "2000"}));
  fake.finishStart();
  BOOST_TEST(fake.pendingOperations() == 0u);
  const auto doc = nlohmann::json::parse(daemon->stateJson());
  BOOST_REQUIRE(doc["workers"].size() == 1u);
  BOOST_TEST(doc["workers"][0]["state"] == "running");
  BOOST_TEST(fake.log == (std::vector<std::string>{"stop vigil-web-api.service",
                                                   "withdrawn vigil-web-api.service",
                                                   "start vigil-web-api.service"}));
}

BOOST_AUTO_TEST_CASE(metrics_are_served_on_their_port_and_written_to_the_textfile) {
  // The workers' cgroups: web/api's from a real host's files, web/jobs has none (its figures
  // are absent, its state is not); the tree's slice with a memory.current of its own.
  fs::copy(fs::path(VIGIL_FIXTURES_DIR) / "cgroupfs" / "linux-6.1-oom-killed", dir / "cgroup",
           fs::copy_options::recursive);
  std::ofstream(dir / "cgroup/vigil.slice/vigil-web.slice/memory.current") << "300000000\n";
  fs::create_directories(dir / "textfile");
  const std::uint16_t port = freePort();
  std::string config = kTwoWorkers;
  config.insert(config.find("trees:"),
                "metrics: {interval: 200ms, history: 1min, listen: '127.0.0.1:" +
                    std::to_string(port) + "', textfile: " + (dir / "textfile").string() + "}\n");
  startTwoWorkersUp(config);
  BOOST_TEST(daemon->metricsPort() == port);

  const fs::path textfile = dir / "textfile" / "vigil.prom";
  BOOST_REQUIRE(
      runUntil([&] { return fs::exists(textfile) && daemon->sampler().view().sweeps >= 2; }));
  const std::string text = readFile(textfile);
  const std::string api_labels =
      "{tree=\"web\",supervisor=\"web\",worker=\"web/api\",worker_instance=\"\","
      "unit=\"vigil-web-api.service\"}";
  const std::string jobs_labels =
      "{tree=\"web\",supervisor=\"web\",worker=\"web/jobs\",worker_instance=\"\","
      "unit=\"vigil-web-jobs.service\"}";
  BOOST_TEST(text.find("vigil_worker_memory_bytes" + api_labels + " 187236352\n") !=
             std::string::npos);
  BOOST_TEST(text.find("vigil_worker_cpu_seconds_total" + api_labels + " 48.213377\n") !=
             std::string::npos);
  BOOST_TEST(text.find("vigil_worker_oom_kills_total" + api_labels + " 1\n") != std::string::npos);
  BOOST_TEST(text.find("vigil_worker_up" + jobs_labels + " 1\n") != std::string::npos);
  BOOST_TEST(text.find("vigil_worker_memory_bytes" + jobs_labels) == std::string::npos);
  BOOST_TEST(text.find("vigil_supervisor_memory_bytes{tree=\"web\",supervisor=\"web\","
                       "unit=\"vigil-web.slice\"} 300000000\n") != std::string::npos);
  BOOST_TEST(!fs::exists(dir / "textfile" / "vigil.prom.tmp"));

  // The status carries every figure of the sample too.
  const auto doc = nlohmann::json::parse(daemon->stateJson());
  BOOST_TEST(doc["workers"][0]["cgroup_stats"]["memory_current_bytes"] == 187236352u);
  BOOST_TEST(doc["workers"][0]["cgroup_stats"]["cpu_throttled_usec"] == 9650141u);

  testing::HttpProbe get(port, testing::HttpProbe::get("/metrics"));
  BOOST_REQUIRE(runUntil([&] { return get.poll(); }));
  BOOST_TEST(get.status() == 200);
  BOOST_TEST(get.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  BOOST_TEST(get.body().find("vigil_worker_memory_bytes" + api_labels + " 187236352\n") !=
             std::string::npos);
  BOOST_TEST(get.body().find("vigil_exporter_scrape_duration_seconds ") != std::string::npos);

  // The history of those sweeps, through the API's backend: the slice and both workers; the
  // fixture's figures do not change, so min = avg = max.
  auto h = daemon->history("web", std::chrono::minutes(1), 4);
  BOOST_REQUIRE(h.has_value());
  BOOST_REQUIRE(h->size() == 3u);
  BOOST_TEST((*h)[0].kind == "supervisor");
  BOOST_TEST((*h)[0].unit == "vigil-web.slice");
  BOOST_TEST((*h)[1].path == "web/api");
  BOOST_TEST((*h)[1].samples >= 1u);  // the first sweep of a cgroup is a gap (no rate yet)
  BOOST_TEST((*h)[1].interval_usec == 200000);
  BOOST_TEST((*h)[1].metrics[1].name == "memory");
  BOOST_TEST((*h)[1].metrics[1].min == 187236352u);
  BOOST_TEST((*h)[1].metrics[1].max == 187236352u);
  BOOST_TEST((*h)[1].metrics[1].series.size() <= 4u);  // never more points than slots
  BOOST_TEST(!(*h)[1].metrics[1].series.empty());
  BOOST_TEST((*h)[2].samples == 0u);  // web/jobs has no cgroup files here
  BOOST_TEST(!daemon->history("nope", std::chrono::minutes(1), 4));
  BOOST_TEST(daemon->history("web", std::chrono::minutes(1), 601).error().message ==
             "at most 600 points per metric, asked for 601");

  // A reload that moves /metrics: the old port is closed, the new one serves.
  const std::uint16_t moved = freePort();
  std::string next = config;
  next.replace(next.find(std::to_string(port)), std::to_string(port).size(), std::to_string(moved));
  writeConfig(next);
  BOOST_REQUIRE(daemon->reload());
  BOOST_TEST(daemon->metricsPort() == moved);
  testing::HttpProbe old_port(port, testing::HttpProbe::get("/metrics"));
  BOOST_REQUIRE(runUntil([&] { return old_port.poll(); }));
  BOOST_TEST(old_port.status() == 0);  // refused
  testing::HttpProbe new_port(moved, testing::HttpProbe::get("/metrics"));
  BOOST_REQUIRE(runUntil([&] { return new_port.poll(); }));
  BOOST_TEST(new_port.status() == 200);
}

// The status page and its JSON on the metrics listener: / is the HTML page (its security
// headers, every worker row in order, the crash's last exit and event), /api/v1/status is
// `vigilctl status --json`'s document for the same state as the API's GetStatus, HEAD
// works, an unknown path is a 404 naming the three, and a configuration error quoting
// markup arrives escaped.
BOOST_AUTO_TEST_CASE(the_status_page_and_its_json_are_served_beside_the_metrics) {
  const std::uint16_t port = freePort();
  std::string config = kTwoWorkers;
  config.insert(config.find("trees:"),
                "metrics: {listen: '127.0.0.1:" + std::to_string(port) + "'}\n");
  startTwoWorkersUp(config);
  fake.unitExits("vigil-web-api.service", {"signal", 2, 9});
  BOOST_REQUIRE(runUntil([&] { return !fake.starts.empty(); }));
  fake.finishStart();
  const auto get = [&](const std::string& path, const std::string& method = "GET") {
    auto probe = std::make_unique<testing::HttpProbe>(port, testing::HttpProbe::get(path, method));
    BOOST_REQUIRE(runUntil([&] { return probe->poll(); }));
    return probe;
  };

  const auto page = get("/");
  BOOST_TEST(page->status() == 200);
  BOOST_TEST(page->header("Content-Type") == "text/html; charset=utf-8");
  BOOST_TEST(page->header("Content-Security-Policy") ==
             "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
  BOOST_TEST(page->header("X-Content-Type-Options") == "nosniff");
  BOOST_TEST(page->header("Cache-Control") == "no-store");
  const std::string html = page->body();
  BOOST_TEST(html.starts_with("<!DOCTYPE html>"));
  const auto api = html.find("<tr class=\"worker\" data-path=\"web/api\">");
  const auto jobs = html.find("<tr class=\"worker\" data-path=\"web/jobs\">");
  BOOST_TEST(api != std::string::npos);
  BOOST_TEST(jobs != std::string::npos);
  BOOST_TEST(api < jobs);
  const std::string api_row = html.substr(api, html.find("</tr>", api) - api);
  BOOST_TEST(api_row.find("<span class=\"st st-running\">running</span>") != std::string::npos);
  BOOST_TEST(api_row.find("<td class=\"num\">1<div class=\"sub\">1 failed in a row</div></td>") !=
                 std::string::npos,
             api_row);
  BOOST_TEST(api_row.find("killed by SIGKILL") != std::string::npos, api_row);
  BOOST_TEST(html.find("<tr class=\"event\"><td class=\"num\">") != std::string::npos);
  BOOST_TEST(html.find("<td>worker-exited</td><td>web/api</td>") != std::string::npos);

  const auto head = get("/", "HEAD");
  BOOST_TEST(head->status() == 200);
  BOOST_TEST(head->body().empty());
  BOOST_TEST(std::stoul(head->header("Content-Length")) > 1000u);
  BOOST_TEST(head->header("Content-Security-Policy") ==
             "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");

  // The JSON against the API's answer for the same state. What depends on when it was
  // composed is left out: the snapshot's time, uptimes, sample times, and the wall-clock
  // times of monotonic events (converted with both clocks as read then: microseconds
  // apart), which are compared within a second instead, and the host's figures (a sweep
  // may fall between the two: /proc/stat moves on).
  const auto served = get("/api/v1/status");
  BOOST_TEST(served->status() == 200);
  BOOST_TEST(served->header("Content-Type") == "application/json");
  BOOST_TEST(served->header("X-Content-Type-Options") == "nosniff");
  const std::string text = served->body();
  const auto doc = nlohmann::json::parse(text);
  BOOST_TEST(text == doc.dump(2) + "\n");  // vigilctl's layout: dump(2) and a newline
  std::shared_ptr<const status::StatusSnapshot> snap;
  daemon->status("", [&](auto r) {
    BOOST_REQUIRE(r.has_value());
    snap = *r;
  });
  BOOST_REQUIRE(runUntil([&] { return snap != nullptr; }));
  const std::function<void(nlohmann::json&)> strip = [&](nlohmann::json& j) {
    if (j.is_object()) {
      for (const char* key :
           {"taken_realtime_usec", "uptime_usec", "sampled_realtime_usec", "at_realtime_usec"})
        j.erase(key);
      for (auto& [k, v] : j.items()) strip(v);
    } else if (j.is_array()) {
      for (auto& v : j) strip(v);
    }
  };
  nlohmann::json expected = status::toJson(*snap);
  nlohmann::json actual = doc;
  BOOST_TEST(actual["vigild"]["host"].is_null() == expected["vigild"]["host"].is_null());
  actual["vigild"].erase("host");
  expected["vigild"].erase("host");
  strip(expected);
  strip(actual);
  BOOST_TEST(actual == expected, nlohmann::json::diff(expected, actual).dump());
  const std::int64_t served_exit = doc["workers"][0]["last_exit"]["at_realtime_usec"];
  const std::int64_t api_exit =
      status::toJson(*snap)["workers"][0]["last_exit"]["at_realtime_usec"];
  BOOST_TEST(std::abs(served_exit - api_exit) < 1'000'000);
  BOOST_TEST(doc["workers"].size() == 2u);
  BOOST_TEST(doc["workers"][0]["restarts"] == 1);
  BOOST_TEST(doc["schema"] == status::kJsonSchema);

  const auto missing = get("/status");
  BOOST_TEST(missing->status() == 404);
  for (const char* path : {" / ", " /metrics ", " /api/v1/status "})
    BOOST_TEST(missing->body().find(path) != std::string::npos, path);
  BOOST_TEST(get("/metrics")->status() == 200);

  // A rejected file quotes the unknown key in its error, the reload result and the
  // config-rejected event: text on the page, never markup.
  writeConfig(config + "\"<script>alert(1)</script>\": 1\n");
  BOOST_REQUIRE(!daemon->reload());
  const std::string after = get("/")->body();
  BOOST_TEST(after.find("<script") == std::string::npos);
  BOOST_TEST(after.find("unknown key &#39;&lt;script&gt;alert(1)&lt;/script&gt;&#39;") !=
             std::string::npos);
  BOOST_TEST(after.find("id=\"reload-rejected\"") != std::string::npos);
  BOOST_TEST(after.find("<td>config-rejected</td>") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_reload_whose_listener_cannot_be_bound_changes_nothing) {
  const std::uint16_t port = freePort();
  std::string config = kTwoWorkers;
  config.insert(config.find("trees:"),
                "metrics: {listen: '127.0.0.1:" + std::to_string(port) + "'}\n");
  startTwoWorkersUp(config);
  // Another process holds the next address.
  std::uint16_t taken = 0;
  const int busy = holdPort(&taken);
  std::string next = config;
  next.replace(next.find(std::to_string(port)), std::to_string(port).size(), std::to_string(taken));
  // ... and the reload would also remove web/jobs: it must not.
  next.erase(next.find("      - name: jobs"));
  writeConfig(next);
  const auto r = daemon->reload();
  close(busy);
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().message() == (dir / "vigil.yaml").string() +
                                        ": metrics.listen: cannot serve /metrics: 127.0.0.1:" +
                                        std::to_string(taken) + ": Address already in use");
  BOOST_TEST(daemon->metricsPort() == port);
  BOOST_TEST(fake.stops.empty());
  BOOST_TEST(daemon->info().last_reload.result == "rejected");
  testing::HttpProbe get(port, testing::HttpProbe::get("/metrics"));
  BOOST_REQUIRE(runUntil([&] { return get.poll(); }));
  BOOST_TEST(get.status() == 200);
}

BOOST_AUTO_TEST_CASE(an_address_taken_at_start_is_retried_and_never_blocks_a_reload) {
  // Someone else holds the port when vigild starts: it supervises without /metrics.
  std::uint16_t port = 0;
  const int busy = holdPort(&port);
  std::string config = kTwoWorkers;
  config.insert(config.find("trees:"),
                "metrics: {listen: '127.0.0.1:" + std::to_string(port) + "'}\n");
  startTwoWorkersUp(config);
  BOOST_TEST(daemon->metricsPort() == 0);
  BOOST_TEST(fake.starts.empty());
  // A reload with the same address still applies (here: web/jobs removed) ...
  std::string next = config;
  next.erase(next.find("      - name: jobs"));
  writeConfig(next);
  BOOST_REQUIRE(daemon->reload());
  BOOST_TEST(fake.stops.size() == 1u);
  BOOST_TEST(daemon->metricsPort() == 0);
  // ... and once the port is free, the next reload serves it.
  close(busy);
  BOOST_REQUIRE(daemon->reload());
  BOOST_TEST(daemon->metricsPort() == port);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(daemon_health, DaemonFixture)

// A tcp check on a port nothing listens on: the worker becomes unhealthy after `failures`
// probes and is stopped, then restarted through its supervisor with the health reason;
// the new incarnation turns healthy once the port is open. Real probes on the real loop.
BOOST_AUTO_TEST_CASE(an_unhealthy_worker_is_stopped_and_restarted_and_a_healthy_one_left_alone) {
  const std::uint16_t port = freePort();
  startTwoWorkersUp(fmt::format(R"(tier: tier_2
trees:
  web:
    strategy: one_for_one
    intensity: {{max_restarts: 5, period: 60s}}
    children:
      - name: api
        command: [/usr/bin/sleep, "1000"]
        backoff: {{initial: 20ms, max: 1s, jitter: 0}}
        health: {{tcp: "127.0.0.1:{}", interval: 1s, timeout: 500ms, failures: 2}}
      - name: jobs
        command: [/usr/bin/sleep, "1000"]
)",
                                port));
  const auto health = [&](const std::string& unit) {
    const auto w = daemon->engine().worker(unit, core::TimePoint{0});
    return w ? std::string(core::toString(w->health)) : std::string("none");
  };
  BOOST_TEST(health("vigil-web-api.service") == "starting");
  BOOST_TEST(health("vigil-web-jobs.service") == "unknown");
  // First probe after 1s, the second 1s later: unhealthy, then the stop.
  BOOST_REQUIRE(runUntil([&] { return !fake.stops.empty(); }, std::chrono::milliseconds(5000)));
  BOOST_TEST(health("vigil-web-api.service") == "unhealthy");
  BOOST_TEST(fake.finishStop() == "vigil-web-api.service");
  BOOST_REQUIRE(runUntil([&] { return !fake.starts.empty(); }));
  const auto w = daemon->engine().worker("vigil-web-api.service", core::TimePoint{0});
  BOOST_REQUIRE(w);
  BOOST_TEST(w->last_exit == "health: tcp: connect refused");
  BOOST_TEST(w->restarts == 1u);
  // The port opens; the new incarnation becomes healthy at its first probe.
  std::uint16_t held = port;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(held);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  BOOST_REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  BOOST_REQUIRE(listen(fd, 4) == 0);
  fake.finishStart();
  BOOST_REQUIRE(runUntil([&] { return health("vigil-web-api.service") == "healthy"; },
                         std::chrono::milliseconds(4000)));
  BOOST_TEST(fake.stops.empty());
  BOOST_TEST(health("vigil-web-jobs.service") == "unknown");
  // The state and the metrics say so too.
  const auto state = nlohmann::json::parse(daemon->stateJson());
  bool seen = false;
  for (const auto& v : state["workers"])
    if (v["unit"] == "vigil-web-api.service") {
      seen = true;
      BOOST_TEST(v["health"] == "healthy");
      BOOST_TEST(v["health_check"] == fmt::format("tcp 127.0.0.1:{} every 1s", port));
    }
  BOOST_TEST(seen);
  const std::string text = daemon->metricsText();
  BOOST_TEST(text.find("vigil_worker_healthy{tree=\"web\",supervisor=\"web\",worker=\"web/api\"") !=
                 std::string::npos,
             text);
  bool unhealthy_event = false;
  for (const auto& e : state["events"])
    unhealthy_event =
        unhealthy_event || (e["type"] == "worker-health" && e["reason"] == "unhealthy");
  BOOST_TEST(unhealthy_event);
  close(fd);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(daemon_persistence, DaemonFixture)

// Persistence (daemon/SupervisionStore): a second vigild, with the same state directory and
// the units the first left, keeps a worker in backoff waiting and an operator's stop; the
// first is destroyed without a shutdown, as by kill -9.
BOOST_AUTO_TEST_CASE(a_restarted_vigild_keeps_a_backoff_and_an_operator_stop) {
  using std::chrono::milliseconds;
  std::string config = kTwoWorkers;
  config.replace(config.find("initial: 20ms"), 13, "initial: 30s");
  config.replace(config.find("max: 1s"), 7, "max: 60s");
  state_dir = dir / "state";
  fs::create_directories(state_dir);
  startTwoWorkersUp(config);
  fake.unitExits("vigil-web-api.service", {"signal", 2, 9});
  core::Command stop;
  stop.kind = core::Command::Kind::Stop;
  stop.target = "web/jobs";
  stop.caller = "uid 0 (root)";
  BOOST_REQUIRE(daemon->command(stop).has_value());
  fake.finishStop();
  const fs::path file = state_dir / "supervision.json";
  BOOST_REQUIRE(runUntil(
      [&] {
        const std::string text = fs::exists(file) ? readFile(file) : "";
        return text.find("next_restart_realtime_usec") != std::string::npos &&
               text.find("\"stopped\": true") != std::string::npos;
      },
      milliseconds(3000)));
  const auto first = daemon->engine().worker("vigil-web-api.service", core::TimePoint(0));
  daemon.reset();  // no shutdown: killed

  test::FakeSystemdClient second;
  make(second);
  BOOST_REQUIRE(daemon->start());
  BOOST_REQUIRE(second.lists.size() == 1u);
  second.lists[0](std::vector<core::ExistingUnit>{});
  BOOST_TEST(second.log == std::vector<std::string>{"slice vigil-web.slice"});
  BOOST_TEST(daemon->ready());
  const auto& engine = daemon->engine();
  const auto api = engine.worker("vigil-web-api.service", core::TimePoint(0));
  BOOST_REQUIRE(api);
  BOOST_TEST((api->state == core::ChildState::Waiting));
  BOOST_TEST(api->restarts == 1u);
  BOOST_TEST(api->last_exit == "killed by SIGKILL");
  // The same deadline (both on CLOCK_MONOTONIC here; the file held it as wall-clock time).
  BOOST_REQUIRE(first && first->next_restart && api->next_restart);
  BOOST_TEST(std::abs((*api->next_restart - *first->next_restart).count()) < 5000);
  const auto jobs = engine.worker("vigil-web-jobs.service", core::TimePoint(0));
  BOOST_TEST((jobs->state == core::ChildState::Stopped));
  daemon.reset();
}

BOOST_AUTO_TEST_CASE(an_invalid_file_at_start_is_replaced_by_the_last_good_copy) {
  using std::chrono::milliseconds;
  std::vector<std::string> status;
  notifier = [&](const std::string& text) { status.push_back(text); };
  state_dir = dir / "state";
  fs::create_directories(state_dir);
  startTwoWorkersUp();
  BOOST_REQUIRE(runUntil([&] { return fs::exists(state_dir / "last-good.json"); }));
  daemon.reset();

  writeConfig(
      "tier: tier_2\ntrees:\n  web:\n    children:\n      - name: api\n        comand: [x]\n");
  test::FakeSystemdClient second;
  make(second);
  BOOST_REQUIRE(daemon->start());
  const std::string fallback = daemon->configFallback();
  BOOST_TEST(fallback.find((dir / "vigil.yaml").string() + " is invalid") != std::string::npos,
             fallback);
  BOOST_TEST(
      fallback.find("supervising with the last good configuration, saved") != std::string::npos,
      fallback);
  BOOST_TEST(daemon->info().config_fallback == fallback);
  BOOST_TEST(daemon->info().last_reload.result == "rejected");
  bool named = false;
  for (const auto& e : daemon->info().last_reload.errors)
    named = named || e.find("comand") != std::string::npos;
  BOOST_TEST(named);
  bool loud = false;
  for (const auto& s : status) loud = loud || s.find("STATUS=LAST GOOD CONFIGURATION") == 0;
  BOOST_TEST(loud);
  // The last good copy's workers are supervised (both running units adopted).
  second.lists[0](std::vector<core::ExistingUnit>{});
  BOOST_TEST(second.starts.size() == 1u);
  second.finishStart();
  second.finishStart();
  BOOST_TEST(daemon->ready());
  BOOST_TEST(daemon->metricsText().find("vigil_config_last_good_in_use 1") != std::string::npos);
  // A valid file, reloaded, ends the fallback.
  writeConfig(kTwoWorkers);
  BOOST_TEST(daemon->reload().has_value());
  BOOST_TEST(daemon->configFallback().empty());
  BOOST_TEST(daemon->info().config_fallback.empty());
  daemon.reset();
}

BOOST_AUTO_TEST_CASE(an_invalid_file_without_a_last_good_copy_fails_the_start) {
  state_dir = dir / "state";
  fs::create_directories(state_dir);
  writeConfig("trees: [");
  make();
  const auto started = daemon->start();
  BOOST_REQUIRE(!started);
  BOOST_TEST(daemon->configFallback().empty());
  BOOST_TEST(fake.lists.empty());
}

BOOST_AUTO_TEST_CASE(a_state_directory_that_cannot_be_written_is_reported_and_retried) {
  using std::chrono::milliseconds;
  state_dir = dir / "gone";  // does not exist: every write fails
  persist_retry = milliseconds(100);
  startTwoWorkersUp();
  BOOST_REQUIRE(runUntil([&] { return !daemon->info().state_error.empty(); }));
  BOOST_TEST(daemon->metricsText().find("vigil_state_write_failing 1") != std::string::npos);
  // Supervision goes on: a crash is still restarted.
  fake.unitExits("vigil-web-api.service", {"signal", 2, 9});
  BOOST_TEST(runUntil([&] { return !fake.starts.empty(); }));
  fs::create_directories(state_dir);
  BOOST_REQUIRE(runUntil([&] { return daemon->info().state_error.empty(); }));
  BOOST_TEST(fs::exists(state_dir / "supervision.json"));
  BOOST_TEST(fs::exists(state_dir / "last-good.json"));
}

BOOST_AUTO_TEST_SUITE_END()
