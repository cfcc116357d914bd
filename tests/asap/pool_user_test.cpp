// Pool user: handle resolution and cache (RFC 5352 §3.3-3.5), sessions with failover, cookie
// replay and delivery accounting, against a fake registrar and real PoolElement objects on the
// in-memory network with simulated time.
#include <doctest/doctest.h>

#include "asap_test_support.hpp"

namespace rsp::asap::test {
namespace {

using namespace std::chrono_literals;

const PoolHandle kPool("EchoPool");

// A PE that echoes every message whose text does not start with "quiet", and records cookies.
struct EchoPe {
  std::unique_ptr<PoolElement> pe;
  std::vector<std::string> received;
  std::vector<std::string> cookie_echoes;
  std::optional<std::string> cookie_to_send;      // sent after the first message of a session
  std::optional<PoolElementId> card_points_to;   // business card naming that PE
  std::vector<wire::PoolElement> card_elements;

  EchoPe(Context& ctx, PoolElementId id, PolicyType policy = PolicyType::RoundRobin) {
    PoolElementOptions o;
    o.pool_handle = kPool;
    o.policy.type = policy;
    o.id = id;
    auto created = PoolElement::create(ctx, o);
    REQUIRE(created.has_value());
    pe = std::move(*created);
    PoolElementHandlers h;
    h.on_message = [this](ReceivedData&& d) {
      const auto t = text(d.payload);
      received.push_back(t);
      if (cookie_to_send) REQUIRE(pe->send_cookie(d.session, bytes(*cookie_to_send)).has_value());
      if (!card_elements.empty()) {
        REQUIRE(pe->send_business_card(d.session, std::nullopt, card_elements).has_value());
      }
      if (t.rfind("quiet", 0) != 0) REQUIRE(pe->send(d.session, d.payload, with_ppid(d.ppid)).has_value());
    };
    h.on_cookie_echo = [this](SessionId, std::vector<std::byte> c) { cookie_echoes.push_back(text(c)); };
    pe->set_handlers(std::move(h));
  }
  std::uint16_t port() const { return pe->user_transport().port; }
};

struct PuFixture {
  Net net;
  FakeRegistrar registrar{net, 3863, 0x1111};
  std::unique_ptr<Context> ctx;
  Recorder<PoolUserEvent> events;
  std::vector<ReceivedData> replies;
  std::unique_ptr<PoolUser> pu;

  explicit PuFixture(Timers timers = test_timers(), SilentPeers* silent = nullptr)
      : ctx(net.context({3863}, timers, silent)) {
    PoolUserHandlers h;
    h.on_event = events.handler();
    pu = another_pool_user(replies, std::move(h));
  }

  // A pool user on this fixture's context (the first one is `pu`; another is what a second
  // rsp_* socket of the process is); its data messages go to `got`.
  std::unique_ptr<PoolUser> another_pool_user(std::vector<ReceivedData>& got, PoolUserHandlers h = {}) {
    h.on_message = [&got](ReceivedData&& d) { got.push_back(std::move(d)); };
    auto created = PoolUser::create(*ctx, h);
    REQUIRE(created.has_value());
    return std::move(*created);
  }

  AsapResult<Resolution> resolve(ResolveOptions o = {}, const PoolHandle& pool = kPool) {
    return resolve_by(*pu, o, pool);
  }
  AsapResult<Resolution> resolve_by(PoolUser& user, ResolveOptions o = {}, const PoolHandle& pool = kPool) {
    std::optional<AsapResult<Resolution>> out;
    user.resolve(pool, o, [&](AsapResult<Resolution> r) { out = std::move(r); });
    CHECK_FALSE(out.has_value());  // never inside the call
    for (int i = 0; i < 100 && !out; ++i) net.advance(100ms);
    REQUIRE(out.has_value());
    return std::move(*out);
  }

  // Opens a session, sends `what` on it and advances `step` at a time (at most `steps` times)
  // until its reply is in: that reply.
  const ReceivedData& reply_on_new_session(std::string_view what, Duration step = 10ms, int steps = 10) {
    return reply_on_new_session_of(*pu, replies, what, step, steps);
  }
  // The same for `user`, whose data messages go to `got`.
  const ReceivedData& reply_on_new_session_of(PoolUser& user, std::vector<ReceivedData>& got,
                                              std::string_view what, Duration step = 10ms, int steps = 10) {
    auto s = user.open_session(kPool);
    REQUIRE(s.has_value());
    const auto before = got.size();
    REQUIRE(user.send(*s, bytes(what)).has_value());
    for (int i = 0; i < steps && got.size() == before; ++i) net.advance(step);
    REQUIRE(got.size() == before + 1);
    CHECK(got.back().session == *s);
    return got.back();
  }

