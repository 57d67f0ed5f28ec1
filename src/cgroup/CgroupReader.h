#pragma once
// Read-only access to cgroup v2 statistics of a unit's cgroup. vigild never writes cgroupfs:
// systemd is the single writer, limits are set through unit properties.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>

#include "cgroup/CgroupParsers.h"
#include "util/Result.h"

namespace vigil::cgroup {

// A snapshot of one cgroup. Files are read one after another, not atomically.
//
// An interface file that does not exist leaves its field at nullopt/0: the controller is not
// enabled for the cgroup (no cpu.max unless systemd enabled the cpu controller), the kernel
// predates the file (memory.peak < 5.19), or PSI is off. For limits that reads the same as "max":
// no limit is enforced by this cgroup.
struct CgroupStats {
  std::optional<std::uint64_t> memory_current;
  std::optional<std::uint64_t> memory_max;   // nullopt: "max"
  std::optional<std::uint64_t> memory_high;  // nullopt: "max"
  std::optional<std::uint64_t> memory_peak;
  // memory.events (hierarchical: includes descendants).
  std::uint64_t memory_events_high = 0;
  std::uint64_t memory_events_max = 0;
  std::uint64_t memory_events_oom = 0;
  std::uint64_t memory_events_oom_kill = 0;

  std::optional<std::uint64_t> pids_current;
  std::optional<std::uint64_t> pids_max;  // nullopt: "max"
  std::uint64_t pids_events_max = 0;      // forks refused by pids.max

  // cpu.stat. nr_* and throttled_usec exist only with the cpu controller enabled.
  std::uint64_t cpu_usage_usec = 0;
  std::uint64_t cpu_user_usec = 0;
  std::uint64_t cpu_system_usec = 0;
  std::uint64_t cpu_nr_periods = 0;
  std::uint64_t cpu_nr_throttled = 0;
  std::uint64_t cpu_throttled_usec = 0;
  // cpu.max: quota nullopt for "max".
  std::optional<std::uint64_t> cpu_max_quota_usec;
  std::uint64_t cpu_max_period_usec = 100000;

  // io.stat summed over devices.
  std::uint64_t io_rbytes = 0;
  std::uint64_t io_wbytes = 0;
  std::uint64_t io_rios = 0;
  std::uint64_t io_wios = 0;

  // *.pressure; nullopt when the file is missing or reading it fails with EOPNOTSUPP.
  std::optional<Pressure> cpu_pressure;
  std::optional<Pressure> memory_pressure;
  std::optional<Pressure> io_pressure;

  bool populated = false;  // cgroup.events: a process lives in the cgroup or below
};

class CgroupReader {
 public:
  explicit CgroupReader(std::filesystem::path root = "/sys/fs/cgroup");

  // `cgroup` is a unit's ControlGroup property, e.g.
  // "/vigil.slice/vigil-web.slice/vigil-web-api.service", resolved below root().
  //
  // Returns std::nullopt (inside the Result) when the cgroup does not exist or vanished
  // mid-read (ENOENT/ENODEV): a unit that just stopped is normal, not an error. cgroup.events
  // is read last through the same directory handle as the other files and must exist (every
  // non-root cgroup has it), so a removal anywhere during the read yields nullopt rather than
  // a half-filled snapshot; a directory without cgroup.events also reads as nullopt.
  //
  // Errors (naming the file, "<path>: ..."): a path that is relative, contains "..", a NUL,
  // or names the root cgroup (it has no cgroup.events and no unit stats) (EINVAL); I/O
  // failures other than the above (EACCES, EISDIR ...); malformed content (EINVAL/ERANGE, see
  // CgroupParsers.h).
  //
  // Detail::Status reads only what `vigilctl status` shows (memory.current, memory.events,
  // pids.current, cpu.stat, then cgroup.events): 5 files instead of 15, for the sampler.
  enum class Detail { Status, Full };
  util::Result<std::optional<CgroupStats>> read(std::string_view cgroup,
                                                Detail detail = Detail::Full) const;

  // Checks that root() is a cgroup2 mount (statfs f_type == CGROUP2_SUPER_MAGIC). Separate
  // from the constructor so tests can point the reader at a plain directory. ENOTSUP when it
  // is something else (e.g. the tmpfs of a hybrid v1 layout).
  util::Result<void> validateCgroup2Mount() const;

  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
};

}  // namespace vigil::cgroup
