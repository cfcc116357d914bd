// The registrar as a running service on an asio io_context: the sans-IO core (core.hpp) wired
// to SCTP endpoints (ASAP, PPID 11, port 3863 by default), a timer for its deadlines, the
// SERVER_ANNOUNCE sender (RFC 5352 §3.6 / RFC 5353 §3.1: UDP multicast 239.0.0.50:3863), and a
// status socket (a Unix stream socket that answers with the handlespace and counters).
//
// Everything runs on the io_context's thread; the service never blocks and owns no threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rsp/registrar/core.hpp"
#include "rsp/result.hpp"
#include "rsp/transport/endpoint.hpp"

namespace boost::asio {
class io_context;
}

namespace rsp::registrar {

// An IP address and a port (an SCTP listen address, a UDP announce destination).
struct SocketAddress {
  IpAddress address;
  std::uint16_t port = 0;
  bool operator==(const SocketAddress&) const = default;
};

// RFC 5352 §3.6: the IPv4 default SERVER_ANNOUNCE destination.
SocketAddress default_announce_address() noexcept;  // 239.0.0.50:3863

struct ServiceOptions {
  Config config;  // config.id must be non-zero (see random_registrar_id)
  // SCTP addresses to listen on. Empty: the wildcard address on port 3863 (RFC 5352 §5).
  // Addresses sharing a port share one (multi-homed) endpoint; port 0 picks a free port.
  std::vector<SocketAddress> listen;
  transport::Backend backend = transport::Backend::Automatic;
  transport::AssociationParameters sctp;
  // The usrsctp backend keeps reading its UDP socket this long after a wake-up before blocking
  // (EndpointOptions::busy_poll; `--busy-poll`). 0 = off.
  std::chrono::microseconds busy_poll{0};
  // Where SERVER_ANNOUNCE goes (multicast or unicast); nullopt: no announces.
  std::optional<SocketAddress> announce = default_announce_address();
  int announce_ttl = 1;  // multicast hops (RSPLIB uses 30; 1 keeps announces on the link)
  // Interfaces a multicast announce goes out on, by name. Empty: those holding the listen
  // addresses of the announce's family; every up multicast-capable interface (loopback
  // included) when listening on the wildcard or on no address of that family.
  std::vector<std::string> announce_interfaces;
  // Unix socket path of the status socket; empty: none.
  std::string status_socket;
  // Opens endpoints; tests substitute an in-memory network. Default: transport::open_endpoint.
  std::function<transport::TransportResult<std::unique_ptr<transport::Endpoint>>(
      const transport::EndpointOptions&)>
      open_endpoint;
  std::function<void(const Event&)> on_event;
};

enum class ServiceErrc : std::uint8_t {
  InvalidArgument,  // bad options (id 0, ...)
  Unavailable,      // the transport backend is not available
  AddressInUse,     // a listen port is taken
  SystemError,      // any other OS failure (status socket, announce socket)
};
using ServiceError = Error<ServiceErrc>;

// A random non-zero 32-bit registrar id (RFC 5353 §2: chosen at random when not configured).
RegistrarId random_registrar_id();

class Service {
 public:
  static Result<std::unique_ptr<Service>, ServiceErrc> start(boost::asio::io_context& io,
                                                             ServiceOptions options);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Orderly stop: closes the endpoints (associations are aborted: PEs re-register elsewhere),
  // the announce and status sockets; removes the status socket file. Idempotent.
  void stop();

  const RegistrarCore& core() const noexcept;
  RegistrarId id() const noexcept;
  transport::Backend backend() const noexcept;
  // What the endpoints are bound to (ports resolved when 0 was asked for).
  std::vector<SocketAddress> listening() const;
  // The interfaces SERVER_ANNOUNCE goes out on ("" = the routing table's choice); empty when
  // not announcing.
  std::vector<std::string> announce_interfaces() const;
  std::string status_text() const;
  std::string status_json() const;

 private:
  Service();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rsp::registrar
