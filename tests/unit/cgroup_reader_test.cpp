// CgroupParsers (kernel interface file formats) and CgroupReader (fixture trees, vanished
// cgroups, path and content errors). No real cgroupfs and no root privileges needed.

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <string>

#include <boost/test/unit_test.hpp>

#include "cgroup/CgroupParsers.h"
#include "cgroup/CgroupReader.h"
#include "support/CgroupTree.h"

using vigil::cgroup::CgroupDirectory;
using vigil::cgroup::CgroupReader;
using vigil::cgroup::CgroupStats;
using vigil::cgroup::parseCpuMax;
using vigil::cgroup::parseFlatKeyed;
using vigil::cgroup::parseIoStat;
using vigil::cgroup::parseLimit;
using vigil::cgroup::parsePressure;
using vigil::cgroup::parseValue;
using vigil::cgroup::readFlatKeyed;
using vigil::testing::CgroupTree;

namespace {

constexpr std::uint64_t kU64Max = UINT64_MAX;
const std::filesystem::path kFixtures = std::filesystem::path(VIGIL_FIXTURES_DIR) / "cgroupfs";
constexpr std::string_view kWebApi = "/vigil.slice/vigil-web.slice/vigil-web-api.service";

// Expects `r` to hold an error with exactly this message and code.
template <typename R>
void checkError(const R& r, const std::string& message, int code) {
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().message() == message);
  BOOST_TEST(r.error().code() == code);
}

template <typename R>
std::string errorOf(const R& r) {
  return r ? std::string() : r.error().message();
}

// The files every cgroup with memory and pids accounting has (shapes of a 6.1 kernel).
void writeMinimalCgroup(CgroupTree& tree, std::string_view cgroup) {
  const std::string dir(cgroup);
  tree.file(dir + "/cgroup.events", "populated 1\nfrozen 0\n");
  tree.file(dir + "/memory.current", "4096\n");
  tree.file(dir + "/memory.max", "max\n");
  tree.file(dir + "/pids.current", "1\n");
  tree.file(dir + "/pids.max", "max\n");
  tree.file(dir + "/cpu.stat", "usage_usec 10\nuser_usec 6\nsystem_usec 4\n");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cgroup_parsers)

BOOST_AUTO_TEST_CASE(single_values_and_limits) {
  BOOST_TEST(*parseValue("187236352\n", "memory.current") == 187236352u);
  BOOST_TEST(*parseValue("0", "pids.current") == 0u);  // the newline is optional
  BOOST_TEST(*parseValue("18446744073709551615\n", "memory.peak") == kU64Max);

  BOOST_TEST(!parseLimit("max\n", "pids.max")->has_value());
  BOOST_TEST(!parseLimit("max", "memory.high")->has_value());
  BOOST_TEST(parseLimit("268435456\n", "memory.max")->value() == 268435456u);
  BOOST_TEST(parseLimit("0\n", "memory.max")->value() == 0u);
}

BOOST_AUTO_TEST_CASE(single_value_errors) {
  checkError(parseValue("", "memory.current"), "memory.current: empty file", EINVAL);
  checkError(parseLimit("", "pids.max"), "pids.max: empty file", EINVAL);
  checkError(parseValue("\n", "memory.current"),
             "memory.current: expected an unsigned integer, got ''", EINVAL);
  checkError(parseValue("12abc\n", "memory.current"),
             "memory.current: expected an unsigned integer, got '12abc'", EINVAL);
  checkError(parseValue("12\n\n", "memory.current"),
             "memory.current: expected an unsigned integer, got '12\\n'", EINVAL);
  checkError(parseValue("4096 \n", "memory.current"),
             "memory.current: expected an unsigned integer, got '4096 '", EINVAL);
  checkError(parseValue("max\n", "memory.current"),
             "memory.current: expected an unsigned integer, got 'max'", EINVAL);
  checkError(parseLimit("maximum\n", "memory.max"),
             "memory.max: expected an unsigned integer or 'max', got 'maximum'", EINVAL);
  checkError(parseLimit("1\x01\n", "pids.max"),
             "pids.max: expected an unsigned integer or 'max', got '1\\x01'", EINVAL);
  checkError(parseValue("18446744073709551616\n", "memory.peak"),
             "memory.peak: value '18446744073709551616' is out of range", ERANGE);
  checkError(parseLimit("99999999999999999999999\n", "memory.max"),
             "memory.max: value '99999999999999999999999' is out of range", ERANGE);
  for (const std::string input : {"-1", "+1", " 1", "0x10", "1.0", "MAX", "1e3"}) {
    BOOST_TEST_CONTEXT("input '" << input << "'") {
      BOOST_TEST(!parseValue(input, "f").has_value());
      BOOST_TEST(!parseLimit(input, "f").has_value());
    }
  }
  // Garbage is quoted, escaped and cut.
  const std::string junk(100, 'x');
  checkError(parseValue(junk, "f"),
             "f: expected an unsigned integer, got '" + std::string(64, 'x') + "'...", EINVAL);
}