  std::vector<std::string> reply_texts() const {
    std::vector<std::string> out;
    for (const auto& r : replies) out.push_back(text(r.payload));
    return out;
  }
};

TEST_CASE("handle resolution returns the pool's PEs with transports, policy and home registrar") {
  PuFixture f;
  EchoPe a(*f.ctx, 101), b(*f.ctx, 102);
  f.net.drain();
  ResolveOptions o;
  o.items = 5;
  auto r = f.resolve(o);
  REQUIRE(r.has_value());
  REQUIRE(r->elements.size() == 2);
  CHECK(r->elements[0].id == 101);
  CHECK(r->elements[0].home_registrar_id == 0x1111);
  CHECK(r->elements[0].user_transport.port == a.port());
  CHECK(r->elements[1].policy.type == PolicyType::RoundRobin);
  CHECK_FALSE(r->from_cache);
  REQUIRE(r->registrar.has_value());
  CHECK(r->registrar->port == 3863);
  REQUIRE(f.registrar.resolutions.size() == 1);
  REQUIRE(f.registrar.resolutions[0].option.has_value());
  CHECK(f.registrar.resolutions[0].option->items == 5);
}

TEST_CASE("a fresh resolution is answered from the cache until Stale.cache.value passes") {
  PuFixture f;
  EchoPe a(*f.ctx, 101);
  f.net.drain();
  REQUIRE(f.resolve().has_value());
  auto cached = f.resolve();
  REQUIRE(cached.has_value());
  CHECK(cached->from_cache);
  CHECK(f.registrar.resolutions.size() == 1);
  ResolveOptions bypass;
  bypass.bypass_cache = true;
  REQUIRE(f.resolve(bypass).has_value());
  CHECK(f.registrar.resolutions.size() == 2);
  f.net.advance(2s);
  auto again = f.resolve();
  REQUIRE(again.has_value());
  CHECK_FALSE(again->from_cache);
  CHECK(f.registrar.resolutions.size() == 3);
}

TEST_CASE("resolution errors: unknown pool, empty pool, no registrar, timeout") {
  SUBCASE("unknown pool handle") {
    PuFixture f;
    auto r = f.resolve({}, PoolHandle("Nope"));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == AsapErrc::PoolNotFound);
  }
  SUBCASE("empty pool") {
    PuFixture f;
    f.registrar.pools[kPool];
    auto r = f.resolve();
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == AsapErrc::PoolEmpty);
  }
  SUBCASE("no registrar listening") {
    Net net;
    auto ctx = net.context({3999});
    auto pu = PoolUser::create(*ctx);
    REQUIRE(pu.has_value());
    std::optional<AsapResult<Resolution>> out;
    (*pu)->resolve(kPool, {}, [&](AsapResult<Resolution> r) { out = std::move(r); });
    net.advance(1s);
    REQUIRE(out.has_value());
    REQUIRE_FALSE(out->has_value());
    CHECK(out->error().code == AsapErrc::NoRegistrar);
  }
  SUBCASE("silent registrar") {
    PuFixture f;
    f.registrar.silent = true;
    auto r = f.resolve();
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == AsapErrc::Timeout);
    CHECK(f.registrar.resolutions.size() == 3);  // 1 + MAX-REQUEST-RETRANSMIT
  }
}

TEST_CASE("ENDPOINT_UNREACHABLE goes to the registrar and the PE leaves the cache (RFC 5352 §3.5)") {
  PuFixture f;
  EchoPe a(*f.ctx, 101), b(*f.ctx, 102);
  f.net.drain();
  REQUIRE(f.resolve().has_value());
  f.pu->report_unreachable(kPool, 101);
  f.net.drain();
  REQUIRE(f.registrar.unreachable.size() == 1);
  CHECK(f.registrar.unreachable[0].pe_id == 101);
  CHECK(f.registrar.unreachable[0].pool_handle == kPool);
  auto cached = f.resolve();
  REQUIRE(cached.has_value());
  CHECK(cached->from_cache);
  REQUIRE(cached->elements.size() == 1);
  CHECK(cached->elements[0].id == 102);
}

TEST_CASE("a session opened within Stale.cache.value picks from the cache; after it, the registrar is asked again (RFC 5352 §3.4)") {
  PuFixture f;
  EchoPe a(*f.ctx, 101);
  f.net.drain();
  REQUIRE(f.resolve().has_value());
  REQUIRE(f.registrar.resolutions.size() == 1);
  auto fresh = f.pu->open_session(kPool);
  REQUIRE(fresh.has_value());
  f.net.drain();
  CHECK(f.registrar.resolutions.size() == 1);  // the cached answer served
  f.net.advance(test_timers().stale_cache);  // the entry is stale now
  (void)f.reply_on_new_session("later", 10ms, 20);
  CHECK(f.registrar.resolutions.size() == 2);  // a stale entry is not used
}

TEST_CASE("a stale list is still used when no registrar answers the new resolution") {
  PuFixture f;
  EchoPe a(*f.ctx, 101);
  f.net.drain();
  REQUIRE(f.resolve().has_value());
  f.net.advance(test_timers().stale_cache);
  f.registrar.silent = true;
  // Served by 101 from the stale list, after the hunt gave up.
  CHECK(f.reply_on_new_session("anyway", 50ms, 100).pool_element == 101);
  CHECK(f.registrar.resolutions.size() >= 2);  // it was asked first
}

TEST_CASE("a session sends to a PE chosen by policy and receives its replies") {
  PuFixture f;
  EchoPe a(*f.ctx, 101), b(*f.ctx, 102);
  f.net.drain();
  auto s = f.pu->open_session(kPool);
  REQUIRE(s.has_value());
  auto seq = f.pu->send(*s, bytes("one"), with_ppid(7));
  REQUIRE(seq.has_value());
  CHECK(*seq == 1);
  f.net.drain();
  REQUIRE(f.replies.size() == 1);
  CHECK(text(f.replies[0].payload) == "one");
  CHECK(f.replies[0].ppid == 7);
  CHECK(f.replies[0].session == *s);
  const auto serving = f.replies[0].pool_element;
  CHECK((serving == 101 || serving == 102));
  auto st = f.pu->session_status(*s);
  REQUIRE(st.has_value());
  CHECK(st->state == SessionState::Connected);
  CHECK(st->pool_element->id == serving);
  CHECK(st->confirmed == 1);
  CHECK(f.events.count(PoolUserEventKind::SessionAdded) == 1);
  CHECK(f.pu->send(*s, bytes("x"), with_ppid(11)).error().code == AsapErrc::InvalidArgument);
  CHECK(f.pu->send(77, bytes("x")).error().code == AsapErrc::NoSuchSession);
}

