// health::Prober on a real sd-event loop, real sockets and real processes: http status,
// body and refused connections (against http::HttpServer), tcp connect, exec exit codes,
// timeouts that kill an exec probe's whole process group, the in-flight cap and cancel.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <systemd/sd-event.h>
#include <boost/test/unit_test.hpp>

#include "health/Prober.h"
#include "http/HttpServer.h"

using namespace vigil;
using namespace std::chrono_literals;
using core::HealthSpec;
using health::ProbeResult;

namespace {

// A TCP socket bound to 127.0.0.1 on a port the kernel chose; listening or not.
struct Socket {
  int fd = -1;
  std::uint16_t port = 0;
  explicit Socket(bool listening) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    if (listening) BOOST_REQUIRE(listen(fd, 16) == 0);
  }
  ~Socket() { close(fd); }
};

struct Loop {
  sd_event* event = nullptr;
  std::unique_ptr<health::Prober> prober;
  std::unique_ptr<http::HttpServer> server;
  unsigned status = 200;
  std::string body = "all ok\n";
  std::filesystem::path dir;

  Loop() {
    sd_event_new(&event);
    auto p = health::Prober::create(event);
    BOOST_REQUIRE_MESSAGE(p, (p ? "" : p.error().message()));
    prober = std::move(*p);
    auto s = http::HttpServer::start(event, config::ListenAddress{AF_INET, "127.0.0.1", 0},
                                     [this](std::string_view) {
                                       http::Response r;
                                       r.status = status;
                                       r.body = body;
                                       return r;
                                     });
    BOOST_REQUIRE_MESSAGE(s, (s ? "" : s.error().message()));
    server = std::move(*s);
    dir = std::filesystem::temp_directory_path() / ("vigil-prober-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
  }
  ~Loop() {
    prober.reset();
    server.reset();
    sd_event_unref(event);
    std::filesystem::remove_all(dir);
  }

  // Runs one probe to its end (at most 10 s of loop).
  ProbeResult probe(const HealthSpec& spec) {
    std::optional<ProbeResult> got;
    prober->run(spec, [&](ProbeResult r) { got = std::move(r); });
    spin([&] { return got.has_value(); });
    BOOST_REQUIRE_MESSAGE(got, "the probe never ended");
    return *got;
  }
  template <class Done>
  void spin(Done done, std::chrono::milliseconds limit = 10s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < end) sd_event_run(event, 10000);
  }

  HealthSpec http(const std::string& path = "/healthz") const {
    HealthSpec s;
    s.probe = HealthSpec::Probe::Http;
    s.url = "http://127.0.0.1:" + std::to_string(server->port()) + path;
    s.timeout = 2s;
    return s;
  }
  static HealthSpec tcp(std::uint16_t port) {
    HealthSpec s;
    s.probe = HealthSpec::Probe::Tcp;
    s.address = "127.0.0.1:" + std::to_string(port);
    s.timeout = 2s;
    return s;
  }
  static HealthSpec exec(std::vector<std::string> argv, core::Usec timeout = 5s) {
    HealthSpec s;
    s.probe = HealthSpec::Probe::Exec;
    s.argv = std::move(argv);
    s.timeout = timeout;
    return s;
  }
};

bool alive(pid_t pid) {
  return kill(pid, 0) == 0;
}