BOOST_AUTO_TEST_CASE(flat_keyed_files) {
  const auto events = parseFlatKeyed("low 0\nhigh 0\nmax 22\noom 1\noom_kill 1\noom_group_kill 0\n",
                                     "memory.events");
  BOOST_TEST_REQUIRE(events.has_value(), errorOf(events));
  const vigil::cgroup::FlatKeyed expected = {{"low", 0}, {"high", 0},     {"max", 22},
                                             {"oom", 1}, {"oom_kill", 1}, {"oom_group_kill", 0}};
  BOOST_TEST((*events == expected));

  // cpu.stat of 6.1 with CONFIG_SCHED_CORE and the cpu controller enabled.
  const auto cpu = parseFlatKeyed(
      "usage_usec 48213377\nuser_usec 40117203\nsystem_usec 8096174\n"
      "core_sched.force_idle_usec 0\nnr_periods 51322\nnr_throttled 1208\n"
      "throttled_usec 9650141\nnr_bursts 0\nburst_usec 0\n",
      "cpu.stat");
  BOOST_TEST_REQUIRE(cpu.has_value(), errorOf(cpu));
  BOOST_TEST(cpu->size() == 9u);
  BOOST_TEST(cpu->at("usage_usec") == 48213377u);
  BOOST_TEST(cpu->at("core_sched.force_idle_usec") == 0u);
  BOOST_TEST(cpu->at("throttled_usec") == 9650141u);

  BOOST_TEST(parseFlatKeyed("populated 1\nfrozen 0", "cgroup.events")->at("populated") == 1u);
  BOOST_TEST(parseFlatKeyed("", "pids.events")->empty());
}

BOOST_AUTO_TEST_CASE(flat_keyed_errors) {
  checkError(parseFlatKeyed("max\n", "pids.events"),
             "pids.events: line 1: expected 'key value', got 'max'", EINVAL);
  checkError(parseFlatKeyed("low 0\nhigh x\n", "memory.events"),
             "memory.events: line 2: expected an unsigned integer for 'high', got 'x'", EINVAL);
  checkError(parseFlatKeyed("low 0\n\nhigh 0\n", "memory.events"),
             "memory.events: line 2: expected 'key value', got ''", EINVAL);
  checkError(parseFlatKeyed(" 0\n", "memory.events"),
             "memory.events: line 1: expected 'key value', got ' 0'", EINVAL);
  checkError(parseFlatKeyed("max 1 2\n", "pids.events"),
             "pids.events: line 1: expected an unsigned integer for 'max', got '1 2'", EINVAL);
  checkError(parseFlatKeyed("max 1\nmax 2\n", "pids.events"),
             "pids.events: line 2: duplicate key 'max'", EINVAL);
  checkError(parseFlatKeyed("oom 99999999999999999999\n", "memory.events"),
             "memory.events: line 1: value '99999999999999999999' is out of range", ERANGE);
}

// readFlatKeyed: the sampler's way through a flat keyed file, without a map. The same
// checks as parseFlatKeyed; only the wanted keys are stored, and which were present.
BOOST_AUTO_TEST_CASE(read_flat_keyed_stores_the_wanted_keys_and_says_which_were_present) {
  std::uint64_t usage = 7, throttled = 7, burst = 7;
  const auto found =
      readFlatKeyed("usage_usec 48213377\nuser_usec 40117203\nnr_throttled 1208\n", "cpu.stat",
                    {{"usage_usec", &usage}, {"burst_usec", &burst}, {"nr_throttled", &throttled}});
  BOOST_TEST_REQUIRE(found.has_value(), errorOf(found));
  BOOST_TEST(*found == 0b101u);
  BOOST_TEST(usage == 48213377u);
  BOOST_TEST(throttled == 1208u);
  BOOST_TEST(burst == 0u);  // absent: zero, and bit 1 clear

  std::uint64_t max = 0;
  checkError(readFlatKeyed("max 1\nmax 2\n", "pids.events", {{"max", &max}}),
             "pids.events: line 2: duplicate key 'max'", EINVAL);
  // Keys not asked for are checked all the same.
  checkError(readFlatKeyed("max 1\nlow x\n", "pids.events", {{"max", &max}}),
             "pids.events: line 2: expected an unsigned integer for 'low', got 'x'", EINVAL);
  checkError(readFlatKeyed("low 1\nhigh 2\nlow 3\n", "memory.events", {{"max", &max}}),
             "memory.events: line 3: duplicate key 'low'", EINVAL);
  // Past the 128 lines whose key hashes are kept, every line is still checked.
  std::string long_file;
  for (int i = 0; i < 140; ++i) long_file += "k" + std::to_string(i) + " 1\n";
  BOOST_TEST(readFlatKeyed(long_file, "memory.stat", {{"max", &max}}).has_value());
  checkError(readFlatKeyed(long_file + "k3 2\n", "memory.stat", {{"max", &max}}),
             "memory.stat: line 141: duplicate key 'k3'", EINVAL);
  checkError(readFlatKeyed("k3 1\n" + long_file, "memory.stat", {{"max", &max}}),
             "memory.stat: line 5: duplicate key 'k3'", EINVAL);
  BOOST_TEST(readFlatKeyed("", "pids.events", {{"max", &max}}).value() == 0u);
}

