#pragma once
// The validated, immutable description of what vigil supervises. Produced by
// config::ConfigLoader, consumed by the pure core. Plain values only: no I/O.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace vigil::core {

using Usec = std::chrono::microseconds;

// Where a value came from, for messages that point an operator at the file.
struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 = unknown (e.g. a built-in default)
  int column = 0;  // 1-based
};

enum class RestartPolicy { Permanent, Transient, Temporary };
enum class Strategy { OneForOne, OneForAll, RestForOne };
// Which processes of a notify worker may send READY=1 and WATCHDOG=1 (NotifyAccess=,
// systemd.service(5)). `All` still means only processes in the worker's own cgroup: PID 1
// attributes each notification to the unit whose cgroup the sender is in.
enum class NotifyAccess { Main, Exec, All };

const char* toString(RestartPolicy policy);
const char* toString(Strategy strategy);
const char* toString(NotifyAccess access);

// Resource limits; an unset optional means "not configured" (systemd's default).
// kUnlimited (UINT64_MAX) is an explicit "infinity", as systemd encodes it on the bus.
inline constexpr std::uint64_t kUnlimited = UINT64_MAX;
// cpu_quota with no quota (CPUQuotaPerSecUSec=infinity); only from an operator's `set`.
inline constexpr std::uint32_t kNoCpuQuota = UINT32_MAX;

// A process resource limit as setrlimit(2) takes it; kUnlimited is RLIM_INFINITY.
struct ResourceLimit {
  std::uint64_t soft = 0;
  std::uint64_t hard = 0;
  bool operator==(const ResourceLimit&) const = default;
};

struct Limits {
  // cgroup limits: on workers and on supervisors' slices (systemd.resource-control(5)).
  std::optional<std::uint64_t> memory_max;   // bytes
  std::optional<std::uint64_t> memory_high;  // bytes
  std::optional<std::uint32_t> cpu_quota;    // percent of one CPU (150 = 1.5 CPUs), or kNoCpuQuota
  std::optional<std::uint64_t> cpu_weight;   // 1..10000, or kUnlimited: systemd's default
  std::optional<std::uint64_t> tasks_max;    // >= 1, or kUnlimited
  std::optional<std::uint64_t> io_weight;    // 1..10000, or kUnlimited: systemd's default
  // Per-process limits, workers only: slices have no processes of their own.
  std::optional<Usec> runtime_max;      // RuntimeMaxSec (systemd.service(5)): wall-clock
                                        // run time, then the unit is stopped
  std::optional<ResourceLimit> nofile;  // LimitNOFILE (systemd.exec(5)): open files
  std::optional<ResourceLimit> core;    // LimitCORE: core file size in bytes
  bool operator==(const Limits&) const = default;
};

struct BackoffSpec {
  Usec initial{std::chrono::seconds(1)};
  Usec max{std::chrono::seconds(60)};
  double multiplier = 2.0;
  double jitter = 0.2;  // fraction in [0, 1]: a delay d becomes uniform in [d, d * (1 + jitter)]
  Usec reset_after{std::chrono::seconds(60)};  // up this long => the next failure starts over
  bool operator==(const BackoffSpec&) const = default;
};

struct StopSpec {
  int signal = 15;                         // SIGTERM
  Usec timeout{std::chrono::seconds(10)};  // then SIGKILL; 0 = kill at once (brutal_kill)
  bool operator==(const StopSpec&) const = default;
};

struct IntensitySpec {
  unsigned max_restarts = 1;             // OTP default: 1 restart ...
  Usec period{std::chrono::seconds(5)};  // ... in 5 seconds
  bool operator==(const IntensitySpec&) const = default;
};

