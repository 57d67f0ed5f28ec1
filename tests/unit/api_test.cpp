// vigild's D-Bus API against a private dbus-daemon: the object, its methods and signals,
// the a{sv} encoding (through vigilctl too), the errors, and the access check on real
// sender credentials: an unprivileged caller may read but gets AccessDenied (exit 5 from
// vigilctl) for a change, and a member of the manage group may change. The backend here
// is a small recording one: what is under test is the API layer; vigild's own backend is
// exercised by the VM tests on the real system bus.

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "api/ApiClient.h"
#include "api/ApiServer.h"
#include "api/Names.h"
#include "status/StatusJson.h"
#include "support/PrivateDbusDaemon.h"
#include "systemd/Bus.h"
#include "systemd/BusImpl.h"

using namespace vigil;

namespace {

constexpr gid_t kManageGid = 4242;
constexpr uid_t kNobody = 65534;

status::StatusSnapshot sampleSnapshot() {
  status::StatusSnapshot s;
  s.taken_realtime_usec = 1'700'000'000'000'000;
  s.vigild.version = "9.9.9";
  s.vigild.pid = 77;
  s.vigild.config = "/etc/vigil/vigil.yaml";
  s.vigild.tier = "tier_3";
  s.vigild.ready = true;
  s.vigild.config_generation = 3;
  s.vigild.last_reload.result = "rejected";
  s.vigild.last_reload.errors = {"vigil.yaml:3:5: trees.t: bad"};
  status::SupervisorView sup;
  sup.path = "t";
  sup.tree = "t";
  sup.state = "running";
  sup.strategy = "one_for_one";
  sup.slice = "vigil-t.slice";
  sup.max_restarts = 5;
  sup.period_usec = 60'000'000;
  sup.memory_max_bytes = 1u << 30;
  status::CgroupView slice;
  slice.memory_current_bytes = 300u << 20;
  slice.cpu_usec_per_sec = 1'500'000;
  sup.cgroup_stats = slice;
  s.supervisors.push_back(sup);
  status::WorkerView w;
  w.path = "t/w@2";
  w.tree = "t";
  w.supervisor = "t";
  w.unit = "vigil-t-w@2.service";
  w.instance = 2;
  w.state = "backoff";
  w.restarts = 4;
  w.restart_in_usec = 1'500'000;
  w.memory_max_bytes = 512u << 20;
  status::ExitView e;
  e.at_realtime_usec = 1'699'999'999'000'000;
  e.description = "killed by SIGKILL";
  e.reason = "signal";
  e.code = "killed";
  e.status = 9;
  e.decision = "restart in 1.5s";
  w.exits = {e, e};
  w.last_exit = e;
  status::CgroupView c;
  c.sampled_realtime_usec = 1'700'000'000'000'000;
  c.memory_current_bytes = 100u << 20;
  c.memory_max_bytes = 512u << 20;
  c.cpu_throttled_usec = 42;
  c.pressure.io_full_usec = 7;
  c.pressure.memory_some_avg10_centipercent = 1234;
  w.cgroup_stats = c;
  s.workers.push_back(w);
  return s;
}

// A backend that records what it is asked and answers from fixed data. Runs on the
// server thread only.
class RecordingBackend : public api::Backend {
 public:
  status::VigildView info() override { return sampleSnapshot().vigild; }
  void status(const std::string& target, SnapshotDone done) override {
    if (!target.empty() && target != "t" && target != "t/w" && target != "t/w@2") {
      done(tl::unexpected(core::CommandError{core::kErrorUnknownTarget,
                                             "unknown target '" + target + "'; nearest: t/w"}));
      return;
    }
    auto snap = sampleSnapshot();
    // One instance's probe printed bytes that are not UTF-8, and a NUL: text from outside
    // vigil, which a D-Bus string may not carry as it is.
    if (target == "t/w@2")
      snap.workers[0].health_detail = std::string("exit 1: \xff\xfe<b>\0x", 15);
    done(std::make_shared<const status::StatusSnapshot>(std::move(snap)));
  }
  std::vector<status::EventView> recentEvents(std::size_t) override {
    status::EventView e;
    e.type = "worker-exited";
    e.worker = "t/w@2";
    e.message = "killed by SIGKILL";
    return {e};
  }
  std::vector<std::string> targets() override { return {"t", "t/w", "t/w@1", "t/w@2"}; }
  tl::expected<std::vector<status::HistoryView>, core::CommandError> history(
      const std::string& target, core::Usec range, std::uint32_t points) override {
    if (target != "t/w@2")
      return tl::unexpected(
          core::CommandError{core::kErrorUnknownTarget, "unknown target '" + target + "'"});
    status::HistoryView v;
    v.path = target;
    v.kind = "worker";
    v.unit = "vigil-t-w@2.service";
    v.interval_usec = 1'000'000;
    v.range_usec = range.count();
    v.samples = 2;
    v.slots = 3;
    status::HistoryMetricView m;
    m.name = "memory";
    m.unit = "bytes";
    m.min = 1024;
    m.avg = 1536;
    m.max = 2048;
    m.series.assign(points, status::HistoryMetricView::kNoSample);
    if (points > 0) m.series[0] = 1024;
    v.metrics.push_back(m);
    return std::vector<status::HistoryView>{v};
  }
  tl::expected<core::CommandAccepted, core::CommandError> command(const core::Command& c) override {
    {
      std::lock_guard<std::mutex> lock(mutex);
      commands.push_back(c);
    }
    if (c.target != "t/w") {
      return tl::unexpected(
          core::CommandError{core::kErrorUnknownTarget, "unknown target '" + c.target + "'"});
    }
    const std::uint64_t op = next++;
    // The end of the operation before the reply to the call: the client must cope.
    if (listener) {
      status::EventView e;
      e.type = "operator-command";
      e.worker = "t/w";
      e.caller = c.caller;
      e.message = "stop requested by " + c.caller;
      listener->eventPublished(e);
      listener->operationFinished(core::Completion{op, true, "t/w is stopped"});
    }
    return core::CommandAccepted{op, "stop of t/w requested"};
  }
  tl::expected<api::ReloadAnswer, core::CommandError> reload(bool dry_run,
                                                             const std::string&) override {
    api::ReloadAnswer a;
    a.applied = !dry_run;
    a.plan = {"replace  t/w@1  (command changed)", "unchanged: 1 worker(s), 1 supervisor(s)"};
    a.generation = 4;
    return a;
  }
  void setListener(api::Listener* l) override { listener = l; }

