#include "daemon/Daemon.h"

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>

#include <fmt/format.h>
#include <systemd/sd-daemon.h>
#include <nlohmann/json.hpp>

#include "config/ConfigLoader.h"
#include "config/ListenAddress.h"
#include "core/Duration.h"
#include "core/ReloadPlan.h"
#include "daemon/StateFile.h"
#include "host/HostChecks.h"
#include "status/Compose.h"
#include "status/Prometheus.h"
#include "status/StatusJson.h"
#include "status/StatusPage.h"
#include "util/BuildInfo.h"

namespace vigil::daemon {

namespace {
// How long creating a supervisor's slice may take.
constexpr core::Usec kSliceTimeout{std::chrono::seconds(60)};
// cgroup figures in an API answer are at most this old (vigilctl status, watch -n1) when
// metrics.interval is no longer, else a sweep's age: what the operator chose to pay for.
constexpr core::Usec kSampleMaxAge{std::chrono::seconds(1)};
// The node_exporter textfile collector reads *.prom files in metrics.textfile.
constexpr const char* kTextfileName = "vigil.prom";
// While it stops the trees in order, vigild asks systemd for this much more time
// (EXTEND_TIMEOUT_USEC, sd_notify(3)) every kExtendEveryUsec.
constexpr std::uint64_t kExtendByUsec = 20000000;
constexpr std::uint64_t kExtendEveryUsec = 5000000;
// Events the state file carries (the API's ListEvents reaches back to RecentEvents' 1000).
constexpr std::size_t kStateFileEvents = 200;
// Events the status page shows (status::PageOptions::max_events).
constexpr std::size_t kPageEvents = status::PageOptions{}.max_events;
// Per group of children in the ordered stop, on top of the group's stop timeout: the
// stop job's own bookkeeping (measured well below 1 s even under TCG).
constexpr core::Usec kStopStepSlack{std::chrono::seconds(10)};

// The longest an ordered stop of `sup` can take: its children stop one group after the
// other, each within its stop timeout (then SIGKILL) plus some slack.
core::Usec stopBound(const core::SupervisorSpec& sup) {
  core::Usec total{0};
  for (const auto& c : sup.children) {
    total += c.worker ? c.worker->stop.timeout + kStopStepSlack : stopBound(*c.supervisor);
  }
  return total;
}

// Why systemd could not apply `setting` of `spec` (core::execStatusSetting), as this host
// looks from vigild; "" when nothing visible is wrong.
std::string diagnose(const core::UnitSpec& spec, const std::string& setting) {
  std::optional<host::Problem> problem;
  if (setting == "user") {
    problem = host::checkUser(spec.user);
  } else if (setting == "group") {
    problem = host::checkGroup(spec.group);
  } else if (setting == "working_directory") {
    problem = host::checkDirectory(spec.working_directory);
  } else if (setting == "command" && !spec.argv.empty()) {
    problem = host::checkExecutable(spec.argv.front());
  }
  return problem ? problem->text : "";
}

// "2026-12-04 09:30:12 UTC": a wall-clock time for messages.
std::string formatRealtime(std::int64_t realtime_usec) {
  const std::time_t t = static_cast<std::time_t>(realtime_usec / 1000000);
  std::tm tm{};
  if (!localtime_r(&t, &tm)) return "at an unknown time";
  char text[64];
  if (std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0) return "?";
  return text;
}

// All errors, one per line, without the final newline.
std::string joinErrors(const config::ConfigErrors& errors) {
  std::string out = config::formatErrors(errors);
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}
}  // namespace

Daemon::Daemon(DaemonOptions options, sd_event* event, systemd::SystemdClient& client)
    : options_(std::move(options)),
      event_(event),
      client_(client),
      log_(options_.log_to_journal, options_.log_to_stderr),
      sinks_{&log_, &recent_},
      sampler_(event, options_.cgroup_root),
      health_(
          event,
          [this](
              const std::string& unit, core::TimePoint started, const core::HealthChange& change) {
            engine_.onHealth(unit, started, change, now());
            drain();
          }),
      store_(options_.state_dir),
      boot_id_(currentBootId()) {
  client_.setExitObserver([this](const systemd::UnitState& st) {
    engine_.onUnitExit(st.name, st.outcome, now());
    drain();
  });
  client_.setActiveObserver([this](const systemd::UnitState& st) {
    engine_.onUnitActive(st.name, now());
    drain();
  });
}

Daemon::~Daemon() {
  for (auto& [id, src] : timers_) sd_event_source_disable_unref(src);
  if (state_timer_) sd_event_source_disable_unref(state_timer_);
  if (status_timer_) sd_event_source_disable_unref(status_timer_);
  if (watchdog_timer_) sd_event_source_disable_unref(watchdog_timer_);
  if (extend_timer_) sd_event_source_disable_unref(extend_timer_);
  if (persist_timer_) sd_event_source_disable_unref(persist_timer_);
}

core::TimePoint Daemon::now() const {
  std::uint64_t usec = 0;
  if (sd_event_now(event_, CLOCK_MONOTONIC, &usec) < 0) {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    usec = static_cast<std::uint64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
  }
  return core::TimePoint(static_cast<std::int64_t>(usec));
}

status::Clocks Daemon::exactClocks() {
  timespec mono{}, real{};
  clock_gettime(CLOCK_MONOTONIC, &mono);
  clock_gettime(CLOCK_REALTIME, &real);
  return status::Clocks{
      core::TimePoint(static_cast<std::int64_t>(mono.tv_sec) * 1000000 + mono.tv_nsec / 1000),
      static_cast<std::int64_t>(real.tv_sec) * 1000000 + real.tv_nsec / 1000};
}

status::Clocks Daemon::clocks() const {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return status::Clocks{now(), static_cast<std::int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000};
}

void Daemon::addEventSink(EventSink* sink) {
  sinks_.push_back(sink);
}

void Daemon::removeEventSink(EventSink* sink) {
  sinks_.erase(std::remove(sinks_.begin(), sinks_.end(), sink), sinks_.end());
}

void Daemon::publish(const core::Event& e) {
  const status::EventView view = status::eventView(e, clocks());
  for (EventSink* sink : sinks_) sink->publish(e, view);
  if (listener_) listener_->eventPublished(view);
  state_dirty_ = true;
}

void Daemon::notify(const std::string& text) {
  if (options_.notifier) options_.notifier(text);
  if (options_.notify) sd_notify(0, text.c_str());
}

util::Result<core::Config> Daemon::loadConfig(std::vector<config::SourceText>* sources) {
  config::LoadOptions lo;
  lo.sources = sources;
  lo.tier_dirs = options_.tier_dirs;
  lo.tier_override = options_.tier_override;
  // A host fact (a user, a directory) is a warning here, never a reason to stop
  // supervising: the host may have changed since the file was checked, and the worker
  // concerned fails to start with an event that names the setting.
  lo.host_checks = config::HostChecks::Warn;
  config::ConfigErrors warnings;
  auto loaded = config::loadConfig(options_.config_file, lo, &warnings);
  config_warnings_.clear();
  for (const auto& w : warnings) config_warnings_.push_back(w.formatWarning());
  log_.configWarnings(options_.config_file.string(), config_warnings_);
  if (!loaded) return util::fail(joinErrors(loaded.error()));
  return std::move(*loaded);
}

util::Result<core::Config> Daemon::loadAndRecord(std::vector<config::SourceText>* sources) {
  auto cfg = loadConfig(sources);
  config_generation_++;
  config_result_ = cfg ? "applied" : "rejected";
  config_error_ = cfg ? "" : cfg.error().message();
  state_dirty_ = true;
  if (!cfg) {
    core::Event e;
    e.at = now();
    e.type = core::EventType::ConfigRejected;
    e.reason = "invalid";
    e.message = fmt::format("configuration {} rejected, nothing changed:\n{}",
                            options_.config_file.string(), cfg.error().message());
    publish(e);
  }
  return cfg;
}

util::Result<core::Config> Daemon::rejectLoaded(const std::string& error) {
  config_result_ = "rejected";
  config_error_ = error;
  state_dirty_ = true;
  core::Event e;
  e.at = now();
  e.type = core::EventType::ConfigRejected;
  e.reason = "invalid";
  e.message = fmt::format("configuration {} rejected, nothing changed:\n{}",
                          options_.config_file.string(), error);
  publish(e);
  return util::fail(error);
}

util::Result<core::Config> Daemon::loadLastGood(ConfigCopy& copy) {
  auto saved = store_.loadLastGood();
  if (!saved) return util::fail(saved.error().message());
  config::LoadOptions lo;
  lo.host_checks = config::HostChecks::Warn;
  if (!saved->tier_file.empty()) lo.tier_texts[saved->tier_file] = saved->tier;
  // The copy's own tier decides, not $VIGIL_TIER: it is what was applied.
  lo.tier_override = std::nullopt;
  auto loaded = config::loadConfigFromString(
      saved->config, store_.lastGoodPath().string() + " (copy of " + saved->config_file + ")", lo);
  if (!loaded) {
    // Valid when it was saved; a newer vigild may be stricter.
    return util::fail(fmt::format("{}: the saved copy is not valid for this vigild:\n{}",
                                  store_.lastGoodPath().string(), joinErrors(loaded.error())));
  }
  copy = std::move(*saved);
  return std::move(*loaded);
}

void Daemon::keepLastGood(ConfigCopy copy) {
  if (options_.state_dir.empty()) return;
  copy.saved_realtime_usec = clocks().realtime_usec;
  unsaved_copy_ = std::move(copy);
  schedulePersist();
}

util::Result<void> Daemon::start() {
  std::vector<config::SourceText> sources;
  auto cfg = loadAndRecord(&sources);
  ConfigCopy copy = copyOf(sources);
  if (!cfg) {
    const std::string& msg = cfg.error().message();
    const std::string first = msg.substr(0, msg.find('\n'));
    ConfigCopy saved;
    auto fallback = loadLastGood(saved);
    if (!fallback) {
      std::fprintf(stderr, "<3>vigild: no last good configuration to fall back on: %s\n",
                   fallback.error().message().c_str());
      notify(fmt::format("STATUS=configuration invalid: {}", first));
      return tl::unexpected(cfg.error());
    }
    // Supervising with what worked last beats leaving every worker unsupervised: the
    // error stays visible (journal, STATUS=, vigilctl status) until a valid file is
    // applied.
    config_fallback_ = fmt::format(
        "{} is invalid ({}); supervising with the last good configuration, saved {}",
        options_.config_file.string(), first, formatRealtime(saved.saved_realtime_usec));
    std::fprintf(stderr, "<2>vigild: %s\n", config_fallback_.c_str());
    core::Event e;
    e.at = now();
    e.type = core::EventType::ConfigRejected;
    e.reason = "last-good";
    e.message = config_fallback_;
    publish(e);
    cfg = std::move(fallback);
    copy = std::move(saved);
  }
  config_digest_ = copy.digest();
  config_ = std::move(*cfg);
  log_.setLevel(config_->log_level);
  configureMetrics();
  if (auto bound = bindMetrics(config_->metrics.listen); !bound) {
    // Supervision matters more than /metrics: vigild goes on without it, says so in the
    // journal, and the next reload tries again.
    std::fprintf(stderr, "<3>vigild: metrics.listen: cannot serve /metrics: %s\n",
                 bound.error().message().c_str());
  }
  notify(fmt::format(
      "STATUS={}adopting existing workers, then starting {} tree(s)",
      config_fallback_.empty() ? "" : "LAST GOOD CONFIGURATION: ", config_->trees.size()));
  armWatchdog();
  client_.listManagedUnits(
      [this, copy = std::move(copy)](util::Result<std::vector<core::ExistingUnit>> units) mutable {
        if (!units) {
          // Without the list we could start duplicates of running workers: give up, and let
          // systemd restart vigild.
          core::Event e;
          e.at = now();
          e.type = core::EventType::ConfigRejected;
          e.reason = "list-units-failed";
          e.message = "cannot list existing units: " + units.error().message();
          publish(e);
          notify("STATUS=cannot list existing units: " + units.error().message());
          sd_event_exit(event_, 1);
          return;
        }
        started_ = true;
        // Read only now, after PID 1 answered: the list and the record describe one moment.
        SupervisionStore::Loaded loaded = store_.load(boot_id_, exactClocks());
        if (!loaded.note.empty())
          std::fprintf(stderr, "<%d>vigild: %s\n", loaded.warning ? 4 : 6, loaded.note.c_str());
        core::SupervisionState restored;
        if (loaded.state) {
          restored = std::move(loaded.state->state);
          if (loaded.state->config_digest != config_digest_) {
            // Like a reload, a changed file puts the configured limits and counts back.
            restored.scale.clear();
            for (auto& [unit, w] : restored.workers) w.limits.reset();
            for (auto& [path, sv] : restored.supervisors) sv.budget.reset();
          }
        }
        engine_.start(*config_, *units, now(), restored);
        if (config_fallback_.empty()) keepLastGood(std::move(copy));
        store_.markDirty();
        drain();
        schedulePersist();
      });
  return {};
}

util::Result<void> Daemon::reload() {
  auto r = reload(false, "SIGHUP (systemctl reload vigild)");
  if (!r) return util::fail(r.error().message);
  return {};
}

tl::expected<api::ReloadAnswer, core::CommandError> Daemon::reload(bool dry_run,
                                                                   const std::string& caller) {
  if (shutting_down_)
    return tl::unexpected(core::CommandError{core::kErrorNotPossible, "vigild is shutting down"});
  if (dry_run) {
    // Nothing is recorded: a dry run is a question, not a load.
    auto cfg = loadConfig();
    if (!cfg)
      return tl::unexpected(core::CommandError{api::kErrorInvalidConfig, cfg.error().message()});
    api::ReloadAnswer answer;
    const core::Config empty;
    answer.plan = core::formatPlan(core::planReload(started_ ? engine_.config() : empty, *cfg,
                                                    engine_.failedTrees(), engine_.overrides()));
    answer.warnings = config_warnings_;
    answer.generation = config_generation_;
    return answer;
  }
  notify("RELOADING=1");
  {
    core::Event e;
    e.at = now();
    e.type = core::EventType::OperatorCommand;
    e.reason = "reload";
    e.caller = caller;
    e.message = fmt::format("reload of {} requested by {}", options_.config_file.string(), caller);
    publish(e);
  }
  std::vector<config::SourceText> sources;
  auto cfg = loadAndRecord(&sources);
  if (cfg) {
    // A listener that cannot be bound rejects the reload as an invalid file would: the
    // operator gets the error, and nothing changes (the old listener stays).
    // Only a changed address is the file's fault: an address that already failed at start
    // (the port taken by someone else) is retried and logged, never a reason to refuse
    // every later reload.
    const bool changed = !config_ || cfg->metrics.listen != config_->metrics.listen;
    if (auto bound = bindMetrics(cfg->metrics.listen); !bound) {
      if (changed) {
        cfg = rejectLoaded(fmt::format("{}: metrics.listen: cannot serve /metrics: {}",
                                       options_.config_file.string(), bound.error().message()));
      } else {
        std::fprintf(stderr, "<3>vigild: metrics.listen: cannot serve /metrics: %s\n",
                     bound.error().message().c_str());
      }
    }
  }
  if (!cfg) {
    const std::string& msg = cfg.error().message();
    notify(fmt::format("READY=1\nSTATUS=reload failed, previous configuration kept: {}",
                       msg.substr(0, msg.find('\n'))));
    last_status_.clear();
    scheduleStateWrite();
    return tl::unexpected(core::CommandError{api::kErrorInvalidConfig, msg});
  }
  api::ReloadAnswer answer;
  const core::Config empty;
  answer.plan = core::formatPlan(core::planReload(started_ ? engine_.config() : empty, *cfg,
                                                  engine_.failedTrees(), engine_.overrides()));
  answer.applied = true;
  answer.warnings = config_warnings_;
  answer.generation = config_generation_;
  config_ = std::move(*cfg);
  log_.setLevel(config_->log_level);
  configureMetrics();
  {
    ConfigCopy copy = copyOf(sources);
    config_digest_ = copy.digest();
    if (!config_fallback_.empty()) {
      std::fprintf(stderr,
                   "<5>vigild: %s is valid again and applied; the last good copy is "
                   "no longer in use\n",
                   options_.config_file.string().c_str());
      config_fallback_.clear();
    }
    if (started_) keepLastGood(std::move(copy));
  }
  if (started_) {
    engine_.reload(*config_, now());
    drain();
  }
  notify("READY=1");
  last_status_.clear();
  updateStatus();
  scheduleStateWrite();
  return answer;
}

void Daemon::shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  if (!started_) {
    finish(0);
    return;
  }
  client_.queryStackStop([this](util::Result<bool> stack) {
    if (!stack) {
      // Unknown: leaving the workers running is what a restart needs, and if vigil is in
      // fact being stopped, PID 1 stops the workers itself once vigild has exited.
      std::fprintf(stderr,
                   "<4>vigild: cannot tell why it is being stopped (%s); leaving the "
                   "workers running\n",
                   stack.error().message().c_str());
      finish(0);
    } else if (*stack) {
      stopEverything();
    } else {
      finish(0);
    }
  });
}

