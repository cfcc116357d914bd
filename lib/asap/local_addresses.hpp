// The host's addresses, for registering a PE bound to the wildcard (RFC 5354 §3.4: a user
// transport lists the addresses a PU can reach).
#pragma once

#include <vector>

#include "rsp/wire/types.hpp"

namespace rsp::asap::detail {

// Every up IPv4 address and every up, non-link-local IPv6 address (loopback included).
std::vector<IpAddress> host_addresses();

}  // namespace rsp::asap::detail
