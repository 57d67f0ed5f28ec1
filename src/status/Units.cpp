#include "status/Units.h"

#include <fmt/format.h>

namespace vigil::status {

std::string shortSpan(std::int64_t usec) {
  if (usec < 0) usec = 0;
  if (usec == 0) return "0";
  if (usec < 1000000) return fmt::format("{}ms", usec / 1000);
  struct Unit {
    std::int64_t usec;
    const char* suffix;
  };
  static constexpr Unit kUnits[] = {
      {86400LL * 1000000, "d"}, {3600LL * 1000000, "h"}, {60LL * 1000000, "min"}, {1000000, "s"}};
  std::string out;
  int parts = 0;
  for (const auto& u : kUnits) {
    if (usec < u.usec) {
      if (parts > 0) break;  // only adjacent units: "1h 5s" would mislead
      continue;
    }
    out += fmt::format("{}{}{}", parts ? " " : "", usec / u.usec, u.suffix);
    usec %= u.usec;
    if (++parts == 2) break;
  }
  return out;
}

std::string shortBytes(std::uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{}B", bytes);
  static constexpr const char* kSuffix[] = {"K", "M", "G", "T", "P", "E"};
  double v = static_cast<double>(bytes) / 1024.0;
  int i = 0;
  while (v >= 1024.0 && i < 5) {
    v /= 1024.0;
    i++;
  }
  std::string out = fmt::format("{:.1f}", v);
  if (out.ends_with(".0")) out.resize(out.size() - 2);
  return out + kSuffix[i];
}

std::string cpuTime(std::uint64_t usec) {
  if (usec < 60'000'000) return fmt::format("{:.1f}s", static_cast<double>(usec) / 1e6);
  return shortSpan(static_cast<std::int64_t>(usec));
}

}  // namespace vigil::status
