#include "config/ConfigLoader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "config/ListenAddress.h"
#include "config/YamlNode.h"
#include "core/Duration.h"
#include "core/HealthTracker.h"
#include "core/Size.h"
#include "core/UnitName.h"
#include "core/UnitSpec.h"
#include "host/HostChecks.h"
#include "util/BuildInfo.h"

namespace vigil::config {

namespace {

using core::Usec;
using Kind = YamlNode::Kind;
using KeyList = std::span<const std::string_view>;

// Accepted keys per mapping, in the order vigil.yaml(5) documents them (and the order the
// "accepted keys" list in errors shows).
constexpr std::string_view kRootKeys[] = {"tier", "log_level", "metrics", "defaults", "trees"};
constexpr std::string_view kTierFileKeys[] = {"log_level", "metrics", "defaults"};
constexpr std::string_view kMetricsKeys[] = {"interval", "history", "listen", "textfile"};
constexpr std::string_view kDefaultsKeys[] = {"restart", "limits",    "backoff",
                                              "stop",    "intensity", "start_timeout"};
// Worker limits: the cgroup limits of its unit plus per-process ones.
constexpr std::string_view kLimitsKeys[] = {"memory_max",  "memory_high", "cpu_quota",
                                            "cpu_weight",  "tasks_max",   "io_weight",
                                            "runtime_max", "nofile",      "core"};
// A supervisor's limits are the budget of its slice: cgroup limits only.
constexpr std::string_view kSliceLimitsKeys[] = {"memory_max", "memory_high", "cpu_quota",
                                                 "cpu_weight", "tasks_max",   "io_weight"};
constexpr std::string_view kBackoffKeys[] = {"initial", "max", "multiplier", "jitter",
                                             "reset_after"};
constexpr std::string_view kStopKeys[] = {"signal", "timeout"};
constexpr std::string_view kIntensityKeys[] = {"max_restarts", "period"};
constexpr std::string_view kTreeKeys[] = {"strategy", "intensity", "limits", "children"};
constexpr std::string_view kSupervisorKeys[] = {"name", "strategy", "intensity", "limits",
                                                "children"};
constexpr std::string_view kWorkerKeys[] = {
    "name",     "command",   "environment",   "working_directory",
    "user",     "group",     "limits",        "restart",
    "backoff",  "stop",      "notify",        "notify_access",
    "watchdog", "instances", "start_timeout", "health"};
constexpr std::string_view kHealthKeys[] = {
    "http",         "tcp",      "exec",      "interval", "timeout",
    "start_period", "failures", "successes", "restart",  "memory_pressure"};
constexpr std::string_view kHttpCheckKeys[] = {"url", "status", "body"};
constexpr std::string_view kPressureRuleKeys[] = {"above", "for"};

constexpr std::string_view kTiers[] = {"tier_1", "tier_2", "tier_3"};
constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warn", "error"};

constexpr std::pair<std::string_view, core::RestartPolicy> kRestartPolicies[] = {
    {"permanent", core::RestartPolicy::Permanent},
    {"transient", core::RestartPolicy::Transient},
    {"temporary", core::RestartPolicy::Temporary}};
constexpr std::pair<std::string_view, core::Strategy> kStrategies[] = {
    {"one_for_one", core::Strategy::OneForOne},
    {"one_for_all", core::Strategy::OneForAll},
    {"rest_for_one", core::Strategy::RestForOne}};
constexpr std::pair<std::string_view, core::NotifyAccess> kNotifyAccess[] = {
    {"main", core::NotifyAccess::Main},
    {"exec", core::NotifyAccess::Exec},
    {"all", core::NotifyAccess::All}};

// The signals a service can be asked to stop with, by name or by number (one rule for
// both): these, and the real-time signals SIGRTMIN+N (as systemd's KillSignal= accepts
// them). Left out on purpose: SIGSTOP/SIGTSTP/SIGTTIN/SIGTTOU suspend instead of ending,
// SIGCONT, SIGCHLD and SIGURG are ignored by default, and the fault signals (SIGSEGV,
// SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS) report a crash rather than ask for a stop.
constexpr std::pair<std::string_view, int> kStopSignals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"ABRT", SIGABRT},
    {"KILL", SIGKILL}, {"USR1", SIGUSR1},   {"USR2", SIGUSR2}, {"ALRM", SIGALRM},
    {"TERM", SIGTERM}, {"WINCH", SIGWINCH}, {"PWR", SIGPWR}};

// Why a real signal is not in kStopSignals, for the message that rejects it.
const char* whyNotAStopSignal(int sig) {
  switch (sig) {
    case SIGSTOP:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
      return "it suspends the process instead of ending it";
    case SIGCONT:
    case SIGCHLD:
    case SIGURG:
      return "processes ignore it by default";
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL:
    case SIGTRAP:
    case SIGSYS:
      return "it reports a crash, not a request to stop";
    default:
      return "services do not handle it as a request to stop";
  }
}

// Which layer set a value; later layers win.
enum Layer { kBuiltIn = 0, kTierLayer = 1, kConfigDefaults = 2, kOwn = 3 };

// Where an effective value came from, for errors that involve two values set in different
// places (backoff.initial vs backoff.max).
struct Origin {
  Layer layer = kBuiltIn;
  core::SourceLocation where;
  std::string text;  // as written; empty for built-in values
  std::string describe() const {
    if (layer == kBuiltIn) return "the built-in default";
    return fmt::format("set at {}:{}:{}", where.file, where.line, where.column);
  }
};

template <typename T>
struct Tracked {
  T value;
  Origin origin;
};

template <typename T>
void overlay(std::optional<T>& base, const std::optional<T>& over) {
  if (over) base = over;
}

struct BackoffLayer {
  std::optional<Tracked<Usec>> initial;
  std::optional<Tracked<Usec>> max;
  std::optional<double> multiplier;
  std::optional<double> jitter;
  std::optional<Usec> reset_after;
};
struct StopLayer {
  std::optional<int> signal;
  std::optional<Usec> timeout;
};
struct IntensityLayer {
  std::optional<unsigned> max_restarts;
  std::optional<Usec> period;
};
// Limits as layered values, each remembering where it was set (for messages about two
// values set in different places, and to report a value once, where it was written).
struct LimitsLayer {
  core::Limits values;                    // each member optional already
  std::map<std::string, Origin> origins;  // key ("memory_max") -> where it was set
};

// What `defaults` (tier file or config) or a worker's own keys may set.
struct DefaultsLayer {
  std::optional<core::RestartPolicy> restart;
  LimitsLayer limits;
  BackoffLayer backoff;
  StopLayer stop;
  IntensityLayer intensity;
  std::optional<Usec> start_timeout;
};

void overlay(core::Limits& base, const core::Limits& over) {
  overlay(base.memory_max, over.memory_max);
  overlay(base.memory_high, over.memory_high);
  overlay(base.cpu_quota, over.cpu_quota);
  overlay(base.cpu_weight, over.cpu_weight);
  overlay(base.tasks_max, over.tasks_max);
  overlay(base.io_weight, over.io_weight);
  overlay(base.runtime_max, over.runtime_max);
  overlay(base.nofile, over.nofile);
  overlay(base.core, over.core);
}

void overlay(LimitsLayer& base, const LimitsLayer& over) {
  overlay(base.values, over.values);
  for (const auto& [key, origin] : over.origins) base.origins[key] = origin;
}

void overlay(DefaultsLayer& base, const DefaultsLayer& over) {
  overlay(base.restart, over.restart);
  overlay(base.limits, over.limits);
  overlay(base.backoff.initial, over.backoff.initial);
  overlay(base.backoff.max, over.backoff.max);
  overlay(base.backoff.multiplier, over.backoff.multiplier);
  overlay(base.backoff.jitter, over.backoff.jitter);
  overlay(base.backoff.reset_after, over.backoff.reset_after);
  overlay(base.stop.signal, over.stop.signal);
  overlay(base.stop.timeout, over.stop.timeout);
  overlay(base.intensity.max_restarts, over.intensity.max_restarts);
  overlay(base.intensity.period, over.intensity.period);
  overlay(base.start_timeout, over.start_timeout);
}

// The built-in layer: the defaults of core/Spec.h, every key set.
DefaultsLayer builtInLayer() {
  const core::WorkerSpec worker;
  const core::IntensitySpec intensity;
  DefaultsLayer d;
  d.restart = worker.restart;
  d.backoff.initial = Tracked<Usec>{worker.backoff.initial, {}};
  d.backoff.max = Tracked<Usec>{worker.backoff.max, {}};
  d.backoff.multiplier = worker.backoff.multiplier;
  d.backoff.jitter = worker.backoff.jitter;
  d.backoff.reset_after = worker.backoff.reset_after;
  d.stop.signal = worker.stop.signal;
  d.stop.timeout = worker.stop.timeout;
  d.intensity.max_restarts = intensity.max_restarts;
  d.intensity.period = intensity.period;
  d.start_timeout = worker.start_timeout;
  return d;
}

core::BackoffSpec toBackoff(const BackoffLayer& b) {
  return {b.initial->value, b.max->value, *b.multiplier, *b.jitter, *b.reset_after};
}

core::IntensitySpec toIntensity(const IntensityLayer& i) {
  return {*i.max_restarts, *i.period};
}

std::string describe(const YamlNode& node) {
  switch (node.kind) {
    case Kind::Null:
      return "null";
    case Kind::Scalar:
      return quoteForMessage(node.value);
    case Kind::Sequence:
      return node.items.empty() ? "an empty sequence" : "a sequence";
    case Kind::Mapping:
      return node.entries.empty() ? "an empty mapping" : "a mapping";
    case Kind::Invalid:
      break;
  }
  return "an invalid value";
}

