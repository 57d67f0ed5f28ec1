#include "core/UnitProperties.h"

#include <type_traits>

namespace vigil::core {

namespace {

constexpr std::uint64_t kInfinity = UINT64_MAX;
constexpr std::int32_t kSigKill = 9;
// TimeoutStopUSec sent with brutal_kill: SIGKILL cannot be ignored, this only bounds the
// wait for the kernel to reap the cgroup.
constexpr std::uint64_t kBrutalKillTimeoutUsec = 5000000;

std::uint64_t usec(Usec d) {
  return static_cast<std::uint64_t>(d.count());
}

}  // namespace

UnitProperties limitProperties(const Limits& l, UnsetLimits unset, bool with_process_limits) {
  UnitProperties p = {{"MemoryAccounting", true},
                      {"CPUAccounting", true},
                      {"TasksAccounting", true},
                      {"IOAccounting", true}};
  const auto add = [&](const char* name, const std::optional<std::uint64_t>& v) {
    if (v) {
      p.push_back({name, *v});
    } else if (unset == UnsetLimits::Infinity) {
      p.push_back({name, kInfinity});
    }
  };
  add("MemoryMax", l.memory_max);
  add("MemoryHigh", l.memory_high);
  add("CPUQuotaPerSecUSec",
      l.cpu_quota
          ? std::optional<std::uint64_t>(
                *l.cpu_quota == kNoCpuQuota ? kInfinity : std::uint64_t{*l.cpu_quota} * 10000)
          : std::nullopt);
  add("CPUWeight", l.cpu_weight);
  add("TasksMax", l.tasks_max);
  add("IOWeight", l.io_weight);
  if (!with_process_limits) return p;
  if (l.runtime_max) p.push_back({"RuntimeMaxUSec", usec(*l.runtime_max)});
  // setrlimit(2) takes a hard and a soft limit: systemd's D-Bus names are Limit<X> (hard)
  // and Limit<X>Soft; UINT64_MAX is RLIM_INFINITY.
  if (l.nofile) {
    p.push_back({"LimitNOFILE", l.nofile->hard});
    p.push_back({"LimitNOFILESoft", l.nofile->soft});
  }
  if (l.core) {
    p.push_back({"LimitCORE", l.core->hard});
    p.push_back({"LimitCORESoft", l.core->soft});
  }
  return p;
}

UnitProperties serviceProperties(const UnitSpec& u) {
  UnitProperties p = {{"Description", u.description},
                      {"Slice", u.slice},
                      {"Type", std::string(u.notify ? "notify" : "exec")}};
  if (u.notify) p.push_back({"NotifyAccess", std::string(toString(u.notify_access))});
  p.push_back({"Restart", std::string("no")});
  p.push_back({"KillMode", std::string("control-group")});
  p.push_back({"CollectMode", std::string("inactive")});
  const bool brutal = u.timeout_stop.count() == 0;
  p.push_back({"KillSignal", std::int32_t{brutal ? kSigKill : u.kill_signal}});
  p.push_back({"TimeoutStopUSec", brutal ? kBrutalKillTimeoutUsec : usec(u.timeout_stop)});
  p.push_back({"SendSIGKILL", true});
  if (u.timeout_start.count() > 0) p.push_back({"TimeoutStartUSec", usec(u.timeout_start)});
  for (auto& lp : limitProperties(u.limits, UnsetLimits::Omit, true)) p.push_back(std::move(lp));
  if (!u.environment.empty()) p.push_back({"Environment", u.environment});
  if (!u.working_directory.empty()) p.push_back({"WorkingDirectory", u.working_directory});
  if (!u.user.empty()) p.push_back({"User", u.user});
  if (!u.group.empty()) p.push_back({"Group", u.group});
  if (u.watchdog) p.push_back({"WatchdogUSec", usec(*u.watchdog)});
  p.push_back({"PartOf", std::vector<std::string>{kTarget}});
  p.push_back({"Before", std::vector<std::string>{kWorkersTarget}});
  p.push_back({"LogExtraFields", JournalFields{u.log_fields}});
  p.push_back(
      {"ExecStartEx",
       ExecCommand{u.argv.empty() ? std::string() : u.argv.front(), u.argv, {"no-env-expand"}}});
  return p;
}

UnitProperties sliceProperties(const std::string& description, const Limits& budget, bool create) {
  UnitProperties p;
  if (create) p.push_back({"Description", description});
  for (auto& lp : limitProperties(budget, UnsetLimits::Infinity, false)) p.push_back(std::move(lp));
  return p;
}

namespace {
// FNV-1a, 64 bit (http://www.isthe.com/chongo/tech/comp/fnv/): stable across runs, which
// std::hash does not promise.
struct Fnv {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  void bytes(const void* data, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
  }
  // Length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
  void str(const std::string& s) {
    num(s.size());
    bytes(s.data(), s.size());
  }
  void num(std::uint64_t v) { bytes(&v, sizeof v); }
  void strs(const std::vector<std::string>& v) {
    num(v.size());
    for (const auto& s : v) str(s);
  }
};
}  // namespace

std::uint64_t propertiesDigest(const UnitProperties& props) {
  Fnv f;
  f.num(props.size());
  for (const auto& p : props) {
    f.str(p.name);
    f.num(p.value.index());
    std::visit(
        [&f](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            f.str(v);
          } else if constexpr (std::is_same_v<T, bool>) {
            f.num(v ? 1 : 0);
          } else if constexpr (std::is_same_v<T, std::uint64_t>) {
            f.num(v);
          } else if constexpr (std::is_same_v<T, std::int32_t>) {
            f.num(static_cast<std::uint64_t>(static_cast<std::int64_t>(v)));
          } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            f.strs(v);
          } else if constexpr (std::is_same_v<T, ExecCommand>) {
            f.str(v.path);
            f.strs(v.argv);
            f.strs(v.flags);
          } else {
            static_assert(std::is_same_v<T, JournalFields>);
            f.num(v.fields.size());
            for (const auto& [key, value] : v.fields) {
              f.str(key);
              f.str(value);
            }
          }
        },
        p.value);
  }
  return f.h;
}

}  // namespace vigil::core
