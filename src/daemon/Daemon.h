#pragma once
// vigild's wiring: configuration -> engine -> systemd, on one sd-event loop.
// Each input (job result, unit exit, timer, SIGHUP, an API command) is handed to the pure
// engine with the loop's monotonic time; the engine's actions are then carried out, its
// events handed to every EventSink, its changes applied to the StatusModel. Per input the
// work is proportional to what changed: the state file and STATUS= never re-read the fleet.
// The Daemon is also the API's Backend (api/Backend.h).

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <systemd/sd-event.h>

#include "api/Backend.h"
#include "cgroup/CgroupReader.h"
#include "core/Engine.h"
#include "daemon/EventLog.h"
#include "daemon/EventSink.h"
#include "daemon/HealthMonitor.h"
#include "daemon/MetricsSampler.h"
#include "daemon/RecentEvents.h"
#include "daemon/StatusModel.h"
#include "daemon/SupervisionStore.h"
#include "http/HttpServer.h"
#include "status/StatusJson.h"
#include "systemd/SystemdClient.h"
#include "util/Result.h"

namespace vigil::daemon {

struct DaemonOptions {
  std::filesystem::path config_file = "/etc/vigil/vigil.yaml";
  std::vector<std::filesystem::path> tier_dirs;
  std::optional<std::string> tier_override;  // VIGIL_TIER
  std::filesystem::path cgroup_root = "/sys/fs/cgroup";
  // Written at most every state_file_interval while something changes, and on exit; a
  // post-mortem record for humans (vigilctl reads the API, never this file). Empty: none.
  // While jobs are outstanding (a mass start, a rolling restart) the write waits until they
  // are done, but at most state_file_max_delay after the previous write: each write is
  // O(fleet), and during a burst vigild's CPU is better left to PID 1 and dbus-daemon
  // (bench/RESULTS.md: 7 writes during a 1000-worker start, each ~67 k instructions per
  // worker under callgrind).
  std::filesystem::path state_file = "/run/vigil/state.json";
  core::Usec state_file_interval{std::chrono::seconds(10)};
  core::Usec state_file_max_delay{std::chrono::seconds(60)};
  // StateDirectory= (SupervisionStore): the supervision state and the last good
  // configuration. Empty: nothing is persisted (vigild forgets backoffs, counters and
  // operator stops when it restarts; an invalid file at start has no fallback).
  std::filesystem::path state_dir;
  // The supervision state is written this long after a change (coalescing a burst), and
  // retried this often while writing fails (a full or read-only disk).
  core::Usec persist_delay{std::chrono::milliseconds(100)};
  core::Usec persist_retry{std::chrono::seconds(5)};
  bool log_to_journal = true;
  bool log_to_stderr = false;
  bool notify = true;  // talk to systemd via sd_notify (READY=1, STATUS=, WATCHDOG=1)
  // Tests: receives every sd_notify text instead of (or, with notify, besides) systemd.
  std::function<void(const std::string&)> notifier;
  // The per-state counts of STATUS= are sent at most once per status_min_interval (the
  // first change after a quiet spell goes out after 0.5 s). Each STATUS= makes PID 1
  // update vigild.service and broadcast its properties: measured (bench/run --profile,
  // part 4), vigild's notifications at 0.5 s spacing were a quarter of PID 1's CPU during
  // an ordered start of 50 workers (1.1 of 4.7 s).
  core::Usec status_min_interval{std::chrono::seconds(5)};
  // Tests: the watchdog period to act on instead of systemd's (WATCHDOG_USEC); 0: systemd's.
  core::Usec watchdog{0};
};

class Daemon : public api::Backend {
 public:
  Daemon(DaemonOptions options, sd_event* event, systemd::SystemdClient& client);
  ~Daemon() override;

  // Loads the configuration, then asks systemd which vigil units exist, restores the
  // persisted supervision state and adopts or starts workers. An invalid configuration
  // file is reported (journal, event, STATUS=, status) and the last good copy in
  // state_dir is supervised instead; with no usable copy, fails (changing nothing): the
  // error lists every problem as file:line:col lines.
  util::Result<void> start();
  // Not "": the configuration file was invalid at start and vigild supervises with the
  // last good copy; says which and why. Cleared by the next configuration applied.
  const std::string& configFallback() const { return config_fallback_; }
  const SupervisionStore& store() const { return store_; }
  // SIGHUP (systemctl reload vigild): re-read the configuration, as the API's Reload does.
  // A valid one is applied; an invalid one is rejected with its errors (journal, event,
  // STATUS=) and nothing running changes. Returns the rejection, if any.
  util::Result<void> reload();
  // SIGTERM. Asks PID 1 whether vigil is being stopped as a whole (a stop job queued for
  // vigil-workers.target: `systemctl stop vigil.target`, package removal, shutdown). If so,
  // stops every tree as OTP does (each supervisor its children in reverse start order,
  // each with its own stop timeout), telling systemd to extend vigild's stop timeout while
  // that runs, and ends the loop when nothing is left; otherwise (vigild alone is stopped
  // or restarted, e.g. on upgrade) ends the loop at once and leaves every worker running
  // for the next vigild to re-adopt. Repeated calls are ignored.
  void shutdown();
  bool shuttingDown() const { return shutting_down_; }

