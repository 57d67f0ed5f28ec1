#include "doctor/Doctor.h"

#include <cstdlib>

#include <fmt/format.h>

namespace vigil::doctor {

namespace {

Check make(const char* name, Verdict v, std::string detail, std::string fix = "") {
  return Check{name, v, std::move(detail), v == Verdict::Ok ? std::string() : std::move(fix)};
}

std::string seconds(std::uint64_t usec) {
  return fmt::format("{:.1f}s", static_cast<double>(usec) / 1e6);
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

// The major version of Manager.Version ("252.38-1~deb12u1" -> 252, "v255" -> 255), or -1.
int systemdMajor(const std::string& version) {
  std::size_t i = 0;
  while (i < version.size() && (version[i] < '0' || version[i] > '9')) i++;
  if (i == version.size()) return -1;
  return std::atoi(version.c_str() + i);
}

Check checkSystemd(const Facts& f) {
  if (f.systemd_version.empty())
    return make("systemd", Verdict::Fail, "the version of PID 1 could not be read",
                "vigil runs under systemd as PID 1 (>= 252); see the dbus check");
  const int major = systemdMajor(f.systemd_version);
  if (major < kMinSystemd)
    return make("systemd", Verdict::Fail,
                fmt::format("systemd {} is older than {}", f.systemd_version, kMinSystemd),
                "upgrade to Debian 12 (systemd 252) or newer");
  return make("systemd", Verdict::Ok,
              fmt::format("systemd {} (>= {})", f.systemd_version, kMinSystemd));
}

Check checkCgroup(const Facts& f) {
  if (f.cgroup2)
    return make("cgroup2", Verdict::Ok,
                fmt::format("unified hierarchy (cgroup2fs at {})", f.cgroup_root));
  return make("cgroup2", Verdict::Fail,
              fmt::format("{} is {}, not the cgroup v2 unified hierarchy", f.cgroup_root,
                          f.cgroup_fs.empty() ? "unreadable" : f.cgroup_fs),
              "boot in unified mode, Debian 12's default: remove "
              "systemd.unified_cgroup_hierarchy=0 and systemd.legacy_systemd_cgroup_controller "
              "from GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub and reboot");
}

Check checkControllers(const Facts& f) {
  if (!f.cgroup2)
    return make("controllers", Verdict::Skip, "no cgroup v2 hierarchy", "see cgroup2");
  const auto& have = f.slice_exists ? f.slice_controllers : f.root_controllers;
  std::vector<std::string> missing;
  for (const char* c : kControllers)
    if (!have.count(c)) missing.push_back(c);
  const std::string where = f.slice_exists ? f.cgroup_root + "/vigil.slice" : f.cgroup_root;
  if (missing.empty()) {
    return make("controllers", Verdict::Ok,
                f.slice_exists
                    ? "cpu, io, memory and pids are delegated to vigil.slice"
                    : "cpu, io, memory and pids are available (vigil.slice not created yet)");
  }
  // Offered by the kernel (at the root) but not enabled down to the slice: systemd enables
  // a controller on a slice when the slice or a unit below it asks for it (vigil.slice sets
  // the four *Accounting=). Not offered at all: the kernel's doing.
  std::vector<std::string> offered, absent;
  for (const auto& m : missing) (f.root_controllers.count(m) ? offered : absent).push_back(m);
  if (absent.empty()) {
    return make("controllers", Verdict::Fail,
                fmt::format("not delegated to vigil.slice: {} (cgroup.controllers of {})",
                            join(missing), where),
                "vigil.slice enables them (CPUAccounting=, IOAccounting=, "
                "MemoryAccounting=, TasksAccounting=yes in /lib/systemd/system/"
                "vigil.slice): remove the drop-in that turns them off (systemctl cat "
                "vigil.slice), then systemctl daemon-reload; workers started since have "
                "their limits enforced");
  }
  return make(
      "controllers", Verdict::Fail,
      fmt::format(
          "the kernel does not offer: {} (cgroup.controllers of {}){}", join(absent), f.cgroup_root,
          offered.empty() ? std::string() : "; not delegated to vigil.slice: " + join(offered)),
      "a cgroup_disable= or cgroup_no_v1= option on the kernel command line, or a "
      "kernel without these controllers: limits of that kind cannot be enforced");
}

Check checkPsi(const Facts& f) {
  if (!f.psi_host) {
    return make(
        "psi", Verdict::Warn,
        fmt::format("pressure stall information is off ({}): no pressure metrics, "
                    "no pressure alerts",
                    f.psi_host_error.empty() ? "/proc/pressure unreadable" : f.psi_host_error),
        "add psi=1 to GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub and "
        "reboot (Debian kernels build PSI in, off by default)");
  }
  if (f.psi_slice && !*f.psi_slice)
    return make("psi", Verdict::Warn,
                "the host has PSI, but vigil.slice/memory.pressure is unreadable",
                "check the cgroup mount options and the kernel's cgroup PSI support");
  return make("psi", Verdict::Ok,
              f.psi_slice ? "pressure stall information for the host and vigil.slice"
                          : "pressure stall information for the host");
}

Check checkBus(const Facts& f) {
  if (!f.bus_connected)
    return make("dbus", Verdict::Fail, f.bus_error,
                "systemctl status dbus.service; vigil drives systemd over the system bus");
  if (!f.pid1_answered)
    return make("dbus", Verdict::Fail, f.bus_error,
                "PID 1 is not on the system bus: is the host booted with systemd? "
                "`systemctl status` must work");
  return make("dbus", Verdict::Ok,
              fmt::format("system bus reachable, PID 1 answered in {:.1f} ms",
                          static_cast<double>(f.ping_usec) / 1e3));
}

Check checkClock(const Facts& f) {
  if (f.not_before_realtime_usec > 0 && f.realtime_usec < f.not_before_realtime_usec)
    return make("clock", Verdict::Fail,
                "the system clock is set before this vigil was built: restart times, "
                "persisted backoff deadlines and event times are wrong",
                "set the time: timedatectl set-ntp true (or date -s), then restart vigild");
  if (!f.clock_synchronized)
    return make("clock", Verdict::Warn, "the kernel's clock state could not be read (adjtimex)",
                "check the time with timedatectl");
  if (!*f.clock_synchronized)
    return make("clock", Verdict::Warn,
                "the system clock is not synchronised (adjtimex: STA_UNSYNC): event times may "
                "drift from the rest of the fleet",
                "enable a time service: timedatectl set-ntp true (systemd-timesyncd) or chrony");
  return make("clock", Verdict::Ok, "synchronised (adjtimex)");
}

bool vigildUp(const Facts& f) {
  return f.api_reachable && f.vigild.has_value();
}

Check checkVigild(const Facts& f) {
  if (!f.unit_known && !f.pid1_answered)
    return make("vigild", Verdict::Skip, "PID 1 could not be asked", "see dbus");
  if (!f.unit_known || f.unit_load_state == "not-found")
    return make("vigild", Verdict::Fail, "vigild.service is not installed",
                "apt-get install ./vigil_*.deb (from a checkout: scripts/setup-vigil --deb ...)");
  if (f.unit_active_state != "active" && f.unit_active_state != "reloading") {
    return make(
        "vigild", Verdict::Fail,
        fmt::format(
            "vigild.service is {} ({}{})", f.unit_active_state, f.unit_sub_state,
            f.unit_result.empty() || f.unit_result == "success" ? "" : ", result " + f.unit_result),
        "systemctl start vigil.target; if it fails: journalctl -b -u vigild");
  }
  if (!vigildUp(f))
    return make("vigild", Verdict::Fail,
                fmt::format("vigild.service is active (pid {}) but its API does not answer: {}",
                            f.unit_main_pid, f.api_error),
                "journalctl -b -u vigild; busctl status org.vigil.Vigil1");
  const auto& v = *f.vigild;
  if (!v.ready)
    return make("vigild", Verdict::Warn,
                fmt::format("vigild {} (pid {}) is starting: the first start of its trees has "
                            "not settled",
                            v.version, v.pid),
                "wait, then vigilctl status");
  return make("vigild", Verdict::Ok,
              fmt::format("vigild {} running and ready (pid {}, configuration generation {})",
                          v.version, v.pid, v.config_generation));
}

Check checkConfig(const Facts& f) {
  if (!f.config_checked) return make("config", Verdict::Skip, "no configuration file to check", "");
  if (!f.config_errors.empty()) {
    return make("config", Verdict::Fail,
                fmt::format("{}: {} error(s), first: {}", f.config_file, f.config_errors.size(),
                            f.config_errors.front()),
                fmt::format("vigild --check-config {} shows every error; fix them, then "
                            "systemctl reload vigild",
                            f.config_file));
  }
  if (vigildUp(f) && !f.vigild->config_fallback.empty()) {
    return make("config", Verdict::Fail,
                "vigild supervises with the last good configuration: " + f.vigild->config_fallback,
                "the file is valid now: systemctl reload vigild");
  }
  if (vigildUp(f) && f.vigild->last_reload.result == "rejected") {
    return make("config", Verdict::Warn,
                fmt::format("{} is valid, but vigild's last reload was rejected: what runs is "
                            "an older version of it",
                            f.config_file),
                "systemctl reload vigild (or vigilctl reload)");
  }
  return make(
      "config", f.config_warnings ? Verdict::Warn : Verdict::Ok,
      fmt::format(
          "{}: valid (tier {}{}, {} tree(s){})", f.config_file, f.config_tier,
          f.config_tier_source.empty() ? "" : " from " + f.config_tier_source, f.config_trees,
          f.config_warnings ? fmt::format(", {} warning(s)", f.config_warnings) : std::string()),
      fmt::format("vigild --check-config {} shows the warnings", f.config_file));
}

Check checkTrees(const Facts& f) {
  if (!vigildUp(f)) return make("trees", Verdict::Skip, "vigild does not answer", "see vigild");
  if (!f.status_error.empty())
    return make("trees", Verdict::Fail, "vigild's status could not be read: " + f.status_error,
                "vigilctl status; journalctl -b -u vigild");
  std::vector<std::string> bad;
  std::size_t roots = 0;
  for (const auto& s : f.supervisors) {
    if (s.path.find('/') != std::string::npos) continue;
    roots++;
    if (s.state != "running")
      bad.push_back(s.path + ": " + s.state + (s.failure.empty() ? "" : " (" + s.failure + ")"));
  }
  if (!bad.empty()) {
    return make("trees", Verdict::Fail,
                fmt::format("{} of {} tree(s) not running: {}", bad.size(), roots, join(bad, "; ")),
                "vigilctl status TREE and vigilctl events TREE say why; after the fix, "
                "vigilctl reset TREE (a failed tree) or wait for its restart");
  }
  if (f.vigild->trees_failed > 0)  // a tree that failed between the two answers
    return make("trees", Verdict::Fail,
                fmt::format("{} tree(s) failed (vigild's count)", f.vigild->trees_failed),
                "vigilctl status; vigilctl events");
  if (roots == 0) return make("trees", Verdict::Ok, "no tree configured");
  return make("trees", Verdict::Ok, fmt::format("{} tree(s) running", roots));
}

Check checkWatchdog(const Facts& f) {
  if (!f.unit_known || f.unit_active_state != "active")
    return make("watchdog", Verdict::Skip, "vigild.service is not running", "see vigild");
  if (f.watchdog_usec == 0)
    return make("watchdog", Verdict::Warn,
                "vigild.service has no watchdog (WatchdogUSec=0): a hung vigild is not restarted",
                "remove the drop-in that sets WatchdogSec=0 (systemctl cat vigild.service)");
  const std::uint64_t age = f.watchdog_timestamp_monotonic_usec &&
                                    f.monotonic_now_usec >= f.watchdog_timestamp_monotonic_usec
                                ? f.monotonic_now_usec - f.watchdog_timestamp_monotonic_usec
                                : 0;
  if (f.watchdog_timestamp_monotonic_usec == 0 || age > f.watchdog_usec) {
    return make("watchdog", Verdict::Fail,
                fmt::format("no keep-alive from vigild within its watchdog period ({}; last {})",
                            seconds(f.watchdog_usec),
                            f.watchdog_timestamp_monotonic_usec ? seconds(age) + " ago" : "never"),
                "vigild is stuck or cannot reach PID 1; systemd restarts it at the deadline: "
                "journalctl -b -u vigild");
  }
  if (f.unit_result == "watchdog" || f.unit_n_restarts > 0) {
    return make("watchdog", Verdict::Warn,
                fmt::format("kept alive (last {} ago, period {}), but vigild.service was "
                            "restarted {} time(s) this boot{}",
                            seconds(age), seconds(f.watchdog_usec), f.unit_n_restarts,
                            f.unit_result == "watchdog" ? ", last by its watchdog" : ""),
                "journalctl -b -u vigild shows why");
  }
  return make("watchdog", Verdict::Ok,
              fmt::format("WatchdogSec={}, last keep-alive {} ago", seconds(f.watchdog_usec),
                          seconds(age)));
}

}  // namespace

const char* toString(Verdict v) {
  switch (v) {
    case Verdict::Ok:
      return "ok";
    case Verdict::Warn:
      return "warn";
    case Verdict::Fail:
      return "fail";
    case Verdict::Skip:
      return "skip";
  }
  return "skip";
}

std::vector<Check> evaluate(const Facts& f) {
  return {checkSystemd(f), checkCgroup(f), checkControllers(f), checkPsi(f),   checkBus(f),
          checkClock(f),   checkVigild(f), checkConfig(f),      checkTrees(f), checkWatchdog(f)};
}

bool passed(const std::vector<Check>& checks) {
  for (const auto& c : checks)
    if (c.verdict == Verdict::Fail) return false;
  return true;
}

std::string formatText(const std::vector<Check>& checks, bool color) {
  std::string out;
  for (const auto& c : checks) {
    const char* on = "";
    if (color) {
      switch (c.verdict) {
        case Verdict::Ok:
          on = "\033[32m";
          break;
        case Verdict::Warn:
          on = "\033[33m";
          break;
        case Verdict::Fail:
          on = "\033[1;31m";
          break;
        case Verdict::Skip:
          on = "\033[2m";
          break;
      }
    }
    out += fmt::format("{}{:<4}{}  {:<11}  {}\n", on, toString(c.verdict), color ? "\033[0m" : "",
                       c.name, c.detail);
    if (!c.fix.empty() && (c.verdict == Verdict::Warn || c.verdict == Verdict::Fail))
      out += fmt::format("      {:<11}  fix: {}\n", "", c.fix);
  }
  return out;
}

nlohmann::json toJson(const std::vector<Check>& checks) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& c : checks)
    arr.push_back(
        {{"name", c.name}, {"verdict", toString(c.verdict)}, {"detail", c.detail}, {"fix", c.fix}});
  return {{"ok", passed(checks)}, {"checks", std::move(arr)}};
}

}  // namespace vigil::doctor