std::string joinList(std::span<const std::string_view> items) {
  std::string out;
  for (const auto item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

// Built member by member: brace-initialising the aggregate in place trips GCC 12's
// -Wmaybe-uninitialized/-Wrestrict false positives in optimised builds.
ConfigError makeError(core::SourceLocation where, std::string key, std::string message) {
  ConfigError e;
  e.where = std::move(where);
  e.key = std::move(key);
  e.message = std::move(message);
  return e;
}

bool isDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "010": YAML 1.1 reads an integer with a leading zero as octal (010 is 8), YAML 1.2 and
// vigil would read 10. Rejected wherever a number is expected, so no file means two things.
bool leadingZero(std::string_view digits) {
  return digits.size() > 1 && digits[0] == '0' && digits[1] >= '0' && digits[1] <= '9';
}

std::string withoutLeadingZeros(std::string_view digits) {
  const std::size_t first = digits.find_first_not_of('0');
  return std::string(first == std::string_view::npos ? "0" : digits.substr(first));
}

std::optional<std::uint64_t> parseUnsigned(std::string_view s) {
  if (!isDigits(s)) return std::nullopt;
  std::uint64_t v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

bool validEnvName(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!(alpha || (i > 0 && c >= '0' && c <= '9'))) return false;
  }
  return true;
}

// [a-z_][a-z0-9_-]*[$]? (at most 255 bytes), or a numeric id other than the reserved
// 65535 and 4294967295 (both mean "no user" to the kernel and are refused by systemd).
bool validUserOrGroup(std::string_view s) {
  if (isDigits(s)) {
    const auto id = parseUnsigned(s);
    return id && *id < 4294967295u && *id != 65535;
  }
  if (s.empty() || s.size() > 255) return false;
  if (s.back() == '$') s.remove_suffix(1);
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok =
        (c >= 'a' && c <= 'z') || c == '_' || (i > 0 && ((c >= '0' && c <= '9') || c == '-'));
    if (!ok) return false;
  }
  return true;
}

// The UTF-8 sequence starting at s[i], for naming a bad character in a message.
std::string_view characterAt(std::string_view s, std::size_t i) {
  std::size_t len = 1;
  while (i + len < s.size() && (static_cast<unsigned char>(s[i + len]) & 0xc0) == 0x80) ++len;
  return s.substr(i, len);
}

// Reads a whole regular file of at most `max` bytes. The size is checked with fstat() on
// the opened file before reading, and reading stops after max + 1 bytes in any case.
std::optional<std::string> readFileCapped(const std::filesystem::path& path,
                                          const std::string& display,
                                          std::size_t max,
                                          ConfigErrors& errors) {
  auto fail = [&](std::string message) {
    errors.push_back(makeError({display, 0, 0}, "", std::move(message)));
    return std::nullopt;
  };
  // O_NONBLOCK: opening a FIFO must not hang the daemon; it is rejected below.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return fail("cannot open: " + std::generic_category().message(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail("cannot stat: " + std::generic_category().message(errno));
  if (!S_ISREG(st.st_mode)) return fail("not a regular file");
  const auto tooBig = [&](std::uint64_t size) {
    return fail(fmt::format("the file is {} bytes; the limit is {} bytes", size, max));
  };
  if (static_cast<std::uint64_t>(st.st_size) > max) return tooBig(st.st_size);
  std::string text(max + 1, '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot read: " + std::generic_category().message(errno));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got > max) return fail(fmt::format("the file grew beyond the limit of {} bytes", max));
  text.resize(got);
  return text;
}

// Every duration in the file is finite and at most a year: the engine adds margins to
// timeouts and multiplies backoff delays, and a year is beyond any sensible setting, so
// these can never overflow (Usec::max() would, and "infinity" would mean it).
constexpr Usec kMaxDuration = std::chrono::seconds(31557600);  // 1y as systemd counts it

enum class Zero { kAllowed, kRejected };

// metrics.interval: below 200ms a sweep of 1000 cgroups (16 files each) would take a
// noticeable share of a core; above 1h a rate is meaningless (vigil.yaml(5)).
constexpr Usec kMinMetricsInterval = std::chrono::milliseconds(200);
constexpr Usec kMaxMetricsInterval = std::chrono::hours(1);
// health.interval: 1s to 1d (a probe more often than every second is load, not insight);
// health.timeout at least 10ms and at most the interval.
constexpr Usec kMinHealthInterval = std::chrono::seconds(1);
constexpr Usec kMaxHealthInterval = std::chrono::hours(24);
constexpr Usec kMinHealthTimeout = std::chrono::milliseconds(10);

// "40%", "12.5%", "0.25%" (0% to 100%, at most two decimals) in centipercent.
std::optional<std::uint32_t> parseCentipercent(std::string_view t) {
  if (!t.ends_with('%')) return std::nullopt;
  t.remove_suffix(1);
  const auto dot = t.find('.');
  const std::string_view whole = t.substr(0, dot);
  const std::string_view frac = dot == std::string_view::npos ? "" : t.substr(dot + 1);
  if (!isDigits(whole) ||
      (dot != std::string_view::npos && (frac.empty() || frac.size() > 2 || !isDigits(frac))))
    return std::nullopt;
  if (whole.size() > 1 && whole.front() == '0') return std::nullopt;
  const auto w = parseUnsigned(whole);
  if (!w || *w > 100) return std::nullopt;
  std::uint64_t c = *w * 100;
  if (!frac.empty()) c += *parseUnsigned(frac) * (frac.size() == 1 ? 10 : 1);
  if (c > 10000) return std::nullopt;
  return static_cast<std::uint32_t>(c);
}

// "200" or "200-299", each 100..599, low <= high.
std::optional<std::pair<unsigned, unsigned>> parseStatusRange(std::string_view t) {
  const auto dash = t.find('-');
  const auto one = [](std::string_view v) -> std::optional<unsigned> {
    if (v.size() != 3 || !isDigits(v)) return std::nullopt;
    const auto n = parseUnsigned(v);
    if (!n || *n < 100 || *n > 599) return std::nullopt;
    return static_cast<unsigned>(*n);
  };
  const auto lo = one(t.substr(0, dash));
  const auto hi = dash == std::string_view::npos ? lo : one(t.substr(dash + 1));
  if (!lo || !hi || *lo > *hi) return std::nullopt;
  return std::pair{*lo, *hi};
}

// http:// or https://, a non-empty host, no whitespace or control characters (curl would
// refuse them, and an operator should hear it at load time, not at the first probe).
bool validHttpUrl(std::string_view u) {
  std::string_view rest;
  if (u.starts_with("http://")) {
    rest = u.substr(7);
  } else if (u.starts_with("https://")) {
    rest = u.substr(8);
  } else {
    return false;
  }
  if (u.size() > 2048) return false;
  for (const char c : u) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  }
  const auto end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, end);
  if (authority.find('@') != std::string_view::npos) return false;  // no credentials in config
  std::string_view host = authority, port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    host = authority.substr(0, close + 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return false;
      port = after.substr(1);
      if (port.empty()) return false;
    }
  } else if (const auto colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return false;
  }
  if (host.empty()) return false;
  if (host.front() != '[' && host.find_first_of("[]") != std::string_view::npos) return false;
  if (!port.empty()) {
    const auto n = isDigits(port) && port.size() <= 5 ? parseUnsigned(port) : std::nullopt;
    if (!n || *n < 1 || *n > 65535) return false;
  }
  return true;
}

// history / interval: 3600 samples of 20 bytes (core::HistorySample) is 70 KiB per cgroup.
constexpr std::uint64_t kMaxHistorySamples = 3600;

template <typename T>
struct Located {
  T value;
  core::SourceLocation at;
};
// One layer's `metrics:` keys (tier file or configuration); unset keys inherit.
struct MetricsLayer {
  std::optional<Located<Usec>> interval;
  std::optional<Located<Usec>> history;
  std::optional<std::string> listen;
  std::optional<std::string> textfile;
  bool invalid = false;  // interval or history was reported: no cross-check on top
};

// Validation helpers bound to one file. Every check reports what it expected and what it
// found; nodes of Kind::Invalid were reported by the YAML reader and are skipped silently.
class Walker {
 public:
  Walker(std::string file, ConfigErrors& errors, ConfigErrors& warnings)
      : file_(std::move(file)), errors_(errors), warnings_(warnings) {}

  const std::string& file() const { return file_; }
  core::SourceLocation locate(const YamlNode& n) const { return {file_, n.line, n.column}; }

  void error(const YamlNode& at, const std::string& path, std::string message) {
    errors_.push_back(makeError(locate(at), path, std::move(message)));
  }
  void warning(const YamlNode& at, const std::string& path, std::string message) {
    warnings_.push_back(makeError(locate(at), path, std::move(message)));
  }

  void expected(const YamlNode& at, const std::string& path, std::string_view what) {
    error(at, path, fmt::format("expected {}, found {}", what, describe(at)));
  }

  // True (after reporting it) when the number `digits` in `at` has a leading zero.
  bool rejectLeadingZero(const YamlNode& at,
                         const std::string& path,
                         std::string_view what,
                         std::string_view digits) {
    if (!leadingZero(digits)) return false;
    const std::string plain = withoutLeadingZeros(digits);
    error(at, path,
          fmt::format("expected {}, found {} (a leading zero is ambiguous: YAML 1.1 reads {} as "
                      "an octal number; write {})",
                      what, describe(at), digits, plain));
    return true;
  }

  // True when `node` is a mapping to walk. A Null counts as an empty mapping (false, no
  // error) when `null_ok`: "defaults:" with every child commented out is common.
  bool mapping(const YamlNode& node, const std::string& path, bool null_ok) {
    if (node.kind == Kind::Mapping) return true;
    if (node.kind == Kind::Invalid || (null_ok && node.kind == Kind::Null)) return false;
    expected(node, path, "a mapping");
    return false;
  }

  void checkKeys(const YamlNode& map,
                 const std::string& path,
                 KeyList accepted,
                 std::string_view note = {}) {
    for (const auto& [key, value] : map.entries) {
      if (std::find(accepted.begin(), accepted.end(), key.value) != accepted.end()) continue;
      error(key, path,
            fmt::format("unknown key {}; accepted keys: {}{}", quoteForMessage(key.value),
                        joinList(accepted), note));
    }
  }

  std::optional<std::string> scalar(const YamlNode& node,
                                    const std::string& path,
                                    std::string_view what) {
    if (node.kind == Kind::Scalar) return node.value;
    if (node.kind != Kind::Invalid) expected(node, path, what);
    return std::nullopt;
  }

  template <typename T>
  std::optional<T> choice(const YamlNode& node,
                          const std::string& path,
                          std::span<const std::pair<std::string_view, T>> choices) {
    std::vector<std::string_view> names;
    for (const auto& [name, value] : choices) names.push_back(name);
    const std::string what = "one of " + joinList(names);
    const auto text = scalar(node, path, what);
    if (!text) return std::nullopt;
    for (const auto& [name, value] : choices) {
      if (name == *text) return value;
    }
    expected(node, path, what);
    return std::nullopt;
  }

