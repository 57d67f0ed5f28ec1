#include "core/Duration.h"

#include <cerrno>
#include <cstdint>
#include <limits>

#include <fmt/format.h>

namespace vigil::core {

namespace {

constexpr std::uint64_t kUsecInfinity = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t kUsecPerMsec = 1000;
constexpr std::uint64_t kUsecPerSec = 1000 * kUsecPerMsec;
constexpr std::uint64_t kUsecPerMinute = 60 * kUsecPerSec;
constexpr std::uint64_t kUsecPerHour = 60 * kUsecPerMinute;
constexpr std::uint64_t kUsecPerDay = 24 * kUsecPerHour;
constexpr std::uint64_t kUsecPerWeek = 7 * kUsecPerDay;
constexpr std::uint64_t kUsecPerMonth = 2629800 * kUsecPerSec;  // 30.4375 days
constexpr std::uint64_t kUsecPerYear = 31557600 * kUsecPerSec;  // 365.25 days

struct UnitSuffix {
  std::string_view suffix;
  std::uint64_t usec;
};

// The order matters: the first suffix that prefixes the remaining text wins, exactly as
// in systemd's extract_multiplier() ("ms" before "m", "min" before "m", "M" is months).
constexpr UnitSuffix kParseUnits[] = {
    {"seconds", kUsecPerSec},
    {"second", kUsecPerSec},
    {"sec", kUsecPerSec},
    {"s", kUsecPerSec},
    {"minutes", kUsecPerMinute},
    {"minute", kUsecPerMinute},
    {"min", kUsecPerMinute},
    {"months", kUsecPerMonth},
    {"month", kUsecPerMonth},
    {"M", kUsecPerMonth},
    {"msec", kUsecPerMsec},
    {"ms", kUsecPerMsec},
    {"m", kUsecPerMinute},
    {"hours", kUsecPerHour},
    {"hour", kUsecPerHour},
    {"hr", kUsecPerHour},
    {"h", kUsecPerHour},
    {"days", kUsecPerDay},
    {"day", kUsecPerDay},
    {"d", kUsecPerDay},
    {"weeks", kUsecPerWeek},
    {"week", kUsecPerWeek},
    {"w", kUsecPerWeek},
    {"years", kUsecPerYear},
    {"year", kUsecPerYear},
    {"y", kUsecPerYear},
    {"usec", 1},
    {"us", 1},
    {"\xce\xbcs", 1} /* U+03BC GREEK SMALL LETTER MU */,
    {"\xc2\xb5s", 1} /* U+00B5 MICRO SIGN */,
};

constexpr UnitSuffix kFormatUnits[] = {
    {"y", kUsecPerYear}, {"month", kUsecPerMonth}, {"w", kUsecPerWeek},
    {"d", kUsecPerDay},  {"h", kUsecPerHour},      {"min", kUsecPerMinute},
    {"s", kUsecPerSec},  {"ms", kUsecPerMsec},     {"us", 1},
};

// systemd's WHITESPACE set.
bool isSystemdSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
// What strtoll() skips in the C locale (isspace()).
bool isCSpace(char c) {
  return isSystemdSpace(c) || c == '\v' || c == '\f';
}
bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

std::size_t skipSpaces(std::string_view s, std::size_t pos) {
  while (pos < s.size() && isSystemdSpace(s[pos])) ++pos;
  return pos;
}

tl::unexpected<util::Error> invalid(std::string_view text, std::string_view why) {
  return util::fail(fmt::format("invalid duration '{}': {}", text, why), EINVAL);
}

tl::unexpected<util::Error> outOfRange(std::string_view text) {
  return util::fail(fmt::format("duration '{}' is out of range", text), ERANGE);
}

// strtoll(p, &e, 10) as far as parse_time() can observe it.
struct StrtollResult {
  std::size_t end;  // == start when nothing was converted
  bool overflow = false;
  bool negative = false;  // a '-' sign and a non-zero magnitude (strtoll would return < 0)
  std::uint64_t value = 0;
};

StrtollResult emulateStrtoll(std::string_view s, std::size_t start) {
  std::size_t q = start;
  while (q < s.size() && isCSpace(s[q])) ++q;
  bool minus = false;
  if (q < s.size() && (s[q] == '+' || s[q] == '-')) {
    minus = s[q] == '-';
    ++q;
  }
  const std::uint64_t limit = minus ? std::uint64_t{1} << 63 : (std::uint64_t{1} << 63) - 1;
  StrtollResult r{start};
  const std::size_t digits = q;
  while (q < s.size() && isDigit(s[q])) {
    const auto d = static_cast<std::uint64_t>(s[q] - '0');
    if (r.value > (limit - d) / 10) r.overflow = true;
    if (!r.overflow) r.value = r.value * 10 + d;
    ++q;
  }
  if (q == digits) return StrtollResult{start};
  r.end = q;
  r.negative = minus && r.value != 0;
  return r;
}

}  // namespace

util::Result<Usec> parseDuration(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) return invalid(text, "contains a NUL byte");

