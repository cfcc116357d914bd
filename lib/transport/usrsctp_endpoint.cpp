// The usrsctp backend. One usrsctp one-to-many AF_CONN socket per endpoint, bound to the
// endpoint's SCTP port; one UDP socket per local address (a dual-stack wildcard socket when none
// is given) bound to the same port number (docs/transport.md: "UDP port == SCTP port").
//
// Packet path: a readable UDP socket is drained with recvmmsg; each datagram's SCTP common header
// names the remote SCTP port, which with the source address picks the Peer whose address is the
// AF_CONN address handed to usrsctp_conninput. usrsctp answers through conn_output (Stack), which
// lands in output(): sendmmsg-batched while we process a burst, sent at once otherwise.
//
// Delivery path: usrsctp's socket upcall only marks the socket readable and posts a drain; the
// drain reads whole messages and notifications with usrsctp_recvv and calls the user's handlers.
// Handlers therefore never run inside usrsctp or inside a user's call into the endpoint.
#include "transport/usrsctp_endpoint.hpp"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <usrsctp.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <utility>

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>

#include "transport/crc32c.hpp"
#include "transport/usrsctp_address.hpp"
#include "transport/usrsctp_stack.hpp"

namespace rsp::transport {
namespace {

using boost::asio::ip::udp;
using usrsctp_detail::Peer;
using usrsctp_detail::Stack;

constexpr std::size_t kBatch = 16;                 // datagrams per recvmmsg/sendmmsg
constexpr std::size_t kMaxDatagram = 65536;
constexpr std::size_t kMaxPeers = 65536;           // bound on remote endpoints remembered
constexpr std::size_t kMaxBatchesPerWakeup = 8;    // then yield to other io_context work
constexpr std::uint8_t kChunkInit = 1;             // RFC 4960 §3.2
constexpr std::uint8_t kChunkCookieEcho = 10;

TransportError system_error(std::string_view what, int err) {
  TransportErrc code = TransportErrc::SystemError;
  if (err == EADDRINUSE) code = TransportErrc::AddressInUse;
  if (err == EWOULDBLOCK) code = TransportErrc::WouldBlock;
  if (err == ENOENT || err == ENOTCONN) code = TransportErrc::NoSuchAssociation;
  if (err == EINVAL || err == EMSGSIZE) code = TransportErrc::InvalidArgument;
  return make_error(code, std::string(what) + ": " + std::strerror(err));
}

struct Association {
  Peer* peer = nullptr;                 // primary peer (where it was started or first heard from)
  std::vector<std::byte> partial;       // RFC 6458 §8.1.20 partial delivery, reassembled here
};

// DATA chunk flags (RFC 4960 §3.3.1) as usrsctp reports them in a failed chunk's snd_flags.
constexpr std::uint16_t kChunkLast = 0x01;
constexpr std::uint16_t kChunkFirst = 0x02;
constexpr std::uint16_t kChunkUnordered = 0x04;

class UsrsctpEndpoint final : public Endpoint, public usrsctp_detail::PacketSink {
 public:
  UsrsctpEndpoint(boost::asio::io_context& io, const EndpointOptions& options)
      : io_(io), options_(options), rx_(options.max_message_size + 4096) {}
  ~UsrsctpEndpoint() override { close(); }

  TransportResult<void> open();

  Backend backend() const noexcept override { return Backend::Udp; }
  std::uint16_t local_port() const noexcept override { return port_; }
  std::vector<IpAddress> local_addresses() const override { return options_.local_addresses; }
  void set_handlers(EndpointHandlers handlers) override { handlers_ = std::move(handlers); }

  TransportResult<AssociationId> connect(const TransportAddress& peer) override;
  TransportResult<void> send(AssociationId id, std::span<const std::byte> payload,
                             const SendInfo& info) override;
  TransportResult<AssociationId> send_to(const TransportAddress& peer,
                                         std::span<const std::byte> payload,
                                         const SendInfo& info) override;
  TransportResult<void> shutdown(AssociationId id) override { return send_flag(id, SCTP_EOF); }
  TransportResult<void> abort(AssociationId id) override { return send_flag(id, SCTP_ABORT); }
  std::optional<AssociationStatus> status(AssociationId id) const override;
  std::vector<AssociationId> associations() const override;
  TransportResult<void> set_parameters(const AssociationParameters& parameters) override;
  void close() override;

  void output(Peer& peer, const void* packet, std::size_t length) override;
  void after_timers() override {
    if (sctp_ != nullptr && (usrsctp_get_events(sctp_) & SCTP_EVENT_READ) != 0) schedule_drain();
  }

 private:
  struct UdpSocket {
    explicit UdpSocket(boost::asio::io_context& io) : socket(io) {}
    udp::socket socket;
    bool dual_stack = false;
  };

