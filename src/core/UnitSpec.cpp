#include "core/UnitSpec.h"

#include <string_view>

#include <fmt/format.h>

#include "core/Digest.h"
#include "core/UnitName.h"

namespace vigil::core {

namespace {

std::string joinEscaped(const SupervisorPath& path) {
  std::string out;
  for (const auto& part : path) {
    if (!out.empty()) out += '-';
    out += escapeUnitNameComponent(part);
  }
  return out;
}

}  // namespace

std::string sliceName(const SupervisorPath& path) {
  return fmt::format("{}{}.slice", kUnitPrefix, joinEscaped(path));
}

std::string serviceName(const SupervisorPath& path, const std::string& worker, unsigned instance) {
  std::string base =
      fmt::format("{}{}-{}", kUnitPrefix, joinEscaped(path), escapeUnitNameComponent(worker));
  if (instance > 0) base += fmt::format("@{}", instance);
  return base + ".service";
}

namespace {
// cg_escape() of systemd 252 (src/basic/cgroup-util.c).
std::string cgroupEscape(const std::string& name) {
  static constexpr const char* kControllers[] = {"cpu",
                                                 "cpuacct",
                                                 "cpuset",
                                                 "io",
                                                 "blkio",
                                                 "memory",
                                                 "devices",
                                                 "pids",
                                                 "bpf-firewall",
                                                 "bpf-devices",
                                                 "bpf-foreign",
                                                 "bpf-socket-bind",
                                                 "bpf-restrict-network-interfaces"};
  bool escape = name.empty() || name[0] == '_' || name[0] == '.' || name == "notify_on_release" ||
                name == "release_agent" || name == "tasks" || name.rfind("cgroup.", 0) == 0;
  if (!escape) {
    const auto dot = name.find('.');
    if (dot != std::string::npos) {
      const std::string_view head(name.data(), dot);
      for (const char* c : kControllers) escape |= head == c;
    }
  }
  return escape ? "_" + name : name;
}
}  // namespace

std::string controlGroupOf(const std::string& slice, const std::string& unit) {
  return sliceControlGroup(slice) + "/" + cgroupEscape(unit);
}

std::string sliceControlGroup(const std::string& slice) {
  std::string path;
  if (slice != "-.slice") {
    // Each dash-separated prefix of the slice's name is a parent slice.
    const std::string stem = slice.substr(0, slice.size() - std::string_view(".slice").size());
    std::size_t dash = 0;
    while ((dash = stem.find('-', dash)) != std::string::npos) {
      path += "/" + cgroupEscape(stem.substr(0, dash) + ".slice");
      ++dash;
    }
    path += "/" + cgroupEscape(slice);
  }
  return path;
}

std::string displayName(const SupervisorPath& path, const std::string& worker, unsigned instance) {
  std::string out;
  for (const auto& part : path) out += part + "/";
  out += worker;
  if (instance > 0) out += fmt::format("@{}", instance);
  return out;
}

UnitSpec buildUnitSpec(const WorkerSpec& w, const SupervisorPath& path, unsigned instance) {
  UnitSpec u;
  u.name = serviceName(path, w.name, instance);
  u.slice = sliceName(path);
  u.description = fmt::format("vigil worker {}", displayName(path, w.name, instance));
  u.argv = w.command;
  for (const auto& [k, v] : w.environment) u.environment.push_back(k + "=" + v);
  if (instance > 0) u.environment.push_back(fmt::format("VIGIL_INSTANCE={}", instance));
  u.working_directory = w.working_directory;
  u.user = w.user;
  u.group = w.group;
  u.limits = w.limits;
  u.kill_signal = w.stop.signal;
  u.timeout_stop = w.stop.timeout;
  u.timeout_start = w.start_timeout;
  u.notify = w.notify;
  u.notify_access = w.notify_access;
  u.watchdog = w.watchdog;
  u.fingerprint = fingerprintOf(u);
  std::string tree = path.empty() ? std::string() : path.front();
  std::string supervisor;
  for (const auto& part : path) supervisor += (supervisor.empty() ? "" : "/") + part;
  u.log_fields = {{"VIGIL_TREE", tree},
                  {"VIGIL_SUPERVISOR", supervisor},
                  {"VIGIL_WORKER", displayName(path, w.name, instance)},
                  {"VIGIL_SPEC", u.fingerprint}};
  return u;
}

std::string fingerprintOf(const UnitSpec& u) {
  Digest d;
  d.add(u.name);
  d.add(u.slice);
  d.add(u.argv.size());
  for (const auto& a : u.argv) d.add(a);
  d.add(u.environment.size());
  for (const auto& e : u.environment) d.add(e);
  d.add(u.working_directory);
  d.add(u.user);
  d.add(u.group);
  d.add(u.limits.memory_max);
  d.add(u.limits.memory_high);
  d.add(u.limits.cpu_quota ? std::optional<std::uint64_t>(*u.limits.cpu_quota) : std::nullopt);
  d.add(u.limits.cpu_weight);
  d.add(u.limits.tasks_max);
  d.add(u.limits.io_weight);
  d.add(static_cast<std::uint64_t>(u.kill_signal));
  d.add(static_cast<std::uint64_t>(u.timeout_stop.count()));
  d.add(static_cast<std::uint64_t>(u.timeout_start.count()));
  d.add(u.notify ? 1 : 0);
  d.add(u.watchdog ? std::optional<std::uint64_t>(u.watchdog->count()) : std::nullopt);
  // Fields added after the first release are digested only when set to something other
  // than their default, so that units started by an older vigild keep their fingerprint
  // and are adopted, not restarted, after an upgrade.
  const auto tagged = [&d](std::string_view tag, std::uint64_t a, std::uint64_t b) {
    d.add(tag);
    d.add(a);
    d.add(b);
  };
  if (u.limits.runtime_max)
    tagged("runtime_max", static_cast<std::uint64_t>(u.limits.runtime_max->count()), 0);
  if (u.limits.nofile) tagged("nofile", u.limits.nofile->soft, u.limits.nofile->hard);
  if (u.limits.core) tagged("core", u.limits.core->soft, u.limits.core->hard);
  if (u.notify && u.notify_access != NotifyAccess::All)
    tagged("notify_access", static_cast<std::uint64_t>(u.notify_access), 0);
  return d.hex();
}

}  // namespace vigil::core