  std::vector<core::Command> seen() {
    std::lock_guard<std::mutex> lock(mutex);
    return commands;
  }

  api::Listener* listener = nullptr;
  std::mutex mutex;
  std::vector<core::Command> commands;
  std::uint64_t next = 1;
};

// A private dbus-daemon that lets everyone connect, and vigild's API served on it from a
// thread with its own sd-event loop.
struct PrivateBus {
  test::PrivateDbusDaemon daemon{"vigil-api-test"};
  std::filesystem::path dir;
  std::string address;
  RecordingBackend backend;
  std::thread server;
  int stop_fd = -1;
  std::atomic<bool> serving{false};
  bool skewed = false;

  // skewed: serve a vigild of another version, whose GetStatus has other field types.
  explicit PrivateBus(bool skewed_server = false) : skewed(skewed_server) {
    dir = daemon.dir();
    address = daemon.address();
    stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    server = std::thread([this] { serve(); });
    for (int i = 0; i < 500 && !serving; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    BOOST_TEST_REQUIRE(serving.load(), "the API server did not come up");
    // Until the name is owned, calls fail with ServiceUnknown.
    for (int i = 0; i < 500; ++i) {
      auto c = api::ApiClient::connect("", address);
      if (c) {
        auto info = (*c)->info();
        if (info || info.error().name().find("ServiceUnknown") == std::string::npos) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  void serve() {
    sd_event* event = nullptr;
    sd_event_new(&event);
    sd_event_add_io(
        event, nullptr, stop_fd, EPOLLIN,
        [](sd_event_source* s, int, uint32_t, void*) -> int {
          return sd_event_exit(sd_event_source_get_event(s), 0);
        },
        nullptr);
    {
      auto bus = systemd::Bus::address(address, event, "api-test");
      if (!bus) {
        sd_event_unref(event);
        return;
      }
      if (skewed) {
        serveSkewed(**bus, event);
        sd_event_unref(event);
        return;
      }
      api::AccessPolicy policy;
      policy.manage_gid = kManageGid;
      auto srv = api::ApiServer::create(**bus, backend, policy);
      if (!srv) {
        sd_event_unref(event);
        return;
      }
      (*srv)->requestName();
      serving = true;
      sd_event_loop(event);
      srv->reset();
    }
    sd_event_unref(event);
  }

  static int skewedStatus(sd_bus_message* m, void*, sd_bus_error*) {
    sd_bus_message* reply = nullptr;
    sd_bus_message_new_method_return(m, &reply);
    // "version" as a number: not what this vigilctl reads.
    sd_bus_message_append(reply, "a{sv}", 1, "version", "u", 7);
    sd_bus_message_append(reply, "aa{sv}", 0);
    sd_bus_message_append(reply, "aa{sv}", 0);
    sd_bus_message_append(reply, "x", INT64_C(0));
    int r = sd_bus_send(nullptr, reply, nullptr);
    sd_bus_message_unref(reply);
    return r;
  }
  void serveSkewed(systemd::Bus& bus, sd_event* event) {
    static const sd_bus_vtable vtable[] = {SD_BUS_VTABLE_START(0),
                                           SD_BUS_METHOD("GetStatus", "s", "a{sv}aa{sv}aa{sv}x",
                                                         skewedStatus, SD_BUS_VTABLE_UNPRIVILEGED),
                                           SD_BUS_VTABLE_END};
    sd_bus* raw = bus.impl().raw();
    sd_bus_add_object_vtable(raw, nullptr, api::kObjectPath, api::kManagerInterface, vtable,
                             nullptr);
    sd_bus_request_name(raw, api::kBusName, 0);
    serving = true;
    sd_event_loop(event);
  }

  ~PrivateBus() {
    if (stop_fd >= 0) {
      const std::uint64_t one = 1;
      (void)!write(stop_fd, &one, sizeof one);
    }
    if (server.joinable()) server.join();
  }

  std::unique_ptr<api::ApiClient> client() {
    auto c = api::ApiClient::connect("", address);
    BOOST_TEST_REQUIRE(c.has_value(), (c ? "" : c.error().message()));
    return std::move(*c);
  }
};

struct Run {
  int code = -1;
  std::string out, err;
};

// Runs vigilctl against the private bus, optionally as another user and groups.
Run vigilctl(const PrivateBus& bus,
             std::vector<std::string> args,
             std::optional<uid_t> uid = std::nullopt,
             std::vector<gid_t> groups = {}) {
  const auto out_path = bus.dir / "out", err_path = bus.dir / "err";
  const pid_t pid = fork();
  if (pid == 0) {
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(err, 2);
    if (uid) {
      if (setgroups(groups.size(), groups.data()) != 0 || setgid(kNobody) != 0 || setuid(*uid) != 0)
        _exit(126);
    }
    setenv("VIGIL_BUS_ADDRESS", bus.address.c_str(), 1);
    setenv("NO_COLOR", "1", 1);
    std::vector<char*> argv;
    std::string bin = VIGILCTL_BINARY;
    argv.push_back(bin.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  Run r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream o(out_path), e(err_path);
  r.out.assign(std::istreambuf_iterator<char>(o), {});
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(api)

BOOST_AUTO_TEST_CASE(status_round_trips_through_a_sv_dictionaries) {
  PrivateBus bus;
  auto c = bus.client();
  auto snap = c->status("");
  BOOST_TEST_REQUIRE(snap.has_value(), (snap ? "" : snap.error().message()));
  const auto want = sampleSnapshot();
  BOOST_TEST(status::toJson(*snap).dump() == status::toJson(want).dump());
  // Absent optionals stay absent, nested lists arrive whole.
  BOOST_TEST(!snap->workers[0].main_pid);
  BOOST_TEST(!snap->workers[0].uptime_usec.has_value());
  BOOST_TEST(snap->workers[0].exits.size() == 2u);
  BOOST_TEST(snap->vigild.last_reload.errors.size() == 1u);
  // A nested view with optional figures: present ones arrive, absent ones stay absent.
  BOOST_TEST_REQUIRE(snap->workers[0].cgroup_stats.has_value());
  BOOST_TEST(*snap->workers[0].cgroup_stats->pressure.memory_some_avg10_centipercent == 1234u);
  BOOST_TEST(!snap->workers[0].cgroup_stats->tasks_max.has_value());
  BOOST_TEST(*snap->supervisors[0].cgroup_stats->cpu_usec_per_sec == 1'500'000u);
}

// sd-bus refuses a string that is not valid UTF-8 or holds a NUL (-EINVAL): before the
// codec replaced such bytes, one probe's output made every GetStatus fail.
BOOST_AUTO_TEST_CASE(text_that_is_not_utf8_arrives_with_replacement_characters) {
  PrivateBus bus;
  auto c = bus.client();
  auto snap = c->status("t/w@2");
  BOOST_TEST_REQUIRE(snap.has_value(), (snap ? "" : snap.error().message()));
  BOOST_TEST(snap->workers[0].health_detail == "exit 1: \xEF\xBF\xBD\xEF\xBF\xBD<b>\xEF\xBF\xBDx");
  const Run run = vigilctl(bus, {"status", "t/w@2", "--json"});
  BOOST_TEST(run.code == 0, run.err);
}

BOOST_AUTO_TEST_CASE(history_round_trips_with_its_series) {
  PrivateBus bus;
  auto c = bus.client();
  auto h = c->history("t/w@2", 300'000'000, 3);
  BOOST_TEST_REQUIRE(h.has_value(), (h ? "" : h.error().message()));
  BOOST_TEST_REQUIRE(h->size() == 1u);
  BOOST_TEST((*h)[0].range_usec == 300'000'000);
  BOOST_TEST_REQUIRE((*h)[0].metrics.size() == 1u);
  const auto& m = (*h)[0].metrics[0];
  BOOST_TEST(m.max == 2048u);
  BOOST_TEST(m.series == (std::vector<std::uint64_t>{1024, status::HistoryMetricView::kNoSample,
                                                     status::HistoryMetricView::kNoSample}),
             boost::test_tools::per_element());
  // A range of 0 is refused by the server before the backend sees it.
  auto zero = c->history("t/w@2", 0, 3);
  BOOST_REQUIRE(!zero);
  BOOST_TEST(zero.error().message().find("range_usec must be a positive duration") !=
             std::string::npos);
  auto unknown = c->history("nope", 1'000'000, 3);
  BOOST_REQUIRE(!unknown);
}

BOOST_AUTO_TEST_CASE(vigilctl_status_json_is_the_documented_document) {
  PrivateBus bus;
  const Run r = vigilctl(bus, {"status", "--json"});
  BOOST_TEST_REQUIRE(r.code == 0, r.err);
  const auto doc = nlohmann::json::parse(r.out);
  BOOST_TEST(doc["schema"] == 1);
  BOOST_TEST(doc["vigild"]["version"] == "9.9.9");
  BOOST_TEST(doc["vigild"]["last_reload"]["result"] == "rejected");
  BOOST_TEST(doc["supervisors"][0]["path"] == "t");
  BOOST_TEST(doc["supervisors"][0]["period_usec"] == 60'000'000);
  BOOST_TEST(doc["workers"][0]["path"] == "t/w@2");
  BOOST_TEST(doc["workers"][0]["last_exit"]["code"] == "killed");
  BOOST_TEST(doc["workers"][0]["memory_max_bytes"] == 512u << 20);
  BOOST_TEST(doc["workers"][0]["tasks_max"].is_null());
  BOOST_TEST(doc["workers"][0]["memory_current_bytes"].is_null());
}

BOOST_AUTO_TEST_CASE(a_command_answers_at_once_and_its_end_comes_as_a_signal) {
  PrivateBus bus;
  auto c = bus.client();
  BOOST_TEST_REQUIRE(c->watchOperations().has_value());
  auto a = c->stop("t/w");
  BOOST_TEST_REQUIRE(a.has_value(), (a ? "" : a.error().message()));
  BOOST_TEST(a->message == "stop of t/w requested");
  auto done = c->wait(a->operation, 10'000'000);
  BOOST_TEST_REQUIRE(done.has_value(), (done ? "" : done.error().message()));
  BOOST_TEST(done->ok);
  BOOST_TEST(done->message == "t/w is stopped");
  const auto seen = bus.backend.seen();
  BOOST_TEST_REQUIRE(seen.size() == 1u);
  BOOST_TEST((seen[0].kind == core::Command::Kind::Stop));
  BOOST_TEST(seen[0].caller == "uid " + std::to_string(geteuid()));
}

BOOST_AUTO_TEST_CASE(bad_calls_get_precise_errors_and_change_nothing) {
  PrivateBus bus;
  auto c = bus.client();
  auto unknown = c->stop("t/nope");
  BOOST_TEST_REQUIRE(!unknown.has_value());
  BOOST_TEST(unknown.error().name() == core::kErrorUnknownTarget);
  // A bad limit is refused by the API before the backend sees anything.
  const auto before = bus.backend.seen().size();
  auto bad = c->setLimits("t/w", {{"memory_max", "lots"}});
  BOOST_TEST_REQUIRE(!bad.has_value());
  BOOST_TEST(bad.error().name() == core::kErrorInvalidArgument);
  BOOST_TEST(bad.error().message() ==
             "memory_max: expected a size like 512M, or infinity, found 'lots'");
  auto key = c->setLimits("t/w", {{"nofile", "10"}});
  BOOST_TEST_REQUIRE(!key.has_value());
  BOOST_TEST(key.error().name() == core::kErrorInvalidArgument);
  BOOST_TEST(bus.backend.seen().size() == before);
  // 10,000 settings, every key unknown: one error naming the first, nothing passed on.
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 10000; ++i) many.emplace_back("key" + std::to_string(i), "1");
  auto flood = c->setLimits("t/w", many);
  BOOST_TEST_REQUIRE(!flood.has_value());
  BOOST_TEST(flood.error().name() == core::kErrorInvalidArgument);
  BOOST_TEST(flood.error().message().starts_with("key0: "), flood.error().message());
  BOOST_TEST(flood.error().message().size() < 400u);
  BOOST_TEST(bus.backend.seen().size() == before);
  // vigilctl: unknown target is exit 4, a usage error exit 2 (before any call).
  BOOST_TEST(vigilctl(bus, {"stop", "t/nope"}).code == 4);
  BOOST_TEST(vigilctl(bus, {"scale", "t/w", "-1"}).code == 2);
  BOOST_TEST(vigilctl(bus, {"set", "t/w", "memory_max=lots"}).code == 2);
  BOOST_TEST(vigilctl(bus, {"kill", "-s", "SIGBOGUS", "t/w"}).code == 2);
  BOOST_TEST(bus.backend.seen().size() == before + 1);  // only the stop of t/nope arrived
}

BOOST_AUTO_TEST_CASE(an_unprivileged_caller_may_read_but_not_change) {
  PrivateBus bus;
  if (geteuid() != 0) {
    // Not root: this test's own uid is unprivileged (and not in the manage group).
    const Run r = vigilctl(bus, {"stop", "t/w"});
    BOOST_TEST(r.code == 5, r.err);
    BOOST_TEST(bus.backend.seen().empty());
    return;
  }
  const Run read = vigilctl(bus, {"status"}, kNobody);
  BOOST_TEST(read.code == 0, read.err);
  BOOST_TEST(read.out.find("t/w@2") == std::string::npos);  // the tree shows leaf names
  BOOST_TEST(read.out.find("w@2") != std::string::npos);
  const Run denied = vigilctl(bus, {"stop", "t/w"}, kNobody);
  BOOST_TEST(denied.code == 5, denied.out << denied.err);
  BOOST_TEST(denied.err ==
             "vigilctl: uid 65534 may not change vigil: only root and members of group "
             "'vigil' may\n");
  const Run reload = vigilctl(bus, {"reload"}, kNobody);
  BOOST_TEST(reload.code == 5);
  BOOST_TEST(bus.backend.seen().empty());
  // A dry run changes nothing and is open to everyone.
  const Run dry = vigilctl(bus, {"reload", "--dry-run"}, kNobody);
  BOOST_TEST(dry.code == 0, dry.err);
  BOOST_TEST(dry.out.find("replace  t/w@1  (command changed)") != std::string::npos);
  // A member of the manage group may.
  const Run member = vigilctl(bus, {"stop", "t/w"}, kNobody, {kManageGid});
  BOOST_TEST(member.code == 0, member.err);
  BOOST_TEST(member.out == "t/w is stopped\n");
  const auto seen = bus.backend.seen();
  BOOST_TEST_REQUIRE(seen.size() == 1u);
  BOOST_TEST(seen[0].caller == "uid 65534");
}

BOOST_AUTO_TEST_CASE(a_reply_of_another_shape_is_one_error_line_not_an_abort) {
  PrivateBus bus(/*skewed_server=*/true);
  const Run r = vigilctl(bus, {"status"});
  BOOST_TEST(r.code == 1, r.out << r.err);
  BOOST_TEST(r.err ==
             "vigilctl: vigild's answer to GetStatus is not what this vigilctl expects (field "
             "'version' has type u, expected s); are vigild and vigilctl the same version?\n");
  // A method this vigild does not have: unreachable in the sense of the API (exit 3).
  const Run missing = vigilctl(bus, {"reload", "--dry-run"});
  BOOST_TEST(missing.code == 3, missing.err);
  BOOST_TEST(missing.err.find("is it an older version?") != std::string::npos, missing.err);
}

BOOST_AUTO_TEST_CASE(the_interface_is_introspectable) {
  PrivateBus bus;
  const std::string cmd =
      "busctl --address=" + bus.address + " introspect org.vigil.Vigil1 /org/vigil/Vigil1 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  BOOST_TEST_REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  pclose(p);
  for (const char* needle : {"org.vigil.Vigil1.Manager", ".GetStatus", ".RestartRolling",
                             ".SetLimits", ".OperationFinished", ".Event", "a(ss)"})
    BOOST_TEST(out.find(needle) != std::string::npos, needle << " not in:\n" << out);
}

// The shipped introspection XML (/usr/share/dbus-1/interfaces) describes the object as it
// is: the same members with the same argument types, names and directions.
BOOST_AUTO_TEST_CASE(the_shipped_interface_file_matches_the_object) {
  PrivateBus bus;
  const std::string cmd = "busctl --address=" + bus.address +
                          " --xml-interface introspect org.vigil.Vigil1 /org/vigil/Vigil1 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  BOOST_TEST_REQUIRE(p != nullptr);
  std::string live;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) live.append(buf, n);
  pclose(p);
  std::ifstream in(std::string(VIGIL_SOURCE_DIR) + "/dbus/org.vigil.Vigil1.Manager.xml");
  const std::string shipped((std::istreambuf_iterator<char>(in)), {});
  // Every <method>, <signal> and <arg> line of our interface, in order, without spacing.
  const auto members = [](const std::string& xml) {
    std::vector<std::string> out;
    const auto start = xml.find("<interface name=\"org.vigil.Vigil1.Manager\">");
    const auto end = xml.find("</interface>", start);
    if (start == std::string::npos || end == std::string::npos) return out;
    std::istringstream lines(xml.substr(start, end - start));
    for (std::string line; std::getline(lines, line);) {
      line.erase(0, line.find_first_not_of(' '));
      if (line.starts_with("<method") || line.starts_with("<signal") || line.starts_with("<arg"))
        out.push_back(line);
    }
    return out;
  };
  const auto a = members(live), b = members(shipped);
  BOOST_TEST_REQUIRE(!a.empty(), live);
  BOOST_TEST(a == b, "live:\n" << live);
}

BOOST_AUTO_TEST_SUITE_END()
