#pragma once
// The supervision engine: OTP supervision trees over systemd units, as a pure state
// machine. It never performs I/O: callers feed it facts (configuration, job results,
// unit exits, timer expiries, each with the current monotonic time) and collect the
// Actions it wants performed and the Events that explain its decisions.
//
// Contracts:
// - Every Start action is answered by exactly one onStartResult for that unit, every Stop
//   action by exactly one onStopResult, every ArmTimer by onTimer (unless cancelled:
//   a cancelled timer's onTimer is ignored).
// - Only one incarnation of a unit name is live at a time: a unit being replaced is
//   stopped before its successor starts.
// - A supervisor's plan is a queue of steps ("slice", "start group", "stop group", "wait").
//   Start and stop steps are level-triggered: each time the plan is looked at, the current
//   step starts its idle children or stops its live ones, so any fact (a reload, an
//   operator action, a late job result) that changes a child under a running plan is
//   picked up, and no child is stranded.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "core/Event.h"
#include "core/ExitInfo.h"
#include "core/HealthTracker.h"
#include "core/IntensityWindow.h"
#include "core/Spec.h"
#include "core/SupervisionState.h"
#include "core/Time.h"
#include "core/UnitSpec.h"
#include "util/Result.h"

namespace vigil::core {

struct Action {
  // Start: StartTransientUnit and wait for its job; answered by onStartResult. Carries
  //   only unit.name and start_token: the caller builds the spec with
  //   startSpec(unit.name, start_token) when it issues the call (a mass start queues most
  //   of them behind the job window; a queued name is a few bytes where a spec is some
  //   twenty allocations, bench/RESULTS.md run 9).
  // Stop: StopUnit(unit.name) and wait; answered by onStopResult.
  // Slice: create (or update) a supervisor's slice with unit.limits as its budget; every
  //   limit not configured is sent as "unlimited", so removing a limit takes effect too;
  //   answered by onSliceResult.
  // ArmTimer / CancelTimer: a timer `timer` due at `deadline` / no longer wanted (its
  //   onTimer would be ignored; the caller frees the timer source).
  // Kill: send `signal` to the unit's processes (all, or the main one when main_only).
  // Freeze / Thaw: suspend / resume the unit's cgroup (FreezeUnit/ThawUnit).
  // SetLimits: change unit.limits on the live unit (SetUnitProperties, runtime);
  //   unset ones are left alone, kUnlimited removes a limit.
  // Kill, Freeze, Thaw and SetLimits carry an `operation` and are answered by
  // onActionResult.
  enum class Kind { Start, Stop, ArmTimer, CancelTimer, Slice, Kill, Freeze, Thaw, SetLimits };
  Kind kind = Kind::Start;
  UnitSpec unit;            // unit.name (Slice, SetLimits: and limits; Slice: description)
  Usec timeout{0};          // Start: start_timeout; Stop: stop timeout + margin
  std::uint64_t timer = 0;  // ArmTimer, CancelTimer
  TimePoint deadline{0};    // ArmTimer
  std::uint64_t operation = 0;
  std::uint64_t start_token = 0;  // Start: this start, for startSpec and onStartResult
  int signal = 15;                // Kill
  bool main_only = false;         // Kill
};

// An operator's request, from vigild's D-Bus API. Targets are paths as in the
// configuration: "tree" and "tree/sub" name supervisors, "tree/worker" and
// "tree/sub/worker" a worker with all its instances, "tree/worker@2" one instance.
struct Command {
  enum class Kind {
    Start,
    Stop,
    Restart,
    RollingRestart,
    Reset,
    Kill,
    Freeze,
    Thaw,
    SetLimits,
    Scale
  };
  Kind kind = Kind::Start;
  std::string target;
  std::string caller;      // who asked, for events: "uid 1000 (alice)"
  int signal = 15;         // Kill
  bool main_only = false;  // Kill: the main process only, not the whole cgroup
  Limits limits;           // SetLimits: the keys to change; kUnlimited removes a limit
  unsigned instances = 0;  // Scale: 1..1000
};
const char* toString(Command::Kind kind);
// The longest target a command may name: the configuration allows 8 levels of 64-byte
// names (config::kMaxSupervisorDepth, kMaxNameBytes) and "@1000"; anything longer is
// refused without being looked at (it comes from the API).
inline constexpr std::size_t kMaxTargetBytes = 8 * (64 + 1) + 5;
// The largest instance count a scale may ask for.
inline constexpr unsigned kMaxScale = 1000;
// Sets the instance count of the worker at `worker_path` ("tree/sub/w") in `config` to
// `instances` (copying the specs it changes: they may be shared). False when no such
// worker is configured (nothing changed).
bool scaleInConfig(Config& config, const std::string& worker_path, unsigned instances);

// Why a command is refused; nothing changed. `name` is the D-Bus error name the API
// returns (docs/DBUS-API.md): org.vigil.Vigil1.Error.UnknownTarget, .InvalidArgument,
// .NotPossible.
struct CommandError {
  std::string name;
  std::string message;
};
inline constexpr const char* kErrorUnknownTarget = "org.vigil.Vigil1.Error.UnknownTarget";
inline constexpr const char* kErrorInvalidArgument = "org.vigil.Vigil1.Error.InvalidArgument";
inline constexpr const char* kErrorNotPossible = "org.vigil.Vigil1.Error.NotPossible";

struct CommandAccepted {
  std::uint64_t operation = 0;  // reported in takeCompletions(); 0: already done
  std::string message;          // e.g. "web/api is already running"
};

// The end of an operation: every target reached the state asked for (ok), or why not.
struct Completion {
  std::uint64_t operation = 0;
  bool ok = false;
  std::string message;
};

// Stopped: ended by a stop job that vigild did not ask for (`systemctl stop`); it stays
// down, uncounted and unrestarted, until it is started again (vigild restart, or an
// operator's `systemctl restart` of the unit, which vigild follows).
enum class ChildState { Idle, Starting, Running, Stopping, Waiting, Finished, Stopped };
enum class SupervisorState { Idle, Starting, Running, Restarting, Stopping, Failed };
const char* toString(ChildState state);
const char* toString(SupervisorState state);

// One end of a worker's unit and what the supervisor decided about it.
struct ExitRecord {
  TimePoint at{0};
  ExitInfo info;
  std::string decision;  // "restart in 1.2s (2 of 5 restarts allowed in 1m)", "not restarted: ..."
};

struct WorkerStatus {
  std::string tree, supervisor, worker, unit;  // worker: the path, "tree/sub/name@2"
  unsigned instance = 0;                       // 0: a single-instance worker
  unsigned position = 0;                       // index among its supervisor's children
  ChildState state = ChildState::Idle;
  bool frozen = false;  // suspended by an operator (vigilctl freeze)
  std::optional<TimePoint> frozen_since;
  unsigned restarts = 0;           // restarts since vigild started (or since the worker appeared)
  unsigned failures = 0;           // consecutive failures (backoff exponent)
  std::string last_exit;           // description of the last exit, if any
  std::string last_exit_reason;    // reason tag of the last exit
  std::optional<TimePoint> since;  // when it entered Running
  std::optional<TimePoint> next_restart;  // Waiting: when the backoff ends
  std::optional<ExitInfo> last;           // the last exit, in full
  std::vector<ExitRecord> exits;          // the last kExitHistory exits, oldest first
  Limits limits;                          // the unit's limits (configured, or set live)
  bool limits_overridden = false;         // changed live by an operator (set)
  // Health (vigil.yaml(5), HEALTH): unknown when not running or without checks.
  HealthState health = HealthState::Unknown;
  std::string health_detail;              // why it is in that state: "http: http 503"
  std::optional<TimePoint> health_since;  // when it entered that state
  std::string health_check;               // describeHealth of its checks; "" : none
};
inline constexpr std::size_t kExitHistory = 5;

struct SupervisorStatus {
  std::string tree, path;
  unsigned position = 0;  // index among its parent's children (roots: in the file)
  SupervisorState state = SupervisorState::Idle;
  std::string strategy;
  unsigned restarts_in_window = 0;
  IntensitySpec intensity;
  std::string failure;  // why it failed, when Failed
  std::string slice;
  Limits limits;  // its slice budget (the configured one, or as changed by an operator)
  bool limits_overridden = false;
  bool frozen = false;
};

class Engine {
 public:
  explicit Engine(std::uint64_t seed = std::random_device{}());
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // First configuration: adopt matching running units, stop stale ones, start the rest.
  // A configured unit found stopping (ExistingUnit::stopping) is started once that stop is
  // done; its tree counts as past its first start for initialStartComplete(), so that
  // `systemctl restart vigild` does not wait for a worker's stop timeout.
  // `restored`: what the previous vigild persisted (SupervisionState; empty when there is
  // none or it was unusable). After adoption, each worker takes back its counters, last
  // exit and live limits; one that is not running stays down when an operator stopped it
  // or its restart type had let it finish, and one in backoff waits out its deadline
  // (started at once if that has passed); each supervisor takes back its intensity
  // window (the restarts still inside it), its live budget, a failed root tree stays
  // failed, an operator-stopped supervisor stays stopped, and a pending strategy restart
  // waits out its delay. A running unit wins over the record: a worker found running is
  // adopted as running whatever was persisted about it. Scale counts in `restored` are
  // applied to `config` first (the caller drops them when the configuration changed:
  // like set and scale, they last until the file changes). Each thing kept down or
  // delayed is reported by an event with reason "restored".
  void start(const Config& config,
             const std::vector<ExistingUnit>& existing,
             TimePoint now,
             const SupervisionState& restored = {});
  // A new configuration: unchanged workers keep their state whatever it is (running, in
  // backoff, finished, stopped), changed ones are replaced (stopped, then started with the
  // new spec), removed ones stopped, new ones started in order. A plan in flight (a
  // strategy restart, a start, a stop) carries over to the new tree and completes as it
  // would have without the reload. Failed root trees are started afresh.
  void reload(const Config& config, TimePoint now);
  // Stops every tree as OTP shutdown does: each supervisor stops its children in reverse
  // start order, each with its own stop timeout; nothing is restarted afterwards and later
  // reloads are ignored. For `systemctl stop vigil.target` and system shutdown.
  void stopAll(TimePoint now);