TEST_CASE("round robin across sessions: consecutive sessions use different PEs") {
  PuFixture f;
  EchoPe a(*f.ctx, 101), b(*f.ctx, 102);
  f.net.drain();
  auto s1 = f.pu->open_session(kPool);
  auto s2 = f.pu->open_session(kPool);
  REQUIRE((s1 && s2));
  REQUIRE(f.pu->send(*s1, bytes("a")).has_value());
  REQUIRE(f.pu->send(*s2, bytes("b")).has_value());
  f.net.drain();
  REQUIRE(f.replies.size() == 2);
  CHECK(f.replies[0].pool_element != f.replies[1].pool_element);
}

TEST_CASE("a new session takes the first PE of a fresh resolution: the registrar's policy order (RFC 5356)") {
  // A registrar advances its round-robin position on every resolution, so fresh pool users
  // (one rsp-send per message) spread over the pool only if each keeps the answer's order.
  PuFixture f;
  f.registrar.reverse_resolutions = true;
  EchoPe a(*f.ctx, 101), b(*f.ctx, 102);
  f.net.drain();
  auto s = f.pu->open_session(kPool);
  REQUIRE(s.has_value());
  REQUIRE(f.pu->send(*s, bytes("a")).has_value());
  f.net.drain();
  REQUIRE(f.replies.size() == 1);
  CHECK(f.replies[0].pool_element == 102);
}

TEST_CASE("a send while the session's resolution is in flight does not resolve again") {
  PuFixture f;
  EchoPe a(*f.ctx, 101), b(*f.ctx, 102);
  f.net.drain();
  auto s = f.pu->open_session(kPool);  // connect_now: the resolution starts here
  REQUIRE(s.has_value());
  REQUIRE(f.pu->send(*s, bytes("a")).has_value());
  f.net.drain();
  REQUIRE(f.replies.size() == 1);
  CHECK(f.registrar.resolutions.size() == 1);
}

TEST_CASE("a session holds at most max_queued_bytes for its PE: further sends fail with WouldBlock") {
  PuFixture f;
  EchoPe a(*f.ctx, 101);
  f.net.drain();
  SessionOptions o;
  o.max_queued_bytes = 1000;
  auto s = f.pu->open_session(kPool, o);
  REQUIRE(s.has_value());
  // Nothing can leave before the resolution and the association: everything queues.
  const std::string hundred(100, 'x');
  for (int i = 0; i < 10; ++i) REQUIRE(f.pu->send(*s, bytes(hundred)).has_value());
  auto refused = f.pu->send(*s, bytes("y"));
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == AsapErrc::WouldBlock);
  CHECK(f.pu->session_status(*s)->queued == 10);
  // A refused message uses no sequence number: the next accepted one follows the tenth.
  f.net.drain();
  CHECK(f.replies.size() == 10);
  auto seq = f.pu->send(*s, bytes("after"));
  REQUIRE(seq.has_value());
  CHECK(*seq == 11);
  f.net.drain();
  REQUIRE(f.replies.size() == 11);
  CHECK(text(f.replies.back().payload) == "after");

  // An empty queue takes one message whatever its size.
  auto big = f.pu->open_session(kPool, o);
  REQUIRE(big.has_value());
  REQUIRE(f.pu->send(*big, bytes(std::string(5000, 'z'))).has_value());
  CHECK(f.pu->send(*big, bytes("1")).error().code == AsapErrc::WouldBlock);
  f.net.drain();
  CHECK(f.replies.size() == 12);
}

TEST_CASE("PE loss: the session fails over, replays the cookie, and resends nothing delivered") {
  PuFixture f;
  EchoPe a(*f.ctx, 101), b(*f.ctx, 102);
  a.cookie_to_send = "state-of-a";
  b.cookie_to_send = "state-of-b";
  f.net.drain();
  auto s = f.pu->open_session(kPool);
  REQUIRE(f.pu->send(*s, bytes("one")).has_value());
  f.net.drain();
  REQUIRE(f.replies.size() == 1);
  EchoPe& first = f.replies[0].pool_element == 101 ? a : b;
  EchoPe& second = f.replies[0].pool_element == 101 ? b : a;
  CHECK(f.events.count(PoolUserEventKind::CookieReceived) == 1);

  f.net.network.fail(first.port());
  f.net.drain();
  const auto* necessary = f.events.last(PoolUserEventKind::FailoverNecessary);
  REQUIRE(necessary != nullptr);
  const auto* complete = f.events.last(PoolUserEventKind::FailoverComplete);
  REQUIRE(complete != nullptr);
  CHECK(complete->report.from == std::optional(first.pe->id()));
  CHECK(complete->report.to == std::optional(second.pe->id()));
  CHECK(complete->report.cookie_replayed);
  CHECK(complete->report.resent.empty());
  CHECK(complete->report.dropped.empty());
  CHECK(complete->report.unconfirmed.empty());
  REQUIRE(second.cookie_echoes.size() == 1);
  CHECK(second.cookie_echoes[0] == (first.pe->id() == 101 ? "state-of-a" : "state-of-b"));
  REQUIRE(f.registrar.unreachable.size() == 1);
  CHECK(f.registrar.unreachable[0].pe_id == first.pe->id());

  REQUIRE(f.pu->send(*s, bytes("two")).has_value());
  f.net.drain();
  REQUIRE(f.replies.size() == 2);
  CHECK(f.replies[1].pool_element == second.pe->id());
  CHECK(text(f.replies[1].payload) == "two");
  CHECK(f.pu->session_status(*s)->failovers == 1);
}