BOOST_AUTO_TEST_CASE(cpu_max) {
  const auto unlimited = parseCpuMax("max 100000\n", "cpu.max");
  BOOST_TEST_REQUIRE(unlimited.has_value(), errorOf(unlimited));
  BOOST_TEST(!unlimited->quota_usec.has_value());
  BOOST_TEST(unlimited->period_usec == 100000u);

  const auto half = parseCpuMax("50000 100000\n", "cpu.max");
  BOOST_TEST_REQUIRE(half.has_value(), errorOf(half));
  BOOST_TEST(half->quota_usec.value() == 50000u);
  BOOST_TEST(half->period_usec == 100000u);

  BOOST_TEST(parseCpuMax("150000 1000000", "cpu.max")->period_usec == 1000000u);

  checkError(parseCpuMax("", "cpu.max"), "cpu.max: empty file", EINVAL);
  checkError(parseCpuMax("max\n", "cpu.max"), "cpu.max: expected '<quota|max> <period>', got 'max'",
             EINVAL);
  checkError(parseCpuMax("max 0\n", "cpu.max"), "cpu.max: zero period in 'max 0'", EINVAL);
  checkError(parseCpuMax("50000 100000 1\n", "cpu.max"),
             "cpu.max: expected an unsigned period, got '100000 1'", EINVAL);
  checkError(parseCpuMax("half 100000\n", "cpu.max"),
             "cpu.max: expected an unsigned quota or 'max', got 'half'", EINVAL);
  checkError(parseCpuMax("max 100000000000000000000\n", "cpu.max"),
             "cpu.max: value '100000000000000000000' is out of range", ERANGE);
}

BOOST_AUTO_TEST_CASE(io_stat_sums_devices) {
  // The example of Documentation/admin-guide/cgroup-v2.rst.
  const auto doc = parseIoStat(
      "8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n"
      "8:0 rbytes=90430464 wbytes=299008000 rios=8950 wios=1252 dbytes=50331648 dios=3021\n",
      "io.stat");
  BOOST_TEST_REQUIRE(doc.has_value(), errorOf(doc));
  BOOST_TEST(doc->rbytes == 1459200u + 90430464u);
  BOOST_TEST(doc->wbytes == 314773504u + 299008000u);
  BOOST_TEST(doc->rios == 192u + 8950u);
  BOOST_TEST(doc->wios == 353u + 1252u);
  BOOST_TEST(doc->dbytes == 50331648u);
  BOOST_TEST(doc->dios == 3021u);

  // A device without I/O prints as "MAJ:MIN " (then possibly policy keys after a second
  // space); blk-iocost adds cost.* keys, one of them not an integer.
  const auto odd = parseIoStat(
      "253:0 \n"
      "259:0  use_delay=0 delay_nsec=0\n"
      "8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0 cost.vrate=100.00 cost.usage=9 "
      "cost.wait=0 cost.indebt=0 cost.indelay=0\n",
      "io.stat");
  BOOST_TEST_REQUIRE(odd.has_value(), errorOf(odd));
  BOOST_TEST(odd->rbytes == 4096u);
  BOOST_TEST(odd->rios == 1u);
  BOOST_TEST(odd->wbytes == 0u);

  const auto empty = parseIoStat("", "io.stat");
  BOOST_TEST_REQUIRE(empty.has_value());
  BOOST_TEST(empty->rbytes + empty->wbytes + empty->rios + empty->wios == 0u);
}

