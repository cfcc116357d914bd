#include "announcer.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/ip/multicast.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "status.hpp"

namespace rsp::registrar {

namespace asio = boost::asio;

namespace {

struct Interface {
  std::string name;
  unsigned index = 0;
};

bool is_multicast(const IpAddress& a) { return a.is_v4() ? (a.bytes[0] & 0xf0) == 0xe0 : a.bytes[0] == 0xff; }

IpAddress address_of(const sockaddr* sa) {
  IpAddress a;
  if (sa->sa_family == AF_INET) {
    std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
  } else {
    a.family = IpAddress::Family::V6;
    std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
  }
  return a;
}

// Up interfaces with an address of the family; only those holding one of `wanted` when given,
// else only multicast-capable ones (and loopback, for registrars and clients on one host).
std::vector<Interface> interfaces_with(bool v6, const std::vector<IpAddress>& wanted) {
  std::vector<Interface> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != (v6 ? AF_INET6 : AF_INET)) continue;
    if ((i->ifa_flags & IFF_UP) == 0) continue;
    if (wanted.empty() ? (i->ifa_flags & (IFF_MULTICAST | IFF_LOOPBACK)) == 0
                       : std::find(wanted.begin(), wanted.end(), address_of(i->ifa_addr)) == wanted.end())
      continue;
    const unsigned index = ::if_nametoindex(i->ifa_name);
    if (index == 0) continue;
    if (std::none_of(out.begin(), out.end(), [&](const Interface& x) { return x.index == index; }))
      out.push_back(Interface{i->ifa_name, index});
  }
  ::freeifaddrs(list);
  return out;
}

asio::ip::address to_asio(const IpAddress& a) {
  if (a.is_v4()) return asio::ip::address_v4({a.bytes[0], a.bytes[1], a.bytes[2], a.bytes[3]});
  asio::ip::address_v6::bytes_type b;
  std::copy(a.bytes.begin(), a.bytes.end(), b.begin());
  return asio::ip::address_v6(b);
}

}  // namespace

Announcer::Announcer(asio::io_context& io, AnnouncerOptions options,
                     std::function<std::vector<std::byte>()> message,
                     std::function<void(const std::string&)> on_error)
    : options_(std::move(options)), timer_(io), message_(std::move(message)), on_error_(std::move(on_error)) {}

Announcer::~Announcer() { stop(); }

Result<std::unique_ptr<Announcer>, ServiceErrc> Announcer::open(
    asio::io_context& io, AnnouncerOptions options, std::function<std::vector<std::byte>()> message,
    std::function<void(const std::string&)> on_error) {
  std::unique_ptr<Announcer> a(new Announcer(io, std::move(options), std::move(message), std::move(on_error)));
  const auto& o = a->options_;
  const bool v6 = !o.to.address.is_v4();
  a->to_ = asio::ip::udp::endpoint(to_asio(o.to.address), o.to.port);
  const auto where = socket_text(o.to.address, o.to.port);

  std::vector<Interface> interfaces;
  if (is_multicast(o.to.address)) {
    for (const auto& name : o.interfaces) {
      const unsigned index = ::if_nametoindex(name.c_str());
      if (index == 0)
        return make_error(ServiceErrc::InvalidArgument, fmt::format("announce interface '{}': no such interface", name));
      interfaces.push_back(Interface{name, index});
    }
    if (interfaces.empty()) {
      std::vector<IpAddress> specific;
      bool wildcard = o.listen.empty();
      for (const auto& l : o.listen) {
        if (is_unspecified(l)) wildcard = true;
        else if (l.is_v4() != v6) specific.push_back(l);
      }
      if (!wildcard && !specific.empty()) interfaces = interfaces_with(v6, specific);
      if (interfaces.empty()) interfaces = interfaces_with(v6, {});
    }
  }
  if (interfaces.empty()) interfaces.push_back(Interface{"", 0});  // unicast, or no interface up

  for (const auto& i : interfaces) {
    auto out = std::make_unique<Out>(Out{asio::ip::udp::socket(io), i.name});
    boost::system::error_code ec;
    out->socket.open(v6 ? asio::ip::udp::v6() : asio::ip::udp::v4(), ec);
    if (ec) return make_error(ServiceErrc::SystemError, fmt::format("announce socket for {}: {}", where, ec.message()));
    if (is_multicast(o.to.address)) {
      out->socket.set_option(asio::ip::multicast::hops(o.hops), ec);
      // Local PEs and PUs hear the announcement too.
      out->socket.set_option(asio::ip::multicast::enable_loopback(true), ec);
      if (i.index != 0) {
        int rc = 0;
        if (v6) {
          out->socket.set_option(asio::ip::multicast::outbound_interface(i.index), ec);
          rc = ec ? -1 : 0;
        } else {
          ip_mreqn m{};
          m.imr_ifindex = static_cast<int>(i.index);
          rc = ::setsockopt(out->socket.native_handle(), IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof m);
          if (rc != 0) ec = boost::system::error_code(errno, boost::system::system_category());
        }
        if (rc != 0)
          return make_error(ServiceErrc::SystemError,
                            fmt::format("announce socket for {} on {}: {}", where, i.name, ec.message()));
      }
    }
    a->out_.push_back(std::move(out));
  }
  a->tick();
  return a;
}

void Announcer::tick() {
  if (stopped_) return;
  auto bytes = std::make_shared<std::vector<std::byte>>(message_());
  for (auto& out : out_) {
    out->socket.async_send_to(asio::buffer(*bytes), to_,
                              [this, bytes, weak = std::weak_ptr<int>(alive_), name = out->interface](
                                  const boost::system::error_code& ec, std::size_t) {
                                if (weak.expired() || !ec || ec == asio::error::operation_aborted) return;
                                if (warned_) return;
                                warned_ = true;
                                on_error_(name.empty() ? ec.message() : name + ": " + ec.message());
                              });
  }
  timer_.expires_after(options_.interval);
  timer_.async_wait([this, weak = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
    if (!ec && !weak.expired()) tick();
  });
}

void Announcer::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ec;
  timer_.cancel();
  for (auto& out : out_) out->socket.close(ec);
}

std::vector<std::string> Announcer::interfaces() const {
  std::vector<std::string> names;
  for (const auto& out : out_) names.push_back(out->interface);
  return names;
}

}  // namespace rsp::registrar
