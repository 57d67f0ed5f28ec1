#include "systemd/SdBusSystemdClient.h"

#include <string.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include <fmt/format.h>
#include <systemd/sd-bus.h>

#include "core/UnitProperties.h"
#include "systemd/BusImpl.h"

namespace vigil::systemd {

namespace {

constexpr const char* kUnitPathPrefix = "/org/freedesktop/systemd1/unit";
constexpr const char* kSliceIface = "org.freedesktop.systemd1.Slice";
// Upper bound on JobRemoved signals remembered while their StartUnit reply is in flight.
constexpr std::size_t kMaxEarlyJobs = 4096;
// Job-creating operations (start, stop, slice) outstanding in PID 1 at once, from the call
// until the job's JobRemoved; more wait in vigild, in order. Measured in the VM (systemd
// 252, dbus-daemon 1.14, TCG): 800 StartTransientUnit calls let through at once queued
// 800 jobs whose signals put dbus-daemon more than 25 s behind; PID 1 then dropped off the
// system bus (its own calls to the bus timed out, cf. systemd issue #32381), failing every
// call in flight and losing the JobRemoved signals. With the window, the next call goes
// out only when a JobRemoved has come back through dbus-daemon, so vigild's pace follows
// what the bus and PID 1 manage. 64 jobs keep PID 1's run queue busy (it runs jobs one at
// a time), so a mass start is not slower for it.
constexpr std::size_t kJobWindow = 64;

// Errors that say nothing about whether PID 1 did what was asked: the reply was lost (PID 1
// left the bus, or the call timed out), not refused.
bool outcomeUnknown(const sd_bus_error* err) {
  return sd_bus_error_has_name(err, SD_BUS_ERROR_NO_REPLY) ||
         sd_bus_error_has_name(err, SD_BUS_ERROR_TIMEOUT) ||
         sd_bus_error_has_name(err, "org.freedesktop.DBus.Error.TimedOut") ||
         sd_bus_error_has_name(err, SD_BUS_ERROR_DISCONNECTED);
}

bool isOurUnit(std::string_view name) {
  return name.starts_with(core::kUnitPrefix) && name.ends_with(".service");
}

// Every append below returns a negative errno on failure; CHECK keeps the builders flat.
#define CHECK(expr)        \
  do {                     \
    int r_ = (expr);       \
    if (r_ < 0) return r_; \
  } while (0)

// One property as (sv), in the D-Bus type its value holds.
int appendProperty(sd_bus_message* m, const core::UnitProperty& p) {
  CHECK(sd_bus_message_open_container(m, 'r', "sv"));
  CHECK(sd_bus_message_append(m, "s", p.name.c_str()));
  const int r = std::visit(
      [m](const auto& v) -> int {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return sd_bus_message_append(m, "v", "s", v.c_str());
        } else if constexpr (std::is_same_v<T, bool>) {
          return sd_bus_message_append(m, "v", "b", v ? 1 : 0);
        } else if constexpr (std::is_same_v<T, std::uint64_t>) {
          return sd_bus_message_append(m, "v", "t", v);
        } else if constexpr (std::is_same_v<T, std::int32_t>) {
          return sd_bus_message_append(m, "v", "i", v);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          CHECK(sd_bus_message_open_container(m, 'v', "as"));
          CHECK(sd_bus_message_open_container(m, 'a', "s"));
          for (const auto& s : v) CHECK(sd_bus_message_append(m, "s", s.c_str()));
          CHECK(sd_bus_message_close_container(m));
          return sd_bus_message_close_container(m);
        } else if constexpr (std::is_same_v<T, core::ExecCommand>) {
          CHECK(sd_bus_message_open_container(m, 'v', "a(sasas)"));
          CHECK(sd_bus_message_open_container(m, 'a', "(sasas)"));
          CHECK(sd_bus_message_open_container(m, 'r', "sasas"));
          CHECK(sd_bus_message_append(m, "s", v.path.c_str()));
          CHECK(sd_bus_message_open_container(m, 'a', "s"));
          for (const auto& a : v.argv) CHECK(sd_bus_message_append(m, "s", a.c_str()));
          CHECK(sd_bus_message_close_container(m));
          CHECK(sd_bus_message_open_container(m, 'a', "s"));
          for (const auto& f : v.flags) CHECK(sd_bus_message_append(m, "s", f.c_str()));
          CHECK(sd_bus_message_close_container(m));
          CHECK(sd_bus_message_close_container(m));
          CHECK(sd_bus_message_close_container(m));
          return sd_bus_message_close_container(m);
        } else {
          static_assert(std::is_same_v<T, core::JournalFields>);
          CHECK(sd_bus_message_open_container(m, 'v', "aay"));
          CHECK(sd_bus_message_open_container(m, 'a', "ay"));
          for (const auto& [k, val] : v.fields) {
            const std::string field = k + "=" + val;
            CHECK(sd_bus_message_append_array(m, 'y', field.data(), field.size()));
          }
          CHECK(sd_bus_message_close_container(m));
          return sd_bus_message_close_container(m);
        }
      },
      p.value);
  if (r < 0) return r;
  return sd_bus_message_close_container(m);
}

int appendProperties(sd_bus_message* m, const core::UnitProperties& props) {
  CHECK(sd_bus_message_open_container(m, 'a', "(sv)"));
  for (const auto& p : props) CHECK(appendProperty(m, p));
  return sd_bus_message_close_container(m);
}

// StartTransientUnit(name, "fail", properties, no auxiliary units).
int buildTransientMessage(sd_bus* bus,
                          const std::string& name,
                          const core::UnitProperties& props,
                          sd_bus_message** out) {
  sd_bus_message* m = nullptr;
  CHECK(sd_bus_message_new_method_call(bus, &m, kDest, kPath, kManager, "StartTransientUnit"));
  MsgPtr owner(m);
  CHECK(sd_bus_message_append(m, "ss", name.c_str(), "fail"));
  CHECK(appendProperties(m, props));
  CHECK(sd_bus_message_append(m, "a(sa(sv))", 0));
  *out = owner.release();
  return 0;
}

// SetUnitProperties(name, runtime=true, properties).
int buildSetPropertiesMessage(sd_bus* bus,
                              const std::string& name,
                              const core::UnitProperties& props,
                              sd_bus_message** out) {
  sd_bus_message* m = nullptr;
  CHECK(sd_bus_message_new_method_call(bus, &m, kDest, kPath, kManager, "SetUnitProperties"));
  MsgPtr owner(m);
  CHECK(sd_bus_message_append(m, "sb", name.c_str(), 1));
  CHECK(appendProperties(m, props));
  *out = owner.release();
  return 0;
}

int buildStartMessage(sd_bus* bus, const core::UnitSpec& u, sd_bus_message** out) {
  return buildTransientMessage(bus, u.name, core::serviceProperties(u), out);
}

int buildSliceMessage(sd_bus* bus,
                      const std::string& name,
                      const std::string& description,
                      const core::Limits& limits,
                      bool update,
                      sd_bus_message** out) {
  const auto props = core::sliceProperties(description, limits, !update);
  return update ? buildSetPropertiesMessage(bus, name, props, out)
                : buildTransientMessage(bus, name, props, out);
}

#undef CHECK

// A slice budget's cgroup limits as PID 1 reports them on org.freedesktop.systemd1.Slice
// (all type t): what sliceProperties sends, an unset limit as UINT64_MAX, which is also
// what PID 1 reports for a limit never set (CGROUP_LIMIT_MAX, USEC_INFINITY,
// CGROUP_WEIGHT_INVALID, and for TasksMax, which a slice does not get from
// DefaultTasksMax=). The *Accounting switches are left out: a worker's own switches make
// PID 1 enable the controllers along its slices anyway.
using SliceLimits = std::map<std::string, std::uint64_t>;

SliceLimits sliceLimits(const core::Limits& budget) {
  SliceLimits out;
  for (const auto& p : core::limitProperties(budget, core::UnsetLimits::Infinity, false))
    if (const auto* v = std::get_if<std::uint64_t>(&p.value)) out[p.name] = *v;
  return out;
}

bool unlimited(const SliceLimits& l) {
  return std::all_of(l.begin(), l.end(), [](const auto& kv) { return kv.second == UINT64_MAX; });
}

// Reads the limits named in `wanted` from a GetAll reply of the Slice interface into `out`;
// other properties are skipped. Returns a negative errno on an unreadable reply.
int readSliceLimits(sd_bus_message* m, const SliceLimits& wanted, SliceLimits& out) {
  int r = sd_bus_message_enter_container(m, 'a', "{sv}");
  if (r < 0) return r;
  while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
    const char* key = nullptr;
    if ((r = sd_bus_message_read(m, "s", &key)) < 0) return r;
    std::uint64_t v = 0;
    if (wanted.count(key) && sd_bus_message_read(m, "v", "t", &v) >= 0) {
      out[key] = v;
    } else if ((r = sd_bus_message_skip(m, "v")) < 0) {
      return r;
    }
    if ((r = sd_bus_message_exit_container(m)) < 0) return r;
  }
  return r < 0 ? r : sd_bus_message_exit_container(m);
}

}  // namespace