void Daemon::stopEverything() {
  stopping_all_ = true;
  core::Usec bound{0};
  if (config_) {
    for (const auto& tree : config_->trees) bound = std::max(bound, stopBound(tree));
  }
  bound += std::chrono::seconds(30);
  stop_give_up_ = now() + bound;
  notify(fmt::format("STATUS=vigil is stopping: stopping every tree in order (at most {})",
                     core::formatDuration(bound)));
  extendStopTimeout();
  sd_event_add_time_relative(
      event_, &extend_timer_, CLOCK_MONOTONIC, kExtendEveryUsec, 0,
      [](sd_event_source* s, std::uint64_t, void* ud) -> int {
        auto* self = static_cast<Daemon*>(ud);
        self->extendStopTimeout();
        sd_event_source_set_time_relative(s, kExtendEveryUsec);
        sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
      },
      this);
  engine_.stopAll(now());
  drain();
}

void Daemon::extendStopTimeout() {
  if (now() >= stop_give_up_) {
    std::fprintf(stderr,
                 "<4>vigild: the ordered stop did not finish in time; exiting and leaving "
                 "the remaining workers to systemd\n");
    finish(1);
    return;
  }
  notify(fmt::format("EXTEND_TIMEOUT_USEC={}", kExtendByUsec));
}

