// The sampler's read path allocates nothing in steady state (issue 9: "reuse buffers, no
// allocation per sample"): a CgroupDirectory kept open, read into a reused buffer, on the
// fixture of a 6.1 kernel with every file (memory.stat, io.stat, PSI) present. Counted by
// replacing the global operator new of this test program.

#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>

#include <boost/test/unit_test.hpp>

#include "cgroup/CgroupReader.h"
#include "support/CgroupTree.h"

namespace {
std::uint64_t g_allocations = 0;

void* allocate(std::size_t n) {
  ++g_allocations;
  return std::malloc(n == 0 ? 1 : n);
}
}  // namespace

void* operator new(std::size_t n) {
  if (void* p = allocate(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = allocate(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return allocate(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return allocate(n);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}

using vigil::cgroup::CgroupDirectory;
using vigil::cgroup::CgroupStats;
using vigil::cgroup::Detail;

BOOST_AUTO_TEST_SUITE(cgroup_alloc)

BOOST_AUTO_TEST_CASE(reading_a_kept_directory_allocates_nothing_after_the_first_read) {
  vigil::testing::CgroupTree tree;
  tree.copyFrom(std::filesystem::path(VIGIL_FIXTURES_DIR) / "cgroupfs" / "linux-6.1-oom-killed");
  auto opened =
      CgroupDirectory::open(tree.root(), "/vigil.slice/vigil-web.slice/vigil-web-api.service");
  BOOST_TEST_REQUIRE((opened.has_value() && opened->has_value()));
  CgroupDirectory& dir = **opened;
  std::string buffer;
  CgroupStats stats;
  BOOST_TEST_REQUIRE(dir.read(stats, Detail::Full, buffer).value_or(false));  // sizes the buffer

  // The counter itself must see allocations: this one is counted.
  const std::uint64_t probe = g_allocations;
  delete new std::string(100, 'x');
  BOOST_TEST_REQUIRE(g_allocations > probe);

  const std::uint64_t before = g_allocations;
  int failed = 0;
  for (int i = 0; i < 100; ++i) {
    const Detail detail = i % 2 ? Detail::Full : Detail::Status;
    auto r = dir.read(stats, detail, buffer);
    if (!r || !*r) ++failed;
  }
  const std::uint64_t allocated = g_allocations - before;
  BOOST_TEST(failed == 0);
  BOOST_TEST(allocated == 0u);
  BOOST_TEST(stats.memory_anon.value() == 180355072u);  // the last (Full) read is real
  BOOST_TEST(stats.io_pressure.has_value());
}

BOOST_AUTO_TEST_SUITE_END()