  std::optional<std::string> oneOf(const YamlNode& node,
                                   const std::string& path,
                                   std::span<const std::string_view> names) {
    const std::string what = "one of " + joinList(names);
    const auto text = scalar(node, path, what);
    if (!text) return std::nullopt;
    if (std::find(names.begin(), names.end(), *text) != names.end()) return text;
    expected(node, path, what);
    return std::nullopt;
  }

  std::optional<bool> boolean(const YamlNode& node, const std::string& path) {
    const auto text = scalar(node, path, "true or false");
    if (!text) return std::nullopt;
    if (*text == "true" || *text == "True" || *text == "TRUE") return true;
    if (*text == "false" || *text == "False" || *text == "FALSE") return false;
    expected(node, path, "true or false");
    return std::nullopt;
  }

  std::optional<std::uint64_t> integer(const YamlNode& node,
                                       const std::string& path,
                                       std::uint64_t min,
                                       std::uint64_t max) {
    const std::string what = fmt::format("an integer from {} to {}", min, max);
    const auto text = scalar(node, path, what);
    if (!text) return std::nullopt;
    if (isDigits(*text) && rejectLeadingZero(node, path, what, *text)) return std::nullopt;
    const auto v = parseUnsigned(*text);
    if (!v || *v < min || *v > max) {
      expected(node, path, what);
      return std::nullopt;
    }
    return v;
  }

  std::optional<double> number(const YamlNode& node,
                               const std::string& path,
                               double min,
                               double max,
                               std::string_view what) {
    const auto text = scalar(node, path, what);
    if (!text) return std::nullopt;
    // "010" is an integer to YAML 1.1 (octal 8); "010.5" is a float (10.5) and unambiguous.
    if (isDigits(*text) && rejectLeadingZero(node, path, what, *text)) return std::nullopt;
    double v = 0;
    const char* end = text->data() + text->size();
    const auto [ptr, ec] = std::from_chars(text->data(), end, v);
    if (ec != std::errc() || ptr != end || !std::isfinite(v) || v < min || v > max) {
      expected(node, path, what);
      return std::nullopt;
    }
    return v;
  }

  std::optional<Usec> duration(const YamlNode& node, const std::string& path, Zero zero) {
    constexpr std::string_view kWhat = "a duration like 30s or 1min 30s";
    const auto text = scalar(node, path, kWhat);
    if (!text) return std::nullopt;
    if (isDigits(*text) && rejectLeadingZero(node, path, kWhat, *text)) return std::nullopt;
    const auto v = core::parseDuration(*text);
    if (!v) {
      expected(node, path, kWhat);
      return std::nullopt;
    }
    if (*v == Usec::max()) {
      expected(node, path, "a finite duration");
      return std::nullopt;
    }
    if (*v > kMaxDuration) {
      expected(node, path, "a duration of at most 1y");
      return std::nullopt;
    }
    if (v->count() == 0 && zero == Zero::kRejected) {
      expected(node, path, "a positive duration like 1s");
      return std::nullopt;
    }
    return *v;
  }

  std::optional<std::uint64_t> memory(const YamlNode& node, const std::string& path) {
    constexpr std::string_view kWhat = "a size like 512M";
    const auto text = scalar(node, path, kWhat);
    if (!text) return std::nullopt;
    if (isDigits(*text) && rejectLeadingZero(node, path, kWhat, *text)) return std::nullopt;
    const auto v = core::parseSize(*text);
    if (!v) {
      const bool percent = text->find('%') != std::string::npos;
      error(node, path,
            fmt::format("expected {}, found {}{}", kWhat, describe(node),
                        percent ? " (percentages are not supported)" : ""));
      return std::nullopt;
    }
    if (*v == 0) {
      expected(node, path, "a size of at least 1 byte");
      return std::nullopt;
    }
    return *v;
  }

  // A process resource limit (setrlimit(2)): "N" (soft and hard), "SOFT:HARD", where each
  // part is parsed by `part` (which returns kUnlimited for "infinity" when allowed).
  template <typename Part>
  std::optional<core::ResourceLimit> resourceLimit(const YamlNode& node,
                                                   const std::string& path,
                                                   std::string_view what,
                                                   Part part) {
    const auto text = scalar(node, path, what);
    if (!text) return std::nullopt;
    const std::string_view t = *text;
    const std::size_t colon = t.find(':');
    const std::string_view soft_text = t.substr(0, colon);
    const std::string_view hard_text = colon == std::string_view::npos ? t : t.substr(colon + 1);
    for (const auto part_text : {soft_text, hard_text}) {
      if (isDigits(part_text) && rejectLeadingZero(node, path, what, part_text))
        return std::nullopt;
    }
    const auto soft = part(soft_text);
    const auto hard = part(hard_text);
    if (!soft || !hard) {
      expected(node, path, what);
      return std::nullopt;
    }
    if (*soft > *hard) {
      error(node, path,
            fmt::format("expected the soft limit no larger than the hard one, found {}",
                        describe(node)));
      return std::nullopt;
    }
    return core::ResourceLimit{*soft, *hard};
  }

 private:
  std::string file_;
  ConfigErrors& errors_;
  ConfigErrors& warnings_;
};

// Where `limits` are: a worker's (or defaults for workers), or a supervisor's slice budget.
enum class LimitsOf { kWorker, kSlice };

void parseLimits(Walker& w,
                 const YamlNode& node,
                 const std::string& path,
                 Layer layer,
                 LimitsOf of,
                 LimitsLayer& layered) {
  if (!w.mapping(node, path, true)) return;
  if (of == LimitsOf::kWorker) {
    w.checkKeys(node, path, kLimitsKeys);
  } else {
    w.checkKeys(node, path, kSliceLimitsKeys,
                " (a supervisor's limits are the budget of its slice; runtime_max, nofile "
                "and core apply to workers)");
  }
  core::Limits& out = layered.values;
  const auto track = [&](std::string_view key, const YamlNode& n, bool set) {
    if (set) layered.origins[std::string(key)] = Origin{layer, w.locate(n), n.value};
  };
  if (const auto* n = node.find("memory_max")) {
    out.memory_max = w.memory(*n, appendKeyPath(path, "memory_max"));
    track("memory_max", *n, out.memory_max.has_value());
  }
  if (const auto* n = node.find("memory_high")) {
    out.memory_high = w.memory(*n, appendKeyPath(path, "memory_high"));
    track("memory_high", *n, out.memory_high.has_value());
  }
  if (const auto* n = node.find("cpu_quota")) {
    const std::string p = appendKeyPath(path, "cpu_quota");
    constexpr std::string_view kWhat = "a CPU quota like 50% or 200% (1% to 100000%)";
    if (const auto text = w.scalar(*n, p, kWhat)) {
      const std::string_view t = *text;
      const std::string_view digits = t.ends_with('%') ? t.substr(0, t.size() - 1) : t;
      // 0 when not a number: out of range like 0% (no optional here: gcc -O2 reports a
      // maybe-uninitialized read of it, a false positive).
      const std::uint64_t quota = t.ends_with('%') ? parseUnsigned(digits).value_or(0) : 0;
      if (isDigits(digits) && w.rejectLeadingZero(*n, p, kWhat, digits)) {
        // reported
      } else if (quota >= 1 && quota <= 100000) {
        out.cpu_quota = static_cast<std::uint32_t>(quota);
        track("cpu_quota", *n, true);
      } else {
        w.expected(*n, p, kWhat);
      }
    }
  }
  if (const auto* n = node.find("cpu_weight")) {
    out.cpu_weight = w.integer(*n, appendKeyPath(path, "cpu_weight"), 1, 10000);
    track("cpu_weight", *n, out.cpu_weight.has_value());
  }
  if (const auto* n = node.find("tasks_max")) {
    const std::string p = appendKeyPath(path, "tasks_max");
    constexpr std::string_view kWhat = "an integer of at least 1 or infinity";
    if (const auto text = w.scalar(*n, p, kWhat)) {
      const auto v = parseUnsigned(*text);
      if (*text == "infinity") {
        out.tasks_max = core::kUnlimited;
      } else if (isDigits(*text) && w.rejectLeadingZero(*n, p, kWhat, *text)) {
        // reported
      } else if (v && *v >= 1 && *v != core::kUnlimited) {
        out.tasks_max = v;
      } else {
        w.expected(*n, p, kWhat);
      }
      track("tasks_max", *n, out.tasks_max.has_value());
    }
  }
  if (const auto* n = node.find("io_weight")) {
    out.io_weight = w.integer(*n, appendKeyPath(path, "io_weight"), 1, 10000);
    track("io_weight", *n, out.io_weight.has_value());
  }
  if (of == LimitsOf::kSlice) return;
  if (const auto* n = node.find("runtime_max")) {
    out.runtime_max = w.duration(*n, appendKeyPath(path, "runtime_max"), Zero::kRejected);
    track("runtime_max", *n, out.runtime_max.has_value());
  }
  if (const auto* n = node.find("nofile")) {
    const std::string p = appendKeyPath(path, "nofile");
    const std::string what =
        fmt::format("a number of open files like 65536, or SOFT:HARD like 1024:65536 ({} to {})",
                    kMinOpenFiles, kMaxOpenFiles);
    out.nofile =
        w.resourceLimit(*n, p, what, [](std::string_view t) -> std::optional<std::uint64_t> {
          const auto v = parseUnsigned(t);
          if (!v || *v < kMinOpenFiles || *v > kMaxOpenFiles) return std::nullopt;
          return v;
        });
    track("nofile", *n, out.nofile.has_value());
  }
  if (const auto* n = node.find("core")) {
    const std::string p = appendKeyPath(path, "core");
    constexpr std::string_view kWhat =
        "a core file size like 0 (none), 512M or infinity, or SOFT:HARD like 0:infinity";
    out.core =
        w.resourceLimit(*n, p, kWhat, [](std::string_view t) -> std::optional<std::uint64_t> {
          const auto v = core::parseSize(t);  // "infinity" -> kUnlimited
          if (!v) return std::nullopt;
          return *v;
        });
    track("core", *n, out.core.has_value());
  }
}

