#pragma once
// One connection to a D-Bus bus, attached to vigild's sd-event loop and shared by
// everything in vigild that speaks D-Bus: the systemd client (calls to PID 1) and the API
// server (vigild's own object), as systemd-oomd's Manager.bus and sdbus-c++'s IConnection
// serve both proxies and objects. It owns the connection, the Disconnected match and the
// queue of method calls with its in-flight cap.
//
// No sd-bus type appears here: code outside src/systemd and src/api holds a Bus and hands
// it on. src/systemd and src/api reach the connection through systemd/BusImpl.h.

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

  // Method calls sent and not yet answered, and queued behind the in-flight cap.
  std::size_t pendingCalls() const;

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  explicit Bus(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::systemd
