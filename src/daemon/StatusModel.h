#pragma once
// The per-state counts behind vigild's STATUS= line and the status of every supervisor,
// kept up to date from the engine's change set (Engine::takeChanged) in O(changes) per
// input, never by re-reading the fleet; and the one place where a StatusSnapshot is
// composed. Workers' statuses are not copied here: a snapshot reads those of its target
// from the engine (Engine::workers(now, target), O(answer) as composing is), and what the
// model keeps per worker is its unit name and count bucket. Measured (massif, bench/run --profile):
// a copy of every WorkerStatus was about 680 bytes per worker, re-allocated on every change.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/Engine.h"
#include "daemon/MetricsSampler.h"
#include "status/Compose.h"
#include "status/StatusSnapshot.h"

namespace vigil::daemon {

class StatusModel {
 public:
  struct Counts {
    unsigned running = 0;  // running (frozen included)
    unsigned backoff = 0;  // waiting for a restart
    unsigned other = 0;    // starting, stopping, stopped, exited, failed
    unsigned failed_trees = 0;
    bool operator==(const Counts&) const = default;
  };

  // What systemd says about a unit (from the systemd client's cache).
  struct UnitFacts {
    std::string active_state;
    std::uint32_t main_pid = 0;
    std::string cgroup;
  };
  using FactsFn = std::function<std::optional<UnitFacts>(const std::string& unit)>;

  // Applies `changes` (from engine.takeChanged()): re-reads the named workers and
  // supervisors, or everything when changes.all.
  void update(const core::Engine& engine,
              const core::Engine::Changes& changes,
              core::TimePoint now);
  const Counts& counts() const { return counts_; }

  // Worker unit names at or below `target` ("" = all; a supervisor path, a worker path, or
  // one instance), in order. The caller has checked that the target exists.
  std::vector<std::string> unitsOf(const core::Engine& engine,
                                   const std::string& target,
                                   core::TimePoint now) const;

  // Composes the snapshot of everything, or of the workers at or below `target` (and the
  // supervisors on the way), at `clocks`. Reads supervisors' intensity windows from
  // `engine` (they slide with time), workers from `engine`, unit facts through `facts`,
  // figures from `sampler`. O(size of the answer).
  std::shared_ptr<const status::StatusSnapshot> snapshot(const core::Engine& engine,
                                                         const status::Clocks& clocks,
                                                         const FactsFn& facts,
                                                         const MetricsSampler* sampler,
                                                         status::VigildView vigild,
                                                         const std::string& target = "") const;

  // snapshot() in parts, for a writer that keeps one worker at a time (the state file):
  // head() is the snapshot without its workers (vigild, and the supervisors at, above and
  // below `target`); forEachWorker() hands `fn` the view of each worker at or below
  // `target`, in the snapshot's order, composed as snapshot() composes it. Together they
  // hold O(supervisors) plus one worker, where snapshot() holds the whole answer.
  // The supervisors' slices get their figures from `sampler` (nullptr: none).
  status::StatusSnapshot head(const core::Engine& engine,
                              const status::Clocks& clocks,
                              status::VigildView vigild,
                              const std::string& target = "",
                              const MetricsSampler* sampler = nullptr) const;
  void forEachWorker(const core::Engine& engine,
                     const status::Clocks& clocks,
                     const FactsFn& facts,
                     const MetricsSampler* sampler,
                     const std::string& target,
                     const std::function<void(status::WorkerView&&)>& fn) const;

  std::size_t workerCount() const { return buckets_.size(); }

 private:
  enum class Bucket : unsigned char { Running, Backoff, Other };
  static Bucket bucketOf(core::ChildState state);
  void count(Bucket b, int delta);
  void rebuild(const core::Engine& engine, core::TimePoint now);

  std::map<std::string, Bucket> buckets_;  // every worker unit, with its count bucket
  std::vector<core::SupervisorStatus> supervisors_;
  std::map<std::string, std::size_t> supervisor_index_;
  Counts counts_;
};

}  // namespace vigil::daemon
