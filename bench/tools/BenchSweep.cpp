// vigil-bench-sweep ROUNDS CGROUP...: vigild's side of the metrics-sweep benchmark
// (bench/README.md, scenario 4). Opens every CGROUP (a ControlGroup path such as
// /vigil.slice/vigil-bench.slice/vigil-bench-w@1.service) as a cgroup::CgroupDirectory,
// then ROUNDS times reads each at the sampler's detail (Detail::Full, 16 files) into one
// reused buffer and CgroupStats: exactly what daemon/MetricsSampler does per cgroup in a
// sweep. Prints "cgroups N rounds R elapsed_ns T missing M", the format of
// `vigil-bench-tool read-cgroups`, whose C loop over the same files is the floor (M here:
// cgroups gone mid-read).

#include <time.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cgroup/CgroupReader.h"

namespace {
std::int64_t nowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || std::atoi(argv[1]) <= 0) {
    std::fprintf(stderr, "usage: vigil-bench-sweep ROUNDS CGROUP...\n");
    return 2;
  }
  const int rounds = std::atoi(argv[1]);
  const std::vector<std::string> cgroups(argv + 2, argv + argc);
  std::vector<vigil::cgroup::CgroupDirectory> dirs;
  for (const auto& cg : cgroups) {
    auto d = vigil::cgroup::CgroupDirectory::open("/sys/fs/cgroup", cg);
    if (!d || !*d) {
      std::fprintf(stderr, "vigil-bench-sweep: %s: %s\n", cg.c_str(),
                   d ? "no such cgroup" : d.error().message().c_str());
      return 1;
    }
    dirs.push_back(std::move(**d));
  }
  vigil::cgroup::CgroupStats stats;
  std::string buffer;
  int missing = 0;
  int errors = 0;
  const std::int64_t t0 = nowNs();
  for (int r = 0; r < rounds; ++r) {
    for (auto& d : dirs) {
      auto s = d.read(stats, vigil::cgroup::Detail::Full, buffer);
      if (!s) {
        if (errors++ == 0)
          std::fprintf(stderr, "vigil-bench-sweep: %s\n", s.error().message().c_str());
      } else if (!*s) {
        ++missing;
      }
    }
  }
  const std::int64_t t1 = nowNs();
  std::printf("cgroups %zu rounds %d elapsed_ns %lld missing %d\n", cgroups.size(), rounds,
              static_cast<long long>(t1 - t0), missing);
  return errors ? 1 : 0;
}
