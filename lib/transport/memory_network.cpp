// The in-memory network: deterministic delivery through asio::post, faults injected by tests.
#include "rsp/transport/memory_network.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace rsp::transport {
// Named, not anonymous: MemoryNetwork::State holds these types, and GCC's
// -Wsubobject-linkage rejects that when this file is compiled in a unity batch (scripts/test.sh).
// A name of this file's own.
namespace memory_network_impl {

struct MemoryAssociation {
  std::uint16_t peer_port = 0;
  AssociationId peer_id = 0;  // 0 until set up
  TransportAddress peer;
  bool up = false;
  std::vector<std::pair<SendInfo, std::vector<std::byte>>> pending;  // sent before Up
};

class MemoryEndpoint;

}  // namespace memory_network_impl
using namespace memory_network_impl;

struct MemoryNetwork::State {
  explicit State(boost::asio::io_context& context) : io(context) {}
  boost::asio::io_context& io;
  std::map<std::uint16_t, MemoryEndpoint*> endpoints;  // open and not failed
  std::set<std::uint16_t> taken_ports;                 // includes failed ones
  std::set<std::pair<std::uint16_t, std::uint16_t>> cuts;  // (low, high)
  std::uint16_t next_port = 49152;
  AssociationId next_association = 1;
  std::chrono::microseconds rtt{1000};
  std::uint64_t delivered = 0;

  bool is_cut(std::uint16_t a, std::uint16_t b) const {
    return cuts.count({std::min(a, b), std::max(a, b)}) != 0;
  }
  MemoryEndpoint* find(std::uint16_t port) const {
    auto it = endpoints.find(port);
    return it == endpoints.end() ? nullptr : it->second;
  }
};

namespace memory_network_impl {

using State = MemoryNetwork::State;

class MemoryEndpoint final : public Endpoint {
 public:
  MemoryEndpoint(std::shared_ptr<State> state, std::uint16_t port, std::vector<IpAddress> addresses,
                 const EndpointOptions& options)
      : state_(std::move(state)), port_(port), addresses_(std::move(addresses)),
        listen_(options.listen), parameters_(options.parameters),
        max_message_size_(options.max_message_size) {}
  ~MemoryEndpoint() override { close(); }

  Backend backend() const noexcept override { return Backend::Memory; }
  std::uint16_t local_port() const noexcept override { return port_; }
  std::vector<IpAddress> local_addresses() const override { return addresses_; }
  void set_handlers(EndpointHandlers handlers) override { handlers_ = std::move(handlers); }

  TransportResult<AssociationId> connect(const TransportAddress& peer) override {
    if (!open_) return make_error(TransportErrc::Closed, "endpoint closed");
    if (peer.port == 0) return make_error(TransportErrc::InvalidArgument, "peer port 0");
    const AssociationId id = state_->next_association++;
    MemoryAssociation a;
    a.peer_port = peer.port;
    a.peer = peer;
    associations_.emplace(id, std::move(a));
    post([this_port = port_, id, peer](State& s) {
      auto* self = s.find(this_port);
      if (self == nullptr) return;
      self->complete_setup(id, peer);
    });
    return id;
  }

  TransportResult<void> send(AssociationId id, std::span<const std::byte> payload,
                             const SendInfo& info) override {
    if (!open_) return make_error(TransportErrc::Closed, "endpoint closed");
    auto it = associations_.find(id);
    if (it == associations_.end()) return make_error(TransportErrc::NoSuchAssociation, "no such association");
    if (auto e = check(payload, info); !e) return e;
    std::vector<std::byte> bytes(payload.begin(), payload.end());
    if (!it->second.up) {
      it->second.pending.emplace_back(info, std::move(bytes));
      return {};
    }
    transmit(id, it->second, info, std::move(bytes));
    return {};
  }

