// Pool user: handle resolution with a cache (RFC 5352 §3.3-3.4), ENDPOINT_UNREACHABLE (§3.5),
// sessions with failover and cookie replay (§3.8-3.10), delivery accounting.
#include "rsp/asap/pool_user.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <deque>
#include <iterator>
#include <map>
#include <set>
#include <utility>

#include "delivery_ledger.hpp"
#include "registrar_channel.hpp"
#include "unreachable_memory.hpp"
#include "rsp/handlespace/handlespace.hpp"
#include "rsp/wire/codec.hpp"

namespace rsp::asap {

namespace asap_msg = wire::asap;
using transport::AssociationEventKind;
using transport::AssociationId;

std::string_view to_string(PoolUserEventKind kind) noexcept {
  switch (kind) {
    case PoolUserEventKind::SessionAdded: return "session added";
    case PoolUserEventKind::SessionRemoved: return "session removed";
    case PoolUserEventKind::FailoverNecessary: return "failover necessary";
    case PoolUserEventKind::FailoverComplete: return "failover complete";
    case PoolUserEventKind::FailoverFailed: return "failover failed";
    case PoolUserEventKind::RegistrarLost: return "registrar lost";
    case PoolUserEventKind::RegistrarFound: return "registrar found";
    case PoolUserEventKind::CookieReceived: return "cookie received";
    case PoolUserEventKind::BusinessCardReceived: return "business card received";
    case PoolUserEventKind::MessagesReturned: return "messages returned";
  }
  return "unknown";
}

std::string_view to_string(SessionState state) noexcept {
  switch (state) {
    case SessionState::Resolving: return "resolving";
    case SessionState::Connecting: return "connecting";
    case SessionState::Connected: return "connected";
    case SessionState::FailingOver: return "failing over";
    case SessionState::Failed: return "failed";
  }
  return "unknown";
}

// Named, not anonymous: PoolUser::Impl holds these types, and GCC's
// -Wsubobject-linkage rejects that when this file is compiled in a unity batch (scripts/test.sh).
// A name of this file's own.
namespace pool_user_impl {

struct Pending {
  MessageSeq seq = 0;
  std::vector<std::byte> payload;
  SendOptions options;
};

// A setup superseded by a later one but still running (RFC 8305-style race): its PE and its own
// failover_connect_timeout.
struct Attempt {
  wire::PoolElement pe;
  std::unique_ptr<Timer> timeout;
};

// One data association a session used, kept after a failover to account for late returns.
struct Leg {
  PoolElementId pe = 0;
  detail::DeliveryLedger ledger;
  bool alive = true;  // association not yet Lost/ShutdownComplete
};

struct Session {
  SessionId id = kNoSession;
  PoolHandle pool;
  SessionOptions options;
  SessionState state = SessionState::Resolving;
  std::optional<wire::PoolElement> pe;
  AssociationId association = 0;  // current leg (0: none)
  bool up = false;
  std::map<AssociationId, Leg> legs;  // current and previous legs
  std::unique_ptr<Timer> connect_timer;
  // While not up: earlier setups still racing the current one (association/pe), and the timer
  // that starts the next candidate (failover_connect_stagger). Invariant: racing is empty
  // unless association != 0 && !up.
  std::map<AssociationId, Attempt> racing;
  std::unique_ptr<Timer> stagger_timer;
  std::optional<std::vector<std::byte>> cookie;
  std::optional<asap_msg::BusinessCard> card;
  std::deque<Pending> queue;
  std::size_t queued_bytes = 0;  // payload bytes in `queue`
  MessageSeq next_seq = 1;
  std::uint64_t failovers = 0;
  std::set<PoolElementId> tried;          // PEs set up (or given up) since the last Up
  std::optional<PoolElementId> preferred; // SendOptions::pool_element
  bool failing_over = false;              // report pending
  FailoverReport report;
  std::optional<AssociationId> report_leg;  // the leg `report.from` used
  std::uint64_t generation = 0;           // invalidates stale resolve callbacks
  bool resolving = false;                 // a handle resolution for this session is in flight
  bool closing = false;
};

bool usable(const wire::PoolElement& pe) {
  return pe.user_transport.protocol == TransportProtocol::Sctp && pe.user_transport.addresses.size() != 0;
}

}  // namespace pool_user_impl
using namespace pool_user_impl;

struct PoolUser::Impl {
  Context& context;
  PoolUserHandlers handlers;
  std::unique_ptr<detail::RegistrarChannel> channel;
  std::unique_ptr<transport::Endpoint> data;
  std::shared_ptr<int> alive = std::make_shared<int>(0);
  int in_call = 0;  // >0 inside a public member function: events are posted, not called

  struct CacheEntry {
    Resolution resolution;
    // The registrar ordered this answer by the pool's policy (RFC 5356) and advanced its own
    // selection state (round-robin position, degradation) for it: the first pick after a
    // fresh answer takes the answer's first usable PE. Round-robin pools keep rotating through
    // the answer's order (cursor); other policies then select locally among the cached PEs.
    std::size_t cursor = 0;
  };
  std::map<PoolHandle, CacheEntry> cache;
  handlespace::Handlespace selection;  // cached PEs, for local selection by policy (RFC 5356)
  // PEs reported unreachable by any pool user of the context: last resort for every session
  // for a while (the rsp_* API's sockets share one context, so what one learnt serves all).
  detail::UnreachableMemory& unreachable;

  std::map<SessionId, Session> sessions;
  std::map<AssociationId, SessionId> by_association;  // every live leg
  SessionId next_session = 1;