TEST_CASE("delivery accounting on PE loss names resent, dropped and unconfirmed messages") {
  PuFixture f;
  EchoPe a(*f.ctx, 101), b(*f.ctx, 102);
  f.net.drain();
  auto s = f.pu->open_session(kPool);
  REQUIRE(f.pu->send(*s, bytes("one")).has_value());                   // 1: echoed -> confirmed
  f.net.drain();
  REQUIRE(f.replies.size() == 1);
  EchoPe& first = f.replies[0].pool_element == 101 ? a : b;
  EchoPe& second = f.replies[0].pool_element == 101 ? b : a;
  REQUIRE(f.pu->send(*s, bytes("quiet-2")).has_value());               // 2: delivered, no reply
  REQUIRE(f.pu->send(*s, bytes("quiet-3")).has_value());               // 3: delivered, no reply
  f.net.drain();
  CHECK(first.received.size() == 3);
  REQUIRE(f.pu->send(*s, bytes("four")).has_value());                  // 4: in flight, may fail over
  REQUIRE(f.pu->send(*s, bytes("five"), with_ppid(0, false)).has_value());  // 5: in flight, must not
  f.net.network.fail(first.port());  // dies before 4 and 5 arrive
  f.net.drain();
  const auto* complete = f.events.last(PoolUserEventKind::FailoverComplete);
  REQUIRE(complete != nullptr);
  CHECK(complete->report.resent == std::vector<MessageSeq>{4});
  CHECK(complete->report.possibly_duplicated == std::vector<MessageSeq>{4});
  CHECK(complete->report.dropped == std::vector<MessageSeq>{5});
  CHECK(complete->report.unconfirmed == std::vector<SeqRange>{SeqRange{2, 3}});
  CHECK(second.received == std::vector<std::string>{"four"});
  CHECK(f.reply_texts() == std::vector<std::string>{"one", "four"});
}

TEST_CASE("failover with no PE left fails the session and drops its queued messages") {
  PuFixture f;
  EchoPe a(*f.ctx, 101);
  f.net.drain();
  auto s = f.pu->open_session(kPool);
  REQUIRE(f.pu->send(*s, bytes("one")).has_value());
  f.net.drain();
  f.net.network.fail(a.port());
  REQUIRE(f.pu->send(*s, bytes("two")).has_value());  // queued or returned
  f.net.advance(1s);
  const auto* failed = f.events.last(PoolUserEventKind::FailoverFailed);
  REQUIRE(failed != nullptr);
  REQUIRE(failed->error.has_value());
  CHECK(failed->error->code == AsapErrc::FailoverExhausted);
  CHECK(failed->report.dropped == std::vector<MessageSeq>{2});
  CHECK(f.pu->session_status(*s)->state == SessionState::Failed);
  CHECK(f.pu->send(*s, bytes("three")).error().code == AsapErrc::FailoverExhausted);
  // A new PE joins: a forced failover restarts the session.
  EchoPe b(*f.ctx, 102);
  f.net.drain();
  REQUIRE(f.pu->force_failover(*s).has_value());
  f.net.drain();
  CHECK(f.pu->session_status(*s)->state == SessionState::Connected);
  REQUIRE(f.pu->send(*s, bytes("four")).has_value());
  f.net.drain();
  CHECK(f.reply_texts().back() == "four");
}

// Two echo PEs (101, 102) and a session whose first message ("one") was echoed.
struct ServedSession : PuFixture {
  EchoPe a{*ctx, 101}, b{*ctx, 102};
  std::optional<SessionId> s;
  ServedSession() {
    net.drain();
    auto opened = pu->open_session(kPool);
    REQUIRE(opened.has_value());
    s = *opened;
    REQUIRE(pu->send(*s, bytes("one")).has_value());
    net.drain();
    REQUIRE(replies.size() == 1);
  }
  EchoPe& serving() { return replies.at(0).pool_element == 101 ? a : b; }
};

TEST_CASE("force_failover moves to another PE without reporting the current one") {
  ServedSession f;
  auto& s = f.s;
  const auto before = f.replies.at(0).pool_element;
  REQUIRE(f.pu->force_failover(*s).has_value());
  f.net.drain();
  REQUIRE(f.pu->send(*s, bytes("two")).has_value());
  f.net.drain();
  REQUIRE(f.replies.size() == 2);
  CHECK(f.replies[1].pool_element != before);
  CHECK(f.registrar.unreachable.empty());
  CHECK(f.events.count(PoolUserEventKind::FailoverComplete) == 1);
}

TEST_CASE("a PE that closes the session gracefully: failover marked pe_shut_down, the PE not reported") {
  ServedSession f;
  auto& s = f.s;
  EchoPe& serving = f.serving();
  REQUIRE(serving.pe->sessions().size() == 1);
  REQUIRE(serving.pe->close_session(serving.pe->sessions().front()).has_value());
  f.net.drain();
  const auto* necessary = f.events.last(PoolUserEventKind::FailoverNecessary);
  REQUIRE(necessary != nullptr);
  CHECK(necessary->pe_shut_down);
  CHECK(f.registrar.unreachable.empty());
  REQUIRE(f.pu->send(*s, bytes("two")).has_value());
  f.net.drain();
  REQUIRE(f.replies.size() == 2);
  CHECK(f.replies[1].pool_element != f.replies[0].pool_element);
  // A forced failover is no shutdown.
  REQUIRE(f.pu->force_failover(*s).has_value());
  f.net.drain();
  CHECK_FALSE(f.events.last(PoolUserEventKind::FailoverNecessary)->pe_shut_down);
}

TEST_CASE("report_failure reports the PE unreachable and fails over") {
  PuFixture f;
  EchoPe a(*f.ctx, 101), b(*f.ctx, 102);
  f.net.drain();
  auto s = f.pu->open_session(kPool);
  REQUIRE(f.pu->send(*s, bytes("one")).has_value());
  f.net.drain();
  const auto before = f.replies.at(0).pool_element;
  REQUIRE(f.pu->report_failure(*s).has_value());
  f.net.drain();
  REQUIRE(f.registrar.unreachable.size() == 1);
  CHECK(f.registrar.unreachable[0].pe_id == before);
  CHECK(f.pu->session_status(*s)->pool_element->id != before);
}

