#include <doctest/doctest.h>

#include <algorithm>

#include "hs_test_support.hpp"

using namespace rsp;
using namespace rsp::handlespace;
using namespace rsp::handlespace::test;
using namespace std::chrono_literals;

namespace {
const PoolHandle kPool("EchoPool");

HandlespaceError error_of(const HsResult<RegistrationOutcome>& r) {
  REQUIRE_FALSE(r.has_value());
  return r.error().code;
}
}  // namespace

TEST_CASE("a new element is added and can be looked up with everything it registered") {
  Handlespace hs;
  auto reg = pe(7, policy(PolicyType::RoundRobin), 42, 5);
  reg.metadata = {std::byte{1}, std::byte{2}, std::byte{3}};
  reg.user_transports.push_back(tcp(80));
  reg.user_transports[0].addresses.push_back(
      IpAddress::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  auto r = hs.register_element(kPool, reg, t0());
  REQUIRE(r.has_value());
  CHECK(*r == RegistrationOutcome::Added);
  CHECK(hs.element_count() == 1);
  CHECK(hs.pool_count() == 1);
  CHECK(hs.pool_size(kPool) == 1);
  CHECK(hs.pool_policy(kPool) == PolicyType::RoundRobin);

  auto found = hs.find(kPool, 7);
  REQUIRE(found);
  CHECK(found->id == 7);
  CHECK(found->home_registrar == 5);
  CHECK(found->owner == 42);
  CHECK(found->lifetime == 30s);
  CHECK(found->expiry == t0() + 30s);
  CHECK(found->user_transports == reg.user_transports);
  CHECK(found->metadata == reg.metadata);
  CHECK(found->policy.type == PolicyType::RoundRobin);
  CHECK_FALSE(hs.find(kPool, 8));
  CHECK_FALSE(hs.find(PoolHandle("Other"), 7));
}

TEST_CASE("re-registration by the same owner updates the element in place") {
  Handlespace hs;
  REQUIRE(hs.register_element(kPool, pe(7), t0()).has_value());
  auto reg = pe(7);
  reg.lifetime = 60s;
  reg.home_registrar = 9;
  reg.user_transports = {sctp(4242)};
  auto r = hs.register_element(kPool, reg, t0() + 10s);
  REQUIRE(r.has_value());
  CHECK(*r == RegistrationOutcome::Updated);
  CHECK(hs.element_count() == 1);
  auto found = hs.find(kPool, 7);
  REQUIRE(found);
  CHECK(found->expiry == t0() + 70s);
  CHECK(found->home_registrar == 9);
  CHECK(found->user_transports[0].port == 4242);
  CHECK(hs.owned_element_count(100) == 0);
  CHECK(hs.owned_element_count(9) == 1);
}

TEST_CASE("registration with a different policy than the pool's is rejected (RFC 5352 §3)") {
  Handlespace hs;
  REQUIRE(hs.register_element(kPool, pe(1, policy(PolicyType::RoundRobin)), t0()).has_value());
  auto r = hs.register_element(kPool, pe(2, policy(PolicyType::LeastUsed)), t0());
  CHECK(error_of(r) == HandlespaceError::PoolingPolicyInconsistent);
  CHECK(cause_code(HandlespaceError::PoolingPolicyInconsistent) == 0x5);
  CHECK(hs.pool_size(kPool) == 1);
}

TEST_CASE("registration with another transport protocol is rejected as inconsistent transport type") {
  Handlespace hs;
  REQUIRE(hs.register_element(kPool, pe(1), t0()).has_value());
  auto reg = pe(2);
  reg.user_transports = {tcp(80)};
  CHECK(error_of(hs.register_element(kPool, reg, t0())) ==
        HandlespaceError::InconsistentTransportType);
  CHECK(cause_code(HandlespaceError::InconsistentTransportType) == 0x7);
}

TEST_CASE("registration with another SCTP transport use is rejected as inconsistent data/control") {
  Handlespace hs;
  REQUIRE(hs.register_element(kPool, pe(1), t0()).has_value());
  auto reg = pe(2);
  reg.user_transports = {sctp(5000, TransportUse::DataPlusControl)};
  CHECK(error_of(hs.register_element(kPool, reg, t0())) ==
        HandlespaceError::InconsistentDataControlConfiguration);
  CHECK(cause_code(HandlespaceError::InconsistentDataControlConfiguration) == 0x8);
}

TEST_CASE("a pool's only element may change the pool's policy and transport") {
  Handlespace hs;
  REQUIRE(hs.register_element(kPool, pe(1), t0()).has_value());
  auto reg = pe(1, policy(PolicyType::LeastUsed));
  reg.user_transports = {tcp(80)};
  auto r = hs.register_element(kPool, reg, t0());
  REQUIRE(r.has_value());
  CHECK(hs.pool_policy(kPool) == PolicyType::LeastUsed);
  // ...and the pool now demands the new ones.
  CHECK(error_of(hs.register_element(kPool, pe(2, policy(PolicyType::LeastUsed)), t0())) ==
        HandlespaceError::InconsistentTransportType);
}

TEST_CASE("the same PE id from another association is a non-unique PE identifier") {
  Handlespace hs;
  REQUIRE(hs.register_element(kPool, pe(1, policy(PolicyType::RoundRobin), 10), t0()).has_value());
  CHECK(error_of(hs.register_element(kPool, pe(1, policy(PolicyType::RoundRobin), 11), t0())) ==
        HandlespaceError::NonUniquePeIdentifier);
  CHECK(cause_code(HandlespaceError::NonUniquePeIdentifier) == 0x4);
  CHECK(hs.find(kPool, 1)->owner == 10);
}

TEST_CASE("an element learned without owner may be taken over by a local registration") {
  Handlespace hs;
  REQUIRE(hs.register_element(kPool, pe(1, policy(PolicyType::RoundRobin), kNoOwner), t0())
              .has_value());
  REQUIRE(hs.register_element(kPool, pe(1, policy(PolicyType::RoundRobin), 11), t0()).has_value());
  CHECK(hs.find(kPool, 1)->owner == 11);
  CHECK(hs.remove_owner(11).size() == 1);
}

TEST_CASE("limits turn into lack of resources") {
  Limits limits;
  limits.max_pools = 2;
  limits.max_elements_per_pool = 2;
  limits.max_elements = 3;
  Handlespace hs(limits);
  REQUIRE(hs.register_element(PoolHandle("a"), pe(1), t0()).has_value());
  REQUIRE(hs.register_element(PoolHandle("a"), pe(2), t0()).has_value());
  CHECK(error_of(hs.register_element(PoolHandle("a"), pe(3), t0())) ==
        HandlespaceError::LackOfResources);
  REQUIRE(hs.register_element(PoolHandle("b"), pe(3), t0()).has_value());
  CHECK(error_of(hs.register_element(PoolHandle("c"), pe(4), t0())) ==
        HandlespaceError::LackOfResources);
  CHECK(error_of(hs.register_element(PoolHandle("b"), pe(4), t0())) ==
        HandlespaceError::LackOfResources);  // max_elements
  // Updates are not new resources.
  CHECK(hs.register_element(PoolHandle("a"), pe(2), t0()).has_value());
  CHECK(cause_code(HandlespaceError::LackOfResources) == 0x6);
}

TEST_CASE("malformed registrations are rejected as invalid values") {
  Handlespace hs;
  CHECK(error_of(hs.register_element(PoolHandle(""), pe(1), t0())) ==
        HandlespaceError::InvalidValues);
  CHECK(error_of(hs.register_element(PoolHandle(std::string(kMaxPoolHandleSize + 1, 'x')), pe(1),
                                     t0())) == HandlespaceError::InvalidValues);
  CHECK(error_of(hs.register_element(kPool, pe(0), t0())) == HandlespaceError::InvalidValues);
  auto no_transport = pe(1);
  no_transport.user_transports.clear();
  CHECK(error_of(hs.register_element(kPool, no_transport, t0())) ==
        HandlespaceError::InvalidValues);
  auto no_address = pe(1);
  no_address.user_transports[0].addresses.clear();
  CHECK(error_of(hs.register_element(kPool, no_address, t0())) ==
        HandlespaceError::InvalidValues);
  auto no_lifetime = pe(1);
  no_lifetime.lifetime = 0ms;
  CHECK(error_of(hs.register_element(kPool, no_lifetime, t0())) ==
        HandlespaceError::InvalidValues);
  auto unknown = pe(1);
  unknown.policy.type = static_cast<PolicyType>(0x12345678);
  const auto unknown_result = hs.register_element(kPool, unknown, t0());
  CHECK(error_of(unknown_result) == HandlespaceError::UnknownPolicy);
  CHECK(unknown_result.error().message.find("0x12345678") != std::string::npos);
  CHECK(hs.element_count() == 0);
  CHECK(hs.pool_count() == 0);
}

TEST_CASE("deregistration removes the element and an empty pool") {
  Handlespace hs;
  REQUIRE(hs.register_element(kPool, pe(1), t0()).has_value());
  REQUIRE(hs.register_element(kPool, pe(2), t0()).has_value());
  CHECK(hs.deregister_element(kPool, 1).has_value());
  CHECK_FALSE(hs.contains(kPool, 1));
  CHECK(hs.contains(kPool, 2));
  auto again = hs.deregister_element(kPool, 1);
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().code == HandlespaceError::UnknownPoolElement);
  CHECK(hs.deregister_element(kPool, 2).has_value());
  CHECK_FALSE(hs.has_pool(kPool));
  auto gone = hs.deregister_element(kPool, 2);
  REQUIRE_FALSE(gone.has_value());
  CHECK(gone.error().code == HandlespaceError::UnknownPoolHandle);
  CHECK(cause_code(HandlespaceError::UnknownPoolHandle) == 0x9);
}

