// The kernel SCTP backend (Linux lksctp, RFC 6458 socket API). One non-blocking one-to-many
// socket (SOCK_SEQPACKET, RFC 6458 §3) per endpoint, bound with sctp_bindx to every local
// address (multi-homing), waited on with asio (posix::stream_descriptor::async_wait): no thread,
// no polling. Readiness callbacks drain the socket with recvmsg and call the user's handlers, so
// handlers run only from the io_context and never inside a call the user makes.
//
// Kernel behaviours this file relies on (Linux 6.1, net/sctp):
// - Messages larger than the read buffer, and the stack's own partial deliveries (RFC 6458
//   §8.1.20), arrive in pieces; the last piece carries MSG_EOR. Each piece carries SCTP_RCVINFO.
//   Pieces are put back together per association.
// - SCTP_SEND_FAILED_EVENT (RFC 6458 §6.1.11) comes once per DATA chunk, not per message, with
//   the chunk's header flags (B/E/U, RFC 4960 §3.3.1) in ssfe_info.snd_flags and the chunk's
//   payload after the header; the chunks of one message come back to back. They are reassembled
//   per association and stream. Linux reports them after COMM_LOST, when it frees the association.
// - PPIDs travel in snd_ppid/rcv_ppid in network byte order, as the RFC's socket API says.
#include "transport/kernel_endpoint.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/sctp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>

#include "rsp/transport/payload_pool.hpp"
#include "transport/kernel_sockaddr.hpp"

namespace rsp::transport {
namespace {

using boost::asio::posix::stream_descriptor;
using kernel_detail::packed_sockaddrs;
using kernel_detail::read_sockaddr;
using kernel_detail::write_sockaddr;

constexpr std::size_t kReadBuffer = 64 * 1024;   // bigger messages come in pieces (MSG_EOR)
constexpr std::size_t kMaxReadsPerWakeup = 64;   // then yield to other io_context work

// DATA chunk flags (RFC 4960 §3.3.1) as Linux copies them into a failed chunk's snd_flags.
constexpr std::uint16_t kChunkLast = 0x01;
constexpr std::uint16_t kChunkFirst = 0x02;
constexpr std::uint16_t kChunkUnordered = 0x04;

TransportError system_error(std::string_view what, int err) {
  TransportErrc code = TransportErrc::SystemError;
  if (err == EADDRINUSE) code = TransportErrc::AddressInUse;
  if (err == EAGAIN || err == EWOULDBLOCK) code = TransportErrc::WouldBlock;
  if (err == ENOENT || err == ENOTCONN || err == EPIPE || err == ESRCH) code = TransportErrc::NoSuchAssociation;
  if (err == EINVAL || err == EMSGSIZE || err == EADDRNOTAVAIL) code = TransportErrc::InvalidArgument;
  return make_error(code, std::string(what) + ": " + std::strerror(err));
}

struct Association {
  TransportAddress peer;
  std::vector<std::byte> partial;  // message pieces read so far (no MSG_EOR yet)
  bool shutting_down = false;      // SHUTDOWN received (RFC 6458 §6.1.5)
};

class KernelEndpoint final : public Endpoint {
 public:
  KernelEndpoint(boost::asio::io_context& io, const EndpointOptions& options)
      : io_(io), options_(options), socket_(io), rx_(kReadBuffer) {}
  ~KernelEndpoint() override { close(); }

  TransportResult<void> open();

  Backend backend() const noexcept override { return Backend::Kernel; }
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
  void pause_receiving(bool paused) override;

 private:
  int fd() const { return socket_.is_open() ? const_cast<stream_descriptor&>(socket_).native_handle() : -1; }
  bool alive_after(const std::weak_ptr<int>& token) const { return !token.expired() && socket_.is_open(); }
  TransportResult<void> check_message(std::span<const std::byte> payload) const;
  TransportResult<void> sendmsg(AssociationId id, const sockaddr* to, socklen_t tolen,
                                std::span<const std::byte> payload, const SendInfo& info,
                                std::uint16_t flags);
  TransportResult<void> send_flag(AssociationId id, std::uint16_t flag);
  std::optional<AssociationId> find_association(const TransportAddress& peer);
  TransportAddress peer_addresses(AssociationId id, const TransportAddress& fallback) const;
  void set_encapsulation_port(std::uint16_t port);