TEST_CASE("a BUSINESS_CARD decides where the session fails over to (RFC 5352 §3.10)") {
  PuFixture f;
  EchoPe a(*f.ctx, 101), b(*f.ctx, 102), c(*f.ctx, 103);
  f.net.drain();
  // Pin the session to 101, which names 103 as its backup.
  a.card_elements.push_back(f.registrar.pools[kPool][103]);
  auto s = f.pu->open_session(kPool);
  SendOptions to_a;
  to_a.pool_element = 101;
  REQUIRE(f.pu->send(*s, bytes("one"), to_a).has_value());
  f.net.drain();
  REQUIRE(f.replies.size() == 1);
  CHECK(f.replies[0].pool_element == 101);
  CHECK(f.events.count(PoolUserEventKind::BusinessCardReceived) == 1);
  const auto resolutions = f.registrar.resolutions.size();
  f.net.network.fail(a.port());
  f.net.drain();
  REQUIRE(f.pu->send(*s, bytes("two")).has_value());
  f.net.drain();
  REQUIRE(f.replies.size() == 2);
  CHECK(f.replies[1].pool_element == 103);
  CHECK(f.registrar.resolutions.size() == resolutions);
}

TEST_CASE("a PE that cannot be reached at setup is reported and the next one is tried") {
  PuFixture f;
  EchoPe b(*f.ctx, 102);
  f.net.drain();
  // A registered PE whose transport leads nowhere.
  wire::PoolElement ghost = f.registrar.pools[kPool][102];
  ghost.id = 101;
  ghost.user_transport.port = 5999;
  f.registrar.add(kPool, ghost);
  auto s = f.pu->open_session(kPool);
  SendOptions to_ghost;
  to_ghost.pool_element = 101;
  REQUIRE(f.pu->send(*s, bytes("one"), to_ghost).has_value());
  f.net.advance(500ms);
  REQUIRE(f.replies.size() == 1);
  CHECK(f.replies[0].pool_element == 102);
  REQUIRE(f.registrar.unreachable.size() == 1);
  CHECK(f.registrar.unreachable[0].pe_id == 101);
  const auto* complete = f.events.last(PoolUserEventKind::FailoverComplete);
  REQUIRE(complete != nullptr);
  CHECK(complete->report.resent.empty());
}

// The default profile's shape: setups are given up late (failover_connect_timeout, INIT
// retransmissions), the next candidate is raced early.
Timers racing_timers() {
  Timers t = test_timers();
  t.failover_connect_timeout = 1s;
  t.failover_connect_stagger = 20ms;
  return t;
}

// A registered PE of the pool at a port that leads nowhere (or to a silent peer).
void add_ghost(FakeRegistrar& registrar, PoolElementId id, std::uint16_t port) {
  wire::PoolElement ghost = registrar.pools[kPool].begin()->second;
  ghost.id = id;
  ghost.user_transport.port = port;
  registrar.add(kPool, ghost);
}

int connects_to(const SilentPeers& silent, std::uint16_t port) {
  return static_cast<int>(std::count(silent.connects.begin(), silent.connects.end(), port));
}

std::vector<PoolElementId> reported(const FakeRegistrar& registrar) {
  std::vector<PoolElementId> out;
  for (const auto& u : registrar.unreachable) out.push_back(u.pe_id);
  return out;
}

// A session whose first message ("one") PE 101 (`a`) serves; then `a` fails and "two" is sent,
// which starts a failover.
auto serve_then_fail(PuFixture& f, EchoPe& a) {
  auto s = f.pu->open_session(kPool);
  REQUIRE(f.pu->send(*s, bytes("one")).has_value());
  f.net.drain();
  REQUIRE(f.replies.size() == 1);
  REQUIRE(f.replies[0].pool_element == 101);
  f.net.network.fail(a.port());
  f.net.drain();
  REQUIRE(f.pu->send(*s, bytes("two")).has_value());
  return s;
}

// api_bench's 1.5 s failover: the registrar still listed a PE killed moments before (one
// ENDPOINT_UNREACHABLE of MAX-BAD-PE-REPORT, keep-alive not yet failed), the failover picked
// it, and its INITs went unanswered for 4 x 200 ms before the next PE was tried.
TEST_CASE("failover races a silent PE the registrar still lists after failover_connect_stagger") {
  SilentPeers silent;
  silent.ports = {5999};
  silent.give_up = 800ms;
  PuFixture f(racing_timers(), &silent);
  EchoPe a(*f.ctx, 101), b(*f.ctx, 102);
  f.net.drain();
  add_ghost(f.registrar, 103, 5999);  // after a in the rotation, once a is forgotten
  auto s = serve_then_fail(f, a);
  f.net.advance(19ms);
  REQUIRE(connects_to(silent, 5999) == 1);  // the failover went to the silent PE first
  CHECK(f.replies.size() == 1);
  f.net.advance(1ms);  // failover_connect_stagger: b is set up beside it and wins
  REQUIRE(f.replies.size() == 2);
  CHECK(f.replies[1].pool_element == 102);
  CHECK(text(f.replies[1].payload) == "two");
  const auto* complete = f.events.last(PoolUserEventKind::FailoverComplete);
  REQUIRE(complete != nullptr);
  CHECK(complete->report.from == std::optional<PoolElementId>(101));
  CHECK(complete->report.to == std::optional<PoolElementId>(102));
  CHECK(silent.aborted.size() == 1);  // the silent setup is ended, not left to retransmit

  f.net.advance(2s);  // nothing more happens, and the silent PE was not blamed for being slow
  CHECK(f.events.count(PoolUserEventKind::FailoverNecessary) == 1);
  CHECK(reported(f.registrar) == std::vector<PoolElementId>{101});
  CHECK(f.pu->session_status(*s)->state == SessionState::Connected);
  REQUIRE(f.pu->send(*s, bytes("three")).has_value());
  f.net.drain();
  REQUIRE(f.replies.size() == 3);
  CHECK(f.replies[2].pool_element == 102);
}

