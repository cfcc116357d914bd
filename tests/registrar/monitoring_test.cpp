// Keep-alive audit, lifetime expiry, association loss and unreachable reports, in simulated time.
#include <doctest/doctest.h>

#include "core_test_support.hpp"

using namespace rsp;
using namespace rsp::registrar;
using namespace rsp::registrar::test;
using wire::CauseCode;
namespace asap = rsp::wire::asap;

namespace {
Config timers(std::chrono::milliseconds interval, std::chrono::milliseconds timeout) {
  auto c = Harness::default_config();
  c.timers.keepalive_interval = interval;
  c.timers.keepalive_timeout = timeout;
  return c;
}
}  // namespace

TEST_CASE("home PEs are audited with ENDPOINT_KEEP_ALIVE every keep-alive interval (RFC 5352 §3.6)") {
  Harness h(timers(5s, 3s));
  h.up(1, 1);
  h.deliver(1, registration("P", 9));
  h.out.take(1);
  h.run_until(t0() + 4999ms);
  CHECK(h.out.take(1).empty());
  h.run_until(t0() + 5s);
  auto ka = h.out.only<asap::EndpointKeepAlive>(1);
  CHECK(ka.pe_id == 9);
  CHECK(ka.server_id == 0x1234);
  CHECK(ka.pool_handle == PoolHandle("P"));
  CHECK(h.core.element_state(PoolHandle("P"), 9)->ack_deadline == t0() + 8s);
}

TEST_CASE("a PE that acknowledges keep-alives stays registered") {
  Harness h(timers(5s, 3s));
  h.up(1, 1);
  auto reg = registration("P", 9);
  reg.pool_element.registration_life = 3600s;
  h.deliver(1, reg);
  h.out.take(1);
  auto now = t0();
  for (int round = 0; round < 10; ++round) {
    now += 5s;
    h.run_until(now);
    auto ka = h.out.only<asap::EndpointKeepAlive>(1);
    now += 1s;
    h.deliver(1, asap::EndpointKeepAliveAck{ka.pool_handle, ka.pe_id}, now);
  }
  h.run_until(now + 4s);
  CHECK(h.core.handlespace().contains(PoolHandle("P"), 9));
  CHECK(h.core.counters().keepalive_acks == 10);
  CHECK(h.core.counters().keepalive_timeouts == 0);
}

TEST_CASE("a PE that does not acknowledge within the keep-alive timeout is removed") {
  Harness h(timers(5s, 3s));
  h.up(1, 1);
  h.deliver(1, registration("P", 9));
  h.out.take(1);
  h.run_until(t0() + 7999ms);
  CHECK(h.core.handlespace().contains(PoolHandle("P"), 9));
  h.run_until(t0() + 8s);
  CHECK_FALSE(h.core.handlespace().contains(PoolHandle("P"), 9));
  CHECK(h.core.counters().keepalive_timeouts == 1);
  CHECK(h.out.saw("keepalive-timeout"));
  CHECK(h.core.elements_of(1) == 0);
}

TEST_CASE("an ACK from another association does not count") {
  Harness h(timers(5s, 3s));
  h.up(1, 1);
  h.up(2, 2);
  h.deliver(1, registration("P", 9));
  h.run_until(t0() + 5s);
  h.deliver(2, asap::EndpointKeepAliveAck{PoolHandle("P"), 9}, t0() + 6s, 2);
  h.run_until(t0() + 8s);
  CHECK_FALSE(h.core.handlespace().contains(PoolHandle("P"), 9));
}

TEST_CASE("a registration not renewed within its life expires (RFC 5354 §3.9)") {
  Harness h(timers(0ms, 0ms));  // no audit: expiry alone
  h.up(1, 1);
  auto reg = registration("P", 1);
  reg.pool_element.registration_life = 2s;
  h.deliver(1, reg);
  h.run_until(t0() + 1999ms);
  CHECK(h.core.handlespace().contains(PoolHandle("P"), 1));
  h.run_until(t0() + 2s);
  CHECK_FALSE(h.core.handlespace().contains(PoolHandle("P"), 1));
  CHECK(h.core.counters().expirations == 1);
  CHECK_FALSE(h.core.next_deadline());
}

