#pragma once
// The host's totals beside the cgroups' figures (issue 9: "host totals from /proc/stat,
// /proc/meminfo, /proc/pressure/*"), read by the sampler once per sweep, from a root that
// tests replace ("/proc" on a host).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "cgroup/CgroupParsers.h"
#include "util/Result.h"

namespace vigil::cgroup {

struct HostStats {
  // /proc/stat's "cpu" line (all CPUs summed), converted from USER_HZ ticks to usec.
  std::uint64_t cpu_user_usec = 0;    // user + nice
  std::uint64_t cpu_system_usec = 0;  // system + irq + softirq
  std::uint64_t cpu_idle_usec = 0;
  std::uint64_t cpu_iowait_usec = 0;
  std::uint64_t cpu_steal_usec = 0;
  std::uint32_t cpus = 0;  // "cpuN" lines
  // /proc/meminfo, in bytes.
  std::uint64_t memory_total_bytes = 0;
  std::uint64_t memory_available_bytes = 0;
  std::uint64_t swap_total_bytes = 0;
  std::uint64_t swap_free_bytes = 0;
  // /proc/pressure/*: nullopt when PSI is off (the files are missing, or EOPNOTSUPP).
  std::optional<Pressure> cpu_pressure;
  std::optional<Pressure> memory_pressure;
  std::optional<Pressure> io_pressure;
};

// Reads `proc_root`/stat, meminfo and pressure/{cpu,memory,io} into `out`, using `buffer`.
// `ticks_per_sec` is USER_HZ (sysconf(_SC_CLK_TCK), 100 on Linux). Errors name the file:
// a missing stat or meminfo, a malformed line.
util::Result<void> readHostStats(const std::filesystem::path& proc_root,
                                 long ticks_per_sec,
                                 HostStats& out,
                                 std::string& buffer);

// The parsers, for tests: "/proc/stat" and "/proc/meminfo" contents.
util::Result<void> parseProcStat(std::string_view content, long ticks_per_sec, HostStats& out);
util::Result<void> parseMeminfo(std::string_view content, HostStats& out);

}  // namespace vigil::cgroup