// Impossible combinations of effective limits are errors, implausible values warnings.
// Each is reported where the deciding value was written, and only if that is at layer
// `min_layer` or above: a problem inside the defaults is reported once, at the defaults,
// not again for every worker that inherits it.
void checkLimits(const LimitsLayer& l,
                 const std::string& path,
                 Layer min_layer,
                 ConfigErrors& errors,
                 ConfigErrors& warnings) {
  const auto origin = [&](const char* key) -> const Origin* {
    auto it = l.origins.find(key);
    return it == l.origins.end() ? nullptr : &it->second;
  };
  const auto keyPath = [&](const char* key) {
    return appendKeyPath(appendKeyPath(path, "limits"), key);
  };
  const auto at = [](const Origin& o) {
    return fmt::format("{}:{}:{}", o.where.file, o.where.line, o.where.column);
  };
  const core::Limits& v = l.values;
  if (v.memory_max && v.memory_high && *v.memory_high != core::kUnlimited &&
      *v.memory_high > *v.memory_max) {
    const Origin* max = origin("memory_max");
    const Origin* high = origin("memory_high");
    if (max && high) {
      const bool blame_max = max->layer > high->layer;
      const Origin& culprit = blame_max ? *max : *high;
      const Origin& other = blame_max ? *high : *max;
      if (culprit.layer >= min_layer) {
        errors.push_back(makeError(
            culprit.where, keyPath(blame_max ? "memory_max" : "memory_high"),
            fmt::format("expected a size {} limits.{} ({}, set at {}), found {}: memory_high "
                        "above memory_max can never take effect",
                        blame_max ? "no smaller than" : "no larger than",
                        blame_max ? "memory_high" : "memory_max", other.text, at(other),
                        quoteForMessage(culprit.text))));
      }
    }
  }
  if (const Origin* o = origin("memory_max");
      o && v.memory_max && o->layer >= min_layer && *v.memory_max != core::kUnlimited) {
    if (*v.memory_max < kMinMemoryBytes) {
      errors.push_back(makeError(
          o->where, keyPath("memory_max"),
          fmt::format("expected a size of at least {}, found {}: no program can start in less "
                      "memory",
                      core::formatSize(kMinMemoryBytes), quoteForMessage(o->text))));
    } else if (*v.memory_max < kPlausibleMemoryBytes) {
      warnings.push_back(makeError(
          o->where, keyPath("memory_max"),
          fmt::format("{} is less memory than a service needs to run (a shell alone needs about "
                      "1M); the worker will likely be killed by the OOM killer at once",
                      quoteForMessage(o->text))));
    }
  }
  if (const Origin* o = origin("memory_high"); o && v.memory_high && o->layer >= min_layer &&
                                               *v.memory_high != core::kUnlimited &&
                                               *v.memory_high < kPlausibleMemoryBytes) {
    warnings.push_back(makeError(
        o->where, keyPath("memory_high"),
        fmt::format("{} is less memory than a service needs to run; the kernel will throttle the "
                    "worker at once",
                    quoteForMessage(o->text))));
  }
  if (const Origin* o = origin("nofile");
      o && v.nofile && o->layer >= min_layer && v.nofile->soft < kPlausibleOpenFiles) {
    warnings.push_back(
        makeError(o->where, keyPath("nofile"),
                  fmt::format("{} open files leave almost nothing beyond stdin, stdout and stderr",
                              quoteForMessage(o->text))));
  }
}

void parseBackoff(
    Walker& w, const YamlNode& node, const std::string& path, Layer layer, BackoffLayer& out) {
  if (!w.mapping(node, path, true)) return;
  w.checkKeys(node, path, kBackoffKeys);
  const auto tracked = [&](const YamlNode& n,
                           const std::string& p) -> std::optional<Tracked<Usec>> {
    if (const auto v = w.duration(n, p, Zero::kRejected)) {
      return Tracked<Usec>{*v, {layer, w.locate(n), n.value}};
    }
    return std::nullopt;
  };
  if (const auto* n = node.find("initial"))
    out.initial = tracked(*n, appendKeyPath(path, "initial"));
  if (const auto* n = node.find("max")) out.max = tracked(*n, appendKeyPath(path, "max"));
  if (const auto* n = node.find("multiplier")) {
    out.multiplier = w.number(*n, appendKeyPath(path, "multiplier"), 1.0, 1000.0,
                              "a number from 1 to 1000 like 2 or 1.5");
  }
  if (const auto* n = node.find("jitter")) {
    out.jitter =
        w.number(*n, appendKeyPath(path, "jitter"), 0.0, 1.0, "a number from 0 to 1 like 0.2");
  }
  if (const auto* n = node.find("reset_after")) {
    out.reset_after = w.duration(*n, appendKeyPath(path, "reset_after"), Zero::kRejected);
  }
}

void parseStop(Walker& w, const YamlNode& node, const std::string& path, StopLayer& out) {
  if (!w.mapping(node, path, true)) return;
  w.checkKeys(node, path, kStopKeys);
  if (const auto* n = node.find("signal")) {
    const std::string p = appendKeyPath(path, "signal");
    std::vector<std::string> names;
    for (const auto& [name, number] : kStopSignals) names.push_back("SIG" + std::string(name));
    names.push_back("SIGRTMIN+N");
    const std::string what =
        fmt::format("a signal name ({}) or its number", fmt::join(names, ", "));
    if (const auto text = w.scalar(*n, p, what)) {
      std::string_view t = *text;
      const int rtmin = SIGRTMIN;
      const int rtmax = SIGRTMAX;
      // One rule for names and numbers: a number is accepted only if it is one of the
      // signals a name would be.
      const auto allowed = [&](int sig) {
        if (sig >= rtmin && sig <= rtmax) return true;
        return std::any_of(std::begin(kStopSignals), std::end(kStopSignals),
                           [&](const auto& e) { return e.second == sig; });
      };
      std::optional<int> signal;
      std::optional<int> refused;  // a valid signal that cannot stop a service
      if (isDigits(t)) {
        if (!w.rejectLeadingZero(*n, p, what, t)) {
          const auto v = parseUnsigned(t);
          if (v && *v >= 1 && *v <= static_cast<std::uint64_t>(rtmax)) {
            if (allowed(static_cast<int>(*v))) {
              signal = static_cast<int>(*v);
            } else {
              refused = static_cast<int>(*v);
            }
          }
          if (!signal && !refused) w.expected(*n, p, what);
        }
      } else {
        if (t.starts_with("SIG")) t.remove_prefix(3);
        for (const auto& [name, number] : kStopSignals) {
          if (name == t) signal = number;
        }
        if (t.starts_with("RTMIN+")) {
          const auto v = parseUnsigned(t.substr(6));
          if (v && !leadingZero(t.substr(6)) && *v <= static_cast<std::uint64_t>(rtmax - rtmin))
            signal = rtmin + static_cast<int>(*v);
        }
        if (!signal) {
          for (int sig = 1; sig < rtmin; ++sig) {
            const char* abbrev = sigabbrev_np(sig);
            if (abbrev && t == abbrev) refused = sig;
          }
          if (!refused) w.expected(*n, p, what);
        }
      }
      const char* refused_name = refused ? sigabbrev_np(*refused) : nullptr;
      if (signal) {
        out.signal = signal;
      } else if (refused && !refused_name) {
        w.expected(*n, p, what);
      } else if (refused) {
        w.error(*n, p,
                fmt::format("expected {}, found {}: SIG{} ({}) cannot stop a service: {}", what,
                            describe(*n), refused_name, *refused, whyNotAStopSignal(*refused)));
      }
    }
  }
  if (const auto* n = node.find("timeout")) {
    out.timeout = w.duration(*n, appendKeyPath(path, "timeout"), Zero::kAllowed);
  }
}

void parseIntensity(Walker& w, const YamlNode& node, const std::string& path, IntensityLayer& out) {
  if (!w.mapping(node, path, true)) return;
  w.checkKeys(node, path, kIntensityKeys);
  if (const auto* n = node.find("max_restarts")) {
    if (const auto v = w.integer(*n, appendKeyPath(path, "max_restarts"), 0, 1000000)) {
      out.max_restarts = static_cast<unsigned>(*v);
    }
  }
  if (const auto* n = node.find("period")) {
    out.period = w.duration(*n, appendKeyPath(path, "period"), Zero::kRejected);
  }
}

// The keys shared by `defaults` and workers (workers have no `intensity`; the caller's
// checkKeys() has already rejected it there).
void parseLayerKeys(Walker& w,
                    const YamlNode& map,
                    const std::string& path,
                    Layer layer,
                    bool with_intensity,
                    DefaultsLayer& out) {
  if (const auto* n = map.find("restart")) {
    out.restart =
        w.choice<core::RestartPolicy>(*n, appendKeyPath(path, "restart"), kRestartPolicies);
  }
  if (const auto* n = map.find("limits"))
    parseLimits(w, *n, appendKeyPath(path, "limits"), layer, LimitsOf::kWorker, out.limits);
  if (const auto* n = map.find("backoff")) {
    parseBackoff(w, *n, appendKeyPath(path, "backoff"), layer, out.backoff);
  }
  if (const auto* n = map.find("stop")) parseStop(w, *n, appendKeyPath(path, "stop"), out.stop);
  if (const auto* n = map.find("intensity"); n && with_intensity) {
    parseIntensity(w, *n, appendKeyPath(path, "intensity"), out.intensity);
  }
  if (const auto* n = map.find("start_timeout")) {
    out.start_timeout = w.duration(*n, appendKeyPath(path, "start_timeout"), Zero::kRejected);
  }
}

void parseDefaults(Walker& w, const YamlNode& node, Layer layer, DefaultsLayer& out) {
  const std::string path = "defaults";
  if (!w.mapping(node, path, true)) return;
  w.checkKeys(node, path, kDefaultsKeys);
  parseLayerKeys(w, node, path, layer, true, out);
}

// backoff.max must not be shorter than backoff.initial in the effective values. Reported
// once, at the value set at the highest layer, and only if that layer is at least
// `min_layer` (so a conflict inside the defaults is reported once, not for every worker).
void checkBackoffOrder(ConfigErrors& errors,
                       const BackoffLayer& effective,
                       const std::string& path,
                       Layer min_layer) {
  const auto& initial = *effective.initial;
  const auto& max = *effective.max;
  if (max.value >= initial.value) return;
  const bool at_max = max.origin.layer >= initial.origin.layer;
  const auto& culprit = at_max ? max : initial;
  const auto& other = at_max ? initial : max;
  if (culprit.origin.layer < min_layer) return;
  errors.push_back(
      makeError(culprit.origin.where,
                appendKeyPath(appendKeyPath(path, "backoff"), at_max ? "max" : "initial"),
                fmt::format("expected a duration {} backoff.{} ({}, {}), found {}",
                            at_max ? "no shorter than" : "no longer than",
                            at_max ? "initial" : "max", core::formatDuration(other.value),
                            other.origin.describe(), quoteForMessage(culprit.origin.text))));
}

