// Pool element: registration life cycle (RFC 5352 §3.1, §3.2, §3.7) and the data endpoint
// (sessions, COOKIE / COOKIE_ECHO / BUSINESS_CARD, §3.9-3.10).
#include "rsp/asap/pool_element.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <map>

#include "local_addresses.hpp"
#include "registrar_channel.hpp"
#include "rsp/wire/codec.hpp"

namespace rsp::asap {

namespace asap_msg = wire::asap;
using transport::AssociationEventKind;
using transport::AssociationId;

std::string_view to_string(PoolElementEventKind kind) noexcept {
  switch (kind) {
    case PoolElementEventKind::Registered: return "registered";
    case PoolElementEventKind::Reregistered: return "reregistered";
    case PoolElementEventKind::RegistrationFailed: return "registration failed";
    case PoolElementEventKind::Deregistered: return "deregistered";
    case PoolElementEventKind::RegistrarLost: return "registrar lost";
    case PoolElementEventKind::RegistrarFound: return "registrar found";
    case PoolElementEventKind::HomeRegistrarChanged: return "home registrar changed";
    case PoolElementEventKind::SessionAdded: return "session added";
    case PoolElementEventKind::SessionRemoved: return "session removed";
    case PoolElementEventKind::BusinessCard: return "business card";
  }
  return "unknown";
}

struct PoolElement::Impl {
  Context& context;
  PoolElementOptions options;
  PoolElementHandlers handlers;
  PoolElementId id = 0;
  TransportAddress user_transport;
  std::unique_ptr<transport::Endpoint> data;
  std::unique_ptr<detail::RegistrarChannel> channel;
  std::unique_ptr<Timer> reregistration_timer;
  std::unique_ptr<Timer> retry_timer;
  std::shared_ptr<int> alive = std::make_shared<int>(0);

  bool enabled = false;            // registering (start() until deregister())
  bool registered = false;         // the current registrar accepted our last registration
  bool registered_here = false;    // ... and it is the registrar we registered with before
  bool in_flight = false;
  bool again = false;              // re-register once the one in flight completes
  std::uint64_t registration_request = 0;
  PoolElementStatus status;

  struct Session {
    AssociationId association = 0;
    TransportAddress peer;
  };
  std::map<SessionId, Session> sessions;
  std::map<AssociationId, SessionId> by_association;
  SessionId next_session = 1;

  Impl(Context& c, PoolElementOptions o, PoolElementHandlers h)
      : context(c), options(std::move(o)), handlers(std::move(h)) {}

  template <typename F>
  bool emit(F&& call) {  // false when the PE was destroyed by the handler
    const std::weak_ptr<int> token = alive;
    call();
    return !token.expired();
  }

  bool event(PoolElementEvent e) {
    if (!e.registrar_address) e.registrar_address = channel ? channel->current() : std::nullopt;
    if (!e.registrar && e.registrar_address) e.registrar = context.registrar_id(*e.registrar_address);
    if (!handlers.on_event) return true;
    return emit([&] { handlers.on_event(e); });
  }

  bool data_on_wildcard = false;  // data endpoint bound to every address
  bool asap_on_wildcard = false;

  // The addresses to register for an endpoint bound to the wildcard: the one we reach
  // `registrar` from (an address of our association with it), else every host address.
  static void wildcard_addresses(AddressList& out, const TransportAddress* registrar) {
    out = AddressList{};
    if (registrar != nullptr && registrar->addresses.size() != 0) {
      if (auto a = detail::source_address_towards(registrar->addresses[0])) {
        out.push_back(*a);
        return;
      }
    }
    for (const auto& a : detail::host_addresses()) out.push_back(a);
  }

  // The Context's timers with this PE's own registration life / T4, when it has them.
  Timers timers() const {
    Timers t = context.config().timers;
    if (options.registration_lifetime) t.registration_lifetime = *options.registration_lifetime;
    if (options.reregistration_interval) t.reregistration_interval = *options.reregistration_interval;
    return t;
  }