  TransportResult<AssociationId> send_to(const TransportAddress& peer,
                                         std::span<const std::byte> payload,
                                         const SendInfo& info) override {
    if (!open_) return make_error(TransportErrc::Closed, "endpoint closed");
    for (auto& [id, a] : associations_) {
      if (a.peer_port == peer.port && matches(a.peer, peer)) {
        if (auto r = send(id, payload, info); !r) return std::move(r).error();
        return id;
      }
    }
    if (auto e = check(payload, info); !e) return std::move(e).error();
    auto id = connect(peer);
    if (!id) return id;
    if (auto r = send(*id, payload, info); !r) return std::move(r).error();
    return id;
  }

  TransportResult<void> shutdown(AssociationId id) override {
    auto it = associations_.find(id);
    if (!open_ || it == associations_.end()) return make_error(TransportErrc::NoSuchAssociation, "no such association");
    // Posted after every message already sent, so they are delivered first (RFC 4960 §9.2).
    const auto peer_port = it->second.peer_port;
    const auto peer_id = it->second.peer_id;
    post([this_port = port_, id, peer_port, peer_id](State& s) {
      if (auto* self = s.find(this_port)) self->end_association(id, AssociationEventKind::ShutdownComplete, false);
      if (auto* peer = s.find(peer_port)) peer->end_association(peer_id, AssociationEventKind::ShutdownComplete, false);
    });
    return {};
  }

  TransportResult<void> abort(AssociationId id) override {
    auto it = associations_.find(id);
    if (!open_ || it == associations_.end()) return make_error(TransportErrc::NoSuchAssociation, "no such association");
    const auto peer_port = it->second.peer_port;
    const auto peer_id = it->second.peer_id;
    post([this_port = port_, id, peer_port, peer_id](State& s) {
      if (auto* self = s.find(this_port)) self->end_association(id, AssociationEventKind::Lost, true);
      if (auto* peer = s.find(peer_port)) peer->end_association(peer_id, AssociationEventKind::Lost, true);
    });
    return {};
  }

  std::optional<AssociationStatus> status(AssociationId id) const override {
    auto it = associations_.find(id);
    if (it == associations_.end()) return std::nullopt;
    AssociationStatus st;
    st.association = id;
    st.peer = it->second.peer;
    st.inbound_streams = parameters_.max_inbound_streams;
    st.outbound_streams = parameters_.outbound_streams;
    if (it->second.up) st.smoothed_rtt = state_->rtt;
    return st;
  }

  std::vector<AssociationId> associations() const override {
    std::vector<AssociationId> ids;
    for (const auto& [id, a] : associations_) ids.push_back(id);
    return ids;
  }

  TransportResult<void> set_parameters(const AssociationParameters& parameters) override {
    parameters_ = parameters;
    return {};
  }

  void close() override {
    if (!open_) return;
    open_ = false;
    handlers_ = {};
    // Peers see the associations go away as if we had aborted them.
    for (auto& [id, a] : associations_) {
      if (a.peer_id == 0) continue;
      post([peer_port = a.peer_port, peer_id = a.peer_id](State& s) {
        if (auto* peer = s.find(peer_port)) peer->end_association(peer_id, AssociationEventKind::Lost, true);
      });
    }
    associations_.clear();
    if (state_->find(port_) == this) state_->endpoints.erase(port_);
    if (!failed_) state_->taken_ports.erase(port_);
  }

  // --- network side ---

  void fail() {
    failed_ = true;
    close();
  }

  void cut_from(std::uint16_t peer_port) {
    std::vector<AssociationId> ids;
    for (const auto& [id, a] : associations_) if (a.peer_port == peer_port) ids.push_back(id);
    for (auto id : ids) {
      post([this_port = port_, id](State& s) {
        if (auto* self = s.find(this_port)) self->end_association(id, AssociationEventKind::Lost, true);
      });
    }
  }

  bool accepts(const TransportAddress& to) const {
    if (!listen_ || !open_) return false;
    return matches_local(to);
  }