BOOST_AUTO_TEST_CASE(io_stat_errors) {
  checkError(parseIoStat("sda rbytes=1\n", "io.stat"),
             "io.stat: line 1: expected 'MAJ:MIN key=value...', got 'sda rbytes=1'", EINVAL);
  checkError(parseIoStat("8:0 rbytes=1\n\n", "io.stat"),
             "io.stat: line 2: expected 'MAJ:MIN key=value...', got ''", EINVAL);
  checkError(parseIoStat("8:0 rbytes\n", "io.stat"),
             "io.stat: line 1: expected 'key=value', got 'rbytes'", EINVAL);
  checkError(parseIoStat("8:0 rbytes=\n", "io.stat"),
             "io.stat: line 1: expected 'key=value', got 'rbytes='", EINVAL);
  checkError(parseIoStat("8:0 rbytes=12x\n", "io.stat"),
             "io.stat: line 1: expected an unsigned integer for 'rbytes', got '12x'", EINVAL);
  checkError(parseIoStat("8:0 wios=18446744073709551616\n", "io.stat"),
             "io.stat: line 1: value '18446744073709551616' is out of range", ERANGE);
  checkError(parseIoStat("8:0 rbytes=18446744073709551615\n8:16 rbytes=1\n", "io.stat"),
             "io.stat: line 2: sum of 'rbytes' over devices is out of range", ERANGE);
}

BOOST_AUTO_TEST_CASE(pressure_files) {
  const auto p = parsePressure(
      "some avg10=1.53 avg60=0.87 avg300=0.24 total=3061520\n"
      "full avg10=1.12 avg60=0.61 avg300=0.17 total=2210437\n",
      "memory.pressure");
  BOOST_TEST_REQUIRE(p.has_value(), errorOf(p));
  BOOST_TEST_REQUIRE(p->some.has_value());
  BOOST_TEST_REQUIRE(p->full.has_value());
  BOOST_TEST(p->some->avg10 == 1.53);
  BOOST_TEST(p->some->avg60 == 0.87);
  BOOST_TEST(p->some->avg300 == 0.24);
  BOOST_TEST(p->some->total_usec == 3061520u);
  BOOST_TEST(p->full->avg10 == 1.12);
  BOOST_TEST(p->full->total_usec == 2210437u);

  const auto idle = parsePressure(
      "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
      "full avg10=0.00 avg60=0.00 avg300=0.00 total=0",
      "io.pressure");
  BOOST_TEST_REQUIRE(idle.has_value(), errorOf(idle));
  BOOST_TEST(idle->full->avg300 == 0.0);

  // cpu.pressure before 5.13 has no "full" line.
  const auto old_cpu =
      parsePressure("some avg10=100.00 avg60=0.00 avg300=0.00 total=7\n", "cpu.pressure");
  BOOST_TEST_REQUIRE(old_cpu.has_value(), errorOf(old_cpu));
  BOOST_TEST(old_cpu->some->avg10 == 100.0);
  BOOST_TEST(!old_cpu->full.has_value());
}

BOOST_AUTO_TEST_CASE(pressure_errors) {
  const std::string shape =
      "cpu.pressure: line 1: expected 'some|full avg10=N.NN avg60=N.NN avg300=N.NN total=N', got ";
  checkError(parsePressure("some avg10=0.00 avg60=0.00 avg300=0.00\n", "cpu.pressure"),
             shape + "'some avg10=0.00 avg60=0.00 avg300=0.00'", EINVAL);
  checkError(parsePressure("partial avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", "cpu.pressure"),
             shape + "'partial avg10=0.00 avg60=0.00 avg300=0.00 total=0'", EINVAL);
  checkError(parsePressure("some avg60=0.00 avg10=0.00 avg300=0.00 total=0\n", "cpu.pressure"),
             shape + "'some avg60=0.00 avg10=0.00 avg300=0.00 total=0'", EINVAL);
  checkError(
      parsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=0 extra=1\n", "cpu.pressure"),
      shape + "'some avg10=0.00 avg60=0.00 avg300=0.00 total=0 extra=1'", EINVAL);
  checkError(parsePressure("some avg10=nan avg60=0.00 avg300=0.00 total=0\n", "cpu.pressure"),
             "cpu.pressure: line 1: expected a decimal like 1.25 for 'avg10', got 'nan'", EINVAL);
  checkError(parsePressure("some avg10=0.00 avg60=1e2 avg300=0.00 total=0\n", "cpu.pressure"),
             "cpu.pressure: line 1: expected a decimal like 1.25 for 'avg60', got '1e2'", EINVAL);
  checkError(parsePressure("some avg10=0.00 avg60=0.00 avg300=.5 total=0\n", "cpu.pressure"),
             "cpu.pressure: line 1: expected a decimal like 1.25 for 'avg300', got '.5'", EINVAL);
  checkError(parsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=-1\n", "cpu.pressure"),
             "cpu.pressure: line 1: expected an unsigned integer for 'total', got '-1'", EINVAL);
  checkError(parsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=18446744073709551616\n",
                           "cpu.pressure"),
             "cpu.pressure: line 1: value '18446744073709551616' is out of range", ERANGE);
  checkError(parsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
                           "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
                           "cpu.pressure"),
             "cpu.pressure: line 2: duplicate 'some' line", EINVAL);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cgroup_reader)