  Impl(Context& c, PoolUserHandlers h)
      : context(c), handlers(std::move(h)), unreachable(c.unreachable_memory()) {}

  struct CallGuard {
    Impl& impl;
    explicit CallGuard(Impl& i) : impl(i) { ++impl.in_call; }
    ~CallGuard() { --impl.in_call; }
  };

  // ---- notifications ----
  bool notify(PoolUserEvent e) {  // false when the PoolUser is gone
    if (!handlers.on_event) return true;
    if (in_call > 0) {
      boost::asio::post(context.io(), [this, weak = std::weak_ptr<int>(alive), e = std::move(e)] {
        if (!weak.expired() && handlers.on_event) handlers.on_event(e);
      });
      return true;
    }
    const std::weak_ptr<int> token = alive;
    handlers.on_event(e);
    return !token.expired();
  }

  Session* find(SessionId id) {
    auto it = sessions.find(id);
    return it == sessions.end() ? nullptr : &it->second;
  }

  // ---- cache ----
  void store(const Resolution& r) {
    // An answer in the same order as the cached one (a registrar that did not rotate, or two
    // resolutions crossing) continues the rotation instead of restarting it.
    auto& entry = cache[r.pool_handle];
    const auto same_order = [&] {
      const auto& old = entry.resolution.elements;
      return old.size() == r.elements.size() &&
             std::equal(old.begin(), old.end(), r.elements.begin(),
                        [](const auto& a, const auto& b) { return a.id == b.id; });
    };
    entry = CacheEntry{r, same_order() ? entry.cursor : 0};
    const auto now = context.time().now();
    std::set<PoolElementId> fresh;
    for (const auto& pe : r.elements) {
      unreachable.listed(r.pool_handle, pe, now);  // at other addresses (re-registered): forgiven
      handlespace::PoolElementRegistration reg;
      reg.id = pe.id;
      reg.home_registrar = pe.home_registrar_id;
      reg.lifetime = context.config().timers.stale_cache;
      reg.user_transports = {pe.user_transport};
      reg.policy = pe.policy;
      if (selection.register_element(r.pool_handle, reg, now)) fresh.insert(pe.id);
    }
    for (auto id : selection.element_ids(r.pool_handle)) {
      if (fresh.count(id) == 0) (void)selection.deregister_element(r.pool_handle, id);
    }
  }

  void forget(const PoolHandle& pool, PoolElementId pe) {
    (void)selection.deregister_element(pool, pe);
    auto it = cache.find(pool);
    if (it != cache.end()) {
      std::erase_if(it->second.resolution.elements, [&](const wire::PoolElement& e) { return e.id == pe; });
      if (it->second.resolution.elements.empty()) cache.erase(it);
    }
  }

  void flush(const std::optional<PoolHandle>& pool) {
    if (pool) {
      cache.erase(*pool);
      for (auto id : selection.element_ids(*pool)) (void)selection.deregister_element(*pool, id);
    } else {
      cache.clear();
      selection = handlespace::Handlespace();
    }
  }

  // RFC 5352 §3.4: an entry older than Stale.cache.value is not used to answer or to choose.
  bool stale(const PoolHandle& pool) const {
    auto it = cache.find(pool);
    return it != cache.end() &&
           context.time().now() - it->second.resolution.received >= context.config().timers.stale_cache;
  }

  std::optional<Resolution> cached(const PoolHandle& pool) {
    if (stale(pool)) flush(pool);
    auto it = cache.find(pool);
    if (it == cache.end()) return std::nullopt;
    Resolution r = it->second.resolution;
    r.from_cache = true;
    return r;
  }

  // ---- resolution (RFC 5352 §3.3) ----
  void resolve(const PoolHandle& pool, const ResolveOptions& options,
               std::function<void(AsapResult<Resolution>)> done) {
    if (pool.empty() || pool.size() > kMaxPoolHandleSize) {
      post_result(std::move(done), make_error(AsapErrc::InvalidArgument, "pool handle must be 1.." +
                                                                              std::to_string(kMaxPoolHandleSize) + " bytes"));
      return;
    }
    if (!options.bypass_cache) {
      if (auto r = cached(pool)) {
        post_result(std::move(done), std::move(*r));
        return;
      }
    }
    asap_msg::HandleResolution request;
    request.pool_handle = pool;
    if (options.items != 0) request.option = wire::HandleResolutionOption{options.items};
    channel->request(
        request,
        [pool](const wire::AsapMessage& m) {
          const auto* r = std::get_if<asap_msg::HandleResolutionResponse>(&m);
          return r != nullptr && r->pool_handle == pool;
        },
        context.config().timers.request_timeout,
        [this, pool, done = std::move(done)](AsapResult<wire::AsapMessage> result) {
          if (!result) {
            done(std::move(result).error());
            return;
          }
          auto& response = std::get<asap_msg::HandleResolutionResponse>(*result);
          const std::string name(pool.view());
          if (response.error && !response.error->causes.empty()) {
            flush(pool);
            const auto cause = response.error->causes.front().code;
            if (cause == wire::CauseCode::UnknownPoolHandle) {
              done(make_error(AsapErrc::PoolNotFound, "pool '" + name + "' does not exist"));
            } else {
              done(make_error(AsapErrc::ProtocolError, "handle resolution of '" + name + "' failed: " +
                                                           std::string(wire::to_string(cause))));
            }
            return;
          }
          if (response.pool_elements.empty()) {
            flush(pool);
            done(make_error(AsapErrc::PoolEmpty, "pool '" + name + "' has no pool element"));
            return;
          }
          Resolution r;
          r.pool_handle = pool;
          r.overall_policy = response.overall_policy;
          r.elements = std::move(response.pool_elements);
          r.received = context.time().now();
          r.registrar = channel->current();
          store(r);
          done(std::move(r));
        });
  }