  wire::PoolElement wire_element(const TransportAddress* registrar = nullptr) {
    if (data_on_wildcard) wildcard_addresses(user_transport.addresses, registrar);
    wire::PoolElement pe;
    pe.id = id;
    pe.home_registrar_id = status.home_registrar.value_or(0);
    pe.registration_life = timers().registration_lifetime;
    pe.user_transport = user_transport;
    pe.policy = options.policy;
    if (options.advertise_asap_transport) {
      TransportAddress asap;
      asap.protocol = TransportProtocol::Sctp;
      asap.use = TransportUse::DataOnly;
      asap.port = channel->endpoint().local_port();
      if (asap_on_wildcard) {
        wildcard_addresses(asap.addresses, registrar);
      } else {
        for (const auto& a : channel->endpoint().local_addresses()) asap.addresses.push_back(a);
      }
      if (asap.addresses.size() != 0) pe.asap_transport = std::move(asap);
    }
    return pe;
  }

  // RFC 5352 §3.1: REGISTRATION, answered by REGISTRATION_RESPONSE for (handle, id).
  void send_registration() {
    if (!enabled) return;
    if (in_flight) {
      again = true;
      return;
    }
    in_flight = true;
    again = false;
    retry_timer->cancel();
    const auto handle = options.pool_handle;
    const auto pe_id = id;
    registration_request = channel->request(
        asap_msg::Registration{options.pool_handle, wire_element()},
        [handle, pe_id](const wire::AsapMessage& m) {
          const auto* r = std::get_if<asap_msg::RegistrationResponse>(&m);
          return r != nullptr && r->pool_handle == handle && r->pe_id == pe_id;
        },
        context.config().timers.registration_timeout,
        [this](AsapResult<wire::AsapMessage> result) { on_registration_result(std::move(result)); },
        [this](wire::AsapMessage& m, const TransportAddress& registrar) {
          std::get<asap_msg::Registration>(m).pool_element = wire_element(&registrar);
        });
  }

  void on_registration_result(AsapResult<wire::AsapMessage> result) {
    in_flight = false;
    if (!enabled) return;
    const Timers timers = this->timers();
    if (!result) {
      registered = false;
      PoolElementEvent e;
      e.kind = PoolElementEventKind::RegistrationFailed;
      e.error = result.error();
      if (!event(std::move(e))) return;
      // Keep trying: the channel hunts on, a registrar may come back or be announced.
      retry_timer->start(timers.server_hunt_retry_delay, [this] { send_registration(); });
      return;
    }
    const auto& response = std::get<asap_msg::RegistrationResponse>(*result);
    if (response.rejected) {
      registered = false;
      registered_here = false;
      PoolElementEvent e;
      e.kind = PoolElementEventKind::RegistrationFailed;
      if (response.error && !response.error->causes.empty()) {
        e.cause = response.error->causes.front().code;
        status.last_rejection = e.cause;
      }
      e.error = make_error(AsapErrc::RegistrationRejected,
                           "registration of '" + std::string(options.pool_handle.view()) + "' rejected" +
                               (e.cause ? ": " + std::string(wire::to_string(*e.cause)) : std::string()));
      // Rejection is final for these values (RFC 5352 §3.1); start()/update_policy() retry.
      enabled = false;
      reregistration_timer->cancel();
      event(std::move(e));
      return;
    }
    const bool first_here = !registered_here;
    registered = true;
    registered_here = true;
    ++status.registrations;
    const auto interval = timers.effective_reregistration_interval();
    status.next_reregistration = context.time().now() + interval;
    // T4-reregistration.
    reregistration_timer->start(interval, [this] { send_registration(); });
    if (again) send_registration();  // values changed while this one was in flight
    PoolElementEvent e;
    e.kind = first_here ? PoolElementEventKind::Registered : PoolElementEventKind::Reregistered;
    event(std::move(e));
  }

  void on_registrar_lost(const TransportAddress& lost) {
    const bool was = registered;
    registered = false;
    registered_here = false;
    PoolElementEvent e;
    e.kind = PoolElementEventKind::RegistrarLost;
    e.registrar_address = lost;
    e.registrar = context.registrar_id(lost);
    if (!event(std::move(e))) return;
    // RFC 5352 §3.6: register with the registrar the hunt finds next.
    if (enabled && (was || !in_flight)) send_registration();
  }