BOOST_AUTO_TEST_CASE(reads_linux_6_1_fixture) {
  const CgroupReader reader(kFixtures / "linux-6.1-oom-killed");
  const auto r = reader.read(kWebApi);
  BOOST_TEST_REQUIRE(r.has_value(), errorOf(r));
  BOOST_TEST_REQUIRE(r->has_value());
  const CgroupStats& s = **r;

  BOOST_TEST(s.memory_current.value() == 187236352u);
  BOOST_TEST(s.memory_max.value() == 268435456u);
  BOOST_TEST(!s.memory_high.has_value());
  BOOST_TEST(s.memory_peak.value() == 268419072u);
  BOOST_TEST(s.memory_events_high == 0u);
  BOOST_TEST(s.memory_events_max == 22u);
  BOOST_TEST(s.memory_events_oom == 1u);
  BOOST_TEST(s.memory_events_oom_kill == 1u);
  BOOST_TEST(s.memory_anon.value() == 180355072u);
  BOOST_TEST(s.memory_file.value() == 5484544u);

  BOOST_TEST(s.pids_current.value() == 7u);
  BOOST_TEST(s.pids_max.value() == 64u);
  BOOST_TEST(s.pids_events_max == 3u);

  BOOST_TEST(s.cpu_usage_usec == 48213377u);
  BOOST_TEST(s.cpu_user_usec == 40117203u);
  BOOST_TEST(s.cpu_system_usec == 8096174u);
  BOOST_TEST(s.cpu_nr_periods == 51322u);
  BOOST_TEST(s.cpu_nr_throttled == 1208u);
  BOOST_TEST(s.cpu_throttled_usec == 9650141u);
  BOOST_TEST(s.cpu_max_quota_usec.value() == 50000u);
  BOOST_TEST(s.cpu_max_period_usec == 100000u);

  BOOST_TEST(s.io_rbytes == 1459200u + 73728u);
  BOOST_TEST(s.io_wbytes == 314773504u + 4096u);
  BOOST_TEST(s.io_rios == 192u + 12u);
  BOOST_TEST(s.io_wios == 353u + 1u);

  BOOST_TEST_REQUIRE(s.cpu_pressure.has_value());
  BOOST_TEST(s.cpu_pressure->some.value().avg10 == 12.41);
  BOOST_TEST(s.cpu_pressure->full.value().total_usec == 15002281u);
  BOOST_TEST_REQUIRE(s.memory_pressure.has_value());
  BOOST_TEST(s.memory_pressure->some.value().total_usec == 3061520u);
  BOOST_TEST_REQUIRE(s.io_pressure.has_value());
  BOOST_TEST(s.io_pressure->full.value().avg60 == 0.0);

  BOOST_TEST(s.populated);

  // Slices are cgroups too; "." and repeated slashes are harmless.
  const auto slice = reader.read("/vigil.slice/./vigil-web.slice/");
  BOOST_TEST_REQUIRE(slice.has_value(), errorOf(slice));
  BOOST_TEST_REQUIRE(slice->has_value());
  BOOST_TEST((*slice)->populated);
  BOOST_TEST(!(*slice)->memory_current.has_value());
  const auto same = reader.read("//vigil.slice//vigil-web.slice/./vigil-web-api.service");
  BOOST_TEST_REQUIRE(same.has_value(), errorOf(same));
  BOOST_TEST(((*same)->memory_peak == s.memory_peak));
}