void Daemon::finish(int code) {
  if (stopping_) return;
  stopping_ = true;
  notify(stopping_all_
             ? "STOPPING=1\nSTATUS=every tree is stopped"
             : "STOPPING=1\nSTATUS=stopping; workers keep running and will be re-adopted");
  health_.clear();
  writeState();
  if (stopping_all_) {
    // vigil was stopped as a whole (vigil.target, shutdown): as with systemctl stop and
    // start of a unit, the next start begins afresh, without counters or failed trees.
    std::error_code ec;
    if (!options_.state_dir.empty()) std::filesystem::remove(store_.statePath(), ec);
  } else if (started_) {
    persist();
  }
  // Stale figures would be exported as current ones while vigild is away.
  removeTextfile();
  sd_event_exit(event_, code);
}

void Daemon::drain() {
  // Callbacks from the client never run inside perform(), but a drain can still be
  // requested while one is in progress (e.g. from a synchronous fake); the outer loop
  // then picks up the new actions.
  if (draining_) return;
  draining_ = true;
  for (;;) {
    // Actions first: a restart's StartTransientUnit goes out before the journal entries,
    // bus signals and STATUS= of the same step, which would otherwise sit in front of it
    // on the crash-to-restart path (bench/README.md). The events keep their order.
    auto actions = engine_.takeActions();
    auto events = engine_.takeEvents();
    if (actions.empty() && events.empty()) break;
    for (auto& a : actions) perform(std::move(a));
    for (const auto& e : events) publish(e);
  }
  draining_ = false;
  const core::Engine::Changes changes = engine_.takeChanged();
  if (!changes.empty()) {
    metrics_targets_.reset();  // a worker started, stopped, came or went
    model_.update(engine_, changes, now());
    store_.update(engine_, changes, now());
    if (store_.dirty()) schedulePersist();
    if (!stopping_) health_.update(engine_, changes, now());
    state_dirty_ = true;
    resetFailedUnits(changes);
  }
  for (const auto& c : engine_.takeCompletions()) {
    if (listener_) listener_->operationFinished(c);
  }
  if (stopping_all_ && engine_.allStopped()) {
    finish(0);
    return;
  }
  if (!ready_ && started_ && !shutting_down_ && engine_.initialStartComplete()) {
    ready_ = true;
    notify("READY=1");
  }
  scheduleStatus();
  scheduleStateWrite();
}