  // Job results and unit observations from systemd.
  // `outcome` is the unit's state when the job finished; `exited` is true if the unit
  // was already inactive/failed at that point (a process that died instantly).
  // `start_token` is the Start action's: a result for any other start of `unit` (one that
  // was superseded, see startSpec) is ignored.
  void onStartResult(const std::string& unit,
                     std::uint64_t start_token,
                     bool ok,
                     const std::string& error,
                     const UnitOutcome& outcome,
                     bool exited,
                     TimePoint now);
  void onStopResult(const std::string& unit, bool ok, const std::string& error, TimePoint now);
  // The Slice action for `slice` finished. A failure is reported as an event and the
  // supervisor's children start anyway (without the budget): the workers matter more.
  void onSliceResult(const std::string& slice, bool ok, const std::string& error, TimePoint now);
  // The unit went from running to inactive/failed.
  void onUnitExit(const std::string& unit, const UnitOutcome& outcome, TimePoint now);
  // The unit became active without vigild starting it (an operator's `systemctl restart`
  // after it was seen stopped): a Stopped worker is supervised as running again.
  void onUnitActive(const std::string& unit, TimePoint now);
  void onTimer(std::uint64_t timer, TimePoint now);
  // A health verdict about the incarnation of `unit` that came up at `started` (its
  // WorkerStatus::since; a verdict about an earlier incarnation is ignored). Emits a
  // worker-health event. An unhealthy worker whose health.restart is set is stopped and
  // then ends as a failure with reason "unhealthy" and the description
  // "health: <change.detail>": its supervisor's strategy restarts it, counted in the
  // intensity, exactly as if it had crashed (OTP: a child that stops answering is
  // killed and its exit handled by the supervisor).
  void onHealth(const std::string& unit,
                TimePoint started,
                const HealthChange& change,
                TimePoint now);