  void arm_read();
  void arm_write();
  void on_readable();
  void on_message_piece(const msghdr& msg, std::size_t length, const sockaddr_storage& from);
  void deliver(const sctp_rcvinfo& info, const TransportAddress& peer, std::vector<std::byte> payload);
  void handle_notification(std::span<const std::byte> data);
  void handle_assoc_change(const sctp_assoc_change& change);
  void handle_send_failed(const sctp_send_failed_event& event, std::span<const std::byte> data);
  void flush_failures();
  void emit_failures(std::vector<SendFailure> failures);

  boost::asio::io_context& io_;
  EndpointOptions options_;
  EndpointHandlers handlers_;
  stream_descriptor socket_;
  std::uint16_t port_ = 0;
  std::map<AssociationId, Association> associations_;
  std::map<std::pair<AssociationId, std::uint16_t>, SendFailure> failing_;
  std::vector<std::byte> notification_;  // a notification read in pieces
  std::vector<std::byte> rx_;
  bool read_armed_ = false;
  bool paused_ = false;  // pause_receiving(true): the socket is not read (nor waited on)
  bool write_armed_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // weak copies guard queued work
};

TransportResult<void> KernelEndpoint::open() {
  bool any_v6 = options_.local_addresses.empty();
  for (const auto& a : options_.local_addresses) any_v6 = any_v6 || !a.is_v4();
  int family = any_v6 ? AF_INET6 : AF_INET;
  int s = ::socket(family, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_SCTP);
  if (s < 0 && family == AF_INET6 && errno == EAFNOSUPPORT && options_.local_addresses.empty()) {
    family = AF_INET;  // IPv6 disabled on this host: IPv4 wildcard only
    s = ::socket(family, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_SCTP);
  }
  if (s < 0) {
    const int err = errno;
    if (err == EPROTONOSUPPORT || err == ESOCKTNOSUPPORT || err == EAFNOSUPPORT) {
      return make_error(TransportErrc::Unsupported,
                        std::string("this kernel has no SCTP (socket: ") + std::strerror(err) +
                            "); use RSP_TRANSPORT=udp (usrsctp over UDP)");
    }
    return system_error("SCTP socket", err);
  }
  socket_.assign(s);

  const int on = 1;
  // RFC 6458 §8.1.29: SCTP_RCVINFO with every message; §8.1.5: no Nagle, this is RPC traffic.
  if (::setsockopt(s, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof on) != 0)
    return system_error("SCTP_RECVRCVINFO", errno);
  ::setsockopt(s, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof on);
  if (family == AF_INET6) {
    const int off = 0;
    ::setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  }
  const int sndbuf = static_cast<int>(options_.send_buffer);
  const int rcvbuf = static_cast<int>(options_.receive_buffer);
  ::setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  ::setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  // RFC 6458 §6.2.2: one SCTP_EVENT per notification type.
  for (const std::uint16_t type : {SCTP_ASSOC_CHANGE, SCTP_SEND_FAILED_EVENT, SCTP_SHUTDOWN_EVENT,
                                   SCTP_PARTIAL_DELIVERY_EVENT}) {
    sctp_event ev{};
    ev.se_assoc_id = SCTP_FUTURE_ASSOC;
    ev.se_type = type;
    ev.se_on = 1;
    if (::setsockopt(s, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof ev) != 0)
      return system_error("subscribing to SCTP events", errno);
  }
  if (auto r = set_parameters(options_.parameters); !r) return r;
  if (options_.remote_udp_port != 0) set_encapsulation_port(options_.remote_udp_port);

  // RFC 6458 §9.1: sctp_bindx binds the first address and adds the others on the same port.
  if (options_.local_addresses.empty()) {
    sockaddr_storage any{};
    socklen_t len = 0;
    if (family == AF_INET6) {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&any);
      sin6->sin6_family = AF_INET6;
      sin6->sin6_addr = in6addr_any;
      sin6->sin6_port = htons(options_.port);
      len = sizeof *sin6;
    } else {
      auto* sin = reinterpret_cast<sockaddr_in*>(&any);
      sin->sin_family = AF_INET;
      sin->sin_port = htons(options_.port);
      len = sizeof *sin;
    }
    if (::bind(s, reinterpret_cast<sockaddr*>(&any), len) != 0)
      return system_error("binding SCTP port " + std::to_string(options_.port), errno);
  } else {
    AddressList list;
    for (const auto& a : options_.local_addresses) list.push_back(a);
    auto packed = packed_sockaddrs(list, options_.port);
    if (sctp_bindx(s, reinterpret_cast<sockaddr*>(packed.data()), static_cast<int>(list.size()),
                   SCTP_BINDX_ADD_ADDR) != 0) {
      return system_error("binding SCTP port " + std::to_string(options_.port), errno);
    }
  }
  sockaddr_storage bound{};
  socklen_t boundlen = sizeof bound;
  if (::getsockname(s, reinterpret_cast<sockaddr*>(&bound), &boundlen) != 0)
    return system_error("getsockname", errno);
  port_ = read_sockaddr(&bound, boundlen).port;
  // RFC 6458 §3.1.3: a one-to-many socket accepts associations only after listen().
  if (options_.listen && ::listen(s, SOMAXCONN) != 0) return system_error("listen", errno);
  arm_read();
  return {};
}

TransportResult<void> KernelEndpoint::set_parameters(const AssociationParameters& p) {
  if (!socket_.is_open()) return make_error(TransportErrc::Closed, "endpoint closed");
  if (p.rto_min > p.rto_max || p.rto_initial < p.rto_min || p.rto_initial > p.rto_max ||
      p.rto_min.count() <= 0 || p.outbound_streams == 0 || p.max_inbound_streams == 0) {
    return make_error(TransportErrc::InvalidArgument, "inconsistent association parameters");
  }
  const int s = fd();
  auto ms = [](std::chrono::milliseconds d) { return static_cast<std::uint32_t>(d.count()); };
  sctp_rtoinfo rto{};  // RFC 6458 §8.1.1
  rto.srto_assoc_id = SCTP_FUTURE_ASSOC;
  rto.srto_initial = ms(p.rto_initial);
  rto.srto_max = ms(p.rto_max);
  rto.srto_min = ms(p.rto_min);
  if (::setsockopt(s, IPPROTO_SCTP, SCTP_RTOINFO, &rto, sizeof rto) != 0)
    return system_error("SCTP_RTOINFO", errno);
  sctp_assocparams assoc{};  // §8.1.2
  assoc.sasoc_assoc_id = SCTP_FUTURE_ASSOC;
  assoc.sasoc_asocmaxrxt = p.max_retransmissions;
  if (::setsockopt(s, IPPROTO_SCTP, SCTP_ASSOCINFO, &assoc, sizeof assoc) != 0)
    return system_error("SCTP_ASSOCINFO", errno);
  sctp_initmsg init{};  // §8.1.3
  init.sinit_num_ostreams = p.outbound_streams;
  init.sinit_max_instreams = p.max_inbound_streams;
  init.sinit_max_attempts = p.max_init_retransmissions;
  init.sinit_max_init_timeo = static_cast<std::uint16_t>(std::min<std::uint32_t>(ms(p.rto_max), 65535));
  if (::setsockopt(s, IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof init) != 0)
    return system_error("SCTP_INITMSG", errno);
  sctp_paddrparams paddr{};  // §8.1.12; the wildcard address sets the endpoint's defaults
  paddr.spp_assoc_id = SCTP_FUTURE_ASSOC;
  paddr.spp_pathmaxrxt = p.path_max_retransmissions;
  if (p.heartbeat_interval.count() > 0) {
    paddr.spp_flags = SPP_HB_ENABLE;
    paddr.spp_hbinterval = ms(p.heartbeat_interval);
  } else {
    paddr.spp_flags = SPP_HB_DISABLE;
  }
  if (::setsockopt(s, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &paddr, sizeof paddr) != 0)
    return system_error("SCTP_PEER_ADDR_PARAMS", errno);
  options_.parameters = p;
  return {};
}

// RFC 6951 §6.1 SCTP_REMOTE_UDP_ENCAPS_PORT: with the sysctl net.sctp.udp_port set, the kernel
// sends to this UDP port for associations started afterwards (peers' replies set it per path).
void KernelEndpoint::set_encapsulation_port(std::uint16_t port) {
  sctp_udpencaps encaps{};
  encaps.sue_assoc_id = SCTP_FUTURE_ASSOC;
  encaps.sue_port = htons(port);
  ::setsockopt(fd(), IPPROTO_SCTP, SCTP_REMOTE_UDP_ENCAPS_PORT, &encaps, sizeof encaps);
}

// --- sending ---------------------------------------------------------------------------------

TransportResult<void> KernelEndpoint::check_message(std::span<const std::byte> payload) const {
  if (!socket_.is_open()) return make_error(TransportErrc::Closed, "endpoint closed");
  if (payload.empty() || payload.size() > options_.max_message_size) {
    return make_error(TransportErrc::InvalidArgument,
                      "message of " + std::to_string(payload.size()) + " bytes (1.." +
                          std::to_string(options_.max_message_size) + " allowed)");
  }
  return {};
}

// One sendmsg with SCTP_SNDINFO (RFC 6458 §5.3.4) and, for a lifetime, SCTP_PRINFO (§5.3.7).
TransportResult<void> KernelEndpoint::sendmsg(AssociationId id, const sockaddr* to, socklen_t tolen,
                                              std::span<const std::byte> payload,
                                              const SendInfo& info, std::uint16_t flags) {
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(sctp_sndinfo)) + CMSG_SPACE(sizeof(sctp_prinfo))> control{};
  msghdr msg{};
  iovec iov{const_cast<std::byte*>(payload.data()), payload.size()};
  msg.msg_name = const_cast<sockaddr*>(to);
  msg.msg_namelen = tolen;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = CMSG_SPACE(sizeof(sctp_sndinfo));
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = IPPROTO_SCTP;
  c->cmsg_type = SCTP_SNDINFO;
  c->cmsg_len = CMSG_LEN(sizeof(sctp_sndinfo));
  sctp_sndinfo snd{};
  snd.snd_sid = info.stream;
  snd.snd_flags = static_cast<std::uint16_t>(flags | (info.unordered ? SCTP_UNORDERED : 0));
  snd.snd_ppid = htonl(info.ppid);
  snd.snd_context = info.context;
  snd.snd_assoc_id = static_cast<sctp_assoc_t>(id);
  std::memcpy(CMSG_DATA(c), &snd, sizeof snd);
  if (info.lifetime.count() > 0) {
    msg.msg_controllen = control.size();
    c = CMSG_NXTHDR(&msg, c);
    c->cmsg_level = IPPROTO_SCTP;
    c->cmsg_type = SCTP_PRINFO;
    c->cmsg_len = CMSG_LEN(sizeof(sctp_prinfo));
    sctp_prinfo pr{};
    pr.pr_policy = SCTP_PR_SCTP_TTL;  // RFC 3758 timed reliability
    pr.pr_value = static_cast<std::uint32_t>(info.lifetime.count());
    std::memcpy(CMSG_DATA(c), &pr, sizeof pr);
  }
  if (::sendmsg(fd(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
    const int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) arm_write();
    return system_error(flags == SCTP_EOF ? "shutdown" : flags == SCTP_ABORT ? "abort" : "send", err);
  }
  return {};
}

TransportResult<void> KernelEndpoint::send(AssociationId id, std::span<const std::byte> payload,
                                           const SendInfo& info) {
  if (auto r = check_message(payload); !r) return r;
  if (associations_.count(id) == 0) {
    return make_error(TransportErrc::NoSuchAssociation, "no association " + std::to_string(id));
  }
  return sendmsg(id, nullptr, 0, payload, info, 0);
}

TransportResult<void> KernelEndpoint::send_flag(AssociationId id, std::uint16_t flag) {
  if (!socket_.is_open()) return make_error(TransportErrc::Closed, "endpoint closed");
  if (associations_.count(id) == 0) {
    return make_error(TransportErrc::NoSuchAssociation, "no association " + std::to_string(id));
  }
  return sendmsg(id, nullptr, 0, {}, SendInfo{}, flag);
}

// The association the kernel has with any of `peer`'s addresses (SCTP_GET_PEER_ADDR_INFO looks a
// transport up by address when given no id, RFC 6458 §8.2.2).
std::optional<AssociationId> KernelEndpoint::find_association(const TransportAddress& peer) {
  for (const auto& a : peer.addresses) {
    sctp_paddrinfo info{};
    write_sockaddr(a, peer.port, &info.spinfo_address);
    socklen_t len = sizeof info;
    if (::getsockopt(fd(), IPPROTO_SCTP, SCTP_GET_PEER_ADDR_INFO, &info, &len) == 0 && info.spinfo_assoc_id != 0) {
      const auto id = static_cast<AssociationId>(info.spinfo_assoc_id);
      auto& assoc = associations_[id];  // known to the kernel, maybe not yet reported Up
      if (assoc.peer.addresses.empty()) assoc.peer = peer;
      return id;
    }
  }
  return std::nullopt;
}

TransportResult<AssociationId> KernelEndpoint::connect(const TransportAddress& peer) {
  if (!socket_.is_open()) return make_error(TransportErrc::Closed, "endpoint closed");
  if (peer.port == 0 || peer.addresses.empty()) {
    return make_error(TransportErrc::InvalidArgument, "peer needs a port and at least one address");
  }
  if (auto existing = find_association(peer)) return *existing;
  // RFC 6458 §9.9: sctp_connectx with all the peer's addresses; non-blocking, so EINPROGRESS
  // with the new association's id, and COMM_UP or CANT_STR_ASSOC later.
  auto packed = packed_sockaddrs(peer.addresses, peer.port);
  sctp_assoc_t id = 0;
  if (sctp_connectx(fd(), reinterpret_cast<sockaddr*>(packed.data()), static_cast<int>(peer.addresses.size()),
                    &id) != 0 &&
      errno != EINPROGRESS) {
    return system_error("connect", errno);
  }
  if (id == 0) return make_error(TransportErrc::SystemError, "connect: the kernel gave no association id");
  associations_[static_cast<AssociationId>(id)].peer = peer;
  return static_cast<AssociationId>(id);
}

TransportResult<AssociationId> KernelEndpoint::send_to(const TransportAddress& peer,
                                                       std::span<const std::byte> payload,
                                                       const SendInfo& info) {
  if (auto r = check_message(payload); !r) return std::move(r).error();
  if (peer.port == 0 || peer.addresses.empty()) {
    return make_error(TransportErrc::InvalidArgument, "peer needs a port and at least one address");
  }
  if (auto existing = find_association(peer)) {
    if (auto r = sendmsg(*existing, nullptr, 0, payload, info, 0); !r) return std::move(r).error();
    return *existing;
  }
  // Implicit setup (RFC 6458 §3.1.4) through sctp_connectx rather than sendmsg to an address:
  // both queue the message for the COOKIE ECHO, but only connectx tells us the association id
  // before the kernel may already have processed the peer's answer (on loopback an ABORT for a
  // closed port is handled before sendmsg returns, and the id would be lost).
  auto id = connect(peer);
  if (!id) return id;
  if (auto r = sendmsg(*id, nullptr, 0, payload, info, 0); !r) {
    if (r.error().code != TransportErrc::NoSuchAssociation) return std::move(r).error();
    // The association died before the message could be queued (CANT_STR_ASSOC is on its way):
    // hand the message back the way the stack would have, from the io_context.
    SendFailure f;
    f.association = *id;
    f.info = info;
    f.payload.assign(payload.begin(), payload.end());
    boost::asio::post(io_, [this, token = std::weak_ptr<int>(alive_), f = std::move(f)]() mutable {
      if (!alive_after(token)) return;
      if (auto h = handlers_.on_send_failed) h(std::move(f));
    });
  }
  return id;
}

// --- status ----------------------------------------------------------------------------------

TransportAddress KernelEndpoint::peer_addresses(AssociationId id, const TransportAddress& fallback) const {
  sockaddr* addrs = nullptr;
  const int n = sctp_getpaddrs(fd(), static_cast<sctp_assoc_t>(id), &addrs);
  if (n <= 0 || addrs == nullptr) return fallback;
  TransportAddress out;
  out.protocol = TransportProtocol::Sctp;
  // The kernel packs them back to back (RFC 6458 §9.3); each is read with its own size.
  const auto* p = reinterpret_cast<const std::byte*>(addrs);
  for (int i = 0; i < n; ++i) {
    const auto v = read_sockaddr(p, sizeof(sockaddr_in6));
    if (v.size == 0) break;
    out.port = v.port;
    out.addresses.push_back(v.address);
    p += v.size;
  }
  sctp_freepaddrs(addrs);
  return out.addresses.empty() ? fallback : out;
}

std::optional<AssociationStatus> KernelEndpoint::status(AssociationId id) const {
  auto it = associations_.find(id);
  if (!socket_.is_open() || it == associations_.end()) return std::nullopt;
  sctp_status st{};  // RFC 6458 §8.2.1
  socklen_t len = sizeof st;
  st.sstat_assoc_id = static_cast<sctp_assoc_t>(id);
  if (::getsockopt(fd(), IPPROTO_SCTP, SCTP_STATUS, &st, &len) != 0) return std::nullopt;
  AssociationStatus out;
  out.association = id;
  out.peer = it->second.peer;
  out.inbound_streams = st.sstat_instrms;
  out.outbound_streams = st.sstat_outstrms;
  // spinfo_srtt is in milliseconds; a loopback path measures 0 ms once established.
  if (st.sstat_primary.spinfo_srtt > 0) {
    out.smoothed_rtt = std::chrono::milliseconds(st.sstat_primary.spinfo_srtt);
  } else if (st.sstat_state == SCTP_ESTABLISHED) {
    out.smoothed_rtt = std::chrono::microseconds(0);
  }
  // RFC 6458 §8.2.1: both counts are DATA chunks, not bytes.
  out.unacknowledged_chunks = static_cast<std::size_t>(st.sstat_unackdata) + st.sstat_penddata;
  out.unacknowledged_bytes = out.unacknowledged_chunks;  // the interface's deprecated alias
  return out;
}

std::vector<AssociationId> KernelEndpoint::associations() const {
  std::vector<AssociationId> ids;
  for (const auto& [id, a] : associations_) ids.push_back(id);
  return ids;
}

// --- receiving -------------------------------------------------------------------------------

void KernelEndpoint::arm_read() {
  if (read_armed_ || !socket_.is_open()) return;
  read_armed_ = true;
  socket_.async_wait(stream_descriptor::wait_read,
                     [this, token = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
                       if (token.expired()) return;
                       read_armed_ = false;
                       if (ec || !socket_.is_open()) return;
                       on_readable();
                     });
}

void KernelEndpoint::arm_write() {
  if (write_armed_ || !socket_.is_open()) return;
  write_armed_ = true;
  socket_.async_wait(stream_descriptor::wait_write,
                     [this, token = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
                       if (token.expired()) return;
                       write_armed_ = false;
                       if (ec || !socket_.is_open()) return;
                       if (auto h = handlers_.on_writable) h();
                     });
}

void KernelEndpoint::pause_receiving(bool paused) {
  paused_ = paused;
  // Readiness is level-triggered: a wait armed now completes at once if data waits.
  if (!paused) arm_read();
}

void KernelEndpoint::on_readable() {
  const std::weak_ptr<int> token = alive_;
  for (std::size_t reads = 0; reads < kMaxReadsPerWakeup; ++reads) {
    // Paused: what arrives stays in the kernel's receive buffer, whose window then closes;
    // pause_receiving(false) arms the wait again.
    if (paused_) return;
    sockaddr_storage from{};
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(sctp_rcvinfo)) + 64> control{};
    iovec iov{rx_.data(), rx_.size()};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    const ssize_t n = ::recvmsg(fd(), &msg, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      // EAGAIN: drained. Chunks of returned messages all arrive in one burst; finish them.
      flush_failures();
      if (alive_after(token)) arm_read();
      return;
    }
    const auto length = static_cast<std::size_t>(n);
    if (msg.msg_flags & MSG_NOTIFICATION) {
      notification_.insert(notification_.end(), rx_.begin(), rx_.begin() + n);
      if (msg.msg_flags & MSG_EOR) {
        auto whole = std::exchange(notification_, {});
        handle_notification(whole);
      }
    } else {
      on_message_piece(msg, length, from);
    }
    if (!alive_after(token)) return;
  }
  // More to read: continue after other work queued on the io_context has had its turn.
  boost::asio::post(io_, [this, token] {
    if (alive_after(token)) on_readable();
  });
}

