// The usrsctp backend's UDP side (RFC 6951): batched receive and send, the SCTP checksum we
// compute for usrsctp, remote endpoints (Peer) and their UDP ports, path MTUs.
#include <arpa/inet.h>
#include <time.h>

#include <boost/asio/post.hpp>

#include "transport/crc32c.hpp"
#include "transport/usrsctp_address.hpp"
#include "transport/usrsctp_endpoint_impl.hpp"
#include "rsp/transport/loop_trace.hpp"

namespace rsp::transport::usrsctp_detail {

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
  const std::weak_ptr<int> token = alive_;
  const bool tracing = loop_trace::enabled();
  loop_trace::Record trace{loop_trace::Kind::Wakeup};
  if (tracing) trace.t_ns = loop_trace::now_ns();
  const auto busy_poll = options_.busy_poll;
  // Busy polling only: spin until `deadline`; return to the io_context at `yield_at` even while
  // datagrams keep coming, so that timers (usrsctp's tick, the application's) and other sockets
  // get their turn. Without it no clock is read here.
  std::chrono::steady_clock::time_point deadline, yield_at;
  if (busy_poll.count() > 0) {
    const auto start = std::chrono::steady_clock::now();
    deadline = start + busy_poll;
    yield_at = start + std::max(busy_poll * 4, decltype(busy_poll){1000});
  }
  bool yield = false;
  for (bool first = true;; first = false) {
    const auto read = receive_batches(index, tracing ? &trace : nullptr);
    if (!alive_after(token)) return;
    // A one-to-many socket's send buffer is accounted per association and usrsctp reports no
    // "writable" event for it (usrsctp_get_events never sets SCTP_EVENT_WRITE; its send callback
    // needs a receive callback too). Packets came in, so SACKs may have made room: say so, and
    // a send that still finds no room arms the hint again.
    if (want_writable_ && (first || read.datagrams > 0)) {
      want_writable_ = false;
      if (auto h = handlers_.on_writable) h();
      if (!alive_after(token)) return;
    }
    batching_ = false;
    flush();
    if (busy_poll.count() <= 0) break;
    const auto now = std::chrono::steady_clock::now();
    if (read.datagrams > 0) deadline = now + busy_poll;
    if (read.full || now >= yield_at) {
      // More may be waiting, or this wake-up has had its share: let other work run, then
      // continue at once (a posted handler makes the reactor poll without blocking).
      yield = true;
      break;
    }
    if (now >= deadline) break;
  }
  if (tracing) {
    trace.dur_ns = loop_trace::now_ns() - trace.t_ns;
    loop_trace::record(trace);
  }
  if (yield) {
    boost::asio::post(io_, [this, index, token] {
      if (alive_after(token)) on_readable(index);
    });
    return;
  }
  arm(index);
}

UsrsctpEndpoint::ReadResult UsrsctpEndpoint::receive_batches(std::size_t index, loop_trace::Record* trace) {
  const int fd = sockets_[index]->socket.native_handle();
  std::array<mmsghdr, kBatch> msgs{};
  std::array<iovec, kBatch> iov{};
  std::array<sockaddr_storage, kBatch> from{};
  // Kernel arrival times (SO_TIMESTAMPNS, set while the loop trace is on).
  constexpr std::size_t kControl = CMSG_SPACE(sizeof(timespec));
  std::array<std::array<std::byte, kControl>, kBatch> control{};
  std::int64_t realtime_to_monotonic = 0;
  if (trace != nullptr) {
    timespec rt{}, mt{};
    ::clock_gettime(CLOCK_REALTIME, &rt);
    ::clock_gettime(CLOCK_MONOTONIC, &mt);
    realtime_to_monotonic = (static_cast<std::int64_t>(mt.tv_sec) - rt.tv_sec) * 1'000'000'000 +
                            (mt.tv_nsec - rt.tv_nsec);
  }
  const std::weak_ptr<int> token = alive_;
  ReadResult result;
  batching_ = true;
  for (std::size_t round = 0; round < kMaxBatchesPerWakeup; ++round) {
    for (std::size_t i = 0; i < kBatch; ++i) {
      iov[i] = {rx_batch_[i].data(), kMaxDatagram};
      msgs[i].msg_hdr = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      if (trace != nullptr) {
        msgs[i].msg_hdr.msg_control = control[i].data();
        msgs[i].msg_hdr.msg_controllen = kControl;
      }
    }
    const int n = ::recvmmsg(fd, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) break;
    result.datagrams += static_cast<std::size_t>(n);
    for (int i = 0; i < n; ++i) {
      if (trace != nullptr) {
        ++trace->count;
        for (auto* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c != nullptr; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
          if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_TIMESTAMPNS) continue;
          timespec ts{};
          std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
          const std::int64_t at = static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec +
                                  realtime_to_monotonic;
          if (trace->rx_ns == 0 || at < trace->rx_ns) trace->rx_ns = at;
        }
      }
      udp::endpoint sender;
      std::memcpy(sender.data(), &from[i], std::min<std::size_t>(msgs[i].msg_hdr.msg_namelen, sizeof from[i]));
      input(index, rx_batch_[i].data(), msgs[i].msg_len, sender);
    }
    // Hand the data to the user between batches so that replies join the outgoing batch.
    if (readable_) drain();
    if (!alive_after(token)) return result;
    if (static_cast<std::size_t>(n) < kBatch) return result;
  }
  result.full = result.datagrams > 0;
  return result;
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
  if (batching_ || held_) {
    const auto* p = static_cast<const std::byte*>(packet);
    if (tx_count_ == tx_.size()) tx_.emplace_back();
    Pending& slot = tx_[tx_count_++];
    slot.socket_index = peer.socket_index;
    slot.to = to;
    slot.bytes.assign(p, p + length);
    if (tx_count_ >= kBatch) flush();
    return;
  }
  ::sendto(s.socket.native_handle(), packet, length, MSG_DONTWAIT,
           static_cast<const sockaddr*>(to.data()), static_cast<socklen_t>(to.size()));
}

void UsrsctpEndpoint::hold_output(bool hold) {
  if (!hold) {
    held_ = false;
    if (!batching_) flush();
    return;
  }
  if (sctp_ == nullptr) return;
  held_ = true;
  if (release_posted_) return;
  // The hold ends at the io's next turn at the latest: whoever runs the io next (the caller's
  // next wait, or the thread that takes the io over) sends what was held.
  release_posted_ = true;
  boost::asio::post(io_, [this, token = std::weak_ptr<int>(alive_)] {
    if (token.expired()) return;
    release_posted_ = false;
    hold_output(false);
  });
}

void UsrsctpEndpoint::flush() {
  std::size_t start = 0;
  const std::size_t count = tx_count_;
  tx_count_ = 0;
  while (start < count) {
    // One sendmmsg per run of packets for the same socket.
    std::array<mmsghdr, kBatch> msgs{};
    std::array<iovec, kBatch> iov{};
    const std::size_t index = tx_[start].socket_index;
    std::size_t n = 0;
    while (start + n < count && n < kBatch && tx_[start + n].socket_index == index) {
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

}  // namespace rsp::transport::usrsctp_detail
