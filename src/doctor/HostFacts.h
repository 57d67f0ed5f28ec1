#pragma once
// Reads the facts the doctor's checks judge (doctor/Doctor.h) from this host: the cgroup v2
// mount, /proc/pressure, the kernel's clock state, PID 1 over the system bus, vigild's API
// and the configuration file. Run as root for the complete picture; as another user every
// check but the configuration's host lookups reads the same.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "doctor/Doctor.h"

namespace vigil::doctor {

struct GatherOptions {
  std::filesystem::path cgroup_root = "/sys/fs/cgroup";
  std::filesystem::path proc_root = "/proc";
  // The file to check; empty: the one vigild reports (when it answers), else
  // /etc/vigil/vigil.yaml.
  std::filesystem::path config_file;
  std::vector<std::filesystem::path> tier_dirs;  // empty: config::defaultTierDirs(file)
  // $VIGIL_TIER of the caller; when unset, the VIGIL_TIER= line of `environment_file`
  // (vigild.service's EnvironmentFile=), so that the file is checked with the tier vigild
  // loads it with.
  std::optional<std::string> tier_override;
  std::filesystem::path environment_file = "/etc/default/vigil";
  std::string service = "vigild.service";
  std::string bus_address;  // tests: a bus instead of the system bus
  // Each bus call's bound: a host whose PID 1 does not answer within it fails "dbus".
  std::chrono::microseconds timeout = std::chrono::seconds(5);
};

// Never fails: what cannot be read is a fact too (an error text, an empty optional).
Facts gather(const GatherOptions& options);

}  // namespace vigil::doctor
