// Socket address conversions for the kernel SCTP backend: our IpAddress/TransportAddress to and
// from sockaddr_in/sockaddr_in6, and the packed address arrays sctp_bindx/sctp_connectx take
// (RFC 6458 §9.1, §9.9: sockaddrs back to back, each of its own family's size).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "rsp/wire/types.hpp"

namespace rsp::transport::kernel_detail {

inline std::size_t sockaddr_size(const IpAddress& address) {
  return address.is_v4() ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
}

// Writes `address`:`port` at `out` (room for a sockaddr_in6 or more); returns the bytes used.
inline std::size_t write_sockaddr(const IpAddress& address, std::uint16_t port, void* out) {
  if (address.is_v4()) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    std::memcpy(&sin.sin_addr, address.bytes.data(), 4);
    std::memcpy(out, &sin, sizeof sin);
    return sizeof sin;
  }
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  std::memcpy(&sin6.sin6_addr, address.bytes.data(), 16);
  std::memcpy(out, &sin6, sizeof sin6);
  return sizeof sin6;
}

// sctp_bindx/sctp_connectx input: the addresses packed back to back.
inline std::vector<std::byte> packed_sockaddrs(const AddressList& addresses, std::uint16_t port) {
  std::size_t total = 0;
  for (const auto& a : addresses) total += sockaddr_size(a);
  std::vector<std::byte> out(total);
  std::size_t at = 0;
  for (const auto& a : addresses) at += write_sockaddr(a, port, out.data() + at);
  return out;
}

struct SockaddrView {
  IpAddress address;
  std::uint16_t port = 0;
  std::size_t size = 0;  // bytes the sockaddr occupies (0: not AF_INET/AF_INET6 or truncated)
};

// Reads one sockaddr_in/sockaddr_in6 of at most `available` bytes. IPv4-mapped IPv6 addresses
// (what an AF_INET6 socket reports for IPv4 peers) come back as IPv4.
inline SockaddrView read_sockaddr(const void* data, std::size_t available) {
  SockaddrView v;
  if (available < sizeof(sa_family_t)) return v;
  sa_family_t family = 0;
  std::memcpy(&family, data, sizeof family);
  if (family == AF_INET && available >= sizeof(sockaddr_in)) {
    sockaddr_in sin{};
    std::memcpy(&sin, data, sizeof sin);
    v.address.family = IpAddress::Family::V4;
    std::memcpy(v.address.bytes.data(), &sin.sin_addr, 4);
    v.port = ntohs(sin.sin_port);
    v.size = sizeof sin;
  } else if (family == AF_INET6 && available >= sizeof(sockaddr_in6)) {
    sockaddr_in6 sin6{};
    std::memcpy(&sin6, data, sizeof sin6);
    v.port = ntohs(sin6.sin6_port);
    v.size = sizeof sin6;
    const auto* b = reinterpret_cast<const std::uint8_t*>(&sin6.sin6_addr);
    static constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(b, kMappedPrefix, sizeof kMappedPrefix) == 0) {
      v.address = IpAddress::v4(b[12], b[13], b[14], b[15]);
    } else {
      v.address.family = IpAddress::Family::V6;
      std::memcpy(v.address.bytes.data(), b, 16);
    }
  }
  return v;
}

}  // namespace rsp::transport::kernel_detail
