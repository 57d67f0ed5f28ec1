#include "config/ListenAddress.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>

#include <fmt/format.h>

namespace vigil::config {

util::Result<ListenAddress> parseListenAddress(std::string_view text) {
  constexpr std::string_view kExpected =
      "an address like 127.0.0.1:9753 or [::1]:9753 (a numeric IPv4 or bracketed IPv6 "
      "literal and a port)";
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == text.size())
    return util::fail(fmt::format("expected {}: no port", kExpected));
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [ptr, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port == 0 ||
      port > 65535 || (port_text.size() > 1 && port_text.front() == '0'))
    return util::fail(
        fmt::format("expected {}: the port must be a number from 1 to 65535", kExpected));
  ListenAddress out;
  out.port = static_cast<std::uint16_t>(port);
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 3 || host.back() != ']')
      return util::fail(fmt::format("expected {}: unbalanced brackets", kExpected));
    host = host.substr(1, host.size() - 2);
    out.family = AF_INET6;
  } else {
    if (host.find(':') != std::string_view::npos)
      return util::fail(fmt::format("expected {}: write an IPv6 address in brackets", kExpected));
    out.family = AF_INET;
  }
  out.address = std::string(host);
  unsigned char buf[sizeof(in6_addr)];
  if (out.address.empty() || inet_pton(out.family, out.address.c_str(), buf) != 1)
    return util::fail(fmt::format("expected {}: '{}' is not a numeric IPv{} address", kExpected,
                                  out.address, out.family == AF_INET6 ? 6 : 4));
  return out;
}

}  // namespace vigil::config