  void post_result(std::function<void(AsapResult<Resolution>)> done, AsapResult<Resolution> result) {
    boost::asio::post(context.io(), [weak = std::weak_ptr<int>(alive), done = std::move(done),
                                     result = std::move(result)]() mutable {
      if (!weak.expired() && done) done(std::move(result));
    });
  }

  // RFC 5352 §3.5: ENDPOINT_UNREACHABLE to the registrar, best effort. The registrar may list
  // the PE for a while yet: it stays a last resort here (Timers::unreachable_memory). `at`: the
  // user transport it failed at, when the caller knows it.
  void report_unreachable(const PoolHandle& pool, PoolElementId pe,
                          std::optional<TransportAddress> at = std::nullopt) {
    if (!at) {
      if (auto it = cache.find(pool); it != cache.end()) {
        if (const auto* e = find_element(it->second.resolution.elements, pe)) at = e->user_transport;
      }
    }
    unreachable.remember(pool, pe, at, context.time().now(),
                         context.config().timers.effective_unreachable_memory());
    forget(pool, pe);
    if (!channel->send(asap_msg::EndpointUnreachable{pool, pe})) channel->hunt();
  }

  // ---- sessions ----
  // The next PE to set up from what is known locally: a BUSINESS_CARD names where to go next
  // (RFC 5352 §3.10): its PEs first, then its pool; else the session's pool from the cache.
  // PEs reported unreachable lately (by any session) come last: only when nothing else is left.
  // from_cache false: the business card's PEs only.
  std::optional<wire::PoolElement> next_candidate(Session& s, bool from_cache = true) {
    for (const bool last_resort : {false, true}) {
      if (auto pe = next_candidate(s, last_resort, from_cache)) return pe;
    }
    return std::nullopt;
  }

  std::optional<wire::PoolElement> next_candidate(Session& s, bool last_resort, bool from_cache) {
    const PoolHandle& pool = s.card ? s.card->pool_handle : s.pool;
    if (s.card) {
      for (const auto& pe : s.card->pool_elements) {
        if (eligible(s, pool, pe.id, last_resort) && usable(pe)) return pe;
      }
    }
    return from_cache ? pick(s, pool, last_resort) : std::nullopt;
  }

  // Not yet tried by this session, and not remembered unreachable unless as a last resort.
  bool eligible(Session& s, const PoolHandle& pool, PoolElementId pe, bool last_resort) {
    if (s.tried.count(pe) != 0) return false;
    return last_resort || !unreachable.remembered(pool, pe, context.time().now());
  }

  void start_connect(Session& s) {
    s.state = s.failing_over ? SessionState::FailingOver : SessionState::Resolving;
    const PoolHandle pool = s.card ? s.card->pool_handle : s.pool;
    // A session (or a failover) chooses from a fresh list: a stale one is asked for again
    // (kept only for when no registrar answers, below). Candidates raced within one setup
    // attempt (race_next) come from the list it started from, even if that turns stale.
    if (auto pe = next_candidate(s, !stale(pool))) {
      connect_to(s, *pe);
      return;
    }
    // Nothing usable cached: ask the registrar (again, bypassing the cache during a failover).
    const auto generation = ++s.generation;
    ResolveOptions options = s.options.resolve;
    options.bypass_cache = options.bypass_cache || s.failing_over || cache.count(pool) != 0;
    s.resolving = true;
    resolve(pool, options, [this, id = s.id, generation, pool](AsapResult<Resolution> r) {
      Session* s = find(id);
      if (s == nullptr || s->generation != generation) return;
      s->resolving = false;
      if (!r) {
        // No registrar answered: rather than give the session up, use the list there is,
        // stale as it is (its PEs may well be alive).
        if (auto pe = pick(*s, pool)) {
          connect_to(*s, *pe);
        } else {
          session_failed(*s, std::move(r).error());
        }
        return;
      }
      if (auto pe = pick(*s, pool)) {
        connect_to(*s, *pe);
      } else {
        session_failed(*s, make_error(AsapErrc::FailoverExhausted,
                                      "no pool element of '" + std::string(pool.view()) + "' left to try (" +
                                          std::to_string(s->tried.size()) + " tried)"));
      }
    });
  }

  static const wire::PoolElement* find_element(const std::vector<wire::PoolElement>& elements,
                                               PoolElementId id) {
    for (const auto& e : elements) {
      if (e.id == id) return &e;
    }
    return nullptr;
  }

  // Local selection by the pool's policy among cached PEs not yet tried, those remembered
  // unreachable last.
  std::optional<wire::PoolElement> pick(Session& s, const PoolHandle& pool) {
    for (const bool last_resort : {false, true}) {
      if (auto pe = pick(s, pool, last_resort)) return pe;
    }
    return std::nullopt;
  }