  TransportResult<void> open_udp();
  TransportResult<void> open_sctp();
  void arm(std::size_t index);
  void on_readable(std::size_t index);
  void input(std::size_t index, const std::byte* data, std::size_t length, const udp::endpoint& from);
  void flush();
  void schedule_drain();
  void drain();
  bool handle_notification(const std::byte* data, std::size_t length);
  void handle_assoc_change(const sctp_assoc_change& change);
  void handle_send_failed(const sctp_send_failed_event& event, std::span<const std::byte> data);
  void flush_failures(std::optional<AssociationId> only);
  void emit_failures(std::vector<SendFailure> failures);
  void deliver(const sctp_rcvinfo& info, const sockaddr_conn& from, std::vector<std::byte> payload);
  Peer* find_or_add_peer(std::size_t socket_index, const IpAddress& address, std::uint16_t port);
  std::optional<std::size_t> socket_for(const IpAddress& address) const;
  Peer* peer_of(AssociationId id);
  TransportAddress address_of(const Peer* peer) const;
  void set_path_mtu(AssociationId id, Peer& peer);
  void set_default_mtu(std::uint32_t mtu);
  TransportResult<void> send_flag(AssociationId id, std::uint16_t flag);
  bool alive_after(const std::weak_ptr<int>& token) const { return !token.expired() && sctp_ != nullptr; }

  // Brackets a call into usrsctp. When the outermost one returns and usrsctp raised an upcall,
  // a drain is posted: handlers never run inside the call, and a drain that is already running
  // (or on_readable's, which drains itself) is not duplicated — a post from inside a handler
  // would cost the reactor an epoll_ctl and an extra wakeup per message.
  class StackCall {
   public:
    explicit StackCall(UsrsctpEndpoint& e) : e_(e), token_(e.alive_) { ++e_.stack_calls_; }
    ~StackCall() {
      if (token_.expired()) return;
      if (--e_.stack_calls_ == 0 && e_.readable_ && e_.sctp_ != nullptr) e_.schedule_drain();
    }
    StackCall(const StackCall&) = delete;
    StackCall& operator=(const StackCall&) = delete;

   private:
    UsrsctpEndpoint& e_;
    std::weak_ptr<int> token_;
  };

  boost::asio::io_context& io_;
  EndpointOptions options_;
  EndpointHandlers handlers_;
  std::vector<std::unique_ptr<UdpSocket>> sockets_;
  struct socket* sctp_ = nullptr;
  bool attached_ = false;
  std::uint16_t port_ = 0;
  std::map<std::pair<IpAddress, std::uint16_t>, std::unique_ptr<Peer>> peers_;
  std::map<AssociationId, Association> associations_;
  // Returned messages being put back together from per-chunk SEND_FAILED events, per stream.
  std::map<std::pair<AssociationId, std::uint16_t>, SendFailure> failing_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // weak copies guard posted work

  bool readable_ = false;      // usrsctp raised an upcall: messages or notifications may wait
  bool drain_posted_ = false;
  int stack_calls_ = 0;        // depth of our calls into usrsctp (StackCall)
  bool want_writable_ = false;
  std::vector<std::byte> rx_;
  std::uint32_t default_mtu_ = 0;  // the MTU new associations start with (set_default_mtu)

