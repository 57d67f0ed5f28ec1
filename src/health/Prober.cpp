#include "health/Prober.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <curl/curl.h>
#include <fmt/format.h>

#include "core/Duration.h"
#include "health/CurlMulti.h"
#include "util/BuildInfo.h"

#ifndef P_PIDFD
#define P_PIDFD 3  // include/uapi/linux/wait.h; glibc 2.36 has the value but not always the name
#endif

namespace vigil::health {

using Kind = core::HealthSpec::Probe;

struct Prober::Probe {
  Prober* owner = nullptr;
  std::uint64_t id = 0;
  core::HealthSpec spec;
  ProbeDone done;
  bool running = false;
  sd_event_source* timer = nullptr;
  // http
  CURL* easy = nullptr;
  std::string body;
  bool body_full = false;  // kMaxBody reached: the transfer was cut short on purpose
  char error[CURL_ERROR_SIZE] = {};
  // tcp
  int fd = -1;
  sd_event_source* io = nullptr;
  // exec
  int pid = 0;
  int pidfd = -1;
  int out = -1;
  sd_event_source* pid_source = nullptr;
  sd_event_source* out_source = nullptr;
  std::string output;
};

namespace {

std::string connectError(int err) {
  switch (err) {
    case ECONNREFUSED:
      return "connect refused";
    case ETIMEDOUT:
      return "connect timed out";
    case EHOSTUNREACH:
      return "host unreachable";
    case ENETUNREACH:
      return "network unreachable";
    default:
      return fmt::format("connect: {}", std::strerror(err));
  }
}

std::size_t onBody(char* data, std::size_t size, std::size_t n, void* ud) {
  auto* p = static_cast<Prober::Probe*>(ud);
  const std::size_t len = size * n;
  const std::size_t room = Prober::kMaxBody - p->body.size();
  if (p->spec.body.empty()) {
    // Nothing to search: the status is known, a streaming endpoint is not read to the end.
    p->body_full = true;
    return 0;
  }
  p->body.append(data, std::min(len, room));
  if (len > room) {
    p->body_full = true;
    return 0;  // enough: curl ends the transfer with CURLE_WRITE_ERROR
  }
  return len;
}

// The first line of a probe's output, trimmed, at most 200 bytes.
std::string firstLine(const std::string& out) {
  std::size_t b = out.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  std::size_t e = out.find('\n', b);
  std::string line = out.substr(b, e == std::string::npos ? std::string::npos : e - b);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.size() > 200) line = line.substr(0, 200) + "...";
  return line;
}

// The environment of an exec probe: fixed, not vigild's (which may hold the D-Bus or
// journal settings of the service).
const char* const kExecEnv[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                "LANG=C.UTF-8", nullptr};

}  // namespace

util::Result<std::unique_ptr<Prober>> Prober::create(sd_event* event) {
  static const CURLcode global = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (global != CURLE_OK)
    return util::fail(fmt::format("curl_global_init: {}", curl_easy_strerror(global)));
  std::unique_ptr<Prober> p(new Prober(event));
  Prober* self = p.get();
  auto multi =
      CurlMulti::create(event, [self](void* easy, int code) { self->onCurlDone(easy, code); });
  if (!multi) return util::fail(multi.error().message());
  p->curl_ = std::move(*multi);
  const int r = sd_event_add_defer(event, &p->deliver_, &Prober::onDeliver, self);
  if (r < 0)
    return util::fail(fmt::format("cannot add the probe results source: {}", std::strerror(-r)));
  sd_event_source_set_enabled(p->deliver_, SD_EVENT_OFF);
  sd_event_source_set_description(p->deliver_, "health-results");
  return p;
}

Prober::Prober(sd_event* event) : event_(event) {}

Prober::~Prober() {
  for (auto& [id, p] : probes_) {
    p->done = nullptr;
    teardown(*p);
  }
  probes_.clear();
  for (auto& [pidfd, source] : orphans_) {
    sd_event_source_disable_unref(source);
    siginfo_t si{};
    // Killed already (SIGKILL): the wait is short.
    waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &si, WEXITED);
    close(pidfd);
  }
  if (deliver_) sd_event_source_disable_unref(deliver_);
}

std::uint64_t Prober::run(const core::HealthSpec& spec, ProbeDone done) {
  auto p = std::make_unique<Probe>();
  p->owner = this;
  p->id = next_id_++;
  p->spec = spec;
  p->done = std::move(done);
  const std::uint64_t id = p->id;
  probes_.emplace(id, std::move(p));
  queue_.push_back(id);
  startNext();
  return id;
}

