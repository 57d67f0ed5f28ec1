#pragma once
// The engine's internal state, shared by its translation units (Engine.cpp: trees, plans,
// policy; EngineCommands.cpp: operator commands). Not part of the engine's interface.

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/Engine.h"

namespace vigil::core {

namespace engine_detail {
constexpr int kStopDirected = 1;  // the parent or a strategy asked for the stop
constexpr int kStopFailure = 2;   // the supervisor exceeded its intensity
constexpr int kStopOperator = 3;  // an operator stopped it: it stays stopped
// Margin on top of a worker's stop timeout before vigil stops waiting for the stop job:
// systemd sends SIGKILL at the timeout, and the job still has to finish after that.
constexpr Usec kStopJobMargin{std::chrono::seconds(60)};
// Stop-job wait for a leftover unit whose spec (and so stop timeout) is unknown.
constexpr Usec kUnknownStopTimeout{std::chrono::minutes(5)};
}  // namespace engine_detail

struct Engine::Step {
  enum class Kind { Start, Stop, Delay, Slice };
  Kind kind = Kind::Start;
  std::size_t first = 0;  // child index range, inclusive: one group (all instances of a
  std::size_t last = 0;   // worker, or one nested supervisor)
  Usec delay{0};
  bool begun = false;  // Delay and Slice act once; Start and Stop are re-run (level-triggered)
  bool fired = false;  // Delay: the timer fired; Slice: the slice result came
};

// What a worker child keeps of its unit between starts. The whole UnitSpec (argv,
// environment, journal fields, ...) is rebuilt from the WorkerSpec when a start is sent
// (buildUnitSpec is pure and cheap next to the D-Bus call): kept per child it was about
// 1 KB per worker, half of vigild's heap at 1000 workers (massif, bench/RESULTS.md).
struct ChildUnit {
  std::string name;         // vigil-web-api@2.service
  std::string fingerprint;  // of the configured spec (UnitSpec::fingerprint)
  Limits limits;            // the configured limits, or an operator's (limits_overridden)
};

struct Engine::Child {
  Sup* owner = nullptr;
  std::size_t index = 0;
  std::shared_ptr<const WorkerSpec> worker;  // a worker child ...
  unsigned instance = 0;
  ChildUnit unit;            // workers only
  std::unique_ptr<Sup> sup;  // ... or a nested supervisor
  ChildState state = ChildState::Idle;
  TimePoint started_at{0};
  bool was_up = false;  // the current incarnation reached Running
  unsigned failures = 0;
  unsigned restarts = 0;
  std::uint64_t timer = 0;
  TimePoint timer_deadline{0};
  // Name of a previous incarnation still being stopped; the start is deferred until the
  // stop finishes so that two incarnations of one unit name never overlap.
  std::string blocked_on;
  bool deferred = false;
  // The Start action this child waits for (0: none): startSpec and onStartResult answer
  // only that one, so a start queued for a child that was stopped, replaced by a reload
  // or restarted since is neither built from its successor's spec nor taken as its result.
  std::uint64_t start_token = 0;
  std::optional<ExitInfo> last_exit;
  // The last kExitHistory, oldest first. A vector, not a deque: an empty std::deque
  // allocates its map and a 512-byte block (libstdc++), which was most of a Child's heap
  // (massif, bench/RESULTS.md); a vector of at most five allocates on the first exit.
  std::vector<ExitRecord> exits;
  bool pending_start = false;  // reload: added or replaced, to be started by resume()
  bool operator_stop = false;  // the stop in flight is an operator's: end in Stopped
  std::string stopped_by;      // the operator whose stop (or restart) is in flight
  bool frozen = false;         // suspended by an operator
  TimePoint frozen_since{0};
  bool limits_overridden = false;  // unit.limits were changed live by an operator
  std::string down_by;             // Stopped: who stopped it ("uid 0 (root)", "systemctl stop")
  // Health of the running incarnation (HealthTracker's verdicts, via onHealth).
  HealthState health = HealthState::Unknown;
  std::string health_detail;
  TimePoint health_since{0};
  // The stop in flight is a health restart: when it is done the child ends with this.
  std::optional<ExitInfo> health_exit;

