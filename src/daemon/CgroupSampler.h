#pragma once
// cgroup figures for the status, read on the loop in small batches and only when someone
// asks (an API read): never per event, and nothing at all while no client looks, so an
// idle vigild costs nothing per worker. A request names the units it needs; units with a
// sample younger than `max_age` are not read again. Between batches the loop runs other
// sources first (the sampler's source has idle priority), so a crash notification never
// waits behind a whole fleet's reads. A later metrics exporter asks the same way.

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <systemd/sd-event.h>

#include "cgroup/CgroupReader.h"
#include "core/Spec.h"
#include "core/Time.h"

namespace vigil::daemon {

class CgroupSampler {
 public:
  struct Sample {
    core::TimePoint at{0};
    std::int64_t realtime_usec = 0;
    std::optional<std::uint64_t> memory_current_bytes;
    std::optional<std::uint64_t> cpu_usage_usec;
    std::optional<std::uint64_t> tasks_current;
    std::optional<std::uint64_t> oom_kills;
  };
  // Cgroups read per loop iteration. Each read is 5 small files (CgroupReader::Detail::
  // Status); 32 keeps one batch well under a millisecond natively.
  static constexpr std::size_t kBatch = 32;

  CgroupSampler(sd_event* event, cgroup::CgroupReader reader);
  ~CgroupSampler();
  CgroupSampler(const CgroupSampler&) = delete;
  CgroupSampler& operator=(const CgroupSampler&) = delete;

  // Samples each (unit, cgroup path) whose sample is older than `max_age`, then calls
  // `done` on the loop (never from inside refresh()). Requests are served in order.
  // A cgroup that is gone or unreadable leaves no sample for its unit.
  void refresh(std::vector<std::pair<std::string, std::string>> units,
               core::Usec max_age,
               std::function<void()> done);
  // The last sample of `unit`, if any.
  const Sample* find(const std::string& unit) const;
  std::uint64_t cgroupsRead() const { return reads_; }

 private:
  struct Request {
    std::vector<std::pair<std::string, std::string>> units;
    std::size_t next = 0;
    core::Usec max_age{0};
    std::function<void()> done;
  };
  static int onDefer(sd_event_source* s, void* ud);
  void work();
  core::TimePoint now() const;

  sd_event* event_;
  cgroup::CgroupReader reader_;
  sd_event_source* source_ = nullptr;
  std::deque<Request> queue_;
  std::map<std::string, Sample> samples_;
  std::uint64_t reads_ = 0;
};

}  // namespace vigil::daemon
