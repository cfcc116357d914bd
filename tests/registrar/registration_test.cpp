#include <doctest/doctest.h>

#include "core_test_support.hpp"

using namespace rsp;
using namespace rsp::registrar;
using namespace rsp::registrar::test;
using wire::CauseCode;
namespace asap = rsp::wire::asap;

namespace {
CauseCode rejection_cause(Harness& h, AssociationRef a) {
  auto r = h.out.only<asap::RegistrationResponse>(a);
  REQUIRE(r.rejected);
  REQUIRE(r.error);
  REQUIRE(r.error->causes.size() == 1);
  return r.error->causes[0].code;
}
}  // namespace

TEST_CASE("a registration is accepted, answered, and the registrar becomes home (RFC 5352 §3.1)") {
  Harness h;
  h.up(1, 1);
  h.deliver(1, registration("EchoPool", 77));
  auto r = h.out.only<asap::RegistrationResponse>(1);
  CHECK_FALSE(r.rejected);
  CHECK(r.pe_id == 77);
  CHECK(r.pool_handle == PoolHandle("EchoPool"));
  auto e = h.core.handlespace().find(PoolHandle("EchoPool"), 77);
  REQUIRE(e);
  CHECK(e->home_registrar == 0x1234);
  CHECK(e->owner == 1);
  CHECK(h.core.counters().registrations == 1);
  CHECK(h.core.elements_of(1) == 1);
  CHECK(h.out.saw("registered"));
}

TEST_CASE("re-registration updates the policy values in place") {
  Harness h;
  h.up(1, 1);
  auto reg = registration("P", 5, 1, PolicyType::LeastUsed);
  reg.pool_element.policy.load = 100;
  h.deliver(1, reg);
  h.out.take(1);
  reg.pool_element.policy.load = 9999;
  h.deliver(1, reg, t0() + 1s);
  CHECK_FALSE(h.out.only<asap::RegistrationResponse>(1).rejected);
  CHECK(h.core.handlespace().find(PoolHandle("P"), 5)->policy.load == 9999);
  CHECK(h.core.counters().reregistrations == 1);
  CHECK(h.core.handlespace().element_count() == 1);
}

TEST_CASE("a different policy than the pool's is rejected with the policy echoed (RFC 5352 §3.1)") {
  Harness h;
  h.up(1, 1);
  h.up(2, 2);
  h.deliver(1, registration("P", 1, 1, PolicyType::RoundRobin));
  h.out.take(1);
  auto reg = registration("P", 2, 2, PolicyType::LeastUsed);
  h.deliver(2, reg, t0(), 2);
  auto r = h.out.only<asap::RegistrationResponse>(2);
  REQUIRE(r.rejected);
  CHECK(r.error->causes[0].code == CauseCode::InconsistentPoolingPolicy);
  std::vector<std::byte> policy_tlv;
  wire::encode_policy(reg.pool_element.policy, policy_tlv);
  CHECK(r.error->causes[0].info == policy_tlv);
  CHECK_FALSE(h.core.handlespace().contains(PoolHandle("P"), 2));
}

TEST_CASE("a different transport protocol than the pool's is rejected (RFC 5352 §3.1)") {
  Harness h;
  h.up(1, 1);
  h.up(2, 2);
  h.deliver(1, registration("P", 1));
  h.out.take(1);
  auto reg = registration("P", 2, 2);
  reg.pool_element.user_transport.protocol = TransportProtocol::Tcp;
  h.deliver(2, reg, t0(), 2);
  CHECK(rejection_cause(h, 2) == CauseCode::InconsistentTransportType);
}

TEST_CASE("a different SCTP transport use than the pool's is rejected (RFC 5352 §3.1)") {
  Harness h;
  h.up(1, 1);
  h.up(2, 2);
  h.deliver(1, registration("P", 1));
  h.out.take(1);
  auto reg = registration("P", 2, 2);
  reg.pool_element.user_transport.use = TransportUse::DataPlusControl;
  h.deliver(2, reg, t0(), 2);
  CHECK(rejection_cause(h, 2) == CauseCode::InconsistentDataControlConfiguration);
}