  RestartPolicy restart() const { return worker ? worker->restart : RestartPolicy::Permanent; }
  BackoffSpec backoff() const { return worker ? worker->backoff : BackoffSpec{}; }
  bool live() const {
    return state == ChildState::Starting || state == ChildState::Running ||
           state == ChildState::Stopping;
  }
};

struct Engine::Sup {
  std::shared_ptr<const SupervisorSpec> spec;
  SupervisorPath path;
  Sup* parent = nullptr;
  Child* self = nullptr;  // this supervisor as a child of its parent; null for a root
  std::vector<std::unique_ptr<Child>> children;
  SupervisorState state = SupervisorState::Idle;
  IntensityWindow window;
  std::deque<Step> plan;
  std::optional<Step> current;
  unsigned plan_generation = 0;  // bumped whenever the plan is replaced
  bool advancing = false;        // advance() is on the stack for this supervisor
  bool readvance = false;        // ... and was asked to run again
  std::uint64_t delay_timer = 0;
  int stop_reason = 0;
  std::string failure;
  bool first_pass_done = false;
  // The current start began with no live child (initial start, or restart by the
  // parent): a child that cannot be started then makes the whole start fail (OTP).
  bool fresh_start = false;
  bool failed_starting = false;  // the failure being escalated happened during its start
  bool frozen = false;           // its slice was frozen by an operator
  TimePoint frozen_since{0};
  std::string stopped_by;                 // stop_reason kStopOperator: who asked
  std::optional<Limits> budget_override;  // the slice budget as changed by an operator
  // The Delay step in flight (delay_timer armed) ends at this time.
  TimePoint delay_deadline{0};
  // Restored (Engine::start): the next startSup keeps Finished children down, and waits
  // until resume_at (a strategy restart's delay that outlived the previous vigild).
  bool keep_finished = false;
  std::optional<TimePoint> resume_at;

  const Limits& budget() const { return budget_override ? *budget_override : spec->limits; }

  std::string pathString() const {
    std::string out;
    for (const auto& p : path) out += (out.empty() ? "" : "/") + p;
    return out;
  }
  Sup& root() {
    Sup* s = this;
    while (s->parent) s = s->parent;
    return *s;
  }
};

namespace engine_detail {
// Every worker child at or below `sup`, by unit name.
void collectWorkersBelow(Engine::Sup& sup, std::map<std::string, Engine::Child*>& out);
// The health a fresh (or thawed) incarnation starts with, as HealthTracker starts it.
inline HealthState initialHealth(const Engine::Child& c) {
  if (!c.worker || !c.worker->health.any()) return HealthState::Unknown;
  return c.worker->health.probe == HealthSpec::Probe::None ? HealthState::Healthy
                                                           : HealthState::Starting;
}
}  // namespace engine_detail

struct Engine::Operation {
  std::uint64_t id = 0;
  Command command;
  // What it acts on, in order: worker instances by unit name, supervisors by path.
  struct Item {
    bool supervisor = false;
    std::string key;
  };
  std::vector<Item> items;
  std::size_t next = 0;  // RollingRestart: the item being restarted
  enum class Phase { Stopping, Starting, Results } phase = Phase::Stopping;
  unsigned outstanding = 0;  // Kill/Freeze/Thaw/SetLimits results still to come
  std::vector<std::string> errors;
  unsigned scale_to = 0;  // Scale: the instance count once the surplus has stopped
};

struct Engine::Resolved {
  Sup* sup = nullptr;           // a supervisor, or
  std::vector<Child*> workers;  // a worker's instances (or one of them)
  std::string path;             // as the target was written
};

}  // namespace vigil::core
