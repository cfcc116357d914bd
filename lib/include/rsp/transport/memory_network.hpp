// An in-memory SCTP network for deterministic protocol tests: same Endpoint interface, no
// sockets, no threads, no clocks. Every delivery (message, event) is an asio::post on the
// network's io_context, in the order the sends happened, so a test drives it with io.poll()
// or io.run_one() and gets the same interleaving every run.
//
// Model: endpoints are named by port, unique within the network (port 0 picks 49152, 49153, ...);
// an endpoint with no local addresses gets 127.0.0.1. A send to addr:port reaches the endpoint
// bound to that port when it listens and addr is one of its addresses. Association setup takes
// one delivery step: connect() returns an id, Up is posted to both sides (or CannotStart to
// the initiator when nothing listens there). Faults are injected by the test: disconnect() two
// endpoints (their associations get Lost on both sides, later connects get CannotStart until
// reconnect()), or fail() an endpoint as if its process died (peers see Lost).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "rsp/transport/endpoint.hpp"

namespace rsp::transport {

class MemoryNetwork {
 public:
  explicit MemoryNetwork(boost::asio::io_context& io);
  ~MemoryNetwork();
  MemoryNetwork(const MemoryNetwork&) = delete;
  MemoryNetwork& operator=(const MemoryNetwork&) = delete;

  // options.backend is ignored (the result reports Backend::Memory). The network must outlive
  // its endpoints.
  TransportResult<std::unique_ptr<Endpoint>> open(const EndpointOptions& options);

  // Cuts the path between the endpoints on ports a and b: live associations between them are
  // Lost on both sides (queued messages come back via on_send_failed), new ones CannotStart.
  void disconnect(std::uint16_t port_a, std::uint16_t port_b);
  void reconnect(std::uint16_t port_a, std::uint16_t port_b);
  // The endpoint on `port` vanishes as if its process were killed: its peers see Lost, it
  // receives nothing more and its handlers are not called again. Its port stays taken.
  void fail(std::uint16_t port);

  // The smoothed RTT every association reports (default 1 ms).
  void set_smoothed_rtt(std::chrono::microseconds rtt);

  // Messages delivered so far, over all endpoints (for tests that count traffic).
  std::uint64_t delivered_messages() const noexcept;

  struct State;  // implementation detail, shared with the endpoints

 private:
  std::shared_ptr<State> state_;
};

}  // namespace rsp::transport
