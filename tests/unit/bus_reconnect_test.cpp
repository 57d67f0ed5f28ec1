// systemd::Bus::keepConnected against a real (private) dbus-daemon that is killed and
// started again: calls made during the outage wait and are answered afterwards, the
// reconnect hooks run once per new connection, calls wait for the awaited name, and a bus
// that does not come back ends in on_give_up. (vigild against the system bus and PID 1:
// VM test 63-fault-dbus.)

#include <boost/test/unit_test.hpp>

#include <chrono>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "support/PrivateDbusDaemon.h"
#include "systemd/Bus.h"
#include "systemd/BusImpl.h"

using namespace vigil;
using namespace std::chrono_literals;

namespace {

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
  test::PrivateDbusDaemon daemon;
  Loop loop;
  auto bus = systemd::Bus::address(daemon.address(), loop.event, "reconnect-test");
  BOOST_REQUIRE(bus);
  Counters c;
  (*bus)->keepConnected(keep(c));
  (*bus)->onReconnect([&c] { c.hooks++; });
  std::string first;
  getId(**bus, &first);
  BOOST_REQUIRE(loop.runUntil([&] { return !first.empty(); }));
  BOOST_TEST(first == "ok");

  daemon.kill();
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
  daemon.kill();
  BOOST_REQUIRE(loop.runUntil([&] { return c.lost == 2; }));
  daemon.start();
  BOOST_REQUIRE(loop.runUntil([&] { return c.back == 2; }));
  BOOST_TEST(c.hooks == 2);
}

BOOST_AUTO_TEST_CASE(calls_wait_for_the_awaited_name_on_the_new_connection) {
  test::PrivateDbusDaemon daemon;
  Loop loop;
  auto bus = systemd::Bus::address(daemon.address(), loop.event, "reconnect-test");
  BOOST_REQUIRE(bus);
  Counters c;
  auto k = keep(c);
  k.await_name = "org.vigil.TestPeer";
  (*bus)->keepConnected(std::move(k));
  daemon.kill();
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
  sd_bus_set_address(peer, daemon.address().c_str());
  sd_bus_set_bus_client(peer, 1);
  BOOST_REQUIRE(sd_bus_start(peer) >= 0);
  BOOST_REQUIRE(sd_bus_request_name(peer, "org.vigil.TestPeer", 0) >= 0);
  BOOST_REQUIRE(loop.runUntil([&] { return !answer.empty(); }));
  BOOST_TEST(answer == "ok");
  BOOST_TEST(c.back == 1);
  sd_bus_flush_close_unref(peer);
}

BOOST_AUTO_TEST_CASE(a_bus_that_does_not_return_ends_in_give_up) {
  test::PrivateDbusDaemon daemon;
  Loop loop;
  auto bus = systemd::Bus::address(daemon.address(), loop.event, "reconnect-test");
  BOOST_REQUIRE(bus);
  Counters c;
  (*bus)->keepConnected(keep(c, 400ms));
  const auto t0 = std::chrono::steady_clock::now();
  daemon.kill();
  BOOST_REQUIRE(loop.runUntil([&] { return c.gave_up == 1; }, 3000ms));
  BOOST_TEST((std::chrono::steady_clock::now() - t0 >= 400ms));
  BOOST_TEST(c.back == 0);
}
