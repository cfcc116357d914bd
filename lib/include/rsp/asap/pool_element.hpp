// The pool element side of ASAP (RFC 5352 §3.1-3.2, §3.7, §3.9-3.10): register a pool handle with
// a policy, stay registered, answer keep-alives, and serve PU sessions on a data endpoint.
//
// Life cycle
// - create() opens the data endpoint (unless `user_transport` names another service) and an
//   ASAP endpoint for the registrar association, then hunts for a registrar (RFC 5352 §3.6) and
//   sends REGISTRATION (§3.1). Events report the outcome.
// - While registered, REGISTRATION is repeated every T4-reregistration (Timers); each success
//   refreshes the registrar's lifetime. update_policy() re-registers at once with new values
//   (load updates, RFC 5356 §5).
// - ENDPOINT_KEEP_ALIVE (§3.7) is answered with ENDPOINT_KEEP_ALIVE_ACK; with its H flag set the
//   sender becomes the home registrar.
// - When the registrar association is lost, or a registration times out
//   (T2-registration, MAX-REQUEST-RETRANSMIT), the PE reports RegistrarLost, hunts again, and
//   re-registers with the next registrar (RegistrarFound, then Registered).
// - deregister() sends DEREGISTRATION (§3.2) and stops re-registering; the destructor deregisters
//   best-effort (one DEREGISTRATION sent, no wait) and closes everything.
// - Data: each PU association on the data endpoint is a session (SessionAdded/SessionRemoved).
//   PPID 11 messages on it are ASAP session-layer messages: COOKIE_ECHO from a PU that failed
//   over to us (delivered through on_cookie_echo), BUSINESS_CARD (on_event). send_cookie() and
//   send_business_card() send ours.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "rsp/asap/context.hpp"
#include "rsp/asap/error.hpp"
#include "rsp/asap/types.hpp"
#include "rsp/transport/endpoint.hpp"
#include "rsp/wire/messages.hpp"

namespace rsp::asap {

struct PoolElementOptions {
  PoolHandle pool_handle;
  PolicyInfo policy;                    // type and values (weight, priority, load, ...)
  std::optional<PoolElementId> id;      // nullopt: random (RFC 5354 §3.13); 0 is never chosen
  // The data endpoint this PE opens (address/port to bind; port 0 = ephemeral). Its bound port
  // and addresses become the registered SCTP user transport. Ignored with user_transport.
  std::vector<IpAddress> local_addresses;
  std::uint16_t port = 0;
  // Register this transport (any protocol: sctp/tcp/udp) on behalf of another service instead
  // of opening a data endpoint (the rsp-register sidecar). No sessions then.
  std::optional<TransportAddress> user_transport;
  // RFC 5354 §3.4 transport use of the registered SCTP transport: DataPlusControl lets PUs send
  // COOKIE_ECHO/BUSINESS_CARD on the data association (what this library does).
  TransportUse transport_use = TransportUse::DataPlusControl;
  // Advertise an ASAP transport (RFC 5354 §3.9): the address of our registrar-side endpoint,
  // so that a new home registrar can reach us for keep-alives after a takeover.
  bool advertise_asap_transport = true;
  // Start registering at once (default) or wait for start().
  bool start = true;
  // This PE's Registration Life (RFC 5354 §3.9) and T4-reregistration (RFC 5352 §5.1) instead
  // of the Context's Timers::registration_lifetime / reregistration_interval: RSPLIB's
  // rsp_register and rsp_pe_registration set them per registration. nullopt: the Context's.
  std::optional<std::chrono::milliseconds> registration_lifetime;
  std::optional<std::chrono::milliseconds> reregistration_interval;
};

enum class PoolElementEventKind : std::uint8_t {
  Registered,          // REGISTRATION_RESPONSE accepted (first time or with a new registrar)
  Reregistered,        // a periodic or update_policy re-registration was accepted
  RegistrationFailed,  // rejected (cause set), or timed out / no registrar (error set)
  Deregistered,        // DEREGISTRATION_RESPONSE received (or deregistration gave up: error set)
  RegistrarLost,       // association with the home registrar lost / requests timed out
  RegistrarFound,      // the server hunt reached a registrar
  HomeRegistrarChanged,// ENDPOINT_KEEP_ALIVE with H flag from another registrar (§3.7)
  SessionAdded,        // a PU association came up on the data endpoint
  SessionRemoved,      // it ended (lost, shut down)
  BusinessCard,        // a PU sent a BUSINESS_CARD (business_card set)
};
std::string_view to_string(PoolElementEventKind kind) noexcept;

struct PoolElementEvent {
  PoolElementEventKind kind = PoolElementEventKind::Registered;
  std::optional<RegistrarId> registrar;          // when known
  std::optional<TransportAddress> registrar_address;
  std::optional<wire::CauseCode> cause;          // RegistrationFailed: the registrar's cause
  std::optional<AsapError> error;                // RegistrationFailed/Deregistered: local error
  SessionId session = kNoSession;                // Session*, BusinessCard
  std::optional<TransportAddress> peer;          // SessionAdded: the PU's address
  std::optional<wire::asap::BusinessCard> business_card;
};

struct PoolElementHandlers {
  std::function<void(const PoolElementEvent&)> on_event;
  std::function<void(ReceivedData&&)> on_message;
  // RFC 5352 §3.9: a PU that failed over replayed the cookie its previous PE gave it.
  std::function<void(SessionId, std::vector<std::byte> cookie)> on_cookie_echo;
};

struct PoolElementStatus {
  bool registered = false;
  std::optional<RegistrarId> home_registrar;
  std::optional<TransportAddress> registrar_address;
  std::uint64_t registrations = 0;        // accepted REGISTRATION_RESPONSEs so far
  std::uint64_t keep_alives_answered = 0;
  std::optional<wire::CauseCode> last_rejection;
  std::optional<TimePoint> next_reregistration;
};

class PoolElement {
 public:
  static AsapResult<std::unique_ptr<PoolElement>> create(Context& context,
                                                         PoolElementOptions options,
                                                         PoolElementHandlers handlers = {});
  ~PoolElement();
  PoolElement(const PoolElement&) = delete;
  PoolElement& operator=(const PoolElement&) = delete;

