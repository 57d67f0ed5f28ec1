#pragma once
// A non-blocking HTTP/1.1 client for tests whose server runs on the same thread's event
// loop: the test alternates sd_event_run() and poll() until the exchange is over.
//
//   HttpProbe get(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
//   runUntil([&] { return get.poll(); });
//   BOOST_TEST(get.status() == 200);

#include <cstdint>
#include <string>

namespace vigil::testing {

class HttpProbe {
 public:
  // Connects to 127.0.0.1:`port`; `request` is sent as the connection allows.
  HttpProbe(std::uint16_t port, std::string request);
  ~HttpProbe();
  HttpProbe(const HttpProbe&) = delete;
  HttpProbe& operator=(const HttpProbe&) = delete;

  // Sends what is left, reads what is there. True once the server closed the connection
  // (or it failed: then status() is 0).
  bool poll();
  const std::string& response() const { return response_; }
  // The status code of the response's first line, 0 when there is none.
  int status() const;
  // What follows the blank line after the headers.
  std::string body() const;
  // The value of header `name` (case-insensitive), "" when absent.
  std::string header(const std::string& name) const;

  // "GET `path` HTTP/1.1" with Host and Connection: close.
  static std::string get(const std::string& path, const std::string& method = "GET");

 private:
  int fd_ = -1;
  std::string request_;
  std::size_t sent_ = 0;
  std::string response_;
  bool closed_ = false;
};

}  // namespace vigil::testing
