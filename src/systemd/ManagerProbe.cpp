#include "systemd/ManagerProbe.h"

#include <time.h>

#include <cstring>
#include <memory>

#include <systemd/sd-bus.h>

#include "systemd/BusImpl.h"

namespace vigil::systemd {

namespace {

// An sd_bus_error freed on scope exit, with its text (errorText of BusImpl.h).
struct Error : BusError {
  std::string text(int r) const { return errorText(r, &e); }
};

std::uint64_t monotonicUsec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000u +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
}

std::string stringProperty(sd_bus* bus, const char* path, const char* iface, const char* name) {
  Error err;
  char* s = nullptr;
  if (sd_bus_get_property_string(bus, kDest, path, iface, name, &err.e, &s) < 0) return "";
  std::string out = s ? s : "";
  std::free(s);
  return out;
}

template <class T>
T trivialProperty(sd_bus* bus, const char* path, const char* iface, const char* name, char type) {
  Error err;
  T v{};
  if (sd_bus_get_property_trivial(bus, kDest, path, iface, name, &err.e, type, &v) < 0) return T{};
  return v;
}
}  // namespace

ManagerFacts probeManager(const std::string& service,
                          std::chrono::microseconds timeout,
                          const std::string& address) {
  ManagerFacts f;
  sd_bus* raw = nullptr;
  int r = 0;
  if (address.empty()) {
    r = sd_bus_open_system(&raw);
  } else {
    r = sd_bus_new(&raw);
    if (r >= 0) r = sd_bus_set_address(raw, address.c_str());
    if (r >= 0) r = sd_bus_set_bus_client(raw, 1);
    if (r >= 0) r = sd_bus_start(raw);
  }
  BusPtr bus(raw);
  if (r < 0) {
    f.bus_error = std::string("cannot connect to the system bus: ") + std::strerror(-r);
    return f;
  }
  f.bus_connected = true;
  sd_bus_set_method_call_timeout(bus.get(), static_cast<std::uint64_t>(timeout.count()));

  const std::uint64_t t0 = monotonicUsec();
  {
    Error err;
    sd_bus_message* reply = nullptr;
    r = sd_bus_call_method(bus.get(), kDest, kPath, "org.freedesktop.DBus.Peer", "Ping", &err.e,
                           &reply, "");
    MsgPtr hold(reply);
    if (r < 0) {
      f.bus_error = "PID 1 (org.freedesktop.systemd1) did not answer a ping: " + err.text(r);
      return f;
    }
  }
  f.pid1_answered = true;
  f.ping_time = std::chrono::microseconds(monotonicUsec() - t0);
  f.version = stringProperty(bus.get(), kPath, kManager, "Version");

  Error err;
  sd_bus_message* reply = nullptr;
  r = sd_bus_call_method(bus.get(), kDest, kPath, kManager, "LoadUnit", &err.e, &reply, "s",
                         service.c_str());
  MsgPtr hold(reply);
  const char* path = nullptr;
  if (r < 0 || sd_bus_message_read(reply, "o", &path) < 0 || !path) {
    f.service_error = "PID 1 cannot load " + service + ": " + err.text(r);
    return f;
  }
  const std::string unit_path = path;
  const char* p = unit_path.c_str();
  ServiceFacts s;
  s.load_state = stringProperty(bus.get(), p, kUnitIface, "LoadState");
  s.active_state = stringProperty(bus.get(), p, kUnitIface, "ActiveState");
  s.sub_state = stringProperty(bus.get(), p, kUnitIface, "SubState");
  s.result = stringProperty(bus.get(), p, kServiceIface, "Result");
  s.main_pid = trivialProperty<std::uint32_t>(bus.get(), p, kServiceIface, "MainPID", 'u');
  s.n_restarts = trivialProperty<std::uint32_t>(bus.get(), p, kServiceIface, "NRestarts", 'u');
  s.watchdog_usec =
      trivialProperty<std::uint64_t>(bus.get(), p, kServiceIface, "WatchdogUSec", 't');
  s.watchdog_timestamp_monotonic_usec = trivialProperty<std::uint64_t>(
      bus.get(), p, kServiceIface, "WatchdogTimestampMonotonic", 't');
  f.monotonic_now_usec = monotonicUsec();
  f.service = s;
  return f;
}

}  // namespace vigil::systemd
