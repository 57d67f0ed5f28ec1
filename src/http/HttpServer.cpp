#include "http/HttpServer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>

#include <fmt/format.h>
#include <microhttpd.h>

namespace vigil::http {

namespace {
Response plain(unsigned status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// The MHD response for `r`, or null when MHD refused it or one of its header fields.
MHD_Response* build(const Response& r) {
  // For HEAD, MHD sends the GET's headers (Content-Length included) and no body.
  MHD_Response* resp = MHD_create_response_from_buffer(
      r.body.size(), const_cast<char*>(r.body.data()), MHD_RESPMEM_MUST_COPY);
  if (!resp) return nullptr;
  bool ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type.c_str()) ==
            MHD_YES;
  if (r.status == MHD_HTTP_METHOD_NOT_ALLOWED)
    ok = ok && MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") == MHD_YES;
  for (const auto& [name, value] : r.headers) {
    // c_str() would cut a field at a NUL and send the rest as valid: refuse it instead.
    ok = ok && !name.empty() && name.find('\0') == std::string::npos &&
         value.find('\0') == std::string::npos &&
         MHD_add_response_header(resp, name.c_str(), value.c_str()) == MHD_YES;
  }
  if (!ok) {
    MHD_destroy_response(resp);
    return nullptr;
  }
  return resp;
}

MHD_Result queue(MHD_Connection* c, const Response& r) {
  MHD_Response* resp = build(r);
  unsigned status = r.status;
  if (!resp) {
    std::fprintf(stderr,
                 "<4>vigild: http: a response to a request could not be composed "
                 "(a header field was refused); answered 500\n");
    resp = build(plain(MHD_HTTP_INTERNAL_SERVER_ERROR, "the response could not be composed\n"));
    status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    if (!resp) return MHD_NO;
  }
  const MHD_Result ret = MHD_queue_response(c, status, resp);
  MHD_destroy_response(resp);
  return ret;
}

}  // namespace

bool isLoopbackHost(std::string_view host) {
  // Without the port: "[::1]:9753" -> "[::1]", "localhost:9753" -> "localhost".
  if (!host.empty() && host.front() == '[') {
    const auto end = host.find(']');
    if (end == std::string_view::npos) return false;
    host = host.substr(0, end + 1);
  } else if (const auto colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (host == "localhost" || host == "[::1]") return true;
  in_addr a{};
  const std::string h(host);
  return inet_pton(AF_INET, h.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

namespace {

void logMhd(void*, const char* fmt, va_list ap) {
  // MHD's own diagnostics (a failed accept, a client that sent garbage) go to the journal
  // at debug priority: they are about clients, not about vigild.
  char buf[512];
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  std::fprintf(stderr, "<7>vigild: http: %s", buf);
}
}  // namespace

struct Access {
  static MHD_Result handle(void* cls,
                           MHD_Connection* c,
                           const char* url,
                           const char* method,
                           const char*,
                           const char*,
                           size_t* upload_size,
                           void** state) {
    auto* self = static_cast<HttpServer*>(cls);
    const bool get = std::strcmp(method, MHD_HTTP_METHOD_GET) == 0;
    const bool head = std::strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    (void)state;
    (void)upload_size;
    // Everything is decided on the first call, before any body is read: GET and HEAD
    // without a body are answered; anything else is refused at once, and MHD closes the
    // connection after the answer instead of reading (and waiting for) a body. A body is
    // announced by its headers.
    const char* length =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const bool body =
        (length && std::strcmp(length, "0") != 0) ||
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (!get && !head)
      return queue(c, plain(MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD are served\n"));
    if (body) return queue(c, plain(MHD_HTTP_CONTENT_TOO_LARGE, "a GET takes no body\n"));
    if (self->loopback_) {
      const char* host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
      if (host && !isLoopbackHost(host))
        return queue(c, plain(MHD_HTTP_MISDIRECTED_REQUEST,
                              "this listener is on loopback: use 127.0.0.1, [::1] or localhost "
                              "as the host\n"));
    }
    self->requests_++;
    const std::string_view path = url ? url : "/";
    return queue(c, self->handler_(path));
  }
};

HttpServer::HttpServer(sd_event* event, Handler handler)
    : event_(sd_event_ref(event)), handler_(std::move(handler)) {}

HttpServer::~HttpServer() {
  if (io_) sd_event_source_disable_unref(io_);
  if (timer_) sd_event_source_disable_unref(timer_);
  if (daemon_) MHD_stop_daemon(daemon_);
  sd_event_unref(event_);
}

util::Result<std::unique_ptr<HttpServer>> HttpServer::start(sd_event* event,
                                                            const config::ListenAddress& address,
                                                            Handler handler) {
  const std::string where = address.family == AF_INET6
                                ? fmt::format("[{}]:{}", address.address, address.port)
                                : fmt::format("{}:{}", address.address, address.port);
  sockaddr_storage ss{};
  if (address.family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(address.port);
    if (inet_pton(AF_INET6, address.address.c_str(), &a->sin6_addr) != 1)
      return util::fail(where + ": not a numeric IPv6 address");
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(address.port);
    if (inet_pton(AF_INET, address.address.c_str(), &a->sin_addr) != 1)
      return util::fail(where + ": not a numeric IPv4 address");
  }
  // Bound here rather than by MHD, so that a bind error is reported with its errno.
  const int fd = socket(address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return util::fail(fmt::format("{}: socket: {}", where, std::strerror(errno)));
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (address.family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  const socklen_t len = address.family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0 || listen(fd, 64) < 0) {
    const int e = errno;
    close(fd);
    return util::fail(fmt::format("{}: {}", where, std::strerror(e)), e);
  }

  std::unique_ptr<HttpServer> server(new HttpServer(event, std::move(handler)));
  if (address.family == AF_INET6) {
    in6_addr a6{};
    server->loopback_ =
        inet_pton(AF_INET6, address.address.c_str(), &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
  } else {
    in_addr a4{};
    server->loopback_ =
        inet_pton(AF_INET, address.address.c_str(), &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
  }
  unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
  if (address.family == AF_INET6) flags |= MHD_USE_IPv6;
  server->daemon_ = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &Access::handle, server.get(), MHD_OPTION_EXTERNAL_LOGGER,
      &logMhd, nullptr, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
      static_cast<unsigned>(kMaxConnections), MHD_OPTION_PER_IP_CONNECTION_LIMIT,
      static_cast<unsigned>(kMaxPerAddress), MHD_OPTION_CONNECTION_TIMEOUT,
      static_cast<unsigned>(kIdleTimeoutSec), MHD_OPTION_END);
  if (!server->daemon_) {
    close(fd);
    return util::fail(where + ": libmicrohttpd could not start");
  }
  const MHD_DaemonInfo* epoll_info = MHD_get_daemon_info(server->daemon_, MHD_DAEMON_INFO_EPOLL_FD);
  const MHD_DaemonInfo* port_info = MHD_get_daemon_info(server->daemon_, MHD_DAEMON_INFO_BIND_PORT);
  if (!epoll_info) return util::fail(where + ": libmicrohttpd has no epoll descriptor");
  server->port_ = port_info ? port_info->port : address.port;
  int r = sd_event_add_io(event, &server->io_, epoll_info->epoll_fd, EPOLLIN, &HttpServer::onIo,
                          server.get());
  if (r >= 0)
    r = sd_event_add_time(event, &server->timer_, CLOCK_MONOTONIC, UINT64_MAX, 0,
                          &HttpServer::onTimer, server.get());
  if (r < 0) return util::fail(fmt::format("{}: sd-event: {}", where, std::strerror(-r)));
  sd_event_source_set_enabled(server->timer_, SD_EVENT_OFF);
  return server;
}

int HttpServer::onIo(sd_event_source*, int, std::uint32_t, void* ud) {
  static_cast<HttpServer*>(ud)->run();
  return 0;
}

int HttpServer::onTimer(sd_event_source*, std::uint64_t, void* ud) {
  static_cast<HttpServer*>(ud)->run();
  return 0;
}

void HttpServer::run() {
  MHD_run(daemon_);
  MHD_UNSIGNED_LONG_LONG timeout_ms = 0;
  if (MHD_get_timeout(daemon_, &timeout_ms) == MHD_YES) {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const std::uint64_t now = static_cast<std::uint64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
    sd_event_source_set_time(timer_, now + timeout_ms * 1000);
    sd_event_source_set_enabled(timer_, SD_EVENT_ONESHOT);
  } else {
    sd_event_source_set_enabled(timer_, SD_EVENT_OFF);
  }
}

}  // namespace vigil::http
