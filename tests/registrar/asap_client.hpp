// A raw ASAP client for the registrar's real-process tests, written with the wire codec and the
// transport directly (not the rsp_* API): it sends any bytes, collects whatever comes back, and
// answers ENDPOINT_KEEP_ALIVE like a PE would (unless told not to).
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rsp/transport/endpoint.hpp"
#include "rsp/wire/codec.hpp"

namespace rsp::registrar::test {

// Runs `io` until `done()` or `limit` passes; returns done().
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(std::min<std::chrono::steady_clock::duration>(deadline - now, std::chrono::milliseconds(50)));
  }
  return true;
}

inline TransportAddress loopback(std::uint16_t port) {
  TransportAddress a;
  a.port = port;
  a.addresses.push_back(IpAddress::v4(127, 0, 0, 1));
  return a;
}

inline transport::AssociationParameters quick_sctp() {
  transport::AssociationParameters p;
  // Quick set-up on loopback, but tolerant of a registrar slowed down by sanitizers and a
  // loaded machine: the association must outlive seconds without an answer.
  p.rto_initial = std::chrono::milliseconds(200);
  p.rto_min = std::chrono::milliseconds(100);
  p.rto_max = std::chrono::milliseconds(2000);
  p.heartbeat_interval = std::chrono::milliseconds(2000);
  p.max_retransmissions = 30;
  p.path_max_retransmissions = 30;
  p.max_init_retransmissions = 8;
  return p;
}

class AsapClient {
 public:
  AsapClient(boost::asio::io_context& io, std::uint16_t registrar_port) : io_(io) {
    transport::EndpointOptions o;
    o.backend = transport::Backend::Udp;
    o.local_addresses = {IpAddress::v4(127, 0, 0, 1)};
    o.port = 0;
    o.listen = false;
    o.parameters = quick_sctp();
    auto r = transport::open_endpoint(io, o);
    if (!r) throw std::runtime_error("open_endpoint: " + r.error().message);
    endpoint_ = std::move(*r);
    transport::EndpointHandlers h;
    h.on_message = [this](transport::ReceivedMessage&& m) {
      auto decoded = wire::decode_asap(m.payload);
      if (decoded && answer_keepalives &&
          std::holds_alternative<wire::asap::EndpointKeepAlive>(*decoded)) {
        const auto& ka = std::get<wire::asap::EndpointKeepAlive>(*decoded);
        ++keepalives;
        send(wire::asap::EndpointKeepAliveAck{ka.pool_handle, ka.pe_id});
        return;
      }
      if (decoded) {
        inbox.push_back(std::move(*decoded));
        if (on_arrival) on_arrival();
      } else {
        ++undecodable;
      }
    };
    h.on_association = [this](const transport::AssociationEvent& e) {
      if (e.kind == transport::AssociationEventKind::Up) up = true;
      else lost = true;
    };
    endpoint_->set_handlers(std::move(h));
    auto c = endpoint_->connect(loopback(registrar_port));
    if (!c) throw std::runtime_error("connect: " + c.error().message);
    association_ = *c;
  }

  std::uint16_t port() const { return endpoint_->local_port(); }
  bool wait_up(std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    return run_until(io_, [this] { return up || lost; }, limit) && up;
  }
  bool send_bytes(std::span<const std::byte> bytes) {
    return endpoint_->send(association_, bytes, transport::SendInfo{wire::kAsapPpid, 0}).has_value();
  }
  bool send(const wire::AsapMessage& m) { return send_bytes(wire::encode(m)); }

  // The next message that arrives (keep-alives excluded), within `limit`.
  std::optional<wire::AsapMessage> next(std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    if (!run_until(io_, [this] { return !inbox.empty(); }, limit)) return std::nullopt;
    auto m = std::move(inbox.front());
    inbox.pop_front();
    return m;
  }
  template <typename M>
  std::optional<M> next_as(std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    auto m = next(limit);
    if (!m || !std::holds_alternative<M>(*m)) return std::nullopt;
    return std::get<M>(std::move(*m));
  }
  void close() { endpoint_->close(); }

  bool answer_keepalives = true;
  // Called right after a message joins `inbox` (load generators timestamp arrivals here).
  std::function<void()> on_arrival;
  bool up = false;
  bool lost = false;
  int keepalives = 0;
  int undecodable = 0;
  std::deque<wire::AsapMessage> inbox;

 private:
  boost::asio::io_context& io_;
  std::unique_ptr<transport::Endpoint> endpoint_;
  transport::AssociationId association_ = 0;
};

inline wire::asap::Registration make_registration(std::string_view pool, PoolElementId id,
                                                  std::uint16_t port,
                                                  PolicyType policy = PolicyType::RoundRobin,
                                                  std::chrono::milliseconds life = std::chrono::seconds(60)) {
  wire::asap::Registration r;
  r.pool_handle = PoolHandle(pool);
  r.pool_element.id = id;
  r.pool_element.registration_life = life;
  r.pool_element.user_transport.protocol = TransportProtocol::Sctp;
  r.pool_element.user_transport.port = port;
  r.pool_element.user_transport.addresses.push_back(IpAddress::v4(127, 0, 0, 1));
  r.pool_element.policy.type = policy;
  return r;
}

}  // namespace rsp::registrar::test