  // Receive batch (recvmmsg) and send batch (sendmmsg); batching_ while a burst is processed.
  std::vector<std::array<std::byte, kMaxDatagram>> rx_batch_{kBatch};
  bool batching_ = false;
  struct Pending {
    std::size_t socket_index;
    udp::endpoint to;
    std::vector<std::byte> bytes;
  };
  std::vector<Pending> tx_;
};

TransportResult<std::unique_ptr<Endpoint>> open_impl(boost::asio::io_context& io,
                                                     const EndpointOptions& options) {
  auto ep = std::make_unique<UsrsctpEndpoint>(io, options);
  if (auto r = ep->open(); !r) return std::move(r).error();
  return std::unique_ptr<Endpoint>(std::move(ep));
}

TransportResult<void> UsrsctpEndpoint::open() {
  if (auto r = Stack::instance().attach(io_, *this); !r) return r;
  attached_ = true;
  if (auto r = open_udp(); !r) return r;
  return open_sctp();
}

TransportResult<void> UsrsctpEndpoint::open_udp() {
  boost::system::error_code ec;
  std::uint16_t port = options_.port;
  auto bind_one = [&](const udp::endpoint& at, bool dual) -> TransportResult<void> {
    auto s = std::make_unique<UdpSocket>(io_);
    s->socket.open(at.protocol(), ec);
    if (ec) return make_error(TransportErrc::SystemError, "UDP socket: " + ec.message());
    if (dual) s->socket.set_option(boost::asio::ip::v6_only(false), ec);
    s->dual_stack = dual;
    const int size = static_cast<int>(options_.receive_buffer);
    s->socket.set_option(udp::socket::receive_buffer_size(size), ec);
    s->socket.set_option(udp::socket::send_buffer_size(static_cast<int>(options_.send_buffer)), ec);
    s->socket.bind(at, ec);
    if (ec) {
      const auto code = ec == boost::asio::error::address_in_use ? TransportErrc::AddressInUse
                                                                 : TransportErrc::SystemError;
      return make_error(code, "binding UDP " + at.address().to_string() + " port " +
                                  std::to_string(at.port()) + ": " + ec.message());
    }
    s->socket.non_blocking(true, ec);
    port = s->socket.local_endpoint().port();  // the ephemeral port, for the next addresses
    sockets_.push_back(std::move(s));
    return {};
  };
  if (options_.local_addresses.empty()) {
    // Dual-stack wildcard; fall back to IPv4 where IPv6 is disabled.
    if (auto r = bind_one(udp::endpoint(udp::v6(), port), true); !r) {
      if (r.error().code == TransportErrc::AddressInUse) return r;
      sockets_.clear();
      if (auto r4 = bind_one(udp::endpoint(udp::v4(), port), false); !r4) return r4;
    }
  } else {
    for (const auto& a : options_.local_addresses) {
      if (auto r = bind_one(udp::endpoint(usrsctp_detail::to_asio(a), port), false); !r) return r;
    }
  }
  port_ = port;
  for (std::size_t i = 0; i < sockets_.size(); ++i) arm(i);
  return {};
}

TransportResult<void> UsrsctpEndpoint::open_sctp() {
  sctp_ = usrsctp_socket(AF_CONN, SOCK_SEQPACKET, IPPROTO_SCTP, nullptr, nullptr, 0, nullptr);
  if (sctp_ == nullptr) return system_error("usrsctp_socket", errno);
  usrsctp_set_non_blocking(sctp_, 1);
  usrsctp_set_upcall(
      sctp_,
      [](struct socket*, void* arg, int) {
        // Inside usrsctp (on our thread): only note it. Whoever called into usrsctp drains
        // (on_readable) or posts a drain when it returns (StackCall).
        static_cast<UsrsctpEndpoint*>(arg)->readable_ = true;
      },
      this);

  const int on = 1;
  usrsctp_setsockopt(sctp_, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof on);
  usrsctp_setsockopt(sctp_, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof on);  // no Nagle: RPC traffic
  const int sndbuf = static_cast<int>(options_.send_buffer);
  const int rcvbuf = static_cast<int>(options_.receive_buffer);
  usrsctp_setsockopt(sctp_, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  usrsctp_setsockopt(sctp_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  for (const std::uint16_t type : {SCTP_ASSOC_CHANGE, SCTP_SEND_FAILED_EVENT, SCTP_PARTIAL_DELIVERY_EVENT}) {
    sctp_event ev{};
    ev.se_assoc_id = SCTP_FUTURE_ASSOC;
    ev.se_type = type;
    ev.se_on = 1;
    if (usrsctp_setsockopt(sctp_, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof ev) != 0) {
      return system_error("subscribing to SCTP events", errno);
    }
  }
  if (auto r = set_parameters(options_.parameters); !r) return r;

  sockaddr_conn local{};
  local.sconn_family = AF_CONN;
  local.sconn_port = htons(port_);
  local.sconn_addr = nullptr;  // all AF_CONN addresses: every peer is registered as one
  if (usrsctp_bind(sctp_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    return system_error("binding SCTP port " + std::to_string(port_), errno);
  }
  if (options_.listen && usrsctp_listen(sctp_, 1) != 0) return system_error("listen", errno);
  return {};
}

TransportResult<void> UsrsctpEndpoint::set_parameters(const AssociationParameters& p) {
  if (sctp_ == nullptr) return make_error(TransportErrc::Closed, "endpoint closed");
  if (p.rto_min > p.rto_max || p.rto_initial < p.rto_min || p.rto_initial > p.rto_max ||
      p.rto_min.count() <= 0 || p.outbound_streams == 0 || p.max_inbound_streams == 0) {
    return make_error(TransportErrc::InvalidArgument, "inconsistent association parameters");
  }
  auto ms = [](std::chrono::milliseconds d) { return static_cast<std::uint32_t>(d.count()); };
  sctp_rtoinfo rto{};
  rto.srto_assoc_id = SCTP_FUTURE_ASSOC;
  rto.srto_initial = ms(p.rto_initial);
  rto.srto_max = ms(p.rto_max);
  rto.srto_min = ms(p.rto_min);
  if (usrsctp_setsockopt(sctp_, IPPROTO_SCTP, SCTP_RTOINFO, &rto, sizeof rto) != 0)
    return system_error("SCTP_RTOINFO", errno);
  sctp_assocparams assoc{};
  assoc.sasoc_assoc_id = SCTP_FUTURE_ASSOC;
  assoc.sasoc_asocmaxrxt = p.max_retransmissions;
  if (usrsctp_setsockopt(sctp_, IPPROTO_SCTP, SCTP_ASSOCINFO, &assoc, sizeof assoc) != 0)
    return system_error("SCTP_ASSOCINFO", errno);
  sctp_initmsg init{};
  init.sinit_num_ostreams = p.outbound_streams;
  init.sinit_max_instreams = p.max_inbound_streams;
  init.sinit_max_attempts = p.max_init_retransmissions;
  init.sinit_max_init_timeo = static_cast<std::uint16_t>(std::min<std::uint32_t>(ms(p.rto_max), 65535));
  if (usrsctp_setsockopt(sctp_, IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof init) != 0)
    return system_error("SCTP_INITMSG", errno);
  sctp_paddrparams paddr{};
  paddr.spp_assoc_id = SCTP_FUTURE_ASSOC;
  paddr.spp_pathmaxrxt = p.path_max_retransmissions;
  if (p.heartbeat_interval.count() > 0) {
    paddr.spp_flags = SPP_HB_ENABLE;
    paddr.spp_hbinterval = ms(p.heartbeat_interval);
  } else {
    paddr.spp_flags = SPP_HB_DISABLE;
  }
  if (usrsctp_setsockopt(sctp_, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &paddr, sizeof paddr) != 0)
    return system_error("SCTP_PEER_ADDR_PARAMS", errno);
  options_.parameters = p;
  return {};
}

// ---- UDP side ----

void UsrsctpEndpoint::arm(std::size_t index) {
  sockets_[index]->socket.async_wait(
      udp::socket::wait_read, [this, index, token = std::weak_ptr<int>(alive_)](
                                  const boost::system::error_code& ec) {
        if (ec || token.expired() || sctp_ == nullptr) return;
        on_readable(index);
      });
}

void UsrsctpEndpoint::on_readable(std::size_t index) {
  const StackCall call(*this);
  const int fd = sockets_[index]->socket.native_handle();
  std::array<mmsghdr, kBatch> msgs{};
  std::array<iovec, kBatch> iov{};
  std::array<sockaddr_storage, kBatch> from{};
  const std::weak_ptr<int> token = alive_;
  batching_ = true;
  for (std::size_t round = 0; round < kMaxBatchesPerWakeup; ++round) {
    for (std::size_t i = 0; i < kBatch; ++i) {
      iov[i] = {rx_batch_[i].data(), kMaxDatagram};
      msgs[i].msg_hdr = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    }
    const int n = ::recvmmsg(fd, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) break;
    for (int i = 0; i < n; ++i) {
      udp::endpoint sender;
      std::memcpy(sender.data(), &from[i], std::min<std::size_t>(msgs[i].msg_hdr.msg_namelen, sizeof from[i]));
      input(index, rx_batch_[i].data(), msgs[i].msg_len, sender);
    }
    // Hand the data to the user between batches so that replies join the outgoing batch.
    if (readable_) drain();
    if (!alive_after(token)) return;
    if (static_cast<std::size_t>(n) < kBatch) break;
  }
  batching_ = false;
  flush();
  arm(index);
}

void UsrsctpEndpoint::input(std::size_t index, const std::byte* data, std::size_t length,
                            const udp::endpoint& from) {
  // RFC 4960 §3.1: the common header is 12 bytes: source port, destination port, vtag, CRC32c.
  if (length < 12) return;
  const auto u16 = [&](std::size_t at) {
    return static_cast<std::uint16_t>((std::to_integer<unsigned>(data[at]) << 8) |
                                      std::to_integer<unsigned>(data[at + 1]));
  };
  const std::uint16_t src_port = u16(0);
  const std::uint16_t dst_port = u16(2);
  if (dst_port != port_ || src_port == 0) return;
  const IpAddress address = usrsctp_detail::from_asio(from.address());
  auto it = peers_.find({address, src_port});
  Peer* peer = nullptr;
  if (it != peers_.end()) {
    peer = it->second.get();
  } else {
    // Remember new peers only for an INIT: anything else from a stranger is out of the blue
    // (RFC 4960 §8.4) and would only grow the table.
    if (length < 16 || std::to_integer<std::uint8_t>(data[12]) != kChunkInit) return;
    peer = find_or_add_peer(index, address, src_port);
    if (peer == nullptr) return;
  }
  // RFC 4960 §6.8: usrsctp leaves the checksum to us (crc32c offload).
  if (!sctp_checksum_ok(const_cast<std::byte*>(data), length)) return;
  // RFC 6951 §5.4: replies go to the UDP port the peer's packets come from.
  peer->udp = from;
  peer->socket_index = index;
  // usrsctp fixes an association's fragmentation point from the MTU it starts with and never
  // raises it, so a peer-started association (created at INIT / COOKIE ECHO) must start with
  // this path's MTU, or a 4 KiB message on loopback goes out as four chunks.
  const auto first_chunk = std::to_integer<std::uint8_t>(data[12]);
  if (length >= 16 && (first_chunk == kChunkInit || first_chunk == kChunkCookieEcho)) {
    set_default_mtu(peer->path_mtu);
  }
  usrsctp_conninput(peer, data, length, 0);
}

void UsrsctpEndpoint::output(Peer& peer, const void* packet, std::size_t length) {
  if (peer.socket_index >= sockets_.size()) return;
  // usrsctp hands over a buffer it does not reuse; fill in the checksum it left zero.
  sctp_set_checksum(const_cast<void*>(packet), length);
  auto& s = *sockets_[peer.socket_index];
  udp::endpoint to = peer.udp;
  if (s.dual_stack && to.address().is_v4()) {
    to = udp::endpoint(boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, to.address().to_v4()),
                       to.port());
  }
  if (batching_) {
    const auto* p = static_cast<const std::byte*>(packet);
    tx_.push_back(Pending{peer.socket_index, to, std::vector<std::byte>(p, p + length)});
    if (tx_.size() >= kBatch) flush();
    return;
  }
  ::sendto(s.socket.native_handle(), packet, length, MSG_DONTWAIT,
           static_cast<const sockaddr*>(to.data()), static_cast<socklen_t>(to.size()));
}

void UsrsctpEndpoint::flush() {
  std::size_t start = 0;
  while (start < tx_.size()) {
    // One sendmmsg per run of packets for the same socket.
    std::array<mmsghdr, kBatch> msgs{};
    std::array<iovec, kBatch> iov{};
    const std::size_t index = tx_[start].socket_index;
    std::size_t n = 0;
    while (start + n < tx_.size() && n < kBatch && tx_[start + n].socket_index == index) {
      auto& p = tx_[start + n];
      iov[n] = {p.bytes.data(), p.bytes.size()};
      msgs[n].msg_hdr.msg_iov = &iov[n];
      msgs[n].msg_hdr.msg_iovlen = 1;
      msgs[n].msg_hdr.msg_name = p.to.data();
      msgs[n].msg_hdr.msg_namelen = static_cast<socklen_t>(p.to.size());
      ++n;
    }
    if (index < sockets_.size()) {
      std::size_t sent = 0;
      while (sent < n) {
        const int r = ::sendmmsg(sockets_[index]->socket.native_handle(), msgs.data() + sent,
                                 static_cast<unsigned>(n - sent), MSG_DONTWAIT);
        if (r <= 0) break;  // buffer full: SCTP retransmits what we drop
        sent += static_cast<std::size_t>(r);
      }
    }
    start += n;
  }
  tx_.clear();
}

Peer* UsrsctpEndpoint::find_or_add_peer(std::size_t socket_index, const IpAddress& address,
                                       std::uint16_t port) {
  auto key = std::make_pair(address, port);
  if (auto it = peers_.find(key); it != peers_.end()) return it->second.get();
  if (peers_.size() >= kMaxPeers) return nullptr;
  auto peer = std::make_unique<Peer>();
  peer->sink = this;
  peer->socket_index = socket_index;
  peer->address = address;
  peer->sctp_port = port;
  const std::uint16_t udp_port = options_.remote_udp_port != 0 ? options_.remote_udp_port : port;
  peer->udp = udp::endpoint(usrsctp_detail::to_asio(address), udp_port);
  peer->path_mtu = usrsctp_detail::udp_path_mtu(address);
  usrsctp_register_address(peer.get());
  Peer* raw = peer.get();
  peers_.emplace(key, std::move(peer));
  return raw;
}

std::optional<std::size_t> UsrsctpEndpoint::socket_for(const IpAddress& address) const {
  for (std::size_t i = 0; i < sockets_.size(); ++i) {
    const auto& s = *sockets_[i];
    const bool v6 = s.socket.local_endpoint().address().is_v6();
    if (s.dual_stack || v6 == !address.is_v4()) return i;
  }
  return std::nullopt;
}

// ---- associations ----

TransportResult<AssociationId> UsrsctpEndpoint::connect(const TransportAddress& peer) {
  if (sctp_ == nullptr) return make_error(TransportErrc::Closed, "endpoint closed");
  const StackCall call(*this);
  if (peer.port == 0 || peer.addresses.empty()) {
    return make_error(TransportErrc::InvalidArgument, "peer needs a port and at least one address");
  }
  // usrsctp's connectx does not take AF_CONN addresses, so an association has one path: the
  // first peer address of a family one of our UDP sockets can reach.
  Peer* target = nullptr;
  for (const auto& a : peer.addresses) {
    if (auto index = socket_for(a)) {
      target = find_or_add_peer(*index, a, peer.port);
      if (target != nullptr) break;
    }
  }
  if (target == nullptr) {
    return make_error(TransportErrc::InvalidArgument, "no peer address of a family this endpoint has bound");
  }
  sockaddr_conn to{};
  to.sconn_family = AF_CONN;
  to.sconn_port = htons(peer.port);
  to.sconn_addr = target;
  // An association that exists already is reused (RFC 6458 §3.1.4 would refuse the connect).
  const sctp_assoc_t existing = usrsctp_getassocid(sctp_, reinterpret_cast<sockaddr*>(&to));
  if (existing != 0 && associations_.count(existing) != 0) return existing;
  set_default_mtu(target->path_mtu);
  if (usrsctp_connect(sctp_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS) {
    return system_error("connect", errno);
  }
  const sctp_assoc_t id = usrsctp_getassocid(sctp_, reinterpret_cast<sockaddr*>(&to));
  if (id == 0) return make_error(TransportErrc::SystemError, "connect: no association id");
  associations_[id].peer = target;
  set_path_mtu(id, *target);
  return id;
}

void UsrsctpEndpoint::set_default_mtu(std::uint32_t mtu) {
  if (mtu == default_mtu_) return;
  sctp_paddrparams params{};
  params.spp_assoc_id = SCTP_FUTURE_ASSOC;
  params.spp_flags = SPP_PMTUD_DISABLE;
  params.spp_pathmtu = mtu;
  if (usrsctp_setsockopt(sctp_, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &params, sizeof params) == 0) {
    default_mtu_ = mtu;
  }
}

void UsrsctpEndpoint::set_path_mtu(AssociationId id, Peer& peer) {
  // RFC 6951 §5.6: the SCTP packet must fit one UDP datagram on the path.
  sctp_paddrparams params{};
  params.spp_assoc_id = id;
  auto* sc = reinterpret_cast<sockaddr_conn*>(&params.spp_address);
  sc->sconn_family = AF_CONN;
  sc->sconn_port = htons(peer.sctp_port);
  sc->sconn_addr = &peer;
  params.spp_flags = SPP_PMTUD_DISABLE;
  params.spp_pathmtu = peer.path_mtu;
  usrsctp_setsockopt(sctp_, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &params, sizeof params);
}

TransportResult<void> UsrsctpEndpoint::send(AssociationId id, std::span<const std::byte> payload,
                                            const SendInfo& info) {
  if (sctp_ == nullptr) return make_error(TransportErrc::Closed, "endpoint closed");
  const StackCall call(*this);
  if (associations_.count(id) == 0) {
    return make_error(TransportErrc::NoSuchAssociation, "no association " + std::to_string(id));
  }
  if (payload.empty() || payload.size() > options_.max_message_size) {
    return make_error(TransportErrc::InvalidArgument,
                      "message of " + std::to_string(payload.size()) + " bytes (1.." +
                          std::to_string(options_.max_message_size) + " allowed)");
  }
  sctp_sendv_spa spa{};
  spa.sendv_flags = SCTP_SEND_SNDINFO_VALID;
  spa.sendv_sndinfo.snd_sid = info.stream;
  spa.sendv_sndinfo.snd_flags = info.unordered ? SCTP_UNORDERED : 0;
  spa.sendv_sndinfo.snd_ppid = htonl(info.ppid);
  spa.sendv_sndinfo.snd_assoc_id = id;
  if (info.lifetime.count() > 0) {
    spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
    spa.sendv_prinfo.pr_policy = SCTP_PR_SCTP_TTL;
    spa.sendv_prinfo.pr_value = static_cast<std::uint32_t>(info.lifetime.count());
  }
  if (usrsctp_sendv(sctp_, payload.data(), payload.size(), nullptr, 0, &spa, sizeof spa,
                    SCTP_SENDV_SPA, 0) < 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) want_writable_ = true;
    return system_error("send", err);
  }
  return {};
}

TransportResult<AssociationId> UsrsctpEndpoint::send_to(const TransportAddress& peer,
                                                        std::span<const std::byte> payload,
                                                        const SendInfo& info) {
  auto id = connect(peer);  // returns the existing association when there is one
  if (!id) return id;
  if (auto r = send(*id, payload, info); !r) return std::move(r).error();
  return id;
}

TransportResult<void> UsrsctpEndpoint::send_flag(AssociationId id, std::uint16_t flag) {
  if (sctp_ == nullptr) return make_error(TransportErrc::Closed, "endpoint closed");
  const StackCall call(*this);
  if (associations_.count(id) == 0) {
    return make_error(TransportErrc::NoSuchAssociation, "no association " + std::to_string(id));
  }
  sctp_sndinfo snd{};
  snd.snd_flags = flag;
  snd.snd_assoc_id = id;
  const char none = 0;  // usrsctp wants a buffer even for zero bytes (EFAULT otherwise)
  if (usrsctp_sendv(sctp_, &none, 0, nullptr, 0, &snd, sizeof snd, SCTP_SENDV_SNDINFO, 0) < 0) {
    return system_error(flag == SCTP_EOF ? "shutdown" : "abort", errno);
  }
  return {};
}

std::optional<AssociationStatus> UsrsctpEndpoint::status(AssociationId id) const {
  auto it = associations_.find(id);
  if (sctp_ == nullptr || it == associations_.end()) return std::nullopt;
  sctp_status st{};
  socklen_t len = sizeof st;
  st.sstat_assoc_id = id;
  if (usrsctp_getsockopt(sctp_, IPPROTO_SCTP, SCTP_STATUS, &st, &len) != 0) return std::nullopt;
  AssociationStatus out;
  out.association = id;
  out.peer = address_of(it->second.peer);
  out.inbound_streams = st.sstat_instrms;
  out.outbound_streams = st.sstat_outstrms;
  // usrsctp keeps SRTT in milliseconds; 0 before the first measurement.
  if (st.sstat_primary.spinfo_srtt > 0) {
    out.smoothed_rtt = std::chrono::milliseconds(st.sstat_primary.spinfo_srtt);
  } else if (st.sstat_state == SCTP_ESTABLISHED) {
    out.smoothed_rtt = std::chrono::microseconds(0);  // below the stack's resolution
  }
  out.unacknowledged_bytes = static_cast<std::size_t>(st.sstat_unackdata + st.sstat_penddata);
  return out;
}

std::vector<AssociationId> UsrsctpEndpoint::associations() const {
  std::vector<AssociationId> ids;
  for (const auto& [id, a] : associations_) ids.push_back(id);
  return ids;
}

TransportAddress UsrsctpEndpoint::address_of(const Peer* peer) const {
  TransportAddress a;
  a.protocol = TransportProtocol::Sctp;
  if (peer != nullptr) {
    a.port = peer->sctp_port;
    a.addresses.push_back(peer->address);
  }
  return a;
}

Peer* UsrsctpEndpoint::peer_of(AssociationId id) {
  auto it = associations_.find(id);
  if (it != associations_.end() && it->second.peer != nullptr) return it->second.peer;
  // An association the peer started: ask usrsctp for its addresses.
  sockaddr* addrs = nullptr;
  const int n = usrsctp_getpaddrs(sctp_, id, &addrs);
  Peer* found = nullptr;
  if (n > 0 && addrs != nullptr && addrs[0].sa_family == AF_CONN) {
    found = static_cast<Peer*>(reinterpret_cast<sockaddr_conn*>(addrs)->sconn_addr);
  }
  if (addrs != nullptr) usrsctp_freepaddrs(addrs);
  return found;
}

// ---- delivery ----

void UsrsctpEndpoint::schedule_drain() {
  readable_ = true;
  if (drain_posted_ || stack_calls_ > 0) return;  // the running call drains or posts on return
  drain_posted_ = true;
  boost::asio::post(io_, [this, token = std::weak_ptr<int>(alive_)] {
    if (token.expired()) return;
    drain_posted_ = false;
    if (sctp_ == nullptr || !readable_) return;  // on_readable drained it already
    const StackCall call(*this);
    batching_ = true;
    drain();
    if (token.expired()) return;
    batching_ = false;
    flush();
  });
}

void UsrsctpEndpoint::drain() {
  const std::weak_ptr<int> token = alive_;
  readable_ = false;
  while (sctp_ != nullptr) {
    sockaddr_conn from{};
    socklen_t fromlen = sizeof from;
    sctp_rcvinfo info{};
    socklen_t infolen = sizeof info;
    unsigned int infotype = 0;
    int flags = 0;
    const ssize_t n = usrsctp_recvv(sctp_, rx_.data(), rx_.size(), reinterpret_cast<sockaddr*>(&from),
                                    &fromlen, &info, &infolen, &infotype, &flags);
    if (n < 0) break;  // EWOULDBLOCK: nothing more
    if (flags & MSG_NOTIFICATION) {
      // Notifications are small except SEND_FAILED with data; rx_ holds a whole message too.
      handle_notification(rx_.data(), static_cast<std::size_t>(n));
    } else if (infotype == SCTP_RECVV_RCVINFO) {
      auto& assoc = associations_[info.rcv_assoc_id];
      const bool whole = (flags & MSG_EOR) != 0 && assoc.partial.empty();
      if (whole) {
        deliver(info, from, std::vector<std::byte>(rx_.begin(), rx_.begin() + n));
      } else {
        assoc.partial.insert(assoc.partial.end(), rx_.begin(), rx_.begin() + n);
        if (assoc.partial.size() > options_.max_message_size) {
          // Documented in EndpointOptions: oversized incoming messages end the association.
          assoc.partial.clear();
          (void)send_flag(info.rcv_assoc_id, SCTP_ABORT);
        } else if (flags & MSG_EOR) {
          deliver(info, from, std::exchange(assoc.partial, {}));
        }
      }
    }
    if (!alive_after(token)) return;
  }
  flush_failures(std::nullopt);
  if (!alive_after(token)) return;
  if (want_writable_ && sctp_ != nullptr && (usrsctp_get_events(sctp_) & SCTP_EVENT_WRITE)) {
    want_writable_ = false;
    if (auto h = handlers_.on_writable) h();
  }
}

void UsrsctpEndpoint::deliver(const sctp_rcvinfo& info, const sockaddr_conn& from,
                              std::vector<std::byte> payload) {
  ReceivedMessage m;
  m.association = info.rcv_assoc_id;
  Peer* peer = peer_of(info.rcv_assoc_id);
  if (peer == nullptr && from.sconn_family == AF_CONN) peer = static_cast<Peer*>(from.sconn_addr);
  m.peer = address_of(peer);
  m.ppid = ntohl(info.rcv_ppid);
  m.stream = info.rcv_sid;
  m.unordered = (info.rcv_flags & SCTP_UNORDERED) != 0;
  m.payload = std::move(payload);
  if (auto h = handlers_.on_message) h(std::move(m));
}

bool UsrsctpEndpoint::handle_notification(const std::byte* data, std::size_t length) {
  if (length < sizeof(sctp_notification::sctp_tlv)) return false;
  sctp_notification::sctp_tlv header{};
  std::memcpy(&header, data, sizeof header);
  switch (header.sn_type) {
    case SCTP_ASSOC_CHANGE: {
      if (length < sizeof(sctp_assoc_change)) return false;
      sctp_assoc_change change{};
      std::memcpy(&change, data, sizeof change);
      handle_assoc_change(change);
      return true;
    }
    case SCTP_SEND_FAILED_EVENT: {
      if (length < sizeof(sctp_send_failed_event)) return false;
      sctp_send_failed_event event{};
      std::memcpy(&event, data, sizeof event);
      const std::size_t payload = std::min<std::size_t>(length, event.ssfe_length) - sizeof event;
      handle_send_failed(event, std::span<const std::byte>(data + sizeof event, payload));
      return true;
    }
    case SCTP_PARTIAL_DELIVERY_EVENT: {
      sctp_pdapi_event pd{};
      if (length < sizeof pd) return false;
      std::memcpy(&pd, data, sizeof pd);
      if (pd.pdapi_indication == SCTP_PARTIAL_DELIVERY_ABORTED) associations_[pd.pdapi_assoc_id].partial.clear();
      return true;
    }
    default:
      return false;
  }
}

void UsrsctpEndpoint::handle_assoc_change(const sctp_assoc_change& change) {
  const AssociationId id = change.sac_assoc_id;
  AssociationEvent ev;
  ev.association = id;
  switch (change.sac_state) {
    case SCTP_COMM_UP:
    case SCTP_RESTART: {
      ev.kind = change.sac_state == SCTP_COMM_UP ? AssociationEventKind::Up : AssociationEventKind::Restart;
      Peer* peer = peer_of(id);
      associations_[id].peer = peer;
      if (peer != nullptr) set_path_mtu(id, *peer);
      ev.peer = address_of(peer);
      ev.inbound_streams = change.sac_inbound_streams;
      ev.outbound_streams = change.sac_outbound_streams;
      break;
    }
    case SCTP_COMM_LOST:
    case SCTP_SHUTDOWN_COMP:
    case SCTP_CANT_STR_ASSOC: {
      ev.kind = change.sac_state == SCTP_COMM_LOST       ? AssociationEventKind::Lost
                : change.sac_state == SCTP_SHUTDOWN_COMP ? AssociationEventKind::ShutdownComplete
                                                         : AssociationEventKind::CannotStart;
      auto it = associations_.find(id);
      ev.peer = address_of(it != associations_.end() ? it->second.peer : nullptr);
      if (it != associations_.end()) associations_.erase(it);
      // usrsctp reports the returned messages before the loss: complete them first.
      const std::weak_ptr<int> token = alive_;
      flush_failures(id);
      if (!alive_after(token)) return;
      break;
    }
    default:
      return;
  }
  if (auto h = handlers_.on_association) h(ev);
}

void UsrsctpEndpoint::handle_send_failed(const sctp_send_failed_event& event,
                                         std::span<const std::byte> data) {
  const AssociationId id = event.ssfe_assoc_id;
  const std::uint16_t flags = event.ssfe_info.snd_flags;
  const bool sent = (event.ssfe_flags & SCTP_DATA_SENT) != 0;
  // A message still in the stream queue comes back whole, with the user's flags; one already cut
  // into chunks comes back chunk by chunk with the DATA chunk's B/E bits (usrsctp's behaviour,
  // RFC 6458 §6.1.11 leaves the granularity open). Chunks go back together per stream.
  const bool first = (flags & kChunkFirst) != 0;
  const bool last = (flags & kChunkLast) != 0;
  const auto key = std::make_pair(id, event.ssfe_info.snd_sid);
  std::vector<SendFailure> done;
  auto open = failing_.find(key);
  if (first && open != failing_.end()) {
    done.push_back(std::move(open->second));
    failing_.erase(open);
    open = failing_.end();
  }
  if (open == failing_.end()) {
    SendFailure f;
    f.association = id;
    f.info.ppid = ntohl(event.ssfe_info.snd_ppid);
    f.info.stream = event.ssfe_info.snd_sid;
    f.info.unordered = (flags & (SCTP_UNORDERED | kChunkUnordered)) != 0;
    f.was_transmitted = sent;
    f.payload.assign(data.begin(), data.end());
    if (first && !last) {
      failing_.emplace(key, std::move(f));
    } else {
      done.push_back(std::move(f));
    }
  } else {
    auto& f = open->second;
    f.payload.insert(f.payload.end(), data.begin(), data.end());
    f.was_transmitted = f.was_transmitted || sent;
    if (last) {
      done.push_back(std::move(f));
      failing_.erase(open);
    }
  }
  emit_failures(std::move(done));
}

void UsrsctpEndpoint::flush_failures(std::optional<AssociationId> only) {
  std::vector<SendFailure> done;
  for (auto it = failing_.begin(); it != failing_.end();) {
    if (!only || it->first.first == *only) {
      done.push_back(std::move(it->second));
      it = failing_.erase(it);
    } else {
      ++it;
    }
  }
  emit_failures(std::move(done));
}

void UsrsctpEndpoint::emit_failures(std::vector<SendFailure> failures) {
  const std::weak_ptr<int> token = alive_;
  for (auto& f : failures) {
    if (!alive_after(token)) return;
    if (auto h = handlers_.on_send_failed) h(std::move(f));
  }
}

void UsrsctpEndpoint::close() {
  if (sctp_ != nullptr) {
    // Abort, don't linger: a graceful shutdown would outlive the endpoint inside usrsctp.
    const linger abort_on_close{1, 0};
    usrsctp_setsockopt(sctp_, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    batching_ = false;
    struct socket* s = std::exchange(sctp_, nullptr);
    usrsctp_close(s);
  }
  std::vector<std::unique_ptr<Peer>> retired;
  for (auto& [key, peer] : peers_) {
    usrsctp_deregister_address(peer.get());
    peer->sink = nullptr;
    retired.push_back(std::move(peer));
  }
  peers_.clear();
  Stack::instance().retire(std::move(retired));
  sockets_.clear();
  tx_.clear();
  associations_.clear();
  failing_.clear();
  handlers_ = {};
  if (attached_) {
    attached_ = false;
    Stack::instance().detach(*this);
  }
}

}  // namespace

TransportResult<std::unique_ptr<Endpoint>> open_usrsctp_endpoint(boost::asio::io_context& io,
                                                                 const EndpointOptions& options) {
  return open_impl(io, options);
}

}  // namespace rsp::transport