void Daemon::resetFailedUnits(const core::Engine::Changes& changes) {
  // A failed worker unit stays loaded for its restart in place (CollectMode=inactive); once
  // the engine will not start it again by itself (not Starting, Running, Stopping, or
  // Waiting out its backoff), it is reset, so no failed unit lingers. O(changes), except
  // after a start, reload or stopAll.
  const core::TimePoint t = now();
  const auto release = [&](const std::string& unit) {
    const auto w = engine_.worker(unit, t);
    if (w && (w->state == core::ChildState::Starting || w->state == core::ChildState::Running ||
              w->state == core::ChildState::Stopping || w->state == core::ChildState::Waiting))
      return;
    client_.resetFailed(unit);
  };
  if (changes.all) {
    for (const auto& unit : client_.failedUnits()) release(unit);
  } else {
    for (const auto& unit : changes.units) release(unit);
  }
}

void Daemon::scheduleStatus() {
  if (stopping_ || status_timer_) return;
  // STATUS= kStatusDelay after a change, and at most once per status_min_interval: each
  // one makes PID 1 update vigild's unit and broadcast PropertiesChanged, which competes
  // with the workers' jobs (bench/RESULTS.md); a worker that is back within the delay
  // leaves the text unchanged, so nothing is sent.
  core::Usec delay = kStatusDelay;
  if (status_sent_at_) {
    const core::Usec since = now() - *status_sent_at_;
    if (since < options_.status_min_interval)
      delay = std::max(delay, options_.status_min_interval - since);
  }
  runOnceAfter(&status_timer_, static_cast<std::uint64_t>(delay.count()), &Daemon::updateStatus);
}

void Daemon::runOnceAfter(sd_event_source** slot, std::uint64_t usec, void (Daemon::*fn)()) {
  // The slot doubles as "already pending" for the callers and is cleared before fn runs,
  // so fn may schedule itself again.
  struct Pending {
    Daemon* self;
    sd_event_source** slot;
    void (Daemon::*fn)();
  };
  auto* pending = new Pending{this, slot, fn};
  int r = sd_event_add_time_relative(
      event_, slot, CLOCK_MONOTONIC, usec, 0,
      [](sd_event_source* s, std::uint64_t, void* ud) -> int {
        const Pending p = *static_cast<Pending*>(ud);
        sd_event_source_disable_unref(s);  // frees ud through the destroy callback
        *p.slot = nullptr;
        (p.self->*p.fn)();
        return 0;
      },
      pending);
  if (r < 0) {
    delete pending;
    *slot = nullptr;
    return;
  }
  // Frees the closure however the source ends: fired, or unreffed by ~Daemon.
  sd_event_source_set_destroy_callback(*slot, [](void* ud) { delete static_cast<Pending*>(ud); });
}