  const core::Engine& engine() const { return engine_; }
  core::Engine& engine() { return engine_; }
  bool ready() const { return ready_; }
  // Every event also goes to `sink` (not owned; must outlive the Daemon or be removed).
  void addEventSink(EventSink* sink);
  void removeEventSink(EventSink* sink);
  // The state document written to the state file, as one string (for tests; the file is
  // written in pieces by writeStateDocument).
  std::string stateJson();
  const StatusModel& statusModel() const { return model_; }
  const MetricsSampler& sampler() const { return sampler_; }
  const HealthMonitor& healthMonitor() const { return health_; }
  // The Prometheus exposition of everything now (what /metrics serves), and the port
  // /metrics is served on (0: none).
  std::string metricsText();
  std::uint16_t metricsPort() const { return http_ ? http_->port() : 0; }

  // api::Backend.
  status::VigildView info() override;
  void status(const std::string& target, SnapshotDone done) override;
  std::vector<status::EventView> recentEvents(std::size_t max) override;
  tl::expected<std::vector<status::HistoryView>, core::CommandError> history(
      const std::string& target, core::Usec range, std::uint32_t points) override;
  std::vector<std::string> targets() override;
  tl::expected<core::CommandAccepted, core::CommandError> command(
      const core::Command& command) override;
  tl::expected<api::ReloadAnswer, core::CommandError> reload(bool dry_run,
                                                             const std::string& caller) override;
  void setListener(api::Listener* listener) override { listener_ = listener; }

 private:
  // `sources`: receives the texts read (config::LoadOptions::sources).
  util::Result<core::Config> loadConfig(std::vector<config::SourceText>* sources = nullptr);
  // The loaded configuration, or the rejection (journal, event, STATUS=).
  util::Result<core::Config> loadAndRecord(std::vector<config::SourceText>* sources = nullptr);
  // The last good copy in state_dir, loaded as the configuration was (its tier file from
  // the copy too), or why it cannot be used.
  util::Result<core::Config> loadLastGood(ConfigCopy& copy);
  // After engine_.start() or a reload applied `copy`: it becomes the last good one.
  void keepLastGood(ConfigCopy copy);
  // Writes what the store has (supervision state, a last good copy still to save); on
  // failure says so once and retries every persist_retry.
  void persist();
  void schedulePersist();
  core::TimePoint now() const;
  status::Clocks clocks() const;
  // Both clocks read now, together: for converting the persisted times (the loop's cached
  // monotonic time is up to an iteration old, which would shift every deadline by that).
  static status::Clocks exactClocks();
  void publish(const core::Event& event);
  void stopEverything();
  void finish(int code);
  void extendStopTimeout();
  void drain();
  void perform(core::Action action);
  // STATUS= from the counts now, if the text changed.
  void updateStatus();
  // updateStatus() after kStatusDelay, once for all the changes until then, and no sooner
  // than options_.status_min_interval after the previous STATUS= of the counts.
  void scheduleStatus();
  static constexpr std::chrono::microseconds kStatusDelay{std::chrono::milliseconds(500)};
  void scheduleStateWrite();
  // Resets (ResetFailedUnit) the failed units among `changes` that the engine will not
  // start again by itself.
  void resetFailedUnits(const core::Engine::Changes& changes);
  // Arms a one-shot timer in *slot that calls (this->*fn)() after usec (CLOCK_MONOTONIC).
  // *slot is non-null while it is pending, and null again before fn runs.
  void runOnceAfter(sd_event_source** slot, std::uint64_t usec, void (Daemon::*fn)());
  void writeState();
  // The state document (status::writeJsonText: vigild, supervisors, every worker, the
  // last kStateFileEvents events) given to `sink` in pieces.
  void writeStateDocument(const status::TextSink& sink);
  // What the systemd client's cache says about a unit, for StatusModel's snapshots.
  StatusModel::FactsFn unitFacts();
  // The timer's target: writeState(), or, while jobs are outstanding and the last write is
  // younger than state_file_max_delay, the same check one interval later.
  void writeStateWhenSettled();
  // WATCHDOG=1 every quarter of the watchdog period, but only while PID 1 answered a Ping
  // within the last period: a vigild that is stuck, or cut off from PID 1, is restarted
  // by systemd (Result=watchdog) and re-adopts its workers.
  void armWatchdog();
  void watchdogTick();
  // Applies config_->metrics to the sampler (interval, history; the textfile is written
  // after each sweep).
  void configureMetrics();
  // Serves /metrics, the status page and its JSON on `listen` ("" : nowhere), re-binding
  // only when it changed. On failure the previous listener is kept (or taken back) and the
  // error returned.
  util::Result<void> bindMetrics(const std::string& listen);
  // The answer to a GET of `path` on that listener: /metrics (metricsText()), / (the status
  // page, status/StatusPage.h, with the last kPageEvents events), /api/v1/status (the
  // document of `vigilctl status --json`), else 404. The page and the JSON carry the
  // figures of the sampler's last sweep (no refresh: this runs on the loop and answers at
  // once). O(fleet), like a scrape.
  http::Response serveHttp(std::string_view path);
  // A configuration that loaded but cannot be applied (its listener cannot be bound):
  // recorded and published as a rejection; returns the error.
  util::Result<core::Config> rejectLoaded(const std::string& error);
  // What the sampler reads in a sweep: every worker (running or not: a gap in its history)
  // and every supervisor's slice. Rebuilt only after the engine reported changes (drain())
  // since the last sweep: composing it is O(fleet).
  MetricsSampler::Targets metricsTargets();
  // After a sweep: memory pressure rules, then the textfile when metrics.textfile is set.
  void afterSweep();
  void writeTextfile();
  // Removes the textfile vigild wrote (a changed directory, vigild stopping).
  void removeTextfile();
  void notify(const std::string& text);