void Prober::cancel(std::uint64_t id) {
  // Finished already, its result not handed over yet: it never will be.
  std::erase_if(results_, [id](const Ready& r) { return r.id == id; });
  auto it = probes_.find(id);
  if (it == probes_.end()) return;
  Probe& p = *it->second;
  p.done = nullptr;
  if (p.running) {
    teardown(p);
    --running_;
  } else {
    std::erase(queue_, id);
  }
  probes_.erase(it);
  startNext();
}

void Prober::startNext() {
  while (running_ < kMaxInFlight && !queue_.empty()) {
    const std::uint64_t id = queue_.front();
    queue_.pop_front();
    auto it = probes_.find(id);
    if (it == probes_.end()) continue;
    Probe& p = *it->second;
    p.running = true;
    ++running_;
    ++started_;
    begin(p);
  }
}

void Prober::begin(Probe& p) {
  std::uint64_t now = 0;
  sd_event_now(event_, CLOCK_MONOTONIC, &now);
  const int r = sd_event_add_time(event_, &p.timer, CLOCK_MONOTONIC,
                                  now + static_cast<std::uint64_t>(p.spec.timeout.count()), 0,
                                  &Prober::onTimeout, &p);
  if (r < 0) {
    finish(p, {false, fmt::format("cannot arm the timeout: {}", std::strerror(-r))});
    return;
  }
  switch (p.spec.probe) {
    case Kind::Http:
      beginHttp(p);
      break;
    case Kind::Tcp:
      beginTcp(p);
      break;
    case Kind::Exec:
      beginExec(p);
      break;
    case Kind::None:
      finish(p, {false, "no probe configured"});
      break;
  }
}

void Prober::beginHttp(Probe& p) {
  p.easy = curl_easy_init();
  if (!p.easy) {
    finish(p, {false, "curl_easy_init failed"});
    return;
  }
  CURL* e = p.easy;
  curl_easy_setopt(e, CURLOPT_URL, p.spec.url.c_str());
  curl_easy_setopt(e, CURLOPT_PRIVATE, &p);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &onBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &p);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, p.error);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  // No proxy from the environment: a probe reaches the worker on this host directly.
  curl_easy_setopt(e, CURLOPT_PROXY, "");
  // A fresh connection per probe: a pooled one would hide a worker that stopped accepting.
  curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
  // Removing a handle whose name lookup still runs must not wait for getaddrinfo (curl
  // issue 8515): a probe that timed out on a stalled resolver would block the loop.
  curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
  static const std::string agent = std::string("vigil-health/") + util::kVersion;
  curl_easy_setopt(e, CURLOPT_USERAGENT, agent.c_str());
  // Our own timer ends the probe at `timeout`; curl's is only a backstop.
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(p.spec.timeout.count() / 1000 + 1000));
  if (auto r = curl_->add(e); !r) finish(p, {false, r.error().message()});
}

void Prober::onCurlDone(void* easy, int code) {
  char* priv = nullptr;
  curl_easy_getinfo(static_cast<CURL*>(easy), CURLINFO_PRIVATE, &priv);
  auto* p = reinterpret_cast<Probe*>(priv);
  if (!p) return;
  const auto c = static_cast<CURLcode>(code);
  if (c == CURLE_OK || (c == CURLE_WRITE_ERROR && p->body_full)) {
    long status = 0;
    curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &status);
    bool ok = status >= static_cast<long>(p->spec.status_min) &&
              status <= static_cast<long>(p->spec.status_max);
    std::string detail = fmt::format("http {}", status);
    if (ok && !p->spec.body.empty() && p->body.find(p->spec.body) == std::string::npos) {
      ok = false;
      detail += fmt::format(", body lacks \"{}\"", p->spec.body);
    }
    finish(*p, {ok, std::move(detail)});
    return;
  }
  long os_errno = 0;
  curl_easy_getinfo(p->easy, CURLINFO_OS_ERRNO, &os_errno);
  std::string detail;
  if (c == CURLE_COULDNT_CONNECT && os_errno) {
    detail = connectError(static_cast<int>(os_errno));
  } else if (c == CURLE_OPERATION_TIMEDOUT) {
    detail = fmt::format("timeout after {}", core::formatDuration(p->spec.timeout));
  } else {
    detail = p->error[0] ? std::string(p->error) : std::string(curl_easy_strerror(c));
  }
  finish(*p, {false, std::move(detail)});
}