// `health:` of a worker (vigil.yaml(5), HEALTH): at most one probe, run every `interval`
// while the worker runs, and resource rules. A probe's defaults follow Kubernetes'
// liveness probes (periodSeconds 10, failureThreshold 3, successThreshold 1), with a
// timeout of 5s rather than 1s: under load a 1s check restarts healthy workers.
struct HealthSpec {
  enum class Probe { None, Http, Tcp, Exec };
  Probe probe = Probe::None;
  // Http: GET `url` ("http://HOST[:PORT]/PATH" or https); healthy when the status is in
  // [status_min, status_max] (default any 2xx or 3xx, redirects not followed) and, when
  // `body` is set, the first 64 KiB of the body contain it.
  std::string url;
  unsigned status_min = 200;
  unsigned status_max = 399;
  std::string body;
  // Tcp: connect to "A.B.C.D:PORT" or "[IPV6]:PORT" (numeric); healthy once the
  // connection is established (it is closed at once).
  std::string address;
  // Exec: argv (argv[0] absolute), run by vigild with no stdin; healthy on exit 0. Killed
  // with its process group on timeout.
  std::vector<std::string> argv;
  // In url, address and argv, "%i" stands for the instance number ("" for a worker
  // without instances), as systemd's %i does: see withInstance().
  Usec interval{std::chrono::seconds(10)};
  Usec timeout{std::chrono::seconds(5)};  // <= interval
  Usec start_period{0};                   // failures in this long after the start do not count
  unsigned failures = 3;                  // consecutive failures: unhealthy
  unsigned successes = 1;                 // consecutive successes: healthy again
  // What an unhealthy worker gets: restarted through its supervisor's strategy (counted
  // in its intensity), or only reported.
  bool restart = true;
  // memory_pressure: {above, for}: unhealthy once the cgroup's memory PSI "some avg10"
  // has stayed above `above` (centipercent: 4000 = 40%) for `for` (as sampled by the
  // metrics sweep, so read every metrics interval).
  struct PressureRule {
    std::uint32_t above_centipercent = 0;
    Usec duration{0};
    bool operator==(const PressureRule&) const = default;
  };
  std::optional<PressureRule> memory_pressure;

  bool any() const { return probe != Probe::None || memory_pressure.has_value(); }
  bool operator==(const HealthSpec&) const = default;
};
const char* toString(HealthSpec::Probe probe);  // "http", "tcp", "exec", "none"

struct WorkerSpec {
  std::string name;                  // as written in the config
  std::vector<std::string> command;  // argv; command[0] is an absolute path
  std::vector<std::pair<std::string, std::string>> environment;
  std::string working_directory;  // empty = systemd default
  std::string user;               // empty = root
  std::string group;
  Limits limits;
  RestartPolicy restart = RestartPolicy::Permanent;
  BackoffSpec backoff;
  StopSpec stop;
  bool notify = false;  // Type=notify: up only after READY=1
  NotifyAccess notify_access = NotifyAccess::All;
  std::optional<Usec> watchdog;  // WatchdogSec
  unsigned instances = 1;        // > 1: name@1 .. name@N
  bool instance_names = false;   // name@1 even for one instance (after an operator's scale)
  Usec start_timeout{std::chrono::seconds(90)};  // how long a start job may take
  HealthSpec health;
  SourceLocation where;
};

struct SupervisorSpec;

// A child of a supervisor is either a worker or a nested supervisor.
struct ChildSpec {
  std::shared_ptr<const WorkerSpec> worker;  // exactly one of these is set
  std::shared_ptr<const SupervisorSpec> supervisor;
  const std::string& name() const;
};

struct SupervisorSpec {
  std::string name;
  Strategy strategy = Strategy::OneForOne;
  IntensitySpec intensity;
  Limits limits;  // budget of the supervisor's slice
  std::vector<ChildSpec> children;
  SourceLocation where;
};

// `metrics:` (vigil.yaml(5)): the cgroup sampler, its history and its exports.
struct MetricsSettings {
  // Every worker's and supervisor slice's cgroup is read once per interval. Tier files
  // set 1s (tier_1, tier_2) or 5s (tier_3); the built-in default is 5s.
  Usec interval = std::chrono::seconds(5);
  // How far back each cgroup's history ring reaches; its size is history / interval
  // samples. 0: no history.
  Usec history = std::chrono::minutes(15);
  // Where /metrics is served, "ADDRESS:PORT" (IPv4 or [IPv6] literal); "" serves nothing.
  std::string listen = "127.0.0.1:9753";
  // A directory (node_exporter's textfile collector): vigil.prom is written there, atomically,
  // after every sweep. "" writes nothing.
  std::string textfile;
};

struct Config {
  std::string tier;                // "tier_1" | "tier_2" | "tier_3"
  std::string log_level = "info";  // trace|debug|info|warn|error
  MetricsSettings metrics;
  std::vector<SupervisorSpec> trees;  // each tree is a root supervisor
  std::string source_file;
};

}  // namespace vigil::core
