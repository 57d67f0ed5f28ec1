#pragma once
// Runs health probes (vigil.yaml(5), HEALTH) on vigild's sd-event loop without ever
// blocking it:
//   http  libcurl's multi interface driven by the loop (CurlMulti: one io source per
//         socket curl asks about, one timer), as systemd-importd's curl glue does; each
//         probe is a fresh connection (no reuse: a probe must see accept() work), no
//         redirects followed, no proxy from the environment.
//   tcp   a non-blocking connect(2), its completion an EPOLLOUT io source.
//   exec  fork + execve in a new session (its own process group), tracked by a pidfd
//         (pidfd_open(2), EPOLLIN when it exits, reaped with waitid(P_PIDFD)); on timeout
//         the whole group is killed (SIGKILL) and the probe fails.
// Every probe has a timer at `timeout` from its start: when it fires the probe fails
// with "timeout after <timeout>" and is torn down; a slow probe is a timeout, never a
// stall. At most kMaxInFlight probes run at once; the rest wait in order.
//
// Results are handed to `done` on the loop, never from inside run() or cancel().

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <systemd/sd-event.h>

#include "core/Spec.h"
#include "util/Result.h"

namespace vigil::health {

class CurlMulti;

// A probe's outcome. `detail` is what it saw, short: "http 200", "http 503",
// "http 200, body lacks \"ok\"", "connect refused", "timeout after 2s", "exit 1",
// "exit 2: <first line of its output>", "killed by SIGSEGV".
struct ProbeResult {
  bool ok = false;
  std::string detail;
};
using ProbeDone = std::function<void(ProbeResult)>;

class Prober {
 public:
  // Probes running at once; more wait. 32 keeps vigild's file descriptors (a probe holds
  // at most three) and forks bounded while a fleet of checks every 10s (1000 workers: 100
  // a second, each a few ms) never queues.
  static constexpr unsigned kMaxInFlight = 32;
  // The first bytes of an http body searched for health.http.body, and of an exec
  // probe's output kept for its detail.
  static constexpr std::size_t kMaxBody = 64 * 1024;
  static constexpr std::size_t kMaxOutput = 4096;

  // Errors: curl cannot be initialised.
  static util::Result<std::unique_ptr<Prober>> create(sd_event* event);
  ~Prober();
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  // Queues one probe of `spec` (probe must not be None). `done` is called exactly once,
  // later, on the loop, unless cancel(id) comes first. Returns the probe's id (> 0).
  std::uint64_t run(const core::HealthSpec& spec, ProbeDone done);
  // Abandons a probe: `done` is not called; a running exec probe's group is killed.
  void cancel(std::uint64_t id);

  std::size_t running() const { return running_; }
  std::size_t queued() const { return queue_.size(); }
  std::uint64_t started() const { return started_; }
  std::uint64_t timeouts() const { return timeouts_; }

  struct Probe;

 private:
  explicit Prober(sd_event* event);
  void startNext();
  void begin(Probe& p);
  void beginHttp(Probe& p);
  void beginTcp(Probe& p);
  void beginExec(Probe& p);
  // Ends `p` with `result` (done is deferred to the loop) and tears it down.
  void finish(Probe& p, ProbeResult result);
  void teardown(Probe& p);
  void onCurlDone(void* easy, int code);
  static int onTimeout(sd_event_source* s, std::uint64_t usec, void* ud);
  static int onTcpIo(sd_event_source* s, int fd, std::uint32_t revents, void* ud);
  static int onPidfd(sd_event_source* s, int fd, std::uint32_t revents, void* ud);
  static int onOutput(sd_event_source* s, int fd, std::uint32_t revents, void* ud);
  static int onDeliver(sd_event_source* s, void* ud);
  // An exec probe's process that outlived its probe (timeout, cancel): reaped when it exits.
  void reapLater(int pidfd, int pid);
  static int onOrphan(sd_event_source* s, int fd, std::uint32_t revents, void* ud);

  sd_event* event_;
  std::unique_ptr<CurlMulti> curl_;
  std::map<std::uint64_t, std::unique_ptr<Probe>> probes_;
  std::deque<std::uint64_t> queue_;
  // Results waiting for the deferred source to hand them to `done`.
  struct Ready {
    std::uint64_t id;
    ProbeDone done;
    ProbeResult result;
  };
  std::deque<Ready> results_;
  sd_event_source* deliver_ = nullptr;
  std::map<int, sd_event_source*> orphans_;  // pidfd -> its io source
  std::uint64_t next_id_ = 1;
  std::size_t running_ = 0;
  std::uint64_t started_ = 0;
  std::uint64_t timeouts_ = 0;
};

}  // namespace vigil::health
