#pragma once
// SystemdClient over sd-bus on the system bus, attached to an sd-event loop. The only
// code in vigil that speaks D-Bus (and the only place sd-bus headers are included).

#include <deque>
#include <map>
#include <memory>
#include <string>

#include <systemd/sd-event.h>

#include "systemd/SystemdClient.h"

namespace vigil::systemd {

class SdBusSystemdClient final : public SystemdClient {
 public:
  // Connects to the system bus, installs the signal matches (JobRemoved,
  // PropertiesChanged below /org/freedesktop/systemd1/unit, NameOwnerChanged of
  // org.freedesktop.systemd1, Disconnected) and calls Subscribe(), all before any job is
  // started, so no job result can be missed. `on_disconnect` runs if the bus goes away.
  static util::Result<std::unique_ptr<SdBusSystemdClient>> connect(
      sd_event* event, std::function<void(const std::string&)> on_disconnect);
  ~SdBusSystemdClient() override;

  void startService(const core::UnitSpec& spec, core::Usec timeout, JobDone done) override;
  void ensureSlice(const std::string& name,
                   const std::string& description,
                   const core::Limits& limits,
                   core::Usec timeout,
                   JobDone done) override;
  void stopUnit(const std::string& name, core::Usec timeout, JobDone done) override;
  void listManagedUnits(
      std::function<void(util::Result<std::vector<core::ExistingUnit>>)> done) override;
  void queryStackStop(std::function<void(util::Result<bool>)> done) override;
  void setExitObserver(std::function<void(const UnitState&)> observer) override;
  void setActiveObserver(std::function<void(const UnitState&)> observer) override;
  std::optional<UnitState> unitState(const std::string& name) const override;
  std::size_t pendingOperations() const override;

  // dbus-daemon allows 128 pending replies per connection by default; staying below it
  // keeps mass starts from being refused. Further calls wait in a queue.
  static constexpr std::size_t kMaxCallsInFlight = 100;

  struct Impl;

 private:
  explicit SdBusSystemdClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::systemd
