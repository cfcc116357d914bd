// The usrsctp backend (see usrsctp_endpoint_impl.hpp): opening, association parameters,
// starting, using and ending associations, closing.
#include "transport/usrsctp_endpoint.hpp"

#include "rsp/transport/loop_trace.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <boost/asio/ip/v6_only.hpp>

#include "transport/usrsctp_address.hpp"
#include "transport/usrsctp_endpoint_impl.hpp"

namespace rsp::transport {
namespace usrsctp_detail {

TransportResult<void> UsrsctpEndpoint::open() {
  if (auto r = Stack::instance().attach(io_, *this); !r) return r;
  attached_ = true;
  if (auto r = open_udp(); !r) return r;
  return open_sctp();
}

namespace {

// Every association of the endpoint shares these UDP buffers, so a registrar that many PEs
// register with at once needs them large. SO_RCVBUF/SO_SNDBUF are capped at
// net.core.rmem_max/wmem_max (208 KiB on a stock Debian); with CAP_NET_ADMIN (a root or
// systemd-capable service) the FORCE variants lift the cap, otherwise the capped size stays.
void set_buffer_sizes(int fd, int receive, int send) {
  const auto set = [fd](int option, int force_option, int size) {
    (void)::setsockopt(fd, SOL_SOCKET, option, &size, sizeof size);
    int got = 0;
    socklen_t len = sizeof got;
    // Linux reports twice the size set (bookkeeping overhead included).
    if (::getsockopt(fd, SOL_SOCKET, option, &got, &len) == 0 && got / 2 < size)
      (void)::setsockopt(fd, SOL_SOCKET, force_option, &size, sizeof size);
  };
  set(SO_RCVBUF, SO_RCVBUFFORCE, receive);
  set(SO_SNDBUF, SO_SNDBUFFORCE, send);
}

}  // namespace

TransportResult<void> UsrsctpEndpoint::open_udp() {
  boost::system::error_code ec;
  std::uint16_t port = options_.port;
  auto bind_one = [&](const udp::endpoint& at, bool dual) -> TransportResult<void> {
    auto s = std::make_unique<UdpSocket>(io_);
    s->socket.open(at.protocol(), ec);
    if (ec) return make_error(TransportErrc::SystemError, "UDP socket: " + ec.message());
    if (dual) s->socket.set_option(boost::asio::ip::v6_only(false), ec);
    s->dual_stack = dual;
    set_buffer_sizes(s->socket.native_handle(), static_cast<int>(options_.receive_buffer),
                     static_cast<int>(options_.send_buffer));
    s->socket.bind(at, ec);
    if (ec) {
      const auto code = ec == boost::asio::error::address_in_use ? TransportErrc::AddressInUse
                                                                 : TransportErrc::SystemError;
      return make_error(code, "binding UDP " + at.address().to_string() + " port " +
                                  std::to_string(at.port()) + ": " + ec.message());
    }
    s->socket.non_blocking(true, ec);
    if (loop_trace::enabled()) {
      // The bench's loop trace wants each datagram's kernel arrival time.
      const int on = 1;
      (void)::setsockopt(s->socket.native_handle(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    }
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
  spa.sendv_sndinfo.snd_context = info.context;
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
  out.unacknowledged_chunks = static_cast<std::size_t>(st.sstat_unackdata) + st.sstat_penddata;
  out.unacknowledged_bytes = out.unacknowledged_chunks;
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
void UsrsctpEndpoint::close() {
  if (sctp_ != nullptr) {
    // Abort, don't linger: a graceful shutdown would outlive the endpoint inside usrsctp.
    const linger abort_on_close{1, 0};
    usrsctp_setsockopt(sctp_, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    batching_ = false;
    held_ = false;
    flush();  // held packets go before the ABORT
    struct socket* s = std::exchange(sctp_, nullptr);
    // usrsctp frees the socket when it is done with it, possibly after we are gone: its upcall
    // must not point at us any more (a null upcall would be called all the same).
    usrsctp_set_upcall(s, [](struct socket*, void*, int) {}, nullptr);
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
  tx_count_ = 0;
  associations_.clear();
  failing_.clear();
  handlers_ = {};
  if (attached_) {
    attached_ = false;
    Stack::instance().detach(*this);
  }
}

}  // namespace usrsctp_detail

TransportResult<std::unique_ptr<Endpoint>> open_usrsctp_endpoint(boost::asio::io_context& io,
                                                                 const EndpointOptions& options) {
  auto ep = std::make_unique<usrsctp_detail::UsrsctpEndpoint>(io, options);
  if (auto r = ep->open(); !r) return std::move(r).error();
  return std::unique_ptr<Endpoint>(std::move(ep));
}

}  // namespace rsp::transport