void KernelEndpoint::on_message_piece(const msghdr& msg, std::size_t length, const sockaddr_storage& from) {
  sctp_rcvinfo info{};
  bool have_info = false;
  for (const cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(&msg), const_cast<cmsghdr*>(c))) {
    if (c->cmsg_level == IPPROTO_SCTP && c->cmsg_type == SCTP_RCVINFO && c->cmsg_len >= CMSG_LEN(sizeof info)) {
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      have_info = true;
    }
  }
  if (!have_info) return;  // cannot happen with SCTP_RECVRCVINFO on; nothing to attribute it to
  const auto id = static_cast<AssociationId>(info.rcv_assoc_id);
  auto& assoc = associations_[id];
  if (assoc.peer.addresses.empty()) {
    const auto v = read_sockaddr(&from, msg.msg_namelen);
    if (v.size != 0) {
      assoc.peer.port = v.port;
      assoc.peer.addresses.push_back(v.address);
    }
  }
  const std::span<const std::byte> piece(rx_.data(), length);
  if ((msg.msg_flags & MSG_EOR) && assoc.partial.empty()) {
    deliver(info, assoc.peer, copy_payload(piece));
    return;
  }
  assoc.partial.insert(assoc.partial.end(), piece.begin(), piece.end());
  if (assoc.partial.size() > options_.max_message_size) {
    // EndpointOptions::max_message_size: a bigger incoming message ends the association.
    assoc.partial.clear();
    (void)send_flag(id, SCTP_ABORT);
  } else if (msg.msg_flags & MSG_EOR) {
    deliver(info, assoc.peer, std::exchange(assoc.partial, {}));
  }
}

