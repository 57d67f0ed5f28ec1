#pragma once
// Parsers for the cgroup v2 interface file formats (Documentation/admin-guide/cgroup-v2.rst,
// "Interface Files"). Pure functions: no I/O.
//
// The parsers allocate nothing when they succeed (parseFlatKeyed's map aside): the sampler
// runs them for every cgroup at every interval. Errors are formatted only when they occur.
//
// Every parser takes the file's whole content and a `file` name used as the prefix of error
// messages ("<file>: ..."), so the caller decides how the file is named (the reader passes
// the full path). One trailing newline is accepted and not required; anything else the kernel
// would not print (blank lines, trailing junk, signs, values beyond 64 bits) is an Error with
// code EINVAL (malformed) or ERANGE (overflow) that quotes the offending content.

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "util/Result.h"

namespace vigil::cgroup {

// One line of a PSI file: stall percentages over 10 s, 60 s and 300 s windows, and the
// cumulative stall time.
struct PressureLine {
  double avg10 = 0;
  double avg60 = 0;
  double avg300 = 0;
  std::uint64_t total_usec = 0;
};

// A *.pressure file. Either line may be absent (the kernel omits "full" for cpu.pressure
// before 5.13).
struct Pressure {
  std::optional<PressureLine> some;
  std::optional<PressureLine> full;
};

// cpu.max: "$MAX $PERIOD", MAX being "max" (no quota) or microseconds per period.
struct CpuMax {
  std::optional<std::uint64_t> quota_usec;
  std::uint64_t period_usec = 100000;
};

// io.stat counters summed over all devices.
struct IoStat {
  std::uint64_t rbytes = 0;
  std::uint64_t wbytes = 0;
  std::uint64_t rios = 0;
  std::uint64_t wios = 0;
  std::uint64_t dbytes = 0;
  std::uint64_t dios = 0;
};

// Key -> value of a flat keyed file; std::less<> allows lookup by string_view.
using FlatKeyed = std::map<std::string, std::uint64_t, std::less<>>;

// A single unsigned value (memory.current, memory.peak, pids.current). Empty is an error.
util::Result<std::uint64_t> parseValue(std::string_view content, std::string_view file);

// A single limit (memory.max, memory.high, pids.max): "max" (no limit) -> std::nullopt.
util::Result<std::optional<std::uint64_t>> parseLimit(std::string_view content,
                                                      std::string_view file);

// A flat keyed file (memory.events, cpu.stat, pids.events, cgroup.events): "key value" lines,
// exactly one space between. Keys are kept whatever they are, so keys added by newer kernels
// are harmless; values must be unsigned integers; a repeated key is an error. An empty file
// yields an empty map.
util::Result<FlatKeyed> parseFlatKeyed(std::string_view content, std::string_view file);

// One key of a flat keyed file wanted by readFlatKeyed, and where to store its value.
struct FlatKey {
  std::string_view key;
  std::uint64_t* value;
};

// The same check of the whole file as parseFlatKeyed, without building a map (the sampler
// reads these files for every cgroup at every interval): sets every `keys` value to 0, then
// stores the value of each listed key present. Returns which were present: bit i for the
// i-th of `keys` (at most 64). Allocates nothing unless it fails; on failure the values
// may be partly written.
util::Result<std::uint64_t> readFlatKeyed(std::string_view content,
                                          std::string_view file,
                                          std::initializer_list<FlatKey> keys);

// cpu.max. A zero period is rejected (the kernel never reports one and callers divide by it).
util::Result<CpuMax> parseCpuMax(std::string_view content, std::string_view file);

// io.stat: one "MAJ:MIN key=value..." line per device with I/O. rbytes, wbytes, rios, wios,
// dbytes and dios are summed; other keys (blk-iocost "cost.*", blk-iolatency "use_delay" ...)
// are checked for key=value shape only, since some are not integers ("cost.vrate=100.00").
// An empty file (no I/O yet) yields zeros; a sum beyond 64 bits is ERANGE.
util::Result<IoStat> parseIoStat(std::string_view content, std::string_view file);

// A PSI file: "some|full avg10=A avg60=B avg300=C total=N" lines, fields in that order, the
// averages being decimal fractions as the kernel prints them ("0.00", "12.34"). Each line type
// may appear at most once.
util::Result<Pressure> parsePressure(std::string_view content, std::string_view file);

}  // namespace vigil::cgroup