  std::optional<wire::PoolElement> pick(Session& s, const PoolHandle& pool, bool last_resort) {
    auto it = cache.find(pool);
    if (it == cache.end()) return std::nullopt;
    const auto& elements = it->second.resolution.elements;
    // The application's own choice (SendOptions::pool_element), remembered unreachable or not.
    if (s.preferred && s.tried.count(*s.preferred) == 0) {
      if (const auto* pe = find_element(elements, *s.preferred); pe != nullptr && usable(*pe)) return *pe;
    }
    auto& cursor = it->second.cursor;
    const auto policy = elements.empty() ? PolicyType::RoundRobin : elements.front().policy.type;
    const bool rotate = policy == PolicyType::RoundRobin || policy == PolicyType::WeightedRoundRobin;
    if (cursor == 0 || rotate) {
      for (std::size_t i = 0; i < elements.size(); ++i) {
        const auto& e = elements[(cursor + i) % elements.size()];
        if (eligible(s, pool, e.id, last_resort) && usable(e)) {
          cursor = (cursor + i + 1) % elements.size();
          if (cursor == 0) cursor = elements.size();  // stays "used" for non-rotating policies
          return e;
        }
      }
    }
    const std::size_t n = selection.pool_size(pool);
    if (n > 0) {
      auto selected = selection.handle_resolution(pool, handlespace::SelectionRequest{n, 1});
      if (selected) {
        for (const auto& e : *selected) {
          if (!eligible(s, pool, e.id, last_resort)) continue;
          if (const auto* pe = find_element(elements, e.id); pe != nullptr && usable(*pe)) return *pe;
        }
      }
    }
    for (const auto& e : elements) {
      if (eligible(s, pool, e.id, last_resort) && usable(e)) return e;
    }
    return std::nullopt;
  }

  void connect_to(Session& s, const wire::PoolElement& pe) {
    if (s.tried.size() >= context.config().timers.failover_max_attempts) {
      session_failed(s, make_error(AsapErrc::FailoverExhausted,
                                   std::to_string(s.tried.size()) + " pool elements tried"));
      return;
    }
    auto association = data->connect(pe.user_transport);
    s.tried.insert(pe.id);
    if (!association) {
      if (s.association == 0) start_connect(s);  // else the running setup goes on
      return;
    }
    if (s.association != 0 && !s.up) {
      // Race the running setup instead of giving it up: it may only be slow.
      Attempt& earlier = s.racing[s.association];
      earlier.pe = *s.pe;
      earlier.timeout = std::exchange(s.connect_timer, context.time().make_timer());
    }
    s.pe = pe;
    s.association = *association;
    s.up = false;
    s.state = s.failing_over ? SessionState::FailingOver : SessionState::Connecting;
    s.legs[*association] = Leg{pe.id, {}, true};
    by_association[*association] = s.id;
    s.connect_timer->start(context.config().timers.failover_connect_timeout,
                           [this, id = s.id, a = *association] {
                             if (Session* s = find(id)) setup_timed_out(*s, a);
                           });
    const auto stagger = context.config().timers.failover_connect_stagger;
    if (stagger.count() > 0 && stagger < context.config().timers.failover_connect_timeout) {
      s.stagger_timer->start(stagger, [this, id = s.id, a = *association] {
        Session* s = find(id);
        if (s != nullptr && s->association == a && !s->up) race_next(*s);
      });
    }
  }

  // The setup running for failover_connect_stagger has not come up: a PE that died since the
  // registrar last heard from it swallows INITs (no ABORT from a killed usrsctp process or a
  // frozen host). Start the next candidate beside it (RFC 8305 §5's connection attempt delay).
  // Only cached candidates: a resolution would answer the same list.
  void race_next(Session& s) {
    if (s.tried.size() >= context.config().timers.failover_max_attempts) return;
    if (auto pe = next_candidate(s)) connect_to(s, *pe);
  }

  void setup_timed_out(Session& s, AssociationId a) {
    if (s.association == a) {
      if (s.up) return;
      (void)data->abort(a);
      pe_unusable(s, "association setup timed out");
    } else if (s.racing.count(a) != 0) {
      (void)data->abort(a);
      racing_failed(s, a, "association setup timed out");
    }
  }

  // An earlier setup of the race failed: report its PE (RFC 5352 §3.5) and start the next
  // candidate at once; the current setup goes on.
  void racing_failed(Session& s, AssociationId a, const std::string& why) {
    auto it = s.racing.find(a);
    const PoolElementId pe = it->second.pe.id;
    const TransportAddress at = it->second.pe.user_transport;
    s.racing.erase(it);
    by_association.erase(a);
    s.legs.erase(a);  // never carried data: sends wait for Up
    report_unreachable(s.card ? s.card->pool_handle : s.pool, pe, at);
    if (!s.failing_over) {
      const SessionId id = s.id;  // the handler may close the session
      begin_report(s, make_error(AsapErrc::TransportError, why), pe, std::nullopt);
      if (find(id) == nullptr) return;
    }
    race_next(s);
  }

  // Ends a setup that lost the race: aborted, not reported (it may only have been slower).
  void abandon(Session& s, AssociationId a) {
    (void)data->abort(a);
    by_association.erase(a);
    s.legs.erase(a);
  }

  void abandon_racing(Session& s) {
    auto racing = std::move(s.racing);
    s.racing.clear();
    for (auto& [a, attempt] : racing) abandon(s, a);
    s.stagger_timer->cancel();
  }

  // Every timer of a session: its setup timeout, the stagger, the racing setups' timeouts.
  static void cancel_timers(Session& s) {
    s.connect_timer->cancel();
    s.stagger_timer->cancel();
    for (auto& [a, attempt] : s.racing) attempt.timeout->cancel();
  }

  // A racing setup becomes the session's current one, with its own setup timeout.
  void adopt_racing(Session& s, std::map<AssociationId, Attempt>::iterator attempt) {
    s.association = attempt->first;
    s.pe = std::move(attempt->second.pe);
    std::swap(s.connect_timer, attempt->second.timeout);
    s.racing.erase(attempt);
  }

