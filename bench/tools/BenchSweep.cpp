// vigil-bench-sweep ROUNDS CGROUP...: vigild's side of the metrics-sweep benchmark
// (bench/README.md, scenario 4). ROUNDS times, reads every CGROUP (a ControlGroup path
// such as /vigil.slice/vigil-bench.slice/vigil-bench-w@1.service) with the CgroupReader
// vigild's sampler uses, at the detail the sampler asks for (Detail::Status: 5 files).
// Prints "cgroups N rounds R elapsed_ns T missing M", the format of
// `vigil-bench-tool read-cgroups`, whose C loop over the same files is the floor.

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
  const vigil::cgroup::CgroupReader reader;
  int missing = 0;
  int errors = 0;
  const std::int64_t t0 = nowNs();
  for (int r = 0; r < rounds; ++r) {
    for (const auto& cg : cgroups) {
      auto s = reader.read(cg, vigil::cgroup::CgroupReader::Detail::Status);
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
