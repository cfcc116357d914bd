// The pool user side of ASAP (RFC 5352 §3.3-3.5, §3.8-3.10): handle resolution through a
// registrar with a cache, ENDPOINT_UNREACHABLE reports, and sessions to pools with failover.
//
// Sessions
// - open_session(pool) creates a session at once (SessionAdded is notified). The first send (or
//   connect_session) resolves the pool (cache first), picks a PE by the pool's policy locally
//   (a Handlespace holds the cached PEs; RFC 5356 selection) and sets up the data association.
//   Messages sent before it is up are queued and go out in order.
// - Failover (RFC 5352 §3.8 / draft-ietf-rserpool-api): when the PE's association is lost, the
//   user calls report_failure() or force_failover(), or the association cannot be set up within
//   failover_connect_timeout, the session reports the PE unreachable to the registrar
//   (ENDPOINT_UNREACHABLE, §3.5, except for force_failover), drops it from the cache, picks
//   another PE (the BUSINESS_CARD's pool/PEs if the PE sent one, else a fresh resolution), and
//   connects. On the new association it first replays the last COOKIE the old PE sent, as
//   COOKIE_ECHO (§3.9), then the messages to be resent. A setup (first PE or failover) not up
//   after failover_connect_stagger is raced by one to the next candidate (RFC 8305 §5): the
//   first up wins, the others are aborted unreported, so a PE that died but is still
//   registered costs the stagger, not a whole failed setup. PEs reported unreachable (by any
//   session or report_unreachable) are a last resort for every pool user of the Context for
//   Timers::unreachable_memory: a registrar lists them until its keep-alive audit fails, and a
//   fresh resolution must not send another session to them while other PEs are left. A listing
//   with other user transport addresses (re-registered) or an association that comes up
//   forgives them.
// - Delivery accounting on failover: every accepted message has a MessageSeq. When a PE is lost,
//   messages the transport handed back (never acknowledged by the PE's SCTP stack) are resent
//   to the new PE if their failover flag allowed it (`resent`; those that had been transmitted
//   at least once may therefore arrive twice: `possibly_duplicated`), else `dropped`. Messages
//   the old PE's stack acknowledged but the application never confirmed (see Confirmation) are
//   `unconfirmed`: they reached the PE host, perhaps never its application. They are not resent
//   (that could duplicate work); the application decides. Exactly the messages that may not
//   have been delivered: dropped + unconfirmed (+ possibly_duplicated may have arrived twice).
// - Notifications (modelled on RFC 6458 §6.1): SessionAdded/SessionRemoved, FailoverNecessary
//   (from: the PE given up; the accounting follows with FailoverComplete, because the transport
//   hands back unacknowledged messages only as the association dies), FailoverComplete (the new PE's association is up and the cookie was
//   replayed), FailoverFailed (FailoverExhausted: no PE left; queued messages `dropped`),
//   RegistrarLost/RegistrarFound, CookieReceived, BusinessCardReceived.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "rsp/asap/context.hpp"
#include "rsp/asap/error.hpp"
#include "rsp/asap/types.hpp"
#include "rsp/wire/messages.hpp"