  void on_unsolicited(AssociationId association, const TransportAddress& peer, wire::AsapMessage&& m) {
    if (auto* ka = std::get_if<asap_msg::EndpointKeepAlive>(&m)) {
      if (ka->pe_id != id || ka->pool_handle != options.pool_handle || !enabled) return;
      // RFC 5352 §3.7: answer with ENDPOINT_KEEP_ALIVE_ACK on the association it came on.
      channel->send_on(association, asap_msg::EndpointKeepAliveAck{options.pool_handle, id});
      ++status.keep_alives_answered;
      const auto current = channel->current();
      TransportAddress from = peer;
      if (ka->home) {
        const bool changed = status.home_registrar != ka->server_id;
        status.home_registrar = ka->server_id;
        if (current) context.learn_registrar_id(*current, ka->server_id);
        if (changed) {
          // The sender is now our home registrar (takeover): talk to it from now on.
          channel->adopt(association, from);
          PoolElementEvent e;
          e.kind = PoolElementEventKind::HomeRegistrarChanged;
          e.registrar = ka->server_id;
          event(std::move(e));
        }
      } else if (current && !status.home_registrar) {
        context.learn_registrar_id(*current, ka->server_id);
        status.home_registrar = ka->server_id;
      }
    }
  }

  // ---- data endpoint ----
  void on_data_association(const transport::AssociationEvent& e) {
    switch (e.kind) {
      case AssociationEventKind::Up: {
        if (by_association.count(e.association) != 0) return;
        const SessionId s = next_session++;
        sessions.emplace(s, Session{e.association, e.peer});
        by_association.emplace(e.association, s);
        PoolElementEvent ev;
        ev.kind = PoolElementEventKind::SessionAdded;
        ev.session = s;
        ev.peer = e.peer;
        event(std::move(ev));
        return;
      }
      case AssociationEventKind::Restart:
        return;
      case AssociationEventKind::Lost:
      case AssociationEventKind::ShutdownComplete:
      case AssociationEventKind::CannotStart: {
        auto it = by_association.find(e.association);
        if (it == by_association.end()) return;
        const SessionId s = it->second;
        by_association.erase(it);
        sessions.erase(s);
        PoolElementEvent ev;
        ev.kind = PoolElementEventKind::SessionRemoved;
        ev.session = s;
        event(std::move(ev));
        return;
      }
    }
  }

  void on_data_message(transport::ReceivedMessage&& m) {
    auto it = by_association.find(m.association);
    if (it == by_association.end()) return;
    const SessionId s = it->second;
    if (m.ppid == kControlPpid) {
      auto decoded = wire::decode_asap(m.payload);
      if (!decoded) return;
      if (auto* echo = std::get_if<asap_msg::CookieEcho>(&*decoded)) {
        if (handlers.on_cookie_echo) handlers.on_cookie_echo(s, std::move(echo->cookie));
      } else if (auto* card = std::get_if<asap_msg::BusinessCard>(&*decoded)) {
        PoolElementEvent ev;
        ev.kind = PoolElementEventKind::BusinessCard;
        ev.session = s;
        ev.business_card = std::move(*card);
        event(std::move(ev));
      }
      return;
    }
    if (!handlers.on_message) return;
    ReceivedData d;
    d.session = s;
    d.ppid = m.ppid;
    d.stream = m.stream;
    d.unordered = m.unordered;
    d.payload = std::move(m.payload);
    handlers.on_message(std::move(d));
  }

  AsapResult<AssociationId> association_of(SessionId s) const {
    if (!data) return make_error(AsapErrc::InvalidArgument, "this PE has no data endpoint (external user transport)");
    auto it = sessions.find(s);
    if (it == sessions.end()) return make_error(AsapErrc::NoSuchSession, "no session " + std::to_string(s));
    return it->second.association;
  }

