// Distribution and ordering of every policy (RFC 5356 and RSPLIB's extensions), fixed seeds.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "hs_test_support.hpp"

using namespace rsp;
using namespace rsp::handlespace;
using namespace rsp::handlespace::test;

namespace {

const PoolHandle kPool("P");

constexpr std::uint32_t pct(double percent) {
  return static_cast<std::uint32_t>(percent / 100.0 * kPolicyLoadMax);
}

void add(Handlespace& hs, PoolElementId id, PolicyInfo p) {
  REQUIRE(hs.register_element(kPool, pe(id, p), t0()).has_value());
}

std::vector<PoolElementId> pick(Handlespace& hs, std::size_t n, std::size_t inc = 1) {
  std::vector<PoolElementId> out(n);
  auto r = hs.select(kPool, {n, inc}, out);
  REQUIRE(r.has_value());
  out.resize(*r);
  return out;
}

std::map<PoolElementId, double> draw_counts(Handlespace& hs, int draws) {
  std::map<PoolElementId, double> counts;
  for (int i = 0; i < draws; ++i) counts[pick(hs, 1).at(0)] += 1;
  return counts;
}

// Pearson's chi-square statistic of observed counts against expected shares.
double chi_square(const std::map<PoolElementId, double>& observed,
                  const std::map<PoolElementId, double>& share, int draws) {
  double total_share = 0;
  for (const auto& [id, s] : share) total_share += s;
  double chi = 0;
  for (const auto& [id, s] : share) {
    const double expected = draws * s / total_share;
    const auto it = observed.find(id);
    const double o = it == observed.end() ? 0.0 : it->second;
    chi += (o - expected) * (o - expected) / expected;
  }
  return chi;
}

}  // namespace

TEST_CASE("round robin is exactly fair and advances the head by one per resolution (RFC 5356 §4.1)") {
  Handlespace hs;
  for (PoolElementId id = 1; id <= 5; ++id) add(hs, id, policy(PolicyType::RoundRobin));
  std::map<PoolElementId, int> first;
  std::vector<PoolElementId> previous;
  for (int i = 0; i < 500; ++i) {
    auto three = pick(hs, 3);
    REQUIRE(three.size() == 3);
    CHECK(std::set<PoolElementId>(three.begin(), three.end()).size() == 3);
    if (!previous.empty()) {
      CHECK(three[0] == previous[1]);  // head moved by exactly one element
      CHECK(three[1] == previous[2]);
    }
    previous = three;
    ++first[three[0]];
  }
  for (const auto& [id, n] : first) CHECK(n == 100);
}

TEST_CASE("round robin with max_increment 3 advances the head past all three") {
  Handlespace hs;
  for (PoolElementId id = 1; id <= 6; ++id) add(hs, id, policy(PolicyType::RoundRobin));
  auto a = pick(hs, 3, 3);
  auto b = pick(hs, 3, 3);
  std::set<PoolElementId> all(a.begin(), a.end());
  all.insert(b.begin(), b.end());
  CHECK(all.size() == 6);
}

TEST_CASE("weighted round robin serves each element exactly its weight per round (RFC 5356 §4.2)") {
  Handlespace hs;
  for (PoolElementId id = 1; id <= 4; ++id) {
    auto p = policy(PolicyType::WeightedRoundRobin);
    p.weight = id;
    add(hs, id, p);
  }
  std::map<PoolElementId, int> counts;
  for (int i = 0; i < 1000; ++i) ++counts[pick(hs, 1).at(0)];  // 100 rounds of 1+2+3+4
  for (PoolElementId id = 1; id <= 4; ++id) CHECK(counts[id] == 100 * static_cast<int>(id));
}

TEST_CASE("random picks uniformly and without repetition (RFC 5356 §4.3)") {
  Handlespace hs(Limits{}, 42);
  std::map<PoolElementId, double> share;
  for (PoolElementId id = 1; id <= 10; ++id) {
    add(hs, id, policy(PolicyType::Random));
    share[id] = 1;
  }
  const int draws = 50000;
  CHECK(chi_square(draw_counts(hs, draws), share, draws) < 27.88);  // df 9, p = 0.001
  for (int i = 0; i < 200; ++i) {
    auto s = pick(hs, 7);
    CHECK(std::set<PoolElementId>(s.begin(), s.end()).size() == 7);
  }
  auto all = pick(hs, 50);  // more than the pool: every element once
  CHECK(std::set<PoolElementId>(all.begin(), all.end()).size() == 10);
}

