#pragma once
// The address a TCP listener binds to, as vigil.yaml(5) writes it (metrics.listen).

#include <cstdint>
#include <string>
#include <string_view>

#include "util/Result.h"

namespace vigil::config {

struct ListenAddress {
  int family = 0;       // AF_INET or AF_INET6
  std::string address;  // the literal without brackets: "127.0.0.1", "::1", "0.0.0.0"
  std::uint16_t port = 0;
};

// Parses "A.B.C.D:PORT" or "[IPV6]:PORT" (numeric literals only: vigild binds before the
// network may be up, so no name is resolved). PORT is 1..65535.
// Errors (the message says what was expected): no port, a port out of range or with a
// leading zero, an address that is not a numeric IPv4/IPv6 literal, an IPv6 literal
// without brackets.
util::Result<ListenAddress> parseListenAddress(std::string_view text);

}  // namespace vigil::config