// Tree and child names among siblings, keyed by their unit-name escape so that two names
// that would map to the same unit are caught even if the naming rule is relaxed one day.
using SiblingNames = std::map<std::string, std::pair<std::string, core::SourceLocation>>;

class ConfigBuilder {
 public:
  ConfigBuilder(const LoadOptions& options, std::string file)
      : options_(options), file_(std::move(file)) {}

  tl::expected<core::Config, ConfigErrors> load(std::optional<std::string> text,
                                                ConfigErrors* warnings) {
    core::Config config;
    config.source_file = file_;
    std::optional<YamlNode> root;
    if (text) root = parseYaml(*text, file_, yamlLimits(), errors_);
    if (root) build(*root, config);
    if (warnings) *warnings = sorted(std::move(warnings_));
    if (!errors_.empty()) return tl::unexpected(sorted(std::move(errors_)));
    return config;
  }

  ConfigErrors& errors() { return errors_; }

 private:
  YamlLimits yamlLimits() const {
    return {options_.max_file_bytes, options_.max_nodes, options_.max_depth};
  }

  void build(const YamlNode& root, core::Config& config) {
    Walker w(file_, errors_, warnings_);
    static const YamlNode kEmpty = [] {
      YamlNode n;
      n.kind = Kind::Mapping;
      return n;
    }();
    const YamlNode* map = &root;
    if (root.kind == Kind::Null) {
      map = &kEmpty;  // an empty file: default tier, nothing supervised
    } else if (!w.mapping(root, "", false)) {
      return;
    }
    w.checkKeys(*map, "", kRootKeys);

    // The tier: VIGIL_TIER, else the `tier` key, else the default.
    std::optional<std::string> tier;
    const YamlNode* tier_node = map->find("tier");
    if (tier_node) tier = w.oneOf(*tier_node, "tier", kTiers);
    if (options_.tier_override) {
      const std::string& t = *options_.tier_override;
      ConfigError from_environment;
      from_environment.environment = "VIGIL_TIER";
      if (std::find(std::begin(kTiers), std::end(kTiers), t) != std::end(kTiers)) {
        loadTier(t, from_environment, "");
      } else {
        from_environment.message =
            fmt::format("expected one of {}, found {}", joinList(kTiers), quoteForMessage(t));
        errors_.push_back(std::move(from_environment));
      }
      tier = t;
    } else if (tier_node) {
      if (tier) loadTier(*tier, makeError(w.locate(*tier_node), "tier", ""), "");
    } else {
      tier = std::string(kDefaultTier);
      loadTier(*tier, makeError({file_, 0, 0}, "tier", ""), " (the default tier)");
    }
    config.tier = tier.value_or("");

    std::optional<std::string> log_level;
    if (const auto* n = map->find("log_level")) log_level = w.oneOf(*n, "log_level", kLogLevels);
    config.log_level = log_level.value_or(tier_log_level_.value_or(config.log_level));

    MetricsLayer config_metrics;
    if (const auto* n = map->find("metrics")) parseMetrics(w, *n, config_metrics);
    config.metrics = effectiveMetrics(config_metrics);

    DefaultsLayer config_defaults;
    if (const auto* n = map->find("defaults"))
      parseDefaults(w, *n, kConfigDefaults, config_defaults);
    effective_ = builtInLayer();
    overlay(effective_, tier_defaults_);
    overlay(effective_, config_defaults);
    checkBackoffOrder(errors_, effective_.backoff, "defaults", kTierLayer);
    checkLimits(effective_.limits, "defaults", kTierLayer, errors_, warnings_);

    if (const auto* n = map->find("trees")) parseTrees(w, *n, config);
  }

  // `metrics:` of a tier file or the configuration, key by key over `layer`.
  void parseMetrics(Walker& w, const YamlNode& node, MetricsLayer& layer) {
    if (!w.mapping(node, "metrics", true)) return;
    w.checkKeys(node, "metrics", kMetricsKeys);
    if (const auto* n = node.find("interval")) {
      if (auto v = w.duration(*n, "metrics.interval", Zero::kRejected)) {
        if (*v < kMinMetricsInterval || *v > kMaxMetricsInterval) {
          w.expected(*n, "metrics.interval", "a duration from 200ms to 1h");
          layer.invalid = true;
        } else {
          layer.interval = Located<Usec>{*v, w.locate(*n)};
        }
      } else {
        layer.invalid = true;
      }
    }
    if (const auto* n = node.find("history")) {
      if (auto v = w.duration(*n, "metrics.history", Zero::kAllowed)) {
        layer.history = Located<Usec>{*v, w.locate(*n)};
      } else {
        layer.invalid = true;
      }
    }
    if (const auto* n = node.find("listen")) {
      if (auto text = w.scalar(*n, "metrics.listen",
                               "an address like 127.0.0.1:9753, or \"\" to serve nothing")) {
        if (text->empty()) {
          layer.listen = "";
        } else if (auto a = parseListenAddress(*text); !a) {
          w.error(*n, "metrics.listen", a.error().message() + ", found " + describe(*n));
        } else {
          layer.listen = *text;
        }
      }
    }
    if (const auto* n = node.find("textfile")) {
      if (auto text = w.scalar(*n, "metrics.textfile",
                               "an absolute directory path, or \"\" to write nothing")) {
        if (!text->empty() && text->front() != '/') {
          w.expected(*n, "metrics.textfile", "an absolute directory path");
        } else {
          layer.textfile = *text;
        }
      }
    }
  }

  // The metrics settings: built-in < tier file < configuration; the history must hold at
  // least one sample and at most kMaxHistorySamples. The error points at the key of the
  // most specific layer that set interval or history (the configuration's rather than the
  // tier file's, the history when a layer set both): the one the operator just changed.
  core::MetricsSettings effectiveMetrics(const MetricsLayer& config_layer) {
    core::MetricsSettings m;
    std::optional<core::SourceLocation> at;
    bool at_history = true;
    std::string history_from = "the built-in default";
    for (const MetricsLayer* layer :
         std::array<const MetricsLayer*, 2>{&tier_metrics_, &config_layer}) {
      if (layer->interval) {
        m.interval = layer->interval->value;
        at = layer->interval->at;
        at_history = false;
      }
      if (layer->history) {
        m.history = layer->history->value;
        at = layer->history->at;
        at_history = true;
        history_from = layer->history->at.file;
      }
      if (layer->listen) m.listen = *layer->listen;
      if (layer->textfile) m.textfile = *layer->textfile;
    }
    // One mistake, one error: a value already reported is not checked against the other.
    if (m.history.count() == 0 || tier_metrics_.invalid || config_layer.invalid) return m;
    const std::uint64_t samples = static_cast<std::uint64_t>(m.history / m.interval);
    std::string problem;
    if (m.history < m.interval) {
      problem = fmt::format(
          "metrics.history {} is shorter than metrics.interval {}; use 0 for "
          "no history",
          core::formatDuration(m.history), core::formatDuration(m.interval));
    } else if (samples > kMaxHistorySamples) {
      problem = fmt::format(
          "metrics.history {} (from {}) at metrics.interval {} is {} samples; at most {} are "
          "kept per cgroup (20 bytes each): shorten the history or lengthen the interval",
          core::formatDuration(m.history), history_from, core::formatDuration(m.interval), samples,
          kMaxHistorySamples);
    }
    if (!problem.empty()) {
      errors_.push_back(makeError(at.value_or(core::SourceLocation{file_, 0, 0}),
                                  at_history ? "metrics.history" : "metrics.interval", problem));
    }
    return m;
  }

  // Reads the tier file's `log_level` and `defaults`. `chosen_by` says where the tier was
  // chosen (a key in the file, or the environment), for the error when no tier directory
  // has the file.
  void loadTier(const std::string& tier, ConfigError chosen_by, std::string_view note) {
    const std::string file_name = tier + ".yaml";
    if (auto given = options_.tier_texts.find(file_name); given != options_.tier_texts.end()) {
      parseTier(given->second, file_name);
      return;
    }
    std::optional<std::filesystem::path> found;
    std::vector<std::string> looked;
    for (const auto& dir : options_.tier_dirs) {
      std::error_code ec;
      const auto candidate = dir / file_name;
      if (std::filesystem::is_regular_file(candidate, ec)) {
        found = candidate;
        break;
      }
      looked.push_back(dir.string());
    }
    if (!found) {
      chosen_by.message =
          fmt::format("tier file '{}'{} not found; looked in {}", file_name, note,
                      looked.empty() ? std::string("no directories (none configured)")
                                     : fmt::format("{}", fmt::join(looked, ", ")));
      errors_.push_back(std::move(chosen_by));
      return;
    }
    const std::string display = found->string();
    const auto text = readFileCapped(*found, display, options_.max_file_bytes, errors_);
    if (!text) return;
    parseTier(*text, display);
  }

  // The tier file's `log_level`, `metrics` and `defaults` from `text`, read from `display`.
  void parseTier(const std::string& text, const std::string& display) {
    if (options_.sources) options_.sources->push_back({display, text});
    if (text.size() > options_.max_file_bytes) {
      errors_.push_back(makeError({display, 0, 0}, "",
                                  fmt::format("the file is {} bytes; the limit is {} bytes",
                                              text.size(), options_.max_file_bytes)));
      return;
    }
    const auto root = parseYaml(text, display, yamlLimits(), errors_);
    if (!root || root->kind == Kind::Null) return;
    Walker w(display, errors_, warnings_);
    if (!w.mapping(*root, "", false)) return;
    w.checkKeys(*root, "", kTierFileKeys);
    if (const auto* n = root->find("log_level"))
      tier_log_level_ = w.oneOf(*n, "log_level", kLogLevels);
    if (const auto* n = root->find("metrics")) parseMetrics(w, *n, tier_metrics_);
    if (const auto* n = root->find("defaults")) parseDefaults(w, *n, kTierLayer, tier_defaults_);
  }

