#include "cgroup/HostStats.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace vigil::cgroup {

namespace {

// Reads a whole file into `buffer`; nullopt when it does not exist or is not supported.
util::Result<std::optional<std::string_view>> slurp(const std::filesystem::path& path,
                                                    std::string& buffer) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == EOPNOTSUPP) return std::optional<std::string_view>();
    return util::fail(fmt::format("{}: {}", path.string(), std::strerror(errno)));
  }
  if (buffer.size() < 4096) buffer.resize(4096);
  std::size_t used = 0;
  for (;;) {
    if (used == buffer.size()) buffer.resize(buffer.size() * 2);
    const ssize_t n = ::read(fd, buffer.data() + used, buffer.size() - used);
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      if (e == EOPNOTSUPP) return std::optional<std::string_view>();
      return util::fail(fmt::format("{}: {}", path.string(), std::strerror(e)));
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return std::optional<std::string_view>(std::string_view(buffer.data(), used));
}

bool number(std::string_view& rest, std::uint64_t& out) {
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  const auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), out);
  if (ec != std::errc()) return false;
  rest.remove_prefix(static_cast<std::size_t>(ptr - rest.data()));
  return true;
}

}  // namespace

util::Result<void> parseProcStat(std::string_view content, long ticks_per_sec, HostStats& out) {
  out.cpus = 0;
  bool seen = false;
  const std::uint64_t usec_per_tick =
      ticks_per_sec > 0 ? 1000000 / static_cast<std::uint64_t>(ticks_per_sec) : 10000;
  while (!content.empty()) {
    const std::size_t nl = content.find('\n');
    std::string_view line = content.substr(0, nl);
    content = nl == std::string_view::npos ? std::string_view() : content.substr(nl + 1);
    if (line.rfind("cpu ", 0) == 0) {
      // user nice system idle iowait irq softirq steal (guest and guest_nice are within
      // user and nice already).
      std::string_view rest = line.substr(4);
      std::uint64_t v[8] = {};
      for (auto& x : v) {
        if (!number(rest, x))
          return util::fail("/proc/stat: malformed cpu line: " + std::string(line));
      }
      out.cpu_user_usec = (v[0] + v[1]) * usec_per_tick;
      out.cpu_system_usec = (v[2] + v[5] + v[6]) * usec_per_tick;
      out.cpu_idle_usec = v[3] * usec_per_tick;
      out.cpu_iowait_usec = v[4] * usec_per_tick;
      out.cpu_steal_usec = v[7] * usec_per_tick;
      seen = true;
    } else if (line.rfind("cpu", 0) == 0 && line.size() > 3 && line[3] >= '0' && line[3] <= '9') {
      out.cpus++;
    }
  }
  if (!seen) return util::fail("/proc/stat: no cpu line");
  return {};
}

util::Result<void> parseMeminfo(std::string_view content, HostStats& out) {
  int found = 0;
  while (!content.empty()) {
    const std::size_t nl = content.find('\n');
    std::string_view line = content.substr(0, nl);
    content = nl == std::string_view::npos ? std::string_view() : content.substr(nl + 1);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = line.substr(0, colon);
    std::uint64_t* field = key == "MemTotal"       ? &out.memory_total_bytes
                           : key == "MemAvailable" ? &out.memory_available_bytes
                           : key == "SwapTotal"    ? &out.swap_total_bytes
                           : key == "SwapFree"     ? &out.swap_free_bytes
                                                   : nullptr;
    if (!field) continue;
    std::string_view rest = line.substr(colon + 1);
    std::uint64_t kib = 0;
    if (!number(rest, kib))
      return util::fail("/proc/meminfo: malformed line: " + std::string(line));
    *field = kib * 1024;  // "kB" in meminfo is KiB
    found++;
  }
  if (found < 2) return util::fail("/proc/meminfo: no MemTotal or MemAvailable");
  return {};
}

util::Result<void> readHostStats(const std::filesystem::path& proc_root,
                                 long ticks_per_sec,
                                 HostStats& out,
                                 std::string& buffer) {
  auto stat = slurp(proc_root / "stat", buffer);
  if (!stat) return tl::unexpected(stat.error());
  if (!*stat) return util::fail((proc_root / "stat").string() + ": missing");
  if (auto r = parseProcStat(**stat, ticks_per_sec, out); !r) return r;
  auto meminfo = slurp(proc_root / "meminfo", buffer);
  if (!meminfo) return tl::unexpected(meminfo.error());
  if (!*meminfo) return util::fail((proc_root / "meminfo").string() + ": missing");
  if (auto r = parseMeminfo(**meminfo, out); !r) return r;
  const auto pressure = [&](const char* name,
                            std::optional<Pressure>& field) -> util::Result<void> {
    field.reset();
    const std::filesystem::path path = proc_root / "pressure" / name;
    auto text = slurp(path, buffer);
    if (!text) return tl::unexpected(text.error());
    if (!*text) return {};
    auto p = parsePressure(**text, path.string());
    if (!p) return tl::unexpected(p.error());
    field = *p;
    return {};
  };
  if (auto r = pressure("cpu", out.cpu_pressure); !r) return r;
  if (auto r = pressure("memory", out.memory_pressure); !r) return r;
  return pressure("io", out.io_pressure);
}

}  // namespace vigil::cgroup
