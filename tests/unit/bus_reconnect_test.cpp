// systemd::Bus::keepConnected against a real (private) dbus-daemon that is killed and
// started again: calls made during the outage wait and are answered afterwards, the
// reconnect hooks run once per new connection, calls wait for the awaited name, and a bus
// that does not come back ends in on_give_up. (vigild against the system bus and PID 1:
// VM test 63-fault-dbus.)

#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "systemd/Bus.h"
#include "systemd/BusImpl.h"

using namespace vigil;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

struct PrivateBus {
  fs::path dir;
  std::string address;
  pid_t pid = -1;

  PrivateBus() {
    char tmpl[] = "/tmp/vigil-bus-test-XXXXXX";
    dir = mkdtemp(tmpl);
    address = "unix:path=" + (dir / "bus").string();
    std::ofstream(dir / "bus.conf")
        << "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
           " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
           "<busconfig><type>custom</type><listen>"
        << address
        << "</listen><auth>EXTERNAL</auth>"
           "<policy context=\"default\"><allow user=\"*\"/><allow own=\"*\"/>"
           "<allow send_type=\"method_call\"/><allow send_type=\"signal\"/>"
           "<allow send_type=\"method_return\"/><allow send_type=\"error\"/>"
           "<allow receive_type=\"method_call\"/><allow receive_type=\"signal\"/>"
           "<allow receive_type=\"method_return\"/><allow receive_type=\"error\"/>"
           "</policy></busconfig>\n";
    start();
  }
  ~PrivateBus() {
    stop();
    fs::remove_all(dir);
  }
  void start() {
    fs::remove(dir / "bus");
    pid = fork();
    if (pid == 0) {
      const std::string conf = "--config-file=" + (dir / "bus.conf").string();
      execlp("dbus-daemon", "dbus-daemon", conf.c_str(), "--nofork", "--nopidfile",
             static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 500 && !fs::exists(dir / "bus"); ++i) std::this_thread::sleep_for(10ms);
    BOOST_TEST_REQUIRE(fs::exists(dir / "bus"), "dbus-daemon did not start");
  }
  void stop() {
    if (pid <= 0) return;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    pid = -1;
  }
};

struct Loop {
  sd_event* event = nullptr;
  Loop() { sd_event_new(&event); }
  ~Loop() { sd_event_unref(event); }
  template <typename Pred>
  bool runUntil(Pred pred, std::chrono::milliseconds limit = 5000ms) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > end) return false;
      sd_event_run(event, 10000);
    }
    return true;
  }
};

// GetId of the bus daemon through the Bus's call queue; *answer: "ok" or the error.
void getId(systemd::Bus& bus, std::string* answer) {
  systemd::Bus::Impl& io = bus.impl();
  io.call(
      [&io](sd_bus_message** m) {
        return sd_bus_message_new_method_call(io.raw(), m, "org.freedesktop.DBus",
                                              "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                              "GetId");
      },
      [answer](sd_bus_message*, const sd_bus_error* err) {
        *answer = err ? std::string(err->name ? err->name : "error") : "ok";
      });
}

struct Counters {
  int lost = 0, back = 0, gave_up = 0, hooks = 0;  // callbacks seen
};

systemd::Bus::KeepConnected keep(Counters& c, std::chrono::microseconds give_up = 10s) {
  systemd::Bus::KeepConnected k;
  k.first_delay = 20ms;
  k.max_delay = 200ms;
  k.give_up_after = give_up;
  k.on_lost = [&c](const std::string&) { c.lost++; };
  k.on_back = [&c](std::chrono::microseconds, unsigned) { c.back++; };
  k.on_give_up = [&c](const std::string&) { c.gave_up++; };
  return k;
}

}  // namespace

BOOST_AUTO_TEST_CASE(calls_made_while_the_bus_is_down_are_answered_after_it_returns) {
  PrivateBus daemon;
  Loop loop;
  auto bus = systemd::Bus::address(daemon.address, loop.event, "reconnect-test");
  BOOST_REQUIRE(bus);
  Counters c;
  (*bus)->keepConnected(keep(c));
  (*bus)->onReconnect([&c] { c.hooks++; });
  std::string first;
  getId(**bus, &first);
  BOOST_REQUIRE(loop.runUntil([&] { return !first.empty(); }));
  BOOST_TEST(first == "ok");

  daemon.stop();
  BOOST_REQUIRE(loop.runUntil([&] { return c.lost == 1; }));
  BOOST_TEST(!(*bus)->connected());
  std::string during;
  getId(**bus, &during);
  loop.runUntil([] { return false; }, 300ms);  // several failed attempts
  BOOST_TEST(during.empty());                  // waiting, not failed
  BOOST_TEST((*bus)->pendingCalls() == 1u);

  daemon.start();
  BOOST_REQUIRE(loop.runUntil([&] { return !during.empty(); }));
  BOOST_TEST(during == "ok");
  BOOST_TEST(c.back == 1);
  BOOST_TEST(c.hooks == 1);
  BOOST_TEST(c.gave_up == 0);
  BOOST_TEST((*bus)->connected());

  // Lost again, and back: once more each.
  daemon.stop();
  BOOST_REQUIRE(loop.runUntil([&] { return c.lost == 2; }));
  daemon.start();
  BOOST_REQUIRE(loop.runUntil([&] { return c.back == 2; }));
  BOOST_TEST(c.hooks == 2);
}

BOOST_AUTO_TEST_CASE(calls_wait_for_the_awaited_name_on_the_new_connection) {
  PrivateBus daemon;
  Loop loop;
  auto bus = systemd::Bus::address(daemon.address, loop.event, "reconnect-test");
  BOOST_REQUIRE(bus);
  Counters c;
  auto k = keep(c);
  k.await_name = "org.vigil.TestPeer";
  (*bus)->keepConnected(std::move(k));
  daemon.stop();
  BOOST_REQUIRE(loop.runUntil([&] { return c.lost == 1; }));
  daemon.start();
  std::string answer;
  getId(**bus, &answer);
  loop.runUntil([] { return false; }, 500ms);
  BOOST_TEST(answer.empty());  // connected, but the peer is not there yet
  BOOST_TEST(c.back == 0);
  // The peer (PID 1, for vigild) comes onto the new bus.
  sd_bus* peer = nullptr;
  BOOST_REQUIRE(sd_bus_new(&peer) >= 0);
  sd_bus_set_address(peer, daemon.address.c_str());
  sd_bus_set_bus_client(peer, 1);
  BOOST_REQUIRE(sd_bus_start(peer) >= 0);
  BOOST_REQUIRE(sd_bus_request_name(peer, "org.vigil.TestPeer", 0) >= 0);
  BOOST_REQUIRE(loop.runUntil([&] { return !answer.empty(); }));
  BOOST_TEST(answer == "ok");
  BOOST_TEST(c.back == 1);
  sd_bus_flush_close_unref(peer);
}

BOOST_AUTO_TEST_CASE(a_bus_that_does_not_return_ends_in_give_up) {
  PrivateBus daemon;
  Loop loop;
  auto bus = systemd::Bus::address(daemon.address, loop.event, "reconnect-test");
  BOOST_REQUIRE(bus);
  Counters c;
  (*bus)->keepConnected(keep(c, 400ms));
  const auto t0 = std::chrono::steady_clock::now();
  daemon.stop();
  BOOST_REQUIRE(loop.runUntil([&] { return c.gave_up == 1; }, 3000ms));
  BOOST_TEST((std::chrono::steady_clock::now() - t0 >= 400ms));
  BOOST_TEST(c.back == 0);
}
