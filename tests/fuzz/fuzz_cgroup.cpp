// The cgroup v2 file parsers (cgroup/CgroupParsers.h) on arbitrary file contents: a kernel
// that changes a format, a truncated read, garbage; each parser returns figures or an
// error naming the file, never a crash.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "FuzzSupport.h"
#include "cgroup/CgroupParsers.h"

using namespace vigil;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto named = [](const auto& r) {
    if (!r)
      fuzz::check(r.error().message().find("fuzz") != std::string::npos,
                  "an error that does not name the file", r.error().message());
  };
  named(cgroup::parseValue(text, "fuzz"));
  named(cgroup::parseLimit(text, "fuzz"));
  named(cgroup::parseFlatKeyed(text, "fuzz"));
  named(cgroup::parseCpuMax(text, "fuzz"));
  named(cgroup::parseIoStat(text, "fuzz"));
  named(cgroup::parsePressure(text, "fuzz"));
  std::uint64_t a = 0, b = 0;
  named(cgroup::readFlatKeyed(text, "fuzz", {{"usage_usec", &a}, {"nr_throttled", &b}}));
  return 0;
}
