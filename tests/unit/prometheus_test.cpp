// status::writePrometheus: the exposition against a golden file
// (tests/fixtures/prometheus/exposition.prom; VIGIL_UPDATE_GOLDEN=1 rewrites it), checked by
// Prometheus' own linter (`promtool check metrics`, required when VIGIL_REQUIRE_PROMTOOL=1),
// label escaping, and what a worker without figures exports.

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <boost/test/unit_test.hpp>

#include "status/Prometheus.h"

namespace fs = std::filesystem;
using namespace vigil::status;

namespace {

CgroupView figures(std::uint64_t memory, std::uint64_t cpu_usec) {
  CgroupView c;
  c.sampled_realtime_usec = 1764806400000000;
  c.memory_current_bytes = memory;
  c.memory_anon_bytes = memory / 2;
  c.memory_file_bytes = memory / 4;
  c.memory_max_bytes = 256 << 20;
  c.memory_events_high = 0;
  c.memory_events_max = 3;
  c.oom_kills = 1;
  c.cpu_usage_usec = cpu_usec;
  c.cpu_nr_throttled = 17;
  c.cpu_throttled_usec = 1250000;
  c.cpu_usec_per_sec = 200000;
  c.tasks_current = 4;
  c.tasks_max = 4096;
  c.io_read_bytes = 1 << 20;
  c.io_write_bytes = 4096;
  c.io_read_ios = 12;
  c.io_write_ios = 1;
  c.pressure.cpu_some_usec = 1500;
  c.pressure.memory_some_usec = 0;
  c.pressure.memory_full_usec = 0;
  c.pressure.io_some_usec = 250000;
  c.pressure.io_full_usec = 125000;
  return c;
}

struct Fixture {
  VigildView vigild;
  std::vector<SupervisorView> supervisors;
  std::vector<WorkerView> workers;
  SamplerView sampler;

  Fixture() {
    vigild.version = "0.9.0";
    vigild.last_reload.result = "applied";
    HostView host;
    host.cpus = 2;
    host.cpu_user_usec = 120'000'000;
    host.cpu_system_usec = 30'500'000;
    host.cpu_idle_usec = 900'000'000;
    host.cpu_iowait_usec = 1'000'000;
    host.memory_total_bytes = 4ULL << 30;
    host.memory_available_bytes = 3ULL << 30;
    host.pressure.memory_some_usec = 250'000;
    host.pressure.memory_full_usec = 100'000;
    vigild.host = host;
    SupervisorView web;
    web.path = "web";
    web.tree = "web";
    web.state = "running";
    web.slice = "vigil-web.slice";
    web.restarts_in_window = 1;
    web.max_restarts = 3;
    web.cgroup_stats = figures(300 << 20, 9000000);
    web.cgroup_stats->memory_max_bytes.reset();
    web.cgroup_stats->tasks_max.reset();
    supervisors.push_back(web);

    WorkerView api;
    api.path = "web/api@2";
    api.tree = "web";
    api.supervisor = "web";
    api.unit = "vigil-web-api@2.service";
    api.instance = 2;
    api.state = "running";
    api.restarts = 4;
    api.consecutive_failures = 0;
    api.cgroup_stats = figures(100 << 20, 2500000);
    api.health = "unhealthy";  // checked: vigil_worker_healthy 0 and its health state
    api.health_check = "http GET http://127.0.0.1:8080/healthz every 10s";
    api.health_detail = "http: http 503";
    workers.push_back(api);

    WorkerView db;  // in backoff: no figures, only its state
    db.path = "web/db";
    db.tree = "web";
    db.supervisor = "web";
    db.unit = "vigil-web-db.service";
    db.state = "backoff";
    db.restarts = 7;
    db.consecutive_failures = 2;
    workers.push_back(db);

    sampler.sweeps = 42;
    sampler.cgroups = 3;
    sampler.interval_usec = 1000000;
    sampler.last_sweep_usec = 1500;
    sampler.longest_batch_usec = 800;
    sampler.last_sweep_longest_batch_usec = 600;
    sampler.last_sweep_longest_batch_cpu_usec = 450;
  }