BOOST_AUTO_TEST_CASE(missing_optional_files_leave_defaults) {
  const CgroupReader reader(kFixtures / "linux-5.15-minimal");
  const auto r = reader.read("/vigil.slice/vigil-batch-report.service");
  BOOST_TEST_REQUIRE(r.has_value(), errorOf(r));
  BOOST_TEST_REQUIRE(r->has_value());
  const CgroupStats& s = **r;

  BOOST_TEST(s.memory_current.value() == 0u);
  BOOST_TEST(!s.memory_max.has_value());
  BOOST_TEST(!s.memory_high.has_value());
  BOOST_TEST(!s.memory_peak.has_value());  // < 5.19
  BOOST_TEST(!s.memory_anon.has_value());  // no memory.stat in this fixture
  BOOST_TEST(!s.memory_file.has_value());
  BOOST_TEST(s.memory_events_oom_kill == 0u);
  BOOST_TEST(s.pids_current.value() == 0u);
  BOOST_TEST(s.pids_max.value() == 4915u);
  BOOST_TEST(s.cpu_usage_usec == 1003871u);
  BOOST_TEST(s.cpu_nr_periods == 0u);
  BOOST_TEST(!s.cpu_max_quota_usec.has_value());  // cpu controller off
  BOOST_TEST(s.cpu_max_period_usec == 100000u);
  // io controller off, CONFIG_PSI=n.
  BOOST_TEST(s.io_rbytes + s.io_wbytes + s.io_rios + s.io_wios == 0u);
  BOOST_TEST(!s.cpu_pressure.has_value());
  BOOST_TEST(!s.memory_pressure.has_value());
  BOOST_TEST(!s.io_pressure.has_value());
  BOOST_TEST(!s.populated);
}

BOOST_AUTO_TEST_CASE(vanished_cgroup_is_nullopt) {
  CgroupTree tree;
  tree.copyFrom(kFixtures / "linux-6.1-oom-killed");
  const CgroupReader reader(tree.root());
  BOOST_TEST_REQUIRE(reader.read(kWebApi).value().has_value());

  // Never existed.
  const auto never = reader.read("/vigil.slice/vigil-web.slice/vigil-web-worker.service");
  BOOST_TEST_REQUIRE(never.has_value(), errorOf(never));
  BOOST_TEST(!never->has_value());
  const auto no_slice = reader.read("/other.slice/vigil-web-api.service");
  BOOST_TEST_REQUIRE(no_slice.has_value(), errorOf(no_slice));
  BOOST_TEST(!no_slice->has_value());

  // Removed between two reads (the unit stopped).
  tree.remove(std::string(kWebApi));
  const auto gone = reader.read(kWebApi);
  BOOST_TEST_REQUIRE(gone.has_value(), errorOf(gone));
  BOOST_TEST(!gone->has_value());

  // Removed during the read: the kernel makes every file of a removed cgroup unreachable, so
  // the reader sees files (and finally cgroup.events) vanish under the open directory.
  tree.file(std::string(kWebApi) + "/memory.current", "4096\n");
  const auto partial = reader.read(kWebApi);
  BOOST_TEST_REQUIRE(partial.has_value(), errorOf(partial));
  BOOST_TEST(!partial->has_value());
}

