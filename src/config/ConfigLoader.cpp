#include "config/ConfigLoader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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

#include "config/YamlNode.h"
#include "core/Duration.h"
#include "core/Size.h"
#include "core/UnitName.h"
#include "core/UnitSpec.h"
#include "util/BuildInfo.h"

namespace vigil::config {

namespace {

using core::Usec;
using Kind = YamlNode::Kind;
using KeyList = std::span<const std::string_view>;

// Accepted keys per mapping, in the order vigil.yaml(5) documents them (and the order the
// "accepted keys" list in errors shows).
constexpr std::string_view kRootKeys[] = {"tier", "log_level", "defaults", "trees"};
constexpr std::string_view kTierFileKeys[] = {"log_level", "defaults"};
constexpr std::string_view kDefaultsKeys[] = {"restart", "limits",    "backoff",
                                              "stop",    "intensity", "start_timeout"};
constexpr std::string_view kLimitsKeys[] = {"memory_max", "memory_high", "cpu_quota",
                                            "cpu_weight", "tasks_max",   "io_weight"};
constexpr std::string_view kBackoffKeys[] = {"initial", "max", "multiplier", "jitter",
                                             "reset_after"};
constexpr std::string_view kStopKeys[] = {"signal", "timeout"};
constexpr std::string_view kIntensityKeys[] = {"max_restarts", "period"};
constexpr std::string_view kTreeKeys[] = {"strategy", "intensity", "limits", "children"};
constexpr std::string_view kSupervisorKeys[] = {"name", "strategy", "intensity", "limits",
                                                "children"};
constexpr std::string_view kWorkerKeys[] = {
    "name",   "command",  "environment", "working_directory", "user",
    "group",  "limits",   "restart",     "backoff",           "stop",
    "notify", "watchdog", "instances",   "start_timeout"};

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

// Signals that make sense to ask a service to stop with; numbers 1..64 cover the rest.
constexpr std::pair<std::string_view, int> kStopSignals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"ABRT", SIGABRT},
    {"KILL", SIGKILL}, {"USR1", SIGUSR1},   {"USR2", SIGUSR2}, {"ALRM", SIGALRM},
    {"TERM", SIGTERM}, {"WINCH", SIGWINCH}, {"PWR", SIGPWR}};

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
// What `defaults` (tier file or config) or a worker's own keys may set.
struct DefaultsLayer {
  std::optional<core::RestartPolicy> restart;
  core::Limits limits;  // each member optional already
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

// Validation helpers bound to one file. Every check reports what it expected and what it
// found; nodes of Kind::Invalid were reported by the YAML reader and are skipped silently.
class Walker {
 public:
  Walker(std::string file, ConfigErrors& errors) : file_(std::move(file)), errors_(errors) {}

  const std::string& file() const { return file_; }
  core::SourceLocation locate(const YamlNode& n) const { return {file_, n.line, n.column}; }

  void error(const YamlNode& at, const std::string& path, std::string message) {
    errors_.push_back(makeError(locate(at), path, std::move(message)));
  }

