#pragma once
// vigild's metrics in the Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/), served on /metrics and
// written to node_exporter's textfile collector. Pure: composed from the same views as the
// status, so the two never disagree.
//
// Names follow Prometheus' conventions (https://prometheus.io/docs/practices/naming/) and
// cAdvisor's/node_exporter's families: base units (bytes, seconds), `_total` for counters,
// one family per quantity with labels for its dimensions. Every worker series carries the
// labels tree, supervisor, worker (its path without the instance: "web/api"),
// worker_instance ("2", "" for a single worker) and unit. `instance` is not used: it is the
// label Prometheus attaches to every scraped target, and a scraped `instance` label would be
// renamed `exported_instance`.

#include <cstdint>
#include <string>
#include <vector>

#include "status/StatusSnapshot.h"

namespace vigil::status {

// The sampler's own figures (daemon/MetricsSampler.h).
struct SamplerView {
  std::uint64_t sweeps = 0;             // completed sweeps since vigild started
  std::uint64_t cgroups = 0;            // cgroups read by the last sweep
  std::uint64_t read_errors = 0;        // cgroup reads that failed since start
  std::int64_t last_sweep_usec = 0;     // wall time of the last sweep, first read to last
  std::int64_t longest_batch_usec = 0;  // the longest the loop was held by one batch
  // The longest batch of the last sweep: wall time, and vigild's CPU time in it (wall time
  // includes the time the kernel ran others: preemption, a busy host, emulation).
  std::int64_t last_sweep_longest_batch_usec = 0;
  std::int64_t last_sweep_longest_batch_cpu_usec = 0;
  std::int64_t interval_usec = 0;
  std::uint64_t skipped_sweeps = 0;  // due while the previous one still ran
};

// Appends the exposition of `vigild`, `supervisors` and `workers` (a snapshot: every
// supervisor and worker) to `out`. Families appear once each, every sample of a family
// together, as the format requires. Figures a view lacks (no sample yet, no limit) give no
// series. Label values are escaped (\\, \", \n).
void writePrometheus(const VigildView& vigild,
                     const std::vector<SupervisorView>& supervisors,
                     const std::vector<WorkerView>& workers,
                     const SamplerView& sampler,
                     std::string& out);

// Appends the last family: how long composing the exposition took, in seconds.
void writeScrapeDuration(double seconds, std::string& out);

}  // namespace vigil::status