  // The current setup failed while earlier ones still run: the newest of them becomes current.
  bool promote_racing(Session& s) {
    if (s.racing.empty()) return false;
    adopt_racing(s, std::prev(s.racing.end()));
    s.up = false;
    return true;
  }

  // The PE being connected to cannot be reached: report it and try the next.
  void pe_unusable(Session& s, const std::string& why) {
    const auto failed = s.pe ? std::optional<PoolElementId>(s.pe->id) : std::nullopt;
    if (s.pe) {
      const auto pe = s.pe->id;
      s.tried.insert(pe);
      report_unreachable(s.card ? s.card->pool_handle : s.pool, pe, s.pe->user_transport);
    }
    drop_leg(s);
    if (!s.failing_over) {
      // The first PE of a session failed to come up: that is a failover too (RFC 5352 §3.8).
      // The PE never served this session: no leg to account for, `from` names it for the record.
      begin_report(s, make_error(AsapErrc::TransportError, why), failed, std::nullopt);
      if (find(s.id) == nullptr) return;
    }
    if (promote_racing(s)) {
      race_next(s);  // a setup failed: the next candidate starts at once
      return;
    }
    start_connect(s);
  }

  void drop_leg(Session& s) {
    s.connect_timer->cancel();
    s.stagger_timer->cancel();
    s.association = 0;
    s.up = false;
    s.pe.reset();
  }

  bool begin_report(Session& s, AsapError why, std::optional<PoolElementId> from,
                    std::optional<AssociationId> leg, bool pe_shut_down = false) {
    s.failing_over = true;
    ++s.failovers;
    s.report.session = s.id;  // may already hold returns of the leg being lost
    s.report.from = from;
    s.report_leg = leg;
    s.state = SessionState::FailingOver;
    PoolUserEvent e;
    e.kind = PoolUserEventKind::FailoverNecessary;
    e.session = s.id;
    e.pool_element = from;
    e.report.session = s.id;
    e.report.from = from;
    e.error = std::move(why);
    e.pe_shut_down = pe_shut_down;
    return notify(std::move(e));
  }

  // The session's current PE is given up (association lost, failure report, forced).
  void begin_failover(Session& s, AsapError why, bool report_pe, bool abort_association,
                      bool pe_shut_down = false) {
    const auto leg = s.association;
    const auto from = s.pe ? std::optional<PoolElementId>(s.pe->id) : std::nullopt;
    if (from) {
      s.tried.insert(*from);
      if (report_pe) report_unreachable(s.pool, *from, s.pe->user_transport);
    }
    drop_leg(s);
    abandon_racing(s);
    if (leg != 0 && abort_association) {
      // ABORT hands the unacknowledged messages back (on_send_failed) before/with Lost.
      (void)data->abort(leg);
    }
    const auto leg_id = leg != 0 ? std::optional<AssociationId>(leg) : std::nullopt;
    if (!s.failing_over) {
      if (!begin_report(s, std::move(why), from, leg_id, pe_shut_down)) return;
      if (find(s.id) == nullptr) return;
    } else if (!s.report.from) {
      s.report.from = from;
      s.report_leg = leg_id;
    }
    // Defer connecting: returns of the old association arrive in the same io step.
    boost::asio::post(context.io(), [this, weak = std::weak_ptr<int>(alive), id = s.id, generation = ++s.generation] {
      if (weak.expired()) return;
      Session* s = find(id);
      if (s == nullptr || s->generation != generation || !s->failing_over) return;
      start_connect(*s);
    });
  }

  void session_failed(Session& s, AsapError why) {
    drop_leg(s);
    abandon_racing(s);
    s.state = SessionState::Failed;
    FailoverReport report = std::move(s.report);
    report.session = s.id;
    for (auto& p : s.queue) report.dropped.push_back(p.seq);
    s.queue.clear();
    s.queued_bytes = 0;
    add_unconfirmed(s, report);
    std::sort(report.dropped.begin(), report.dropped.end());
    s.failing_over = false;
    s.report = FailoverReport{};
    s.tried.clear();
    PoolUserEvent e;
    e.kind = PoolUserEventKind::FailoverFailed;
    e.session = s.id;
    e.error = std::move(why);
    e.report = std::move(report);
    notify(std::move(e));
  }

  void add_unconfirmed(Session& s, FailoverReport& report) {
    if (!s.report_leg) return;
    auto it = s.legs.find(*s.report_leg);
    if (it == s.legs.end()) return;
    report.unconfirmed = it->second.ledger.unconfirmed();
  }

  void on_up(Session& s, AssociationId a) {
    if (s.association != a) {
      auto earlier = s.racing.find(a);
      if (earlier == s.racing.end()) return;
      // An earlier setup won the race: it becomes the session's, the later one is abandoned.
      abandon(s, s.association);
      adopt_racing(s, earlier);
    }
    abandon_racing(s);
    s.up = true;
    if (s.pe) {
      // It answered: whatever was reported of it before no longer holds.
      unreachable.forgive(s.pool, s.pe->id);
      if (s.card) unreachable.forgive(s.card->pool_handle, s.pe->id);
    }
    s.connect_timer->cancel();
    s.tried.clear();
    s.state = SessionState::Connected;
    s.preferred.reset();
    bool replayed = false;
    if (s.cookie && s.failing_over) {
      // RFC 5352 §3.9: replay the last cookie to the new PE before anything else.
      transport::SendInfo info;
      info.ppid = kControlPpid;
      replayed = data->send(a, wire::encode(asap_msg::CookieEcho{*s.cookie}), info).has_value();
    }
    flush_queue(s);
    prune_legs(s);
    if (s.failing_over) {
      FailoverReport report = std::move(s.report);
      report.session = s.id;
      report.to = s.pe ? std::optional<PoolElementId>(s.pe->id) : std::nullopt;
      report.cookie_replayed = replayed;
      add_unconfirmed(s, report);
      std::sort(report.resent.begin(), report.resent.end());
      std::sort(report.possibly_duplicated.begin(), report.possibly_duplicated.end());
      std::sort(report.dropped.begin(), report.dropped.end());
      s.failing_over = false;
      s.report = FailoverReport{};
      s.report_leg.reset();
      s.tried.clear();
      PoolUserEvent e;
      e.kind = PoolUserEventKind::FailoverComplete;
      e.session = s.id;
      e.pool_element = report.to;
      e.report = std::move(report);
      notify(std::move(e));
    }
  }