void Prober::beginTcp(Probe& p) {
  // "A.B.C.D:PORT" or "[IPV6]:PORT", as the configuration checked it.
  const std::string& text = p.spec.address;
  const auto colon = text.rfind(':');
  std::string host = colon == std::string::npos ? text : text.substr(0, colon);
  const std::string port_text = colon == std::string::npos ? "" : text.substr(colon + 1);
  unsigned long port = 0;
  try {
    port = std::stoul(port_text);
  } catch (...) {
    port = 0;
  }
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  bool parsed = port > 0 && port <= 65535;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    family = AF_INET6;
    host = host.substr(1, host.size() - 2);
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<std::uint16_t>(port));
    parsed = parsed && inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) == 1;
    len = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<std::uint16_t>(port));
    parsed = parsed && inet_pton(AF_INET, host.c_str(), &a->sin_addr) == 1;
    len = sizeof(sockaddr_in);
  }
  if (!parsed) {
    finish(p, {false, fmt::format("not an address and port: {}", text)});
    return;
  }
  p.fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (p.fd < 0) {
    finish(p, {false, fmt::format("socket: {}", std::strerror(errno))});
    return;
  }
  if (connect(p.fd, reinterpret_cast<sockaddr*>(&ss), len) == 0) {
    finish(p, {true, "connected"});
    return;
  }
  if (errno != EINPROGRESS) {
    finish(p, {false, connectError(errno)});
    return;
  }
  const int r = sd_event_add_io(event_, &p.io, p.fd, EPOLLOUT, &Prober::onTcpIo, &p);
  if (r < 0) finish(p, {false, fmt::format("cannot watch the socket: {}", std::strerror(-r))});
}

int Prober::onTcpIo(sd_event_source* /*s*/, int fd, std::uint32_t /*revents*/, void* ud) {
  auto* p = static_cast<Probe*>(ud);
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  p->owner->finish(
      *p, err == 0 ? ProbeResult{true, "connected"} : ProbeResult{false, connectError(err)});
  return 0;
}

void Prober::beginExec(Probe& p) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
    finish(p, {false, fmt::format("pipe: {}", std::strerror(errno))});
    return;
  }
  const int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) {
    const int err = errno;
    close(pipefd[0]);
    close(pipefd[1]);
    finish(p, {false, fmt::format("/dev/null: {}", std::strerror(err))});
    return;
  }
  std::vector<char*> argv;
  for (auto& a : p.spec.argv) argv.push_back(a.data());
  argv.push_back(nullptr);
  // Everything the child needs is prepared before fork(): between fork and execve only
  // async-signal-safe calls are made (vigild may have threads: curl's resolver).
  const std::string failed = fmt::format("cannot execute {}\n", p.spec.argv.at(0));
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    close(pipefd[0]);
    close(pipefd[1]);
    close(devnull);
    finish(p, {false, fmt::format("fork: {}", std::strerror(err))});
    return;
  }
  if (pid == 0) {
    setsid();  // its own process group: a timeout kills the group
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
    }
    dup2(devnull, 0);
    dup2(pipefd[1], 1);
    dup2(pipefd[1], 2);
    // Nothing else of vigild's reaches the check: libcurl before 8.17 does not mark its
    // sockets close-on-exec (curl issue 13618), so not every descriptor is O_CLOEXEC.
    close_range(3, ~0U, 0);
    execve(argv[0], argv.data(), const_cast<char* const*>(kExecEnv));
    const ssize_t w = write(2, failed.data(), failed.size());
    (void)w;
    _exit(127);
  }
  close(pipefd[1]);
  close(devnull);
  p.pid = pid;
  p.out = pipefd[0];
  p.pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (p.pidfd < 0) {
    const int err = errno;
    kill(pid, SIGKILL);
    siginfo_t si{};
    waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED);
    p.pid = 0;
    finish(p, {false, fmt::format("pidfd_open: {}", std::strerror(err))});
    return;
  }
  int r = sd_event_add_io(event_, &p.pid_source, p.pidfd, EPOLLIN, &Prober::onPidfd, &p);
  if (r >= 0) r = sd_event_add_io(event_, &p.out_source, p.out, EPOLLIN, &Prober::onOutput, &p);
  if (r < 0)
    finish(p, {false, fmt::format("cannot watch the probe process: {}", std::strerror(-r))});
}

int Prober::onOutput(sd_event_source* s, int fd, std::uint32_t /*revents*/, void* ud) {
  auto* p = static_cast<Probe*>(ud);
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      const std::size_t room = kMaxOutput - std::min(kMaxOutput, p->output.size());
      p->output.append(buf, std::min(room, static_cast<std::size_t>(n)));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) sd_event_source_set_enabled(s, SD_EVENT_OFF);  // EOF
    return 0;
  }
}

