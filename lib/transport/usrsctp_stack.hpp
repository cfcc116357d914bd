// The process-wide usrsctp stack, run without threads (usrsctp_init_nothreads): the AF_CONN
// output callback, usrsctp's timers driven by an asio timer, and the peers (one per remote
// address and SCTP port, per endpoint) whose addresses usrsctp uses as opaque AF_CONN addresses.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>
#include <algorithm>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "rsp/transport/endpoint.hpp"

namespace rsp::transport::usrsctp_detail {

struct Peer;

// Where usrsctp's packets for a peer go: the endpoint that owns the peer's UDP socket.
class PacketSink {
 public:
  virtual void output(Peer& peer, const void* packet, std::size_t length) = 0;
  // After usrsctp's timers ran: notifications raised there (association lost, INIT given up)
  // do not always reach the socket upcall, so each endpoint checks its socket.
  virtual void after_timers() = 0;

 protected:
  ~PacketSink() = default;
};

// One remote SCTP endpoint (address + SCTP port) as seen through one of our endpoints. Its
// address in memory is the AF_CONN address usrsctp knows the peer by.
struct Peer {
  PacketSink* sink = nullptr;  // nullptr once the owning endpoint closed: packets are dropped
  std::size_t socket_index = 0;
  IpAddress address;
  std::uint16_t sctp_port = 0;
  // RFC 6951 §5.1: the remote UDP encapsulation port; starts from our convention (or the
  // endpoint's remote_udp_port) and follows the source port of the peer's packets (§5.4).
  boost::asio::ip::udp::endpoint udp;
  std::uint32_t path_mtu = 1200;  // SCTP packet bytes per UDP datagram on this path
};

class Stack {
 public:
  static Stack& instance();

  // Every usrsctp endpoint attaches while open. The first one initialises usrsctp (once per
  // process) and starts the timer on its io_context; all must share that io_context.
  TransportResult<void> attach(boost::asio::io_context& io, PacketSink& endpoint);
  void detach(PacketSink& endpoint);

  // Peers of a closed endpoint: usrsctp may still hold their addresses in associations it is
  // freeing, so they stay allocated (with sink == nullptr) for the life of the process.
  void retire(std::vector<std::unique_ptr<Peer>> peers);

 private:
  Stack() = default;
  void schedule_tick();

  bool initialised_ = false;
  std::size_t endpoints_ = 0;
  boost::asio::io_context* io_ = nullptr;
  std::unique_ptr<boost::asio::steady_timer> timer_;
  std::chrono::steady_clock::time_point last_tick_{};
  std::vector<std::unique_ptr<Peer>> retired_;
  std::vector<PacketSink*> endpoint_list_;
};

}  // namespace rsp::transport::usrsctp_detail
