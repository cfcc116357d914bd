// RFC 5352 §3: the ENRP server's side of ASAP for one registrar (no ENRP peers yet).
#include "rsp/registrar/core.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <unordered_map>
#include <variant>

#include "rsp/wire/codec.hpp"
#include "token_bucket.hpp"

namespace rsp::registrar {

namespace hs = rsp::handlespace;
using wire::CauseCode;

std::string_view to_string(EventLevel level) noexcept {
  switch (level) {
    case EventLevel::Error: return "error";
    case EventLevel::Warning: return "warning";
    case EventLevel::Info: return "info";
    case EventLevel::Debug: return "debug";
  }
  return "info";
}

// Named, not anonymous: RegistrarCore::Impl holds these types, and GCC's
// -Wsubobject-linkage rejects that when this file is compiled in a unity batch (scripts/test.sh).
// A name of this file's own.
namespace core_impl {

struct PeKey {
  PoolHandle pool;
  PoolElementId id = 0;
  auto operator<=>(const PeKey&) const = default;
};

struct PeKeyHash {
  std::size_t operator()(const PeKey& k) const noexcept {
    return std::hash<std::string_view>{}(k.pool.view()) ^ (std::size_t{k.id} * 0x9e3779b97f4a7c15ull);
  }
};

struct AssociationState {
  std::vector<IpAddress> addresses;  // what this association vouches for (RFC 5352 §3.1)
  std::set<PeKey> elements;
  TokenBucket resolutions;
  TokenBucket unreachables;
};

struct ElementRecord {
  PoolElementState state;
  std::optional<TimePoint> scheduled;  // its entry in the keep-alive queue
};

CauseCode to_cause(hs::HandlespaceError e) {
  return static_cast<CauseCode>(hs::cause_code(e));
}

std::vector<std::byte> tlv_of_transport(const TransportAddress& t) {
  std::vector<std::byte> out;
  wire::encode_transport(t, out);
  return out;
}
std::vector<std::byte> tlv_of_policy(const PolicyInfo& p) {
  std::vector<std::byte> out;
  wire::encode_policy(p, out);
  return out;
}
std::vector<std::byte> tlv_of_element(const wire::PoolElement& e) {
  std::vector<std::byte> out;
  wire::encode_pool_element(e, out);
  return out;
}

wire::OperationError single_cause(CauseCode code, std::vector<std::byte> info = {}) {
  wire::OperationError error;
  error.causes.push_back(wire::ErrorCause{code, std::move(info)});
  return error;
}

std::string describe(const IpAddress& a) {
  if (a.is_v4()) return fmt::format("{}.{}.{}.{}", a.bytes[0], a.bytes[1], a.bytes[2], a.bytes[3]);
  std::string s;
  for (int i = 0; i < 16; i += 2) {
    if (i) s += ':';
    s += fmt::format("{:x}", (a.bytes[i] << 8) | a.bytes[i + 1]);
  }
  return s;
}

}  // namespace core_impl
using namespace core_impl;

struct RegistrarCore::Impl {
  Impl(Config c, Output& o, std::uint64_t seed)
      : config(std::move(c)),
        out(o),
        space(hs::Limits{.max_pools = config.limits.max_pools,
                         .max_elements_per_pool = config.limits.max_elements_per_pool,
                         .max_elements = config.limits.max_elements},
              seed) {}

  Config config;
  Output& out;
  hs::Handlespace space;
  Counters counters;
  // Looked up per PE of every HANDLE_RESOLUTION_RESPONSE (its ASAP transport): hashed, not
  // ordered, as nothing iterates it.
  std::unordered_map<PeKey, ElementRecord, PeKeyHash> elements;
  std::set<std::pair<TimePoint, PeKey>> queue;  // keep-alive due or ACK deadline, one per PE
  std::unordered_map<AssociationRef, AssociationState> associations;