  // An operator's command. Validates it against the current tree and state, and either
  // refuses it (nothing changes) or starts an operation whose end is reported by
  // takeCompletions(). Operator stops are never failures: the child becomes Stopped, is
  // not restarted and is not counted in any intensity; restarts are not counted either.
  // A command supersedes any unfinished operation on an overlapping target (that one
  // completes, not ok, "superseded by ..."). Operations survive reloads.
  tl::expected<CommandAccepted, CommandError> command(const Command& command, TimePoint now);
  // The result of a Kill, Freeze, Thaw or SetLimits action of `operation` on `unit`.
  void onActionResult(std::uint64_t operation,
                      const std::string& unit,
                      bool ok,
                      const std::string& error,
                      TimePoint now);
  // Every path a command can name, sorted: supervisors, workers, instances.
  std::vector<std::string> targets() const;
  // Whether `target` names something (see Command); the UnknownTarget error, naming the
  // nearest known paths, when not.
  std::optional<CommandError> checkTarget(const std::string& target) const;
  // The configuration in force: the last one loaded, as changed by operators' scale.
  const Config& config() const { return config_; }
  // Paths whose limits an operator changed live (set): a reload puts them back.
  std::set<std::string> overrides() const;
  // Names of the root trees that are failed.
  std::set<std::string> failedTrees() const;