TEST_CASE("a session's first PE is raced too when it does not answer") {
  SilentPeers silent;
  silent.ports = {5999};
  silent.give_up = 800ms;
  PuFixture f(racing_timers(), &silent);
  EchoPe b(*f.ctx, 102);
  f.net.drain();
  add_ghost(f.registrar, 101, 5999);  // first in the registrar's answer
  auto s = f.pu->open_session(kPool);
  REQUIRE(f.pu->send(*s, bytes("one")).has_value());
  f.net.advance(19ms);
  REQUIRE(connects_to(silent, 5999) == 1);
  CHECK(f.replies.empty());
  f.net.advance(1ms);
  REQUIRE(f.replies.size() == 1);
  CHECK(f.replies[0].pool_element == 102);
  CHECK(f.events.count(PoolUserEventKind::FailoverNecessary) == 0);
  CHECK(f.registrar.unreachable.empty());
}

TEST_CASE("when the newer setup fails, the earlier one it raced stays and the next candidate starts at once") {
  SilentPeers silent;
  silent.ports = {5999};
  silent.give_up = 800ms;
  PuFixture f(racing_timers(), &silent);
  EchoPe a(*f.ctx, 101), b(*f.ctx, 102);
  f.net.drain();
  add_ghost(f.registrar, 103, 5999);  // silent
  add_ghost(f.registrar, 104, 5998);  // nothing listens: CannotStart at once
  auto s = serve_then_fail(f, a);
  f.net.advance(19ms);
  REQUIRE(connects_to(silent, 5999) == 1);
  CHECK(f.replies.size() == 1);
  f.net.advance(1ms);  // 104 raced and refused -> 103 is current again, 102 starts beside it
  REQUIRE(connects_to(silent, 5998) == 1);
  REQUIRE(f.replies.size() == 2);
  CHECK(f.replies[1].pool_element == 102);
  CHECK(silent.aborted.size() == 1);
  CHECK(reported(f.registrar) == std::vector<PoolElementId>{101, 104});
  f.net.advance(2s);
  CHECK(f.events.count(PoolUserEventKind::FailoverNecessary) == 1);
  CHECK(f.registrar.unreachable.size() == 2);
}

TEST_CASE("racing setups that all fail are each reported, then the failover fails") {
  SilentPeers silent;
  silent.ports = {5998, 5999};
  silent.give_up = 50ms;
  PuFixture f(racing_timers(), &silent);
  EchoPe a(*f.ctx, 101);
  f.net.drain();
  add_ghost(f.registrar, 102, 5998);
  add_ghost(f.registrar, 103, 5999);
  auto s = serve_then_fail(f, a);
  f.net.advance(60ms);  // 103 at 0 ms, 102 at 20 ms; 103 gives up at 50 ms: reported
  CHECK(reported(f.registrar) == std::vector<PoolElementId>{101, 103});
  CHECK(f.events.count(PoolUserEventKind::FailoverFailed) == 0);
  f.net.advance(20ms);  // 102 gives up at 70 ms: nothing left, even after a fresh resolution
  CHECK(reported(f.registrar) == std::vector<PoolElementId>{101, 103, 102});
  const auto* failed = f.events.last(PoolUserEventKind::FailoverFailed);
  REQUIRE(failed != nullptr);
  REQUIRE(failed->error.has_value());
  CHECK(failed->error->code == AsapErrc::FailoverExhausted);
  CHECK(failed->report.dropped == std::vector<MessageSeq>{2});
  CHECK(silent.aborted.empty());
  CHECK(f.pu->session_status(*s)->state == SessionState::Failed);
}

// Memory of PEs reported unreachable (Timers::unreachable_memory), longer than
// Stale.cache.value (2 s) as by default, so that fresh resolutions still list them.
Timers memory_timers() {
  Timers t = test_timers();
  t.unreachable_memory = 10s;
  return t;
}

// Two echo PEs, connects counted: serve_then_fail on 101 (`a`), and the session's failover to
// 102 (`b`), 101 reported.
struct LostFirstPe {
  SilentPeers silent;  // none silent: counts connects
  PuFixture f{memory_timers(), &silent};
  EchoPe a{*f.ctx, 101}, b{*f.ctx, 102};

  LostFirstPe() {
    f.net.drain();
    REQUIRE(serve_then_fail(f, a).has_value());
    f.net.drain();
    REQUIRE(f.replies.size() == 2);
    REQUIRE(f.replies[1].pool_element == 102);
    REQUIRE(reported(f.registrar) == std::vector<PoolElementId>{101});
  }
};

// A fresh resolution (as rsp_connect does) by `user` (the fixture's own by default), then a new
// session of it: the PE serving its message.
PoolElementId new_session_served_by(PuFixture& f, PoolUser& user, std::vector<ReceivedData>& got) {
  auto r = f.resolve_by(user);
  REQUIRE(r.has_value());
  REQUIRE_FALSE(r->from_cache);
  REQUIRE(r->elements.front().id == 101);  // the registrar still lists 101, and first
  return f.reply_on_new_session_of(user, got, "new").pool_element;
}
PoolElementId new_session_served_by(PuFixture& f) { return new_session_served_by(f, *f.pu, f.replies); }

TEST_CASE("a new session skips a PE this pool user reported unreachable that a fresh resolution still lists") {
  LostFirstPe t;
  auto& [silent, f, a, b] = t;
  f.net.advance(2s);  // Stale.cache.value: the next resolution asks the registrar
  CHECK(new_session_served_by(f) == 102);
  CHECK(connects_to(silent, a.port()) == 1);  // only the first session's
  CHECK(reported(f.registrar) == std::vector<PoolElementId>{101});
}

