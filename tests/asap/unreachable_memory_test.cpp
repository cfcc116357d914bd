// The pool user's memory of PEs it reported unreachable (RFC 5352 §3.5): bounded in time and
// count, forgiven on re-registration. Sans-IO: time is passed in.
#include <doctest/doctest.h>

#include "asap/unreachable_memory.hpp"
#include "asap_test_support.hpp"

namespace rsp::asap::test {
namespace {

using namespace std::chrono_literals;
using detail::UnreachableMemory;

const PoolHandle kEchoPool("EchoPool");
const TimePoint t0 = TimePoint{} + 1h;

wire::PoolElement listing(PoolElementId id, std::uint16_t port) {
  wire::PoolElement pe;
  pe.id = id;
  pe.user_transport = loopback(port);
  return pe;
}

TEST_CASE("a PE reported unreachable is remembered until its time is up, and a new report restarts it") {
  UnreachableMemory m;
  m.remember(kEchoPool, 101, loopback(5001), t0, 10s);
  CHECK(m.remembered(kEchoPool, 101, t0 + 9s));
  CHECK_FALSE(m.remembered(kEchoPool, 102, t0));
  CHECK_FALSE(m.remembered(PoolHandle("OtherPool"), 101, t0));
  m.remember(kEchoPool, 101, std::nullopt, t0 + 9s, 10s);
  CHECK(m.remembered(kEchoPool, 101, t0 + 18s));
  CHECK_FALSE(m.remembered(kEchoPool, 101, t0 + 19s));
  CHECK(m.size() == 0);  // expired entries go when looked at
}

TEST_CASE("the memory holds at most kCapacity PEs and drops those nearest expiry first") {
  UnreachableMemory m;
  for (PoolElementId id = 1; id <= UnreachableMemory::kCapacity; ++id) {
    m.remember(kEchoPool, id, std::nullopt, t0 + std::chrono::milliseconds(id), 10s);
  }
  CHECK(m.size() == UnreachableMemory::kCapacity);
  m.remember(kEchoPool, 100000, std::nullopt, t0 + 1s, 10s);
  CHECK(m.size() == UnreachableMemory::kCapacity);
  CHECK_FALSE(m.remembered(kEchoPool, 1, t0 + 1s));  // the oldest report went
  CHECK(m.remembered(kEchoPool, 2, t0 + 1s));
  CHECK(m.remembered(kEchoPool, 100000, t0 + 1s));
  // Expired entries make room before live ones are dropped.
  m.remember(kEchoPool, 100001, std::nullopt, t0 + 10s + 100ms, 10s);
  CHECK(m.size() < UnreachableMemory::kCapacity);
  CHECK(m.remembered(kEchoPool, 100000, t0 + 10s + 100ms));
}

TEST_CASE("a listing at other user transport addresses than the reported ones forgives the PE") {
  UnreachableMemory m;
  m.remember(kEchoPool, 101, loopback(5001), t0, 10s);
  m.listed(kEchoPool, listing(101, 5001), t0 + 1s);  // the registration reported: still listed
  CHECK(m.remembered(kEchoPool, 101, t0 + 1s));
  m.listed(kEchoPool, listing(101, 5002), t0 + 2s);  // re-registered
  CHECK_FALSE(m.remembered(kEchoPool, 101, t0 + 2s));

  // Reported without a known transport: the first listing is taken as the one reported.
  m.remember(kEchoPool, 102, std::nullopt, t0, 10s);
  m.listed(kEchoPool, listing(102, 6001), t0 + 1s);
  CHECK(m.remembered(kEchoPool, 102, t0 + 1s));
  m.listed(kEchoPool, listing(102, 6002), t0 + 2s);
  CHECK_FALSE(m.remembered(kEchoPool, 102, t0 + 2s));
}

}  // namespace
}  // namespace rsp::asap::test