  // What of `unit`'s state must outlive vigild (SupervisionState), or nullopt when all of
  // it is at its default or `unit` is not in the tree. O(log n).
  std::optional<PersistedWorker> persistedWorker(const std::string& unit, TimePoint now) const;
  // The same for the supervisor at `path` ("tree/sub"). O(log n + window).
  std::optional<PersistedSupervisor> persistedSupervisor(const std::string& path,
                                                         TimePoint now) const;
  // Operators' live instance counts (vigilctl scale) in force: worker path -> count.
  const std::map<std::string, unsigned>& scaled() const { return scaled_; }
  // All of it: O(fleet), for a full rebuild after takeChanged() said `all`.
  SupervisionState supervisionState(TimePoint now) const;

  // The spec of the Start action (`unit`, `start_token`): its worker's configuration in
  // force, its instance, and any live limits an operator set. Built on demand
  // (buildUnitSpec is pure): when the start's call is issued, and for a failed start's
  // diagnosis. Fails, saying why, when that start is no longer wanted: a reload removed
  // the unit, or its child was stopped, replaced (a reload that changed its spec: the new
  // incarnation waits for the old one's stop, then starts itself) or started again since.
  // The caller then does not call PID 1 and reports the start as failed, which
  // onStartResult ignores (the token no longer matches).
  util::Result<UnitSpec> startSpec(const std::string& unit, std::uint64_t start_token) const;

  std::vector<Action> takeActions();
  std::vector<Event> takeEvents();
  std::vector<Completion> takeCompletions();