  // Called on the initiator: the INIT "arrives" at the peer.
  void complete_setup(AssociationId id, const TransportAddress& peer) {
    auto it = associations_.find(id);
    if (it == associations_.end()) return;
    auto* target = state_->find(peer.port);
    if (target == nullptr || !target->accepts(peer) || state_->is_cut(port_, peer.port)) {
      auto pending = std::move(it->second.pending);
      associations_.erase(it);
      AssociationEvent ev{AssociationEventKind::CannotStart, id, peer, 0, 0};
      if (auto h = handlers_.on_association) h(ev);
      for (auto& [info, bytes] : pending) return_unsent(id, info, std::move(bytes), false);
      return;
    }
    const AssociationId remote_id = state_->next_association++;
    MemoryAssociation ra;
    ra.peer_port = port_;
    ra.peer_id = id;
    ra.peer.protocol = TransportProtocol::Sctp;
    ra.peer.port = port_;
    for (const auto& address : addresses_) ra.peer.addresses.push_back(address);
    ra.up = true;
    target->associations_.emplace(remote_id, ra);
    it->second.peer_id = remote_id;
    it->second.up = true;
    const auto streams_out = parameters_.outbound_streams;
    const auto streams_in = parameters_.max_inbound_streams;
    if (auto h = target->handlers_.on_association) {
      h(AssociationEvent{AssociationEventKind::Up, remote_id, ra.peer, streams_out, streams_in});
    }
    // The target's handler may have closed things; look ourselves up again.
    auto mine = associations_.find(id);
    if (mine == associations_.end()) return;
    if (auto h = handlers_.on_association) {
      h(AssociationEvent{AssociationEventKind::Up, id, peer, streams_in, streams_out});
    }
    mine = associations_.find(id);
    if (mine == associations_.end()) return;
    auto pending = std::move(mine->second.pending);
    for (auto& [info, bytes] : pending) transmit(id, mine->second, info, std::move(bytes));
  }

  void deliver(AssociationId id, const SendInfo& info, std::vector<std::byte> bytes) {
    auto it = associations_.find(id);
    if (it == associations_.end()) return;
    ++state_->delivered;
    ReceivedMessage m;
    m.association = id;
    m.peer = it->second.peer;
    m.ppid = info.ppid;
    m.stream = info.stream;
    m.unordered = info.unordered;
    m.payload = std::move(bytes);
    // Paused, or earlier messages still held: in order, after them.
    if (paused_ || !held_.empty()) {
      held_.push_back(std::move(m));
      return;
    }
    if (auto h = handlers_.on_message) h(std::move(m));
  }

  void pause_receiving(bool paused) override {
    paused_ = paused;
    if (paused || held_.empty()) return;
    post([this_port = port_](State& s) {
      if (auto* self = s.find(this_port)) self->release_held();
    });
  }

  void release_held() {
    while (!paused_ && !held_.empty() && open_ && !failed_) {
      ReceivedMessage m = std::move(held_.front());
      held_.pop_front();
      if (associations_.count(m.association) == 0) continue;  // ended meanwhile
      if (auto h = handlers_.on_message) h(std::move(m));
    }
  }

  void return_unsent(AssociationId id, const SendInfo& info, std::vector<std::byte> bytes, bool sent) {
    if (auto h = handlers_.on_send_failed) h(SendFailure{id, info, std::move(bytes), sent});
  }

  void end_association(AssociationId id, AssociationEventKind kind, bool) {
    auto it = associations_.find(id);
    if (it == associations_.end()) return;
    auto peer = it->second.peer;
    auto pending = std::move(it->second.pending);
    associations_.erase(it);
    if (auto h = handlers_.on_association) h(AssociationEvent{kind, id, peer, 0, 0});
    for (auto& [info, bytes] : pending) return_unsent(id, info, std::move(bytes), false);
  }

 private:
  template <typename F>
  void post(F f) {
    boost::asio::post(state_->io, [weak = std::weak_ptr<State>(state_), f = std::move(f)]() mutable {
      if (auto s = weak.lock()) f(*s);
    });
  }

