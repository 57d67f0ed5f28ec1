#include "daemon/HealthMonitor.h"

#include <time.h>

#include <cstring>

#include <fmt/format.h>
#include <systemd/sd-journal.h>

namespace vigil::daemon {

HealthMonitor::HealthMonitor(sd_event* event, Verdict verdict)
    : event_(event), verdict_(std::move(verdict)) {}

HealthMonitor::~HealthMonitor() {
  clear();
}

core::TimePoint HealthMonitor::now() const {
  std::uint64_t usec = 0;
  if (sd_event_now(event_, CLOCK_MONOTONIC, &usec) < 0) {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    usec = static_cast<std::uint64_t>(ts.tv_sec) * 1000000 +
           static_cast<std::uint64_t>(ts.tv_nsec) / 1000;
  }
  return core::TimePoint{static_cast<std::int64_t>(usec)};
}

void HealthMonitor::clear() {
  while (!entries_.empty()) unwatch(entries_.begin());
}

void HealthMonitor::update(const core::Engine& engine,
                           const core::Engine::Changes& changes,
                           core::TimePoint now) {
  if (!changes.all) {
    for (const auto& unit : changes.units) sync(engine, unit, now);
    return;
  }
  // Everything may have changed (start, reload): drop what is no longer a unit of the
  // tree, then look at every worker.
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    if (!engine.workerSpec(it->first)) unwatch(it);
    it = next;
  }
  engine.forEachWorker(now, "", [&](core::WorkerStatus&& w) { sync(engine, w.unit, now); });
}

void HealthMonitor::sync(const core::Engine& engine, const std::string& unit, core::TimePoint now) {
  const auto w = engine.worker(unit, now);
  const auto spec = engine.workerSpec(unit);
  const bool wanted = w && spec && spec->health.any() && w->state == core::ChildState::Running &&
                      !w->frozen && w->since;
  auto it = entries_.find(unit);
  if (!wanted) {
    if (it != entries_.end()) unwatch(it);
    return;
  }
  if (it != entries_.end()) {
    const Entry& e = *it->second;
    if (e.started == *w->since && e.spec == core::withInstance(spec->health, w->instance))
      return;  // the same incarnation, the same checks
    unwatch(it);
  }
  watch(unit, core::withInstance(spec->health, w->instance), *w->since, now);
}

void HealthMonitor::watch(const std::string& unit,
                          const core::HealthSpec& spec,
                          core::TimePoint started,
                          core::TimePoint now) {
  auto e = std::make_unique<Entry>(unit, spec, started);
  e->owner = this;
  e->generation = ++generations_;
  Entry& ref = *e;
  entries_.emplace(unit, std::move(e));
  if (spec.probe == core::HealthSpec::Probe::None) return;  // resource rules only
  if (!prober_) {
    auto p = health::Prober::create(event_);
    if (!p) {
      sd_journal_print(LOG_ERR, "vigild: health checks cannot run: %s",
                       p.error().message().c_str());
      return;
    }
    prober_ = std::move(*p);
  }
  arm(ref, std::max(now, started + std::min(kFirstProbe, spec.interval)));
}

void HealthMonitor::unwatch(std::map<std::string, std::unique_ptr<Entry>>::iterator it) {
  Entry& e = *it->second;
  if (e.timer) sd_event_source_disable_unref(e.timer);
  if (e.probe && prober_) prober_->cancel(e.probe);
  entries_.erase(it);
}

void HealthMonitor::arm(Entry& e, core::TimePoint at) {
  const auto usec = static_cast<std::uint64_t>(at.count());
  if (e.timer) {
    sd_event_source_set_time(e.timer, usec);
    sd_event_source_set_enabled(e.timer, SD_EVENT_ONESHOT);
    return;
  }
  // Accuracy 1% of the interval (at least 1 ms): probes of many workers may be coalesced
  // into one wake-up, none drifts.
  const auto accuracy =
      std::max<std::uint64_t>(1000, static_cast<std::uint64_t>(e.spec.interval.count()) / 100);
  if (sd_event_add_time(event_, &e.timer, CLOCK_MONOTONIC, usec, accuracy, &HealthMonitor::onTimer,
                        &e) < 0) {
    sd_journal_print(LOG_ERR, "vigild: cannot arm the health check of %s", e.unit.c_str());
    e.timer = nullptr;
    return;
  }
  sd_event_source_set_description(e.timer, "health-check");
}

int HealthMonitor::onTimer(sd_event_source* /*s*/, std::uint64_t usec, void* ud) {
  auto* e = static_cast<Entry*>(ud);
  HealthMonitor* self = e->owner;
  // Fixed rate from the start; a loop that fell behind skips, it does not catch up.
  const core::TimePoint due{static_cast<std::int64_t>(usec)};
  self->arm(*e, std::max(self->now(), due + e->spec.interval));
  self->probe(*e);
  return 0;
}

void HealthMonitor::probe(Entry& e) {
  if (e.probe || !prober_) return;  // the previous one is still running (queued)
  const std::string unit = e.unit;
  const std::uint64_t generation = e.generation;
  e.probe = prober_->run(e.spec, [this, unit, generation](health::ProbeResult r) {
    auto it = entries_.find(unit);
    if (it == entries_.end() || it->second->generation != generation) return;
    Entry& entry = *it->second;
    entry.probe = 0;
    auto change = entry.tracker.onProbe(r.ok, r.detail, now());
    // Still unhealthy: say so again, so that a restart the engine held back (its
    // supervisor was restarting) happens now; the engine ignores it otherwise.
    if (!change && !r.ok && entry.tracker.state() == core::HealthState::Unhealthy)
      change =
          core::HealthChange{core::HealthState::Unhealthy, core::HealthState::Unhealthy,
                             fmt::format("{}: {}", core::toString(entry.spec.probe), r.detail)};
    report(entry, change);
  });
}

void HealthMonitor::onSweep(const MetricsSampler& sampler, core::TimePoint now) {
  // Collected first: a verdict can restart the worker, which changes entries_.
  std::vector<std::pair<std::string, core::TimePoint>> ruled;
  for (const auto& [unit, e] : entries_)
    if (e->spec.memory_pressure) ruled.emplace_back(unit, e->started);
  for (const auto& [unit, started] : ruled) {
    auto it = entries_.find(unit);
    if (it == entries_.end() || it->second->started != started) continue;
    const MetricsSampler::Entry* s = sampler.find(unit);
    std::optional<std::uint32_t> avg10;
    // A read of an earlier incarnation's cgroup (the sweep began before this start) is
    // not this one's pressure.
    if (s && s->sampled && s->at >= started && s->view.pressure.memory_some_avg10_centipercent)
      avg10 = static_cast<std::uint32_t>(*s->view.pressure.memory_some_avg10_centipercent);
    report(*it->second, it->second->tracker.onMemoryPressure(avg10, now));
  }
}

void HealthMonitor::report(Entry& e, const std::optional<core::HealthChange>& change) {
  if (!change) return;
  // The verdict may make the engine stop the worker and the daemon call update(), which
  // erases `e`: nothing of it is touched afterwards.
  const std::string unit = e.unit;
  const core::TimePoint started = e.started;
  verdict_(unit, started, *change);
}

}  // namespace vigil::daemon