  void parseTrees(Walker& w, const YamlNode& node, core::Config& config) {
    const std::string path = "trees";
    if (!w.mapping(node, path, true)) return;
    if (node.entries.size() > kMaxTrees) {
      w.error(
          node, path,
          fmt::format("at most {} trees are allowed, found {}", kMaxTrees, node.entries.size()));
    }
    SiblingNames siblings;
    for (const auto& [key, value] : node.entries) {
      const std::string tree_path = appendKeyPath(path, key.value);
      const bool name_ok = checkSiblingName(w, key, tree_path, key.value, siblings);
      if (!w.mapping(value, tree_path, false)) continue;
      w.checkKeys(value, tree_path, kTreeKeys);
      core::SupervisorSpec tree = parseSupervisor(
          w, value, tree_path, key.value, 1,
          name_ok ? std::vector<std::string>{key.value} : std::vector<std::string>{});
      tree.where = w.locate(key);
      config.trees.push_back(std::move(tree));
    }
  }

  // `unit_path` holds the names from the tree down to this supervisor; it is empty when a
  // name on the way was invalid (then unit-name lengths are not checked below it).
  core::SupervisorSpec parseSupervisor(Walker& w,
                                       const YamlNode& map,
                                       const std::string& path,
                                       const std::string& name,
                                       std::size_t depth,
                                       const std::vector<std::string>& unit_path) {
    core::SupervisorSpec s;
    s.name = name;
    s.where = w.locate(map);
    if (const auto* n = map.find("strategy")) {
      if (const auto v =
              w.choice<core::Strategy>(*n, appendKeyPath(path, "strategy"), kStrategies)) {
        s.strategy = *v;
      }
    }
    IntensityLayer intensity = effective_.intensity;
    if (const auto* n = map.find("intensity")) {
      IntensityLayer own;
      parseIntensity(w, *n, appendKeyPath(path, "intensity"), own);
      overlay(intensity.max_restarts, own.max_restarts);
      overlay(intensity.period, own.period);
    }
    s.intensity = toIntensity(intensity);
    LimitsLayer budget;
    if (const auto* n = map.find("limits"))
      parseLimits(w, *n, appendKeyPath(path, "limits"), kOwn, LimitsOf::kSlice, budget);
    s.limits = budget.values;
    checkLimits(budget, path, kOwn, errors_, warnings_);
    if (!unit_path.empty()) checkUnitName(w, map, path, unit_path, std::nullopt);

    const YamlNode* children = map.find("children");
    if (!children || children->kind == Kind::Null || children->kind == Kind::Invalid) return s;
    const std::string children_path = appendKeyPath(path, "children");
    if (children->kind != Kind::Sequence) {
      w.expected(*children, children_path, "a sequence of children");
      return s;
    }
    SiblingNames siblings;
    budgets_.emplace_back(path, &budget);
    for (std::size_t i = 0; i < children->items.size(); ++i) {
      parseChild(w, children->items[i], appendIndexPath(children_path, i), depth, unit_path,
                 siblings, s.children);
    }
    budgets_.pop_back();
    return s;
  }

  void parseChild(Walker& w,
                  const YamlNode& item,
                  const std::string& path,
                  std::size_t depth,
                  const std::vector<std::string>& unit_path,
                  SiblingNames& siblings,
                  std::vector<core::ChildSpec>& out) {
    if (!w.mapping(item, path, false)) return;
    std::string name;
    bool name_ok = false;
    if (const auto* n = item.find("name")) {
      const std::string p = appendKeyPath(path, "name");
      if (const auto v = w.scalar(*n, p, "a name like api or web_1")) {
        name = *v;
        name_ok = checkSiblingName(w, *n, p, name, siblings);
      }
    } else {
      w.error(item, path, "missing required key 'name'");
    }
    std::vector<std::string> child_unit_path;
    if (name_ok && !unit_path.empty()) {
      child_unit_path = unit_path;
      child_unit_path.push_back(name);
    }

    const YamlNode* children = item.find("children");
    const YamlNode* command = item.find("command");
    if (children && command) {
      w.error(item, path,
              "a child has either 'command' (a worker) or 'children' (a nested supervisor), "
              "not both");
      return;
    }
    if (children) {
      w.checkKeys(item, path, kSupervisorKeys,
                  " (this child is a nested supervisor because it has 'children')");
      if (depth + 1 > kMaxSupervisorDepth) {
        w.error(item, path,
                fmt::format("supervisors nest at most {} levels deep; this one would be level {}",
                            kMaxSupervisorDepth, depth + 1));
        return;
      }
      auto s = parseSupervisor(w, item, path, name, depth + 1, child_unit_path);
      out.push_back(
          core::ChildSpec{nullptr, std::make_shared<const core::SupervisorSpec>(std::move(s))});
      return;
    }
    w.checkKeys(item, path, kWorkerKeys);
    if (!command) {
      w.error(item, path,
              "missing required key 'command' (for a worker) or 'children' (for a nested "
              "supervisor)");
    }
    auto worker = parseWorker(w, item, path, name, child_unit_path);
    out.push_back(
        core::ChildSpec{std::make_shared<const core::WorkerSpec>(std::move(worker)), nullptr});
  }

  core::WorkerSpec parseWorker(Walker& w,
                               const YamlNode& map,
                               const std::string& path,
                               const std::string& name,
                               const std::vector<std::string>& unit_path) {
    core::WorkerSpec spec;
    spec.name = name;
    spec.where = w.locate(map);

    if (const auto* n = map.find("command"))
      parseCommand(w, *n, appendKeyPath(path, "command"), spec);
    if (const auto* n = map.find("environment")) {
      parseEnvironment(w, *n, appendKeyPath(path, "environment"), spec);
    }
    if (const auto* n = map.find("working_directory")) {
      const std::string p = appendKeyPath(path, "working_directory");
      if (const auto v = w.scalar(*n, p, "an absolute path")) {
        if (v->starts_with('/')) {
          spec.working_directory = *v;
        } else {
          w.expected(*n, p, "an absolute path");
        }
      }
    }
    for (const auto& [key, target] :
         {std::pair{"user", &spec.user}, std::pair{"group", &spec.group}}) {
      const auto* n = map.find(key);
      if (!n) continue;
      const std::string p = appendKeyPath(path, key);
      const std::string what = fmt::format(
          "a {} name like www-data (matching [a-z_][a-z0-9_-]*[$]?) or a numeric id", key);
      if (const auto v = w.scalar(*n, p, what)) {
        if (validUserOrGroup(*v)) {
          *target = *v;
        } else {
          w.expected(*n, p, what);
        }
      }
    }

    DefaultsLayer own;
    parseLayerKeys(w, map, path, kOwn, false, own);
    DefaultsLayer effective = effective_;
    overlay(effective, own);
    spec.limits = effective.limits.values;
    checkLimits(effective.limits, path, kOwn, errors_, warnings_);
    checkBudgets(effective.limits, path);
    spec.restart = *effective.restart;
    spec.backoff = toBackoff(effective.backoff);
    spec.stop = {*effective.stop.signal, *effective.stop.timeout};
    spec.start_timeout = *effective.start_timeout;
    checkBackoffOrder(errors_, effective.backoff, path, kOwn);

    std::optional<bool> notify;
    if (const auto* n = map.find("notify")) notify = w.boolean(*n, appendKeyPath(path, "notify"));
    spec.notify = notify.value_or(false);
    if (const auto* n = map.find("watchdog")) {
      const std::string p = appendKeyPath(path, "watchdog");
      spec.watchdog = w.duration(*n, p, Zero::kRejected);
      // An invalid `notify` was reported already; do not pile a second error on it.
      const bool notify_invalid = map.find("notify") != nullptr && !notify;
      if (spec.watchdog && !spec.notify && !notify_invalid) {
        w.error(*n, p,
                "watchdog requires notify: true (the service reports liveness with "
                "sd_notify(\"WATCHDOG=1\"))");
      }
    }
    if (const auto* n = map.find("notify_access")) {
      const std::string p = appendKeyPath(path, "notify_access");
      if (const auto v = w.choice<core::NotifyAccess>(*n, p, kNotifyAccess)) {
        spec.notify_access = *v;
        const bool notify_invalid = map.find("notify") != nullptr && !notify;
        if (!spec.notify && !notify_invalid) {
          w.error(*n, p,
                  "notify_access requires notify: true (it says which processes may send "
                  "READY=1 and WATCHDOG=1)");
        }
      }
    }
    if (const auto* n = map.find("instances")) {
      if (const auto v = w.integer(*n, appendKeyPath(path, "instances"), 1, 1000)) {
        spec.instances = static_cast<unsigned>(*v);
      }
    }
    if (const auto* n = map.find("health"))
      parseHealth(w, *n, appendKeyPath(path, "health"), spec.instances, spec.health);
    if (options_.host_checks != HostChecks::Off) hostChecks(w, map, path, spec, effective.limits);

    workers_ += spec.instances;
    if (workers_ > kMaxWorkers && !reported_worker_cap_) {
      reported_worker_cap_ = true;
      w.error(map, path,
              fmt::format("too many workers: this one brings the total to {} (counting "
                          "instances); the limit is {}",
                          workers_, kMaxWorkers));
    }
    if (!unit_path.empty()) checkUnitName(w, map, path, unit_path, spec.instances);
    return spec;
  }