  void flush_queue(Session& s) {
    while (!s.queue.empty() && s.up) {
      auto& p = s.queue.front();
      if (!transmit(s, p.seq, p.payload, p.options)) return;
      s.queued_bytes -= p.payload.size();
      s.queue.pop_front();
    }
  }

  bool transmit(Session& s, MessageSeq seq, std::span<const std::byte> payload, const SendOptions& o) {
    transport::SendInfo info;
    info.ppid = o.ppid;
    info.stream = o.stream;
    info.unordered = o.unordered;
    info.lifetime = o.lifetime;
    info.context = detail::send_context(seq);
    auto sent = data->send(s.association, payload, info);
    if (!sent) return false;  // WouldBlock: retried on_writable; others: the loss event follows
    s.legs[s.association].ledger.sent(seq, o.ppid, o.stream, payload.size(), o.failover_allowed);
    return true;
  }

  void on_association(const transport::AssociationEvent& e) {
    auto it = by_association.find(e.association);
    if (it == by_association.end()) return;
    Session* s = find(it->second);
    if (s == nullptr) {
      by_association.erase(it);
      return;
    }
    switch (e.kind) {
      case AssociationEventKind::Up:
        on_up(*s, e.association);
        return;
      case AssociationEventKind::Restart:
        return;
      case AssociationEventKind::CannotStart:
      case AssociationEventKind::Lost:
      case AssociationEventKind::ShutdownComplete: {
        by_association.erase(it);
        auto leg = s->legs.find(e.association);
        if (leg != s->legs.end()) leg->second.alive = false;
        if (s->closing) return;
        const char* setup_failed = e.kind == AssociationEventKind::CannotStart
                                       ? "association could not be set up"
                                       : "association lost during setup";
        if (s->racing.count(e.association) != 0) {
          racing_failed(*s, e.association, setup_failed);
          return;
        }
        if (s->association != e.association) return;
        if (!s->up) {
          pe_unusable(*s, setup_failed);
          return;
        }
        // A PE that shut down gracefully left on purpose: fail over without blaming it.
        const bool lost = e.kind == AssociationEventKind::Lost;
        begin_failover(*s,
                       make_error(AsapErrc::TransportError,
                                  lost ? "association with the pool element lost"
                                       : "the pool element closed the association"),
                       lost, false, !lost);
        return;
      }
    }
  }

  void on_send_failed(transport::SendFailure&& f) {
    // Find the leg even when its association id is no longer mapped (returns after Lost).
    Session* s = nullptr;
    Leg* leg = nullptr;
    for (auto& [id, session] : sessions) {
      auto l = session.legs.find(f.association);
      if (l != session.legs.end()) {
        s = &session;
        leg = &l->second;
        break;
      }
    }
    if (s == nullptr || f.info.ppid == kControlPpid) return;
    auto record = leg->ledger.returned(f.info.ppid, f.info.stream, f.info.context, f.payload.size());
    if (!record) return;  // confirmed by the PE before: processed, nothing to do
    // Handed back on the current leg while it is still up (usrsctp reports returns just before
    // the loss): accounted for with the failover that follows.
    const bool current = f.association == s->association;
    FailoverReport* report = nullptr;
    FailoverReport late;
    if (s->failing_over || current) {
      report = &s->report;
    } else {
      late.session = s->id;
      late.from = leg->pe;
      report = &late;
    }
    if (record->failover_allowed && s->state != SessionState::Failed) {
      report->resent.push_back(record->seq);
      if (f.was_transmitted) report->possibly_duplicated.push_back(record->seq);
      SendOptions o;
      o.ppid = f.info.ppid;
      o.stream = f.info.stream;
      o.unordered = f.info.unordered;
      o.failover_allowed = true;
      // Back into the queue in sequence order, before newer messages.
      auto pos = std::find_if(s->queue.begin(), s->queue.end(),
                              [&](const Pending& p) { return p.seq > record->seq; });
      s->queued_bytes += f.payload.size();
      s->queue.insert(pos, Pending{record->seq, std::move(f.payload), o});
      if (report == &late) flush_queue(*s);
    } else {
      report->dropped.push_back(record->seq);
    }
    if (report == &late) {
      PoolUserEvent e;
      e.kind = PoolUserEventKind::MessagesReturned;
      e.session = s->id;
      e.report = std::move(late);
      notify(std::move(e));
    }
  }

