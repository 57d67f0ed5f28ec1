#pragma once
// vigild's D-Bus API: the object /org/vigil/Vigil1 with interface org.vigil.Vigil1.Manager
// on the shared bus connection (systemd::Bus), served from a Backend. Every method and
// signal is documented in docs/DBUS-API.md; the introspection XML ships as
// /usr/share/dbus-1/interfaces/org.vigil.Vigil1.Manager.xml.
//
// Read methods are open to every caller. Mutating methods (commands, SetLimits, Scale,
// Reload) are allowed for uid 0 and members of the group `vigil` only, checked here from
// the sender's credentials (sd_bus_query_sender_creds), not only by the bus policy;
// everyone else gets org.freedesktop.DBus.Error.AccessDenied and nothing changes.
// A mutating method answers at once with an operation id; the operation's end is the
// OperationFinished signal (as systemd's StartUnit answers with a job and ends with
// JobRemoved), so no call is held open for the length of a stop.

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include "api/Backend.h"
#include "systemd/Bus.h"
#include "util/Result.h"

namespace vigil::api {

struct AccessPolicy {
  // Members of this group may call the mutating methods; looked up by name (kManageGroup)
  // when unset, at each check until found (the group may be created after vigild starts).
  std::optional<gid_t> manage_gid;
  std::string manage_group = "vigil";
};

class ApiServer : public Listener {
 public:
  // Registers the object on `bus` and hooks itself up as the backend's listener. The
  // well-known name is requested separately (requestName), so that the object is in
  // place before any client can reach it.
  static util::Result<std::unique_ptr<ApiServer>> create(systemd::Bus& bus,
                                                         Backend& backend,
                                                         AccessPolicy policy = {});
  ~ApiServer() override;
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Asks the bus for org.vigil.Vigil1 (asynchronously; a failure is logged to stderr and
  // vigild goes on supervising without its API).
  void requestName();

  // Listener: the Event and OperationFinished signals.
  void eventPublished(const status::EventView& event) override;
  void operationFinished(const core::Completion& completion) override;

  struct Impl;

 private:
  explicit ApiServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::api