void KernelEndpoint::deliver(const sctp_rcvinfo& info, const TransportAddress& peer,
                             std::vector<std::byte> payload) {
  ReceivedMessage m;
  m.association = static_cast<AssociationId>(info.rcv_assoc_id);
  m.peer = peer;
  m.ppid = ntohl(info.rcv_ppid);
  m.stream = info.rcv_sid;
  m.unordered = (info.rcv_flags & SCTP_UNORDERED) != 0;
  m.payload = std::move(payload);
  if (auto h = handlers_.on_message) h(std::move(m));
}

void KernelEndpoint::handle_notification(std::span<const std::byte> data) {
  decltype(sctp_notification::sn_header) header{};
  if (data.size() < sizeof header) return;
  std::memcpy(&header, data.data(), sizeof header);
  switch (header.sn_type) {
    case SCTP_ASSOC_CHANGE: {
      sctp_assoc_change change{};
      if (data.size() < sizeof change) return;
      std::memcpy(&change, data.data(), sizeof change);
      handle_assoc_change(change);
      return;
    }
    case SCTP_SEND_FAILED_EVENT: {
      sctp_send_failed_event event{};
      if (data.size() < sizeof event) return;
      std::memcpy(&event, data.data(), sizeof event);
      const std::size_t end = std::min<std::size_t>(data.size(), event.ssf_length);
      handle_send_failed(event, data.subspan(sizeof event, end > sizeof event ? end - sizeof event : 0));
      return;
    }
    case SCTP_SHUTDOWN_EVENT: {
      sctp_shutdown_event sse{};
      if (data.size() < sizeof sse) return;
      std::memcpy(&sse, data.data(), sizeof sse);
      if (auto it = associations_.find(static_cast<AssociationId>(sse.sse_assoc_id)); it != associations_.end())
        it->second.shutting_down = true;
      return;
    }
    case SCTP_PARTIAL_DELIVERY_EVENT: {
      sctp_pdapi_event pd{};
      if (data.size() < sizeof pd) return;
      std::memcpy(&pd, data.data(), sizeof pd);
      if (pd.pdapi_indication == SCTP_PARTIAL_DELIVERY_ABORTED) {
        if (auto it = associations_.find(static_cast<AssociationId>(pd.pdapi_assoc_id)); it != associations_.end())
          it->second.partial.clear();
      }
      return;
    }
    default:
      return;
  }
}