  void on_message(transport::ReceivedMessage&& m) {
    auto it = by_association.find(m.association);
    if (it == by_association.end()) return;
    Session* s = find(it->second);
    if (s == nullptr) return;
    auto leg = s->legs.find(m.association);
    const PoolElementId pe = leg != s->legs.end() ? leg->second.pe : 0;
    if (m.ppid == kControlPpid) {
      auto decoded = wire::decode_asap(m.payload);
      if (!decoded) return;
      if (auto* cookie = std::get_if<asap_msg::Cookie>(&*decoded)) {
        s->cookie = std::move(cookie->cookie);  // the last one wins (RFC 5352 §3.9)
        PoolUserEvent e;
        e.kind = PoolUserEventKind::CookieReceived;
        e.session = s->id;
        e.pool_element = pe;
        notify(std::move(e));
      } else if (auto* card = std::get_if<asap_msg::BusinessCard>(&*decoded)) {
        s->card = *card;
        PoolUserEvent e;
        e.kind = PoolUserEventKind::BusinessCardReceived;
        e.session = s->id;
        e.pool_element = pe;
        e.business_card = std::move(*card);
        notify(std::move(e));
      }
      return;
    }
    if (leg != s->legs.end()) leg->second.ledger.reply(s->options.confirmation);
    if (!handlers.on_message) return;
    ReceivedData d;
    d.session = s->id;
    d.pool_element = pe;
    d.ppid = m.ppid;
    d.stream = m.stream;
    d.unordered = m.unordered;
    d.payload = std::move(m.payload);
    handlers.on_message(std::move(d));
  }

  void on_writable() {
    for (auto& [id, s] : sessions) {
      if (s.up) flush_queue(s);
    }
  }

