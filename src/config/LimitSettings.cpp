#include "config/LimitSettings.h"

#include <algorithm>
#include <charconv>
#include <set>

#include <fmt/format.h>

#include "config/ConfigLoader.h"
#include "core/Size.h"

namespace vigil::config {

namespace {

std::optional<std::uint64_t> unsignedValue(std::string_view s) {
  if (s.empty() || (s.size() > 1 && s.front() == '0') ||
      !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  std::uint64_t v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string expected(std::string_view key, std::string_view what, std::string_view found) {
  return fmt::format("{}: expected {}, found '{}'", key, what, found);
}

}  // namespace

tl::expected<std::pair<std::string, std::string>, std::string> splitSetting(std::string_view text) {
  const auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return tl::unexpected(fmt::format("'{}': expected KEY=VALUE, e.g. memory_max=512M", text));
  return std::pair<std::string, std::string>{std::string(text.substr(0, eq)),
                                             std::string(text.substr(eq + 1))};
}

tl::expected<core::Limits, std::string> parseLimitSettings(
    const std::vector<std::pair<std::string, std::string>>& settings) {
  using Fail = tl::unexpected<std::string>;
  if (settings.empty()) return Fail("no limit given; set takes KEY=VALUE, e.g. memory_max=512M");
  core::Limits out;
  std::set<std::string> seen;
  for (const auto& [key, value] : settings) {
    if (std::find(std::begin(kSettableLimits), std::end(kSettableLimits), key) ==
        std::end(kSettableLimits)) {
      std::string keys;
      for (const auto k : kSettableLimits) keys += (keys.empty() ? "" : ", ") + std::string(k);
      return Fail(fmt::format("{}: not a limit set can change; expected one of {}", key, keys));
    }
    if (!seen.insert(key).second) return Fail(fmt::format("{}: given more than once", key));
    const bool infinity = value == "infinity";
    if (key == "memory_max" || key == "memory_high") {
      constexpr std::string_view kWhat = "a size like 512M, or infinity";
      // A leading zero ("0512M") is refused as in the file, where YAML 1.1 reads it as octal.
      std::optional<std::uint64_t> v;
      if (!(value.size() > 1 && value.front() == '0')) {
        auto parsed = core::parseSize(value);
        if (parsed) v = *parsed;
      }
      if (!v || *v == 0) return Fail(expected(key, kWhat, value));
      if (key == "memory_max" && *v < kMinMemoryBytes)
        return Fail(fmt::format("{}: expected at least {} (no program starts below it), found '{}'",
                                key, core::formatSize(kMinMemoryBytes), value));
      (key == "memory_max" ? out.memory_max : out.memory_high) = *v;
    } else if (key == "cpu_quota") {
      constexpr std::string_view kWhat =
          "a CPU quota like 50% or 200% (1% to 100000%), or infinity";
      if (infinity) {
        out.cpu_quota = core::kNoCpuQuota;
        continue;
      }
      const auto v = value.ends_with('%')
                         ? unsignedValue(std::string_view(value).substr(0, value.size() - 1))
                         : std::nullopt;
      if (!v || *v < 1 || *v > 100000) return Fail(expected(key, kWhat, value));
      out.cpu_quota = static_cast<std::uint32_t>(*v);
    } else if (key == "cpu_weight" || key == "io_weight") {
      constexpr std::string_view kWhat = "an integer from 1 to 10000, or infinity (the default)";
      std::optional<std::uint64_t> v = infinity ? core::kUnlimited : unsignedValue(value);
      if (!infinity && (!v || *v < 1 || *v > 10000)) return Fail(expected(key, kWhat, value));
      (key == "cpu_weight" ? out.cpu_weight : out.io_weight) = *v;
    } else {  // tasks_max
      constexpr std::string_view kWhat = "an integer of at least 1 or infinity";
      std::optional<std::uint64_t> v = infinity ? core::kUnlimited : unsignedValue(value);
      if (!v || *v < 1) return Fail(expected(key, kWhat, value));
      out.tasks_max = *v;
    }
  }
  return out;
}

std::string formatLimitSettings(const core::Limits& l) {
  std::string out;
  const auto add = [&](std::string_view key, const std::string& v) {
    out += fmt::format("{}{}={}", out.empty() ? "" : " ", key, v);
  };
  const auto number = [](std::uint64_t v) {
    return v == core::kUnlimited ? std::string("infinity") : std::to_string(v);
  };
  if (l.memory_max) add("memory_max", core::formatSize(*l.memory_max));
  if (l.memory_high) add("memory_high", core::formatSize(*l.memory_high));
  if (l.cpu_quota)
    add("cpu_quota",
        *l.cpu_quota == core::kNoCpuQuota ? "infinity" : fmt::format("{}%", *l.cpu_quota));
  if (l.cpu_weight) add("cpu_weight", number(*l.cpu_weight));
  if (l.tasks_max) add("tasks_max", number(*l.tasks_max));
  if (l.io_weight) add("io_weight", number(*l.io_weight));
  return out;
}

}  // namespace vigil::config
