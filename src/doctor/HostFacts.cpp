#include "doctor/HostFacts.h"

#include <sys/statfs.h>
#include <sys/timex.h>
#include <time.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <linux/magic.h>

#include "api/ApiClient.h"
#include "config/ConfigLoader.h"
#include "systemd/ManagerProbe.h"
#include "util/BuildInfo.h"

namespace vigil::doctor {

namespace {

std::set<std::string> words(const std::filesystem::path& file) {
  std::set<std::string> out;
  std::ifstream in(file);
  std::string w;
  while (in >> w) out.insert(w);
  return out;
}

// Reads `file` whole; the errno text on failure (a PSI file of a kernel booted with psi=0
// opens but fails to read with EOPNOTSUPP).
std::optional<std::string> readError(const std::filesystem::path& file) {
  std::FILE* f = std::fopen(file.c_str(), "re");
  if (!f) return std::string(std::strerror(errno));
  char buf[512];
  const std::size_t n = std::fread(buf, 1, sizeof buf, f);
  const bool failed = n == 0 && std::ferror(f);
  const int e = errno;
  std::fclose(f);
  if (failed) return std::string(std::strerror(e));
  return std::nullopt;
}

// The value of the last `key=` line of a systemd EnvironmentFile= (systemd.exec(5): one
// assignment per line, '#' and ';' comments, a value in double or single quotes), if any.
std::optional<std::string> environmentFileValue(const std::filesystem::path& file,
                                                const std::string& key) {
  std::ifstream in(file);
  std::optional<std::string> value;
  std::string line;
  while (std::getline(in, line)) {
    const auto b = line.find_first_not_of(" \t");
    if (b == std::string::npos || line[b] == '#' || line[b] == ';') continue;
    if (line.compare(b, key.size() + 1, key + "=") != 0) continue;
    std::string v = line.substr(b + key.size() + 1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r')) v.pop_back();
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
      v = v.substr(1, v.size() - 2);
    value = v;
  }
  return value;
}

std::int64_t realtimeUsec() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

}  // namespace

Facts gather(const GatherOptions& o) {
  Facts f;
  f.cgroup_root = o.cgroup_root.string();
  struct statfs sfs {};
  if (statfs(o.cgroup_root.c_str(), &sfs) != 0) {
    f.cgroup_fs = std::strerror(errno);
  } else if (sfs.f_type == CGROUP2_SUPER_MAGIC) {
    f.cgroup2 = true;
    f.cgroup_fs = "cgroup2fs";
  } else if (sfs.f_type == TMPFS_MAGIC) {
    f.cgroup_fs = "tmpfs (hybrid or legacy cgroup v1)";
  } else {
    f.cgroup_fs = "not a cgroup file system";
  }
  if (f.cgroup2) {
    f.root_controllers = words(o.cgroup_root / "cgroup.controllers");
    const auto slice = o.cgroup_root / "vigil.slice";
    std::error_code ec;
    f.slice_exists = std::filesystem::is_directory(slice, ec);
    if (f.slice_exists) {
      f.slice_controllers = words(slice / "cgroup.controllers");
      f.psi_slice = !readError(slice / "memory.pressure").has_value();
    }
  }
  if (auto err = readError(o.proc_root / "pressure" / "memory")) {
    f.psi_host_error = *err;
  } else {
    f.psi_host = true;
  }
  if (!f.psi_host) f.psi_slice.reset();

  timex tx{};  // modes 0: read only
  const int state = adjtimex(&tx);
  if (state >= 0) f.clock_synchronized = state != TIME_ERROR && !(tx.status & STA_UNSYNC);
  f.realtime_usec = realtimeUsec();
  f.not_before_realtime_usec = util::kBuildEpochSeconds * 1000000;

  const auto m = systemd::probeManager(o.service, o.timeout, o.bus_address);
  f.bus_connected = m.bus_connected;
  f.pid1_answered = m.pid1_answered;
  f.bus_error = m.bus_error;
  f.ping_usec = static_cast<std::uint64_t>(m.ping_time.count());
  f.systemd_version = m.version;
  if (m.service) {
    f.unit_known = true;
    f.unit_load_state = m.service->load_state;
    f.unit_active_state = m.service->active_state;
    f.unit_sub_state = m.service->sub_state;
    f.unit_result = m.service->result;
    f.unit_main_pid = m.service->main_pid;
    f.unit_n_restarts = m.service->n_restarts;
    f.watchdog_usec = m.service->watchdog_usec;
    f.watchdog_timestamp_monotonic_usec = m.service->watchdog_timestamp_monotonic_usec;
    f.monotonic_now_usec = m.monotonic_now_usec;
  }

  if (f.bus_connected && (f.unit_active_state == "active" || f.unit_active_state == "reloading")) {
    auto client = api::ApiClient::connect("", o.bus_address);
    if (!client) {
      f.api_error = client.error().message();
    } else if (auto info = (*client)->info(); !info) {
      f.api_error = info.error().message();
    } else {
      f.api_reachable = true;
      f.vigild = *info;
      if (auto snap = (*client)->status(""); snap) {
        f.supervisors = snap->supervisors;
      } else {
        f.status_error = snap.error().message();
      }
    }
  }

  f.config_file = !o.config_file.empty()                  ? o.config_file.string()
                  : f.vigild && !f.vigild->config.empty() ? f.vigild->config
                                                          : std::string("/etc/vigil/vigil.yaml");
  config::LoadOptions lo;
  lo.tier_dirs = o.tier_dirs.empty() ? config::defaultTierDirs(f.config_file) : o.tier_dirs;
  lo.tier_override = o.tier_override;
  if (!lo.tier_override && !o.environment_file.empty()) {
    if (auto tier = environmentFileValue(o.environment_file, "VIGIL_TIER");
        tier && !tier->empty()) {
      lo.tier_override = *tier;
      f.config_tier_source = "VIGIL_TIER in " + o.environment_file.string();
    }
  } else if (lo.tier_override) {
    f.config_tier_source = "VIGIL_TIER in the environment";
  }
  lo.host_checks = config::HostChecks::Error;
  config::ConfigErrors warnings;
  const auto cfg = config::loadConfig(f.config_file, lo, &warnings);
  f.config_checked = true;
  f.config_warnings = warnings.size();
  if (!cfg) {
    for (const auto& e : cfg.error()) f.config_errors.push_back(e.format());
  } else {
    f.config_trees = cfg->trees.size();
    f.config_tier = cfg->tier;
  }
  return f;
}

}  // namespace vigil::doctor