  // `health:` (vigil.yaml(5), HEALTH). One error per mistake, at the key that holds it.
  // `instances`: the worker's count; "%i" is checked as each number it becomes.
  void parseHealth(Walker& w,
                   const YamlNode& node,
                   const std::string& path,
                   unsigned instances,
                   core::HealthSpec& out) {
    // The spellings of "%i" for this worker: "" without instances, else 1..N.
    std::vector<unsigned> numbers;
    if (instances <= 1) numbers.push_back(0);
    for (unsigned i = 1; instances > 1 && i <= instances; ++i) numbers.push_back(i);
    using Probe = core::HealthSpec::Probe;
    if (!w.mapping(node, path, false)) return;
    w.checkKeys(node, path, kHealthKeys);
    const YamlNode* probe_node = nullptr;
    bool probe_invalid = false;
    for (const auto key : {"http", "tcp", "exec"}) {
      const auto* n = node.find(key);
      if (!n) continue;
      const std::string p = appendKeyPath(path, key);
      if (probe_node) {
        w.error(*n, p,
                fmt::format("one probe per worker: {} is set already (use exec with a script "
                            "to combine checks)",
                            toString(out.probe)));
        continue;
      }
      probe_node = n;
      const std::size_t before = errors_.size();
      if (std::string_view(key) == "http") {
        out.probe = Probe::Http;
        parseHttpCheck(w, *n, p, numbers, out);
      } else if (std::string_view(key) == "tcp") {
        out.probe = Probe::Tcp;
        constexpr std::string_view kWhat =
            "an address and port like 127.0.0.1:8080 or [::1]:8080 (numeric: no name is resolved)";
        if (const auto text = w.scalar(*n, p, kWhat)) {
          core::HealthSpec t;
          t.address = *text;
          std::string error;
          for (const unsigned i : numbers) {
            const std::string address = core::withInstance(t, i).address;
            auto a = parseListenAddress(address);
            if (!a) {
              error = a.error().message() + ", found " + describe(*n) +
                      (address == *text ? std::string()
                       : i == 0 ? fmt::format(" (%i is empty for a worker without instances: {})",
                                              address)
                                : fmt::format(" (for instance {}: {})", i, address));
              break;
            }
          }
          if (error.empty()) {
            out.address = *text;
          } else {
            w.error(*n, p, error);
          }
        }
      } else {
        out.probe = Probe::Exec;
        constexpr std::string_view kWhat =
            "a non-empty sequence of strings like [/usr/local/bin/check, --quick]";
        if (n->kind == Kind::Sequence && !n->items.empty()) {
          for (std::size_t i = 0; i < n->items.size(); ++i) {
            const std::string ip = appendIndexPath(p, i);
            const auto v = w.scalar(n->items[i], ip, "a string");
            if (!v) continue;
            if (i == 0 && !v->starts_with('/')) {
              w.expected(n->items[i], ip, "an absolute path like /usr/local/bin/check");
              continue;
            }
            out.argv.push_back(*v);
          }
        } else if (n->kind != Kind::Invalid) {
          w.expected(*n, p, kWhat);
        }
      }
      probe_invalid = errors_.size() != before;
    }
    bool interval_ok = true;
    if (const auto* n = node.find("interval")) {
      const std::string p = appendKeyPath(path, "interval");
      interval_ok = false;
      if (const auto v = w.duration(*n, p, Zero::kRejected)) {
        if (*v < kMinHealthInterval || *v > kMaxHealthInterval) {
          w.expected(*n, p, "a duration from 1s to 1d");
        } else {
          out.interval = *v;
          interval_ok = true;
        }
      }
    }
    const YamlNode* timeout_node = node.find("timeout");
    if (!timeout_node) {
      out.timeout = std::min(out.timeout, out.interval);  // 5s, or the interval if shorter
    } else {
      const std::string p = appendKeyPath(path, "timeout");
      if (const auto v = w.duration(*timeout_node, p, Zero::kRejected)) {
        if (*v < kMinHealthTimeout) {
          w.expected(*timeout_node, p, "a duration of at least 10ms");
        } else if (*v > out.interval && interval_ok) {
          // A check still running when the next is due would pile up.
          w.error(*timeout_node, p,
                  fmt::format("health.timeout ({}) must not be longer than health.interval ({})",
                              core::formatDuration(*v), core::formatDuration(out.interval)));
        } else {
          out.timeout = *v;
        }
      }
    }
    if (const auto* n = node.find("start_period")) {
      if (const auto v = w.duration(*n, appendKeyPath(path, "start_period"), Zero::kAllowed))
        out.start_period = *v;
    }
    for (const auto& [key, target] :
         {std::pair{"failures", &out.failures}, std::pair{"successes", &out.successes}}) {
      if (const auto* n = node.find(key)) {
        if (const auto v = w.integer(*n, appendKeyPath(path, key), 1, 100))
          *target = static_cast<unsigned>(*v);
      }
    }
    if (const auto* n = node.find("restart")) {
      if (const auto v = w.boolean(*n, appendKeyPath(path, "restart"))) out.restart = *v;
    }
    if (const auto* n = node.find("memory_pressure")) {
      const std::string p = appendKeyPath(path, "memory_pressure");
      if (w.mapping(*n, p, false)) {
        w.checkKeys(*n, p, kPressureRuleKeys);
        core::HealthSpec::PressureRule rule;
        bool ok = true;
        if (const auto* a = n->find("above")) {
          const std::string ap = appendKeyPath(p, "above");
          constexpr std::string_view kWhat = "a percentage like 40% (0% to 100%, two decimals)";
          const auto text = w.scalar(*a, ap, kWhat);
          const auto v = text ? parseCentipercent(*text) : std::nullopt;
          if (v) {
            rule.above_centipercent = *v;
          } else {
            if (text) w.expected(*a, ap, kWhat);
            ok = false;
          }
        } else {
          w.error(*n, p, "missing required key 'above' (a percentage like 40%)");
          ok = false;
        }
        if (const auto* f = n->find("for")) {
          if (const auto v = w.duration(*f, appendKeyPath(p, "for"), Zero::kAllowed)) {
            rule.duration = *v;
          } else {
            ok = false;
          }
        }
        if (ok) out.memory_pressure = rule;
      }
    }
    if (!probe_node && !node.find("memory_pressure")) {
      w.error(node, path, "health needs a probe (http, tcp or exec) or a memory_pressure rule");
    }
    (void)probe_invalid;
  }

  void parseHttpCheck(Walker& w,
                      const YamlNode& node,
                      const std::string& path,
                      const std::vector<unsigned>& numbers,
                      core::HealthSpec& out) {
    constexpr std::string_view kUrlWhat =
        "an http:// or https:// URL with a host, like http://127.0.0.1:8080/healthz";
    const YamlNode* url = &node;
    std::string url_path = path;
    if (node.kind == Kind::Mapping) {
      w.checkKeys(node, path, kHttpCheckKeys);
      url = node.find("url");
      url_path = appendKeyPath(path, "url");
      if (!url) w.error(node, path, "missing required key 'url'");
      if (const auto* n = node.find("status")) {
        const std::string p = appendKeyPath(path, "status");
        constexpr std::string_view kWhat =
            "an HTTP status like 200, or a range like 200-299 (100 to 599)";
        if (const auto text = w.scalar(*n, p, kWhat)) {
          const auto range = parseStatusRange(*text);
          if (range) {
            out.status_min = range->first;
            out.status_max = range->second;
          } else {
            w.expected(*n, p, kWhat);
          }
        }
      }
      if (const auto* n = node.find("body")) {
        if (const auto v = w.scalar(*n, appendKeyPath(path, "body"), "a string")) {
          if (v->empty() || v->size() > 1024) {
            w.expected(*n, appendKeyPath(path, "body"), "a string of 1 to 1024 bytes");
          } else {
            out.body = *v;
          }
        }
      }
    }
    if (!url) return;
    if (const auto text = w.scalar(*url, url_path, kUrlWhat)) {
      core::HealthSpec t;
      t.url = *text;
      if (std::all_of(numbers.begin(), numbers.end(),
                      [&](unsigned i) { return validHttpUrl(core::withInstance(t, i).url); })) {
        out.url = *text;
      } else {
        w.expected(*url, url_path, kUrlWhat);
      }
    }
  }

  void parseCommand(Walker& w,
                    const YamlNode& node,
                    const std::string& path,
                    core::WorkerSpec& spec) {
    constexpr std::string_view kWhat =
        "a non-empty sequence of strings like [/usr/bin/python3, -m, http.server]";
    if (node.kind == Kind::Invalid) return;
    if (node.kind != Kind::Sequence || node.items.empty()) {
      w.expected(node, path, kWhat);
      return;
    }
    for (std::size_t i = 0; i < node.items.size(); ++i) {
      const YamlNode& arg = node.items[i];
      const std::string p = appendIndexPath(path, i);
      const auto v = w.scalar(arg, p, "a string");
      if (!v) continue;
      if (i == 0 && !v->starts_with('/')) {
        w.expected(arg, p, "an absolute path like /usr/bin/python3");
        continue;
      }
      spec.command.push_back(*v);
    }
  }

  void parseEnvironment(Walker& w,
                        const YamlNode& node,
                        const std::string& path,
                        core::WorkerSpec& spec) {
    if (!w.mapping(node, path, true)) return;
    for (const auto& [key, value] : node.entries) {
      if (!validEnvName(key.value)) {
        w.error(key, path,
                fmt::format("expected a variable name matching [A-Za-z_][A-Za-z0-9_]*, found {}",
                            quoteForMessage(key.value)));
        continue;
      }
      const std::string p = appendKeyPath(path, key.value);
      const auto v = w.scalar(value, p, "a string (write \"\" for an empty value)");
      if (!v) continue;
      if (v->find('\n') != std::string::npos) {
        w.error(value, p, "the value must not contain a newline");
        continue;
      }
      spec.environment.emplace_back(key.value, *v);
    }
  }

  bool checkSiblingName(Walker& w,
                        const YamlNode& at,
                        const std::string& path,
                        const std::string& name,
                        SiblingNames& siblings) {
    if (const auto problem = checkName(name)) {
      w.error(at, path, *problem);
      return false;
    }
    const auto [it, inserted] =
        siblings.try_emplace(core::escapeUnitNameComponent(name), name, w.locate(at));
    if (inserted) return true;
    const auto& [first_name, first_where] = it->second;
    const std::string first_at =
        fmt::format("{}:{}:{}", first_where.file, first_where.line, first_where.column);
    if (first_name == name) {
      w.error(at, path,
              fmt::format("duplicate name {}; first used at {}", quoteForMessage(name), first_at));
    } else {
      w.error(at, path,
              fmt::format("name {} maps to the same unit name as {} (first used at {})",
                          quoteForMessage(name), quoteForMessage(first_name), first_at));
    }
    return false;
  }

  // The unit names vigild will generate (core/UnitSpec.h: "vigil-web-parsers.slice",
  // "vigil-web-api@12.service") must fit systemd's limit; deep nesting of long names can
  // exceed it. `unit_path` is the supervisor path, plus the worker's name for a worker.
  void checkUnitName(Walker& w,
                     const YamlNode& at,
                     const std::string& path,
                     const std::vector<std::string>& unit_path,
                     std::optional<unsigned> instances) {
    std::string unit;
    if (instances) {
      const core::SupervisorPath parent(unit_path.begin(), unit_path.end() - 1);
      unit = core::serviceName(parent, unit_path.back(), *instances > 1 ? *instances : 0);
    } else {
      unit = core::sliceName(unit_path);
    }
    if (unit.size() <= core::kMaxUnitNameLength) return;
    w.error(at, path,
            fmt::format("the unit name {} would be {} bytes long; systemd allows at most {}; "
                        "use shorter names",
                        quoteForMessage(unit), unit.size(), core::kMaxUnitNameLength));
  }

