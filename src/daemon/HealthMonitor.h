#pragma once
// Runs the health checks of vigil.yaml(5) (`health:`) for every running worker incarnation
// that has them, on the loop: one timer per watched incarnation fires its probe
// (health::Prober) every `interval`, the first one `kFirstProbe` after the start; each
// result and each metrics sweep's memory pressure goes into the incarnation's
// core::HealthTracker with the time, and every state change goes to `verdict` (the daemon
// hands it to Engine::onHealth, which restarts an unhealthy worker through its supervisor).
//
// What is watched follows the engine: update() after each batch of engine changes, in
// O(changes) (O(fleet) only when the engine reports `all`). A worker that stops running,
// is frozen by an operator, or loses its checks in a reload stops being watched and its
// probe in flight is cancelled; a new incarnation, or changed checks, start a new tracker.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <systemd/sd-event.h>

#include "core/Engine.h"
#include "core/HealthTracker.h"
#include "daemon/MetricsSampler.h"
#include "health/Prober.h"

namespace vigil::daemon {

class HealthMonitor {
 public:
  // A state change of the incarnation of `unit` that came up at `started`.
  using Verdict = std::function<void(
      const std::string& unit, core::TimePoint started, const core::HealthChange& change)>;
  // A probe soon after the start, not a whole interval later: a rolling restart waits for
  // each instance to be healthy, and 10s per instance would be mostly waiting.
  static constexpr core::Usec kFirstProbe{std::chrono::seconds(1)};

  HealthMonitor(sd_event* event, Verdict verdict);
  ~HealthMonitor();
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  // Follows the engine after `changes` (Engine::takeChanged) at `now`.
  void update(const core::Engine& engine,
              const core::Engine::Changes& changes,
              core::TimePoint now);
  // After a metrics sweep: the memory PSI of each watched incarnation with a
  // memory_pressure rule.
  void onSweep(const MetricsSampler& sampler, core::TimePoint now);
  // Stops every check (vigild is stopping).
  void clear();

  std::size_t watched() const { return entries_.size(); }
  // Probes started and timed out since vigild started (0 until the first check).
  std::uint64_t probes() const { return prober_ ? prober_->started() : 0; }
  std::uint64_t timeouts() const { return prober_ ? prober_->timeouts() : 0; }

 private:
  struct Entry {
    HealthMonitor* owner = nullptr;
    std::string unit;
    core::HealthSpec spec;
    core::TimePoint started{0};
    core::HealthTracker tracker;
    sd_event_source* timer = nullptr;
    std::uint64_t probe = 0;       // in flight (0: none)
    std::uint64_t generation = 0;  // a result for an earlier Entry of the unit is dropped
    Entry(std::string u, const core::HealthSpec& s, core::TimePoint t)
        : unit(std::move(u)), spec(s), started(t), tracker(s, t) {}
  };
  void sync(const core::Engine& engine, const std::string& unit, core::TimePoint now);
  void watch(const std::string& unit,
             const core::HealthSpec& spec,
             core::TimePoint started,
             core::TimePoint now);
  void unwatch(std::map<std::string, std::unique_ptr<Entry>>::iterator it);
  void arm(Entry& e, core::TimePoint at);
  static int onTimer(sd_event_source* s, std::uint64_t usec, void* ud);
  void probe(Entry& e);
  void report(Entry& e, const std::optional<core::HealthChange>& change);
  core::TimePoint now() const;

  sd_event* event_;
  Verdict verdict_;
  std::unique_ptr<health::Prober> prober_;  // created with the first check
  std::map<std::string, std::unique_ptr<Entry>> entries_;
  std::uint64_t generations_ = 0;
};

}  // namespace vigil::daemon