pid_t readPid(const std::filesystem::path& file) {
  std::ifstream in(file);
  pid_t pid = 0;
  in >> pid;
  return pid;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(prober, Loop)

BOOST_AUTO_TEST_CASE(http_status_in_range_is_healthy_and_out_of_range_is_not) {
  auto r = probe(http());
  BOOST_TEST(r.ok);
  BOOST_TEST(r.detail == "http 200");
  status = 503;
  r = probe(http());
  BOOST_TEST(!r.ok);
  BOOST_TEST(r.detail == "http 503");
  status = 204;
  HealthSpec exact = http();
  exact.status_min = exact.status_max = 200;
  r = probe(exact);
  BOOST_TEST(!r.ok);
  BOOST_TEST(r.detail == "http 204");
  status = 302;  // redirects are not followed; 3xx is healthy by default
  r = probe(http());
  BOOST_TEST(r.ok);
  BOOST_TEST(r.detail == "http 302");
}

BOOST_AUTO_TEST_CASE(http_body_must_contain_the_substring) {
  HealthSpec s = http();
  s.body = "ok";
  BOOST_TEST(probe(s).ok);
  body = "degraded\n";
  const auto r = probe(s);
  BOOST_TEST(!r.ok);
  BOOST_TEST(r.detail == "http 200, body lacks \"ok\"");
}

BOOST_AUTO_TEST_CASE(http_to_a_closed_port_is_connect_refused) {
  std::uint16_t port = 0;
  {
    Socket s(false);  // bound, not listening: connections are refused
    port = s.port;
    HealthSpec spec = http();
    spec.url = "http://127.0.0.1:" + std::to_string(port) + "/";
    const auto r = probe(spec);
    BOOST_TEST(!r.ok);
    BOOST_TEST(r.detail == "connect refused");
  }
}

BOOST_AUTO_TEST_CASE(http_that_never_answers_is_a_timeout_and_the_loop_keeps_running) {
  Socket silent(true);  // accepts (in the backlog) and never answers
  HealthSpec spec = http();
  spec.url = "http://127.0.0.1:" + std::to_string(silent.port) + "/";
  spec.timeout = 300ms;
  std::optional<ProbeResult> slow;
  prober->run(spec, [&](ProbeResult r) { slow = std::move(r); });
  // Meanwhile another probe completes: the slow one holds nothing up.
  const auto fast = probe(http());
  BOOST_TEST(fast.ok);
  BOOST_TEST(!slow.has_value());
  spin([&] { return slow.has_value(); });
  BOOST_REQUIRE(slow);
  BOOST_TEST(!slow->ok);
  BOOST_TEST(slow->detail == "timeout after 300ms");
  BOOST_TEST(prober->timeouts() == 1u);
}

BOOST_AUTO_TEST_CASE(tcp_connects_or_is_refused) {
  Socket open(true);
  auto r = probe(tcp(open.port));
  BOOST_TEST(r.ok);
  BOOST_TEST(r.detail == "connected");
  Socket closed(false);
  r = probe(tcp(closed.port));
  BOOST_TEST(!r.ok);
  BOOST_TEST(r.detail == "connect refused");
}

BOOST_AUTO_TEST_CASE(exec_exit_zero_is_healthy_otherwise_the_exit_and_first_line) {
  auto r = probe(exec({"/bin/true"}));
  BOOST_TEST(r.ok);
  BOOST_TEST(r.detail == "exit 0");
  r = probe(exec({"/bin/sh", "-c", "echo '  replica lag 30s'; echo second; exit 3"}));
  BOOST_TEST(!r.ok);
  BOOST_TEST(r.detail == "exit 3: replica lag 30s");
  r = probe(exec({"/bin/sh", "-c", "kill -SEGV $$"}));
  BOOST_TEST(!r.ok);
  BOOST_TEST(r.detail == "killed by SIGSEGV");
  r = probe(exec({"/nonexistent/check"}));
  BOOST_TEST(!r.ok);
  BOOST_TEST(r.detail == "exit 127: cannot execute /nonexistent/check");
}

BOOST_AUTO_TEST_CASE(exec_gets_no_stdin_and_a_fixed_environment) {
  const auto r = probe(exec({"/bin/sh", "-c",
                             "read x && exit 5; [ \"$PATH\" = "
                             "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin ] || "
                             "{ echo \"PATH=$PATH\"; exit 6; }; [ -z \"$HOME\" ] || exit 7"}));
  BOOST_TEST(r.ok, r.detail);
}

BOOST_AUTO_TEST_CASE(a_hanging_exec_times_out_and_its_whole_group_is_killed) {
  const auto leader = dir / "leader";
  const auto child = dir / "child";
  const std::string script =
      "echo $$ > " + leader.string() + "; sleep 60 & echo $! > " + child.string() + "; wait";
  const auto r = probe(exec({"/bin/sh", "-c", script}, 300ms));
  BOOST_TEST(!r.ok);
  BOOST_TEST(r.detail == "timeout after 300ms");
  const pid_t l = readPid(leader), c = readPid(child);
  BOOST_REQUIRE(l > 0);
  BOOST_REQUIRE(c > 0);
  // SIGKILL is sent at the timeout; the loop reaps the leader shortly after.
  spin([&] { return !alive(l) && !alive(c); }, 5s);
  BOOST_TEST(!alive(l), "the probe's process " << l << " outlived its timeout");
  BOOST_TEST(!alive(c), "a process " << c << " of the probe's group outlived its timeout");
}

BOOST_AUTO_TEST_CASE(at_most_kMaxInFlight_run_at_once_and_all_finish) {
  const unsigned n = health::Prober::kMaxInFlight + 8;
  unsigned finished = 0;
  std::size_t most = 0;
  for (unsigned i = 0; i < n; ++i)
    prober->run(exec({"/bin/sleep", "0.2"}), [&](ProbeResult r) { finished += r.ok ? 1 : 0; });
  BOOST_TEST(prober->running() == health::Prober::kMaxInFlight);
  BOOST_TEST(prober->queued() == 8u);
  spin([&] {
    most = std::max(most, prober->running());
    return finished == n;
  });
  BOOST_TEST(finished == n);
  BOOST_TEST(most <= health::Prober::kMaxInFlight);
}

BOOST_AUTO_TEST_CASE(a_cancelled_probe_never_reports_and_its_process_is_killed) {
  const auto leader = dir / "cancelled";
  bool called = false;
  const auto id =
      prober->run(exec({"/bin/sh", "-c", "echo $$ > " + leader.string() + "; sleep 60"}),
                  [&](ProbeResult) { called = true; });
  spin([&] { return std::filesystem::exists(leader) && readPid(leader) > 0; }, 5s);
  const pid_t l = readPid(leader);
  BOOST_REQUIRE(l > 0);
  prober->cancel(id);
  spin([&] { return !alive(l); }, 5s);
  BOOST_TEST(!alive(l));
  BOOST_TEST(!called);
  BOOST_TEST(prober->running() == 0u);
}

BOOST_AUTO_TEST_CASE(a_result_waiting_for_delivery_is_dropped_by_cancel) {
  // An address that does not parse fails at once: both results wait for the loop.
  HealthSpec bad = tcp(1);
  bad.address = "not-an-address";
  bool second_called = false;
  std::uint64_t second = 0;
  bool first_called = false;
  prober->run(bad, [&](ProbeResult r) {
    first_called = true;
    BOOST_TEST(r.detail == "not an address and port: not-an-address");
    prober->cancel(second);
  });
  second = prober->run(bad, [&](ProbeResult) { second_called = true; });
  spin([&] { return first_called; });
  spin([] { return false; }, 50ms);
  BOOST_TEST(first_called);
  BOOST_TEST(!second_called);
}

BOOST_AUTO_TEST_CASE(an_exec_probe_inherits_no_descriptor_of_vigild) {
  // A descriptor without O_CLOEXEC, as libcurl's sockets can be.
  const int leaky = open("/dev/null", O_RDONLY);
  BOOST_REQUIRE(leaky > 2);
  const auto r = probe(exec(
      {"/bin/sh", "-c",
       "[ -e /proc/$$/fd/" + std::to_string(leaky) + " ] && { echo inherited; exit 1; }; exit 0"}));
  close(leaky);
  BOOST_TEST(r.ok, r.detail);
}

BOOST_AUTO_TEST_SUITE_END()