struct SdBusSystemdClient::Impl {
  explicit Impl(Bus::Impl& bus_io) : io(bus_io) {}
  Bus::Impl& io;
  Bus* bus = nullptr;
  std::size_t reconnect_hook = 0;
  std::vector<SlotPtr> matches;
  std::function<void(const UnitState&)> exit_observer;
  std::function<void(const UnitState&)> active_observer;
  std::map<std::string, UnitState> units;
  // Worker units vigild created, with the digest of the properties they were created with
  // (core::propertiesDigest); an entry is dropped when anything else changes the unit
  // (SetUnitProperties) or it is reset. A failed unit whose digest equals its next start's
  // is restarted in place.
  std::map<std::string, std::uint64_t> created_with;
  // The supervisors' slices (core::sliceName) vigild has seen: listed at start (a previous
  // vigild's), or named by ensureSlice or setUnitLimits. See ensureSlice.
  struct Slice {
    // The budget PID 1 holds as far as vigild knows: the one it set (a creation or a whole
    // update; none for a slice left to PID 1 to load implicitly), or nullopt when others
    // may have set limits (a previous vigild; an operator's partial `set`; a failed call).
    std::optional<core::Limits> held;
    unsigned generation = 0;  // bumped by setUnitLimits: a call begun before it learns nothing
    bool busy = false;        // an ensureSlice call is in flight: later ones wait for it
    std::deque<std::function<void()>> waiting;  // those later calls, in order
  };
  std::map<std::string, Slice> slices;

  // An ensureSlice call for `name` begun at `generation` ended: PID 1 holds `applied` (if
  // known), the next waiting call for the slice runs, then `release`.
  void sliceDone(const std::string& name,
                 unsigned generation,
                 const std::optional<core::Limits>& applied,
                 const JobOutcome& o,
                 const JobDone& release) {
    Slice& sl = slices[name];  // std::map: the reference outlives insertions
    sl.held = generation == sl.generation ? applied : std::nullopt;
    sl.busy = false;
    while (!sl.busy && !sl.waiting.empty()) {
      auto next = std::move(sl.waiting.front());
      sl.waiting.pop_front();
      next();
    }
    release(o);
  }

  void resetFailed(const std::string& name) {
    created_with.erase(name);
    auto it = units.find(name);
    if (it == units.end() || it->second.active_state != "failed") return;
    call(
        [this, name](sd_bus_message** m) {
          int r = sd_bus_message_new_method_call(io.raw(), m, kDest, kPath, kManager,
                                                 "ResetFailedUnit");
          return r < 0 ? r : sd_bus_message_append(*m, "s", name.c_str());
        },
        [](sd_bus_message*, const sd_bus_error*) {});  // NoSuchUnit: already unloaded
  }

  struct Job {
    std::string unit;
    std::string kind;  // "start" | "stop"
    JobDone done;
    SourcePtr timer;
    core::Usec timeout{0};
  };
  std::map<std::string, std::unique_ptr<Job>> jobs;  // job object path -> waiter
  std::map<std::string, std::string> early;          // job path -> result, reply not yet seen

  using ReplyFn = Bus::Impl::ReplyFn;
  using BuildFn = Bus::Impl::BuildFn;
  void call(BuildFn build, ReplyFn reply) { io.call(std::move(build), std::move(reply)); }
  void post(std::function<void()> fn) { io.post(std::move(fn)); }

  // ---- the job window (kJobWindow) ----

  std::size_t jobs_admitted = 0;
  // The start of the object path of every unit named core::kUnitPrefix* ("vigil-" encoded:
  // ".../unit/vigil_2d"), from sd_bus_path_encode in create().
  std::string our_path_prefix;
  std::deque<std::function<void()>> jobs_waiting;

  // Runs issue(done') now if fewer than kJobWindow job operations are outstanding, else
  // when one ends; done' frees the slot, then calls done. Every operation must call done'
  // exactly once (all paths below do: reply error, JobRemoved, job given up on).
  void withJobSlot(JobDone done, std::function<void(JobDone)> issue) {
    JobDone release = [this, done = std::move(done)](const JobOutcome& o) {
      jobs_admitted--;
      done(o);
      pumpJobs();
    };
    jobs_waiting.push_back(
        [issue = std::move(issue), release = std::move(release)]() { issue(release); });
    pumpJobs();
  }

  void pumpJobs() {
    while (jobs_admitted < kJobWindow && !jobs_waiting.empty()) {
      auto next = std::move(jobs_waiting.front());
      jobs_waiting.pop_front();
      jobs_admitted++;
      next();
    }
  }

  // ---- what became of a unit when a reply or a signal was lost ----