  // True once every tree has either come up, failed, or seen a failure in its first
  // start (or was found mid-restart, see start()): the point at which vigild reports
  // READY=1.
  bool initialStartComplete() const;
  // True after stopAll() once no unit vigil owns is starting, running or stopping.
  bool allStopped() const;
  // Units vigil currently owns (running, starting or stopping).
  std::set<std::string> liveUnits() const;
  // Every worker instance / supervisor, in configuration order (depth first).
  std::vector<WorkerStatus> workers(TimePoint now) const;
  // The worker instances at or below `target` ("" = all; a supervisor path "tree/sub", a
  // worker path "tree/w" or one instance "tree/w@2"), in the same order; empty for an
  // unknown target. O(size of the answer) after the target's lookup.
  std::vector<WorkerStatus> workers(TimePoint now, const std::string& target) const;
  // The same workers in the same order, each handed to `fn` as soon as it is composed: a
  // caller that keeps none of them (the state file's writer, the status model's rebuild)
  // holds one at a time, not a vector of the fleet: massif measured such vectors at 664
  // to 872 bytes per worker (bench/RESULTS.md, runs 7 and 8). Nothing for an unknown
  // target. `fn` must not change the engine.
  void forEachWorker(TimePoint now,
                     const std::string& target,
                     const std::function<void(WorkerStatus&&)>& fn) const;
  std::vector<SupervisorStatus> supervisors(TimePoint now) const;
  // One worker instance by unit name / one supervisor by path ("tree/sub"); nullopt when
  // not in the tree. O(log n + depth).
  std::optional<WorkerStatus> worker(const std::string& unit, TimePoint now) const;
  std::optional<SupervisorStatus> supervisor(const std::string& path, TimePoint now) const;
  // The configuration in force of the worker whose instance `unit` is (null when `unit` is
  // not in the tree). O(log n).
  std::shared_ptr<const WorkerSpec> workerSpec(const std::string& unit) const;

  // What may have changed since the last call, so that a status model can follow the
  // engine in O(changes) rather than O(fleet): worker units and supervisor paths whose
  // status may differ (a superset: an entry may turn out unchanged). `all` after start,
  // reload and stopAll, and whenever the set of units or supervisors itself changed; then
  // the lists are empty and everything must be re-read. Time alone changes only
  // restarts_in_window, which is not reported here.
  struct Changes {
    bool all = false;
    std::set<std::string> units;
    std::set<std::string> supervisors;
    bool empty() const { return !all && units.empty() && supervisors.empty(); }
  };
  Changes takeChanged();

  struct Child;
  struct Sup;
  struct Operation;

 private:
  struct Step;

  std::unique_ptr<Sup> buildSup(std::shared_ptr<const SupervisorSpec> spec,
                                SupervisorPath path,
                                Sup* parent);
  void index(Sup& sup);
  void unindex(Sup& sup);
  void adoptOrReplace(Sup& sup,
                      const std::map<std::string, ExistingUnit>& existing,
                      std::set<std::string>& claimed,
                      TimePoint now);
  // Moves `unit` to the graveyard: it is stopped for good (Stop action unless one is in
  // flight already) and any successor waits for that stop.
  void bury(const std::string& unit, Usec timeout, bool send_stop);

  // Reload: moves the runtime state of `old` (same path in the previous tree, or null)
  // and of its children onto `fresh`, replacing or burying what changed.
  void carryOver(Sup& fresh,
                 Sup* old,
                 std::map<std::string, Child*>& old_workers,
                 std::set<std::string>& claimed,
                 TimePoint now);
  // Reload: after carryOver, starts the children the reload added or replaced (through
  // the plan in flight, or a new one) and updates the slice budget if it changed.
  void resume(Sup& sup, const Limits* old_limits, TimePoint now);
  std::optional<Step> remapStep(const Sup& old, const Sup& fresh, const Step& step) const;

  void startSup(Sup& sup, TimePoint now);
  void stopSup(Sup& sup, int reason, TimePoint now);
  void replan(Sup& sup);  // the plan was replaced: an advance in progress must re-read it
  void advance(Sup& sup, TimePoint now);
  void execute(Sup& sup, Step& step, TimePoint now);
  bool stepComplete(const Sup& sup, const Step& step) const;
  void sliceAction(const Sup& sup);
  void planDone(Sup& sup, TimePoint now);
  std::deque<Step> startSteps(const Sup& sup, std::size_t first, std::size_t last) const;
  std::deque<Step> stopSteps(const Sup& sup, std::size_t first, std::size_t last) const;