  std::size_t p = skipSpaces(text, 0);
  if (text.substr(p).starts_with("infinity")) {
    if (skipSpaces(text, p + 8) != text.size()) return invalid(text, "junk after 'infinity'");
    return Usec::max();
  }

  std::uint64_t usec = 0;
  bool something = false;
  for (;;) {
    std::uint64_t multiplier = kUsecPerSec;
    p = skipSpaces(text, p);
    if (p == text.size()) {
      if (!something) return invalid(text, "empty");
      break;
    }
    if (text[p] == '-') return outOfRange(text);  // negative, including "-0"

    const StrtollResult number = emulateStrtoll(text, p);
    if (number.overflow || number.negative) return outOfRange(text);
    const std::size_t e = number.end;
    const bool has_fraction = e < text.size() && text[e] == '.';
    if (has_fraction) {
      p = e + 1;
      while (p < text.size() && isDigit(text[p])) ++p;
    } else if (e == p) {
      return invalid(text, fmt::format("expected a number at '{}'", text.substr(p)));
    } else {
      p = e;
    }

    const std::size_t unit_start = skipSpaces(text, p);
    std::size_t s = unit_start;
    for (const auto& unit : kParseUnits) {
      if (text.substr(unit_start).starts_with(unit.suffix)) {
        multiplier = unit.usec;
        s = unit_start + unit.suffix.size();
        break;
      }
    }
    // No unit and no separating whitespace: "12.34.56" is rejected, "12.34 .56" is not.
    if (s == p && s != text.size()) {
      return invalid(text, fmt::format("unknown unit at '{}'", text.substr(s)));
    }
    p = s;

    if (number.value >= kUsecInfinity / multiplier) return outOfRange(text);
    std::uint64_t k = number.value * multiplier;
    if (k >= kUsecInfinity - usec) return outOfRange(text);
    usec += k;
    something = true;

    if (has_fraction) {
      std::uint64_t m = multiplier / 10;
      std::size_t b = e + 1;
      for (; b < text.size() && isDigit(text[b]); ++b, m /= 10) {
        k = static_cast<std::uint64_t>(text[b] - '0') * m;
        if (k >= kUsecInfinity - usec) return outOfRange(text);
        usec += k;
      }
      if (b == e + 1) return invalid(text, "expected digits after '.'");
    }
  }

  // Divergence from systemd (see the header): Usec::max() is reserved for infinity.
  if (usec >= static_cast<std::uint64_t>(Usec::max().count())) return outOfRange(text);
  return Usec(static_cast<Usec::rep>(usec));
}

std::string formatDuration(Usec span) {
  if (span == Usec::max()) return "infinity";
  if (span.count() == 0) return "0";
  std::string out;
  std::uint64_t t;
  if (span.count() < 0) {
    out = "-";
    t = static_cast<std::uint64_t>(-(span.count() + 1)) + 1;  // no overflow for min()
  } else {
    t = static_cast<std::uint64_t>(span.count());
  }
  bool first = true;
  for (const auto& unit : kFormatUnits) {
    if (t < unit.usec) continue;
    if (!first) out += ' ';
    out += fmt::format("{}{}", t / unit.usec, unit.suffix);
    t %= unit.usec;
    first = false;
  }
  return out;
}

}  // namespace vigil::core
