// Deterministic ASAP tests: a MemoryNetwork, a ManualClock, and a minimal fake registrar that
// speaks ASAP with the wire codec (accepts or rejects registrations, answers handle resolutions,
// records everything, can stay silent or send keep-alives).
#pragma once

#include <algorithm>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "rsp/asap.hpp"
#include "rsp/transport/memory_network.hpp"
#include "rsp/wire/codec.hpp"

namespace rsp::asap::test {

namespace msg = wire::asap;

inline TransportAddress loopback(std::uint16_t port) {
  TransportAddress a;
  a.port = port;
  a.addresses.push_back(IpAddress::v4(127, 0, 0, 1));
  return a;
}

inline std::vector<std::byte> bytes(std::string_view text) {
  const auto* p = reinterpret_cast<const std::byte*>(text.data());
  return {p, p + text.size()};
}
inline std::string text(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

inline SendOptions with_ppid(std::uint32_t ppid, bool failover_allowed = true) {
  SendOptions o;
  o.ppid = ppid;
  o.failover_allowed = failover_allowed;
  return o;
}
inline transport::SendInfo send_info(std::uint32_t ppid, std::uint16_t stream = 0) {
  transport::SendInfo i;
  i.ppid = ppid;
  i.stream = stream;
  return i;
}

// Timers small enough to read in tests; the protocol logic is the same at any scale.
inline Timers test_timers() {
  Timers t;
  t.request_timeout = std::chrono::milliseconds(500);
  t.registration_timeout = std::chrono::milliseconds(500);
  t.deregistration_timeout = std::chrono::milliseconds(500);
  t.max_request_retransmit = 2;
  t.registration_lifetime = std::chrono::seconds(10);
  t.reregistration_interval = std::chrono::seconds(4);
  t.server_hunt_timeout = std::chrono::milliseconds(300);
  t.server_hunt_retry_delay = std::chrono::milliseconds(200);
  t.server_hunt_rounds = 2;
  t.stale_cache = std::chrono::seconds(2);
  t.failover_connect_timeout = std::chrono::milliseconds(100);
  return t;
}

// Peers that died without a word: an INIT to one of `ports` is never answered (a killed
// usrsctp process or a frozen host sends no ABORT), so the setup gets neither Up nor an
// immediate CannotStart; the stack gives up after `give_up` (its INIT retransmissions).
struct SilentPeers {
  std::set<std::uint16_t> ports;
  Duration give_up = std::chrono::seconds(10);
  std::vector<std::uint16_t> connects;   // every connect through a wrapped endpoint, by port
  std::vector<transport::AssociationId> aborted;  // silent setups aborted by their owner
};

// An endpoint of the in-memory network with SilentPeers applied to its connects.
class SilentPeersEndpoint final : public transport::Endpoint {
 public:
  SilentPeersEndpoint(std::unique_ptr<transport::Endpoint> inner, SilentPeers& peers, TimeSource& time,
                      boost::asio::io_context& io)
      : inner_(std::move(inner)), peers_(peers), time_(time), io_(io) {}

  transport::Backend backend() const noexcept override { return inner_->backend(); }
  std::uint16_t local_port() const noexcept override { return inner_->local_port(); }
  std::vector<IpAddress> local_addresses() const override { return inner_->local_addresses(); }
  void set_handlers(transport::EndpointHandlers handlers) override {
    handlers_ = handlers;
    inner_->set_handlers(std::move(handlers));
  }
  transport::TransportResult<transport::AssociationId> connect(const TransportAddress& peer) override {
    peers_.connects.push_back(peer.port);
    if (peers_.ports.count(peer.port) == 0) return inner_->connect(peer);
    const transport::AssociationId id = next_silent_++;
    auto timer = time_.make_timer();
    timer->start(peers_.give_up, [this, id, peer] {
      silent_.erase(id);
      if (handlers_.on_association) {
        handlers_.on_association({transport::AssociationEventKind::CannotStart, id, peer, 0, 0});
      }
    });
    silent_[id] = std::move(timer);
    return id;
  }
  transport::TransportResult<void> send(transport::AssociationId a, std::span<const std::byte> payload,
                                        const transport::SendInfo& info) override {
    if (silent_.count(a) != 0) FAIL_CHECK("data sent on an association that never came up");
    return inner_->send(a, payload, info);
  }
  transport::TransportResult<transport::AssociationId> send_to(const TransportAddress& peer,
                                                               std::span<const std::byte> payload,
                                                               const transport::SendInfo& info) override {
    return inner_->send_to(peer, payload, info);
  }
  transport::TransportResult<void> shutdown(transport::AssociationId a) override {
    if (silent_.count(a) != 0) return abort(a);
    return inner_->shutdown(a);
  }
  transport::TransportResult<void> abort(transport::AssociationId a) override {
    if (silent_.erase(a) == 0) return inner_->abort(a);
    peers_.aborted.push_back(a);
    boost::asio::post(io_, [this, alive = std::weak_ptr<int>(alive_), a] {
      if (!alive.expired() && handlers_.on_association) {
        handlers_.on_association({transport::AssociationEventKind::Lost, a, {}, 0, 0});
      }
    });
    return {};
  }
  std::optional<transport::AssociationStatus> status(transport::AssociationId a) const override {
    return inner_->status(a);
  }
  void pause_receiving(bool paused) override { inner_->pause_receiving(paused); }
  std::vector<transport::AssociationId> associations() const override {
    auto all = inner_->associations();
    for (const auto& [a, timer] : silent_) all.push_back(a);
    return all;
  }
  transport::TransportResult<void> set_parameters(const transport::AssociationParameters& p) override {
    return inner_->set_parameters(p);
  }
  void close() override {
    silent_.clear();
    alive_.reset();
    inner_->close();
  }

 private:
  std::unique_ptr<transport::Endpoint> inner_;
  SilentPeers& peers_;
  TimeSource& time_;
  boost::asio::io_context& io_;
  transport::EndpointHandlers handlers_;
  std::map<transport::AssociationId, std::unique_ptr<Timer>> silent_;
  transport::AssociationId next_silent_ = 0x80000000u;  // apart from the network's ids
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

struct Net {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work =
      boost::asio::make_work_guard(io);
  transport::MemoryNetwork network{io};
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();

  // Runs every ready handler (deliveries, posted events) at the current simulated time.
  void drain() {
    for (int i = 0; i < 100000 && io.poll() > 0; ++i) {
    }
  }
  void advance(Duration by) {
    clock->advance(by, [this] { drain(); });
  }

  // With `silent`, the context's endpoints leave INITs to its ports unanswered.
  std::unique_ptr<Context> context(std::vector<std::uint16_t> registrar_ports, Timers timers = test_timers(),
                                   SilentPeers* silent = nullptr) {
    ContextOptions o;
    for (auto p : registrar_ports) o.config.source.registrars.push_back(loopback(p));
    o.config.source.use_environment = false;
    o.config.source.use_announcements = registrar_ports.empty();
    o.config.timers = timers;
    o.time = clock;
    o.open_announce_socket = false;
    o.random_seed = 42;
    o.endpoint_factory = [this, silent](const transport::EndpointOptions& eo)
        -> transport::TransportResult<std::unique_ptr<transport::Endpoint>> {
      auto ep = network.open(eo);
      if (!ep || silent == nullptr) return ep;
      return std::unique_ptr<transport::Endpoint>(
          std::make_unique<SilentPeersEndpoint>(std::move(*ep), *silent, *clock, io));
    };
    auto c = Context::create(io, std::move(o));
    REQUIRE(c.has_value());
    return std::move(*c);
  }
};

class FakeRegistrar {
 public:
  FakeRegistrar(Net& net, std::uint16_t port, RegistrarId id) : net_(net), id_(id) {
    transport::EndpointOptions o;
    o.port = port;
    auto ep = net.network.open(o);
    REQUIRE(ep.has_value());
    endpoint_ = std::move(*ep);
    transport::EndpointHandlers h;
    h.on_message = [this](transport::ReceivedMessage&& m) { on_message(std::move(m)); };
    endpoint_->set_handlers(std::move(h));
  }

  std::uint16_t port() const { return endpoint_->local_port(); }
  RegistrarId id() const { return id_; }

  // Behaviour switches.
  bool silent = false;                          // never answer
  std::optional<wire::CauseCode> reject_with;   // reject registrations with this cause
  // Answer registrations and resolutions with an ASAP ERROR (RFC 5352 §2.2.14) carrying this
  // cause (Unrecognized Message echoes the request).
  std::optional<wire::CauseCode> error_with;

  // What arrived.
  std::vector<msg::Registration> registrations;
  std::vector<msg::Deregistration> deregistrations;
  std::vector<msg::HandleResolution> resolutions;
  bool reverse_resolutions = false;  // answer resolutions in descending id order
  std::vector<msg::EndpointUnreachable> unreachable;
  std::vector<msg::EndpointKeepAliveAck> keep_alive_acks;
  std::map<PoolHandle, std::map<PoolElementId, wire::PoolElement>> pools;

  // Registers a PE directly (as if learned from a peer registrar).
  void add(const PoolHandle& pool, const wire::PoolElement& pe) { pools[pool][pe.id] = pe; }

  // RFC 5352 §3.7 after a takeover: a keep-alive over a new association to the PE's ASAP
  // transport (the registrar now owning the PE connects to it).
  void send_keep_alive_to(const TransportAddress& asap_transport, const PoolHandle& pool, PoolElementId pe,
                          bool home) {
    transport::SendInfo info;
    info.ppid = wire::kAsapPpid;
    auto a = endpoint_->send_to(asap_transport, wire::encode(msg::EndpointKeepAlive{home, id_, pool, pe}), info);
    REQUIRE(a.has_value());
    owner_[{pool, pe}] = *a;
  }

  // RFC 5352 §3.7: keep-alive to the PE over the association it registered on.
  void send_keep_alive(const PoolHandle& pool, PoolElementId pe, bool home) {
    auto it = owner_.find({pool, pe});
    REQUIRE(it != owner_.end());
    send(it->second, msg::EndpointKeepAlive{home, id_, pool, pe});
  }

 private:
  void send(transport::AssociationId a, const wire::AsapMessage& m) {
    transport::SendInfo info;
    info.ppid = wire::kAsapPpid;
    REQUIRE(endpoint_->send(a, wire::encode(m), info).has_value());
  }

  void on_message(transport::ReceivedMessage&& m) {
    REQUIRE(m.ppid == wire::kAsapPpid);
    auto decoded = wire::decode_asap(m.payload);
    REQUIRE(decoded.has_value());
    if (error_with && (std::holds_alternative<msg::Registration>(*decoded) ||
                       std::holds_alternative<msg::HandleResolution>(*decoded))) {
      if (auto* r = std::get_if<msg::Registration>(&*decoded)) registrations.push_back(*r);
      if (auto* h = std::get_if<msg::HandleResolution>(&*decoded)) resolutions.push_back(*h);
      wire::ErrorCause cause{*error_with, {}};
      if (*error_with == wire::CauseCode::UnrecognizedMessage) cause.info = m.payload;
      send(m.association, msg::ErrorMessage{wire::OperationError{{cause}}});
      return;
    }
    if (auto* r = std::get_if<msg::Registration>(&*decoded)) {
      registrations.push_back(*r);
      if (silent) return;
      msg::RegistrationResponse resp{false, r->pool_handle, r->pool_element.id, std::nullopt};
      if (reject_with) {
        resp.rejected = true;
        resp.error = wire::OperationError{{wire::ErrorCause{*reject_with, {}}}};
      } else {
        auto pe = r->pool_element;
        pe.home_registrar_id = id_;
        pools[r->pool_handle][pe.id] = pe;
        owner_[{r->pool_handle, pe.id}] = m.association;
      }
      send(m.association, resp);
    } else if (auto* d = std::get_if<msg::Deregistration>(&*decoded)) {
      deregistrations.push_back(*d);
      if (silent) return;
      pools[d->pool_handle].erase(d->pe_id);
      send(m.association, msg::DeregistrationResponse{d->pool_handle, d->pe_id, std::nullopt});
    } else if (auto* h = std::get_if<msg::HandleResolution>(&*decoded)) {
      resolutions.push_back(*h);
      if (silent) return;
      msg::HandleResolutionResponse resp;
      resp.pool_handle = h->pool_handle;
      auto it = pools.find(h->pool_handle);
      if (it == pools.end()) {
        resp.error = wire::OperationError{{wire::ErrorCause{wire::CauseCode::UnknownPoolHandle, {}}}};
      } else {
        const std::size_t limit = h->option && h->option->items != 0 ? h->option->items : 100;
        for (const auto& [id, pe] : it->second) {
          if (resp.pool_elements.size() == limit) break;
          resp.pool_elements.push_back(pe);
        }
        // A real registrar orders the answer by the pool's policy (RFC 5356); tests may ask
        // for an order other than ascending ids to see that the PU keeps it.
        if (reverse_resolutions) std::reverse(resp.pool_elements.begin(), resp.pool_elements.end());
      }
      send(m.association, resp);
    } else if (auto* u = std::get_if<msg::EndpointUnreachable>(&*decoded)) {
      unreachable.push_back(*u);
    } else if (auto* k = std::get_if<msg::EndpointKeepAliveAck>(&*decoded)) {
      keep_alive_acks.push_back(*k);
    }
  }

  Net& net_;
  RegistrarId id_;
  std::unique_ptr<transport::Endpoint> endpoint_;
  std::map<std::pair<PoolHandle, PoolElementId>, transport::AssociationId> owner_;
};

// Collects events of a PE or PU.
template <typename Event>
struct Recorder {
  std::vector<Event> events;
  auto handler() {
    return [this](const Event& e) { events.push_back(e); };
  }
  template <typename Kind>
  std::size_t count(Kind kind) const {
    std::size_t n = 0;
    for (const auto& e : events) n += e.kind == kind ? 1 : 0;
    return n;
  }
  template <typename Kind>
  const Event* last(Kind kind) const {
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      if (it->kind == kind) return &*it;
    }
    return nullptr;
  }
};

}  // namespace rsp::asap::test
