#include "cgroup/CgroupReader.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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

}  // namespace

CgroupDirectory::CgroupDirectory(int fd, std::string path) : fd_(fd), file_path_(std::move(path)) {
  file_path_ += '/';
  dir_len_ = file_path_.size();
  file_path_.reserve(dir_len_ + 32);  // "memory.pressure" and the like: no allocation per file
}

CgroupDirectory::CgroupDirectory(CgroupDirectory&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      file_path_(std::move(other.file_path_)),
      dir_len_(other.dir_len_),
      gone_(other.gone_) {}

CgroupDirectory& CgroupDirectory::operator=(CgroupDirectory&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    file_path_ = std::move(other.file_path_);
    dir_len_ = other.dir_len_;
    gone_ = other.gone_;
  }
  return *this;
}

CgroupDirectory::~CgroupDirectory() {
  if (fd_ >= 0) ::close(fd_);
}

std::string_view CgroupDirectory::path() const {
  return std::string_view(file_path_).substr(0, dir_len_ - 1);
}

util::Result<std::optional<CgroupDirectory>> CgroupDirectory::open(
    const std::filesystem::path& root, std::string_view cgroup) {
  auto relative = relativeCgroupPath(cgroup);
  if (!relative) return tl::unexpected(std::move(relative.error()));
  std::string dir_path = (root / *relative).string();
  const int fd = ::open(dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENODEV) return std::optional<CgroupDirectory>();
    return util::sysFail(errno, dir_path);
  }
  return std::optional<CgroupDirectory>(CgroupDirectory(fd, std::move(dir_path)));
}

