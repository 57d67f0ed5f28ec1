// daemon::MetricsSampler on fixture cgroup trees and a real sd-event loop: sweeps fill the
// views and the history rings, rates come from counter deltas, a vanished cgroup is a gap
// (not an error), a re-created one starts afresh, PSI absent leaves its figures out, targets
// no longer listed are dropped, and a refresh re-reads only what is older than it allows.

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <systemd/sd-event.h>
#include <boost/test/unit_test.hpp>

#include "daemon/MetricsSampler.h"
#include "support/CgroupTree.h"

using namespace vigil;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using daemon::MetricsSampler;

namespace {

const std::string kApi = "/vigil.slice/vigil-web.slice/vigil-web-api.service";
const std::string kBatch = "/vigil.slice/vigil-batch-report.service";

struct Fixture {
  testing::CgroupTree tree;
  sd_event* event = nullptr;
  MetricsSampler sampler;
  std::vector<MetricsSampler::Target> targets;
  int swept = 0;

  Fixture() : sampler((sd_event_new(&event), event), tree.root()) {
    tree.copyFrom(fs::path(VIGIL_FIXTURES_DIR) / "cgroupfs" / "linux-6.1-oom-killed");
    tree.copyFrom(fs::path(VIGIL_FIXTURES_DIR) / "cgroupfs" / "linux-5.15-minimal");
  }
  ~Fixture() { sd_event_unref(event); }

