#include "local_addresses.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace rsp::asap::detail {

std::vector<IpAddress> host_addresses() {
  std::vector<IpAddress> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || (i->ifa_flags & IFF_UP) == 0) continue;
    IpAddress a;
    if (i->ifa_addr->sa_family == AF_INET) {
      std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr, 4);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr)) continue;  // needs a scope id a PU lacks
      a.family = IpAddress::Family::V6;
      std::memcpy(a.bytes.data(), &sin6->sin6_addr, 16);
    } else {
      continue;
    }
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  ::freeifaddrs(list);
  // IPv4 first: what most peers (and the usrsctp backend) reach first.
  std::stable_partition(out.begin(), out.end(), [](const IpAddress& a) { return a.is_v4(); });
  return out;
}

}  // namespace rsp::asap::detail

namespace rsp::asap::detail {

std::optional<IpAddress> source_address_towards(const IpAddress& destination) {
  const int family = destination.is_v4() ? AF_INET : AF_INET6;
  const int fd = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (destination.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(9);  // any non-zero port: connect() only picks the route
    std::memcpy(&sin->sin_addr, destination.bytes.data(), 4);
    len = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(9);
    std::memcpy(&sin6->sin6_addr, destination.bytes.data(), 16);
    len = sizeof(sockaddr_in6);
  }
  std::optional<IpAddress> out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0) {
    sockaddr_storage local{};
    socklen_t local_len = sizeof local;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) == 0) {
      IpAddress a;
      if (local.ss_family == AF_INET) {
        std::memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in*>(&local)->sin_addr, 4);
        out = a;
      } else if (local.ss_family == AF_INET6) {
        a.family = IpAddress::Family::V6;
        std::memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr, 16);
        out = a;
      }
    }
  }
  ::close(fd);
  return out;
}

}  // namespace rsp::asap::detail