  // ---- output ----
  void send(AssociationRef a, const wire::AsapMessage& m) {
    ++counters.messages_sent;
    out.send(a, wire::encode(m));
  }
  // An ERROR whose echoed bytes are themselves not a well-framed TLV would be refused by the
  // peer's decoder (RFC 5354 §3.10 causes echo whole TLVs): such echoes are dropped, the cause
  // code still goes out.
  void send_error(AssociationRef a, wire::OperationError error) {
    auto bytes = wire::encode(wire::AsapMessage{wire::asap::ErrorMessage{error}});
    if (!wire::decode_asap(bytes)) {
      for (auto& c : error.causes) c.info.clear();
      bytes = wire::encode(wire::AsapMessage{wire::asap::ErrorMessage{std::move(error)}});
    }
    ++counters.messages_sent;
    out.send(a, std::move(bytes));
  }
  void event(EventLevel level, std::string_view kind, AssociationRef a,
             const PoolHandle* pool = nullptr, std::optional<PoolElementId> id = std::nullopt,
             std::optional<CauseCode> cause = std::nullopt, std::string detail = {}) {
    Event e;
    e.level = level;
    e.kind = kind;
    e.association = a;
    if (pool) e.pool = *pool;
    e.pe_id = id;
    e.cause = cause;
    e.detail = std::move(detail);
    out.event(e);
  }

  // ---- associations ----
  AssociationState& association(AssociationRef a, TimePoint now) {
    auto [it, inserted] = associations.try_emplace(a);
    if (inserted) {
      it->second.resolutions = TokenBucket(config.limits.max_handle_resolution_rate, now);
      it->second.unreachables = TokenBucket(config.limits.max_unreachable_rate, now);
    }
    return it->second;
  }
  static void vouch(AssociationState& s, const TransportAddress& peer) {
    for (const auto& addr : peer.addresses)
      if (std::find(s.addresses.begin(), s.addresses.end(), addr) == s.addresses.end())
        s.addresses.push_back(addr);
  }

  // ---- element bookkeeping ----
  void unschedule(const PeKey& key, ElementRecord& r) {
    if (r.scheduled) queue.erase({*r.scheduled, key});
    r.scheduled.reset();
  }
  void schedule(const PeKey& key, ElementRecord& r, TimePoint when) {
    unschedule(key, r);
    r.scheduled = when;
    queue.insert({when, key});
  }
  // Forgets the registrar-side state of an element the handlespace no longer has.
  void forget(const PeKey& key) {
    auto it = elements.find(key);
    if (it == elements.end()) return;
    unschedule(key, it->second);
    auto a = associations.find(it->second.state.association);
    if (a != associations.end()) a->second.elements.erase(key);
    elements.erase(it);
  }
  void remove_element(const PeKey& key) {
    (void)space.deregister_element(key.pool, key.id);
    forget(key);
  }

  // ---- messages ----
  void on_message(AssociationRef a, const TransportAddress& peer, std::span<const std::byte> bytes,
                  TimePoint now);
  void handle(AssociationRef a, const wire::asap::Registration& m, TimePoint now);
  void handle(AssociationRef a, const wire::asap::Deregistration& m, TimePoint now);
  void handle(AssociationRef a, const wire::asap::HandleResolution& m, TimePoint now);
  void handle(AssociationRef a, const wire::asap::EndpointUnreachable& m, TimePoint now);
  void handle(AssociationRef a, const wire::asap::EndpointKeepAliveAck& m, TimePoint now);
  void handle(AssociationRef a, const wire::asap::ErrorMessage& m, TimePoint now);
  void reject_registration(AssociationRef a, const wire::asap::Registration& m, CauseCode code,
                           std::vector<std::byte> info, std::string why);
  std::optional<std::string> check_addresses(const AssociationState& s, TransportAddress& t,
                                             bool& security) const;
  void on_timer(TimePoint now);
};

void RegistrarCore::Impl::on_message(AssociationRef a, const TransportAddress& peer,
                                     std::span<const std::byte> bytes, TimePoint now) {
  ++counters.messages_received;
  vouch(association(a, now), peer);
  wire::DecodeReport report;
  auto decoded = wire::decode_asap(bytes, &report);
  if (!decoded) {
    // RFC 5354 §3.10 / RFC 5352 §3.9: tell the sender what was wrong, echoing the offending
    // bytes; the association and everyone else carry on.
    ++counters.malformed_messages;
    const auto& err = decoded.error();
    event(EventLevel::Warning, "malformed-message", a, nullptr, std::nullopt, wire::cause_for(err.code),
          fmt::format("{}: {}", wire::to_string(err.code), err.message));
    if (auto error = wire::operation_error_for(err.code, report)) send_error(a, std::move(*error));
    return;
  }
  // RFC 5354 §3: parameters of type "skip and report" are reported, the message still counts.
  if (auto error = wire::unrecognized_parameters_error(report)) send_error(a, std::move(*error));

  std::visit(
      [&](const auto& m) {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, wire::asap::Registration> ||
                      std::is_same_v<M, wire::asap::Deregistration> ||
                      std::is_same_v<M, wire::asap::HandleResolution> ||
                      std::is_same_v<M, wire::asap::EndpointUnreachable> ||
                      std::is_same_v<M, wire::asap::EndpointKeepAliveAck> ||
                      std::is_same_v<M, wire::asap::ErrorMessage>) {
          handle(a, m, now);
        } else {
          // A message a registrar never receives (responses, SERVER_ANNOUNCE, COOKIE, ...):
          // reported as unrecognized, with the message echoed (RFC 5354 §3.10 cause 2).
          ++counters.unexpected_messages;
          event(EventLevel::Warning, "unexpected-message", a, nullptr, std::nullopt,
                CauseCode::UnrecognizedMessage,
                std::string(wire::to_string(wire::message_type(*decoded))));
          send(a, wire::asap::ErrorMessage{single_cause(
                      CauseCode::UnrecognizedMessage,
                      std::vector<std::byte>(bytes.begin(), bytes.end()))});
        }
      },
      *decoded);
}

