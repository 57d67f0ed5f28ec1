#pragma once
// A small HTTP/1.1 server on vigild's sd-event loop, for /metrics, the status page and its
// JSON (vigild(8), HTTP). libmicrohttpd in
// external-epoll mode (MHD_USE_EPOLL, no thread of its own), as systemd-journal-remote
// drives it: MHD's epoll fd is one io source of the loop, MHD_get_timeout() arms one timer,
// each wake-up runs MHD_run() once. Sockets are non-blocking and responses are buffered, so
// a slow or stalled client costs a connection slot until its timeout, never the loop.
//
// Only GET and HEAD are answered (405 otherwise); a request with a body is refused (413);
// connections are limited in number, per client address and in time (kMaxConnections,
// kMaxPerAddress, kIdleTimeoutSec). On a loopback address, a request whose Host is not a
// loopback name is refused (421): a web page in a browser on the host cannot read the
// status through a name of its own that resolves to 127.0.0.1 (DNS rebinding).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <systemd/sd-event.h>

#include "config/ListenAddress.h"
#include "util/Result.h"

struct MHD_Daemon;

namespace vigil::http {

struct Response {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // Further header fields (name, value), sent in this order after Content-Type. Names are
  // tokens and values single lines (RFC 9110, 5.1 and 5.5): a field that is not (an empty
  // name; a CR, LF or NUL in it; what else MHD refuses) makes the answer a 500 instead, so that a
  // response never goes out without a header it was meant to carry (a Content-Security-Policy).
  std::vector<std::pair<std::string, std::string>> headers;
};

// Composes the answer to a GET or HEAD of `path` (the URL path, without the query), on the
// loop. It should be quick: the loop waits for it.
using Handler = std::function<Response(std::string_view path)>;

// True when `host` (a Host header field: "127.0.0.1:9753", "[::1]", "localhost:9753") names
// the loopback interface: localhost, 127.0.0.0/8 or [::1], with or without a port.
bool isLoopbackHost(std::string_view host);

class HttpServer {
 public:
  static constexpr unsigned kMaxConnections = 32;
  static constexpr unsigned kMaxPerAddress = 8;
  static constexpr unsigned kIdleTimeoutSec = 10;

  // Binds `address` (SO_REUSEADDR) and serves `handler` on `event`. Errors: the address
  // cannot be bound ("127.0.0.1:9753: Address already in use"), MHD cannot start, or the
  // loop refuses the sources.
  static util::Result<std::unique_ptr<HttpServer>> start(sd_event* event,
                                                         const config::ListenAddress& address,
                                                         Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The port bound: the configured one, or the one the kernel chose for port 0 (tests).
  std::uint16_t port() const { return port_; }
  std::uint64_t requests() const { return requests_; }

 private:
  HttpServer(sd_event* event, Handler handler);
  static int onIo(sd_event_source* s, int fd, std::uint32_t revents, void* ud);
  static int onTimer(sd_event_source* s, std::uint64_t usec, void* ud);
  // MHD_run(), then the timer re-armed from MHD_get_timeout().
  void run();

  sd_event* event_;
  Handler handler_;
  MHD_Daemon* daemon_ = nullptr;
  sd_event_source* io_ = nullptr;
  sd_event_source* timer_ = nullptr;
  std::uint16_t port_ = 0;
  std::uint64_t requests_ = 0;
  bool loopback_ = false;  // bound to 127.0.0.0/8 or ::1: Host must be a loopback name

  friend struct Access;
};

}  // namespace vigil::http
