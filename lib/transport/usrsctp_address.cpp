#include "transport/usrsctp_address.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace rsp::transport::usrsctp_detail {

boost::asio::ip::address to_asio(const IpAddress& address) {
  if (address.is_v4()) {
    return boost::asio::ip::address_v4(
        boost::asio::ip::address_v4::bytes_type{address.bytes[0], address.bytes[1], address.bytes[2], address.bytes[3]});
  }
  boost::asio::ip::address_v6::bytes_type b{};
  std::copy(address.bytes.begin(), address.bytes.end(), b.begin());
  return boost::asio::ip::address_v6(b);
}

IpAddress from_asio(const boost::asio::ip::address& address) {
  if (address.is_v4()) {
    const auto b = address.to_v4().to_bytes();
    return IpAddress::v4(b[0], b[1], b[2], b[3]);
  }
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) {
    const auto b = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_bytes();
    return IpAddress::v4(b[0], b[1], b[2], b[3]);
  }
  std::array<std::uint8_t, 16> bytes{};
  const auto b = v6.to_bytes();
  std::copy(b.begin(), b.end(), bytes.begin());
  return IpAddress::v6(bytes);
}

std::uint32_t udp_path_mtu(const IpAddress& address) {
  constexpr std::uint32_t kFallback = 1200;  // fits any IPv6 path (RFC 8200 §5) with headers
  constexpr std::uint32_t kUdpHeader = 8;
  const bool v4 = address.is_v4();
  const int fd = ::socket(v4 ? AF_INET : AF_INET6, SOCK_DGRAM, 0);
  if (fd < 0) return kFallback;
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (v4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(9);
    std::memcpy(&sin->sin_addr, address.bytes.data(), 4);
    len = sizeof *sin;
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(9);
    std::memcpy(&sin6->sin6_addr, address.bytes.data(), 16);
    len = sizeof *sin6;
  }
  int mtu = 0;
  socklen_t mtulen = sizeof mtu;
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0 &&
                  ::getsockopt(fd, v4 ? IPPROTO_IP : IPPROTO_IPV6, v4 ? IP_MTU : IPV6_MTU, &mtu, &mtulen) == 0;
  ::close(fd);
  if (!ok || mtu <= 0) return kFallback;
  const std::uint32_t ip_header = v4 ? 20 : 40;
  // usrsctp sizes AF_CONN packets up to 19 bytes past the MTU it is given (its fragmentation
  // point leaves out part of the DATA chunk header), measured with 64 KiB messages on loopback
  // where the kernel refuses UDP payloads above 65507 bytes: keep 32 bytes in hand.
  constexpr std::uint32_t kUsrsctpSlack = 32;
  const std::uint32_t largest = 65535 - ip_header - kUdpHeader;  // the UDP length limit
  const auto usable = std::min<std::uint32_t>(static_cast<std::uint32_t>(mtu) - ip_header - kUdpHeader, largest);
  return std::max<std::uint32_t>(usable - kUsrsctpSlack, 576);
}

}  // namespace rsp::transport::usrsctp_detail