void RegistrarCore::Impl::reject_registration(AssociationRef a, const wire::asap::Registration& m,
                                              CauseCode code, std::vector<std::byte> info,
                                              std::string why) {
  ++counters.registrations_rejected;
  event(EventLevel::Warning, "registration-rejected", a, &m.pool_handle, m.pool_element.id, code,
        std::move(why));
  wire::asap::RegistrationResponse r;
  r.rejected = true;
  r.pool_handle = m.pool_handle;
  r.pe_id = m.pool_element.id;
  r.error = single_cause(code, std::move(info));
  send(a, r);
}

// RFC 5352 §3.1 and RFC 5355 §3.1: the registered addresses must be ones the association
// vouches for, and wide enough in scope for the PUs this registrar serves. An unspecified
// address (0.0.0.0, ::) stands for "my association's addresses".
std::optional<std::string> RegistrarCore::Impl::check_addresses(const AssociationState& s,
                                                                TransportAddress& t,
                                                                bool& security) const {
  const bool unspecified =
      std::any_of(t.addresses.begin(), t.addresses.end(), [](auto& x) { return is_unspecified(x); });
  if (unspecified) {
    AddressList filled;
    for (const auto& addr : s.addresses)
      if (scope_of(addr) >= config.min_address_scope) filled.push_back(addr);
    if (filled.empty()) return "no address of the association is usable for the unspecified address";
    if (t.protocol != TransportProtocol::Sctp) {
      AddressList one;
      one.push_back(filled[0]);
      filled = std::move(one);
    }
    t.addresses = std::move(filled);
  }
  for (const auto& addr : t.addresses) {
    if (scope_of(addr) < config.min_address_scope) {
      security = false;
      return fmt::format("address {} is {}, the registrar requires at least {}", describe(addr),
                         to_string(scope_of(addr)), to_string(config.min_address_scope));
    }
    if (config.verify_addresses &&
        std::find(s.addresses.begin(), s.addresses.end(), addr) == s.addresses.end()) {
      security = true;
      return fmt::format("address {} is not an address of the registering association",
                         describe(addr));
    }
  }
  return std::nullopt;
}

