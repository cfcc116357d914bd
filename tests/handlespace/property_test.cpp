// Random operation sequences against a reference model that is a plain vector scan.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "hs_test_support.hpp"

using namespace rsp;
using namespace rsp::handlespace;
using namespace rsp::handlespace::test;
using namespace std::chrono_literals;

namespace {

struct RefElement {
  std::string handle;
  PoolElementId id;
  OwnerTag owner;
  RegistrarId home;
  TimePoint expiry;
  PolicyType policy;
  TransportProtocol protocol;
  TransportUse use;
  std::uint16_t port;
};

struct Reference {
  Limits limits;
  std::vector<RefElement> elements;

  std::vector<RefElement*> pool(const std::string& h) {
    std::vector<RefElement*> out;
    for (auto& e : elements)
      if (e.handle == h) out.push_back(&e);
    return out;
  }
  std::set<std::string> handles() const {
    std::set<std::string> s;
    for (const auto& e : elements) s.insert(e.handle);
    return s;
  }

  // Mirrors the documented order of checks of Handlespace::register_element.
  std::optional<HandlespaceError> register_element(const RefElement& r) {
    auto members = pool(r.handle);
    RefElement* existing = nullptr;
    for (auto* e : members)
      if (e->id == r.id) existing = e;
    const bool sole = existing != nullptr && members.size() == 1;
    if (!members.empty() && !sole) {
      const RefElement& first = existing != nullptr && members[0] == existing && members.size() > 1
                                    ? *members[1]
                                    : *members[0];
      if (first.policy != r.policy) return HandlespaceError::PoolingPolicyInconsistent;
      if (first.protocol != r.protocol) return HandlespaceError::InconsistentTransportType;
      if (first.use != r.use) return HandlespaceError::InconsistentDataControlConfiguration;
    }
    if (existing != nullptr) {
      if (existing->owner != kNoOwner && existing->owner != r.owner)
        return HandlespaceError::NonUniquePeIdentifier;
      *existing = r;
      return std::nullopt;
    }
    if (elements.size() >= limits.max_elements) return HandlespaceError::LackOfResources;
    if (members.empty() && handles().size() >= limits.max_pools)
      return HandlespaceError::LackOfResources;
    if (members.size() >= limits.max_elements_per_pool) return HandlespaceError::LackOfResources;
    elements.push_back(r);
    return std::nullopt;
  }

  template <typename Pred>
  std::size_t remove_if(Pred pred) {
    const auto before = elements.size();
    elements.erase(std::remove_if(elements.begin(), elements.end(), pred), elements.end());
    return before - elements.size();
  }

  std::uint16_t checksum(std::optional<RegistrarId> home) const {
    ChecksumAccumulator acc;
    for (const auto& e : elements)
      if (!home || e.home == *home) acc.add(element_checksum_words(e.handle, e.id));
    return acc.value();
  }
};

PoolElementRegistration to_registration(const RefElement& r, std::chrono::milliseconds lifetime) {
  PoolElementRegistration reg;
  reg.id = r.id;
  reg.home_registrar = r.home;
  reg.owner = r.owner;
  reg.lifetime = lifetime;
  reg.policy.type = r.policy;
  reg.policy.load = r.port * 1000u;
  reg.policy.weight = 1 + r.port % 5;
  reg.policy.load_degradation = 12345;
  TransportAddress t;
  t.protocol = r.protocol;
  t.use = r.use;
  t.port = r.port;
  t.addresses.push_back(IpAddress::v4(10, 1, 2, static_cast<std::uint8_t>(r.id)));
  reg.user_transports.push_back(t);
  return reg;
}

void compare(Handlespace& hs, Reference& ref) {
  REQUIRE(hs.element_count() == ref.elements.size());
  const auto handles = ref.handles();
  REQUIRE(hs.pool_count() == handles.size());
  auto hs_handles = hs.pool_handles();
  REQUIRE(hs_handles.size() == handles.size());
  std::size_t i = 0;
  for (const auto& h : handles) {
    CHECK(hs_handles[i++].view() == h);
    std::vector<PoolElementId> ids;
    for (auto* e : ref.pool(h)) ids.push_back(e->id);
    std::sort(ids.begin(), ids.end());
    CHECK(hs.element_ids(PoolHandle(h)) == ids);
  }
  for (const auto& e : ref.elements) {
    auto found = hs.find(PoolHandle(e.handle), e.id);
    REQUIRE(found);
    CHECK(found->owner == e.owner);
    CHECK(found->home_registrar == e.home);
    CHECK(found->expiry == e.expiry);
    CHECK(found->user_transports.at(0).port == e.port);
  }
  CHECK(hs.checksum() == ref.checksum(std::nullopt));
  for (RegistrarId home = 1; home <= 3; ++home) {
    CHECK(hs.ownership_checksum(home) == ref.checksum(home));
    std::size_t owned = 0;
    for (const auto& e : ref.elements) owned += e.home == home;
    CHECK(hs.owned_element_count(home) == owned);
  }
  if (!ref.elements.empty()) {
    TimePoint earliest = ref.elements[0].expiry;
    for (const auto& e : ref.elements) earliest = std::min(earliest, e.expiry);
    CHECK(hs.next_expiry() == earliest);
  } else {
    CHECK_FALSE(hs.next_expiry());
  }
}

}  // namespace

