#pragma once
// Read-only access to cgroup v2 statistics of a unit's cgroup. vigild never writes cgroupfs:
// systemd is the single writer, limits are set through unit properties.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
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
  // memory.stat (Detail::Full): anonymous and page-cache bytes.
  std::optional<std::uint64_t> memory_anon;
  std::optional<std::uint64_t> memory_file;

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

// What to read (cgroup.events, last, always).
// Status: what `vigilctl status` showed before the sampler: memory.current, memory.events,
//   pids.current, cpu.stat (5 files).
// Sweep: what changes between the sampler's sweeps: Status's, memory.stat, io.stat and the
//   three *.pressure files (10 files). Limits (memory.max, memory.high, pids.max, cpu.max)
//   change only when systemd sets the unit's properties, so the sampler reads them with
//   Full now and then (MetricsSampler::kLimitsEvery), not every sweep; memory.peak and
//   pids.events are not exported.
// Full: every file of CgroupStats (16 files).
// Fields of files not read are left at their defaults (nullopt/0).
enum class Detail { Status, Sweep, Full };

// One cgroup's directory, kept open to be read again and again (the sampler keeps one per
// worker and slice, as issue 9 asks: a directory fd per cgroup, files opened relative to it).
// Each read opens the interface files with openat, reads them into a buffer the caller
// reuses and closes them; the directory stays open. Reading allocates nothing once the
// buffer has grown to the largest file (4 KiB covers every file but io.stat on a host with
// many devices) and unless it fails.
//
// A unit that restarts gets a new cgroup under the same path: this directory then reads as
// gone, and the caller opens the path anew.
class CgroupDirectory {
 public:
  // `cgroup` is a unit's ControlGroup property, e.g.
  // "/vigil.slice/vigil-web.slice/vigil-web-api.service", resolved below `root`.
  // nullopt (inside the Result) when it does not exist (ENOENT/ENODEV). Errors: a path that
  // is relative, contains "..", a NUL, or names the root cgroup (EINVAL); any other
  // failure to open the directory, naming it (EACCES, ENOTDIR ...).
  static util::Result<std::optional<CgroupDirectory>> open(const std::filesystem::path& root,
                                                           std::string_view cgroup);
  CgroupDirectory(CgroupDirectory&& other) noexcept;
  CgroupDirectory& operator=(CgroupDirectory&& other) noexcept;
  CgroupDirectory(const CgroupDirectory&) = delete;
  CgroupDirectory& operator=(const CgroupDirectory&) = delete;
  ~CgroupDirectory();

  // Reads the files of `detail` into `out` (every field is set: a file that does not exist
  // leaves its field nullopt/0, see CgroupStats), using `buffer` for the content.
  // Returns false when the cgroup is gone: removed before or during the read (a file fails
  // with ENODEV, or cgroup.events is missing; it is read last so that a removal anywhere
  // during the read is seen), and then `out` is not a snapshot of anything.
  // Errors, naming the file ("<path>/<file>: ..."): I/O failures other than those (EACCES,
  // EISDIR ...), a file larger than 1 MiB (EFBIG), malformed content (EINVAL/ERANGE, see
  // CgroupParsers.h).
  util::Result<bool> read(CgroupStats& out, Detail detail, std::string& buffer);

  // The directory's path (root + cgroup).
  std::string_view path() const;

 private:
  CgroupDirectory(int fd, std::string path);
  util::Result<std::optional<std::string_view>> readFile(std::string_view name,
                                                         bool unsupported_is_missing,
                                                         std::string& buffer);

  int fd_ = -1;
  // "<path>/" then the file being read: the name for errors, kept with room for the longest
  // file name so that naming a file allocates nothing.
  std::string file_path_;
  std::size_t dir_len_ = 0;
  bool gone_ = false;
};

class CgroupReader {
 public:
  explicit CgroupReader(std::filesystem::path root = "/sys/fs/cgroup");

  using Detail = cgroup::Detail;

  // One read of `cgroup` (see CgroupDirectory::open): opens its directory, reads it once,
  // closes it. std::nullopt (inside the Result) when the cgroup does not exist or vanished
  // mid-read: a unit that just stopped is normal, not an error. Errors: those of
  // CgroupDirectory::open and CgroupDirectory::read.
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