  void set_handlers(PoolElementHandlers handlers);
  // Starts registering when created with options.start == false (no-op otherwise).
  void start();

  const PoolHandle& pool_handle() const noexcept;
  PoolElementId id() const noexcept;
  // The registered user transport (the data endpoint's, or options.user_transport).
  const TransportAddress& user_transport() const noexcept;
  const PolicyInfo& policy() const noexcept;
  PoolElementStatus status() const;
  bool registered() const noexcept;

  // Re-registers at once with new policy values (same policy type, RFC 5352 §3.1 / RFC 5356).
  // InvalidArgument for another policy type. Before the first registration the values are just
  // stored and used by it.
  AsapResult<void> update_policy(const PolicyInfo& policy);

  // RFC 5352 §3.2: deregisters and stops re-registration; `done` gets the outcome (Timeout when
  // the registrar never answered, NoRegistrar when none was reachable). Keep-alives are no longer
  // answered afterwards. start() registers again.
  void deregister(std::function<void(AsapResult<void>)> done = {});

  // ---- data side (absent with options.user_transport: InvalidArgument) ----
  // Errors: NoSuchSession, InvalidArgument (PPID 11), WouldBlock (the association's send
  // buffer is full: nothing was sent; retry), TransportError.
  AsapResult<void> send(SessionId session, std::span<const std::byte> payload,
                        const SendOptions& options = {});
  // RFC 5352 §3.9: ASAP COOKIE with opaque state; the PU keeps the last one and replays it
  // (COOKIE_ECHO) to the PE it fails over to.
  AsapResult<void> send_cookie(SessionId session, std::span<const std::byte> cookie);
  // RFC 5352 §2.2.13: BUSINESS_CARD naming the pool and the PEs the PU should fail over to
  // (the message carries at least one PE: an empty list sends this PE's own parameter, so the
  // PU learns the pool and falls back to a resolution of it). This PE's own handle by default.
  AsapResult<void> send_business_card(SessionId session,
                                      std::optional<PoolHandle> pool_handle = std::nullopt,
                                      std::vector<wire::PoolElement> elements = {});
  // Graceful close of one session (SCTP SHUTDOWN); SessionRemoved follows.
  AsapResult<void> close_session(SessionId session);
  std::vector<SessionId> sessions() const;
  std::optional<TransportAddress> session_peer(SessionId session) const;

  // The data endpoint (nullptr with options.user_transport), e.g. for its port.
  transport::Endpoint* data_endpoint() noexcept;

 private:
  struct Impl;
  explicit PoolElement(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rsp::asap