void Daemon::perform(core::Action a) {
  switch (a.kind) {
    case core::Action::Kind::Start: {
      // Only the name waits for the job window; the spec is built when the call is issued.
      const std::string name = a.unit.name;
      const std::uint64_t token = a.start_token;
      client_.startService(
          name, [this, name, token]() { return engine_.startSpec(name, token); }, a.timeout,
          [this, name, token](const systemd::JobOutcome& o) {
            std::string error = o.error;
            // systemd only says "step USER failed"; say what is wrong with that setting, as
            // far as this host shows it.
            const std::string setting =
                o.unit.outcome.exec_main_code == 1
                    ? core::execStatusSetting(o.unit.outcome.exec_main_status)
                    : "";
            if (!setting.empty()) {
              if (auto spec = engine_.startSpec(name, token)) error = diagnose(*spec, setting);
            }
            const bool exited = o.ok && !o.unit.active_state.empty() && !o.unit.running();
            engine_.onStartResult(name, token, o.ok, error, o.unit.outcome, exited, now());
            drain();
          });
      break;
    }
    case core::Action::Kind::Stop: {
      const std::string name = a.unit.name;
      client_.stopUnit(name, a.timeout, [this, name](const systemd::JobOutcome& o) {
        engine_.onStopResult(name, o.ok, o.error, now());
        drain();
      });
      break;
    }
    case core::Action::Kind::Slice: {
      const std::string name = a.unit.name;
      client_.ensureSlice(name, a.unit.description, a.unit.limits, kSliceTimeout,
                          [this, name](const systemd::JobOutcome& o) {
                            if (o.ok) sampler_.limitsChanged();  // a slice budget changed
                            engine_.onSliceResult(name, o.ok, o.error, now());
                            drain();
                          });
      break;
    }
    case core::Action::Kind::CancelTimer: {
      auto it = timers_.find(a.timer);
      if (it != timers_.end()) {
        sd_event_source_disable_unref(it->second);
        timers_.erase(it);
      }
      break;
    }
    case core::Action::Kind::Kill:
    case core::Action::Kind::Freeze:
    case core::Action::Kind::Thaw:
    case core::Action::Kind::SetLimits: {
      const std::string name = a.unit.name;
      const std::uint64_t op = a.operation;
      const bool limits = a.kind == core::Action::Kind::SetLimits;
      auto done = [this, name, op, limits](const systemd::JobOutcome& o) {
        // New limits are in the cgroup now: the next sweep reads them.
        if (limits && o.ok) sampler_.limitsChanged();
        engine_.onActionResult(op, name, o.ok, o.error, now());
        drain();
      };
      if (a.kind == core::Action::Kind::Kill) {
        client_.killUnit(name, a.main_only, a.signal, done);
      } else if (a.kind == core::Action::Kind::SetLimits) {
        client_.setUnitLimits(name, a.unit.limits, done);
      } else {
        client_.freezeUnit(name, a.kind == core::Action::Kind::Freeze, done);
      }
      break;
    }
    case core::Action::Kind::ArmTimer: {
      struct Ctx {
        Daemon* self;
        std::uint64_t id;
      };
      sd_event_source* src = nullptr;
      const std::uint64_t when =
          static_cast<std::uint64_t>(std::max<std::int64_t>(a.deadline.count(), 0));
      int r = sd_event_add_time(
          event_, &src, CLOCK_MONOTONIC, when, 1000,
          [](sd_event_source* s, std::uint64_t, void* ud) -> int {
            auto* ctx = static_cast<Ctx*>(ud);
            Daemon* self = ctx->self;
            const std::uint64_t id = ctx->id;
            self->timers_.erase(id);
            // sd-event keeps the source alive until this callback returns.
            sd_event_source_disable_unref(s);
            self->engine_.onTimer(id, self->now());
            self->drain();
            return 0;
          },
          new Ctx{this, a.timer});
      if (r < 0) {
        // Losing a timer would stall a restart forever; fire it now instead.
        engine_.onTimer(a.timer, now());
        break;
      }
      sd_event_source_set_destroy_callback(src, [](void* ud) { delete static_cast<Ctx*>(ud); });
      timers_[a.timer] = src;
      break;
    }
  }
}

void Daemon::updateStatus() {
  if (stopping_) return;
  const StatusModel::Counts& c = model_.counts();
  std::string status = fmt::format(
      "{}{} running, {} in backoff, {} other; {} failed tree(s)",
      config_fallback_.empty()
          ? ""
          : "LAST GOOD CONFIGURATION (" + options_.config_file.string() + " is invalid); ",
      c.running, c.backoff, c.other, c.failed_trees);
  if (status != last_status_) {
    notify("STATUS=" + status);
    last_status_ = status;
    status_sent_at_ = now();
  }
}

void Daemon::schedulePersist() {
  if (options_.state_dir.empty() || persist_timer_ || stopping_) return;
  runOnceAfter(&persist_timer_,
               static_cast<std::uint64_t>(
                   (persist_failed_ ? options_.persist_retry : options_.persist_delay).count()),
               &Daemon::persist);
}

