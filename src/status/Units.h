#pragma once
// How vigil writes sizes and times for humans: vigilctl's tables (ctl/Format.h re-exports
// these) and the status page (status/StatusPage.h) write them the same way. Pure.

#include <cstdint>
#include <string>

namespace vigil::status {

// A span for a table cell: the two largest adjacent units, "3h 2min", "45s", "250ms", "0"
// (negative is 0).
std::string shortSpan(std::int64_t usec);
// Bytes with a binary suffix and one decimal where it matters: "512B", "23.4M", "512M".
std::string shortBytes(std::uint64_t bytes);
// CPU time: "0.3s", "12.5s", then as shortSpan: "3min 2s".
std::string cpuTime(std::uint64_t usec);

}  // namespace vigil::status