void RegistrarCore::Impl::handle(AssociationRef a, const wire::asap::Registration& m,
                                 TimePoint now) {
  auto& assoc = association(a, now);
  const auto& pe = m.pool_element;
  const PeKey key{m.pool_handle, pe.id};
  if (pe.id == 0)
    return reject_registration(a, m, CauseCode::InvalidValues, tlv_of_element(pe),
                               "PE identifier 0 is reserved");
  auto life = pe.registration_life;
  if (life.count() <= 0)
    return reject_registration(a, m, CauseCode::InvalidValues, tlv_of_element(pe),
                               "registration life must be positive");
  if (config.timers.max_registration_life.count() > 0)
    life = std::min(life, config.timers.max_registration_life);

  TransportAddress user = pe.user_transport;
  bool security = false;
  if (auto why = check_addresses(assoc, user, security))
    return reject_registration(a, m, security ? CauseCode::RejectedDueToSecurity : CauseCode::InvalidValues,
                               security ? std::vector<std::byte>{} : tlv_of_transport(pe.user_transport),
                               "user transport: " + *why);
  std::optional<TransportAddress> control = pe.asap_transport;
  if (control) {
    if (auto why = check_addresses(assoc, *control, security))
      return reject_registration(a, m, security ? CauseCode::RejectedDueToSecurity : CauseCode::InvalidValues,
                                 security ? std::vector<std::byte>{} : tlv_of_transport(*pe.asap_transport),
                                 "ASAP transport: " + *why);
  }

  // RFC 5355 §3.x: one association may not fill the handlespace.
  const bool known = elements.count(key) != 0;
  if (!known && assoc.elements.size() >= config.limits.max_elements_per_association)
    return reject_registration(a, m, CauseCode::LackOfResources, {},
                               fmt::format("association has {} PEs registered, the limit",
                                           assoc.elements.size()));

  hs::PoolElementRegistration reg;
  reg.id = pe.id;
  reg.home_registrar = config.id;  // RFC 5352 §3.1: the receiving ENRP server becomes home
  reg.lifetime = life;
  reg.user_transports.push_back(user);
  reg.policy = pe.policy;
  reg.owner = a;
  auto result = space.register_element(m.pool_handle, reg, now);
  if (!result) {
    const auto code = result.error().code;
    std::vector<std::byte> info;
    switch (code) {
      case hs::HandlespaceError::PoolingPolicyInconsistent:
      case hs::HandlespaceError::UnknownPolicy: info = tlv_of_policy(pe.policy); break;
      case hs::HandlespaceError::InconsistentTransportType: info = tlv_of_transport(pe.user_transport); break;
      case hs::HandlespaceError::InvalidValues: info = tlv_of_element(pe); break;
      default: break;
    }
    return reject_registration(a, m, to_cause(code), std::move(info), result.error().message);
  }

  const bool added = *result == hs::RegistrationOutcome::Added;
  auto& record = elements[key];
  if (added) {
    record.state.registered_at = now;
    ++counters.registrations;
  } else {
    ++counters.reregistrations;
  }
  record.state.association = a;
  record.state.asap_transport = control;
  record.state.unreachable_reports = 0;
  record.state.ack_deadline.reset();
  assoc.elements.insert(key);
  // A registration is a sign of life: the audit restarts from now (RFC 5352 §3.6).
  if (config.timers.keepalive_interval.count() > 0) {
    record.state.next_keepalive = now + config.timers.keepalive_interval;
    schedule(key, record, *record.state.next_keepalive);
  }
  event(EventLevel::Info, added ? "registered" : "reregistered", a, &m.pool_handle, pe.id,
        std::nullopt,
        fmt::format("policy {} lifetime {} ms", handlespace::policy_name(pe.policy.type),
                    life.count()));
  send(a, wire::asap::RegistrationResponse{false, m.pool_handle, pe.id, std::nullopt});
}

void RegistrarCore::Impl::handle(AssociationRef a, const wire::asap::Deregistration& m, TimePoint) {
  wire::asap::DeregistrationResponse r{m.pool_handle, m.pe_id, std::nullopt};
  auto result = space.deregister_element(m.pool_handle, m.pe_id, a);
  if (result) {
    ++counters.deregistrations;
    forget(PeKey{m.pool_handle, m.pe_id});
    event(EventLevel::Info, "deregistered", a, &m.pool_handle, m.pe_id);
  } else {
    switch (result.error().code) {
      case hs::HandlespaceError::UnknownPoolElement:
        // RFC 5352 §3.3: the PE is gone either way; deregistration is idempotent.
        break;
      case hs::HandlespaceError::NonUniquePeIdentifier:
        // Someone else's PE: RFC 5355 §3.2, only the registering association may remove it.
        r.error = single_cause(CauseCode::RejectedDueToSecurity);
        event(EventLevel::Warning, "deregistration-rejected", a, &m.pool_handle, m.pe_id,
              CauseCode::RejectedDueToSecurity, "PE registered over another association");
        break;
      default:
        r.error = single_cause(to_cause(result.error().code));
        event(EventLevel::Info, "deregistration-rejected", a, &m.pool_handle, m.pe_id,
              to_cause(result.error().code), result.error().message);
        break;
    }
  }
  send(a, r);
}

