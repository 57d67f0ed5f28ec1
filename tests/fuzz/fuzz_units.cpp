// The duration and size parsers (core/Duration.h, core/Size.h) and the live-limit settings
// of `vigilctl set` (config/LimitSettings.h) on arbitrary text. Properties: what parses
// formats back to text that parses to the same value (the documented round trips); a
// setting is accepted or refused with one line naming its key.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "FuzzSupport.h"
#include "config/LimitSettings.h"
#include "core/Duration.h"
#include "core/Size.h"

using namespace vigil;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto d = core::parseDuration(text); d && d->count() >= 0) {
    const std::string back = core::formatDuration(*d);
    auto again = core::parseDuration(back);
    fuzz::check(again && *again == *d, "formatDuration does not round-trip", back);
  }
  if (auto s = core::parseSize(text)) {
    const std::string back = core::formatSize(*s);
    auto again = core::parseSize(back);
    fuzz::check(again && *again == *s, "formatSize does not round-trip", back);
  }
  // "key=value" lines as vigilctl set sends them.
  std::vector<std::pair<std::string, std::string>> settings;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t nl = text.find('\n', start);
    const std::string_view line =
        text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    if (auto kv = config::splitSetting(line)) settings.push_back(*kv);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  if (auto limits = config::parseLimitSettings(settings)) {
    (void)config::formatLimitSettings(*limits);
  } else {
    fuzz::check(!limits.error().empty() && limits.error().find('\n') == std::string::npos,
                "a refusal that is not one line", limits.error());
  }
  return 0;
}
