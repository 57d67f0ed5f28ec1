#include "daemon/CgroupSampler.h"

#include <ctime>

namespace vigil::daemon {

namespace {
std::int64_t realtimeUsec() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}
// Samples of units nobody asked about for this long are dropped (units that went away).
constexpr core::Usec kForgetAfter{std::chrono::minutes(10)};
}  // namespace

CgroupSampler::CgroupSampler(sd_event* event, cgroup::CgroupReader reader)
    : event_(event), reader_(std::move(reader)) {}

CgroupSampler::~CgroupSampler() {
  if (source_) sd_event_source_disable_unref(source_);
}

core::TimePoint CgroupSampler::now() const {
  std::uint64_t usec = 0;
  if (!event_ || sd_event_now(event_, CLOCK_MONOTONIC, &usec) < 0) {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    usec = static_cast<std::uint64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
  }
  return core::TimePoint(static_cast<std::int64_t>(usec));
}

void CgroupSampler::refresh(std::vector<std::pair<std::string, std::string>> units,
                            core::Usec max_age,
                            std::function<void()> done) {
  queue_.push_back(Request{std::move(units), 0, max_age, std::move(done)});
  if (!source_) {
    if (!event_ || sd_event_add_defer(event_, &source_, &CgroupSampler::onDefer, this) < 0) {
      // No loop: do it all now (tests without an event loop).
      while (!queue_.empty()) work();
      return;
    }
    // Everything else the loop has to do (bus messages, timers) goes first.
    sd_event_source_set_priority(source_, SD_EVENT_PRIORITY_IDLE);
  }
  sd_event_source_set_enabled(source_, SD_EVENT_ON);
}

int CgroupSampler::onDefer(sd_event_source*, void* ud) {
  static_cast<CgroupSampler*>(ud)->work();
  return 0;
}

void CgroupSampler::work() {
  std::size_t budget = kBatch;
  const core::TimePoint t = now();
  while (!queue_.empty() && budget > 0) {
    Request& r = queue_.front();
    while (r.next < r.units.size() && budget > 0) {
      const auto& [unit, path] = r.units[r.next++];
      auto it = samples_.find(unit);
      if (it != samples_.end() && t - it->second.at < r.max_age) continue;
      budget--;
      reads_++;
      auto stats = path.empty() ? util::Result<std::optional<cgroup::CgroupStats>>(std::nullopt)
                                : reader_.read(path, cgroup::CgroupReader::Detail::Status);
      if (!stats || !*stats) {
        samples_.erase(unit);
        continue;
      }
      const cgroup::CgroupStats& c = **stats;
      Sample s;
      s.at = t;
      s.realtime_usec = realtimeUsec();
      s.memory_current_bytes = c.memory_current;
      s.cpu_usage_usec = c.cpu_usage_usec;
      s.tasks_current = c.pids_current;
      s.oom_kills = c.memory_events_oom_kill;
      samples_[unit] = s;
    }
    if (r.next < r.units.size()) break;  // out of budget: the next iteration goes on
    auto done = std::move(r.done);
    queue_.pop_front();
    if (done) done();
  }
  if (queue_.empty()) {
    for (auto it = samples_.begin(); it != samples_.end();)
      it = t - it->second.at > kForgetAfter ? samples_.erase(it) : std::next(it);
    if (source_) sd_event_source_set_enabled(source_, SD_EVENT_OFF);
  }
}

const CgroupSampler::Sample* CgroupSampler::find(const std::string& unit) const {
  auto it = samples_.find(unit);
  return it == samples_.end() ? nullptr : &it->second;
}

}  // namespace vigil::daemon
