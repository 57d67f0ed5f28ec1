#pragma once
// A blocking client of vigild's D-Bus API (docs/DBUS-API.md), for vigilctl and the tests:
// one connection to the system bus, local or remote over SSH (`vigilctl -H`, as
// `systemctl -H` does with sd_bus_open_system_remote), no event loop.
//
// Errors carry the D-Bus error name when vigild (or the bus) answered with one
// (util::Error::name()): org.vigil.Vigil1.Error.UnknownTarget, .InvalidArgument,
// .NotPossible, .InvalidConfig, org.freedesktop.DBus.Error.AccessDenied, and
// org.freedesktop.DBus.Error.ServiceUnknown / NameHasNoOwner / NoReply when vigild is not
// there. A reply that does not have the expected shape (a vigild of another version) is
// an error naming what was wrong, never an abort.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "api/Backend.h"
#include "status/StatusSnapshot.h"
#include "util/Result.h"

namespace vigil::api {

struct Accepted {
  std::uint64_t operation = 0;  // 0: nothing to wait for
  std::string message;
};

class ApiClient {
 public:
  // `host` empty: the local system bus; else [user@]host[:port] over SSH. `address`
  // (tests): a bus address instead of the system bus.
  static util::Result<std::unique_ptr<ApiClient>> connect(const std::string& host,
                                                          const std::string& address = "");
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  util::Result<status::VigildView> info();
  // Everything at or below `target` ("" = all).
  util::Result<status::StatusSnapshot> status(const std::string& target);
  util::Result<std::vector<status::EventView>> recentEvents(std::uint32_t max);
  util::Result<std::vector<std::string>> targets();
  // GetHistory: the cgroup history at or below `target` over the last `range_usec`, with
  // `points` sparkline values per metric.
  util::Result<std::vector<status::HistoryView>> history(const std::string& target,
                                                         std::uint64_t range_usec,
                                                         std::uint32_t points);

  // Subscribes to OperationFinished; call before the commands whose end you will wait for.
  util::Result<void> watchOperations();
  util::Result<Accepted> start(const std::string& target);
  util::Result<Accepted> stop(const std::string& target);
  util::Result<Accepted> restart(const std::string& target, bool rolling);
  util::Result<Accepted> reset(const std::string& target);
  util::Result<Accepted> kill(const std::string& target, int signal, bool main_only);
  util::Result<Accepted> freeze(const std::string& target, bool freeze);
  util::Result<Accepted> setLimits(
      const std::string& target, const std::vector<std::pair<std::string, std::string>>& settings);
  util::Result<Accepted> scale(const std::string& target, std::uint32_t instances);
  util::Result<ReloadAnswer> reload(bool dry_run);
  // Waits for the OperationFinished of `operation` (watchOperations() first). `timeout_usec`
  // 0: no limit. An error if the connection drops or the time runs out.
  util::Result<core::Completion> wait(std::uint64_t operation, std::uint64_t timeout_usec = 0);

  // Subscribes to the Event signal (before reading history, so nothing falls in between).
  util::Result<void> watchEvents();
  // Calls `fn` for every Event signal until it returns false; returns when the connection
  // is closed (an error: vigild or the bus went away). Subscribes if not done yet.
  util::Result<void> followEvents(const std::function<bool(const status::EventView&)>& fn);

  struct Impl;

 private:
  explicit ApiClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::api