void RegistrarCore::Impl::handle(AssociationRef a, const wire::asap::HandleResolution& m,
                                 TimePoint now) {
  auto& assoc = association(a, now);
  wire::asap::HandleResolutionResponse r;
  r.pool_handle = m.pool_handle;
  if (!assoc.resolutions.take(now)) {
    ++counters.rate_limited;
    ++counters.handle_resolutions_failed;
    r.error = single_cause(CauseCode::LackOfResources);
    event(EventLevel::Debug, "rate-limited", a, &m.pool_handle, std::nullopt,
          CauseCode::LackOfResources, "handle resolution rate");
    return send(a, r);
  }
  // draft-dreibholz-rserpool-asap-hropt §3: Items 0 = the registrar decides, 0xffffffff = all.
  std::size_t items = config.handle_resolution_items;
  if (m.option && m.option->items != 0) items = m.option->items;
  items = std::min(items, config.max_handle_resolution_items);
  auto selected = space.handle_resolution(m.pool_handle, hs::SelectionRequest{items, 1});
  if (!selected) {
    ++counters.handle_resolutions_failed;
    r.error = single_cause(to_cause(selected.error().code));
    event(EventLevel::Debug, "resolution-failed", a, &m.pool_handle, std::nullopt,
          to_cause(selected.error().code));
    return send(a, r);
  }
  ++counters.handle_resolutions;
  // The response must fit one ASAP message (RFC 5352 §2.1: 16-bit length).
  std::size_t budget = wire::kMaxMessageSize - 64 - m.pool_handle.size();
  std::vector<std::byte> scratch;
  for (auto& e : *selected) {
    wire::PoolElement w;
    w.id = e.id;
    w.home_registrar_id = e.home_registrar;
    w.registration_life = e.lifetime;
    if (!e.user_transports.empty()) w.user_transport = e.user_transports.front();
    w.policy = e.policy;
    auto it = elements.find(PeKey{m.pool_handle, e.id});
    if (it != elements.end()) w.asap_transport = it->second.state.asap_transport;
    scratch.clear();
    wire::encode_pool_element(w, scratch);
    if (scratch.size() > budget) break;
    budget -= scratch.size();
    r.pool_elements.push_back(std::move(w));
  }
  send(a, r);
}

void RegistrarCore::Impl::handle(AssociationRef a, const wire::asap::EndpointUnreachable& m,
                                 TimePoint now) {
  auto& assoc = association(a, now);
  if (!assoc.unreachables.take(now)) {
    ++counters.rate_limited;
    event(EventLevel::Debug, "rate-limited", a, &m.pool_handle, m.pe_id,
          CauseCode::LackOfResources, "unreachable report rate");
    return send(a, wire::asap::ErrorMessage{single_cause(CauseCode::LackOfResources)});
  }
  ++counters.unreachable_reports;
  const PeKey key{m.pool_handle, m.pe_id};
  auto it = elements.find(key);
  if (it == elements.end()) {
    event(EventLevel::Debug, "unreachable-unknown", a, &m.pool_handle, m.pe_id);
    return;
  }
  // RFC 5352 §3.5: after MAX-BAD-PE-REPORT reports the home registrar removes the PE.
  const auto reports = ++it->second.state.unreachable_reports;
  if (reports >= config.max_bad_pe_reports) {
    ++counters.unreachable_removals;
    event(EventLevel::Info, "unreachable-removed", a, &m.pool_handle, m.pe_id, std::nullopt,
          fmt::format("{} reports", reports));
    remove_element(key);
  } else {
    event(EventLevel::Debug, "unreachable-report", a, &m.pool_handle, m.pe_id, std::nullopt,
          fmt::format("{} of {} reports", reports, config.max_bad_pe_reports));
  }
}

void RegistrarCore::Impl::handle(AssociationRef a, const wire::asap::EndpointKeepAliveAck& m,
                                 TimePoint now) {
  const PeKey key{m.pool_handle, m.pe_id};
  auto it = elements.find(key);
  if (it == elements.end() || it->second.state.association != a) {
    event(EventLevel::Debug, "keepalive-ack-unknown", a, &m.pool_handle, m.pe_id);
    return;
  }
  ++counters.keepalive_acks;
  auto& record = it->second;
  record.state.ack_deadline.reset();
  if (config.timers.keepalive_interval.count() > 0) {
    record.state.next_keepalive = now + config.timers.keepalive_interval;
    schedule(key, record, *record.state.next_keepalive);
  }
}

void RegistrarCore::Impl::handle(AssociationRef a, const wire::asap::ErrorMessage& m, TimePoint) {
  // Never answered (an ERROR for an ERROR could loop); logged for the operator.
  std::string causes;
  for (const auto& c : m.error.causes) {
    if (!causes.empty()) causes += ", ";
    causes += wire::to_string(c.code);
  }
  event(EventLevel::Warning, "error-received", a, nullptr, std::nullopt, std::nullopt, causes);
}