TEST_CASE("a PE one pool user reported unreachable is a last resort for the other pool users of its context") {
  PuFixture f(memory_timers());
  EchoPe a(*f.ctx, 101), b(*f.ctx, 102);
  f.net.drain();
  // A second pool user on the same context, as two rsp_* sockets of one process are.
  std::vector<ReceivedData> replies;
  auto other = f.another_pool_user(replies);
  REQUIRE(f.resolve().has_value());
  f.pu->report_unreachable(kPool, 101);  // wrongly: 101 is alive
  f.net.advance(100ms);
  // The other pool user's own resolution lists 101 first; its session goes to 102 all the same.
  CHECK(new_session_served_by(f, *other, replies) == 102);
  REQUIRE(replies.size() == 1);
  CHECK(a.received.empty());
}

TEST_CASE("a PE reported unreachable is eligible again after Timers::unreachable_memory") {
  PuFixture f(memory_timers());
  EchoPe a(*f.ctx, 101), b(*f.ctx, 102);
  f.net.drain();
  REQUIRE(f.resolve().has_value());
  f.pu->report_unreachable(kPool, 101);  // wrongly: 101 is alive
  f.net.advance(2s);
  CHECK(new_session_served_by(f) == 102);
  f.net.advance(8s);  // 10 s after the report
  CHECK(new_session_served_by(f) == 101);
  CHECK(a.received == std::vector<std::string>{"new"});
}

TEST_CASE("PEs reported unreachable are still tried when no other PE is left") {
  SilentPeers silent;
  PuFixture f(memory_timers(), &silent);
  EchoPe a(*f.ctx, 101), b(*f.ctx, 102);
  f.net.drain();
  add_ghost(f.registrar, 103, 5998);  // nothing listens: CannotStart at once
  REQUIRE(f.resolve().has_value());
  f.pu->report_unreachable(kPool, 101);  // wrongly: both are alive
  f.pu->report_unreachable(kPool, 102);
  f.net.advance(2s);
  const auto served = new_session_served_by(f);
  REQUIRE((served == 101 || served == 102));
  // The one PE not reported first; once it failed too, one of the reported ones.
  std::vector<std::uint16_t> to_pes;
  for (auto port : silent.connects) {
    if (port == 5998 || port == a.port() || port == b.port()) to_pes.push_back(port);
  }
  CHECK(to_pes == std::vector<std::uint16_t>{5998, served == 101 ? a.port() : b.port()});
  CHECK(reported(f.registrar) == std::vector<PoolElementId>{101, 102, 103});
}

TEST_CASE("a PE reported unreachable that re-registers with other addresses is forgiven") {
  LostFirstPe t;
  auto& [silent, f, a, b] = t;
  f.pu->flush_cache(kPool);
  CHECK(new_session_served_by(f) == 102);
  CHECK(connects_to(silent, a.port()) == 1);  // listed at its old addresses: still avoided
  EchoPe restarted(*f.ctx, 101);  // 101's process again, at another port
  f.net.drain();
  REQUIRE(f.registrar.pools[kPool][101].user_transport.port == restarted.port());
  REQUIRE(restarted.port() != a.port());
  f.pu->flush_cache(kPool);
  CHECK(new_session_served_by(f) == 101);
  CHECK(restarted.received == std::vector<std::string>{"new"});
}

TEST_CASE("close_session ends the association and forgets the session") {
  PuFixture f;
  EchoPe a(*f.ctx, 101);
  f.net.drain();
  auto s = f.pu->open_session(kPool);
  REQUIRE(f.pu->send(*s, bytes("one")).has_value());
  f.net.drain();
  REQUIRE(f.pu->close_session(*s).has_value());
  f.net.drain();
  CHECK(f.events.count(PoolUserEventKind::SessionRemoved) == 1);
  CHECK_FALSE(f.pu->session_status(*s).has_value());
  CHECK(a.pe->sessions().empty());
  CHECK(f.events.count(PoolUserEventKind::FailoverNecessary) == 0);
}


TEST_CASE("FailoverComplete names the PE given up in report.from, whatever started the failover") {
  for (int how = 0; how < 3; ++how) {
    CAPTURE(how);
    PuFixture f;
    EchoPe a(*f.ctx, 101), b(*f.ctx, 102);
    f.net.drain();
    auto s = f.pu->open_session(kPool);
    REQUIRE(f.pu->send(*s, bytes("one")).has_value());
    f.net.drain();
    REQUIRE(f.replies.size() == 1);
    const PoolElementId first = f.replies[0].pool_element;
    if (how == 0) REQUIRE(f.pu->report_failure(*s).has_value());
    if (how == 1) REQUIRE(f.pu->force_failover(*s).has_value());
    if (how == 2) f.net.network.fail(first == 101 ? a.port() : b.port());
    REQUIRE(f.pu->send(*s, bytes("two")).has_value());
    f.net.advance(500ms);
    const auto* complete = f.events.last(PoolUserEventKind::FailoverComplete);
    REQUIRE(complete != nullptr);
    CHECK(complete->report.from == std::optional(first));
    CHECK(complete->report.to == std::optional<PoolElementId>(first == 101 ? 102 : 101));
  }
}

