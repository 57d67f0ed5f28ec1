#include "ctl/Format.h"

#include <signal.h>
#include <string.h>
#include <time.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include <fmt/format.h>

#include "core/Duration.h"

namespace vigil::ctl {

namespace {
std::string formatLocal(std::int64_t realtime_usec, const char* format) {
  const time_t t = static_cast<time_t>(realtime_usec / 1000000);
  struct tm tm {};
  localtime_r(&t, &tm);
  char buf[64];
  const std::size_t n = strftime(buf, sizeof buf, format, &tm);
  return std::string(buf, n);
}
}  // namespace

std::string localTime(std::int64_t realtime_usec) {
  return formatLocal(realtime_usec, "%Y-%m-%d %H:%M:%S");
}

std::string shortTime(std::int64_t realtime_usec) {
  return formatLocal(realtime_usec, "%b %d %H:%M:%S");
}

std::optional<int> parseSignal(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int n = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec == std::errc() && ptr == text.data() + text.size()) {
    if (n >= 1 && n <= 64) return n;
    return std::nullopt;
  }
  std::string name(text);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (name.starts_with("SIG")) name = name.substr(3);
  for (int s = 1; s < SIGRTMIN; ++s) {
    const char* abbrev = sigabbrev_np(s);
    if (abbrev && name == abbrev) return s;
  }
  if (name == "RTMIN") return SIGRTMIN;
  if (name == "RTMAX") return SIGRTMAX;
  for (const char* base : {"RTMIN+", "RTMAX-"}) {
    if (!name.starts_with(base)) continue;
    int k = 0;
    const std::string_view rest = std::string_view(name).substr(6);
    const auto [p, e] = std::from_chars(rest.data(), rest.data() + rest.size(), k);
    if (e != std::errc() || p != rest.data() + rest.size()) return std::nullopt;
    const int sig = base[5] == '+' ? SIGRTMIN + k : SIGRTMAX - k;
    if (sig >= SIGRTMIN && sig <= SIGRTMAX) return sig;
  }
  return std::nullopt;
}

std::string signalName(int signal) {
  if (signal >= 1 && signal < SIGRTMIN) {
    if (const char* a = sigabbrev_np(signal)) return fmt::format("SIG{}", a);
  }
  if (signal == SIGRTMIN) return "SIGRTMIN";
  if (signal > SIGRTMIN && signal <= SIGRTMAX) return fmt::format("SIGRTMIN+{}", signal - SIGRTMIN);
  return std::to_string(signal);
}

std::optional<std::int64_t> parseSince(std::string_view text, std::int64_t now) {
  const auto midnight = [&](int days_back) {
    const time_t t = static_cast<time_t>(now / 1000000) - days_back * 86400;
    struct tm tm {};
    localtime_r(&t, &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return static_cast<std::int64_t>(mktime(&tm)) * 1000000;
  };
  if (text == "now") return now;
  if (text == "today") return midnight(0);
  if (text == "yesterday") return midnight(1);
  std::string_view span = text;
  bool relative = false;
  if (span.starts_with('-')) {
    span.remove_prefix(1);
    relative = true;
  } else if (span.ends_with(" ago")) {
    span.remove_suffix(4);
    relative = true;
  }
  if (relative) {
    auto d = core::parseDuration(span);
    if (!d || *d == core::Usec::max()) return std::nullopt;
    return now - d->count();
  }
  // Absolute local time.
  for (const char* format : {"%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"}) {
    struct tm tm {};
    const std::string s(text);
    const char* end = strptime(s.c_str(), format, &tm);
    if (!end || *end != '\0') continue;
    tm.tm_isdst = -1;
    const time_t t = mktime(&tm);
    if (t == static_cast<time_t>(-1)) return std::nullopt;
    return static_cast<std::int64_t>(t) * 1000000;
  }
  return std::nullopt;
}

std::string Style::state(const std::string& s) const {
  if (!color) return s;
  const char* code = "";
  if (s == "running")
    code = "\033[32m";
  else if (s == "backoff" || s == "restarting" || s == "starting" || s == "stopping")
    code = "\033[33m";
  else if (s == "failed")
    code = "\033[1;31m";
  else if (s == "frozen")
    code = "\033[36m";
  else if (s == "stopped" || s == "exited")
    code = "\033[2m";
  if (!*code) return s;
  return fmt::format("{}{}\033[0m", code, s);
}

std::string Style::bold(const std::string& t) const {
  return color ? fmt::format("\033[1m{}\033[0m", t) : t;
}
std::string Style::dim(const std::string& t) const {
  return color ? fmt::format("\033[2m{}\033[0m", t) : t;
}
std::string Style::red(const std::string& t) const {
  return color ? fmt::format("\033[1;31m{}\033[0m", t) : t;
}

}  // namespace vigil::ctl