int Prober::onPidfd(sd_event_source* /*s*/, int /*fd*/, std::uint32_t /*revents*/, void* ud) {
  auto* p = static_cast<Probe*>(ud);
  // The leader exited but is not reaped yet, so its pid (the group's id) cannot have been
  // reused: kill whatever it left behind in its group, then reap it.
  killpg(p->pid, SIGKILL);
  siginfo_t si{};
  if (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(p->pidfd), &si, WEXITED) < 0) {
    p->owner->finish(*p, {false, fmt::format("waitid: {}", std::strerror(errno))});
    return 0;
  }
  p->pid = 0;                             // reaped
  onOutput(p->out_source, p->out, 0, p);  // what is left in the pipe
  ProbeResult result;
  const std::string line = firstLine(p->output);
  if (si.si_code == CLD_EXITED) {
    result.ok = si.si_status == 0;
    result.detail = fmt::format("exit {}", si.si_status);
  } else {
    const char* name = sigabbrev_np(si.si_status);
    result.detail = fmt::format("killed by SIG{}", name ? name : std::to_string(si.si_status));
  }
  if (!result.ok && !line.empty()) result.detail += ": " + line;
  p->owner->finish(*p, std::move(result));
  return 0;
}

int Prober::onTimeout(sd_event_source* /*s*/, std::uint64_t /*usec*/, void* ud) {
  auto* p = static_cast<Probe*>(ud);
  p->owner->timeouts_++;
  p->owner->finish(*p,
                   {false, fmt::format("timeout after {}", core::formatDuration(p->spec.timeout))});
  return 0;
}

void Prober::finish(Probe& p, ProbeResult result) {
  const std::uint64_t id = p.id;
  if (p.done) {
    results_.push_back(Ready{id, std::move(p.done), std::move(result)});
    sd_event_source_set_enabled(deliver_, SD_EVENT_ONESHOT);
  }
  teardown(p);
  --running_;
  probes_.erase(id);  // p is gone from here on
  startNext();
}

void Prober::teardown(Probe& p) {
  if (p.timer) p.timer = sd_event_source_disable_unref(p.timer);
  if (p.easy) {
    curl_->remove(p.easy);
    curl_easy_cleanup(p.easy);
    p.easy = nullptr;
  }
  if (p.io) p.io = sd_event_source_disable_unref(p.io);
  if (p.fd >= 0) {
    close(p.fd);
    p.fd = -1;
  }
  if (p.out_source) p.out_source = sd_event_source_disable_unref(p.out_source);
  if (p.out >= 0) {
    close(p.out);
    p.out = -1;
  }
  if (p.pid_source) p.pid_source = sd_event_source_disable_unref(p.pid_source);
  if (p.pidfd >= 0) {
    if (p.pid > 0) {
      // Not reaped yet, so its pid and group id are still ours. The pidfd reaches the
      // leader even before it has called setsid() (then killpg finds no group).
      syscall(SYS_pidfd_send_signal, p.pidfd, SIGKILL, nullptr, 0);
      killpg(p.pid, SIGKILL);
      reapLater(p.pidfd, p.pid);
    } else {
      close(p.pidfd);
    }
    p.pidfd = -1;
    p.pid = 0;
  }
}

void Prober::reapLater(int pidfd, int /*pid*/) {
  sd_event_source* s = nullptr;
  if (sd_event_add_io(event_, &s, pidfd, EPOLLIN, &Prober::onOrphan, this) < 0) {
    siginfo_t si{};
    waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &si, WEXITED);
    close(pidfd);
    return;
  }
  orphans_[pidfd] = s;
}

int Prober::onOrphan(sd_event_source* s, int fd, std::uint32_t /*revents*/, void* ud) {
  auto* self = static_cast<Prober*>(ud);
  siginfo_t si{};
  waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(fd), &si, WEXITED | WNOHANG);
  sd_event_source_disable_unref(s);
  self->orphans_.erase(fd);
  close(fd);
  return 0;
}

int Prober::onDeliver(sd_event_source* /*s*/, void* ud) {
  auto* self = static_cast<Prober*>(ud);
  // One at a time: a callback may cancel the probes whose results are still queued.
  while (!self->results_.empty()) {
    Ready r = std::move(self->results_.front());
    self->results_.pop_front();
    r.done(std::move(r.result));
  }
  return 0;
}

}  // namespace vigil::health