TEST_CASE("random operation sequences match a vector-scan reference model, checksums included") {
  const PolicyType policies[] = {PolicyType::RoundRobin, PolicyType::LeastUsedWithDegradation,
                                 PolicyType::WeightedRandom, PolicyType::Random,
                                 PolicyType::WeightedRoundRobin};
  std::map<HandlespaceError, int> rejections;
  std::size_t expired = 0;
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    CAPTURE(seed);
    Limits limits;
    limits.max_pools = 4;
    limits.max_elements_per_pool = 12;
    limits.max_elements = 40;
    Handlespace hs(limits, seed);
    Reference ref{limits, {}};
    std::mt19937_64 rng(seed);
    const auto below = [&](std::uint64_t n) { return rng() % n; };
    TimePoint now = t0();
    for (int step = 0; step < 600; ++step) {
      now += std::chrono::milliseconds(below(400));
      const auto op = below(100);
      const std::string handle = "pool-" + std::to_string(below(5));
      if (op < 55) {
        RefElement r{handle,
                     static_cast<PoolElementId>(1 + below(16)),
                     below(6),  // 0 = kNoOwner sometimes
                     static_cast<RegistrarId>(1 + below(3)),
                     {},
                     policies[below(10) < 8 ? (handle.back() - '0') % 5 : below(5)],
                     below(10) < 9 ? TransportProtocol::Sctp : TransportProtocol::Tcp,
                     below(10) < 9 ? TransportUse::DataOnly : TransportUse::DataPlusControl,
                     static_cast<std::uint16_t>(1 + below(60000))};
        const auto lifetime = std::chrono::milliseconds(1000 + below(20000));
        r.expiry = now + lifetime;
        const auto expected = ref.register_element(r);
        const auto got = hs.register_element(PoolHandle(handle), to_registration(r, lifetime), now);
        CHECK(got.has_value() == !expected.has_value());
        if (expected && !got.has_value()) {
          CHECK(got.error().code == *expected);
          ++rejections[*expected];
        }
      } else if (op < 65) {
        const auto id = static_cast<PoolElementId>(1 + below(16));
        const auto removed =
            ref.remove_if([&](const RefElement& e) { return e.handle == handle && e.id == id; });
        CHECK(hs.deregister_element(PoolHandle(handle), id).has_value() == (removed == 1));
      } else if (op < 80) {
        const auto removed = ref.remove_if([&](const RefElement& e) { return e.expiry <= now; });
        CHECK(hs.expire(now).size() == removed);
        expired += removed;
      } else if (op < 84) {
        const OwnerTag owner = 1 + below(5);
        const auto removed = ref.remove_if([&](const RefElement& e) { return e.owner == owner; });
        CHECK(hs.remove_owner(owner).size() == removed);
      } else if (op < 86) {
        const auto home = static_cast<RegistrarId>(1 + below(3));
        const auto removed = ref.remove_if([&](const RefElement& e) { return e.home == home; });
        CHECK(hs.remove_home_registrar(home).size() == removed);
      } else {
        const auto members = ref.pool(handle);
        std::vector<PoolElementId> out(1 + below(5));
        auto r = hs.select(PoolHandle(handle), {out.size(), 1 + below(3)}, out);
        if (members.empty()) {
          CHECK_FALSE(r.has_value());
        } else {
          REQUIRE(r.has_value());
          CHECK(*r == std::min(out.size(), members.size()));  // weights are >= 1 here
          out.resize(*r);
          std::set<PoolElementId> distinct(out.begin(), out.end());
          CHECK(distinct.size() == out.size());
          for (auto id : out)
            CHECK(std::any_of(members.begin(), members.end(),
                              [&](const RefElement* e) { return e->id == id; }));
        }
      }
      compare(hs, ref);
    }
  }
  // The sequences must have exercised every rejection and the expiry path.
  CHECK(rejections.size() == 5);
  CHECK(expired > 0);
}
