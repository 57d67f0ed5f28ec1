#pragma once
// SystemdClient over sd-bus: calls to PID 1 on vigild's shared system-bus connection
// (systemd::Bus).

#include <deque>
#include <map>
#include <memory>
#include <string>

#include <systemd/sd-event.h>

#include "systemd/Bus.h"
#include "systemd/SystemdClient.h"

namespace vigil::systemd {

class SdBusSystemdClient final : public SystemdClient {
 public:
  // Installs the signal matches on `bus` (JobRemoved, PropertiesChanged below
  // /org/freedesktop/systemd1/unit, NameOwnerChanged of org.freedesktop.systemd1) and
  // calls Subscribe() (blocking, once at startup), all before any job is started, so no job
  // result can be missed. `bus` must outlive the client.
  static util::Result<std::unique_ptr<SdBusSystemdClient>> create(Bus& bus);
  ~SdBusSystemdClient() override;

  void startService(const std::string& name,
                    SpecSource spec,
                    core::Usec timeout,
                    JobDone done) override;
  void ensureSlice(const std::string& name,
                   const std::string& description,
                   const core::Limits& limits,
                   core::Usec timeout,
                   JobDone done) override;
  void stopUnit(const std::string& name, core::Usec timeout, JobDone done) override;
  void listManagedUnits(
      std::function<void(util::Result<std::vector<core::ExistingUnit>>)> done) override;
  void queryStackStop(std::function<void(util::Result<bool>)> done) override;
  void ping(core::Usec timeout, std::function<void(util::Result<void>)> done) override;
  void killUnit(const std::string& name, bool main_only, int signal, JobDone done) override;
  void freezeUnit(const std::string& name, bool freeze, JobDone done) override;
  void setUnitLimits(const std::string& name, const core::Limits& limits, JobDone done) override;
  void setExitObserver(std::function<void(const UnitState&)> observer) override;
  void setActiveObserver(std::function<void(const UnitState&)> observer) override;
  std::optional<UnitState> unitState(const std::string& name) const override;
  std::size_t pendingOperations() const override;
  void resetFailed(const std::string& name) override;
  std::vector<std::string> failedUnits() const override;

  struct Impl;

 private:
  explicit SdBusSystemdClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::systemd