  // Reads the unit's ActiveState and pending job (one GetAll on its Unit interface; PID 1
  // answers for any name, an unknown unit being "inactive") and settles a `kind` ("start" or
  // "stop") operation whose outcome vigild did not learn: a job still pending is watched;
  // a start is done if the unit is activating/active/reloading, a stop if it is inactive or
  // failed; otherwise the operation failed with `error` (the lost call's) and the state.
  void resolve(const std::string& unit,
               const std::string& kind,
               core::Usec timeout,
               const std::string& error,
               JobDone done) {
    char* encoded = nullptr;
    if (sd_bus_path_encode(kUnitPathPrefix, unit.c_str(), &encoded) < 0) {
      JobOutcome o;
      o.unit.name = unit;
      o.error = error;
      post([done, o]() { done(o); });
      return;
    }
    std::string object = encoded;
    free(encoded);
    call(
        [this, object](sd_bus_message** m) {
          int r = sd_bus_message_new_method_call(io.raw(), m, kDest, object.c_str(),
                                                 "org.freedesktop.DBus.Properties", "GetAll");
          return r < 0 ? r : sd_bus_message_append(*m, "s", kUnitIface);
        },
        [this, unit, kind, timeout, error, done](sd_bus_message* reply, const sd_bus_error* err) {
          JobOutcome o;
          o.unit.name = unit;
          std::string active, job_path;
          std::uint32_t job_id = 0;
          if (err || readUnitFacts(reply, active, job_id, job_path) < 0) {
            o.error = fmt::format("{} (and its state could not be read: {})", error,
                                  err ? errorText(-EIO, err) : "unreadable reply");
            done(o);
            return;
          }
          if (job_id != 0) {
            watchJob(job_path, unit, kind, timeout, done);
            return;
          }
          UnitState& st = units[unit];
          st.name = unit;
          if (!active.empty()) st.active_state = active;
          o.unit = st;
          o.ok = kind == "start" ? st.running() && active != "deactivating"
                                 : active == "inactive" || active == "failed";
          if (o.ok && kind == "start" && st.control_group.empty()) fetchControlGroup(unit);
          if (!o.ok) o.error = fmt::format("{} (the unit is {})", error, active);
          done(o);
        });
  }