TEST_CASE("an address the association cannot vouch for is rejected for security (RFC 5355 §3.1)") {
  Harness h;
  h.up(1, 1);
  auto reg = registration("P", 1, 1);
  reg.pool_element.user_transport.addresses.push_back(IpAddress::v4(10, 9, 9, 9));
  // Delivered from 10.0.0.1 only: 10.9.9.9 is someone else's address.
  h.deliver(1, reg);
  CHECK(rejection_cause(h, 1) == CauseCode::RejectedDueToSecurity);
  CHECK(h.core.handlespace().element_count() == 0);
}

TEST_CASE("address verification can be relaxed for NAT and test setups") {
  auto c = Harness::default_config();
  c.verify_addresses = false;
  Harness h(c);
  auto reg = registration("P", 1, 1);
  reg.pool_element.user_transport.addresses[0] = IpAddress::v4(10, 9, 9, 9);
  h.deliver(1, reg);
  CHECK_FALSE(h.out.only<asap::RegistrationResponse>(1).rejected);
}

TEST_CASE("a loopback address is below the default minimum scope and rejected") {
  Harness h;
  TransportAddress lo;
  lo.port = 1;
  lo.addresses.push_back(IpAddress::v4(127, 0, 0, 1));
  h.core.on_association_up(1, lo, t0());
  auto reg = registration("P", 1);
  reg.pool_element.user_transport.addresses[0] = IpAddress::v4(127, 0, 0, 1);
  auto bytes = bytes_of(reg);
  h.core.on_message(1, lo, bytes, t0());
  CHECK(rejection_cause(h, 1) == CauseCode::InvalidValues);

  auto c = Harness::default_config();
  c.min_address_scope = AddressScope::Loopback;
  Harness allowing(c);
  allowing.core.on_message(1, lo, bytes, t0());
  CHECK_FALSE(allowing.out.only<asap::RegistrationResponse>(1).rejected);
}

TEST_CASE("an unspecified address stands for the association's addresses") {
  Harness h;
  h.up(1, 1);
  auto reg = registration("P", 1);
  reg.pool_element.user_transport.addresses[0] = IpAddress::v4(0, 0, 0, 0);
  h.deliver(1, reg);
  CHECK_FALSE(h.out.only<asap::RegistrationResponse>(1).rejected);
  auto e = h.core.handlespace().find(PoolHandle("P"), 1);
  REQUIRE(e);
  REQUIRE(e->user_transports[0].addresses.size() == 1);
  CHECK(e->user_transports[0].addresses[0] == IpAddress::v4(10, 0, 0, 1));
}

TEST_CASE("a PE identifier registered over another association is not unique (RFC 5352 §3.1)") {
  Harness h;
  h.up(1, 1);
  h.up(2, 2);
  h.deliver(1, registration("P", 42, 1));
  h.out.take(1);
  h.deliver(2, registration("P", 42, 2), t0(), 2);
  CHECK(rejection_cause(h, 2) == CauseCode::NonUniquePeIdentifier);
  CHECK(h.core.handlespace().find(PoolHandle("P"), 42)->owner == 1);
}

TEST_CASE("PE identifier 0 and a zero registration life are invalid values") {
  Harness h;
  h.up(1, 1);
  h.deliver(1, registration("P", 0));
  CHECK(rejection_cause(h, 1) == CauseCode::InvalidValues);
  auto reg = registration("P", 3);
  reg.pool_element.registration_life = 0ms;
  h.deliver(1, reg);
  CHECK(rejection_cause(h, 1) == CauseCode::InvalidValues);
}

