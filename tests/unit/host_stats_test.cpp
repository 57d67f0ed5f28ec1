// cgroup::readHostStats: /proc/stat, /proc/meminfo and /proc/pressure/* on fixture trees
// (tests/fixtures/procfs), PSI absent, and malformed files named in the error.

#include <filesystem>
#include <string>

#include <boost/test/unit_test.hpp>

#include "cgroup/HostStats.h"
#include "support/CgroupTree.h"

using namespace vigil;
namespace fs = std::filesystem;

namespace {
const fs::path kProc = fs::path(VIGIL_FIXTURES_DIR) / "procfs";
}

BOOST_AUTO_TEST_SUITE(host_stats)

BOOST_AUTO_TEST_CASE(reads_the_totals_in_base_units) {
  cgroup::HostStats h;
  std::string buffer;
  const auto r = cgroup::readHostStats(kProc / "linux-6.1", 100, h, buffer);
  BOOST_TEST_REQUIRE(r.has_value(), (r ? "" : r.error().message()));
  BOOST_TEST(h.cpus == 2u);
  // user + nice = 10132153 + 290696 ticks of 10 ms.
  BOOST_TEST(h.cpu_user_usec == (10132153ULL + 290696ULL) * 10000);
  BOOST_TEST(h.cpu_system_usec == (3084719ULL + 0 + 25195ULL) * 10000);
  BOOST_TEST(h.cpu_idle_usec == 46828483ULL * 10000);
  BOOST_TEST(h.cpu_iowait_usec == 16683ULL * 10000);
  BOOST_TEST(h.memory_total_bytes == 4025020ULL * 1024);
  BOOST_TEST(h.memory_available_bytes == 3054676ULL * 1024);
  BOOST_TEST(h.swap_free_bytes == 1048572ULL * 1024);
  BOOST_TEST_REQUIRE(h.memory_pressure.has_value());
  BOOST_TEST(h.memory_pressure->full->total_usec == 100000u);
  BOOST_TEST(h.io_pressure->some->avg10 == 0.5);
}

BOOST_AUTO_TEST_CASE(psi_off_leaves_pressure_absent) {
  cgroup::HostStats h;
  h.cpu_pressure = cgroup::Pressure{};  // a previous read's value must not survive
  std::string buffer;
  BOOST_TEST_REQUIRE(cgroup::readHostStats(kProc / "no-psi", 100, h, buffer).has_value());
  BOOST_TEST(!h.cpu_pressure.has_value());
  BOOST_TEST(!h.io_pressure.has_value());
  BOOST_TEST(h.cpus == 2u);
}

BOOST_AUTO_TEST_CASE(malformed_or_missing_files_are_errors_naming_them) {
  cgroup::HostStats h;
  BOOST_TEST(cgroup::parseProcStat("cpu  1 2 x\n", 100, h).error().message() ==
             "/proc/stat: malformed cpu line: cpu  1 2 x");
  BOOST_TEST(cgroup::parseProcStat("intr 1\n", 100, h).error().message() ==
             "/proc/stat: no cpu line");
  BOOST_TEST(cgroup::parseMeminfo("MemTotal: lots kB\n", h).error().message() ==
             "/proc/meminfo: malformed line: MemTotal: lots kB");
  testing::CgroupTree empty;
  std::string buffer;
  const auto r = cgroup::readHostStats(empty.root(), 100, h, buffer);
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().message() == (empty.root() / "stat").string() + ": missing");
}

BOOST_AUTO_TEST_SUITE_END()