  // ActiveState and Job (id, path) from a GetAll reply of org.freedesktop.systemd1.Unit.
  static int readUnitFacts(sd_bus_message* m,
                           std::string& active,
                           std::uint32_t& job_id,
                           std::string& job_path) {
    int r = sd_bus_message_enter_container(m, 'a', "{sv}");
    if (r < 0) return r;
    while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
      const char* key = nullptr;
      if ((r = sd_bus_message_read(m, "s", &key)) < 0) return r;
      if (std::strcmp(key, "ActiveState") == 0) {
        const char* v = nullptr;
        r = sd_bus_message_read(m, "v", "s", &v);
        if (r >= 0 && v) active = v;
      } else if (std::strcmp(key, "Job") == 0) {
        const char* p = nullptr;
        r = sd_bus_message_read(m, "v", "(uo)", &job_id, &p);
        if (r >= 0 && p) job_path = p;
      } else {
        r = sd_bus_message_skip(m, "v");
      }
      if (r < 0) return r;
      if ((r = sd_bus_message_exit_container(m)) < 0) return r;
    }
    if (r < 0) return r;
    return sd_bus_message_exit_container(m);
  }

  // ---- jobs ----

  // ControlGroup is not sent in PropertiesChanged, so read it once the unit is up.
  void fetchControlGroup(const std::string& unit) {
    char* path = nullptr;
    if (sd_bus_path_encode(kUnitPathPrefix, unit.c_str(), &path) < 0) return;
    std::string object = path;
    free(path);
    call(
        [this, object](sd_bus_message** m) {
          int r = sd_bus_message_new_method_call(io.raw(), m, kDest, object.c_str(),
                                                 "org.freedesktop.DBus.Properties", "Get");
          return r < 0 ? r : sd_bus_message_append(*m, "ss", kServiceIface, "ControlGroup");
        },
        [this, unit](sd_bus_message* reply, const sd_bus_error* err) {
          const char* cg = nullptr;
          if (err || sd_bus_message_read(reply, "v", "s", &cg) < 0 || !cg) return;
          auto it = units.find(unit);
          if (it != units.end()) it->second.control_group = cg;
        });
  }

  void completeJob(std::unique_ptr<Job> job, const std::string& result) {
    JobOutcome o;
    o.ok = result == "done";
    auto it = units.find(job->unit);
    if (o.ok && job->kind == "start" && (it == units.end() || it->second.control_group.empty()))
      fetchControlGroup(job->unit);  // sends a call; does not touch `units`
    if (it != units.end()) o.unit = it->second;
    o.unit.name = job->unit;
    // Only a stop job replaces a start job: vigild never does that to a unit it is
    // starting, so someone else stopped it.
    if (job->kind == "start" && result == "canceled") o.unit.outcome.stop_job = true;
    if (!o.ok) {
      o.error = fmt::format("{} job {}", job->kind, result);
      if (!o.unit.outcome.result.empty() && o.unit.outcome.result != "success")
        o.error += fmt::format(" (unit result '{}')", o.unit.outcome.result);
    }
    job->timer.reset();
    job->done(o);
  }

  void watchJob(const std::string& path,
                const std::string& unit,
                const std::string& kind,
                core::Usec timeout,
                JobDone done) {
    auto early_it = early.find(path);
    auto job = std::make_unique<Job>(Job{unit, kind, std::move(done), nullptr, timeout});
    if (early_it != early.end()) {
      const std::string result = early_it->second;
      early.erase(early_it);
      completeJob(std::move(job), result);
      return;
    }
    armJobTimer(path, *job);
    jobs[path] = std::move(job);
  }

  void armJobTimer(const std::string& path, Job& job) {
    sd_event_source* src = nullptr;
    int r = sd_event_add_time_relative(
        io.event, &src, CLOCK_MONOTONIC, static_cast<std::uint64_t>(job.timeout.count()), 0,
        [](sd_event_source*, std::uint64_t, void* ud) -> int {
          auto* k = static_cast<std::pair<Impl*, std::string>*>(ud);
          k->first->onJobTimeout(k->second);
          return 0;
        },
        new std::pair<Impl*, std::string>(this, path));
    if (r >= 0) {
      sd_event_source_set_destroy_callback(
          src, [](void* ud) { delete static_cast<std::pair<Impl*, std::string>*>(ud); });
      job.timer.reset(src);
    }
  }

  // The common tail of every job-returning call (StartTransientUnit, StopUnit): an error
  // reply fails the operation; otherwise wait for the returned job.
  void awaitJob(sd_bus_message* reply,
                const sd_bus_error* err,
                const char* method,
                const std::string& unit,
                const char* kind,
                core::Usec timeout,
                JobDone done) {
    const char* job = nullptr;
    if (err || sd_bus_message_read(reply, "o", &job) < 0) {
      JobOutcome o;
      o.unit.name = unit;
      o.error = err ? fmt::format("{} failed: {}", method, errorText(-EIO, err))
                    : fmt::format("{} returned an unreadable reply", method);
      done(o);
      return;
    }
    watchJob(job, unit, kind, timeout, std::move(done));
  }

  // The job timer is a safety net for a JobRemoved signal that never comes, not the start
  // or stop timeout: PID 1 enforces TimeoutStartUSec/TimeoutStopUSec itself once a job
  // runs, and a job may first wait in PID 1's queue for long (measured in the VM: 800 start
  // jobs queued at once took 110 s to run, longer than start_timeout + margin, and giving
  // up on them stopped and restarted hundreds of healthy workers). So when the timer fires,
  // ask PID 1 whether the job still exists: if it does, it is waiting its turn or running
  // under PID 1's own timeout, and the timer is armed again; only a job that is gone
  // (JobRemoved lost) is given up on. The JobRemoved of a job that ended meanwhile reaches
  // us before the reply to this call (same connection, sent first), so it is not missed.
  void onJobTimeout(const std::string& path) {
    auto it = jobs.find(path);
    if (it == jobs.end()) return;
    // Drop the timer source later: we are inside its callback.
    sd_event_source* src = it->second->timer.release();
    if (src) {
      sd_event_source_set_enabled(src, SD_EVENT_OFF);
      post([src]() { sd_event_source_unref(src); });
    }
    checkJob(path);
  }

  // Asks PID 1 whether the job at `path` still exists: if so, its deadline is armed again;
  // if not, the job is given up on (giveUpOnJob settles it from the unit's state).
  void checkJob(const std::string& path) {
    call(
        [this, path](sd_bus_message** m) {
          int r = sd_bus_message_new_method_call(io.raw(), m, kDest, path.c_str(),
                                                 "org.freedesktop.DBus.Properties", "Get");
          return r < 0 ? r
                       : sd_bus_message_append(*m, "ss", "org.freedesktop.systemd1.Job", "State");
        },
        [this, path](sd_bus_message*, const sd_bus_error* err) {
          auto again = jobs.find(path);
          if (again == jobs.end()) return;  // JobRemoved came first
          // PID 1 answers UnknownObject for a job path that no longer exists. Any other
          // error (a call timeout while PID 1 is busy) proves nothing: ask again later.
          const bool gone =
              err && (sd_bus_error_has_name(err, SD_BUS_ERROR_UNKNOWN_OBJECT) ||
                      sd_bus_error_has_name(err, "org.freedesktop.systemd1.NoSuchJob"));
          if (!gone) {
            armJobTimer(path, *again->second);
            return;
          }
          giveUpOnJob(path);
        });
  }

  // The job is gone from PID 1 and its JobRemoved never reached us (PID 1 was off the bus):
  // what the unit is now says how the job ended.
  void giveUpOnJob(const std::string& path) {
    auto it = jobs.find(path);
    if (it == jobs.end()) return;
    std::unique_ptr<Job> job = std::move(it->second);
    jobs.erase(it);
    job->timer.reset();
    resolve(job->unit, job->kind, job->timeout, fmt::format("the {} job ended unseen", job->kind),
            std::move(job->done));
  }

  // After PID 1 came back on the bus (a daemon-reexec, or it was dropped): every signal
  // sent meanwhile is lost. Jobs are checked now instead of at their deadline, and units
  // that vigild believes running are compared with PID 1's list; one that is not running
  // any more is reported as an exit, with its Service properties read first.
  void resync() {
    std::vector<std::string> paths;
    for (const auto& [path, job] : jobs) paths.push_back(path);
    for (const auto& path : paths) checkJob(path);
    call(
        [this](sd_bus_message** m) {
          int r = sd_bus_message_new_method_call(io.raw(), m, kDest, kPath, kManager,
                                                 "ListUnitsByPatterns");
          if (r < 0) return r;
          r = sd_bus_message_append(*m, "as", 0);
          return r < 0 ? r : sd_bus_message_append(*m, "as", 1, "vigil-*.service");
        },
        [this](sd_bus_message* reply, const sd_bus_error* err) {
          if (err) return;
          std::map<std::string, std::string> now;  // unit -> ActiveState
          int r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
          while (r > 0) {
            const char *name, *desc, *load, *active, *sub, *following, *path, *jtype, *jpath;
            std::uint32_t jid;
            r = sd_bus_message_read(reply, "(ssssssouso)", &name, &desc, &load, &active, &sub,
                                    &following, &path, &jid, &jtype, &jpath);
            if (r > 0) now[name] = active;
          }
          if (r < 0) return;
          for (auto& [name, st] : units) {
            if (!st.running()) continue;
            auto it = now.find(name);
            const std::string active = it == now.end() ? "inactive" : it->second;
            if (active == "active" || active == "activating" || active == "reloading") continue;
            readExitThenReport(name, active);
          }
        });
  }

  void readExitThenReport(const std::string& unit, const std::string& active) {
    char* encoded = nullptr;
    if (sd_bus_path_encode(kUnitPathPrefix, unit.c_str(), &encoded) < 0) return;
    std::string object = encoded;
    free(encoded);
    call(
        [this, object](sd_bus_message** m) {
          int r = sd_bus_message_new_method_call(io.raw(), m, kDest, object.c_str(),
                                                 "org.freedesktop.DBus.Properties", "GetAll");
          return r < 0 ? r : sd_bus_message_append(*m, "s", kServiceIface);
        },
        [this, unit, active](sd_bus_message* reply, const sd_bus_error* err) {
          auto it = units.find(unit);
          if (it == units.end() || !it->second.running()) return;  // a signal came first
          UnitState& st = it->second;
          bool ignored = false;
          if (!err) readProperties(reply, kServiceIface, st, ignored);  // a collected unit has none
          st.active_state = active;
          if (exit_observer) exit_observer(st);
        });
  }

  static int onJobRemoved(sd_bus_message* m, void* ud, sd_bus_error*) {
    auto* self = static_cast<Impl*>(ud);
    std::uint32_t id = 0;
    const char *path = nullptr, *unit = nullptr, *result = nullptr;
    if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0) return 0;
    auto it = self->jobs.find(path);
    if (it == self->jobs.end()) {
      // Slices' start jobs are not waited for (ensureSlice), so only services' count.
      if (isOurUnit(unit)) {
        if (self->early.size() >= kMaxEarlyJobs) self->early.clear();
        self->early[path] = result;
      }
      return 0;
    }
    std::unique_ptr<Job> job = std::move(it->second);
    self->jobs.erase(it);
    self->completeJob(std::move(job), result);
    return 0;
  }

  // ---- unit state ----

  // Reads what vigild keeps of a properties dictionary (a{sv}) of `iface` into `st`: of
  // org.freedesktop.systemd1.Unit ActiveState and SubState, of ...Service MainPID, Result,
  // ExecMainCode and ExecMainStatus (ControlGroup comes from the slice and the name, see
  // core::controlGroupOf, or fetchControlGroup; it is not in signals). systemd sends every
  // property flagged emits-change in each PropertiesChanged (sd_bus_emit_properties_changed
  // with no names), so all of them are always there; reading stops at the last one wanted and
  // the rest of the message is left unread. Measured (callgrind, bench/run --profile): parsing
  // the whole dictionary, mostly skipping variants, was 36 % of vigild's instructions while
  // it started 50 ordered children. An interface without wanted keys is not read at all.
  static int readProperties(sd_bus_message* m,
                            std::string_view iface,
                            UnitState& st,
                            bool& active_changed) {
    int wanted = 0;
    if (iface == kUnitIface) {
      wanted = 2;
    } else if (iface == kServiceIface) {
      wanted = 4;
    } else {
      return 0;
    }
    int r = sd_bus_message_enter_container(m, 'a', "{sv}");
    if (r < 0) return r;
    while (wanted > 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
      const char* key = nullptr;
      if ((r = sd_bus_message_read(m, "s", &key)) < 0) return r;
      const std::string_view k = key;
      auto readStr = [&](std::string& out) -> int {
        const char* v = nullptr;
        int rr = sd_bus_message_read(m, "v", "s", &v);
        if (rr >= 0) out = v;
        return rr;
      };
      if (k == "ActiveState") {
        r = readStr(st.active_state);
        active_changed = true;
        wanted--;
      } else if (k == "SubState") {
        r = readStr(st.sub_state);
        wanted--;
      } else if (k == "Result") {
        r = readStr(st.outcome.result);
        wanted--;
      } else if (k == "ExecMainCode") {
        std::int32_t v = 0;
        r = sd_bus_message_read(m, "v", "i", &v);
        st.outcome.exec_main_code = v;
        wanted--;
      } else if (k == "ExecMainStatus") {
        std::int32_t v = 0;
        r = sd_bus_message_read(m, "v", "i", &v);
        st.outcome.exec_main_status = v;
        wanted--;
      } else if (k == "MainPID") {
        std::uint32_t v = 0;
        r = sd_bus_message_read(m, "v", "u", &v);
        st.main_pid = v;
        wanted--;
      } else {
        r = sd_bus_message_skip(m, "v");
      }
      if (r < 0) return r;
      if ((r = sd_bus_message_exit_container(m)) < 0) return r;
    }
    return r < 0 ? r : 0;
  }

  // systemd sends PropertiesChanged for the type-specific interface (Service: Result,
  // ExecMain*) before the one for org.freedesktop.systemd1.Unit (ActiveState), so when
  // ActiveState turns inactive/failed the exit details are already cached.
  static int onPropertiesChanged(sd_bus_message* m, void* ud, sd_bus_error*) {
    auto* self = static_cast<Impl*>(ud);
    // The match covers every unit's object; most signals are other units', told apart by
    // their path before decoding it.
    const char* path = sd_bus_message_get_path(m);
    if (!path || !std::string_view(path).starts_with(self->our_path_prefix)) return 0;
    char* decoded = nullptr;
    if (sd_bus_path_decode(path, kUnitPathPrefix, &decoded) <= 0) return 0;
    std::string name = decoded;
    free(decoded);
    if (!isOurUnit(name)) return 0;
    const char* iface = nullptr;
    if (sd_bus_message_read(m, "s", &iface) < 0) return 0;
    UnitState& st = self->units[name];
    st.name = name;
    const bool was_running = st.running();
    const std::string previous = st.active_state;
    bool active_changed = false;
    if (readProperties(m, iface, st, active_changed) < 0) return 0;
    if (!active_changed || st.active_state == previous) return 0;
    if (st.active_state == "activating" ||
        (st.active_state == "active" && previous != "reloading")) {
      st.outcome.stop_job = false;  // a new run
    }
    if (st.active_state == "deactivating" && isStopJob(st)) st.outcome.stop_job = true;
    if (was_running && !st.running() && self->exit_observer) self->exit_observer(st);
    if (st.active_state == "active") {
      if (st.control_group.empty()) self->fetchControlGroup(name);
      if (self->active_observer) self->active_observer(st);
    }
    return 0;
  }

  // The unit entered deactivating because of a stop job, not because its main process
  // ended or systemd gave up on it. Measured on systemd 252 (the Service properties are
  // sent before the Unit ones, so these are current here): a stop job -> SubState
  // stop-sigterm with Result=success and the main process still alive (MainPID set,
  // ExecMainCode 0); a main process that exited leaving others behind -> stop-sigterm with
  // MainPID 0 and ExecMainCode set; RuntimeMaxSec -> Result=timeout; watchdog ->
  // stop-watchdog with Result=watchdog.
  static bool isStopJob(const UnitState& st) {
    return (st.sub_state == "stop-sigterm" || st.sub_state == "stop") &&
           st.outcome.result == "success" && st.main_pid != 0 && st.outcome.exec_main_code == 0;
  }

  static int onNameOwnerChanged(sd_bus_message* m, void* ud, sd_bus_error*) {
    auto* self = static_cast<Impl*>(ud);
    const char *name = nullptr, *old_owner = nullptr, *new_owner = nullptr;
    if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0) return 0;
    // PID 1 re-executed (daemon-reexec) and came back under a new unique name: signals
    // are only sent to subscribed clients, so subscribe again.
    if (new_owner && *new_owner) {
      self->subscribeAsync();
      self->resync();
    }
    return 0;
  }

  // The signal matches on the current connection: JobRemoved, PropertiesChanged below
  // /org/freedesktop/systemd1/unit, NameOwnerChanged of org.freedesktop.systemd1.
  int installMatches() {
    sd_bus* raw = io.raw();
    sd_bus_slot* slot = nullptr;
    int r = sd_bus_match_signal(raw, &slot, kDest, kPath, kManager, "JobRemoved",
                                &Impl::onJobRemoved, this);
    if (r < 0) return r;
    matches.emplace_back(slot);
    slot = nullptr;
    r = sd_bus_add_match(raw, &slot,
                         "type='signal',sender='org.freedesktop.systemd1',"
                         "interface='org.freedesktop.DBus.Properties',"
                         "member='PropertiesChanged',"
                         "path_namespace='/org/freedesktop/systemd1/unit'",
                         &Impl::onPropertiesChanged, this);
    if (r < 0) return r;
    matches.emplace_back(slot);
    slot = nullptr;
    r = sd_bus_add_match(raw, &slot,
                         "type='signal',sender='org.freedesktop.DBus',"
                         "path='/org/freedesktop/DBus',interface='org.freedesktop.DBus',"
                         "member='NameOwnerChanged',arg0='org.freedesktop.systemd1'",
                         &Impl::onNameOwnerChanged, this);
    if (r < 0) return r;
    matches.emplace_back(slot);
    return 0;
  }

  void subscribeAsync() {
    call(
        [this](sd_bus_message** m) {
          return sd_bus_message_new_method_call(io.raw(), m, kDest, kPath, kManager, "Subscribe");
        },
        [](sd_bus_message*, const sd_bus_error*) {});
  }
};