void RegistrarCore::Impl::on_timer(TimePoint now) {
  for (auto& key : space.expire(now)) {
    // RFC 5352 §3.1 / RFC 5354 §3.9: a registration not renewed within its life is gone.
    ++counters.expirations;
    const PeKey pe{key.handle, key.id};
    auto it = elements.find(pe);
    event(EventLevel::Info, "expired", it == elements.end() ? 0 : it->second.state.association,
          &key.handle, key.id);
    forget(pe);
  }
  while (!queue.empty() && queue.begin()->first <= now) {
    const PeKey key = queue.begin()->second;
    queue.erase(queue.begin());
    auto it = elements.find(key);
    if (it == elements.end()) continue;
    auto& record = it->second;
    record.scheduled.reset();
    if (record.state.ack_deadline) {
      // RFC 5352 §3.6: no ENDPOINT_KEEP_ALIVE_ACK in time: the PE is considered dead.
      ++counters.keepalive_timeouts;
      event(EventLevel::Info, "keepalive-timeout", record.state.association, &key.pool, key.id);
      remove_element(key);
      continue;
    }
    ++counters.keepalives_sent;
    send(record.state.association,
         wire::asap::EndpointKeepAlive{false, config.id, key.pool, key.id});
    record.state.next_keepalive.reset();
    record.state.ack_deadline = now + config.timers.keepalive_timeout;
    schedule(key, record, *record.state.ack_deadline);
  }
}

// ---- public ----

RegistrarCore::RegistrarCore(Config config, Output& output, std::uint64_t seed) {
  if (config.id == 0) throw std::invalid_argument("registrar id must be non-zero");
  impl_ = std::make_unique<Impl>(std::move(config), output, seed);
}
RegistrarCore::~RegistrarCore() = default;

void RegistrarCore::on_association_up(AssociationRef association, const TransportAddress& peer,
                                      TimePoint now) {
  ++impl_->counters.associations_up;
  Impl::vouch(impl_->association(association, now), peer);
  impl_->event(EventLevel::Debug, "association-up", association);
}

void RegistrarCore::on_association_down(AssociationRef association, TimePoint) {
  auto it = impl_->associations.find(association);
  if (it == impl_->associations.end()) return;
  ++impl_->counters.associations_lost;
  const auto keys = std::vector<PeKey>(it->second.elements.begin(), it->second.elements.end());
  for (const auto& key : keys) {
    ++impl_->counters.association_removals;
    impl_->event(EventLevel::Info, "association-removed", association, &key.pool, key.id);
    impl_->remove_element(key);
  }
  impl_->associations.erase(association);
  impl_->event(EventLevel::Debug, "association-down", association, nullptr, std::nullopt,
               std::nullopt, fmt::format("{} PEs removed", keys.size()));
}

void RegistrarCore::on_message(AssociationRef association, const TransportAddress& peer,
                               std::span<const std::byte> bytes, TimePoint now) {
  impl_->on_message(association, peer, bytes, now);
}

void RegistrarCore::on_timer(TimePoint now) { impl_->on_timer(now); }

std::optional<TimePoint> RegistrarCore::next_deadline() const {
  std::optional<TimePoint> next = impl_->space.next_expiry();
  if (!impl_->queue.empty()) {
    const auto q = impl_->queue.begin()->first;
    if (!next || q < *next) next = q;
  }
  return next;
}

const Config& RegistrarCore::config() const noexcept { return impl_->config; }
const Counters& RegistrarCore::counters() const noexcept { return impl_->counters; }
const handlespace::Handlespace& RegistrarCore::handlespace() const noexcept { return impl_->space; }

std::optional<PoolElementState> RegistrarCore::element_state(const PoolHandle& pool,
                                                             PoolElementId id) const {
  auto it = impl_->elements.find(PeKey{pool, id});
  if (it == impl_->elements.end()) return std::nullopt;
  return it->second.state;
}

std::size_t RegistrarCore::association_count() const noexcept { return impl_->associations.size(); }

std::size_t RegistrarCore::elements_of(AssociationRef association) const {
  auto it = impl_->associations.find(association);
  return it == impl_->associations.end() ? 0 : it->second.elements.size();
}

}  // namespace rsp::registrar