TEST_CASE("a pool user reports RegistrarLost when its registrar dies, then RegistrarFound after the hunt") {
  Net net;
  FakeRegistrar r1{net, 3863, 0x1111};
  FakeRegistrar r2{net, 3864, 0x2222};
  auto ctx = net.context({3863, 3864});
  Recorder<PoolUserEvent> events;
  PoolUserHandlers h;
  h.on_event = events.handler();
  auto pu = PoolUser::create(*ctx, h);
  REQUIRE(pu.has_value());
  std::optional<AsapResult<Resolution>> out;
  (*pu)->resolve(kPool, {}, [&](AsapResult<Resolution> r) { out = std::move(r); });
  net.drain();
  REQUIRE(out.has_value());
  CHECK(events.count(PoolUserEventKind::RegistrarFound) == 1);
  net.network.fail(r1.port());
  net.advance(1s);
  REQUIRE(events.count(PoolUserEventKind::RegistrarLost) == 1);
  REQUIRE(events.last(PoolUserEventKind::RegistrarLost)->registrar.has_value());
  CHECK(events.last(PoolUserEventKind::RegistrarLost)->registrar->port == 3863);
  CHECK(events.count(PoolUserEventKind::RegistrarFound) == 2);
  CHECK(events.last(PoolUserEventKind::RegistrarFound)->registrar->port == 3864);
}


TEST_CASE("an ASAP ERROR from the registrar fails the pending resolution at once with its cause") {
  PuFixture f;
  f.registrar.error_with = wire::CauseCode::UnrecognizedMessage;
  std::optional<AsapResult<Resolution>> out;
  f.pu->resolve(kPool, {}, [&](AsapResult<Resolution> r) { out = std::move(r); });
  f.net.drain();  // no timer runs: the answer is the ERROR itself
  REQUIRE(out.has_value());
  REQUIRE_FALSE(out->has_value());
  CHECK(out->error().code == AsapErrc::ProtocolError);
  CHECK(out->error().message.find("Unrecognized Message") != std::string::npos);
  CHECK(f.registrar.resolutions.size() == 1);  // not retransmitted
}

wire::PoolElement pe_entry(PoolElementId id, std::uint16_t port) {
  wire::PoolElement e;
  e.id = id;
  e.home_registrar_id = 0x5eed;
  e.registration_life = 300s;
  e.user_transport = loopback(port);
  return e;
}

TEST_CASE("with nothing configured a pool user waits up to T7-ENRPoutdate for a SERVER_ANNOUNCE (RFC 5352 §3.6)") {
  Net net;
  FakeRegistrar r(net, 4100, 0x5eed);
  r.add(kPool, pe_entry(7001, 4101));
  Timers timers = test_timers();
  timers.announce_timeout = 5s;
  auto ctx = net.context({}, timers);
  REQUIRE(ctx->announce_source() == std::optional<std::string>("239.0.0.50:3863"));
  auto pu = PoolUser::create(*ctx);
  REQUIRE(pu.has_value());

  SUBCASE("an announcement within T7 ends the wait and the request proceeds") {
    std::optional<AsapResult<Resolution>> out;
    (*pu)->resolve(kPool, {}, [&](AsapResult<Resolution> x) { out = std::move(x); });
    // Far beyond the hunt rounds (2 x 200 ms retry delay) but within T7: still waiting.
    net.advance(4s);
    CHECK_FALSE(out.has_value());
    msg::ServerAnnounce announce;
    announce.server_id = 0x5eed;
    announce.transports.push_back(loopback(4100));
    ctx->handle_server_announce(announce, IpAddress::v4(127, 0, 0, 1));
    net.drain();
    REQUIRE(out.has_value());
    REQUIRE(out->has_value());
    CHECK((*out)->elements.size() == 1);
    CHECK(r.resolutions.size() == 1);
  }
  SUBCASE("silence for T7 fails the request with NoRegistrar, naming the group") {
    std::optional<AsapResult<Resolution>> out;
    (*pu)->resolve(kPool, {}, [&](AsapResult<Resolution> x) { out = std::move(x); });
    net.advance(4999ms);
    CHECK_FALSE(out.has_value());
    net.advance(2ms);
    REQUIRE(out.has_value());
    REQUIRE_FALSE(out->has_value());
    CHECK(out->error().code == AsapErrc::NoRegistrar);
    CHECK(out->error().message.find("none announced on 239.0.0.50:3863") != std::string::npos);
  }
}

TEST_CASE("RSP_ANNOUNCE and RSP_ANNOUNCE_INTERFACE choose the announce group and interface") {
  Net net;
  auto make = [&](bool use_environment) {
    ContextOptions o;
    o.config.source.use_environment = use_environment;
    o.time = net.clock;
    o.open_announce_socket = false;
    o.endpoint_factory = [&](const transport::EndpointOptions& eo) { return net.network.open(eo); };
    return Context::create(net.io, std::move(o));
  };
  struct EnvGuard {
    ~EnvGuard() {
      ::unsetenv("RSP_ANNOUNCE");
      ::unsetenv("RSP_ANNOUNCE_INTERFACE");
    }
  } guard;
  ::setenv("RSP_ANNOUNCE", "[ff05::3863:50]:4000", 1);
  ::setenv("RSP_ANNOUNCE_INTERFACE", "eth7", 1);
  auto c = make(true);
  REQUIRE(c.has_value());
  CHECK((*c)->announce_source() == std::optional<std::string>("[ff05::3863:50]:4000 on eth7"));
  auto ignored = make(false);
  REQUIRE(ignored.has_value());
  CHECK((*ignored)->announce_source() == std::optional<std::string>("239.0.0.50:3863"));
  ::setenv("RSP_ANNOUNCE", "10.0.0.1:3863", 1);
  auto unicast = make(true);
  REQUIRE_FALSE(unicast.has_value());
  CHECK(unicast.error().code == AsapErrc::InvalidArgument);
  ::setenv("RSP_ANNOUNCE", "[ff05::1", 1);
  auto malformed = make(true);
  REQUIRE_FALSE(malformed.has_value());
  CHECK(malformed.error().code == AsapErrc::InvalidArgument);
}
}  // namespace
}  // namespace rsp::asap::test
