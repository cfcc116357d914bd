// The host's addresses, for registering a PE bound to the wildcard (RFC 5354 §3.4: a user
// transport lists the addresses a PU can reach).
#pragma once

#include <optional>
#include <vector>

#include "rsp/wire/types.hpp"

namespace rsp::asap::detail {

// Every up IPv4 address and every up, non-link-local IPv6 address (loopback included).
std::vector<IpAddress> host_addresses();

}  // namespace rsp::asap::detail

namespace rsp::asap::detail {

// The local address the kernel would send from to reach `destination` (a connected UDP socket's
// name; nothing is sent). A PE bound to the wildcard registers this one: it is an address of its
// association with the registrar, which registrars check (RFC 5352 §3.1, RFC 5355 threats).
std::optional<IpAddress> source_address_towards(const IpAddress& destination);

}  // namespace rsp::asap::detail
