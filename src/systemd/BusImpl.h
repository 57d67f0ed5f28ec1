#pragma once
// The sd-bus side of systemd::Bus, for src/systemd and src/api only (the build checks
// that no other layer includes sd-bus): RAII owners of sd-bus objects, error text, and the
// asynchronous call queue.

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "systemd/Bus.h"

namespace vigil::systemd {

struct BusUnref {
  void operator()(sd_bus* b) const { sd_bus_flush_close_unref(b); }
};
struct MsgUnref {
  void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
struct SlotUnref {
  void operator()(sd_bus_slot* s) const { sd_bus_slot_unref(s); }
};
struct SourceUnref {
  void operator()(sd_event_source* s) const { sd_event_source_disable_unref(s); }
};
struct CredsUnref {
  void operator()(sd_bus_creds* c) const { sd_bus_creds_unref(c); }
};
using BusPtr = std::unique_ptr<sd_bus, BusUnref>;
using MsgPtr = std::unique_ptr<sd_bus_message, MsgUnref>;
using SlotPtr = std::unique_ptr<sd_bus_slot, SlotUnref>;
using SourcePtr = std::unique_ptr<sd_event_source, SourceUnref>;
using CredsPtr = std::unique_ptr<sd_bus_creds, CredsUnref>;

// PID 1 on the bus: its name, object and interfaces (org.freedesktop.systemd1(5)).
inline constexpr const char* kDest = "org.freedesktop.systemd1";
inline constexpr const char* kPath = "/org/freedesktop/systemd1";
inline constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
inline constexpr const char* kUnitIface = "org.freedesktop.systemd1.Unit";
inline constexpr const char* kServiceIface = "org.freedesktop.systemd1.Service";

// An sd_bus_error freed on scope exit. (Zero-initialised: SD_BUS_ERROR_NULL without its C99
// compound literal.)
struct BusError {
  sd_bus_error e{};
  ~BusError() { sd_bus_error_free(&e); }
};

// The error's message (or name), else strerror(|r|).
std::string errorText(int r, const sd_bus_error* e);

struct Bus::Impl {
  // dbus-daemon allows 128 pending replies per connection by default; staying below it
  // keeps mass starts from being refused. Further calls wait in a queue.
  static constexpr std::size_t kMaxCallsInFlight = 100;

  using ReplyFn = std::function<void(sd_bus_message*, const sd_bus_error*)>;
  using BuildFn = std::function<int(sd_bus_message**)>;

  sd_event* event = nullptr;
  BusPtr bus;
  std::vector<SlotPtr> matches;
  std::function<void(const std::string&)> on_disconnect;

  // Reconnection (Bus::keepConnected).
  std::function<int(sd_bus**)> open;  // makes a new connection as the first was made
  std::optional<Bus::KeepConnected> keep;
  std::map<std::size_t, std::function<void()>> reconnect_hooks;  // by id, in the order added
  std::size_t next_hook = 1;
  bool reconnecting = false;  // the connection was lost and is not back (calls wait)
  unsigned attempts = 0;
  std::uint64_t lost_at_usec = 0;  // CLOCK_MONOTONIC
  std::string lost_why;
  SlotPtr disconnected;  // the Disconnected match of the current connection
  SlotPtr name_watch;    // NameOwnerChanged of keep->await_name on a new connection
  SlotPtr name_query;    // GetNameOwner of keep->await_name on a new connection
  SourcePtr retry;       // the next attempt
  SourcePtr give_up;     // the end of the patience
  void lost(const std::string& why);
  void scheduleAttempt();
  void attempt();
  void opened();
  void watchDisconnect();

  sd_bus* raw() const { return bus.get(); }

  // Sends the message `build` makes and calls `reply` with the answer (an error reply, or
  // a local failure, as `err`), on the loop and never from inside call() itself. At most
  // kMaxCallsInFlight calls are outstanding; the rest wait in order.
  void call(BuildFn build, ReplyFn reply);
  // Runs `fn` on the next loop iteration.
  void post(std::function<void()> fn);
  // Adds a signal match; the slot lives as long as the Bus.
  int addMatch(const char* rule, sd_bus_message_handler_t callback, void* userdata);

  std::size_t pendingCalls() const { return in_flight + queue.size(); }

 private:
  struct Call {
    Impl* self;
    BuildFn build;
    ReplyFn reply;
  };
  void pump();
  static int onReply(sd_bus_message* m, void* ud, sd_bus_error*);

  std::deque<std::unique_ptr<Call>> queue;
  std::size_t in_flight = 0;
};

}  // namespace vigil::systemd