TEST_CASE("weighted random follows the weights; weight 0 is never chosen (RFC 5356 §4.4)") {
  Handlespace hs(Limits{}, 7);
  std::map<PoolElementId, double> share;
  for (PoolElementId id = 1; id <= 4; ++id) {
    auto p = policy(PolicyType::WeightedRandom);
    p.weight = id * 1000;
    add(hs, id, p);
    share[id] = id;
  }
  auto zero = policy(PolicyType::WeightedRandom);
  zero.weight = 0;
  add(hs, 99, zero);
  const int draws = 40000;
  auto counts = draw_counts(hs, draws);
  CHECK(counts.count(99) == 0);
  CHECK(chi_square(counts, share, draws) < 16.27);  // df 3, p = 0.001
  auto all = pick(hs, 5);
  CHECK(all.size() == 4);  // the weight-0 element is not returned even when asked for all
}

TEST_CASE("priority picks the highest priority, round robin among equals (RFC 5356 §4.5)") {
  Handlespace hs;
  for (PoolElementId id = 1; id <= 5; ++id) {
    auto p = policy(PolicyType::Priority);
    p.priority = id <= 2 ? 7 : 3;
    add(hs, id, p);
  }
  std::map<PoolElementId, int> counts;
  for (int i = 0; i < 100; ++i) ++counts[pick(hs, 1).at(0)];
  CHECK(counts[1] == 50);
  CHECK(counts[2] == 50);
  auto three = pick(hs, 3);
  CHECK(std::set<PoolElementId>(three.begin(), three.begin() + 2) == std::set<PoolElementId>{1, 2});
}

TEST_CASE("least used never picks a more loaded element while a less loaded one exists (RFC 5356 §5.1)") {
  Handlespace hs;
  const std::uint32_t loads[] = {pct(50), pct(10), pct(30), pct(10), pct(90)};
  for (PoolElementId id = 1; id <= 5; ++id) {
    auto p = policy(PolicyType::LeastUsed);
    p.load = loads[id - 1];
    add(hs, id, p);
  }
  std::map<PoolElementId, int> counts;
  for (int i = 0; i < 100; ++i) {
    auto s = pick(hs, 3);
    REQUIRE(s.size() == 3);
    CHECK(std::set<PoolElementId>(s.begin(), s.begin() + 2) == std::set<PoolElementId>{2, 4});
    CHECK(s[2] == 3);
    ++counts[s[0]];
  }
  CHECK(counts[2] == 50);  // equal loads share round robin
  CHECK(counts[4] == 50);
  // A new load announcement reorders.
  auto p = policy(PolicyType::LeastUsed);
  p.load = pct(1);
  REQUIRE(hs.update_policy(kPool, 5, p).has_value());
  CHECK(pick(hs, 1).at(0) == 5);
}

TEST_CASE("least used with degradation adds the degradation per selection, reset by re-registration (RFC 5356 §5.2)") {
  Handlespace hs;
  auto a = policy(PolicyType::LeastUsedWithDegradation);
  a.load = pct(10);
  a.load_degradation = pct(6);
  auto b = a;
  b.load = pct(20);
  add(hs, 1, a);
  add(hs, 2, b);
  // Keys: A .10 .16 .22 .28; B .20 .26 — A, A, B, A, B ...
  CHECK(pick(hs, 1).at(0) == 1);
  CHECK(pick(hs, 1).at(0) == 1);
  CHECK(hs.find(kPool, 1)->degradation == 2 * pct(6));
  CHECK(pick(hs, 1).at(0) == 2);
  CHECK(pick(hs, 1).at(0) == 1);
  // Re-registration resets A's degradation: A is least used again.
  REQUIRE(hs.register_element(kPool, pe(1, a), t0()).has_value());
  CHECK(hs.find(kPool, 1)->degradation == 0);
  CHECK(pick(hs, 1).at(0) == 1);
}