  void startChild(Child& child, TimePoint now);
  // `reason` tags the worker-stopping event ("strategy", "shutdown", "operator"); the
  // default picks one from the engine's state.
  // `by` names the operator who asked ("uid 1000"); by default it is the one who stopped an
  // enclosing supervisor, if any (then the reason is "operator" too).
  void stopChild(Child& child, TimePoint now, const char* reason = nullptr, std::string by = "");
  void childEnded(Child& child, const ExitInfo& info, TimePoint now, bool start_failure = false);
  void startFailed(Sup& sup, Child& child, const ExitInfo& info, TimePoint now);
  void failSup(Sup& sup, const std::string& why, TimePoint now);
  void childReady(Child& child, TimePoint now);
  // The child's unit ended by a stop job vigild did not ask for: Stopped, not a failure.
  void stoppedExternally(Child& child, const ExitInfo& info, TimePoint now);
  // The intensity window of `sup` is exceeded by `why`: report it and fail the supervisor.
  void intensityExceeded(Sup& sup, const std::string& why, TimePoint now);
  Usec backoffDelay(Child& child);

  std::uint64_t armTimer(TimePoint deadline);
  void cancelTimer(std::uint64_t& id);
  void cancelTimers(Sup& sup);

  // Operator commands (EngineCommands.cpp).
  struct Resolved;
  tl::expected<Resolved, CommandError> resolve(const std::string& target) const;
  Sup* findSup(const std::string& path) const;
  void progressOperations(TimePoint now);
  bool progress(Operation& op, TimePoint now);  // true when finished
  void finish(Operation& op, bool ok, std::string message);
  void restartChild(Child& c, TimePoint now, const std::string& by);
  void startSupByOperator(Sup& sup, TimePoint now);
  void rebuild(const Config& config, TimePoint now);  // reload without a new configuration
  void emitCommand(const Command& command, const std::string& message, TimePoint now);

  // Persisted state (EngineRestore.cpp).
  void restore(const SupervisionState& restored, TimePoint now);
  void restoreSup(Sup& sup, const SupervisionState& restored, TimePoint now);

  Event event(
      EventType type, const Sup& sup, std::string reason, std::string message, TimePoint now) const;
  Event event(EventType type,
              const Child& child,
              std::string reason,
              std::string message,
              TimePoint now) const;
  void emit(Event e);
  void act(Action a);  // queues an action and notes what it changes
  // Every state change goes through these, so that takeChanged() cannot miss one.
  void setState(Child& c, ChildState state);
  void setState(Sup& s, SupervisorState state);
  void touch(const Child& c);
  void touch(const Sup& s);
  void touchUnit(const std::string& unit);
  // Records the end of `c` with what was decided about it (its exit history).
  void recordExit(Child& c, const ExitInfo& info, std::string decision, TimePoint now);
  // "2 of 5 restarts allowed in 30s": the supervisor's intensity window, for messages.
  static std::string windowText(const Sup& sup, TimePoint now);
  // Emits a restart-scheduled or strategy event with its delay and window count.
  void emitWithDelay(Event e, Usec delay, Sup& sup, TimePoint now);

  std::mt19937_64 rng_;
  std::vector<std::unique_ptr<Sup>> roots_;
  std::map<std::string, Child*> units_;                      // live unit name -> child
  std::map<std::string, Sup*> sups_;                         // path "tree/sub" -> supervisor
  std::map<std::string, std::unique_ptr<Child>> graveyard_;  // units being stopped for good
  std::map<std::uint64_t, std::pair<Child*, Sup*>> timers_;  // timer id -> target
  std::uint64_t next_timer_ = 1;
  bool stopping_all_ = false;               // stopAll() was called: no more starts
  bool progressing_ = false;                // progressOperations() is on the stack
  bool progress_again_ = false;             // an input arrived while it was
  bool rebuilding_ = false;                 // reload() runs for a command (scale), not a new file
  Config config_;                           // the configuration in force (as changed by scale)
  std::map<std::string, unsigned> scaled_;  // worker path -> an operator's instance count
  std::map<std::uint64_t, std::unique_ptr<Operation>> operations_;
  std::uint64_t next_operation_ = 1;
  std::uint64_t next_start_token_ = 1;
  std::vector<Completion> completions_;
  std::vector<Action> actions_;
  std::vector<Event> events_;
  Changes changed_;
};

}  // namespace vigil::core