// The whole content of `name` in `buffer`, or nullopt if it does not exist (or the cgroup
// went away: gone_). EOPNOTSUPP also counts as "does not exist" if `unsupported_is_missing`.
util::Result<std::optional<std::string_view>> CgroupDirectory::readFile(std::string_view name,
                                                                        bool unsupported_is_missing,
                                                                        std::string& buffer) {
  file_path_.resize(dir_len_);
  file_path_.append(name);
  const char* file = file_path_.c_str() + dir_len_;
  auto absentOrError = [&](int err) -> util::Result<std::optional<std::string_view>> {
    if (err == ENODEV) gone_ = true;
    if (err == ENOENT || err == ENODEV || (unsupported_is_missing && err == EOPNOTSUPP)) {
      return std::optional<std::string_view>();
    }
    return util::sysFail(err, file_path_);
  };
  const Fd fd(::openat(fd_, file, O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return absentOrError(errno);
  const auto tooLarge = [&] {
    return util::fail(fmt::format("{}: larger than {} bytes", file_path_, kMaxFileSize), EFBIG);
  };
  if (buffer.size() < 4096) buffer.resize(4096);
  std::size_t len = 0;
  while (true) {
    if (len == buffer.size()) {
      if (len >= kMaxFileSize) {
        // Full at the limit: the file may end exactly there. One more byte says.
        char probe = 0;
        ssize_t n = 0;
        do {
          n = ::read(fd.get(), &probe, 1);
        } while (n < 0 && errno == EINTR);
        if (n < 0) return absentOrError(errno);
        if (n > 0) return tooLarge();
        break;
      }
      buffer.resize(std::min(buffer.size() * 2, kMaxFileSize));
    }
    const ssize_t n = ::read(fd.get(), buffer.data() + len, buffer.size() - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absentOrError(errno);
    if (n == 0) break;
    len += static_cast<std::size_t>(n);
  }
  if (len > kMaxFileSize) return tooLarge();  // a caller's buffer larger than the limit
  return std::optional<std::string_view>(std::string_view(buffer.data(), len));
}

util::Result<bool> CgroupDirectory::read(CgroupStats& s, Detail detail, std::string& buffer) {
  s = CgroupStats{};
  gone_ = false;
  enum class File {
    MemoryCurrent,
    MemoryMax,
    MemoryHigh,
    MemoryPeak,
    MemoryEvents,
    MemoryStat,
    PidsCurrent,
    PidsMax,
    PidsEvents,
    CpuStat,
    CpuMax,
    IoStat,
    CpuPressure,
    MemoryPressure,
    IoPressure,
  };
  // The least detail a file is read at: Status < Sweep < Full.
  struct Step {
    std::string_view name;
    File file;
    Detail from;
  };
  static constexpr Step kSteps[] = {
      {"memory.current", File::MemoryCurrent, Detail::Status},
      {"memory.max", File::MemoryMax, Detail::Full},
      {"memory.high", File::MemoryHigh, Detail::Full},
      {"memory.peak", File::MemoryPeak, Detail::Full},
      {"memory.events", File::MemoryEvents, Detail::Status},
      {"memory.stat", File::MemoryStat, Detail::Sweep},
      {"pids.current", File::PidsCurrent, Detail::Status},
      {"pids.max", File::PidsMax, Detail::Full},
      {"pids.events", File::PidsEvents, Detail::Full},
      {"cpu.stat", File::CpuStat, Detail::Status},
      {"cpu.max", File::CpuMax, Detail::Full},
      {"io.stat", File::IoStat, Detail::Sweep},
      {"cpu.pressure", File::CpuPressure, Detail::Sweep},
      {"memory.pressure", File::MemoryPressure, Detail::Sweep},
      {"io.pressure", File::IoPressure, Detail::Sweep},
  };
  auto store = [&s](File f, std::string_view content, std::string_view file) -> util::Result<void> {
    auto keyed = [&](std::initializer_list<FlatKey> keys) -> util::Result<void> {
      auto found = readFlatKeyed(content, file, keys);
      if (!found) return tl::unexpected(std::move(found.error()));
      return {};
    };
    auto value = [&](std::optional<std::uint64_t>& out) -> util::Result<void> {
      auto v = parseValue(content, file);
      if (!v) return tl::unexpected(std::move(v.error()));
      out = *v;
      return {};
    };
    auto limit = [&](std::optional<std::uint64_t>& out) -> util::Result<void> {
      auto v = parseLimit(content, file);
      if (!v) return tl::unexpected(std::move(v.error()));
      out = *v;
      return {};
    };
    auto pressure = [&](std::optional<Pressure>& out) -> util::Result<void> {
      auto v = parsePressure(content, file);
      if (!v) return tl::unexpected(std::move(v.error()));
      out = *v;
      return {};
    };
    switch (f) {
      case File::MemoryCurrent:
        return value(s.memory_current);
      case File::MemoryMax:
        return limit(s.memory_max);
      case File::MemoryHigh:
        return limit(s.memory_high);
      case File::MemoryPeak:
        return value(s.memory_peak);
      case File::MemoryEvents:
        return keyed({{"high", &s.memory_events_high},
                      {"max", &s.memory_events_max},
                      {"oom", &s.memory_events_oom},
                      {"oom_kill", &s.memory_events_oom_kill}});
      case File::MemoryStat: {
        std::uint64_t anon = 0;
        std::uint64_t page_cache = 0;
        auto found = readFlatKeyed(content, file, {{"anon", &anon}, {"file", &page_cache}});
        if (!found) return tl::unexpected(std::move(found.error()));
        if (*found & 1) s.memory_anon = anon;
        if (*found & 2) s.memory_file = page_cache;
        return {};
      }
      case File::PidsCurrent:
        return value(s.pids_current);
      case File::PidsMax:
        return limit(s.pids_max);
      case File::PidsEvents:
        return keyed({{"max", &s.pids_events_max}});
      case File::CpuStat:
        return keyed({{"usage_usec", &s.cpu_usage_usec},
                      {"user_usec", &s.cpu_user_usec},
                      {"system_usec", &s.cpu_system_usec},
                      {"nr_periods", &s.cpu_nr_periods},
                      {"nr_throttled", &s.cpu_nr_throttled},
                      {"throttled_usec", &s.cpu_throttled_usec}});
      case File::CpuMax: {
        auto m = parseCpuMax(content, file);
        if (!m) return tl::unexpected(std::move(m.error()));
        s.cpu_max_quota_usec = m->quota_usec;
        s.cpu_max_period_usec = m->period_usec;
        return {};
      }
      case File::IoStat: {
        auto io = parseIoStat(content, file);
        if (!io) return tl::unexpected(std::move(io.error()));
        s.io_rbytes = io->rbytes;
        s.io_wbytes = io->wbytes;
        s.io_rios = io->rios;
        s.io_wios = io->wios;
        return {};
      }
      case File::CpuPressure:
        return pressure(s.cpu_pressure);
      case File::MemoryPressure:
        return pressure(s.memory_pressure);
      case File::IoPressure:
        return pressure(s.io_pressure);
    }
    return {};
  };
  for (const Step& step : kSteps) {
    if (static_cast<int>(step.from) > static_cast<int>(detail)) continue;
    const bool is_pressure = step.file == File::CpuPressure || step.file == File::MemoryPressure ||
                             step.file == File::IoPressure;
    auto content = readFile(step.name, is_pressure, buffer);
    if (!content) return tl::unexpected(std::move(content.error()));
    if (gone_) return false;
    if (!*content) continue;
    auto stored = store(step.file, **content, file_path_);
    if (!stored) return tl::unexpected(std::move(stored.error()));
  }

  // Last, see read()'s contract: its absence means the directory is no longer a live cgroup.
  auto events = readFile("cgroup.events", false, buffer);
  if (!events) return tl::unexpected(std::move(events.error()));
  if (!*events) return false;
  std::uint64_t populated = 0;
  auto found = readFlatKeyed(**events, file_path_, {{"populated", &populated}});
  if (!found) return tl::unexpected(std::move(found.error()));
  if (!(*found & 1)) return util::fail(fmt::format("{}: no 'populated' key", file_path_), EINVAL);
  s.populated = populated != 0;
  return true;
}

CgroupReader::CgroupReader(std::filesystem::path root) : root_(std::move(root)) {}

util::Result<std::optional<CgroupStats>> CgroupReader::read(std::string_view cgroup,
                                                            Detail detail) const {
  auto dir = CgroupDirectory::open(root_, cgroup);
  if (!dir) return tl::unexpected(std::move(dir.error()));
  if (!*dir) return std::optional<CgroupStats>();
  CgroupStats stats;
  std::string buffer;
  auto read = (*dir)->read(stats, detail, buffer);
  if (!read) return tl::unexpected(std::move(read.error()));
  if (!*read) return std::optional<CgroupStats>();
  return stats;
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