  // A worker's own limits above the budget of a supervisor it runs under can never be
  // used: warned about where the worker sets them (an inherited default is not repeated
  // for every worker).
  void checkBudgets(const LimitsLayer& limits, const std::string& path) {
    struct Key {
      const char* name;
      std::optional<std::uint64_t> core::Limits::*member;
      bool size;
    };
    static constexpr Key kKeys[] = {{"memory_max", &core::Limits::memory_max, true},
                                    {"tasks_max", &core::Limits::tasks_max, false}};
    for (const auto& key : kKeys) {
      auto own = limits.origins.find(key.name);
      const auto& value = limits.values.*key.member;
      if (own == limits.origins.end() || own->second.layer != kOwn || !value ||
          *value == core::kUnlimited)
        continue;
      for (const auto& [sup_path, budget] : budgets_) {
        const auto& cap = budget->values.*key.member;
        auto cap_origin = budget->origins.find(key.name);
        if (!cap || *cap == core::kUnlimited || *value <= *cap ||
            cap_origin == budget->origins.end())
          continue;
        const std::string cap_text = key.size ? core::formatSize(*cap) : fmt::format("{}", *cap);
        warnings_.push_back(makeError(
            own->second.where, appendKeyPath(appendKeyPath(path, "limits"), key.name),
            fmt::format("{} is above the budget of supervisor {} ({}, set at {}:{}:{}): the "
                        "worker can never use more than {}",
                        quoteForMessage(own->second.text), sup_path, cap_text,
                        cap_origin->second.where.file, cap_origin->second.where.line,
                        cap_origin->second.where.column, cap_text)));
      }
    }
    if (const auto cpu = limits.origins.find("cpu_quota");
        cpu != limits.origins.end() && cpu->second.layer == kOwn && limits.values.cpu_quota) {
      for (const auto& [sup_path, budget] : budgets_) {
        if (!budget->values.cpu_quota || *limits.values.cpu_quota <= *budget->values.cpu_quota)
          continue;
        warnings_.push_back(makeError(
            cpu->second.where, appendKeyPath(appendKeyPath(path, "limits"), "cpu_quota"),
            fmt::format("{} is above the budget of supervisor {} ({}%): the worker can never use "
                        "more than {}%",
                        quoteForMessage(cpu->second.text), sup_path, *budget->values.cpu_quota,
                        *budget->values.cpu_quota)));
      }
    }
  }

  // Facts about this host: errors (check-config) or warnings (vigild) when definite, always
  // warnings when they could not be established.
  void hostChecks(Walker& w,
                  const YamlNode& map,
                  const std::string& path,
                  const core::WorkerSpec& spec,
                  const LimitsLayer& limits) {
    const auto report = [&](const YamlNode* at, const std::string& key, const std::string& what,
                            const std::optional<host::Problem>& problem, const char* status) {
      if (!problem || !at) return;
      std::string message = fmt::format("{}: {}", what, problem->text);
      if (problem->definite) {
        message += fmt::format(" (on this host the start would fail with status {})", status);
      }
      if (problem->definite && options_.host_checks == HostChecks::Error) {
        w.error(*at, key, std::move(message));
      } else {
        w.warning(*at, key, std::move(message));
      }
    };
    if (!spec.user.empty()) {
      report(map.find("user"), appendKeyPath(path, "user"),
             fmt::format("user {}", quoteForMessage(spec.user)), host::checkUser(spec.user),
             "217/USER");
    }
    if (!spec.group.empty()) {
      report(map.find("group"), appendKeyPath(path, "group"),
             fmt::format("group {}", quoteForMessage(spec.group)), host::checkGroup(spec.group),
             "216/GROUP");
    }
    if (!spec.working_directory.empty()) {
      report(map.find("working_directory"), appendKeyPath(path, "working_directory"),
             quoteForMessage(spec.working_directory), host::checkDirectory(spec.working_directory),
             "200/CHDIR");
    }
    const YamlNode* command = map.find("command");
    if (!spec.command.empty() && command && command->kind == Kind::Sequence &&
        !command->items.empty()) {
      report(&command->items[0], appendIndexPath(appendKeyPath(path, "command"), 0),
             quoteForMessage(spec.command.front()), host::checkExecutable(spec.command.front()),
             "203/EXEC");
    }
    if (const auto nofile = limits.origins.find("nofile");
        nofile != limits.origins.end() && nofile->second.layer == kOwn && spec.limits.nofile) {
      if (const auto nr_open = host::maxOpenFiles();
          nr_open && spec.limits.nofile->hard > *nr_open) {
        warnings_.push_back(makeError(
            nofile->second.where, appendKeyPath(appendKeyPath(path, "limits"), "nofile"),
            fmt::format("{} is above this host's fs.nr_open ({}), the most open files the kernel "
                        "allows a process",
                        quoteForMessage(nofile->second.text), *nr_open)));
      }
    }
  }

  // Sorted by source: the environment first, then this file, then other files (tiers), by
  // position. Nothing is dropped: printing caps the number shown (formatErrors).
  ConfigErrors sorted(ConfigErrors errors) const {
    const auto rank = [&](const ConfigError& e) {
      if (e.where.file.empty()) return 0;
      return e.where.file == file_ ? 1 : 2;
    };
    std::stable_sort(errors.begin(), errors.end(), [&](const ConfigError& a, const ConfigError& b) {
      const auto ka = std::make_tuple(rank(a), a.where.file, a.where.line, a.where.column);
      const auto kb = std::make_tuple(rank(b), b.where.file, b.where.line, b.where.column);
      return ka < kb;
    });
    return errors;
  }

  const LoadOptions& options_;
  std::string file_;
  ConfigErrors errors_;
  ConfigErrors warnings_;
  // The slice budgets of the supervisors above the child being parsed: key path, limits.
  std::vector<std::pair<std::string, const LimitsLayer*>> budgets_;
  std::optional<std::string> tier_log_level_;
  MetricsLayer tier_metrics_;
  DefaultsLayer tier_defaults_;
  DefaultsLayer effective_;  // built-in < tier < config defaults
  std::size_t workers_ = 0;
  bool reported_worker_cap_ = false;
};

}  // namespace

std::vector<std::filesystem::path> defaultTierDirs(const std::filesystem::path& config_file) {
  const std::filesystem::path parent = config_file.parent_path();
  std::vector<std::filesystem::path> dirs = {parent.empty() ? std::filesystem::path("tiers")
                                                            : parent / "tiers"};
  // The installed tier files (conffiles of the package), for a file kept anywhere else
  // (/usr/share/vigil/example.yaml, a file being prepared in /tmp), then <datadir>.
  for (const std::filesystem::path& extra : {std::filesystem::path(util::kSysconfDir) / "tiers",
                                             std::filesystem::path(util::kTierDir)}) {
    bool seen = false;
    for (const auto& d : dirs) seen = seen || d.lexically_normal() == extra.lexically_normal();
    if (!seen) dirs.push_back(extra);
  }
  return dirs;
}

tl::expected<core::Config, ConfigErrors> loadConfig(const std::filesystem::path& file,
                                                    const LoadOptions& options,
                                                    ConfigErrors* warnings) {
  const std::string display = file.string();
  ConfigBuilder builder(options, display);
  auto text = readFileCapped(file, display, options.max_file_bytes, builder.errors());
  if (text && options.sources) options.sources->push_back({display, *text});
  return builder.load(std::move(text), warnings);
}

tl::expected<core::Config, ConfigErrors> loadConfigFromString(std::string_view yaml,
                                                              std::string_view file_name,
                                                              const LoadOptions& options,
                                                              ConfigErrors* warnings) {
  ConfigBuilder builder(options, std::string(file_name));
  if (options.sources) options.sources->push_back({std::string(file_name), std::string(yaml)});
  return builder.load(std::string(yaml), warnings);
}

namespace {

bool identifierChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// An identifier close to `name`: runs of other characters become one '_', trimmed at the
// ends ("a..b" -> "a_b", "a." -> "a").
std::string identifierLike(std::string_view name) {
  std::string out;
  for (const char c : name) {
    if (identifierChar(c)) {
      out += c;
    } else if (!out.empty() && out.back() != '_') {
      out += '_';
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out.empty() ? std::string("worker") : out;
}

}  // namespace

std::optional<std::string> checkName(std::string_view name) {
  if (name.empty()) return "a name must not be empty";
  if (name.size() > kMaxNameBytes) {
    return fmt::format("name {} is {} bytes long; the limit is {}", quoteForMessage(name),
                       name.size(), kMaxNameBytes);
  }
  const auto bad = std::find_if_not(name.begin(), name.end(), identifierChar);
  if (bad == name.end()) return std::nullopt;
  // vigil makes the unit names itself; a name spelled like one would end up doubled
  // (vigil-t-x.service.service).
  static constexpr std::string_view kUnitSuffixes[] = {
      ".service", ".slice", ".scope", ".target", ".socket",   ".timer",
      ".path",    ".mount", ".swap",  ".device", ".automount"};
  for (const auto suffix : kUnitSuffixes) {
    if (name.size() > suffix.size() && name.ends_with(suffix)) {
      const std::string_view stem = name.substr(0, name.size() - suffix.size());
      return fmt::format(
          "name {} looks like a unit name; vigil names units itself (worker x of tree t runs as "
          "vigil-t-x.service): use {}",
          quoteForMessage(name), quoteForMessage(identifierLike(stem)));
    }
  }
  const std::string suggestion = identifierLike(name);
  if (*bad == '-') {
    return fmt::format(
        "name {} contains '-', which vigil reserves as the slice hierarchy separator "
        "(vigil-a-b.slice is a child of vigil-a.slice); names are identifiers of ASCII "
        "letters, digits and '_': use {}",
        quoteForMessage(name), quoteForMessage(suggestion));
  }
  return fmt::format(
      "name {} contains {}; names are identifiers of ASCII letters, digits and '_': use {}",
      quoteForMessage(name),
      quoteForMessage(characterAt(name, static_cast<std::size_t>(bad - name.begin()))),
      quoteForMessage(suggestion));
}

}  // namespace vigil::config