  DaemonOptions options_;
  sd_event* event_;
  systemd::SystemdClient& client_;
  core::Engine engine_;
  EventLog log_;
  RecentEvents recent_;
  std::vector<EventSink*> sinks_;
  StatusModel model_;
  MetricsSampler sampler_;
  HealthMonitor health_;
  std::unique_ptr<http::HttpServer> http_;
  std::string http_listen_;                  // what http_ is bound to ("" : none)
  bool textfile_failed_ = false;             // reported once until a write succeeds again
  std::string textfile_dir_;                 // where vigil.prom is written ("": nowhere)
  MetricsSampler::Targets metrics_targets_;  // null: to be rebuilt
  api::Listener* listener_ = nullptr;
  bool state_dirty_ = true;
  std::optional<core::Config> config_;
  bool started_ = false;
  bool ready_ = false;
  bool stopping_ = false;       // the loop is about to end; supervision is over
  bool shutting_down_ = false;  // SIGTERM seen
  bool stopping_all_ = false;   // ... and the trees are being stopped in order
  bool draining_ = false;
  std::map<std::uint64_t, sd_event_source*> timers_;  // engine timer id -> source
  sd_event_source* state_timer_ = nullptr;
  SupervisionStore store_;
  std::string boot_id_;
  std::string config_digest_;               // of the configuration in force (ConfigCopy)
  std::optional<ConfigCopy> unsaved_copy_;  // a last good copy whose write failed
  std::string config_fallback_;
  sd_event_source* persist_timer_ = nullptr;
  bool persist_failed_ = false;                      // reported once, until a write succeeds again
  std::optional<core::TimePoint> state_written_at_;  // none yet: the first is not held back
  sd_event_source* status_timer_ = nullptr;
  sd_event_source* watchdog_timer_ = nullptr;
  sd_event_source* extend_timer_ = nullptr;
  core::TimePoint stop_give_up_{0};  // the ordered stop stops asking for more time then
  std::uint64_t watchdog_usec_ = 0;
  core::TimePoint pid1_answered_at_{0};
  bool ping_in_flight_ = false;
  bool watchdog_withheld_ = false;   // said once, until PID 1 answers again
  bool state_write_failed_ = false;  // reported once until a write succeeds again
  std::string last_status_;
  std::optional<core::TimePoint> status_sent_at_;  // the last STATUS= of the counts
  // Every configuration load (start or reload) bumps the generation; the outcome is
  // published in the state file so that tools can tell when a reload has been handled.
  unsigned config_generation_ = 0;
  std::string config_result_;                 // "applied" | "rejected"
  std::string config_error_;                  // the errors of a rejected configuration
  std::vector<std::string> config_warnings_;  // of the last configuration loaded
};

}  // namespace vigil::daemon