SdBusSystemdClient::SdBusSystemdClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SdBusSystemdClient::~SdBusSystemdClient() {
  // Waiters are dropped without being called: the daemon is shutting down.
  impl_->jobs.clear();
  impl_->matches.clear();
  if (impl_->bus) impl_->bus->dropReconnectHook(impl_->reconnect_hook);
}

util::Result<std::unique_ptr<SdBusSystemdClient>> SdBusSystemdClient::create(Bus& bus) {
  auto impl = std::make_unique<Impl>(bus.impl());
  {
    char* encoded = nullptr;
    if (sd_bus_path_encode(kUnitPathPrefix, core::kUnitPrefix, &encoded) < 0 || !encoded)
      return util::fail("encoding the unit object path prefix", ENOMEM);
    impl->our_path_prefix = encoded;
    free(encoded);
  }
  if (int r = impl->installMatches(); r < 0) return util::sysFail(-r, "adding the signal matches");
  // A new connection (dbus-daemon restarted): the matches again, Subscribe again, and
  // every signal missed meanwhile made up for as after PID 1 re-executed. The calls wait
  // until PID 1 is on the new bus (Bus::KeepConnected::await_name).
  Impl* raw_impl = impl.get();
  impl->bus = &bus;
  impl->reconnect_hook = bus.onReconnect([raw_impl] {
    raw_impl->matches.clear();
    if (int r = raw_impl->installMatches(); r < 0)
      std::fprintf(stderr,
                   "<3>vigild: cannot watch systemd's signals on the new bus connection: %s\n",
                   strerror(-r));
    raw_impl->subscribeAsync();
    raw_impl->resync();
  });
  sd_bus* raw = bus.impl().raw();
  int r = 0;
  BusError err;
  sd_bus_message* reply = nullptr;
  r = sd_bus_call_method(raw, kDest, kPath, kManager, "Subscribe", &err.e, &reply, "");
  MsgPtr reply_owner(reply);
  if (r < 0) return util::fail("calling Subscribe on systemd: " + errorText(r, &err.e), -r);
  return std::unique_ptr<SdBusSystemdClient>(new SdBusSystemdClient(std::move(impl)));
}

