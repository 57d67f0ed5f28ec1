#pragma once
// Time spans in the syntax of systemd.time(7), parsed exactly as systemd 252's parse_sec()
// does, so a value an operator copies from a unit file means the same thing in vigil.yaml.
// Pure functions: no I/O.

#include <string>
#include <string_view>

#include "core/Spec.h"
#include "util/Result.h"

namespace vigil::core {

// Parses a systemd time span: one or more components "<number>[.<fraction>][ ]<unit>",
// optionally separated by whitespace, summed ("1h 30min", "55s500ms", "1.5s", ".5s").
// Units: usec/us/µs/μs, msec/ms, seconds/second/sec/s, minutes/minute/min/m,
// hours/hour/hr/h, days/day/d, weeks/week/w, months/month/M (30.4375 d),
// years/year/y (365.25 d). A number without a unit means seconds. "infinity" yields
// Usec::max(). Fraction digits below one microsecond are truncated, as systemd does.
//
// Errors carry the errno systemd would report (EINVAL for syntax, ERANGE for negative
// or overflowing values) and name the input. One deliberate divergence: systemd
// accepts finite spans up to 2^64-2 µs, but Usec is signed 64-bit and Usec::max() means
// infinity, so finite spans of 2^63-1 µs (~292271 years) or more are ERANGE here.
util::Result<Usec> parseDuration(std::string_view text);

// Formats a span for messages, largest unit first, without fractions: "1min 30s",
// "250ms", "1s 500ms", "1y 6month", "0", "infinity" (for Usec::max()). The output is
// accepted by parseDuration() and yields the same value (negative spans print as
// "-" followed by the magnitude and do not round-trip).
std::string formatDuration(Usec span);

}  // namespace vigil::core