void Daemon::persist() {
  if (options_.state_dir.empty() || !started_) return;
  std::string error;
  if (unsaved_copy_) {
    if (auto saved = store_.saveLastGood(*unsaved_copy_); saved) {
      unsaved_copy_.reset();
    } else {
      error = "cannot save the last good configuration: " + saved.error().message();
    }
  }
  if (auto written = store_.write(config_digest_, boot_id_, exactClocks()); !written) {
    if (!error.empty()) error += "; ";
    error += "cannot write the supervision state: " + written.error().message();
  }
  if (!error.empty()) {
    // Supervision goes on from memory; what is lost is only what a restart of vigild
    // would have taken back. Said once, retried until it works.
    if (!persist_failed_) {
      std::fprintf(stderr, "<3>vigild: %s; supervising on, retrying every %s\n", error.c_str(),
                   core::formatDuration(options_.persist_retry).c_str());
    }
    persist_failed_ = true;
    schedulePersist();
    return;
  }
  if (persist_failed_) {
    std::fprintf(stderr, "<5>vigild: the state in %s is written again\n",
                 options_.state_dir.string().c_str());
    persist_failed_ = false;
  }
}

void Daemon::armWatchdog() {
  if (options_.watchdog.count() > 0) {
    watchdog_usec_ = static_cast<std::uint64_t>(options_.watchdog.count());
  } else if (!options_.notify || sd_watchdog_enabled(0, &watchdog_usec_) <= 0) {
    return;
  }
  // PID 1 answered vigild's Subscribe before the loop began (SdBusSystemdClient::create).
  pid1_answered_at_ = now();
  // The ticks come from this loop's own timer, so a wedged loop stops feeding, whatever
  // PID 1 does; sd_watchdog_enabled(3) recommends half the period or less.
  sd_event_add_time_relative(
      event_, &watchdog_timer_, CLOCK_MONOTONIC, watchdog_usec_ / 4, 0,
      [](sd_event_source* s, std::uint64_t, void* ud) -> int {
        auto* self = static_cast<Daemon*>(ud);
        self->watchdogTick();
        sd_event_source_set_time_relative(s, self->watchdog_usec_ / 4);
        sd_event_source_set_enabled(s, SD_EVENT_ON);
        return 0;
      },
      this);
}

void Daemon::watchdogTick() {
  const core::Usec period(static_cast<std::int64_t>(watchdog_usec_));
  const core::Usec silent = now() - pid1_answered_at_;
  if (silent < period) {
    notify("WATCHDOG=1");
    if (watchdog_withheld_) {
      std::fprintf(stderr, "<5>vigild: PID 1 answers again; feeding the watchdog\n");
      watchdog_withheld_ = false;
    }
  } else if (!watchdog_withheld_) {
    std::fprintf(stderr,
                 "<2>vigild: PID 1 has not answered for %s (watchdog %s): no longer feeding the "
                 "watchdog, so that systemd restarts vigild\n",
                 core::formatDuration(silent).c_str(), core::formatDuration(period).c_str());
    watchdog_withheld_ = true;
  }
  if (ping_in_flight_) return;
  ping_in_flight_ = true;
  client_.ping(period / 2, [this](util::Result<void> answered) {
    ping_in_flight_ = false;
    if (answered) pid1_answered_at_ = now();
  });
}

void Daemon::scheduleStateWrite() {
  // At most one write per interval, and only when something changed since the last one:
  // an idle vigild writes nothing, a busy one once per interval whatever the event rate.
  if (options_.state_file.empty() || !state_dirty_ || state_timer_) return;
  runOnceAfter(&state_timer_, static_cast<std::uint64_t>(options_.state_file_interval.count()),
               &Daemon::writeStateWhenSettled);
}

void Daemon::writeStateWhenSettled() {
  if (client_.pendingOperations() > 0 && state_written_at_ &&
      now() - *state_written_at_ < options_.state_file_max_delay) {
    runOnceAfter(&state_timer_, static_cast<std::uint64_t>(options_.state_file_interval.count()),
                 &Daemon::writeStateWhenSettled);
    return;
  }
  writeState();
}