  void transmit(AssociationId id, const MemoryAssociation& a, const SendInfo& info,
                std::vector<std::byte> bytes) {
    post([this_port = port_, id, peer_port = a.peer_port, peer_id = a.peer_id, info,
          bytes = std::move(bytes)](State& s) mutable {
      auto* peer = s.find(peer_port);
      auto* self = s.find(this_port);
      const bool reachable = peer != nullptr && !s.is_cut(this_port, peer_port) &&
                             peer->associations_.count(peer_id) != 0;
      if (reachable) {
        peer->deliver(peer_id, info, std::move(bytes));
      } else if (self != nullptr) {
        self->return_unsent(id, info, std::move(bytes), true);
      }
    });
  }

  TransportResult<void> check(std::span<const std::byte> payload, const SendInfo& info) const {
    if (payload.empty()) return make_error(TransportErrc::InvalidArgument, "empty message");
    if (payload.size() > max_message_size_)
      return make_error(TransportErrc::InvalidArgument, "message larger than max_message_size");
    if (info.stream >= parameters_.outbound_streams)
      return make_error(TransportErrc::InvalidArgument, "stream number beyond the outbound streams");
    return {};
  }

  static bool matches(const TransportAddress& known, const TransportAddress& wanted) {
    if (wanted.addresses.empty() || known.addresses.empty()) return true;
    for (const auto& w : wanted.addresses)
      for (const auto& k : known.addresses)
        if (w == k) return true;
    return false;
  }

  bool matches_local(const TransportAddress& to) const {
    if (to.addresses.empty()) return true;
    for (const auto& w : to.addresses)
      for (const auto& k : addresses_)
        if (w == k) return true;
    return false;
  }

  std::shared_ptr<State> state_;
  std::uint16_t port_;
  std::vector<IpAddress> addresses_;
  bool listen_;
  AssociationParameters parameters_;
  std::size_t max_message_size_;
  EndpointHandlers handlers_;
  std::map<AssociationId, MemoryAssociation> associations_;
  bool open_ = true;
  bool failed_ = false;
  bool paused_ = false;                // pause_receiving(true)
  std::deque<ReceivedMessage> held_;   // delivered while paused, in order
};

}  // namespace memory_network_impl

MemoryNetwork::MemoryNetwork(boost::asio::io_context& io) : state_(std::make_shared<State>(io)) {}
MemoryNetwork::~MemoryNetwork() = default;

TransportResult<std::unique_ptr<Endpoint>> MemoryNetwork::open(const EndpointOptions& options) {
  std::uint16_t port = options.port;
  if (port == 0) {
    while (state_->taken_ports.count(state_->next_port) != 0) ++state_->next_port;
    port = state_->next_port++;
  } else if (state_->taken_ports.count(port) != 0) {
    return make_error(TransportErrc::AddressInUse, "port " + std::to_string(port) + " is taken");
  }
  auto addresses = options.local_addresses;
  if (addresses.empty()) addresses.push_back(IpAddress::v4(127, 0, 0, 1));
  auto ep = std::make_unique<MemoryEndpoint>(state_, port, std::move(addresses), options);
  state_->endpoints[port] = ep.get();
  state_->taken_ports.insert(port);
  return std::unique_ptr<Endpoint>(std::move(ep));
}

void MemoryNetwork::disconnect(std::uint16_t a, std::uint16_t b) {
  state_->cuts.insert({std::min(a, b), std::max(a, b)});
  if (auto* ea = state_->find(a)) ea->cut_from(b);
  if (auto* eb = state_->find(b)) eb->cut_from(a);
}

void MemoryNetwork::reconnect(std::uint16_t a, std::uint16_t b) {
  state_->cuts.erase({std::min(a, b), std::max(a, b)});
}

void MemoryNetwork::fail(std::uint16_t port) {
  if (auto* e = state_->find(port)) e->fail();
}

void MemoryNetwork::set_smoothed_rtt(std::chrono::microseconds rtt) { state_->rtt = rtt; }

std::uint64_t MemoryNetwork::delivered_messages() const noexcept { return state_->delivered; }

}  // namespace rsp::transport
