// vigilctl's text views against golden files (tests/fixtures/render/): the forest as a
// tree in start order with every column, the ASCII fallback, a rejected reload, the
// detailed view of one worker, and event lines. VIGIL_UPDATE_GOLDEN=1 rewrites the files
// (review the diff before committing).

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/test/unit_test.hpp>

#include "ctl/Format.h"
#include "ctl/Render.h"
#include "ctl/Top.h"

using namespace vigil;

namespace {

constexpr std::int64_t kNow = 1'764'504'000'000'000;  // 2025-11-30 12:00:00 UTC

status::StatusSnapshot forest() {
  status::StatusSnapshot s;
  s.taken_realtime_usec = kNow;
  auto& v = s.vigild;
  v.version = "0.1.0";
  v.pid = 412;
  v.config = "/etc/vigil/vigil.yaml";
  v.tier = "tier_3";
  v.ready = true;
  v.config_generation = 3;
  v.last_reload.result = "applied";
  v.workers_running = 5;
  v.workers_backoff = 1;
  v.workers_other = 2;
  v.trees_failed = 1;
  const auto sup = [&](std::string path, std::uint32_t pos, std::string state,
                       std::string strategy) {
    status::SupervisorView x;
    x.path = path;
    x.tree = path.substr(0, path.find('/'));
    x.position = pos;
    x.state = state;
    x.strategy = strategy;
    x.slice = "vigil-" + path + ".slice";
    x.restarts_in_window = 1;
    x.max_restarts = 5;
    x.period_usec = 60'000'000;
    s.supervisors.push_back(x);
  };
  sup("web", 0, "running", "one_for_one");
  sup("web/backend", 2, "running", "rest_for_one");
  sup("batch", 0, "failed", "one_for_all");
  s.supervisors.back().failure = "3 restarts within 1min exceed intensity 2";
  const auto worker = [&](std::string sup_path, std::string name, std::uint32_t pos,
                          std::uint32_t instance, std::string state) -> status::WorkerView& {
    status::WorkerView w;
    w.supervisor = sup_path;
    w.tree = sup_path.substr(0, sup_path.find('/'));
    w.path = sup_path + "/" + name + (instance ? "@" + std::to_string(instance) : "");
    w.unit = "vigil-" + w.path + ".service";
    std::replace(w.unit.begin(), w.unit.end(), '/', '-');
    w.instance = instance;
    w.position = pos;
    w.state = state;
    s.workers.push_back(w);
    return s.workers.back();
  };
  {
    auto& w = worker("web", "api", 1, 1, "running");
    w.main_pid = 1234;
    w.uptime_usec = 3 * 3600'000'000LL + 2 * 60'000'000LL + 5'000'000;
    w.memory_current_bytes = 24'536'678;
    w.memory_max_bytes = 512u << 20;
    w.cpu_usage_usec = 1'250'000;
    w.tasks_current = 3;
    w.tasks_max = 100;
    status::CgroupView c;
    c.memory_current_bytes = 24'536'678;
    c.cpu_usage_usec = 1'250'000;
    c.cpu_usec_per_sec = 123'456;  // 12.3 % of a core
    c.cpu_nr_throttled = 7;
    c.cpu_throttled_usec = 350'000;
    c.io_read_bytes = 1u << 20;
    c.io_write_bytes = 4096;
    c.pressure.cpu_some_avg10_centipercent = 12;
    c.pressure.memory_some_avg10_centipercent = 0;
    c.pressure.io_some_avg10_centipercent = 105;
    w.cgroup_stats = c;
    w.health = "healthy";
    w.health_check = "http GET http://127.0.0.1:8080/healthz every 10s";
    w.health_detail = "http: http 200";
    w.health_since_realtime_usec = kNow - 60'000'000;
  }
  {
    auto& w = worker("web", "api", 1, 2, "backoff");
    w.restarts = 3;
    w.restart_in_usec = 4'200'000;
    status::ExitView e;
    e.description = "killed by signal SIGKILL";
    w.last_exit = e;
  }
  {
    auto& w = worker("web", "api", 1, 3, "frozen");
    w.main_pid = 1240;
    w.uptime_usec = 45'000'000;
  }
  {
    auto& w = worker("web", "proxy", 0, 0, "running");
    w.main_pid = 1200;
    w.health = "unhealthy";
    w.health_check = "tcp 127.0.0.1:3128 every 5s";
    w.health_detail = "tcp: connect refused";
  }
  worker("web/backend", "db", 0, 0, "running").main_pid = 1300;
  worker("web/backend", "cache", 1, 0, "stopped");
  worker("batch", "job", 0, 0, "failed");
  return s;
}

std::string golden(const std::string& name, const std::string& actual) {
  const std::filesystem::path path = std::filesystem::path(VIGIL_FIXTURES_DIR) / "render" / name;
  if (std::getenv("VIGIL_UPDATE_GOLDEN")) std::ofstream(path) << actual;
  std::ifstream in(path);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

struct Utc {
  Utc() {
    setenv("TZ", "UTC", 1);
    tzset();
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(render, Utc)

BOOST_AUTO_TEST_CASE(the_forest_is_a_tree_in_start_order) {
  ctl::RenderOptions o;
  const std::string out = ctl::renderTree(forest(), o);
  BOOST_TEST(out == golden("tree.txt", out));
  // Start order within a supervisor: proxy (position 0) before the api instances.
  BOOST_TEST(out.find("proxy") < out.find("api@1"));
  BOOST_TEST(out.find("api@3") < out.find("backend"));
}

BOOST_AUTO_TEST_CASE(without_utf8_the_tree_is_ascii) {
  ctl::RenderOptions o;
  o.unicode = false;
  const std::string out = ctl::renderTree(forest(), o);
  BOOST_TEST(out == golden("tree-ascii.txt", out));
  for (unsigned char c : out) BOOST_TEST_REQUIRE(c < 0x80);
}

BOOST_AUTO_TEST_CASE(a_rejected_reload_is_shown_with_its_errors) {
  auto s = forest();
  s.vigild.last_reload.result = "rejected";
  s.vigild.last_reload.errors = {
      "/etc/vigil/vigil.yaml:7:22: trees.web.children[0].limits.memory_max: "
      "expected a size like 512M, found 'lots'"};
  const std::string out = ctl::renderTree(s, ctl::RenderOptions{});
  BOOST_TEST(out.find("the last reload was rejected; the previous configuration is in force:\n"
                      "  /etc/vigil/vigil.yaml:7:22:") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(colors_only_when_asked) {
  ctl::RenderOptions o;
  o.style.color = true;
  const std::string out = ctl::renderTree(forest(), o);
  BOOST_TEST(out.find("\033[32mrunning\033[0m") != std::string::npos);
  BOOST_TEST(ctl::renderTree(forest(), ctl::RenderOptions{}).find('\033') == std::string::npos);
}

BOOST_AUTO_TEST_CASE(one_worker_in_detail) {
  status::WorkerView w = forest().workers[0];
  w.active_state = "active";
  w.cgroup = "/vigil.slice/vigil-web.slice/vigil-web-api@1.service";
  w.restarts = 2;
  w.consecutive_failures = 0;
  w.cpu_quota_percent = 50;
  w.limits_set_live = true;
  for (int i = 0; i < 2; ++i) {
    status::ExitView e;
    e.at_realtime_usec = kNow - (3 - i) * 3600'000'000LL;
    e.description = i ? "exited with status 3" : "killed by the OOM killer (memory limit reached)";
    e.reason = i ? "exit-code" : "oom-kill";
    e.decision = i ? "restart in 2s (failure 2 in a row, 2 of 5 restarts allowed in 1min)"
                   : "restart in 1s (failure 1 in a row, 1 of 5 restarts allowed in 1min)";
    w.exits.push_back(e);
  }
  const auto sup = forest().supervisors[0];
  const std::string out =
      ctl::renderWorker(w, &sup, {"Nov 30 11:59:58 web/api@1[1234]: listening on :8080"},
                        "Output (last 10 lines):", ctl::RenderOptions{});
  BOOST_TEST(out == golden("worker.txt", out));
}

BOOST_AUTO_TEST_CASE(events_are_one_line_each) {
  status::EventView e;
  e.at_realtime_usec = kNow;
  e.type = "worker-stopping";
  e.worker = "web/api@2";
  e.message = "stopped by operator (uid 1000)";
  e.reason = "operator";
  BOOST_TEST(ctl::renderEvent(e, ctl::Style{}) ==
             "2025-11-30 12:00:00 worker-stopping      web/api@2: stopped by operator (uid 1000) "
             "(operator)");
}

BOOST_AUTO_TEST_CASE(numbers_for_humans) {
  BOOST_TEST(ctl::shortSpan(0) == "0");
  BOOST_TEST(ctl::shortSpan(250'000) == "250ms");
  BOOST_TEST(ctl::shortSpan(45'000'000) == "45s");
  BOOST_TEST(ctl::shortSpan(3'725'000'000) == "1h 2min");
  BOOST_TEST(ctl::shortSpan(3'605'000'000) == "1h");  // not "1h 5s": units must be adjacent
  BOOST_TEST(ctl::shortBytes(512) == "512B");
  BOOST_TEST(ctl::shortBytes(1536) == "1.5K");
  BOOST_TEST(ctl::shortBytes(512u << 20) == "512M");
  BOOST_TEST(ctl::cpuTime(1'250'000) == "1.2s");
  BOOST_TEST(ctl::cpuTime(182'000'000) == "3min 2s");
  BOOST_TEST(ctl::parseSignal("TERM").value_or(0) == 15);
  BOOST_TEST(ctl::parseSignal("sigkill").value_or(0) == 9);
  BOOST_TEST(ctl::parseSignal("9").value_or(0) == 9);
  BOOST_TEST(!ctl::parseSignal("0"));
  BOOST_TEST(!ctl::parseSignal("BOGUS"));
  BOOST_TEST(ctl::signalName(15) == "SIGTERM");
  BOOST_TEST(ctl::parseSince("-1h", kNow).value_or(0) == kNow - 3600'000'000LL);
  BOOST_TEST(ctl::parseSince("2025-11-30 11:00", kNow).value_or(0) == kNow - 3600'000'000LL);
  BOOST_TEST(ctl::parseSince("today", kNow).value_or(0) == kNow - 12 * 3600'000'000LL);
  BOOST_TEST(!ctl::parseSince("soon", kNow));
}

BOOST_AUTO_TEST_CASE(history_shows_min_avg_max_and_a_sparkline) {
  status::HistoryView h;
  h.path = "web/api@1";
  h.kind = "worker";
  h.unit = "vigil-web-api@1.service";
  h.interval_usec = 1'000'000;
  h.range_usec = 300'000'000;
  h.samples = 287;
  h.slots = 300;
  const auto metric = [](const char* name, const char* unit, std::uint64_t min, std::uint64_t avg,
                         std::uint64_t max, std::vector<std::uint64_t> series) {
    status::HistoryMetricView m;
    m.name = name;
    m.unit = unit;
    m.min = min;
    m.avg = avg;
    m.max = max;
    m.series = std::move(series);
    return m;
  };
  constexpr auto kGap = status::HistoryMetricView::kNoSample;
  h.metrics = {
      metric("cpu", "1/10000 core", 0, 1230, 4010, {0, 500, 1000, 2000, 4010, kGap, 1000, 0}),
      metric("memory", "bytes", 100u << 20, 102u << 20, 103u << 20,
             {100u << 20, 101u << 20, 102u << 20, 103u << 20, 103u << 20, kGap, 102u << 20,
              102u << 20}),
      metric("tasks", "tasks", 3, 3, 3, {3, 3, 3, 3, 3, kGap, 3, 3}),
      metric("io_read", "bytes/s", 0, 2048, 20480, {0, 0, 20480, 0, 0, kGap, 0, 0}),
      metric("io_write", "bytes/s", 0, 0, 0, {0, 0, 0, 0, 0, kGap, 0, 0}),
      metric("memory_pressure", "1/100 %", 0, 12, 105, {0, 0, 0, 105, 0, kGap, 0, 0})};
  status::HistoryView empty = h;
  empty.path = "web/api@2";
  empty.unit = "vigil-web-api@2.service";
  empty.samples = 0;
  ctl::RenderOptions o;
  o.unicode = true;
  const std::string out = ctl::renderHistory({h, empty}, o);
  BOOST_TEST(out == golden("history.txt", out));
  o.unicode = false;
  const std::string ascii = ctl::renderHistory({h}, o);
  // CPU 0, 500, 1000, 2000, 4010, gap, 1000, 0 over 8 levels from 0 to 4010.
  BOOST_TEST(ascii.find("  __.~# ._\n") != std::string::npos, ascii);
}

BOOST_AUTO_TEST_CASE(top_rows_follow_the_tree_and_sort_siblings) {
  status::StatusSnapshot now = forest();
  // api@1: 12.3 % CPU, 512 KiB/s read; proxy: more memory.
  const auto figures = [](std::uint64_t memory, std::uint64_t cpu_rate, std::uint64_t read_rate) {
    status::CgroupView c;
    c.sampled_realtime_usec = kNow;
    c.memory_current_bytes = memory;
    c.cpu_usec_per_sec = cpu_rate;
    c.tasks_current = 3;
    c.io_read_bytes_per_sec = read_rate;
    c.io_write_bytes_per_sec = 0;
    c.pressure.memory_some_avg10_centipercent = 25;
    return c;
  };
  for (auto& w : now.workers) {
    if (w.path == "web/api@1") w.cgroup_stats = figures(24u << 20, 123'000, 512u << 10);
    if (w.path == "web/proxy") w.cgroup_stats = figures(200u << 20, 5'000, 0);
  }
  now.supervisors[0].cgroup_stats = figures(300u << 20, 130'000, 0);
  now.workers[0].cgroup_stats->memory_max_bytes = 512u << 20;

  const auto tree = ctl::topRows(now, ctl::TopSort::Tree);
  std::string out = ctl::topHeader(now, ctl::TopSort::Tree) + "\n";
  for (const auto& l : ctl::topTable(tree, 0)) out += l + "\n";
  BOOST_TEST(out == golden("top.txt", out));
  const auto& api = *std::find_if(tree.begin(), tree.end(),
                                  [](const ctl::TopRow& r) { return r.path == "web/api@1"; });
  BOOST_TEST(*api.io_read_per_sec == 524288.0);
  BOOST_TEST(*api.cpu_percent == 12.3);

  // By memory: proxy (200M) before api@1 (24M) among web's children; the trees keep their
  // own order of depth.
  const auto by_memory = ctl::topRows(now, ctl::TopSort::Memory);
  std::vector<std::string> paths;
  for (const auto& r : by_memory) paths.push_back(r.path);
  const auto pos = [&](const std::string& p) {
    return std::find(paths.begin(), paths.end(), p) - paths.begin();
  };
  BOOST_TEST(pos("web/proxy") < pos("web/api@1"));
  BOOST_TEST(pos("web") < pos("web/proxy"));
  BOOST_TEST(pos("web/backend") < pos("web/backend/db"));
  BOOST_TEST(!by_memory[pos("web/api@2")].io_read_per_sec.has_value());  // not sampled
  // Cut to a terminal's width.
  for (const auto& l : ctl::topTable(tree, 40)) {
    std::size_t visible = 0;
    for (unsigned char c : l)
      if ((c & 0xC0) != 0x80) visible++;
    BOOST_TEST(visible <= 40u);
  }
}

BOOST_AUTO_TEST_SUITE_END()