TEST_CASE("an unknown policy type is rejected as a policy inconsistency") {
  Harness h;
  h.up(1, 1);
  auto reg = registration("P", 3);
  reg.pool_element.policy.type = static_cast<PolicyType>(0x7777);
  reg.pool_element.policy.unknown_value = {std::byte{0}, std::byte{0}, std::byte{0}, std::byte{1}};
  h.deliver(1, reg);
  CHECK(rejection_cause(h, 1) == CauseCode::InconsistentPoolingPolicy);
}

TEST_CASE("PEs per association are limited: lack of resources, updates still allowed") {
  auto c = Harness::default_config();
  c.limits.max_elements_per_association = 2;
  Harness h(c);
  h.up(1, 1);
  h.deliver(1, registration("P", 1));
  h.deliver(1, registration("P", 2));
  h.out.take(1);
  h.deliver(1, registration("P", 3));
  CHECK(rejection_cause(h, 1) == CauseCode::LackOfResources);
  h.deliver(1, registration("P", 2));
  CHECK_FALSE(h.out.only<asap::RegistrationResponse>(1).rejected);
}

TEST_CASE("the pool limit yields lack of resources") {
  auto c = Harness::default_config();
  c.limits.max_pools = 1;
  Harness h(c);
  h.up(1, 1);
  h.deliver(1, registration("A", 1));
  h.out.take(1);
  h.deliver(1, registration("B", 2));
  CHECK(rejection_cause(h, 1) == CauseCode::LackOfResources);
}

TEST_CASE("PEs per pool are limited: lack of resources") {
  auto c = Harness::default_config();
  c.limits.max_elements_per_pool = 1;
  Harness h(c);
  h.up(1, 1);
  h.deliver(1, registration("A", 1));
  h.out.take(1);
  h.deliver(1, registration("A", 2));
  CHECK(rejection_cause(h, 1) == CauseCode::LackOfResources);
}

TEST_CASE("the registration life is capped by max_registration_life") {
  auto c = Harness::default_config();
  c.timers.max_registration_life = 10s;
  Harness h(c);
  h.up(1, 1);
  h.deliver(1, registration("P", 1));  // asks for 30 s
  CHECK(h.core.handlespace().find(PoolHandle("P"), 1)->lifetime == 10s);
}

TEST_CASE("deregistration removes the PE and answers; unknown PEs are answered as gone") {
  Harness h;
  h.up(1, 1);
  h.deliver(1, registration("P", 1));
  h.out.take(1);
  h.deliver(1, asap::Deregistration{PoolHandle("P"), 1});
  auto r = h.out.only<asap::DeregistrationResponse>(1);
  CHECK_FALSE(r.error);
  CHECK(r.pe_id == 1);
  CHECK(h.core.handlespace().element_count() == 0);
  CHECK(h.core.elements_of(1) == 0);
  CHECK_FALSE(h.core.next_deadline());  // no keep-alive left for it

  h.deliver(1, registration("P", 2));
  h.out.take(1);
  h.deliver(1, asap::Deregistration{PoolHandle("P"), 1});
  CHECK_FALSE(h.out.only<asap::DeregistrationResponse>(1).error);
}

TEST_CASE("deregistration of an unknown pool carries Unknown Pool Handle") {
  Harness h;
  h.deliver(1, asap::Deregistration{PoolHandle("Nope"), 1});
  auto r = h.out.only<asap::DeregistrationResponse>(1);
  REQUIRE(r.error);
  CHECK(r.error->causes[0].code == CauseCode::UnknownPoolHandle);
}

TEST_CASE("only the registering association may deregister a PE (RFC 5355 §3.2)") {
  Harness h;
  h.up(1, 1);
  h.up(2, 2);
  h.deliver(1, registration("P", 1));
  h.out.take(1);
  h.deliver(2, asap::Deregistration{PoolHandle("P"), 1}, t0(), 2);
  auto r = h.out.only<asap::DeregistrationResponse>(2);
  REQUIRE(r.error);
  CHECK(r.error->causes[0].code == CauseCode::RejectedDueToSecurity);
  CHECK(h.core.handlespace().contains(PoolHandle("P"), 1));
}