TEST_CASE("deregistration from another association is refused") {
  Handlespace hs;
  REQUIRE(hs.register_element(kPool, pe(1, policy(PolicyType::RoundRobin), 10), t0()).has_value());
  auto r = hs.deregister_element(kPool, 1, 11);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == HandlespaceError::NonUniquePeIdentifier);
  CHECK(hs.deregister_element(kPool, 1, 10).has_value());
}

TEST_CASE("expire removes exactly the elements whose lifetime has passed") {
  Handlespace hs;
  for (PoolElementId id = 1; id <= 5; ++id) {
    auto reg = pe(id);
    reg.lifetime = std::chrono::seconds(id * 10);
    REQUIRE(hs.register_element(kPool, reg, t0()).has_value());
  }
  CHECK(hs.next_expiry() == t0() + 10s);
  CHECK(hs.expire(t0() + 9s).empty());
  auto removed = hs.expire(t0() + 30s);
  std::vector<PoolElementId> ids;
  for (const auto& k : removed) {
    CHECK(k.handle == kPool);
    ids.push_back(k.id);
  }
  std::sort(ids.begin(), ids.end());
  CHECK(ids == std::vector<PoolElementId>{1, 2, 3});
  CHECK(hs.element_count() == 2);
  CHECK(hs.next_expiry() == t0() + 40s);
  // A re-registration pushes the expiry out.
  REQUIRE(hs.register_element(kPool, pe(4), t0() + 35s).has_value());
  CHECK(hs.expire(t0() + 50s).size() == 1);  // only 5
  CHECK(hs.contains(kPool, 4));
  CHECK(hs.expire(t0() + 65s).size() == 1);
  CHECK_FALSE(hs.next_expiry());
}