TEST_CASE("only max_increment elements of a resolution are degraded") {
  Handlespace hs;
  for (PoolElementId id = 1; id <= 3; ++id) {
    auto p = policy(PolicyType::LeastUsedWithDegradation);
    p.load = pct(10.0 * id);
    p.load_degradation = pct(1);
    add(hs, id, p);
  }
  pick(hs, 3, 1);
  CHECK(hs.find(kPool, 1)->degradation == pct(1));
  CHECK(hs.find(kPool, 2)->degradation == 0);
  pick(hs, 3, 3);
  CHECK(hs.find(kPool, 2)->degradation == pct(1));
  CHECK(hs.find(kPool, 3)->degradation == pct(1));
}

TEST_CASE("priority least used orders by load plus load increment (RFC 5356 §5.3)") {
  Handlespace hs;
  auto a = policy(PolicyType::PriorityLeastUsed);
  a.load = pct(10);
  a.load_degradation = pct(30);  // slow server: 10 % + 30 %
  auto b = a;
  b.load = pct(20);
  b.load_degradation = pct(5);  // fast server: 20 % + 5 %
  add(hs, 1, a);
  add(hs, 2, b);
  for (int i = 0; i < 5; ++i) CHECK(pick(hs, 1).at(0) == 2);  // no degradation: stays
}

TEST_CASE("priority least used degradation degrades by the load increment") {
  Handlespace hs;
  auto a = policy(PolicyType::PriorityLeastUsedDegradation);
  a.load = pct(10);
  a.load_degradation = pct(30);
  auto b = a;
  b.load = pct(21);
  b.load_degradation = pct(5);
  add(hs, 1, a);
  add(hs, 2, b);
  // B's key grows .26 .31 .36 .41 with each selection; A stays at .40.
  CHECK(pick(hs, 1).at(0) == 2);
  CHECK(pick(hs, 1).at(0) == 2);
  CHECK(pick(hs, 1).at(0) == 2);
  CHECK(pick(hs, 1).at(0) == 1);
}

TEST_CASE("randomized least used weighs by unused capacity (RFC 5356 §5.4)") {
  Handlespace hs(Limits{}, 99);
  std::map<PoolElementId, double> share;
  const double loads[] = {0, 25, 50, 75};
  for (PoolElementId id = 1; id <= 4; ++id) {
    auto p = policy(PolicyType::RandomizedLeastUsed);
    p.load = pct(loads[id - 1]);
    add(hs, id, p);
    share[id] = 100 - loads[id - 1];
  }
  const int draws = 40000;
  CHECK(chi_square(draw_counts(hs, draws), share, draws) < 16.27);
}

TEST_CASE("randomized priority least used weighs by capacity left after the increment") {
  Handlespace hs(Limits{}, 5);
  std::map<PoolElementId, double> share;
  for (PoolElementId id = 1; id <= 3; ++id) {
    auto p = policy(PolicyType::RandomizedPriorityLeastUsed);
    p.load = pct(10);
    p.load_degradation = pct(20.0 * id);
    add(hs, id, p);
    share[id] = 90 - 20.0 * id;
  }
  const int draws = 30000;
  CHECK(chi_square(draw_counts(hs, draws), share, draws) < 13.82);  // df 2
}

TEST_CASE("randomized least used degradation lowers the weight of used elements until re-registration") {
  for (auto type : {PolicyType::RandomizedLeastUsedDegradation,
                    PolicyType::RandomizedPriorityLeastUsedDegradation}) {
    Handlespace hs(Limits{}, 3);
    auto p = policy(type);
    p.load = pct(10);
    p.load_degradation = pct(10);
    add(hs, 1, p);
    add(hs, 2, p);
    const auto chosen = pick(hs, 1).at(0);
    const auto other = chosen == 1 ? 2u : 1u;
    CHECK(hs.find(kPool, chosen)->degradation == pct(10));
    CHECK(hs.find(kPool, other)->degradation == 0);
    REQUIRE(hs.register_element(kPool, pe(chosen, p), t0()).has_value());
    CHECK(hs.find(kPool, chosen)->degradation == 0);
  }
}