void SdBusSystemdClient::ping(core::Usec timeout, std::function<void(util::Result<void>)> done) {
  Impl* impl = impl_.get();
  auto fail = [impl, done](std::string why) {
    impl->io.post([done, why] { done(util::fail(why)); });
  };
  if (impl->io.reconnecting || sd_bus_is_open(impl->io.raw()) <= 0)
    return fail("no connection to the system bus");
  sd_bus_message* raw = nullptr;
  int r = sd_bus_message_new_method_call(impl->io.raw(), &raw, kDest, kPath,
                                         "org.freedesktop.DBus.Peer", "Ping");
  MsgPtr m(raw);
  if (r < 0) return fail(fmt::format("cannot build a Ping: {}", strerror(-r)));
  auto* heap = new std::function<void(util::Result<void>)>(std::move(done));
  sd_bus_slot* slot = nullptr;
  r = sd_bus_call_async(
      impl->io.raw(), &slot, m.get(),
      [](sd_bus_message* reply, void* ud, sd_bus_error*) -> int {
        auto& f = *static_cast<std::function<void(util::Result<void>)>*>(ud);
        if (sd_bus_message_is_method_error(reply, nullptr)) {
          f(util::fail("PID 1 did not answer: " + errorText(0, sd_bus_message_get_error(reply))));
        } else {
          f({});
        }
        return 0;
      },
      heap, static_cast<std::uint64_t>(timeout.count()));
  if (r < 0) {
    auto f = std::move(*heap);
    delete heap;
    impl->io.post([f, r] { f(util::fail(fmt::format("cannot send a Ping: {}", strerror(-r)))); });
    return;
  }
  sd_bus_slot_set_destroy_callback(
      slot, [](void* ud) { delete static_cast<std::function<void(util::Result<void>)>*>(ud); });
  sd_bus_slot_set_floating(slot, 1);
  sd_bus_slot_unref(slot);
}

void SdBusSystemdClient::startService(const std::string& unit_name,
                                      SpecSource spec_source,
                                      core::Usec timeout,
                                      JobDone done) {
  Impl* impl = impl_.get();
  // What waits for a slot is the name and the source: the spec is built once the slot is
  // free, so a mass start queues a few bytes per unit (bench/RESULTS.md, run 9).
  impl->withJobSlot(std::move(done), [impl, unit_name, spec_source = std::move(spec_source),
                                      timeout](JobDone release) {
    util::Result<core::UnitSpec> spec = spec_source();
    if (spec && spec->name != unit_name)
      spec = util::fail(fmt::format("the spec built for {} names {}", unit_name, spec->name));
    if (!spec) {
      JobOutcome o;
      o.unit.name = unit_name;
      o.error = "start withdrawn: " + spec.error().message();
      impl->post([release, o]() { release(o); });  // never inside startService
      return;
    }
    struct Op {
      core::UnitSpec spec;
      core::Usec timeout;
      JobDone done;
      std::uint64_t digest = 0;
      bool retried = false;
    };
    auto op = std::make_shared<Op>(Op{std::move(*spec), timeout, std::move(release)});
    op->digest = core::propertiesDigest(core::serviceProperties(op->spec));
    auto attempt = std::make_shared<std::function<void()>>();
    *attempt = [impl, op, attempt]() {
      impl->call(
          [impl, op](sd_bus_message** m) { return buildStartMessage(impl->io.raw(), op->spec, m); },
          [impl, op, attempt](sd_bus_message* reply, const sd_bus_error* err) {
            if (!err) {
              impl->created_with[op->spec.name] = op->digest;
              // Known from the slice and the name: no Get of ControlGroup per start.
              UnitState& st = impl->units[op->spec.name];
              st.name = op->spec.name;
              st.control_group = core::controlGroupOf(op->spec.slice, op->spec.name);
            }
            const bool exists =
                err && sd_bus_error_has_name(err, "org.freedesktop.systemd1.UnitExists");
            if (exists && !op->retried) {
              // A failed or inactive leftover keeps the name taken until reset.
              op->retried = true;
              const std::string name = op->spec.name;
              impl->call(
                  [impl, name](sd_bus_message** m) {
                    int r = sd_bus_message_new_method_call(impl->io.raw(), m, kDest, kPath,
                                                           kManager, "ResetFailedUnit");
                    return r < 0 ? r : sd_bus_message_append(*m, "s", name.c_str());
                  },
                  [attempt](sd_bus_message*, const sd_bus_error*) { (*attempt)(); });
              return;
            }
            *attempt = nullptr;  // break the self-reference
            if (exists || (err && outcomeUnknown(err))) {
              // Still there after the reset (a start whose reply was lost made it), or the
              // reply itself was lost: the unit's state says whether it started.
              impl->resolve(op->spec.name, "start", op->timeout,
                            fmt::format("StartTransientUnit failed: {}", errorText(-EIO, err)),
                            op->done);
              return;
            }
            impl->awaitJob(reply, err, "StartTransientUnit", op->spec.name, "start", op->timeout,
                           op->done);
          });
    };
    const std::string& name = op->spec.name;
    auto unit = impl->units.find(name);
    auto created = impl->created_with.find(name);
    if (unit == impl->units.end() || unit->second.active_state != "failed" ||
        created == impl->created_with.end() || created->second != op->digest) {
      (*attempt)();
      return;
    }
    // Restart in place: the failed unit is still loaded with these very properties.
    impl->call(
        [impl, name](sd_bus_message** m) {
          int r = sd_bus_message_new_method_call(impl->io.raw(), m, kDest, kPath, kManager,
                                                 "StartUnit");
          return r < 0 ? r : sd_bus_message_append(*m, "ss", name.c_str(), "replace");
        },
        [impl, op, attempt](sd_bus_message* reply, const sd_bus_error* err) {
          if (err && !outcomeUnknown(err)) {
            // Unloaded meanwhile (reset, or systemctl reset-failed): create it anew.
            impl->created_with.erase(op->spec.name);
            (*attempt)();
            return;
          }
          *attempt = nullptr;
          if (err) {
            impl->resolve(op->spec.name, "start", op->timeout,
                          fmt::format("StartUnit failed: {}", errorText(-EIO, err)), op->done);
            return;
          }
          impl->awaitJob(reply, nullptr, "StartUnit", op->spec.name, "start", op->timeout,
                         op->done);
        });
  });
}