  // Legs of dead associations are kept for late returns; the oldest are forgotten.
  void prune_legs(Session& s) {
    while (s.legs.size() > 4) {
      auto victim = std::find_if(s.legs.begin(), s.legs.end(), [&](const auto& l) {
        return !l.second.alive && l.first != s.association && (!s.report_leg || l.first != *s.report_leg);
      });
      if (victim == s.legs.end()) return;
      s.legs.erase(victim);
    }
  }
};

PoolUser::PoolUser(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AsapResult<std::unique_ptr<PoolUser>> PoolUser::create(Context& context, PoolUserHandlers handlers) {
  auto impl = std::make_unique<Impl>(context, std::move(handlers));
  auto channel = detail::RegistrarChannel::open(context, false);
  if (!channel) return std::move(channel).error();
  impl->channel = std::move(*channel);
  transport::EndpointOptions eo;
  eo.backend = context.config().backend;
  eo.listen = false;
  eo.parameters = context.config().data_association;
  auto data = context.open_endpoint(eo);
  if (!data) return make_error(AsapErrc::TransportError, "cannot open the data endpoint: " + data.error().message);
  impl->data = std::move(*data);
  Impl* p = impl.get();
  detail::RegistrarChannel::Handlers ch;
  ch.on_found = [p](const TransportAddress& a) {
    PoolUserEvent e;
    e.kind = PoolUserEventKind::RegistrarFound;
    e.registrar = a;
    p->notify(std::move(e));
  };
  ch.on_lost = [p](const TransportAddress& a) {
    PoolUserEvent e;
    e.kind = PoolUserEventKind::RegistrarLost;
    e.registrar = a;
    if (!p->notify(std::move(e))) return;
    // RFC 5352 §3.6: look for another registrar at once (like a PE does), so that the next
    // resolution does not wait for a hunt and RegistrarFound tells the application it has one
    // again. The hunt stops after server_hunt_rounds when nothing answers.
    p->channel->hunt();
  };
  impl->channel->set_handlers(std::move(ch));
  transport::EndpointHandlers dh;
  dh.on_association = [p](const transport::AssociationEvent& e) { p->on_association(e); };
  dh.on_message = [p](transport::ReceivedMessage&& m) { p->on_message(std::move(m)); };
  dh.on_send_failed = [p](transport::SendFailure&& f) { p->on_send_failed(std::move(f)); };
  dh.on_writable = [p] { p->on_writable(); };
  impl->data->set_handlers(std::move(dh));
  return std::unique_ptr<PoolUser>(new PoolUser(std::move(impl)));
}

PoolUser::~PoolUser() {
  impl_->alive.reset();
  for (auto& [id, s] : impl_->sessions) Impl::cancel_timers(s);
  impl_->data->close();
}

void PoolUser::set_handlers(PoolUserHandlers handlers) { impl_->handlers = std::move(handlers); }

void PoolUser::resolve(const PoolHandle& pool, ResolveOptions options,
                       std::function<void(AsapResult<Resolution>)> done) {
  Impl::CallGuard guard(*impl_);
  impl_->resolve(pool, options, std::move(done));
}

void PoolUser::report_unreachable(const PoolHandle& pool, PoolElementId pe) {
  Impl::CallGuard guard(*impl_);
  impl_->report_unreachable(pool, pe);
}

void PoolUser::flush_cache(std::optional<PoolHandle> pool) { impl_->flush(pool); }

AsapResult<SessionId> PoolUser::open_session(const PoolHandle& pool, SessionOptions options) {
  Impl::CallGuard guard(*impl_);
  if (pool.empty() || pool.size() > kMaxPoolHandleSize) {
    return make_error(AsapErrc::InvalidArgument,
                      "pool handle must be 1.." + std::to_string(kMaxPoolHandleSize) + " bytes");
  }
  const SessionId id = impl_->next_session++;
  Session& s = impl_->sessions[id];
  s.id = id;
  s.pool = pool;
  s.options = options;
  s.connect_timer = impl_->context.time().make_timer();
  s.stagger_timer = impl_->context.time().make_timer();
  PoolUserEvent e;
  e.kind = PoolUserEventKind::SessionAdded;
  e.session = id;
  impl_->notify(std::move(e));
  if (options.connect_now) impl_->start_connect(s);
  return id;
}

AsapResult<MessageSeq> PoolUser::send(SessionId session, std::span<const std::byte> payload,
                                      const SendOptions& options) {
  Impl::CallGuard guard(*impl_);
  Session* s = impl_->find(session);
  if (s == nullptr) return make_error(AsapErrc::NoSuchSession, "no session " + std::to_string(session));
  if (options.ppid == kControlPpid) {
    return make_error(AsapErrc::InvalidArgument, "PPID 11 is reserved for ASAP on data associations");
  }
  if (payload.empty()) return make_error(AsapErrc::InvalidArgument, "empty message");
  if (s->state == SessionState::Failed) {
    return make_error(AsapErrc::FailoverExhausted, "the session has no pool element (force a failover to retry)");
  }
  if (!options.beyond_queue_limit && !s->queue.empty() &&
      s->queued_bytes + payload.size() > s->options.max_queued_bytes) {
    return make_error(AsapErrc::WouldBlock, "the session holds " + std::to_string(s->queued_bytes) +
                                                " bytes for its pool element already");
  }
  const MessageSeq seq = s->next_seq++;
  if (options.pool_element && (!s->pe || s->pe->id != *options.pool_element)) {
    // Switch to the requested PE: the current one is left without blame.
    s->preferred = options.pool_element;
    s->queued_bytes += payload.size();
    s->queue.push_back(Pending{seq, std::vector<std::byte>(payload.begin(), payload.end()), options});
    if (s->up) {
      impl_->begin_failover(*s, make_error(AsapErrc::InvalidArgument, "switching to the requested pool element"),
                            false, true);
    } else if (s->state == SessionState::Resolving && s->association == 0 && !s->failing_over) {
      impl_->start_connect(*s);
    }
    return seq;
  }
  if (s->up && s->queue.empty() && impl_->transmit(*s, seq, payload, options)) return seq;
  s->queued_bytes += payload.size();
  s->queue.push_back(Pending{seq, std::vector<std::byte>(payload.begin(), payload.end()), options});
  // A resolution already under way (open_session with connect_now) will connect and flush the
  // queue; starting another would ask the registrar twice and skip its round-robin turn.
  if (!s->up && s->association == 0 && !s->failing_over && !s->resolving &&
      s->state != SessionState::Failed) {
    impl_->start_connect(*s);
  }
  return seq;
}

AsapResult<void> PoolUser::report_failure(SessionId session) {
  Impl::CallGuard guard(*impl_);
  Session* s = impl_->find(session);
  if (s == nullptr) return make_error(AsapErrc::NoSuchSession, "no session " + std::to_string(session));
  if (!s->pe) return {};
  impl_->begin_failover(*s, make_error(AsapErrc::TransportError, "failure reported by the application"), true, true);
  return {};
}

AsapResult<void> PoolUser::force_failover(SessionId session) {
  Impl::CallGuard guard(*impl_);
  Session* s = impl_->find(session);
  if (s == nullptr) return make_error(AsapErrc::NoSuchSession, "no session " + std::to_string(session));
  if (s->state == SessionState::Failed) {
    s->state = SessionState::Resolving;
    impl_->start_connect(*s);
    return {};
  }
  impl_->begin_failover(*s, make_error(AsapErrc::TransportError, "failover forced by the application"), false, true);
  return {};
}

AsapResult<void> PoolUser::close_session(SessionId session) {
  Impl::CallGuard guard(*impl_);
  Session* s = impl_->find(session);
  if (s == nullptr) return make_error(AsapErrc::NoSuchSession, "no session " + std::to_string(session));
  s->closing = true;
  for (auto& [a, leg] : s->legs) {
    if (leg.alive) {
      (void)impl_->data->shutdown(a);
      impl_->by_association.erase(a);
    }
  }
  Impl::cancel_timers(*s);
  impl_->sessions.erase(session);
  PoolUserEvent e;
  e.kind = PoolUserEventKind::SessionRemoved;
  e.session = session;
  impl_->notify(std::move(e));
  return {};
}

AsapResult<void> PoolUser::confirm(SessionId session, MessageSeq up_to) {
  Session* s = impl_->find(session);
  if (s == nullptr) return make_error(AsapErrc::NoSuchSession, "no session " + std::to_string(session));
  for (auto& [a, leg] : s->legs) leg.ledger.confirm(up_to);
  return {};
}

std::optional<SessionStatus> PoolUser::session_status(SessionId session) const {
  auto it = impl_->sessions.find(session);
  if (it == impl_->sessions.end()) return std::nullopt;
  const Session& s = it->second;
  SessionStatus st;
  st.id = s.id;
  st.pool_handle = s.pool;
  st.state = s.state;
  st.pool_element = s.pe;
  st.cookie = s.cookie;
  st.last_sent = s.next_seq - 1;
  st.queued = s.queue.size();
  st.failovers = s.failovers;
  std::optional<MessageSeq> oldest;
  for (const auto& [a, leg] : s.legs) {
    if (auto o = leg.ledger.oldest_unconfirmed(); o && (!oldest || *o < *oldest)) oldest = o;
  }
  for (const auto& p : s.queue) {
    if (!oldest || p.seq < *oldest) oldest = p.seq;
  }
  st.confirmed = oldest ? *oldest - 1 : st.last_sent;
  return st;
}

transport::Endpoint* PoolUser::data_endpoint() noexcept { return impl_->data.get(); }

std::vector<SessionId> PoolUser::sessions() const {
  std::vector<SessionId> out;
  for (const auto& [id, s] : impl_->sessions) out.push_back(id);
  return out;
}

}  // namespace rsp::asap
