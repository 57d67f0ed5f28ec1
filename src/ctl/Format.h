#pragma once
// How vigilctl writes numbers, times and states for humans. Pure (local time formatting
// reads the TZ database, as date(1) does).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "status/Units.h"

namespace vigil::ctl {

// Sizes, spans and CPU times as the status page writes them too (status/Units.h).
using status::cpuTime;
using status::shortBytes;
using status::shortSpan;
// CLOCK_REALTIME usec as local "2026-11-30 12:01:02".
std::string localTime(std::int64_t realtime_usec);
// As journalctl's short format: "Nov 30 12:01:02".
std::string shortTime(std::int64_t realtime_usec);

// A signal for `kill -s`: a number (1..64) or a name with or without SIG ("TERM",
// "SIGKILL", "hup", "RTMIN+3"); nullopt when it is neither.
std::optional<int> parseSignal(std::string_view text);
// "SIGTERM" for 15, "SIGRTMIN+3", or the number.
std::string signalName(int signal);

// --since: "2026-11-30 12:00[:00]", "2026-11-30", "today", "yesterday", "now", or a span
// back from now ("-1h", "1h ago", "30min ago"). Returns CLOCK_REALTIME usec, or nullopt.
std::optional<std::int64_t> parseSince(std::string_view text, std::int64_t now_realtime_usec);

// ANSI colors for states, when `on`.
struct Style {
  bool color = false;
  std::string state(const std::string& state) const;  // "running" in green, ...
  std::string bold(const std::string& text) const;
  std::string dim(const std::string& text) const;
  std::string red(const std::string& text) const;
};

}  // namespace vigil::ctl