  std::string text() const {
    std::string out;
    writePrometheus(vigild, supervisors, workers, sampler, out);
    writeScrapeDuration(0.00125, out);
    return out;
  }
};

std::string golden(const std::string& name, const std::string& actual) {
  const fs::path path = fs::path(VIGIL_FIXTURES_DIR) / "prometheus" / name;
  if (std::getenv("VIGIL_UPDATE_GOLDEN")) std::ofstream(path) << actual;
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool onPath(const char* tool) {
  const std::string cmd = std::string("command -v ") + tool + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

// `promtool check metrics` on `text`: its exit status and what it printed.
std::pair<int, std::string> promtool(const std::string& text) {
  const fs::path dir = fs::temp_directory_path() / ("vigil-prom-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "in.prom") << text;
  const std::string cmd = "promtool check metrics < " + (dir / "in.prom").string() + " > " +
                          (dir / "out.txt").string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  std::ifstream in(dir / "out.txt");
  std::stringstream ss;
  ss << in.rdbuf();
  fs::remove_all(dir);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ss.str()};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(prometheus)

BOOST_AUTO_TEST_CASE(exposition_matches_the_golden_file) {
  const std::string out = Fixture().text();
  BOOST_TEST(out == golden("exposition.prom", out));
}

BOOST_AUTO_TEST_CASE(promtool_finds_no_problem) {
  if (!onPath("promtool")) {
    const char* require = std::getenv("VIGIL_REQUIRE_PROMTOOL");
    BOOST_TEST_REQUIRE(!(require && *require == '1'),
                       "VIGIL_REQUIRE_PROMTOOL=1 but promtool is not on PATH");
    BOOST_TEST_MESSAGE("promtool not installed: skipped");
    return;
  }
  const auto [status, output] = promtool(Fixture().text());
  BOOST_TEST(status == 0, output);
  BOOST_TEST(output.empty(), output);
  // The linter does find problems: a counter without _total is one (so this test can fail).
  const auto [bad_status, bad_output] =
      promtool("# HELP x_bytes a counter\n# TYPE x_bytes counter\nx_bytes 1\n");
  BOOST_TEST(bad_status != 0);
  BOOST_TEST(bad_output.find("_total") != std::string::npos, bad_output);
}

BOOST_AUTO_TEST_CASE(families_are_contiguous_and_described_once) {
  const std::string out = Fixture().text();
  std::istringstream in(out);
  std::string line;
  std::vector<std::string> seen;
  std::string current;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      current = line.substr(7, line.find(' ', 7) - 7);
      BOOST_TEST((std::find(seen.begin(), seen.end(), current) == seen.end()), current);
      seen.push_back(current);
    } else if (!line.empty() && line[0] != '#') {
      // Every sample belongs to the family described last.
      BOOST_TEST(line.rfind(current, 0) == 0u, line);
    }
  }
  BOOST_TEST(seen.size() > 30u);
}

BOOST_AUTO_TEST_CASE(label_values_are_escaped) {
  Fixture f;
  f.workers[0].tree = "we\"b\\x\ny";
  const std::string out = f.text();
  BOOST_TEST(out.find("tree=\"we\\\"b\\\\x\\ny\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_worker_without_figures_exports_only_its_state) {
  const std::string out = Fixture().text();
  BOOST_TEST(out.find("vigil_worker_up{tree=\"web\",supervisor=\"web\",worker=\"web/db\","
                      "worker_instance=\"\",unit=\"vigil-web-db.service\"} 0") !=
             std::string::npos);
  BOOST_TEST(
      out.find("vigil_worker_memory_bytes{tree=\"web\",supervisor=\"web\",worker=\"web/db\"") ==
      std::string::npos);
  BOOST_TEST(
      out.find("vigil_worker_memory_bytes{tree=\"web\",supervisor=\"web\",worker=\"web/api\","
               "worker_instance=\"2\",unit=\"vigil-web-api@2.service\"} 104857600") !=
      std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