TEST_CASE("least used DPF adds distance times load DPF to the load") {
  Handlespace hs;
  auto near = policy(PolicyType::LeastUsedDpf);
  near.load = pct(40);
  near.load_dpf = pct(0.1);  // 0.1 % per unit of distance
  near.distance = 10;        // + 1 %
  auto far = near;
  far.load = pct(20);
  far.distance = 300;  // + 30 %
  add(hs, 1, near);
  add(hs, 2, far);
  for (int i = 0; i < 4; ++i) CHECK(pick(hs, 1).at(0) == 1);  // 41 % < 50 %
}

TEST_CASE("least used degradation DPF degrades and penalises distance") {
  Handlespace hs;
  auto a = policy(PolicyType::LeastUsedDegradationDpf);
  a.load = pct(10);
  a.load_degradation = pct(20);
  a.load_dpf = pct(0.1);
  a.distance = 100;  // + 10 % -> 20 %
  auto b = a;
  b.distance = 150;  // + 15 % -> 25 %
  add(hs, 1, a);
  add(hs, 2, b);
  CHECK(pick(hs, 1).at(0) == 1);  // 20 % -> 40 %
  CHECK(pick(hs, 1).at(0) == 2);  // 25 % -> 45 %
  CHECK(pick(hs, 1).at(0) == 1);
}

TEST_CASE("weighted random DPF reduces weights by distance") {
  Handlespace hs(Limits{}, 11);
  auto a = policy(PolicyType::WeightedRandomDpf);
  a.weight = 1000;
  a.weight_dpf = pct(0.5);  // 0.5 % per unit of distance
  a.distance = 0;
  auto b = a;
  b.distance = 100;  // -50 %
  add(hs, 1, a);
  add(hs, 2, b);
  const int draws = 30000;
  CHECK(chi_square(draw_counts(hs, draws), {{1, 2.0}, {2, 1.0}}, draws) < 10.83);  // df 1
}

TEST_CASE("every policy returns distinct elements, at most the pool size") {
  for (auto type : {PolicyType::RoundRobin, PolicyType::WeightedRoundRobin, PolicyType::Random,
                    PolicyType::WeightedRandom, PolicyType::Priority, PolicyType::LeastUsed,
                    PolicyType::LeastUsedWithDegradation, PolicyType::PriorityLeastUsed,
                    PolicyType::RandomizedLeastUsed, PolicyType::RandomizedPriorityLeastUsed,
                    PolicyType::RandomizedLeastUsedDegradation,
                    PolicyType::PriorityLeastUsedDegradation,
                    PolicyType::RandomizedPriorityLeastUsedDegradation,
                    PolicyType::WeightedRandomDpf, PolicyType::LeastUsedDpf,
                    PolicyType::LeastUsedDegradationDpf}) {
    CAPTURE(policy_name(type));
    Handlespace hs;
    for (PoolElementId id = 1; id <= 6; ++id) {
      auto p = policy(type);
      p.weight = 10;
      p.load = pct(5.0 * id);
      p.load_degradation = pct(1);
      add(hs, id, p);
    }
    for (int i = 0; i < 20; ++i) {
      auto s = pick(hs, 4, 2);
      CHECK(s.size() == 4);
      CHECK(std::set<PoolElementId>(s.begin(), s.end()).size() == 4);
    }
    CHECK(pick(hs, 10).size() == 6);
  }
}

TEST_CASE("a resolution with max_increment 0 changes no selection state") {
  Handlespace hs;
  for (PoolElementId id = 1; id <= 3; ++id) add(hs, id, policy(PolicyType::RoundRobin));
  CHECK(pick(hs, 1, 0).at(0) == pick(hs, 1, 0).at(0));
  auto lud = policy(PolicyType::LeastUsedWithDegradation);
  lud.load_degradation = pct(5);
  Handlespace hs2;
  REQUIRE(hs2.register_element(kPool, pe(1, lud), t0()).has_value());
  PoolElementId out[1];
  REQUIRE(hs2.select(kPool, {1, 0}, out).has_value());
  CHECK(hs2.find(kPool, 1)->degradation == 0);
}