  void start(std::size_t slots = 8) {
    sampler.configure(
        std::chrono::milliseconds(50), slots,
        [this]() { return std::make_shared<const std::vector<MetricsSampler::Target>>(targets); },
        [this]() { swept++; });
  }
  // Runs the loop until `n` more sweeps have completed.
  bool sweeps(int n) {
    const int want = swept + n;
    const auto end = std::chrono::steady_clock::now() + 5s;
    while (swept < want) {
      if (std::chrono::steady_clock::now() > end) return false;
      sd_event_run(event, 10000);
    }
    return true;
  }
  void setUsage(const std::string& cgroup, std::uint64_t usec) {
    tree.file(cgroup + "/cpu.stat",
              "usage_usec " + std::to_string(usec) +
                  "\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n");
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(metrics_sampler, Fixture)

BOOST_AUTO_TEST_CASE(a_sweep_fills_every_figure_of_the_view) {
  targets = {{"vigil-web-api.service", kApi, true}};
  start();
  BOOST_REQUIRE(sweeps(1));
  const auto* e = sampler.find("vigil-web-api.service");
  BOOST_REQUIRE(e);
  BOOST_TEST(e->sampled);
  BOOST_TEST(e->view.memory_current_bytes == 187236352u);
  BOOST_TEST(*e->view.memory_max_bytes == 268435456u);
  BOOST_TEST(e->view.oom_kills == 1u);
  BOOST_TEST(e->view.cpu_usage_usec == 48213377u);
  BOOST_TEST(e->view.cpu_throttled_usec == 9650141u);
  BOOST_TEST(e->view.cpu_nr_throttled == 1208u);
  BOOST_TEST(e->view.pressure.memory_some_usec.has_value());
  BOOST_TEST(e->view.pressure.memory_some_avg10_centipercent.has_value());
  // One reading is no rate yet.
  BOOST_TEST(!e->view.cpu_usec_per_sec.has_value());
  BOOST_TEST(e->history.size() == 1u);
  BOOST_TEST(sampler.view().sweeps == 1u);
  BOOST_TEST(sampler.view().cgroups == 1u);
}

BOOST_AUTO_TEST_CASE(psi_absent_and_controllers_off_leave_figures_out) {
  targets = {{"vigil-batch-report.service", kBatch, true}};
  start();
  BOOST_REQUIRE(sweeps(1));
  const auto* e = sampler.find("vigil-batch-report.service");
  BOOST_REQUIRE(e);
  BOOST_TEST(e->sampled);
  BOOST_TEST(!e->view.pressure.cpu_some_usec.has_value());
  BOOST_TEST(!e->view.pressure.memory_some_avg10_centipercent.has_value());
  BOOST_TEST(e->view.io_read_bytes == 0u);
  BOOST_TEST(sampler.view().read_errors == 0u);
}

BOOST_AUTO_TEST_CASE(the_cpu_rate_comes_from_the_delta_between_sweeps) {
  targets = {{"vigil-web-api.service", kApi, true}};
  setUsage(kApi, 1'000'000);
  start();
  BOOST_REQUIRE(sweeps(1));
  // 25 ms of CPU between two sweeps about 50 ms apart (the interval; the loop may stretch
  // it): about half a core, and certainly between 1/40 and one core.
  setUsage(kApi, 1'000'000 + 25'000);
  BOOST_REQUIRE(sweeps(1));
  const auto* e = sampler.find("vigil-web-api.service");
  BOOST_REQUIRE(e->view.cpu_usec_per_sec.has_value());
  BOOST_TEST(*e->view.cpu_usec_per_sec > 25'000u);
  BOOST_TEST(*e->view.cpu_usec_per_sec < 1'000'000u);
  BOOST_TEST(e->history.size() == 2u);
  const auto summary = e->history.summarize(1h, core::TimePoint(e->at.count()), 0);
  BOOST_TEST(summary.samples == 1u);  // the first sweep is a gap: no rate from one reading
}

BOOST_AUTO_TEST_CASE(a_vanished_cgroup_is_a_gap_and_a_recreated_one_starts_afresh) {
  targets = {{"vigil-web-api.service", kApi, true}};
  start();
  BOOST_REQUIRE(sweeps(2));
  tree.remove(kApi);
  BOOST_REQUIRE(sweeps(1));
  const auto* e = sampler.find("vigil-web-api.service");
  BOOST_REQUIRE(e);
  BOOST_TEST(!e->sampled);
  BOOST_TEST(sampler.view().read_errors == 0u);  // gone is not an error
  // The unit restarted: a new cgroup under the same path, its counters from 0.
  tree.copyFrom(fs::path(VIGIL_FIXTURES_DIR) / "cgroupfs" / "linux-6.1-oom-killed");
  setUsage(kApi, 10);
  BOOST_REQUIRE(sweeps(1));
  e = sampler.find("vigil-web-api.service");
  BOOST_TEST(e->sampled);
  BOOST_TEST(e->view.cpu_usage_usec == 10u);
  BOOST_TEST(!e->view.cpu_usec_per_sec.has_value());  // no rate across two cgroups
  BOOST_REQUIRE(sweeps(1));
  BOOST_TEST(e->view.cpu_usec_per_sec.has_value());
}

BOOST_AUTO_TEST_CASE(limits_are_kept_between_full_reads_and_reread_after_a_change) {
  targets = {{"vigil-web-api.service", kApi, true}};
  start();
  BOOST_REQUIRE(sweeps(1));
  const auto* e = sampler.find("vigil-web-api.service");
  BOOST_TEST(*e->view.memory_max_bytes == 268435456u);  // the first read is Full
  // systemd lifted the limit: sweeps in between keep the last read's value ...
  tree.file(kApi + "/memory.max", "max\n");
  BOOST_REQUIRE(sweeps(2));
  BOOST_TEST(*e->view.memory_max_bytes == 268435456u);
  // ... until vigild says it changed limits.
  sampler.limitsChanged();
  BOOST_REQUIRE(sweeps(1));
  BOOST_TEST(!e->view.memory_max_bytes.has_value());
}

BOOST_AUTO_TEST_CASE(a_target_not_running_is_a_gap_without_a_read) {
  targets = {{"vigil-web-api.service", kApi, false}};
  start();
  BOOST_REQUIRE(sweeps(2));
  const auto* e = sampler.find("vigil-web-api.service");
  BOOST_REQUIRE(e);
  BOOST_TEST(!e->sampled);
  BOOST_TEST(e->history.size() == 2u);
  BOOST_TEST(sampler.cgroupsRead() == 0u);
}

BOOST_AUTO_TEST_CASE(targets_no_longer_listed_are_dropped) {
  targets = {{"vigil-web-api.service", kApi, true}, {"vigil-batch-report.service", kBatch, true}};
  start();
  BOOST_REQUIRE(sweeps(1));
  targets.pop_back();
  BOOST_REQUIRE(sweeps(3));
  BOOST_TEST(sampler.find("vigil-web-api.service") != nullptr);
  BOOST_TEST(sampler.find("vigil-batch-report.service") == nullptr);
}

BOOST_AUTO_TEST_CASE(a_sweep_of_many_cgroups_goes_in_batches) {
  // 3 batches' worth of targets (the same cgroup under different keys).
  for (std::size_t i = 0; i < MetricsSampler::kBatch * 3; ++i)
    targets.push_back({"w" + std::to_string(i), kApi, true});
  start();
  BOOST_REQUIRE(sweeps(1));
  BOOST_TEST(sampler.view().cgroups == MetricsSampler::kBatch * 3);
  BOOST_TEST(sampler.batches() == 3u);  // one loop iteration per kBatch cgroups
  // The last sweep's longest batch, in wall and CPU time: some of each, the CPU time no
  // more than the wall time (plus the clocks' granularity).
  const auto v = sampler.view();
  BOOST_TEST(v.last_sweep_longest_batch_usec > 0);
  BOOST_TEST(v.last_sweep_longest_batch_cpu_usec > 0);
  BOOST_TEST(v.last_sweep_longest_batch_cpu_usec <= v.last_sweep_longest_batch_usec + 1000);
  BOOST_TEST(v.last_sweep_longest_batch_usec <= v.longest_batch_usec);
  for (const auto& t : targets) BOOST_TEST(sampler.find(t.key)->sampled);
  BOOST_TEST(sampler.view().longest_batch_usec > 0);
}

BOOST_AUTO_TEST_CASE(a_refresh_reads_only_what_is_older_than_it_allows) {
  MetricsSampler on_demand(event, tree.root());  // no sweeps: interval 0
  on_demand.configure(core::Usec{0}, 0, {}, {});
  bool done = false;
  on_demand.refresh({{"vigil-web-api.service", kApi, true}}, 1h, [&] { done = true; });
  while (!done) sd_event_run(event, 10000);
  BOOST_TEST(on_demand.cgroupsRead() == 1u);
  BOOST_TEST(on_demand.find("vigil-web-api.service")->view.memory_current_bytes == 187236352u);
  done = false;
  on_demand.refresh({{"vigil-web-api.service", kApi, true}}, 1h, [&] { done = true; });
  while (!done) sd_event_run(event, 10000);
  BOOST_TEST(on_demand.cgroupsRead() == 1u);  // fresh enough: not read again
  done = false;
  on_demand.refresh({{"vigil-web-api.service", kApi, true}}, core::Usec{0}, [&] { done = true; });
  while (!done) sd_event_run(event, 10000);
  BOOST_TEST(on_demand.cgroupsRead() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
