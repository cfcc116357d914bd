// The usrsctp backend's user side: draining the usrsctp socket, whole messages (partial
// deliveries reassembled), association events and returned messages (RFC 6458 §6.1).
#include <arpa/inet.h>

#include <boost/asio/post.hpp>

#include "rsp/transport/payload_pool.hpp"
#include "transport/usrsctp_endpoint_impl.hpp"

namespace rsp::transport::usrsctp_detail {

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

void UsrsctpEndpoint::pause_receiving(bool paused) {
  paused_ = paused;
  // What arrived meanwhile waits in usrsctp's socket buffer: read it at the io's next turn.
  if (!paused) schedule_drain();
}

void UsrsctpEndpoint::drain() {
  const std::weak_ptr<int> token = alive_;
  readable_ = false;
  while (sctp_ != nullptr) {
    // Left in usrsctp's receive buffer; its window closes once that is full (the peer then gets
    // WouldBlock). pause_receiving(false) drains again (readable_ stays false meanwhile, or every
    // StackCall would post another drain).
    if (paused_) return;
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
        deliver(info, from, copy_payload(std::span<const std::byte>(rx_.data(), static_cast<std::size_t>(n))));
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
    f.info.context = event.ssfe_info.snd_context;
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

}  // namespace rsp::transport::usrsctp_detail