// The sampler keeps a cgroup's directory open and reads it at every interval.
BOOST_AUTO_TEST_CASE(a_directory_kept_open_reads_each_change_until_its_cgroup_goes) {
  CgroupTree tree;
  tree.copyFrom(kFixtures / "linux-6.1-oom-killed");
  auto opened = CgroupDirectory::open(tree.root(), kWebApi);
  BOOST_TEST_REQUIRE(opened.has_value(), errorOf(opened));
  BOOST_TEST_REQUIRE(opened->has_value());
  CgroupDirectory dir = std::move(**opened);
  BOOST_TEST(dir.path() == tree.root().string() + std::string(kWebApi));

  std::string buffer;
  CgroupStats s;
  auto r = dir.read(s, vigil::cgroup::Detail::Full, buffer);
  BOOST_TEST_REQUIRE(r.has_value(), errorOf(r));
  BOOST_TEST(*r);
  BOOST_TEST(s.memory_current.value() == 187236352u);
  BOOST_TEST(s.cpu_nr_throttled == 1208u);

  // The same handle sees new values; Status reads its five files only.
  tree.file(std::string(kWebApi) + "/memory.current", "1048576\n");
  tree.file(std::string(kWebApi) + "/cpu.stat", "usage_usec 50000000\nnr_throttled 1300\n");
  r = dir.read(s, vigil::cgroup::Detail::Status, buffer);
  BOOST_TEST_REQUIRE(r.has_value(), errorOf(r));
  BOOST_TEST(*r);
  BOOST_TEST(s.memory_current.value() == 1048576u);
  BOOST_TEST(s.cpu_usage_usec == 50000000u);
  BOOST_TEST(s.cpu_nr_throttled == 1300u);
  BOOST_TEST(!s.memory_max.has_value());  // not read at Status: no stale value either
  BOOST_TEST(!s.io_pressure.has_value());

  // Sweep: the figures that move (memory.stat, io.stat, pressure too), not the limits nor
  // memory.peak and pids.events.
  r = dir.read(s, vigil::cgroup::Detail::Sweep, buffer);
  BOOST_TEST_REQUIRE(r.has_value(), errorOf(r));
  BOOST_TEST(*r);
  BOOST_TEST(s.memory_current.value() == 1048576u);
  BOOST_TEST(s.memory_anon.has_value());
  BOOST_TEST(s.io_pressure.has_value());
  BOOST_TEST(s.io_rbytes > 0u);
  BOOST_TEST(!s.memory_max.has_value());
  BOOST_TEST(!s.pids_max.has_value());
  BOOST_TEST(!s.memory_peak.has_value());
  BOOST_TEST(s.pids_events_max == 0u);

  // A file larger than the buffer is read whole (the buffer grows once).
  std::string many;
  for (int i = 0; i < 200; ++i)
    many += "8:" + std::to_string(i) + " rbytes=1 wbytes=2 rios=3 wios=4\n";
  tree.file(std::string(kWebApi) + "/io.stat", many);
  r = dir.read(s, vigil::cgroup::Detail::Full, buffer);
  BOOST_TEST_REQUIRE(r.has_value(), errorOf(r));
  BOOST_TEST(s.io_rbytes == 200u);
  BOOST_TEST(s.io_wios == 800u);
  BOOST_TEST(buffer.size() >= many.size());

  // The unit stopped: its cgroup is gone, and stays gone for this handle even when a
  // restarted unit's cgroup appears under the same path; a new handle reads that one.
  tree.remove(std::string(kWebApi));
  r = dir.read(s, vigil::cgroup::Detail::Status, buffer);
  BOOST_TEST_REQUIRE(r.has_value(), errorOf(r));
  BOOST_TEST(!*r);
  writeMinimalCgroup(tree, kWebApi);
  r = dir.read(s, vigil::cgroup::Detail::Status, buffer);
  BOOST_TEST_REQUIRE(r.has_value(), errorOf(r));
  BOOST_TEST(!*r);
  auto again = CgroupDirectory::open(tree.root(), kWebApi);
  BOOST_TEST_REQUIRE(again.has_value(), errorOf(again));
  BOOST_TEST_REQUIRE(again->has_value());
  r = (*again)->read(s, vigil::cgroup::Detail::Status, buffer);
  BOOST_TEST_REQUIRE(r.has_value(), errorOf(r));
  BOOST_TEST(*r);
  BOOST_TEST(s.memory_current.value() == 4096u);

  // Opening what does not exist is not an error; a bad path is.
  const auto none = CgroupDirectory::open(tree.root(), "/vigil.slice/nope.service");
  BOOST_TEST_REQUIRE(none.has_value(), errorOf(none));
  BOOST_TEST(!none->has_value());
  checkError(CgroupDirectory::open(tree.root(), "/vigil.slice/../etc"),
             "invalid cgroup path '/vigil.slice/../etc': contains '..'", EINVAL);
}

BOOST_AUTO_TEST_CASE(rejects_paths_outside_root) {
  CgroupTree tree;
  writeMinimalCgroup(tree, "/vigil.slice/a.service");
  // A cgroup-looking directory next to the root that ".." would reach.
  CgroupTree outside;
  writeMinimalCgroup(outside, "/x.service");
  const CgroupReader reader(tree.root());
  const std::string up = "/../" + outside.root().filename().string() + "/x.service";

  checkError(reader.read(up), "invalid cgroup path '" + up + "': contains '..'", EINVAL);
  checkError(reader.read("/vigil.slice/../vigil.slice/a.service"),
             "invalid cgroup path '/vigil.slice/../vigil.slice/a.service': contains '..'", EINVAL);
  checkError(reader.read("/.."), "invalid cgroup path '/..': contains '..'", EINVAL);
  checkError(reader.read("vigil.slice/a.service"),
             "invalid cgroup path 'vigil.slice/a.service': must start with '/'", EINVAL);
  checkError(reader.read(""), "invalid cgroup path '': must start with '/'", EINVAL);
  checkError(reader.read("/"), "invalid cgroup path '/': the root cgroup has no unit statistics",
             EINVAL);
  checkError(reader.read("//./"),
             "invalid cgroup path '//./': the root cgroup has no unit statistics", EINVAL);
  const std::string with_nul("/vigil.slice/a.service\0/x", 25);
  BOOST_TEST(!reader.read(with_nul).has_value());
  BOOST_TEST(reader.read(with_nul).error().code() == EINVAL);

  // Names that merely contain dots are fine.
  writeMinimalCgroup(tree, "/vigil.slice/..a...service");
  const auto dots = reader.read("/vigil.slice/..a...service");
  BOOST_TEST_REQUIRE(dots.has_value(), errorOf(dots));
  BOOST_TEST(dots->has_value());
}

