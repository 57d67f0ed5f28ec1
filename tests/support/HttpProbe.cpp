#include "support/HttpProbe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <strings.h>
#include <cerrno>
#include <cstdlib>
#include <stdexcept>

namespace vigil::testing {

HttpProbe::HttpProbe(std::uint16_t port, std::string request) : request_(std::move(request)) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 && errno != EINPROGRESS) {
    closed_ = true;
  }
}

HttpProbe::~HttpProbe() {
  if (fd_ >= 0) close(fd_);
}

bool HttpProbe::poll() {
  if (closed_) return true;
  while (sent_ < request_.size()) {
    const ssize_t n = send(fd_, request_.data() + sent_, request_.size() - sent_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == ENOTCONN || errno == EINPROGRESS) return false;
      closed_ = true;
      return true;
    }
    sent_ += static_cast<std::size_t>(n);
  }
  char buf[8192];
  for (;;) {
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      response_.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      closed_ = true;
      return true;
    }
    return false;
  }
}

int HttpProbe::status() const {
  // "HTTP/1.1 200 OK"
  const auto space = response_.find(' ');
  if (response_.rfind("HTTP/", 0) != 0 || space == std::string::npos) return 0;
  return std::atoi(response_.c_str() + space + 1);
}

std::string HttpProbe::body() const {
  const auto end = response_.find("\r\n\r\n");
  return end == std::string::npos ? "" : response_.substr(end + 4);
}

std::string HttpProbe::header(const std::string& name) const {
  const auto end = response_.find("\r\n\r\n");
  std::size_t pos = response_.find("\r\n");
  while (pos != std::string::npos && pos < end) {
    const std::size_t next = response_.find("\r\n", pos + 2);
    const std::string line = response_.substr(pos + 2, next - pos - 2);
    const auto colon = line.find(':');
    if (colon != std::string::npos && colon == name.size() &&
        strncasecmp(line.c_str(), name.c_str(), name.size()) == 0) {
      std::size_t v = colon + 1;
      while (v < line.size() && line[v] == ' ') ++v;
      return line.substr(v);
    }
    pos = next;
  }
  return "";
}

std::string HttpProbe::get(const std::string& path, const std::string& method) {
  return method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
}

}  // namespace vigil::testing