  void expected(const YamlNode& at, const std::string& path, std::string_view what) {
    error(at, path, fmt::format("expected {}, found {}", what, describe(at)));
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

 private:
  std::string file_;
  ConfigErrors& errors_;
};

void parseLimits(Walker& w, const YamlNode& node, const std::string& path, core::Limits& out) {
  if (!w.mapping(node, path, true)) return;
  w.checkKeys(node, path, kLimitsKeys);
  if (const auto* n = node.find("memory_max")) {
    out.memory_max = w.memory(*n, appendKeyPath(path, "memory_max"));
  }
  if (const auto* n = node.find("memory_high")) {
    out.memory_high = w.memory(*n, appendKeyPath(path, "memory_high"));
  }
  if (const auto* n = node.find("cpu_quota")) {
    const std::string p = appendKeyPath(path, "cpu_quota");
    constexpr std::string_view kWhat = "a CPU quota like 50% or 200% (1% to 100000%)";
    if (const auto text = w.scalar(*n, p, kWhat)) {
      const std::string_view t = *text;
      const auto v = t.ends_with('%') ? parseUnsigned(t.substr(0, t.size() - 1)) : std::nullopt;
      if (v && *v >= 1 && *v <= 100000) {
        out.cpu_quota = static_cast<std::uint32_t>(*v);
      } else {
        w.expected(*n, p, kWhat);
      }
    }
  }
  if (const auto* n = node.find("cpu_weight")) {
    out.cpu_weight = w.integer(*n, appendKeyPath(path, "cpu_weight"), 1, 10000);
  }
  if (const auto* n = node.find("tasks_max")) {
    const std::string p = appendKeyPath(path, "tasks_max");
    constexpr std::string_view kWhat = "an integer of at least 1 or infinity";
    if (const auto text = w.scalar(*n, p, kWhat)) {
      const auto v = parseUnsigned(*text);
      if (*text == "infinity") {
        out.tasks_max = core::kUnlimited;
      } else if (v && *v >= 1 && *v != core::kUnlimited) {
        out.tasks_max = v;
      } else {
        w.expected(*n, p, kWhat);
      }
    }
  }
  if (const auto* n = node.find("io_weight")) {
    out.io_weight = w.integer(*n, appendKeyPath(path, "io_weight"), 1, 10000);
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
    const std::string what =
        fmt::format("a signal name ({}) or a number from 1 to 64", fmt::join(names, ", "));
    if (const auto text = w.scalar(*n, p, what)) {
      std::string_view t = *text;
      std::optional<int> signal;
      if (const auto v = parseUnsigned(t); v && *v >= 1 && *v <= 64) {
        signal = static_cast<int>(*v);
      } else {
        if (t.starts_with("SIG")) t.remove_prefix(3);
        for (const auto& [name, number] : kStopSignals) {
          if (name == t) signal = number;
        }
      }
      if (signal) {
        out.signal = signal;
      } else {
        w.expected(*n, p, what);
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
    parseLimits(w, *n, appendKeyPath(path, "limits"), out.limits);
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

  tl::expected<core::Config, ConfigErrors> load(std::optional<std::string> text) {
    core::Config config;
    config.source_file = file_;
    std::optional<YamlNode> root;
    if (text) root = parseYaml(*text, file_, yamlLimits(), errors_);
    if (root) build(*root, config);
    if (!errors_.empty()) return tl::unexpected(sortedErrors());
    return config;
  }

  ConfigErrors& errors() { return errors_; }

 private:
  YamlLimits yamlLimits() const {
    return {options_.max_file_bytes, options_.max_nodes, options_.max_depth};
  }

  void build(const YamlNode& root, core::Config& config) {
    Walker w(file_, errors_);
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
      if (std::find(std::begin(kTiers), std::end(kTiers), t) != std::end(kTiers)) {
        loadTier(t, "VIGIL_TIER", core::SourceLocation{}, "");
      } else {
        errors_.push_back(makeError(
            {}, "VIGIL_TIER",
            fmt::format("expected one of {}, found {}", joinList(kTiers), quoteForMessage(t))));
      }
      tier = t;
    } else if (tier_node) {
      if (tier) loadTier(*tier, "tier", w.locate(*tier_node), "");
    } else {
      tier = std::string(kDefaultTier);
      loadTier(*tier, "tier", core::SourceLocation{file_, 0, 0}, " (the default tier)");
    }
    config.tier = tier.value_or("");

    std::optional<std::string> log_level;
    if (const auto* n = map->find("log_level")) log_level = w.oneOf(*n, "log_level", kLogLevels);
    config.log_level = log_level.value_or(tier_log_level_.value_or(config.log_level));

    DefaultsLayer config_defaults;
    if (const auto* n = map->find("defaults"))
      parseDefaults(w, *n, kConfigDefaults, config_defaults);
    effective_ = builtInLayer();
    overlay(effective_, tier_defaults_);
    overlay(effective_, config_defaults);
    checkBackoffOrder(errors_, effective_.backoff, "defaults", kTierLayer);

    if (const auto* n = map->find("trees")) parseTrees(w, *n, config);
  }

  // Reads the tier file's `log_level` and `defaults`. `key` and `where` say where the tier
  // was chosen, for the error when no tier directory has the file.
  void loadTier(const std::string& tier,
                const std::string& key,
                const core::SourceLocation& where,
                std::string_view note) {
    const std::string file_name = tier + ".yaml";
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
      errors_.push_back(
          makeError(where, key,
                    fmt::format("tier file '{}'{} not found; looked in {}", file_name, note,
                                looked.empty() ? std::string("no directories (none configured)")
                                               : fmt::format("{}", fmt::join(looked, ", ")))));
      return;
    }
    const std::string display = found->string();
    const auto text = readFileCapped(*found, display, options_.max_file_bytes, errors_);
    if (!text) return;
    const auto root = parseYaml(*text, display, yamlLimits(), errors_);
    if (!root || root->kind == Kind::Null) return;
    Walker w(display, errors_);
    if (!w.mapping(*root, "", false)) return;
    w.checkKeys(*root, "", kTierFileKeys);
    if (const auto* n = root->find("log_level"))
      tier_log_level_ = w.oneOf(*n, "log_level", kLogLevels);
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
    if (const auto* n = map.find("limits"))
      parseLimits(w, *n, appendKeyPath(path, "limits"), s.limits);
    if (!unit_path.empty()) checkUnitName(w, map, path, unit_path, std::nullopt);

    const YamlNode* children = map.find("children");
    if (!children || children->kind == Kind::Null || children->kind == Kind::Invalid) return s;
    const std::string children_path = appendKeyPath(path, "children");
    if (children->kind != Kind::Sequence) {
      w.expected(*children, children_path, "a sequence of children");
      return s;
    }
    SiblingNames siblings;
    for (std::size_t i = 0; i < children->items.size(); ++i) {
      parseChild(w, children->items[i], appendIndexPath(children_path, i), depth, unit_path,
                 siblings, s.children);
    }
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
    spec.limits = effective.limits;
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
    if (const auto* n = map.find("instances")) {
      if (const auto v = w.integer(*n, appendKeyPath(path, "instances"), 1, 1000)) {
        spec.instances = static_cast<unsigned>(*v);
      }
    }

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

  ConfigErrors sortedErrors() {
    const auto rank = [&](const ConfigError& e) {
      if (e.where.file.empty()) return 0;
      return e.where.file == file_ ? 1 : 2;
    };
    std::stable_sort(
        errors_.begin(), errors_.end(), [&](const ConfigError& a, const ConfigError& b) {
          const auto ka = std::make_tuple(rank(a), a.where.file, a.where.line, a.where.column);
          const auto kb = std::make_tuple(rank(b), b.where.file, b.where.line, b.where.column);
          return ka < kb;
        });
    if (errors_.size() > kMaxErrors) {
      const std::size_t more = errors_.size() - kMaxErrors;
      errors_.resize(kMaxErrors);
      errors_.push_back(
          makeError({file_, 0, 0}, "", fmt::format("{} more errors not shown", more)));
    }
    return std::move(errors_);
  }

  const LoadOptions& options_;
  std::string file_;
  ConfigErrors errors_;
  std::optional<std::string> tier_log_level_;
  DefaultsLayer tier_defaults_;
  DefaultsLayer effective_;  // built-in < tier < config defaults
  std::size_t workers_ = 0;
  bool reported_worker_cap_ = false;
};

}  // namespace

LoadOptions LoadOptions::system() {
  LoadOptions options;
  options.tier_dirs = {std::filesystem::path(util::kSysconfDir) / "tiers",
                       std::filesystem::path(util::kTierDir)};
  return options;
}

tl::expected<core::Config, ConfigErrors> loadConfig(const std::filesystem::path& file,
                                                    const LoadOptions& options) {
  const std::string display = file.string();
  ConfigBuilder builder(options, display);
  auto text = readFileCapped(file, display, options.max_file_bytes, builder.errors());
  return builder.load(std::move(text));
}

tl::expected<core::Config, ConfigErrors> loadConfigFromString(std::string_view yaml,
                                                              std::string_view file_name,
                                                              const LoadOptions& options) {
  ConfigBuilder builder(options, std::string(file_name));
  return builder.load(std::string(yaml));
}

std::optional<std::string> checkName(std::string_view name) {
  if (name.empty()) return "a name must not be empty";
  if (name.size() > kMaxNameBytes) {
    return fmt::format("name {} is {} bytes long; the limit is {}", quoteForMessage(name),
                       name.size(), kMaxNameBytes);
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
        c == '.') {
      continue;
    }
    if (c == '-') {
      std::string suggestion(name);
      std::replace(suggestion.begin(), suggestion.end(), '-', '_');
      return fmt::format(
          "name {} contains '-', which vigil reserves as the slice hierarchy separator "
          "(vigil-a-b.slice is a child of vigil-a.slice); use '_' instead, as in {}",
          quoteForMessage(name), quoteForMessage(suggestion));
    }
    return fmt::format(
        "name {} contains {}; names may only contain ASCII letters, digits, '_' and '.'",
        quoteForMessage(name), quoteForMessage(characterAt(name, i)));
  }
  if (name.front() == '.') {
    return fmt::format("name {} must not start with '.'", quoteForMessage(name));
  }
  return std::nullopt;
}

}  // namespace vigil::config
