#include "core/Size.h"

#include <cerrno>
#include <limits>

#include <fmt/format.h>

#include "core/Spec.h"

namespace vigil::core {

namespace {

struct SizeSuffix {
  std::string_view suffix;
  std::uint64_t factor;
};

// Largest first; a component's suffix must come strictly after the previous one's, as in
// systemd's parse_size() ("1G 512M" is fine, "512M 1G" and "1K 1K" are not). The empty
// suffix (bytes) is last and matches anything, so junk is caught by the next round.
constexpr SizeSuffix kSuffixes[] = {
    {"E", std::uint64_t{1} << 60},
    {"P", std::uint64_t{1} << 50},
    {"T", std::uint64_t{1} << 40},
    {"G", std::uint64_t{1} << 30},
    {"M", std::uint64_t{1} << 20},
    {"K", std::uint64_t{1} << 10},
    {"B", 1},
    {"", 1},
};

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

tl::unexpected<util::Error> invalid(std::string_view text, std::string_view why) {
  return util::fail(fmt::format("invalid size '{}': {}", text, why), EINVAL);
}

tl::unexpected<util::Error> outOfRange(std::string_view text) {
  return util::fail(fmt::format("size '{}' is out of range", text), ERANGE);
}

std::size_t skipSpaces(std::string_view s, std::size_t pos) {
  while (pos < s.size() && isSpace(s[pos])) ++pos;
  return pos;
}

}  // namespace

util::Result<std::uint64_t> parseSize(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) return invalid(text, "contains a NUL byte");
  if (text.find('%') != std::string_view::npos) {
    return invalid(text, "percentages are not supported; give an absolute size like 512M");
  }
  {
    const std::size_t b = skipSpaces(text, 0);
    if (text.substr(b).starts_with("infinity")) {
      if (skipSpaces(text, b + 8) != text.size()) return invalid(text, "junk after 'infinity'");
      return kUnlimited;
    }
  }

  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t total = 0;
  std::size_t first_suffix = 0;  // index into kSuffixes allowed for the next component
  std::size_t p = 0;
  do {
    p = skipSpaces(text, p);
    if (p < text.size() && text[p] == '-') return outOfRange(text);
    if (p < text.size() && text[p] == '+') ++p;  // strtoull accepts a plus sign
    const std::size_t digits = p;
    std::uint64_t whole = 0;
    bool overflow = false;
    while (p < text.size() && isDigit(text[p])) {
      const auto d = static_cast<std::uint64_t>(text[p] - '0');
      if (whole > (kMax - d) / 10) overflow = true;
      if (!overflow) whole = whole * 10 + d;
      ++p;
    }
    if (p == digits) {
      return invalid(text, text.empty()
                               ? std::string("empty")
                               : fmt::format("expected a number at '{}'", text.substr(digits)));
    }
    if (overflow) return outOfRange(text);

    // The fraction is computed in double precision exactly as systemd does (digits as an
    // integer, divided by 10 per digit), so truncation agrees byte for byte.
    double fraction = 0;
    if (p < text.size() && text[p] == '.') {
      ++p;
      std::uint64_t digits_value = 0;
      const std::size_t f = p;
      bool fraction_overflow = false;
      while (p < text.size() && isDigit(text[p])) {
        const auto d = static_cast<std::uint64_t>(text[p] - '0');
        if (digits_value > (kMax - d) / 10) fraction_overflow = true;
        if (!fraction_overflow) digits_value = digits_value * 10 + d;
        ++p;
      }
      if (fraction_overflow) return outOfRange(text);  // strtoull() would fail with ERANGE
      fraction = static_cast<double>(digits_value);
      for (std::size_t k = f; k < p; ++k) fraction /= 10;
    }

    p = skipSpaces(text, p);
    std::size_t i = first_suffix;
    for (; i < std::size(kSuffixes); ++i) {
      if (text.substr(p).starts_with(kSuffixes[i].suffix)) break;
    }
    if (i == std::size(kSuffixes)) {
      return invalid(text, fmt::format("unexpected '{}'", text.substr(digits)));
    }
    const std::uint64_t factor = kSuffixes[i].factor;

    if (whole + (fraction > 0 ? 1 : 0) > kMax / factor) return outOfRange(text);
    const std::uint64_t bytes =
        whole * factor + static_cast<std::uint64_t>(fraction * static_cast<double>(factor));
    if (bytes > kMax - total) return outOfRange(text);
    total += bytes;

    p += kSuffixes[i].suffix.size();
    first_suffix = i + 1;
  } while (p < text.size());

  if (total == kUnlimited) return outOfRange(text);  // reserved for "infinity"
  return total;
}

std::string formatSize(std::uint64_t bytes) {
  if (bytes == kUnlimited) return "infinity";
  if (bytes == 0) return "0";
  for (const auto& s : kSuffixes) {
    if (s.factor > 1 && bytes % s.factor == 0)
      return fmt::format("{}{}", bytes / s.factor, s.suffix);
  }
  return fmt::format("{}", bytes);
}

}  // namespace vigil::core