void SdBusSystemdClient::ensureSlice(const std::string& name,
                                     const std::string& description,
                                     const core::Limits& limits,
                                     core::Usec timeout,
                                     JobDone done) {
  Impl* impl = impl_.get();
  const auto seen = impl->slices.find(name);
  if (seen != impl->slices.end() && seen->second.busy) {
    // One call per slice at a time, in order: what PID 1 ends up holding is the last
    // budget asked for, and `held` stays true.
    seen->second.waiting.push_back([this, name, description, limits, timeout, done]() {
      ensureSlice(name, description, limits, timeout, done);
    });
    return;
  }
  const SliceLimits wanted = sliceLimits(limits);
  const auto noCall = [impl, name, limits, done]() {
    impl->slices[name].held = limits;
    impl->post([name, done]() {
      JobOutcome o;
      o.unit.name = name;
      o.ok = true;
      done(o);
    });
  };
  if (seen == impl->slices.end() && unlimited(wanted)) {
    // No budget and no slice vigild knows of: nothing to create. The first worker's
    // Slice= makes PID 1 load it implicitly, with no limits (systemd.slice(5)); creating a
    // transient slice cost PID 1 more than the worker itself (bench/RESULTS.md, trees).
    noCall();
    return;
  }
  if (seen != impl->slices.end() && seen->second.held &&
      sliceLimits(*seen->second.held) == wanted) {
    noCall();  // PID 1 holds this budget already
    return;
  }
  const bool create = seen == impl->slices.end();
  Impl::Slice& sl = impl->slices[name];
  const bool read_first = !create && !sl.held;
  sl.busy = true;
  const unsigned generation = sl.generation;
  impl->withJobSlot(std::move(done), [impl, name, description, limits, wanted, timeout, create,
                                      read_first, generation](JobDone release) {
    const auto finish = [impl, name, limits, generation, release](const char* method,
                                                                  const sd_bus_error* e) {
      JobOutcome o;
      o.unit.name = name;
      o.ok = e == nullptr;
      if (e) o.error = fmt::format("{} failed: {}", method, errorText(-EIO, e));
      // After a failure, what PID 1 holds is not known: read it at the next ensureSlice.
      impl->sliceDone(name, generation, o.ok ? std::optional<core::Limits>(limits) : std::nullopt,
                      o, release);
    };
    // SetUnitProperties(runtime) with the whole budget. PID 1 writes a drop-in file per
    // property under /run/systemd, so it is sent only when a limit differs.
    const auto update = [impl, name, description, limits, finish]() {
      impl->call(
          [impl, name, description, limits](sd_bus_message** m) {
            return buildSliceMessage(impl->io.raw(), name, description, limits, true, m);
          },
          [finish](sd_bus_message*, const sd_bus_error* e) { finish("SetUnitProperties", e); });
    };
    // GetAll of the slice's limits (PID 1 loads the unit to answer: a slice never given
    // limits reports none), then the update if one differs.
    const auto readThenUpdate = [impl, name, wanted, finish, update]() {
      char* encoded = nullptr;
      if (sd_bus_path_encode(kUnitPathPrefix, name.c_str(), &encoded) < 0) {
        update();
        return;
      }
      const std::string object = encoded;
      free(encoded);
      impl->call(
          [impl, object](sd_bus_message** m) {
            int r = sd_bus_message_new_method_call(impl->io.raw(), m, kDest, object.c_str(),
                                                   "org.freedesktop.DBus.Properties", "GetAll");
            return r < 0 ? r : sd_bus_message_append(*m, "s", kSliceIface);
          },
          [wanted, finish, update](sd_bus_message* reply, const sd_bus_error* e) {
            SliceLimits held;
            if (!e && readSliceLimits(reply, wanted, held) >= 0 && held == wanted) {
              finish("GetAll", nullptr);
              return;
            }
            update();
          });
    };
    if (read_first) {
      readThenUpdate();
      return;
    }
    if (!create) {
      update();
      return;
    }
    impl->call(
        [impl, name, description, limits](sd_bus_message** m) {
          return buildSliceMessage(impl->io.raw(), name, description, limits, false, m);
        },
        [impl, name, timeout, generation, finish, readThenUpdate, release](
            sd_bus_message*, const sd_bus_error* err) {
          if (err && sd_bus_error_has_name(err, "org.freedesktop.systemd1.UnitExists")) {
            // Already there (e.g. created by a previous vigild): update it in place.
            readThenUpdate();
            return;
          }
          if (err && outcomeUnknown(err)) {
            impl->resolve(name, "start", timeout,
                          fmt::format("StartTransientUnit failed: {}", errorText(-EIO, err)),
                          [impl, name, generation, release](const JobOutcome& o) {
                            impl->sliceDone(name, generation, std::nullopt, o, release);
                          });
            return;
          }
          // Done at the reply: the slice exists with its limits, its start job is queued.
          // Workers' calls that follow are handled after this one (PID 1 takes one
          // connection's calls in order) and their start jobs wait for the slice's (Slice=
          // implies Requires= and After=), so nothing waits for the slice's JobRemoved.
          finish("StartTransientUnit", err);
        });
  });
}

void SdBusSystemdClient::stopUnit(const std::string& name, core::Usec timeout, JobDone done) {
  Impl* impl = impl_.get();
  impl->withJobSlot(std::move(done), [impl, name, timeout](JobDone release) {
    impl->call(
        [impl, name](sd_bus_message** m) {
          int r =
              sd_bus_message_new_method_call(impl->io.raw(), m, kDest, kPath, kManager, "StopUnit");
          return r < 0 ? r : sd_bus_message_append(*m, "ss", name.c_str(), "ignore-dependencies");
        },
        [impl, name, timeout, release](sd_bus_message* reply, const sd_bus_error* err) {
          if (err && sd_bus_error_has_name(err, "org.freedesktop.systemd1.NoSuchUnit")) {
            JobOutcome o;
            o.unit.name = name;
            o.ok = true;  // already gone (e.g. collected after it died)
            release(o);
            return;
          }
          // A failed unit stays failed through a stop job: reset it, it is not coming back.
          JobDone finish = [impl, name, release](const JobOutcome& o) {
            impl->resetFailed(name);
            release(o);
          };
          if (err && outcomeUnknown(err)) {
            impl->resolve(name, "stop", timeout,
                          fmt::format("StopUnit failed: {}", errorText(-EIO, err)), finish);
            return;
          }
          impl->awaitJob(reply, err, "StopUnit", name, "stop", timeout, finish);
        });
  });
}

