#include "cgroup/CgroupReader.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace vigil::cgroup {

namespace {

// Interface files are a few KiB at most (io.stat grows by one line per device); anything
// bigger is not a cgroup file and is not worth buffering.
constexpr std::size_t kMaxFileSize = 1 << 20;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// "/a//b/./c" -> "a/b/c". Rejects what could leave the root or means the root itself.
util::Result<std::string> relativeCgroupPath(std::string_view cgroup) {
  auto invalid = [&](std::string_view why) {
    return util::fail(fmt::format("invalid cgroup path '{}': {}", cgroup, why), EINVAL);
  };
  if (cgroup.find('\0') != std::string_view::npos) return invalid("contains a NUL byte");
  if (!cgroup.starts_with('/')) return invalid("must start with '/'");
  std::string relative;
  std::size_t start = 0;
  while (start <= cgroup.size()) {
    std::size_t slash = cgroup.find('/', start);
    if (slash == std::string_view::npos) slash = cgroup.size();
    const std::string_view part = cgroup.substr(start, slash - start);
    start = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return invalid("contains '..'");
    if (!relative.empty()) relative += '/';
    relative += part;
  }
  if (relative.empty()) return invalid("the root cgroup has no unit statistics");
  return relative;
}

// The open cgroup directory. Files are opened relative to it, so a cgroup removed and
// re-created under the same name mid-read (a unit restart) is not mixed into the snapshot:
// the old directory's files simply stop being found.
class CgroupDir {
 public:
  CgroupDir(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

  std::string path(std::string_view name) const { return fmt::format("{}/{}", path_, name); }

  // Whether ENODEV was seen: the kernel removed the cgroup under an open file.
  bool gone() const { return gone_; }

  // The whole content of `name`, or nullopt if it does not exist (or the cgroup went away,
  // see gone()). EOPNOTSUPP also counts as "does not exist" if `unsupported_is_missing`.
  util::Result<std::optional<std::string>> read(std::string_view name,
                                                bool unsupported_is_missing) {
    const std::string file(name);
    const Fd fd(::openat(fd_.get(), file.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return absentOrError(errno, name, unsupported_is_missing);
    std::string content;
    char buf[4096];
    while (true) {
      const ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return absentOrError(errno, name, unsupported_is_missing);
      if (n == 0) break;
      content.append(buf, static_cast<std::size_t>(n));
      if (content.size() > kMaxFileSize) {
        return util::fail(fmt::format("{}: larger than {} bytes", path(name), kMaxFileSize), EFBIG);
      }
    }
    return content;
  }

 private:
  util::Result<std::optional<std::string>> absentOrError(int err,
                                                         std::string_view name,
                                                         bool unsupported_is_missing) {
    if (err == ENODEV) gone_ = true;
    if (err == ENOENT || err == ENODEV || (unsupported_is_missing && err == EOPNOTSUPP)) {
      return std::optional<std::string>();
    }
    return util::sysFail(err, path(name));
  }

  Fd fd_;
  std::string path_;
  bool gone_ = false;
};

std::uint64_t valueOrZero(const FlatKeyed& map, std::string_view key) {
  const auto it = map.find(key);
  return it == map.end() ? 0 : it->second;
}

// Adapts a parser to "store the parsed value into the snapshot".
template <typename Parser, typename Store>
auto into(Parser parse, Store store) {
  return [parse, store](std::string_view content, const std::string& file) -> util::Result<void> {
    return parse(content, file).map(store);
  };
}

}  // namespace

CgroupReader::CgroupReader(std::filesystem::path root) : root_(std::move(root)) {}

util::Result<std::optional<CgroupStats>> CgroupReader::read(std::string_view cgroup,
                                                            Detail detail) const {
  auto relative = relativeCgroupPath(cgroup);
  if (!relative) return tl::unexpected(std::move(relative.error()));
  const std::string dir_path = (root_ / *relative).string();
  const int dir_fd = ::open(dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    if (errno == ENOENT || errno == ENODEV) return std::optional<CgroupStats>();
    return util::sysFail(errno, dir_path);
  }
  CgroupDir dir(dir_fd, dir_path);

  CgroupStats s;
  auto limit = [](std::optional<std::uint64_t>& field) {
    return into(parseLimit, [&field](std::optional<std::uint64_t> v) { field = v; });
  };
  auto value = [](std::optional<std::uint64_t>& field) {
    return into(parseValue, [&field](std::uint64_t v) { field = v; });
  };
  auto pressure = [](std::optional<Pressure>& field) {
    return into(parsePressure, [&field](Pressure p) { field = p; });
  };
  struct Step {
    std::string_view file;
    bool unsupported_is_missing;
    bool status;  // read with Detail::Status too
    std::function<util::Result<void>(std::string_view, const std::string&)> parse;
  };
  const Step steps[] = {
      {"memory.current", false, true, value(s.memory_current)},
      {"memory.max", false, false, limit(s.memory_max)},
      {"memory.high", false, false, limit(s.memory_high)},
      {"memory.peak", false, false, value(s.memory_peak)},
      {"memory.events", false, true,
       into(parseFlatKeyed,
            [&s](const FlatKeyed& m) {
              s.memory_events_high = valueOrZero(m, "high");
              s.memory_events_max = valueOrZero(m, "max");
              s.memory_events_oom = valueOrZero(m, "oom");
              s.memory_events_oom_kill = valueOrZero(m, "oom_kill");
            })},
      {"pids.current", false, true, value(s.pids_current)},
      {"pids.max", false, false, limit(s.pids_max)},
      {"pids.events", false, false,
       into(parseFlatKeyed,
            [&s](const FlatKeyed& m) { s.pids_events_max = valueOrZero(m, "max"); })},
      {"cpu.stat", false, true,
       into(parseFlatKeyed,
            [&s](const FlatKeyed& m) {
              s.cpu_usage_usec = valueOrZero(m, "usage_usec");
              s.cpu_user_usec = valueOrZero(m, "user_usec");
              s.cpu_system_usec = valueOrZero(m, "system_usec");
              s.cpu_nr_periods = valueOrZero(m, "nr_periods");
              s.cpu_nr_throttled = valueOrZero(m, "nr_throttled");
              s.cpu_throttled_usec = valueOrZero(m, "throttled_usec");
            })},
      {"cpu.max", false, false,
       into(parseCpuMax,
            [&s](const CpuMax& m) {
              s.cpu_max_quota_usec = m.quota_usec;
              s.cpu_max_period_usec = m.period_usec;
            })},
      {"io.stat", false, false,
       into(parseIoStat,
            [&s](const IoStat& io) {
              s.io_rbytes = io.rbytes;
              s.io_wbytes = io.wbytes;
              s.io_rios = io.rios;
              s.io_wios = io.wios;
            })},
      {"cpu.pressure", true, false, pressure(s.cpu_pressure)},
      {"memory.pressure", true, false, pressure(s.memory_pressure)},
      {"io.pressure", true, false, pressure(s.io_pressure)},
  };
  for (const Step& step : steps) {
    if (detail == Detail::Status && !step.status) continue;
    auto content = dir.read(step.file, step.unsupported_is_missing);
    if (!content) return tl::unexpected(std::move(content.error()));
    if (dir.gone()) return std::optional<CgroupStats>();
    if (!*content) continue;
    auto parsed = step.parse(**content, dir.path(step.file));
    if (!parsed) return tl::unexpected(std::move(parsed.error()));
  }

  // Last, see read()'s contract: its absence means the directory is no longer a live cgroup.
  auto events = dir.read("cgroup.events", false);
  if (!events) return tl::unexpected(std::move(events.error()));
  if (!*events) return std::optional<CgroupStats>();
  const std::string events_path = dir.path("cgroup.events");
  auto flat = parseFlatKeyed(**events, events_path);
  if (!flat) return tl::unexpected(std::move(flat.error()));
  const auto populated = flat->find("populated");
  if (populated == flat->end()) {
    return util::fail(fmt::format("{}: no 'populated' key", events_path), EINVAL);
  }
  s.populated = populated->second != 0;
  return s;
}

util::Result<void> CgroupReader::validateCgroup2Mount() const {
  struct statfs fs {};
  if (::statfs(root_.c_str(), &fs) < 0) return util::sysFail(errno, root_.string());
  if (static_cast<unsigned long>(fs.f_type) != CGROUP2_SUPER_MAGIC) {
    return util::fail(fmt::format("{}: not a cgroup2 mount (statfs f_type 0x{:x}); vigil needs "
                                  "the unified cgroup hierarchy",
                                  root_.string(), static_cast<unsigned long>(fs.f_type)),
                      ENOTSUP);
  }
  return {};
}

}  // namespace vigil::cgroup