void KernelEndpoint::handle_assoc_change(const sctp_assoc_change& change) {
  const auto id = static_cast<AssociationId>(change.sac_assoc_id);
  AssociationEvent ev;
  ev.association = id;
  switch (change.sac_state) {
    case SCTP_COMM_UP:
    case SCTP_RESTART: {
      ev.kind = change.sac_state == SCTP_COMM_UP ? AssociationEventKind::Up : AssociationEventKind::Restart;
      auto& assoc = associations_[id];
      assoc.peer = peer_addresses(id, assoc.peer);
      assoc.shutting_down = false;
      if (change.sac_state == SCTP_RESTART) assoc.partial.clear();
      ev.peer = assoc.peer;
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
      if (auto it = associations_.find(id); it != associations_.end()) {
        ev.peer = it->second.peer;
        associations_.erase(it);
      }
      break;
    }
    default:
      return;
  }
  if (auto h = handlers_.on_association) h(ev);
}

void KernelEndpoint::handle_send_failed(const sctp_send_failed_event& event, std::span<const std::byte> data) {
  const auto id = static_cast<AssociationId>(event.ssf_assoc_id);
  const std::uint16_t flags = event.ssfe_info.snd_flags;
  const bool sent = (event.ssf_flags & SCTP_DATA_SENT) != 0;
  const bool first = (flags & kChunkFirst) != 0;
  const bool last = (flags & kChunkLast) != 0;
  const auto key = std::make_pair(id, event.ssfe_info.snd_sid);
  std::vector<SendFailure> done;
  auto open = failing_.find(key);
  if (first && open != failing_.end()) {  // the previous message lost its tail: return what came
    done.push_back(std::move(open->second));
    failing_.erase(open);
    open = failing_.end();
  }
  if (open == failing_.end()) {
    SendFailure f;
    f.association = id;
    f.info.ppid = ntohl(event.ssfe_info.snd_ppid);
    f.info.stream = event.ssfe_info.snd_sid;
    f.info.context = event.ssfe_info.snd_context;
    f.info.unordered = (flags & kChunkUnordered) != 0;
    f.was_transmitted = sent;
    f.payload.assign(data.begin(), data.end());
    if (last) {
      done.push_back(std::move(f));
    } else {
      failing_.emplace(key, std::move(f));
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

void KernelEndpoint::flush_failures() {
  std::vector<SendFailure> done;
  for (auto& [key, f] : failing_) done.push_back(std::move(f));
  failing_.clear();
  emit_failures(std::move(done));
}

void KernelEndpoint::emit_failures(std::vector<SendFailure> failures) {
  const std::weak_ptr<int> token = alive_;
  for (auto& f : failures) {
    if (!alive_after(token)) return;
    if (auto h = handlers_.on_send_failed) h(std::move(f));
  }
}

void KernelEndpoint::close() {
  if (socket_.is_open()) {
    // RFC 6458 §8.1.4: SO_LINGER with a zero timeout makes close() ABORT every association.
    const linger abort_on_close{1, 0};
    ::setsockopt(fd(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    boost::system::error_code ec;
    socket_.close(ec);  // cancels the waits; their callbacks see the endpoint closed
  }
  alive_ = std::make_shared<int>(0);  // queued continuations of the old socket do nothing
  associations_.clear();
  failing_.clear();
  notification_.clear();
  handlers_ = {};
  read_armed_ = false;
  write_armed_ = false;
}

}  // namespace

TransportResult<std::unique_ptr<Endpoint>> open_kernel_endpoint(boost::asio::io_context& io,
                                                                const EndpointOptions& options) {
  auto ep = std::make_unique<KernelEndpoint>(io, options);
  if (auto r = ep->open(); !r) return std::move(r).error();
  return std::unique_ptr<Endpoint>(std::move(ep));
}

}  // namespace rsp::transport