TEST_CASE("re-registration renews the registration life") {
  Harness h(timers(0ms, 0ms));
  h.up(1, 1);
  auto reg = registration("P", 1);
  reg.pool_element.registration_life = 2s;
  h.deliver(1, reg);
  h.run_until(t0() + 1500ms);
  h.deliver(1, reg, t0() + 1500ms);
  h.run_until(t0() + 3s);
  CHECK(h.core.handlespace().contains(PoolHandle("P"), 1));
  h.run_until(t0() + 3500ms);
  CHECK_FALSE(h.core.handlespace().contains(PoolHandle("P"), 1));
}

TEST_CASE("losing the association removes every PE registered over it (RFC 5352 §3.5)") {
  Harness h;
  h.up(1, 1);
  h.up(2, 2);
  h.deliver(1, registration("P", 1));
  h.deliver(1, registration("Q", 2));
  h.deliver(2, registration("P", 3, 2), t0(), 2);
  h.core.on_association_down(1, t0() + 1s);
  CHECK(h.core.handlespace().element_count() == 1);
  CHECK(h.core.handlespace().contains(PoolHandle("P"), 3));
  CHECK(h.core.counters().association_removals == 2);
  CHECK(h.core.association_count() == 1);
}

TEST_CASE("a PE is removed after MAX-BAD-PE-REPORT unreachable reports, not before (RFC 5352 §3.5)") {
  Harness h;
  h.up(1, 1);
  h.up(2, 2);
  h.deliver(1, registration("P", 1));
  for (int i = 0; i < 2; ++i) h.deliver(2, asap::EndpointUnreachable{PoolHandle("P"), 1}, t0(), 2);
  CHECK(h.core.handlespace().contains(PoolHandle("P"), 1));
  CHECK(h.core.element_state(PoolHandle("P"), 1)->unreachable_reports == 2);
  h.deliver(2, asap::EndpointUnreachable{PoolHandle("P"), 1}, t0(), 2);
  CHECK_FALSE(h.core.handlespace().contains(PoolHandle("P"), 1));
  CHECK(h.core.counters().unreachable_removals == 1);
  CHECK(h.out.take(2).empty());  // RFC 5352 §2.2.9: no response
}

TEST_CASE("re-registration resets the unreachable count") {
  Harness h;
  h.up(1, 1);
  h.deliver(1, registration("P", 1));
  h.deliver(1, asap::EndpointUnreachable{PoolHandle("P"), 1});
  h.deliver(1, asap::EndpointUnreachable{PoolHandle("P"), 1});
  h.deliver(1, registration("P", 1));
  h.deliver(1, asap::EndpointUnreachable{PoolHandle("P"), 1});
  CHECK(h.core.handlespace().contains(PoolHandle("P"), 1));
}

TEST_CASE("unreachable reports above the rate limit get lack of resources and do not count") {
  auto c = Harness::default_config();
  c.limits.max_unreachable_rate = 2;
  Harness h(c);
  h.up(1, 1);
  h.deliver(1, registration("P", 1));
  h.out.take(1);
  h.up(2, 2);
  for (int i = 0; i < 2; ++i) h.deliver(2, asap::EndpointUnreachable{PoolHandle("P"), 1}, t0(), 2);
  h.deliver(2, asap::EndpointUnreachable{PoolHandle("P"), 1}, t0(), 2);
  auto err = h.out.only<asap::ErrorMessage>(2);
  CHECK(err.error.causes[0].code == CauseCode::LackOfResources);
  CHECK(h.core.handlespace().contains(PoolHandle("P"), 1));
  // A second later the bucket has refilled: the third report counts.
  h.deliver(2, asap::EndpointUnreachable{PoolHandle("P"), 1}, t0() + 1s, 2);
  CHECK_FALSE(h.core.handlespace().contains(PoolHandle("P"), 1));
}