status::VigildView Daemon::info() {
  status::VigildView v;
  v.version = util::kVersion;
  v.pid = static_cast<std::uint32_t>(getpid());
  v.config = options_.config_file.string();
  v.tier = config_ ? config_->tier : "";
  v.ready = ready_;
  v.config_generation = config_generation_;
  v.last_reload.result = config_result_;
  std::size_t start = 0;
  while (start < config_error_.size()) {
    const std::size_t nl = config_error_.find('\n', start);
    const std::string line = config_error_.substr(start, nl == std::string::npos ? nl : nl - start);
    if (!line.empty()) v.last_reload.errors.push_back(line);
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  v.last_reload.warnings = config_warnings_;
  v.config_fallback = config_fallback_;
  v.state_error = persist_failed_ ? "cannot write the state in " + options_.state_dir.string() +
                                        " (the journal says why); retrying"
                                  : "";
  v.status_text = last_status_;
  const StatusModel::Counts& c = model_.counts();
  v.workers_running = c.running;
  v.workers_backoff = c.backoff;
  v.workers_other = c.other;
  v.trees_failed = c.failed_trees;
  v.host = sampler_.host();
  return v;
}

void Daemon::status(const std::string& target, SnapshotDone done) {
  if (!target.empty()) {
    if (auto err = engine_.checkTarget(target)) {
      done(tl::unexpected(*err));
      return;
    }
  }
  std::vector<MetricsSampler::Target> units;
  for (const auto& unit : model_.unitsOf(engine_, target, now())) {
    auto st = client_.unitState(unit);
    if (st && st->running() && !st->control_group.empty())
      units.push_back({unit, st->control_group, true});
  }
  const core::Usec interval = config_ ? config_->metrics.interval : core::Usec{0};
  const core::Usec max_age =
      std::max(kSampleMaxAge, interval + core::Usec(std::chrono::milliseconds(250)));
  sampler_.refresh(std::move(units), max_age, [this, target, done]() {
    const StatusModel::FactsFn facts = unitFacts();
    // The target may have gone while the figures were read (a reload in between).
    if (!target.empty()) {
      if (auto err = engine_.checkTarget(target)) {
        done(tl::unexpected(*err));
        return;
      }
    }
    done(model_.snapshot(engine_, clocks(), facts, &sampler_, info(), target));
  });
}

namespace {
// A summary of `h` as the API shows it: every metric in its documented unit.
status::HistoryView historyView(const core::History& h,
                                core::Usec range,
                                core::TimePoint now,
                                std::uint32_t points) {
  // The units of core::HistoryMetric, and the factor to them from the ring's.
  struct Unit {
    const char* name;
    std::uint64_t factor;
  };
  static constexpr Unit kUnits[core::kHistoryMetrics] = {{"1/10000 core", 1}, {"bytes", 1024},
                                                         {"tasks", 1},        {"bytes/s", 1024},
                                                         {"bytes/s", 1024},   {"1/100 %", 1}};
  status::HistoryView v;
  v.interval_usec = h.interval().count();
  v.range_usec = std::min<std::int64_t>(
      range.count(), static_cast<std::int64_t>(h.capacity()) * h.interval().count());
  const core::HistorySummary s = h.summarize(range, now, points);
  v.samples = static_cast<std::uint32_t>(s.samples);
  v.slots = static_cast<std::uint32_t>(s.slots);
  for (std::size_t m = 0; m < core::kHistoryMetrics; ++m) {
    status::HistoryMetricView mv;
    mv.name = core::toString(static_cast<core::HistoryMetric>(m));
    mv.unit = kUnits[m].name;
    const std::uint64_t f = kUnits[m].factor;
    if (s.samples) {
      mv.min = s.metrics[m].min * f;
      mv.max = s.metrics[m].max * f;
      mv.avg = static_cast<std::uint64_t>(s.metrics[m].avg * static_cast<double>(f) + 0.5);
    }
    for (const auto& p : s.series[m])
      mv.series.push_back(p ? *p * f : status::HistoryMetricView::kNoSample);
    v.metrics.push_back(std::move(mv));
  }
  return v;
}
}  // namespace

tl::expected<std::vector<status::HistoryView>, core::CommandError> Daemon::history(
    const std::string& target, core::Usec range, std::uint32_t points) {
  if (range.count() <= 0)
    return tl::unexpected(
        core::CommandError{core::kErrorInvalidArgument, "the range must be positive"});
  if (points > kMaxHistoryPoints)
    return tl::unexpected(core::CommandError{
        core::kErrorInvalidArgument,
        fmt::format("at most {} points per metric, asked for {}", kMaxHistoryPoints, points)});
  if (!target.empty()) {
    if (auto err = engine_.checkTarget(target)) return tl::unexpected(*err);
  }
  const status::Clocks at = clocks();
  // The sampler's clock: its rings are stamped with CLOCK_MONOTONIC read at each sample.
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const core::TimePoint mono(static_cast<std::int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000);
  std::vector<status::HistoryView> out;
  const auto add = [&](const std::string& path, const char* kind, const std::string& unit) {
    const auto* e = sampler_.find(unit);
    if (!e) return;
    auto v = historyView(e->history, range, mono, points);
    v.path = path;
    v.kind = kind;
    v.unit = unit;
    out.push_back(std::move(v));
  };
  const status::StatusSnapshot head = model_.head(engine_, at, {}, target);
  for (const auto& s : head.supervisors) {
    // head() includes the supervisors above a worker target: only those within it.
    if (!target.empty() && s.path != target && s.path.rfind(target + "/", 0) != 0) continue;
    add(s.path, "supervisor", s.slice);
  }
  model_.forEachWorker(engine_, at, {}, nullptr, target,
                       [&](status::WorkerView&& w) { add(w.path, "worker", w.unit); });
  return out;
}

std::vector<status::EventView> Daemon::recentEvents(std::size_t max) {
  return recent_.last(max);
}

std::vector<std::string> Daemon::targets() {
  return engine_.targets();
}

tl::expected<core::CommandAccepted, core::CommandError> Daemon::command(const core::Command& cmd) {
  if (shutting_down_)
    return tl::unexpected(core::CommandError{core::kErrorNotPossible, "vigild is shutting down"});
  if (!started_)
    return tl::unexpected(
        core::CommandError{core::kErrorNotPossible, "vigild is still starting; try again"});
  auto r = engine_.command(cmd, now());
  drain();
  return r;
}

StatusModel::FactsFn Daemon::unitFacts() {
  return [this](const std::string& unit) -> std::optional<StatusModel::UnitFacts> {
    auto st = client_.unitState(unit);
    if (!st) return std::nullopt;
    return StatusModel::UnitFacts{st->active_state, st->main_pid, st->control_group};
  };
}

void Daemon::writeStateDocument(const status::TextSink& sink) {
  const StatusModel::FactsFn facts = unitFacts();
  // No cgroup reads here: the file carries the last figures the sampler has, if any. One
  // worker and one event at a time: see status::writeJsonText.
  const status::Clocks at = clocks();
  const status::StatusSnapshot head = model_.head(engine_, at, info(), "", &sampler_);
  const status::WorkerSource workers =
      [&](const std::function<void(const status::WorkerView&)>& emit) {
        model_.forEachWorker(engine_, at, facts, &sampler_, "",
                             [&emit](status::WorkerView&& v) { emit(v); });
      };
  const status::EventSource events =
      [this](const std::function<void(const status::EventView&)>& emit) {
        recent_.forEachLast(kStateFileEvents, emit);
      };
  status::writeJsonText(head, workers, &events, sink);
}

std::string Daemon::stateJson() {
  std::string out;
  writeStateDocument([&out](std::string_view piece) { out += piece; });
  return out;
}

void Daemon::writeState() {
  if (options_.state_file.empty()) return;
  state_dirty_ = false;
  state_written_at_ = now();
  util::Result<void> r;
  {
    AtomicFileWriter file(options_.state_file);
    writeStateDocument([&file](std::string_view piece) { file.append(piece); });
    file.append("\n");
    r = file.commit();
  }
  // Heap freed after a burst (a mass start's bus messages) stays with glibc and in
  // vigild's RSS unless handed back; this runs at most every state_file_interval, and
  // only after changes (bench/RESULTS.md, steady state).
  malloc_trim(0);
  if (!r) {
    // The state file is a convenience for vigilctl; supervision goes on without it.
    if (!state_write_failed_)
      std::fprintf(stderr, "<4>cannot write state file: %s, ignoring\n",
                   r.error().message().c_str());
    state_write_failed_ = true;
  } else {
    state_write_failed_ = false;
  }
}

void Daemon::configureMetrics() {
  const core::MetricsSettings& m = config_->metrics;
  // A textfile left where vigild no longer writes would be exported, frozen, for ever.
  if (textfile_dir_ != m.textfile) removeTextfile();
  textfile_dir_ = m.textfile;
  const std::size_t slots =
      m.history.count() == 0 ? 0 : static_cast<std::size_t>(m.history / m.interval);
  sampler_.configure(
      m.interval, slots, [this]() { return metricsTargets(); }, [this]() { afterSweep(); });
}

util::Result<void> Daemon::bindMetrics(const std::string& listen) {
  if (listen == http_listen_ && (http_ || listen.empty())) return {};
  if (listen.empty()) {
    http_.reset();
    http_listen_.clear();
    return {};
  }
  auto address = config::parseListenAddress(listen);
  if (!address) return util::fail(address.error().message());
  const auto serve = [this](std::string_view path) { return serveHttp(path); };
  auto server = http::HttpServer::start(event_, *address, serve);
  const auto old_address = config::parseListenAddress(http_listen_);
  if (!server && http_ && server.error().code() == EADDRINUSE && old_address &&
      old_address->port == address->port) {
    // The old listener holds the port (127.0.0.1:9753 -> 0.0.0.0:9753): let it go and try
    // again, and take it back if the new address still fails. Any other failure leaves
    // the old listener serving.
    http_.reset();
    server = http::HttpServer::start(event_, *address, serve);
    if (!server) {
      auto old = http::HttpServer::start(event_, *old_address, serve);
      if (old) {
        http_ = std::move(*old);
      } else {
        http_listen_.clear();
      }
    }
  }
  if (!server) return util::fail(server.error().message());
  http_ = std::move(*server);
  http_listen_ = listen;
  return {};
}

http::Response Daemon::serveHttp(std::string_view path) {
  http::Response r;
  if (path == "/metrics") {
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metricsText();
    return r;
  }
  if (path != "/" && path != "/api/v1/status") {
    r.status = 404;
    r.body =
        "not found; vigild serves / (the status page), /metrics (Prometheus) and "
        "/api/v1/status (the status as JSON)\n";
    return r;
  }
  // Composed synchronously from the figures the sampler has (its last sweep), as /metrics
  // is; the API's GetStatus refreshes older ones first, which would need the loop.
  const auto snap = model_.snapshot(engine_, clocks(), unitFacts(), &sampler_, info(), "");
  r.headers = {{"X-Content-Type-Options", "nosniff"}, {"Cache-Control", "no-store"}};
  if (path == "/") {
    r.content_type = "text/html; charset=utf-8";
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'none'; style-src 'unsafe-inline'; "
                           "frame-ancestors 'none'");
    r.body = status::renderStatusPage(*snap, recent_.last(kPageEvents));
  } else {
    // `vigilctl status --json`'s document, byte for byte (its dump(2) and newline). A string
    // that is not UTF-8 (an exec check's output) is written with U+FFFD: the strict
    // default would throw here, inside MHD's callback.
    r.content_type = "application/json";
    r.body = status::toJson(*snap).dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
    r.body += '\n';
  }
  return r;
}

