#pragma once
// One connection to a D-Bus bus, attached to vigild's sd-event loop and shared by
// everything in vigild that speaks D-Bus: the systemd client (calls to PID 1) and the API
// server (vigild's own object), as systemd-oomd's Manager.bus and sdbus-c++'s IConnection
// serve both proxies and objects. It owns the connection, the Disconnected match and the
// queue of method calls with its in-flight cap.
//
// No sd-bus type appears here: code outside src/systemd and src/api holds a Bus and hands
// it on. src/systemd and src/api reach the connection through systemd/BusImpl.h.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <systemd/sd-event.h>

#include "util/Result.h"

namespace vigil::systemd {

class Bus {
 public:
  // Connects to the system bus (the remote one on `host` over SSH when not empty, as
  // `systemctl -H` does) and attaches the connection to `event` (may be null for a
  // connection used only with blocking calls). `on_disconnect` runs, on the loop, if the
  // connection is closed. Errors: the errno of sd_bus_open_system*() with context.
  static util::Result<std::unique_ptr<Bus>> system(
      sd_event* event,
      std::function<void(const std::string&)> on_disconnect = {},
      const std::string& description = "vigild");
  // A bus at `address` (tests: a private dbus-daemon), as a bus client.
  static util::Result<std::unique_ptr<Bus>> address(const std::string& address,
                                                    sd_event* event,
                                                    const std::string& description);
  static util::Result<std::unique_ptr<Bus>> remote(const std::string& host,
                                                   sd_event* event,
                                                   const std::string& description);
  ~Bus();
  Bus(const Bus&) = delete;
  Bus& operator=(const Bus&) = delete;

  // Method calls sent and not yet answered, and queued behind the in-flight cap (or, while
  // the connection is being re-established, waiting for it).
  std::size_t pendingCalls() const;

  // What keepConnected() does when the connection closes (dbus-daemon restarted, or it
  // dropped vigild): it opens a new one as the first was opened, after a delay that starts
  // at first_delay and doubles per failed attempt up to max_delay, each with up to
  // `jitter` (a fraction) added, so that the clients of a restarted bus do not all come
  // back in the same instant (as systemd's own bus clients back off). Method calls made
  // meanwhile wait, in order, and go out once the new connection is up and, when
  // await_name is set, that name has an owner on it (PID 1 reconnects to a restarted bus
  // on its own schedule; a call before that would fail with ServiceUnknown). Calls that
  // were in flight when the connection closed fail with sd-bus's NoReply error: the
  // caller settles them (for PID 1: from the unit's state). The hooks given to
  // onReconnect() run on each new connection, before any waiting call goes out.
  struct KeepConnected {
    std::chrono::microseconds first_delay{std::chrono::milliseconds(100)};
    std::chrono::microseconds max_delay{std::chrono::seconds(5)};
    double jitter = 0.25;
    // Still not back this long after the loss: on_give_up, and nothing more is tried.
    std::chrono::microseconds give_up_after{std::chrono::seconds(20)};
    std::string await_name;
    std::function<void(const std::string& why)> on_lost;
    std::function<void(std::chrono::microseconds outage, unsigned attempts)> on_back;
    std::function<void(const std::string& why)> on_give_up;
  };
  // Only for a connection attached to an event loop. Replaces the on_disconnect callback.
  void keepConnected(KeepConnected options);
  // Runs `hook` on every new connection keepConnected() makes (not on the first one): to
  // add matches, objects and names again, and to catch up on what was missed. Returns an
  // id for dropReconnectHook(), which its owner calls before it goes away.
  std::size_t onReconnect(std::function<void()> hook);
  void dropReconnectHook(std::size_t id);
  // The connection is up (and await_name owned): calls go out.
  bool connected() const;

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  explicit Bus(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::systemd