void SdBusSystemdClient::listManagedUnits(
    std::function<void(util::Result<std::vector<core::ExistingUnit>>)> done) {
  Impl* impl = impl_.get();
  impl->call(
      [impl](sd_bus_message** m) {
        int r = sd_bus_message_new_method_call(impl->io.raw(), m, kDest, kPath, kManager,
                                               "ListUnitsByPatterns");
        if (r < 0) return r;
        r = sd_bus_message_append(*m, "as", 0);
        // The slices too: a previous vigild's may carry a budget (ensureSlice).
        return r < 0 ? r : sd_bus_message_append(*m, "as", 2, "vigil-*.service", "vigil-*.slice");
      },
      [impl, done](sd_bus_message* reply, const sd_bus_error* err) {
        if (err) {
          done(util::fail(fmt::format("ListUnitsByPatterns failed: {}", errorText(-EIO, err))));
          return;
        }
        struct Collect {
          std::vector<core::ExistingUnit> units;
          std::size_t waiting = 0;
          std::function<void(util::Result<std::vector<core::ExistingUnit>>)> done;
        };
        auto acc = std::make_shared<Collect>();
        acc->done = done;
        std::vector<std::pair<std::size_t, std::string>> to_read;  // index, object path
        int r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
        while (r > 0) {
          const char *name, *desc, *load, *active, *sub, *following, *path, *jtype, *jpath;
          std::uint32_t jid;
          r = sd_bus_message_read(reply, "(ssssssouso)", &name, &desc, &load, &active, &sub,
                                  &following, &path, &jid, &jtype, &jpath);
          if (r <= 0) break;
          const std::string_view n = name;
          if (n.starts_with(core::kUnitPrefix) && n.ends_with(".slice")) {
            impl->slices.try_emplace(name);  // budget unknown
            continue;
          }
          if (!isOurUnit(name)) continue;
          UnitState& st = impl->units[name];
          st.name = name;
          st.active_state = active;
          st.sub_state = sub;
          core::ExistingUnit u;
          u.name = name;
          u.stopping = std::string(active) == "deactivating";
          u.active = st.running() && !u.stopping;
          acc->units.push_back(u);
          if (u.active) {
            to_read.emplace_back(acc->units.size() - 1, path);
            impl->fetchControlGroup(name);
          }
        }
        if (r < 0) {
          done(util::fail("ListUnitsByPatterns returned an unreadable reply"));
          return;
        }
        if (to_read.empty()) {
          done(std::move(acc->units));
          return;
        }
        acc->waiting = to_read.size();
        for (const auto& [idx, path] : to_read) {
          impl->call(
              [impl, path = path](sd_bus_message** m) {
                int rr = sd_bus_message_new_method_call(impl->io.raw(), m, kDest, path.c_str(),
                                                        "org.freedesktop.DBus.Properties", "Get");
                return rr < 0 ? rr
                              : sd_bus_message_append(*m, "ss", kServiceIface, "LogExtraFields");
              },
              [acc, idx = idx](sd_bus_message* rep, const sd_bus_error* e) {
                if (!e && sd_bus_message_enter_container(rep, 'v', "aay") > 0 &&
                    sd_bus_message_enter_container(rep, 'a', "ay") > 0) {
                  const void* data = nullptr;
                  std::size_t size = 0;
                  while (sd_bus_message_read_array(rep, 'y', &data, &size) > 0) {
                    std::string_view field(static_cast<const char*>(data), size);
                    constexpr std::string_view kKey = "VIGIL_SPEC=";
                    if (field.substr(0, kKey.size()) == kKey)
                      acc->units[idx].fingerprint = std::string(field.substr(kKey.size()));
                  }
                }
                if (--acc->waiting == 0) acc->done(std::move(acc->units));
              });
        }
      });
}

void SdBusSystemdClient::setExitObserver(std::function<void(const UnitState&)> observer) {
  impl_->exit_observer = std::move(observer);
}

void SdBusSystemdClient::setActiveObserver(std::function<void(const UnitState&)> observer) {
  impl_->active_observer = std::move(observer);
}

namespace {
// The outcome of a call that returns no job: done, or why not.
void simpleOutcome(const std::string& name,
                   const char* method,
                   const sd_bus_error* err,
                   const SystemdClient::JobDone& done) {
  JobOutcome o;
  o.unit.name = name;
  o.ok = err == nullptr;
  if (err) o.error = fmt::format("{} failed: {}", method, errorText(-EIO, err));
  done(o);
}
}  // namespace

void SdBusSystemdClient::killUnit(const std::string& name,
                                  bool main_only,
                                  int signal,
                                  JobDone done) {
  Impl* impl = impl_.get();
  impl->call(
      [impl, name, main_only, signal](sd_bus_message** m) {
        int r =
            sd_bus_message_new_method_call(impl->io.raw(), m, kDest, kPath, kManager, "KillUnit");
        return r < 0 ? r
                     : sd_bus_message_append(*m, "ssi", name.c_str(), main_only ? "main" : "all",
                                             signal);
      },
      [name, done](sd_bus_message*, const sd_bus_error* err) {
        simpleOutcome(name, "KillUnit", err, done);
      });
}

void SdBusSystemdClient::freezeUnit(const std::string& name, bool freeze, JobDone done) {
  Impl* impl = impl_.get();
  const char* method = freeze ? "FreezeUnit" : "ThawUnit";
  impl->call(
      [impl, name, method](sd_bus_message** m) {
        int r = sd_bus_message_new_method_call(impl->io.raw(), m, kDest, kPath, kManager, method);
        return r < 0 ? r : sd_bus_message_append(*m, "s", name.c_str());
      },
      [name, method, done](sd_bus_message*, const sd_bus_error* err) {
        simpleOutcome(name, method, err, done);
      });
}

void SdBusSystemdClient::setUnitLimits(const std::string& name,
                                       const core::Limits& limits,
                                       JobDone done) {
  Impl* impl = impl_.get();
  const auto props = core::limitProperties(limits, core::UnsetLimits::Omit, false);
  impl->created_with.erase(name);  // it differs from its creation now
  // A slice's budget is no longer the one vigild set, nor the one a call in flight will
  // have set: ensureSlice reads it next time.
  if (std::string_view(name).ends_with(".slice")) {
    Impl::Slice& sl = impl->slices[name];
    sl.held.reset();
    sl.generation++;
  }
  impl->call(
      [impl, name, props](sd_bus_message** m) {
        return buildSetPropertiesMessage(impl->io.raw(), name, props, m);
      },
      [name, done](sd_bus_message*, const sd_bus_error* err) {
        simpleOutcome(name, "SetUnitProperties", err, done);
      });
}

void SdBusSystemdClient::queryStackStop(std::function<void(util::Result<bool>)> done) {
  Impl* impl = impl_.get();
  impl->call(
      [impl](sd_bus_message** m) {
        return sd_bus_message_new_method_call(impl->io.raw(), m, kDest, kPath, kManager,
                                              "ListJobs");
      },
      [done](sd_bus_message* reply, const sd_bus_error* err) {
        if (err) {
          done(util::fail(fmt::format("ListJobs failed: {}", errorText(-EIO, err))));
          return;
        }
        bool stopping = false;
        int r = sd_bus_message_enter_container(reply, 'a', "(usssoo)");
        while (r > 0) {
          std::uint32_t id = 0;
          const char *unit, *type, *state, *job_path, *unit_path;
          r = sd_bus_message_read(reply, "(usssoo)", &id, &unit, &type, &state, &job_path,
                                  &unit_path);
          if (r <= 0) break;
          if (std::string_view(unit) == core::kWorkersTarget && std::string_view(type) == "stop")
            stopping = true;
        }
        if (r < 0) {
          done(util::fail("ListJobs returned an unreadable reply"));
          return;
        }
        done(stopping);
      });
}

std::optional<UnitState> SdBusSystemdClient::unitState(const std::string& name) const {
  auto it = impl_->units.find(name);
  if (it == impl_->units.end()) return std::nullopt;
  return it->second;
}

void SdBusSystemdClient::resetFailed(const std::string& name) {
  impl_->resetFailed(name);
}

std::vector<std::string> SdBusSystemdClient::failedUnits() const {
  std::vector<std::string> out;
  for (const auto& [name, st] : impl_->units)
    if (st.active_state == "failed") out.push_back(name);
  return out;
}

std::size_t SdBusSystemdClient::pendingOperations() const {
  return impl_->jobs.size() + impl_->io.pendingCalls();
}

}  // namespace vigil::systemd