BOOST_AUTO_TEST_CASE(malformed_files_are_errors_naming_the_path) {
  CgroupTree tree;
  const std::string cg = "/vigil.slice/vigil-web.slice/vigil-web-api.service";
  writeMinimalCgroup(tree, cg);
  const CgroupReader reader(tree.root());
  const std::string dir = tree.root().string() + cg;

  const auto ok = reader.read(cg);
  BOOST_TEST_REQUIRE(ok.has_value(), errorOf(ok));
  BOOST_TEST_REQUIRE(ok->has_value());
  BOOST_TEST((*ok)->memory_current.value() == 4096u);
  BOOST_TEST((*ok)->populated);

  tree.file(cg + "/memory.max", "lots\n");
  checkError(reader.read(cg),
             dir + "/memory.max: expected an unsigned integer or 'max', got 'lots'", EINVAL);
  tree.file(cg + "/memory.max", "max\n");

  tree.file(cg + "/memory.current", "");
  checkError(reader.read(cg), dir + "/memory.current: empty file", EINVAL);
  tree.file(cg + "/memory.current", "4096\n");

  tree.file(cg + "/pids.current", "18446744073709551616\n");
  checkError(reader.read(cg), dir + "/pids.current: value '18446744073709551616' is out of range",
             ERANGE);
  tree.file(cg + "/pids.current", "1\n");

  tree.file(cg + "/cpu.stat", "usage_usec 10\nusage_usec 11\n");
  checkError(reader.read(cg), dir + "/cpu.stat: line 2: duplicate key 'usage_usec'", EINVAL);
  tree.file(cg + "/cpu.stat", "usage_usec 10\n");

  tree.file(cg + "/io.pressure", "some avg10=0.00\n");
  checkError(reader.read(cg),
             dir +
                 "/io.pressure: line 1: expected 'some|full avg10=N.NN avg60=N.NN avg300=N.NN "
                 "total=N', got 'some avg10=0.00'",
             EINVAL);
  tree.remove(cg + "/io.pressure");

  tree.file(cg + "/cgroup.events", "frozen 0\n");
  checkError(reader.read(cg), dir + "/cgroup.events: no 'populated' key", EINVAL);
  tree.file(cg + "/cgroup.events", "populated 0\nfrozen 0\n");

  const auto again = reader.read(cg);
  BOOST_TEST_REQUIRE(again.has_value(), errorOf(again));
  BOOST_TEST(!(*again)->populated);
}

BOOST_AUTO_TEST_CASE(io_failures_are_errors) {
  CgroupTree tree;
  const std::string cg = "/vigil.slice/a.service";
  writeMinimalCgroup(tree, cg);
  const CgroupReader reader(tree.root());

  // Not ENOENT/ENODEV, so not "vanished": reported with the file's path.
  tree.remove(cg + "/memory.peak");
  tree.dir(cg + "/memory.peak");
  checkError(reader.read(cg), tree.root().string() + cg + "/memory.peak: Is a directory", EISDIR);
  tree.remove(cg + "/memory.peak");

  // Interface files are small: one over 1 MiB is refused, one of exactly 1 MiB is read
  // (here: too many digits for a number).
  constexpr std::size_t kMiB = 1 << 20;
  tree.file(cg + "/memory.current", std::string(kMiB + 1, '1'));
  checkError(reader.read(cg),
             tree.root().string() + cg + "/memory.current: larger than 1048576 bytes", EFBIG);
  tree.file(cg + "/memory.current", std::string(kMiB, '1'));
  const auto exact = reader.read(cg);
  BOOST_TEST_REQUIRE(!exact.has_value());
  BOOST_TEST(exact.error().code() == ERANGE);
  tree.file(cg + "/memory.current", "4096\n");

  // A file where a cgroup directory should be.
  tree.file("/vigil.slice/b.service", "");
  checkError(reader.read("/vigil.slice/b.service"),
             tree.root().string() + "/vigil.slice/b.service: Not a directory", ENOTDIR);
}

BOOST_AUTO_TEST_CASE(validate_cgroup2_mount) {
  BOOST_TEST(CgroupReader().root() == std::filesystem::path("/sys/fs/cgroup"));

  CgroupTree tree;
  const CgroupReader reader(tree.root());
  const auto r = reader.validateCgroup2Mount();
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().code() == ENOTSUP);
  BOOST_TEST(r.error().message().starts_with(tree.root().string() +
                                             ": not a cgroup2 mount (statfs f_type 0x"));

  const CgroupReader missing(tree.root() / "nope");
  checkError(missing.validateCgroup2Mount(),
             (tree.root() / "nope").string() + ": No such file or directory", ENOENT);
}

BOOST_AUTO_TEST_SUITE_END()
