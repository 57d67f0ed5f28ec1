#include "cgroup/CgroupParsers.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <limits>
#include <system_error>

#include <fmt/format.h>

namespace vigil::cgroup {

namespace {

constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();

// Quotes untrusted file content for an error message: control and non-ASCII bytes are
// escaped, and long content is cut so a garbage file cannot flood the log.
std::string quote(std::string_view s) {
  constexpr std::size_t kMaxShown = 64;
  std::string out = "'";
  for (std::size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c >= 0x7f || c == '\\') {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += s.size() > kMaxShown ? "'..." : "'";
  return out;
}

tl::unexpected<util::Error> malformed(std::string_view where, std::string_view what) {
  return util::fail(fmt::format("{}: {}", where, what), EINVAL);
}

std::string_view stripNewline(std::string_view content) {
  if (content.ends_with('\n')) content.remove_suffix(1);
  return content;
}

// Calls fn(line, index) for each line, stopping at the first error; the newline ending the
// last line is optional. Empty lines are passed on so the caller can reject them with a
// line number. No allocation.
template <typename Fn>
util::Result<void> forEachLine(std::string_view content, Fn fn) {
  content = stripNewline(content);
  if (content.empty()) return {};
  std::size_t start = 0;
  for (std::size_t index = 0;; ++index) {
    const std::size_t nl = content.find('\n', start);
    auto r = fn(content.substr(start, nl - start), index);
    if (!r) return r;
    if (nl == std::string_view::npos) return {};
    start = nl + 1;
  }
}

// Splits on spaces into `out`, dropping empty fields (io.stat can contain "8:0  use_delay=..."
// when a device has no byte counters). Returns the number of fields, which may exceed
// out.size(): fields beyond it are counted, not stored.
template <std::size_t N>
std::size_t splitFields(std::string_view line, std::array<std::string_view, N>& out) {
  std::size_t count = 0;
  std::size_t start = 0;
  while (start <= line.size()) {
    std::size_t sp = line.find(' ', start);
    if (sp == std::string_view::npos) sp = line.size();
    if (sp > start) {
      if (count < N) out[count] = line.substr(start, sp - start);
      ++count;
    }
    start = sp + 1;
  }
  return count;
}

bool allDigits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

std::string lineWhere(std::string_view file, std::size_t index) {
  return fmt::format("{}: line {}", file, index + 1);
}

// Decimal digits only: from_chars alone would also take a leading '-' for signed types and
// does not require the whole token to be consumed. The error messages are built only on
// failure: `where` and `expected` are called then.
template <typename Where, typename Expected>
util::Result<std::uint64_t> toU64(std::string_view token, Where where, Expected expected) {
  std::uint64_t value = 0;
  const auto* end = token.data() + token.size();
  const auto [ptr, ec] = std::from_chars(token.data(), end, value);
  if (ec == std::errc::result_out_of_range && ptr == end) {
    return util::fail(fmt::format("{}: value {} is out of range", where(), quote(token)), ERANGE);
  }
  if (token.empty() || ec != std::errc() || ptr != end) {
    return malformed(where(), fmt::format("expected {}, got {}", expected(), quote(token)));
  }
  return value;
}

// A PSI average as the kernel prints it ("%lu.%02lu"): digits, '.', digits. Checked by hand
// because from_chars(double) would also accept "inf", "nan" and exponents.
template <typename Where>
util::Result<double> toAverage(std::string_view token, Where where, std::string_view key) {
  const std::size_t dot = token.find('.');
  double value = 0;
  if (dot != std::string_view::npos && allDigits(token.substr(0, dot)) &&
      allDigits(token.substr(dot + 1))) {
    const auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
    if (ec == std::errc() && ptr == token.data() + token.size()) return value;
  }
  return malformed(where(),
                   fmt::format("expected a decimal like 1.25 for '{}', got {}", key, quote(token)));
}

bool addChecked(std::uint64_t& sum, std::uint64_t value) {
  if (value > kU64Max - sum) return false;
  sum += value;
  return true;
}

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 14695981039346656037ull;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

// "key value" lines with unique keys (parseFlatKeyed's contract); calls fn(key, value) for
// each. A repeated key is found through the hashes of the keys before it (memory.stat has
// some 50 lines, read for every cgroup at every interval): a line whose hash was seen is
// compared with the lines before it; past kHashed lines, every line is.
template <typename Fn>
util::Result<void> forEachFlatKeyed(std::string_view content, std::string_view file, Fn fn) {
  constexpr std::size_t kHashed = 128;
  std::array<std::uint64_t, kHashed> hashes;
  const std::string_view body = stripNewline(content);
  return forEachLine(content, [&](std::string_view line, std::size_t i) -> util::Result<void> {
    auto where = [&] { return lineWhere(file, i); };
    const std::size_t sp = line.find(' ');
    if (sp == 0 || sp == std::string_view::npos) {
      return malformed(where(), fmt::format("expected 'key value', got {}", quote(line)));
    }
    const std::string_view key = line.substr(0, sp);
    auto value = toU64(line.substr(sp + 1), where,
                       [&] { return fmt::format("an unsigned integer for '{}'", key); });
    if (!value) return tl::unexpected(std::move(value.error()));
    const std::uint64_t hash = fnv1a(key);
    bool maybe = i >= kHashed;
    for (std::size_t h = 0; h < std::min(i, kHashed) && !maybe; ++h) maybe = hashes[h] == hash;
    if (i < kHashed) hashes[i] = hash;
    bool duplicate = false;
    if (maybe) {
      const std::string_view before =
          body.substr(0, static_cast<std::size_t>(line.data() - body.data()));
      (void)forEachLine(before, [&](std::string_view earlier, std::size_t) -> util::Result<void> {
        if (earlier.substr(0, earlier.find(' ')) == key) duplicate = true;
        return {};
      });
    }
    if (duplicate) return malformed(where(), fmt::format("duplicate key {}", quote(key)));
    fn(key, *value);
    return {};
  });
}

}  // namespace

util::Result<std::uint64_t> parseValue(std::string_view content, std::string_view file) {
  if (content.empty()) return malformed(file, "empty file");
  return toU64(
      stripNewline(content), [&] { return file; }, [] { return "an unsigned integer"; });
}

util::Result<std::optional<std::uint64_t>> parseLimit(std::string_view content,
                                                      std::string_view file) {
  if (content.empty()) return malformed(file, "empty file");
  const std::string_view value = stripNewline(content);
  if (value == "max") return std::optional<std::uint64_t>();
  return toU64(
             value, [&] { return file; }, [] { return "an unsigned integer or 'max'"; })
      .map([](std::uint64_t v) { return std::optional<std::uint64_t>(v); });
}

util::Result<FlatKeyed> parseFlatKeyed(std::string_view content, std::string_view file) {
  FlatKeyed result;
  auto r = forEachFlatKeyed(content, file, [&](std::string_view key, std::uint64_t value) {
    result.emplace(std::string(key), value);
  });
  if (!r) return tl::unexpected(std::move(r.error()));
  return result;
}

util::Result<std::uint64_t> readFlatKeyed(std::string_view content,
                                          std::string_view file,
                                          std::initializer_list<FlatKey> keys) {
  for (const FlatKey& k : keys) *k.value = 0;
  std::uint64_t found = 0;
  auto r = forEachFlatKeyed(content, file, [&](std::string_view key, std::uint64_t value) {
    std::size_t i = 0;
    for (const FlatKey& k : keys) {
      if (k.key == key) {
        *k.value = value;
        if (i < 64) found |= std::uint64_t{1} << i;
      }
      ++i;
    }
  });
  if (!r) return tl::unexpected(std::move(r.error()));
  return found;
}

util::Result<CpuMax> parseCpuMax(std::string_view content, std::string_view file) {
  if (content.empty()) return malformed(file, "empty file");
  const std::string_view line = stripNewline(content);
  const std::size_t sp = line.find(' ');
  if (sp == std::string_view::npos) {
    return malformed(file, fmt::format("expected '<quota|max> <period>', got {}", quote(line)));
  }
  auto where = [&] { return file; };
  CpuMax result;
  const std::string_view quota = line.substr(0, sp);
  if (quota != "max") {
    auto q = toU64(quota, where, [] { return "an unsigned quota or 'max'"; });
    if (!q) return tl::unexpected(std::move(q.error()));
    result.quota_usec = *q;
  }
  auto period = toU64(line.substr(sp + 1), where, [] { return "an unsigned period"; });
  if (!period) return tl::unexpected(std::move(period.error()));
  if (*period == 0) return malformed(file, fmt::format("zero period in {}", quote(line)));
  result.period_usec = *period;
  return result;
}

util::Result<IoStat> parseIoStat(std::string_view content, std::string_view file) {
  IoStat total;
  const struct {
    std::string_view key;
    std::uint64_t IoStat::*field;
  } kSummed[] = {
      {"rbytes", &IoStat::rbytes}, {"wbytes", &IoStat::wbytes}, {"rios", &IoStat::rios},
      {"wios", &IoStat::wios},     {"dbytes", &IoStat::dbytes}, {"dios", &IoStat::dios},
  };
  auto r = forEachLine(content, [&](std::string_view line, std::size_t i) -> util::Result<void> {
    auto where = [&] { return lineWhere(file, i); };
    // The device, then key=value fields, one at a time (a line may carry any number);
    // empty fields are skipped as the kernel pads some lines.
    auto badDevice = [&] {
      return malformed(where(),
                       fmt::format("expected 'MAJ:MIN key=value...', got {}", quote(line)));
    };
    bool device_seen = false;
    std::size_t start = 0;
    while (start <= line.size()) {
      std::size_t sp = line.find(' ', start);
      if (sp == std::string_view::npos) sp = line.size();
      const std::string_view field = line.substr(start, sp - start);
      start = sp + 1;
      if (field.empty()) continue;
      if (!device_seen) {
        const std::size_t colon = field.find(':');
        if (colon == std::string_view::npos || !allDigits(field.substr(0, colon)) ||
            !allDigits(field.substr(colon + 1))) {
          return badDevice();
        }
        device_seen = true;
        continue;
      }
      const std::size_t eq = field.find('=');
      if (eq == 0 || eq == std::string_view::npos || eq + 1 == field.size()) {
        return malformed(where(), fmt::format("expected 'key=value', got {}", quote(field)));
      }
      const std::string_view key = field.substr(0, eq);
      for (const auto& summed : kSummed) {
        if (key != summed.key) continue;
        auto value = toU64(field.substr(eq + 1), where,
                           [&] { return fmt::format("an unsigned integer for '{}'", key); });
        if (!value) return tl::unexpected(std::move(value.error()));
        if (!addChecked(total.*summed.field, *value)) {
          return util::fail(
              fmt::format("{}: sum of '{}' over devices is out of range", where(), key), ERANGE);
        }
      }
    }
    if (!device_seen) return badDevice();
    return {};
  });
  if (!r) return tl::unexpected(std::move(r.error()));
  return total;
}

util::Result<Pressure> parsePressure(std::string_view content, std::string_view file) {
  Pressure result;
  auto r = forEachLine(content, [&](std::string_view text, std::size_t i) -> util::Result<void> {
    auto where = [&] { return lineWhere(file, i); };
    std::array<std::string_view, 5> fields;
    const bool shape_ok = splitFields(text, fields) == 5 &&
                          (fields[0] == "some" || fields[0] == "full") &&
                          fields[1].starts_with("avg10=") && fields[2].starts_with("avg60=") &&
                          fields[3].starts_with("avg300=") && fields[4].starts_with("total=");
    if (!shape_ok) {
      return malformed(where(), fmt::format("expected 'some|full avg10=N.NN avg60=N.NN "
                                            "avg300=N.NN total=N', got {}",
                                            quote(text)));
    }
    auto& slot = fields[0] == "some" ? result.some : result.full;
    if (slot) return malformed(where(), fmt::format("duplicate '{}' line", fields[0]));
    PressureLine line;
    const struct {
      std::string_view key;
      double PressureLine::*field;
    } kAverages[] = {{"avg10", &PressureLine::avg10},
                     {"avg60", &PressureLine::avg60},
                     {"avg300", &PressureLine::avg300}};
    for (std::size_t a = 0; a < std::size(kAverages); ++a) {
      auto avg =
          toAverage(fields[a + 1].substr(kAverages[a].key.size() + 1), where, kAverages[a].key);
      if (!avg) return tl::unexpected(std::move(avg.error()));
      line.*kAverages[a].field = *avg;
    }
    auto total =
        toU64(fields[4].substr(6), where, [] { return "an unsigned integer for 'total'"; });
    if (!total) return tl::unexpected(std::move(total.error()));
    line.total_usec = *total;
    slot = line;
    return {};
  });
  if (!r) return tl::unexpected(std::move(r.error()));
  return result;
}

}  // namespace vigil::cgroup