  AsapResult<void> send_raw(SessionId s, std::span<const std::byte> payload, const transport::SendInfo& info) {
    auto a = association_of(s);
    if (!a) return std::move(a).error();
    auto sent = data->send(*a, payload, info);
    if (!sent) {
      // A PU that reads slower than the PE answers fills the association's send buffer.
      const auto code = sent.error().code == transport::TransportErrc::WouldBlock ? AsapErrc::WouldBlock
                                                                                   : AsapErrc::TransportError;
      return make_error(code, sent.error().message);
    }
    return {};
  }
};

PoolElement::PoolElement(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AsapResult<std::unique_ptr<PoolElement>> PoolElement::create(Context& context, PoolElementOptions options,
                                                             PoolElementHandlers handlers) {
  if (options.pool_handle.empty() || options.pool_handle.size() > kMaxPoolHandleSize) {
    return make_error(AsapErrc::InvalidArgument,
                      "pool handle must be 1.." + std::to_string(kMaxPoolHandleSize) + " bytes");
  }
  auto impl = std::make_unique<Impl>(context, std::move(options), std::move(handlers));
  auto& o = impl->options;
  impl->id = o.id.value_or(0);
  while (impl->id == 0) impl->id = context.random32();
  if (o.user_transport) {
    impl->user_transport = *o.user_transport;
  } else {
    transport::EndpointOptions eo;
    eo.backend = context.config().backend;
    eo.local_addresses = o.local_addresses;
    eo.port = o.port;
    eo.listen = true;
    eo.parameters = context.config().data_association;
    auto data = context.open_endpoint(eo);
    if (!data) {
      return make_error(AsapErrc::TransportError, "cannot open the data endpoint: " + data.error().message);
    }
    impl->data = std::move(*data);
    TransportAddress& t = impl->user_transport;
    t.protocol = TransportProtocol::Sctp;
    t.port = impl->data->local_port();
    t.use = o.transport_use;
    impl->data_on_wildcard = impl->data->local_addresses().empty();
    for (const auto& a : impl->data->local_addresses()) t.addresses.push_back(a);
  }
  auto channel = detail::RegistrarChannel::open(context, o.advertise_asap_transport);
  if (!channel) return std::move(channel).error();
  impl->channel = std::move(*channel);
  impl->asap_on_wildcard = impl->channel->endpoint().local_addresses().empty();
  if (impl->data_on_wildcard) Impl::wildcard_addresses(impl->user_transport.addresses, nullptr);
  impl->reregistration_timer = context.time().make_timer();
  impl->retry_timer = context.time().make_timer();

  Impl* p = impl.get();
  detail::RegistrarChannel::Handlers ch;
  ch.on_found = [p](const TransportAddress& a) {
    PoolElementEvent e;
    e.kind = PoolElementEventKind::RegistrarFound;
    e.registrar_address = a;
    p->event(std::move(e));
  };
  ch.on_lost = [p](const TransportAddress& a) { p->on_registrar_lost(a); };
  ch.on_unsolicited = [p](AssociationId id, const TransportAddress& peer, wire::AsapMessage&& m) {
    p->on_unsolicited(id, peer, std::move(m));
  };
  impl->channel->set_handlers(std::move(ch));
  if (impl->data) {
    transport::EndpointHandlers dh;
    dh.on_association = [p](const transport::AssociationEvent& e) { p->on_data_association(e); };
    dh.on_message = [p](transport::ReceivedMessage&& m) { p->on_data_message(std::move(m)); };
    impl->data->set_handlers(std::move(dh));
  }
  std::unique_ptr<PoolElement> pe(new PoolElement(std::move(impl)));
  if (pe->impl_->options.start) pe->start();
  return pe;
}

PoolElement::~PoolElement() {
  auto& i = *impl_;
  i.alive.reset();
  if (i.enabled && i.registered && i.channel->connected()) {
    // Best effort (RFC 5352 §3.2): the registrar may see the association abort before this.
    i.channel->send(asap_msg::Deregistration{i.options.pool_handle, i.id});
  }
  i.reregistration_timer->cancel();
  i.retry_timer->cancel();
  if (i.data) i.data->close();
}

void PoolElement::set_handlers(PoolElementHandlers handlers) { impl_->handlers = std::move(handlers); }

void PoolElement::start() {
  auto& i = *impl_;
  if (i.enabled) return;
  i.enabled = true;
  i.channel->set_persistent(true);
  i.send_registration();
}

const PoolHandle& PoolElement::pool_handle() const noexcept { return impl_->options.pool_handle; }
PoolElementId PoolElement::id() const noexcept { return impl_->id; }
const TransportAddress& PoolElement::user_transport() const noexcept { return impl_->user_transport; }
const PolicyInfo& PoolElement::policy() const noexcept { return impl_->options.policy; }
bool PoolElement::registered() const noexcept { return impl_->registered; }

PoolElementStatus PoolElement::status() const {
  auto s = impl_->status;
  s.registered = impl_->registered;
  s.registrar_address = impl_->channel->current();
  if (!s.home_registrar && s.registrar_address) s.home_registrar = impl_->context.registrar_id(*s.registrar_address);
  if (!impl_->reregistration_timer->pending()) s.next_reregistration.reset();
  return s;
}

AsapResult<void> PoolElement::update_policy(const PolicyInfo& policy) {
  auto& i = *impl_;
  if (policy.type != i.options.policy.type) {
    return make_error(AsapErrc::InvalidArgument, "update_policy cannot change the policy type");
  }
  i.options.policy = policy;
  if (i.enabled && (i.registered || i.in_flight)) i.send_registration();
  return {};
}

void PoolElement::deregister(std::function<void(AsapResult<void>)> done) {
  auto& i = *impl_;
  const bool had = i.registered || i.in_flight;
  i.enabled = false;
  i.channel->set_persistent(false);
  i.reregistration_timer->cancel();
  i.retry_timer->cancel();
  if (i.in_flight) {
    i.channel->cancel(i.registration_request);
    i.in_flight = false;
  }
  i.registered = false;
  i.registered_here = false;
  if (!had) {
    // Complete asynchronously: handlers never run inside a member call.
    if (done) boost::asio::post(i.context.io(), [done = std::move(done)] { done(AsapResult<void>{}); });
    return;
  }
  const auto handle = i.options.pool_handle;
  const auto pe_id = i.id;
  Impl* p = impl_.get();
  i.channel->request(
      asap_msg::Deregistration{handle, pe_id},
      [handle, pe_id](const wire::AsapMessage& m) {
        const auto* r = std::get_if<asap_msg::DeregistrationResponse>(&m);
        return r != nullptr && r->pool_handle == handle && r->pe_id == pe_id;
      },
      i.context.config().timers.deregistration_timeout,
      [p, done = std::move(done)](AsapResult<wire::AsapMessage> result) {
        AsapResult<void> outcome;
        if (!result) outcome = std::move(result).error();
        PoolElementEvent e;
        e.kind = PoolElementEventKind::Deregistered;
        if (!outcome) e.error = outcome.error();
        p->event(std::move(e));  // `done` is the caller's, valid even if the PE is gone now
        if (done) done(std::move(outcome));
      });
}

AsapResult<void> PoolElement::send(SessionId session, std::span<const std::byte> payload, const SendOptions& options) {
  if (options.ppid == kControlPpid) {
    return make_error(AsapErrc::InvalidArgument, "PPID 11 is reserved for ASAP on data associations");
  }
  transport::SendInfo info;
  info.ppid = options.ppid;
  info.stream = options.stream;
  info.unordered = options.unordered;
  info.lifetime = options.lifetime;
  return impl_->send_raw(session, payload, info);
}

AsapResult<void> PoolElement::send_cookie(SessionId session, std::span<const std::byte> cookie) {
  transport::SendInfo info;
  info.ppid = kControlPpid;
  return impl_->send_raw(session,
                         wire::encode(asap_msg::Cookie{std::vector<std::byte>(cookie.begin(), cookie.end())}),
                         info);
}

AsapResult<void> PoolElement::send_business_card(SessionId session, std::optional<PoolHandle> pool_handle,
                                                 std::vector<wire::PoolElement> elements) {
  transport::SendInfo info;
  info.ppid = kControlPpid;
  asap_msg::BusinessCard card;
  card.pool_handle = pool_handle.value_or(impl_->options.pool_handle);
  card.pool_elements = std::move(elements);
  if (card.pool_elements.empty()) {
    const auto registrar = impl_->channel->current();
    card.pool_elements.push_back(impl_->wire_element(registrar ? &*registrar : nullptr));
  }
  return impl_->send_raw(session, wire::encode(card), info);
}

AsapResult<void> PoolElement::close_session(SessionId session) {
  auto a = impl_->association_of(session);
  if (!a) return std::move(a).error();
  if (auto r = impl_->data->shutdown(*a); !r) return make_error(AsapErrc::TransportError, r.error().message);
  return {};
}

std::vector<SessionId> PoolElement::sessions() const {
  std::vector<SessionId> out;
  for (const auto& [id, s] : impl_->sessions) out.push_back(id);
  return out;
}

std::optional<TransportAddress> PoolElement::session_peer(SessionId session) const {
  auto it = impl_->sessions.find(session);
  if (it == impl_->sessions.end()) return std::nullopt;
  return it->second.peer;
}

transport::Endpoint* PoolElement::data_endpoint() noexcept { return impl_->data.get(); }

}  // namespace rsp::asap