TEST_CASE("remove_owner drops all elements of one association across pools") {
  Handlespace hs;
  REQUIRE(hs.register_element(PoolHandle("a"), pe(1, policy(PolicyType::RoundRobin), 10), t0()).has_value());
  REQUIRE(hs.register_element(PoolHandle("b"), pe(2, policy(PolicyType::RoundRobin), 10), t0()).has_value());
  REQUIRE(hs.register_element(PoolHandle("b"), pe(3, policy(PolicyType::RoundRobin), 11), t0()).has_value());
  auto removed = hs.remove_owner(10);
  CHECK(removed.size() == 2);
  CHECK(hs.element_count() == 1);
  CHECK_FALSE(hs.has_pool(PoolHandle("a")));
  CHECK(hs.contains(PoolHandle("b"), 3));
  CHECK(hs.remove_owner(10).empty());
  CHECK(hs.remove_owner(kNoOwner).empty());
}

TEST_CASE("remove_home_registrar and reassign_home_registrar act on one registrar's elements") {
  Handlespace hs;
  REQUIRE(hs.register_element(kPool, pe(1, policy(PolicyType::RoundRobin), 1, 100), t0()).has_value());
  REQUIRE(hs.register_element(kPool, pe(2, policy(PolicyType::RoundRobin), 2, 100), t0()).has_value());
  REQUIRE(hs.register_element(kPool, pe(3, policy(PolicyType::RoundRobin), 3, 200), t0()).has_value());
  CHECK(hs.owned_element_count(100) == 2);
  CHECK(hs.reassign_home_registrar(100, 300) == 2);
  CHECK(hs.owned_element_count(100) == 0);
  CHECK(hs.find(kPool, 1)->home_registrar == 300);
  auto removed = hs.remove_home_registrar(300);
  CHECK(removed.size() == 2);
  CHECK(hs.element_ids(kPool) == std::vector<PoolElementId>{3});
}

