// io-thread glue: asap events and messages become queue items and notifications of a socket
// (modelled on RFC 6458 §6.1: SCTP_ASSOC_CHANGE ~ session change, SCTP_SEND_FAILED_EVENT ~
// message status, SCTP_SHUTDOWN_EVENT ~ shutdown).
#include <algorithm>
#include <cassert>
#include <cstring>

#include "api/runtime.hpp"

namespace rsp::api {

namespace {

// Groups ascending sequence numbers into consecutive ranges.
std::vector<asap::SeqRange> ranges_of(std::vector<asap::MessageSeq> seqs) {
  std::sort(seqs.begin(), seqs.end());
  std::vector<asap::SeqRange> out;
  for (auto s : seqs) {
    if (!out.empty() && out.back().last + 1 == s) {
      out.back().last = s;
    } else {
      out.push_back({s, s});
    }
  }
  return out;
}

void push_message_status(Socket& socket, asap::SessionId session, unsigned state,
                         const asap::SeqRange& range, std::optional<PoolElementId> pe) {
  rserpool_message_status m{};
  m.rms_type = RSERPOOL_MESSAGE_STATUS;
  m.rms_length = sizeof m;
  m.rms_state = state;
  m.rms_session = static_cast<rserpool_session_t>(session);
  m.rms_first_seq = range.first;
  m.rms_last_seq = range.last;
  m.rms_pe_id = pe.value_or(0);
  socket.push_notification(RSERPOOL_MESSAGE_STATUS, &m, sizeof m);
}

// Failover accounting (asap FailoverReport) as one notification per range of sequence numbers.
void push_report(Socket& socket, const asap::FailoverReport& report) {
  for (const auto& r : ranges_of(report.dropped))
    push_message_status(socket, report.session, RSERPOOL_MESSAGE_DROPPED, r, report.from);
  for (const auto& r : ranges_of(report.possibly_duplicated))
    push_message_status(socket, report.session, RSERPOOL_MESSAGE_POSSIBLY_DUPLICATED, r,
                        report.from);
  for (const auto& r : report.unconfirmed)
    push_message_status(socket, report.session, RSERPOOL_MESSAGE_UNCONFIRMED, r, report.from);
}

void push_registrar(Socket& socket, unsigned state, std::optional<RegistrarId> id,
                    const std::optional<TransportAddress>& address) {
  rserpool_registrar_change r{};
  r.rrc_type = RSERPOOL_REGISTRAR_CHANGE;
  r.rrc_length = sizeof r;
  r.rrc_state = state;
  r.rrc_registrar_id = id.value_or(0);
  if (address && !address->addresses.empty())
    sockaddr_from_ip(address->addresses.front(), address->port, r.rrc_address);
  socket.push_notification(RSERPOOL_REGISTRAR_CHANGE, &r, sizeof r);
}

void push_session_change(Socket& socket, unsigned state, asap::SessionId session,
                         std::optional<PoolElementId> pe) {
  rserpool_session_change c{};
  c.rsc_type = RSERPOOL_SESSION_CHANGE;
  c.rsc_length = sizeof c;
  c.rsc_state = state;
  c.rsc_session = static_cast<rserpool_session_t>(session);
  c.rsc_pe_id = pe.value_or(0);
  socket.push_notification(RSERPOOL_SESSION_CHANGE, &c, sizeof c);
}

void on_pool_user_event(Socket& socket, const asap::PoolUserEvent& e) {
  using K = asap::PoolUserEventKind;
  switch (e.kind) {
    case K::SessionAdded:
      push_session_change(socket, RSERPOOL_SESSION_ADD, e.session, e.pool_element);
      break;
    case K::SessionRemoved:
      push_session_change(socket, RSERPOOL_SESSION_REMOVE, e.session, e.pool_element);
      break;
    case K::FailoverNecessary:
    case K::FailoverComplete:
    case K::FailoverFailed: {
      if (e.kind == K::FailoverNecessary && e.pe_shut_down) {
        // RFC 6458 §6.1.5's SCTP_SHUTDOWN_EVENT, for the session: its PE ended the association
        // on purpose (it deregistered and closed); the failover notifications follow.
        rserpool_shutdown_event s{};
        s.rse_type = RSERPOOL_SHUTDOWN_EVENT;
        s.rse_length = sizeof s;
        s.rse_session = static_cast<rserpool_session_t>(e.session);
        socket.push_notification(RSERPOOL_SHUTDOWN_EVENT, &s, sizeof s);
      }
      rserpool_failover f{};
      f.rf_type = RSERPOOL_FAILOVER;
      f.rf_length = sizeof f;
      f.rf_state = e.kind == K::FailoverNecessary  ? RSERPOOL_FAILOVER_NECESSARY
                   : e.kind == K::FailoverComplete ? RSERPOOL_FAILOVER_COMPLETE
                                                   : RSERPOOL_FAILOVER_FAILED;
      f.rf_session = static_cast<rserpool_session_t>(e.session);
      f.rf_has_cookie = e.report.cookie_replayed ? 1 : 0;
      // The PE given up (the asap report names it on NECESSARY, COMPLETE and FAILED).
      f.rf_from_pe = e.report.from.value_or(0);
      f.rf_to_pe = e.report.to.value_or(0);
      f.rf_error = e.error ? to_errno(*e.error) : 0;
      f.rf_resent = static_cast<std::uint32_t>(e.report.resent.size());
      f.rf_possibly_duplicated = static_cast<std::uint32_t>(e.report.possibly_duplicated.size());
      f.rf_dropped = static_cast<std::uint32_t>(e.report.dropped.size());
      std::uint64_t unconfirmed = 0;
      for (const auto& r : e.report.unconfirmed) unconfirmed += r.size();
      f.rf_unconfirmed = static_cast<std::uint32_t>(unconfirmed);
      if (e.kind == K::FailoverFailed) socket.session_failed = true;
      if (e.kind == K::FailoverComplete) socket.session_failed = false;
      socket.push_notification(RSERPOOL_FAILOVER, &f, sizeof f);
      push_report(socket, e.report);
      break;
    }
    case K::MessagesReturned:
      push_report(socket, e.report);
      break;
    case K::RegistrarLost:
      push_registrar(socket, RSERPOOL_REGISTRAR_LOST, std::nullopt, e.registrar);
      break;
    case K::RegistrarFound:
      push_registrar(socket, RSERPOOL_REGISTRAR_FOUND, std::nullopt, e.registrar);
      break;
    case K::CookieReceived:
    case K::BusinessCardReceived:
      break;  // kept by the asap layer for failover; rsp_has_cookie() reports it
  }
}

void push_registration(Socket& socket, unsigned state, int error, PoolElementId id) {
  rserpool_registration r{};
  r.rr_type = RSERPOOL_REGISTRATION;
  r.rr_length = sizeof r;
  r.rr_state = state;
  r.rr_error = error;
  r.rr_pe_id = id;
  socket.push_notification(RSERPOOL_REGISTRATION, &r, sizeof r);
}

void finish_registration_wait(Socket& socket, int error) {
  if (auto waiter = std::move(socket.registration_waiter)) waiter->set_value(error);
}

void on_pool_element_event(Socket& socket, const asap::PoolElementEvent& e) {
  using K = asap::PoolElementEventKind;
  const PoolElementId id = socket.pool_element ? socket.pool_element->id() : 0;
  switch (e.kind) {
    case K::Registered:
    case K::Reregistered:
      socket.registered_pe = true;
      if (e.kind == K::Registered) push_registration(socket, RSERPOOL_REGISTERED, 0, id);
      finish_registration_wait(socket, 0);
      break;
    case K::RegistrationFailed: {
      const int error = e.error ? to_errno(*e.error) : EACCES;
      push_registration(socket, RSERPOOL_REGISTRATION_FAILED, error, id);
      finish_registration_wait(socket, error);
      break;
    }
    case K::Deregistered:
      push_registration(socket, RSERPOOL_DEREGISTERED, e.error ? to_errno(*e.error) : 0, id);
      break;
    case K::RegistrarLost:
      push_registrar(socket, RSERPOOL_REGISTRAR_LOST, e.registrar, e.registrar_address);
      break;
    case K::RegistrarFound:
      push_registrar(socket, RSERPOOL_REGISTRAR_FOUND, e.registrar, e.registrar_address);
      break;
    case K::HomeRegistrarChanged:
      push_registrar(socket, RSERPOOL_REGISTRAR_FOUND, e.registrar, e.registrar_address);
      break;
    case K::SessionAdded:
      push_session_change(socket, RSERPOOL_SESSION_ADD, e.session, std::nullopt);
      break;
    case K::SessionRemoved:
      push_session_change(socket, RSERPOOL_SESSION_REMOVE, e.session, std::nullopt);
      break;
    case K::BusinessCard:
      break;
  }
}

QueuedItem item_of(asap::ReceivedData&& data, int flags) {
  QueuedItem item;
  item.msg_flags = flags;
  item.info.rinfo_session = static_cast<rserpool_session_t>(data.session);
  item.info.rinfo_pe_id = data.pool_element;
  item.info.rinfo_ppid = data.ppid;
  item.info.rinfo_stream = data.stream;
  if (data.unordered) item.info.rinfo_flags |= RSP_UNORDERED;
  item.data = std::move(data.payload);
  return item;
}

}  // namespace

asap::Context* context_for(Runtime& runtime, Socket& socket) {
  assert(runtime.lease().held_by_this_thread());
  if (socket.own_context) return socket.own_context.get();
  const SocketOptions options = socket.options();
  if (!options.profile && !options.association && !options.stale_cache)
    return &runtime.context();
  asap::ContextOptions co = runtime.context_options();
  const auto base_source = co.config.source;
  if (options.profile)
    co.config = *options.profile == RSP_PROFILE_LOW_LATENCY ? asap::low_latency_config()
                                                            : asap::default_config();
  co.config.source = base_source;
  if (options.association) {
    using std::chrono::milliseconds;
    const auto& a = *options.association;
    auto& p = co.config.data_association;
    if (a.sp_rto_initial != 0) p.rto_initial = milliseconds(a.sp_rto_initial);
    if (a.sp_rto_min != 0) p.rto_min = milliseconds(a.sp_rto_min);
    if (a.sp_rto_max != 0) p.rto_max = milliseconds(a.sp_rto_max);
    if (a.sp_assoc_max_rxt != 0) p.max_retransmissions = static_cast<std::uint16_t>(a.sp_assoc_max_rxt);
    if (a.sp_path_max_rxt != 0)
      p.path_max_retransmissions = static_cast<std::uint16_t>(a.sp_path_max_rxt);
    if (a.sp_hbinterval != 0) p.heartbeat_interval = milliseconds(a.sp_hbinterval);
  }
  if (options.stale_cache) co.config.timers.stale_cache = *options.stale_cache;
  // Registrars learned from announcements are the runtime context's; a socket with its own
  // context listens for them itself only when announcements are the only source.
  auto created = asap::Context::create(runtime.io(), co);
  if (!created) return nullptr;
  socket.own_context = std::move(*created);
  return socket.own_context.get();
}

asap::PoolUserHandlers pool_user_handlers(const std::shared_ptr<Socket>& socket) {
  std::weak_ptr<Socket> weak = socket;
  asap::PoolUserHandlers h;
  h.on_event = [weak](const asap::PoolUserEvent& e) {
    if (auto s = weak.lock()) on_pool_user_event(*s, e);
  };
  h.on_message = [weak](asap::ReceivedData&& data) {
    if (auto s = weak.lock()) {
      QueuedItem item = item_of(std::move(data), 0);
      if (auto it = s->last_seq.find(static_cast<asap::SessionId>(item.info.rinfo_session));
          it != s->last_seq.end())
        item.info.rinfo_seq = it->second;
      s->push_received(std::move(item));
    }
  };
  return h;
}

asap::PoolElementHandlers pool_element_handlers(const std::shared_ptr<Socket>& socket) {
  std::weak_ptr<Socket> weak = socket;
  asap::PoolElementHandlers h;
  h.on_event = [weak](const asap::PoolElementEvent& e) {
    if (auto s = weak.lock()) on_pool_element_event(*s, e);
  };
  h.on_message = [weak](asap::ReceivedData&& data) {
    if (auto s = weak.lock()) s->push_received(item_of(std::move(data), 0));
  };
  h.on_cookie_echo = [weak](asap::SessionId session, std::vector<std::byte> cookie) {
    if (auto s = weak.lock()) {
      QueuedItem item;
      item.msg_flags = MSG_RSERPOOL_COOKIE_ECHO;
      item.info.rinfo_session = static_cast<rserpool_session_t>(session);
      item.data = std::move(cookie);
      s->push_received(std::move(item));
    }
  };
  return h;
}

}  // namespace rsp::api