namespace rsp::asap {

struct ResolveOptions {
  // Handle Resolution Option (draft-dreibholz-rserpool-asap-hropt): how many PEs to ask for;
  // 0 = let the registrar decide (no option sent).
  std::uint32_t items = 0;
  // Ask the registrar even when the cache holds a fresh answer.
  bool bypass_cache = false;
};

// The answer to a handle resolution (RFC 5352 §3.3-3.4).
struct Resolution {
  PoolHandle pool_handle;
  std::optional<PolicyInfo> overall_policy;
  // id, home registrar id, user transport, policy and values, registration life, ASAP transport.
  std::vector<wire::PoolElement> elements;
  TimePoint received{};      // when the registrar's answer arrived
  bool from_cache = false;
  std::optional<TransportAddress> registrar;  // who answered
};

// An inclusive range of message sequence numbers; empty when first > last.
struct SeqRange {
  MessageSeq first = 1;
  MessageSeq last = 0;
  bool empty() const noexcept { return first > last; }
  std::uint64_t size() const noexcept { return empty() ? 0 : last - first + 1; }
  bool operator==(const SeqRange&) const = default;
};

struct FailoverReport {
  SessionId session = kNoSession;
  std::optional<PoolElementId> from;   // the PE given up (nullopt: none was connected yet)
  std::optional<PoolElementId> to;     // FailoverComplete: the new PE
  std::vector<MessageSeq> resent;      // queued for the new PE (after the COOKIE_ECHO)
  std::vector<MessageSeq> possibly_duplicated;  // subset of resent: transmitted before
  std::vector<MessageSeq> dropped;     // not delivered and not resent (failover not allowed)
  std::vector<SeqRange> unconfirmed;   // reached the old PE's stack, never confirmed (ascending)
  bool cookie_replayed = false;        // FailoverComplete: a COOKIE_ECHO went first
};

enum class PoolUserEventKind : std::uint8_t {
  SessionAdded,
  SessionRemoved,
  FailoverNecessary,  // report.from; error says why (transport loss, report_failure, ...)
  FailoverComplete,   // report: from, to, resent, possibly_duplicated, dropped, unconfirmed,
                      // cookie_replayed
  FailoverFailed,     // error: FailoverExhausted (or PoolNotFound/NoRegistrar...); report.dropped
  RegistrarLost,
  RegistrarFound,
  CookieReceived,     // the current PE sent a COOKIE (kept for replay)
  BusinessCardReceived,
  // The transport handed back messages of a PE given up after FailoverComplete/FailoverFailed
  // was reported (report.resent went to the current PE, report.dropped did not).
  MessagesReturned,
};
std::string_view to_string(PoolUserEventKind kind) noexcept;

struct PoolUserEvent {
  PoolUserEventKind kind = PoolUserEventKind::SessionAdded;
  SessionId session = kNoSession;
  std::optional<PoolElementId> pool_element;  // the PE concerned (SessionAdded: first PE)
  FailoverReport report;                       // Failover*
  std::optional<AsapError> error;              // FailoverNecessary (why), FailoverFailed
  std::optional<TransportAddress> registrar;   // Registrar*
  std::optional<wire::asap::BusinessCard> business_card;
  // FailoverNecessary: the PE ended the association gracefully (SCTP SHUTDOWN, RFC 4960 §9.2),
  // as one that deregisters and closes does, rather than being lost or given up.
  bool pe_shut_down = false;
};

struct PoolUserHandlers {
  std::function<void(const PoolUserEvent&)> on_event;
  std::function<void(ReceivedData&&)> on_message;
};

enum class SessionState : std::uint8_t {
  Resolving,    // waiting for a handle resolution
  Connecting,   // association to the chosen PE being set up
  Connected,
  FailingOver,  // between losing a PE and the next one's association coming up
  Failed,       // FailoverExhausted; sends fail until force_failover() tries again
};
std::string_view to_string(SessionState state) noexcept;

struct SessionStatus {
  SessionId id = kNoSession;
  PoolHandle pool_handle;
  SessionState state = SessionState::Resolving;
  std::optional<wire::PoolElement> pool_element;  // current PE
  std::optional<std::vector<std::byte>> cookie;   // last COOKIE from a PE of this session
  MessageSeq last_sent = 0;          // the highest MessageSeq accepted
  MessageSeq confirmed = 0;          // every message up to this one is confirmed
  std::size_t queued = 0;            // accepted, waiting for an association
  std::uint64_t failovers = 0;
};

// What confirms that the PE's application processed a message (for FailoverReport.unconfirmed).
enum class Confirmation : std::uint8_t {
  // Request/response (echo, rsp-send): each message received from the PE confirms the oldest
  // unconfirmed message sent to it. The default.
  ReplyConfirmsOldest,
  // Any message received from the PE confirms everything sent before it arrived.
  ReplyConfirmsAll,
  // Only PoolUser::confirm() does (streams without replies, e.g. rsp-cat to a sink).
  Explicit,
};

struct SessionOptions {
  Confirmation confirmation = Confirmation::ReplyConfirmsOldest;
  // Resolution used to pick PEs (items 0 = the registrar's default count).
  ResolveOptions resolve;
  // Connect at once rather than on the first send.
  bool connect_now = true;
  // Bytes of payload the session may hold for its PE beyond what the association's send
  // buffer took (while resolving, connecting, failing over, or while the PE reads slowly);
  // a send that would exceed it fails with WouldBlock. One message is always accepted into an
  // empty queue, whatever its size; messages handed back for failover are never refused.
  std::size_t max_queued_bytes = kDefaultMaxQueuedBytes;
  static constexpr std::size_t kDefaultMaxQueuedBytes = std::size_t{1} << 20;
};

class PoolUser {
 public:
  static AsapResult<std::unique_ptr<PoolUser>> create(Context& context,
                                                      PoolUserHandlers handlers = {});
  ~PoolUser();
  PoolUser(const PoolUser&) = delete;
  PoolUser& operator=(const PoolUser&) = delete;

  void set_handlers(PoolUserHandlers handlers);

  // ---- registrar queries ----
  // RFC 5352 §3.3: HANDLE_RESOLUTION, answered from the cache when fresh (Stale.cache.value).
  // Errors: PoolNotFound, PoolEmpty, Timeout (after MAX-REQUEST-RETRANSMIT), NoRegistrar.
  void resolve(const PoolHandle& pool, ResolveOptions options,
               std::function<void(AsapResult<Resolution>)> done);
  // RFC 5352 §3.5: tell the registrar a PE did not answer; also drops it from the cache and
  // makes it a last resort for the sessions of every pool user of the context
  // (Timers::unreachable_memory).
  void report_unreachable(const PoolHandle& pool, PoolElementId pe);
  // Forgets cached resolutions (all, or one pool).
  void flush_cache(std::optional<PoolHandle> pool = std::nullopt);

  // ---- sessions ----
  AsapResult<SessionId> open_session(const PoolHandle& pool, SessionOptions options = {});
  // Accepts one message; returns its MessageSeq. The message is queued while the session is
  // resolving/connecting/failing over. Errors: NoSuchSession, InvalidArgument (PPID 11, empty
  // payload), FailoverExhausted (session Failed), WouldBlock (SessionOptions::max_queued_bytes
  // reached: retry once the association took some; nothing was accepted, no seq used).
  AsapResult<MessageSeq> send(SessionId session, std::span<const std::byte> payload,
                              const SendOptions& options = {});
  // RFC 5352 §3.5 + failover: reports the current PE unreachable and fails over.
  AsapResult<void> report_failure(SessionId session);
  // Fails over to another PE without reporting the current one (draft-ietf-rserpool-api
  // rsp_forcefailover). Also restarts a Failed session.
  AsapResult<void> force_failover(SessionId session);
  // Closes the session's association gracefully and forgets it (SessionRemoved).
  AsapResult<void> close_session(SessionId session);
  // The application knows that every message up to `up_to` was processed (Confirmation).
  AsapResult<void> confirm(SessionId session, MessageSeq up_to);
  std::optional<SessionStatus> session_status(SessionId session) const;
  std::vector<SessionId> sessions() const;
  // The data endpoint (the sessions' associations), e.g. for Endpoint::hold_output.
  transport::Endpoint* data_endpoint() noexcept;

 private:
  struct Impl;
  explicit PoolUser(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rsp::asap