TEST_CASE("iteration is in handle order, elements by ascending id, and pages continue") {
  Handlespace hs;
  for (const char* h : {"zeta", "alpha", "mid"}) {
    for (PoolElementId id : {30u, 10u, 20u})
      REQUIRE(hs.register_element(PoolHandle(h), pe(id), t0()).has_value());
  }
  auto handles = hs.pool_handles();
  REQUIRE(handles.size() == 3);
  CHECK(handles[0] == PoolHandle("alpha"));
  CHECK(handles[2] == PoolHandle("zeta"));
  std::vector<std::pair<std::string, PoolElementId>> seen;
  hs.for_each([&](const PoolHandle& h, const PoolElement& e) {
    seen.emplace_back(std::string(h.view()), e.id);
  });
  REQUIRE(seen.size() == 9);
  CHECK(seen[0] == std::pair<std::string, PoolElementId>{"alpha", 10});
  CHECK(seen[3] == std::pair<std::string, PoolElementId>{"mid", 10});
  CHECK(seen[8] == std::pair<std::string, PoolElementId>{"zeta", 30});

  auto page1 = hs.elements_after(PoolHandle(""), 0, 4);
  REQUIRE(page1.size() == 4);
  auto page2 = hs.elements_after(page1.back().first, page1.back().second.id, 4);
  REQUIRE(page2.size() == 4);
  CHECK(page2.front().first == PoolHandle("mid"));
  CHECK(page2.front().second.id == 20);
  auto page3 = hs.elements_after(page2.back().first, page2.back().second.id, 4);
  CHECK(page3.size() == 1);
}

TEST_CASE("update_policy changes values and rejects another policy type") {
  Handlespace hs;
  auto lu = policy(PolicyType::LeastUsed);
  lu.load = 10;
  REQUIRE(hs.register_element(kPool, pe(1, lu), t0()).has_value());
  lu.load = 99;
  CHECK(hs.update_policy(kPool, 1, lu).has_value());
  CHECK(hs.find(kPool, 1)->policy.load == 99);
  auto r = hs.update_policy(kPool, 1, policy(PolicyType::Random));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == HandlespaceError::PoolingPolicyInconsistent);
  CHECK_FALSE(hs.update_policy(kPool, 2, lu).has_value());
}

TEST_CASE("selecting from an unknown pool reports unknown pool handle") {
  Handlespace hs;
  PoolElementId out[3];
  auto r = hs.select(kPool, {3, 1}, out);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == HandlespaceError::UnknownPoolHandle);
}

TEST_CASE("handle_resolution returns full copies of the selected elements") {
  Handlespace hs;
  for (PoolElementId id = 1; id <= 4; ++id)
    REQUIRE(hs.register_element(kPool, pe(id), t0()).has_value());
  auto r = hs.handle_resolution(kPool, {3, 1});
  REQUIRE(r.has_value());
  REQUIRE(r->size() == 3);
  for (const auto& e : *r) CHECK(e == *hs.find(kPool, e.id));
}

TEST_CASE("policy names round-trip and every policy id is known") {
  for (auto t : {PolicyType::RoundRobin, PolicyType::WeightedRoundRobin, PolicyType::Random,
                 PolicyType::WeightedRandom, PolicyType::Priority, PolicyType::LeastUsed,
                 PolicyType::LeastUsedWithDegradation, PolicyType::PriorityLeastUsed,
                 PolicyType::RandomizedLeastUsed, PolicyType::RandomizedPriorityLeastUsed,
                 PolicyType::RandomizedLeastUsedDegradation,
                 PolicyType::PriorityLeastUsedDegradation,
                 PolicyType::RandomizedPriorityLeastUsedDegradation, PolicyType::WeightedRandomDpf,
                 PolicyType::LeastUsedDpf, PolicyType::LeastUsedDegradationDpf}) {
    CHECK(is_known_policy(t));
    CHECK(policy_from_name(policy_name(t)) == t);
  }
  CHECK_FALSE(is_known_policy(static_cast<PolicyType>(0x77)));
  CHECK(to_string(HandlespaceError::NonUniquePeIdentifier) == "non-unique PE identifier");
}
