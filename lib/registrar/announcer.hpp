// The SERVER_ANNOUNCE sender (RFC 5352 §3.6, RFC 5353 §3.1): every announce cycle, one
// datagram to the announce destination per outgoing interface, so that PEs and PUs on every
// link the registrar serves hear it without configuration. IPv4 and IPv6 alike.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "rsp/registrar/service.hpp"

namespace rsp::registrar {

struct AnnouncerOptions {
  SocketAddress to;  // multicast group or unicast address, and port
  int hops = 1;      // multicast hops (TTL)
  // Outgoing interfaces by name. Empty: the interfaces that hold `listen` addresses of the
  // destination's family; all up multicast-capable ones (loopback included) when a listen
  // address is the wildcard, none is of that family, or `listen` is empty.
  std::vector<std::string> interfaces;
  std::vector<IpAddress> listen;
  std::chrono::milliseconds interval{1000};
};

class Announcer {
 public:
  // `message` builds the SERVER_ANNOUNCE for each cycle; `on_error` is told once when a send
  // fails (a missing route would otherwise flood the log). The first announcement goes out at
  // once.
  static Result<std::unique_ptr<Announcer>, ServiceErrc> open(
      boost::asio::io_context& io, AnnouncerOptions options,
      std::function<std::vector<std::byte>()> message, std::function<void(const std::string&)> on_error);
  ~Announcer();
  Announcer(const Announcer&) = delete;
  Announcer& operator=(const Announcer&) = delete;

  void stop();
  // The interfaces announced on ("" for a unicast destination: the routing table decides).
  std::vector<std::string> interfaces() const;

 private:
  struct Out {
    boost::asio::ip::udp::socket socket;
    std::string interface;
  };
  Announcer(boost::asio::io_context& io, AnnouncerOptions options,
            std::function<std::vector<std::byte>()> message, std::function<void(const std::string&)> on_error);
  void tick();

  AnnouncerOptions options_;
  boost::asio::steady_timer timer_;
  boost::asio::ip::udp::endpoint to_;
  std::vector<std::unique_ptr<Out>> out_;
  std::function<std::vector<std::byte>()> message_;
  std::function<void(const std::string&)> on_error_;
  bool warned_ = false;
  bool stopped_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace rsp::registrar