MetricsSampler::Targets Daemon::metricsTargets() {
  if (metrics_targets_) return metrics_targets_;
  auto out = std::make_shared<std::vector<MetricsSampler::Target>>();
  for (const auto& unit : model_.unitsOf(engine_, "", now())) {
    auto st = client_.unitState(unit);
    if (st && st->running() && !st->control_group.empty()) {
      out->push_back({unit, st->control_group, true});
    } else {
      out->push_back({unit, "", false});
    }
  }
  const status::StatusSnapshot head = model_.head(engine_, clocks(), {});
  for (const auto& s : head.supervisors)
    out->push_back({s.slice, core::sliceControlGroup(s.slice), true});
  metrics_targets_ = std::move(out);
  return metrics_targets_;
}

std::string Daemon::metricsText() {
  timespec t0{};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  const auto snap = model_.snapshot(engine_, clocks(), unitFacts(), &sampler_, info(), "");
  std::string out;
  status::writePrometheus(snap->vigild, snap->supervisors, snap->workers, sampler_.view(), out);
  timespec t1{};
  clock_gettime(CLOCK_MONOTONIC, &t1);
  status::writeScrapeDuration(static_cast<double>(t1.tv_sec - t0.tv_sec) +
                                  static_cast<double>(t1.tv_nsec - t0.tv_nsec) / 1e9,
                              out);
  return out;
}

void Daemon::removeTextfile() {
  if (textfile_dir_.empty()) return;
  std::error_code ec;
  std::filesystem::remove(std::filesystem::path(textfile_dir_) / kTextfileName, ec);
}

void Daemon::afterSweep() {
  if (!stopping_) health_.onSweep(sampler_, now());
  writeTextfile();
}

void Daemon::writeTextfile() {
  if (!config_ || config_->metrics.textfile.empty() || stopping_) return;
  const std::filesystem::path path =
      std::filesystem::path(config_->metrics.textfile) / kTextfileName;
  util::Result<void> r;
  {
    AtomicFileWriter file(path, /*durable=*/false);
    file.append(metricsText());
    r = file.commit();
  }
  if (!r) {
    if (!textfile_failed_)
      std::fprintf(stderr,
                   "<4>vigild: cannot write the metrics textfile: %s; retrying after "
                   "every sweep\n",
                   r.error().message().c_str());
    textfile_failed_ = true;
  } else {
    textfile_failed_ = false;
  }
}

}  // namespace vigil::daemon
