// The private index structures, against plain vectors, at sizes that give them several levels.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>

#include "handlespace/weight_tree.hpp"
#include "hs_test_support.hpp"

using namespace rsp;
using namespace rsp::handlespace;
using namespace rsp::handlespace::test;

TEST_CASE("the weight tree finds the position holding the r-th unit of weight at every size") {
  std::mt19937_64 rng(3);
  detail::WeightTree tree;
  std::vector<std::uint64_t> ref;
  const auto check = [&] {
    std::uint64_t total = 0;
    for (auto v : ref) total += v;
    REQUIRE(tree.total() == total);
    REQUIRE(tree.size() == ref.size());
    if (total == 0) return;
    for (int i = 0; i < 20; ++i) {
      const std::uint64_t r = rng() % total;
      std::uint64_t acc = 0;
      std::size_t expected = 0;
      while (acc + ref[expected] <= r) acc += ref[expected++];
      CHECK(tree.find(r) == expected);
    }
  };
  for (int step = 0; step < 6000; ++step) {
    const auto op = rng() % 10;
    if (op < 6 || ref.empty()) {
      const std::uint64_t v = rng() % 4 == 0 ? 0 : rng() % 1000;
      tree.push_back(v);
      ref.push_back(v);
    } else if (op < 8) {
      const std::size_t pos = rng() % ref.size();
      const std::uint64_t v = rng() % 1000;
      tree.set(pos, v);
      ref[pos] = v;
    } else {
      tree.set(ref.size() - 1, 0);
      tree.pop_back();
      ref.pop_back();
    }
    if (step % 50 == 0) check();
  }
  REQUIRE(ref.size() > 600);  // three levels of sums were exercised
  check();
  while (!ref.empty()) {
    tree.set(ref.size() - 1, 0);
    tree.pop_back();
    ref.pop_back();
    if (ref.size() % 97 == 0) check();
  }
}

TEST_CASE("large pools keep look-ups, selections and removals consistent") {
  Handlespace hs(Limits{}, 17);
  std::mt19937 rng(5);
  const PolicyType types[] = {PolicyType::WeightedRandom, PolicyType::LeastUsed,
                              PolicyType::RandomizedLeastUsedDegradation};
  for (PolicyType type : types) {
    CAPTURE(policy_name(type));
    const PoolHandle handle(std::string(policy_name(type)));
    std::vector<PoolElementId> live;
    for (PoolElementId id = 1; id <= 3000; ++id) {
      auto p = policy(type);
      p.weight = 1 + rng() % 50;
      p.load = static_cast<std::uint32_t>(rng() % 64) << 20;  // many equal loads
      p.load_degradation = 1 << 16;
      REQUIRE(hs.register_element(handle, pe(id, p, id), t0()).has_value());
      live.push_back(id);
    }
    std::shuffle(live.begin(), live.end(), rng);
    for (std::size_t i = 0; i < 1500; ++i) REQUIRE(hs.deregister_element(handle, live[i]).has_value());
    live.erase(live.begin(), live.begin() + 1500);
    std::sort(live.begin(), live.end());
    CHECK(hs.element_ids(handle) == live);
    for (int i = 0; i < 300; ++i) {
      PoolElementId out[5];
      auto r = hs.select(handle, {5, 2}, out);
      REQUIRE(r.has_value());
      REQUIRE(*r == 5);
      for (std::size_t k = 0; k < 5; ++k) CHECK(std::binary_search(live.begin(), live.end(), out[k]));
    }
    if (type == PolicyType::LeastUsed) {
      // Least used: the first pick carries the minimum load of what is left.
      std::uint32_t min_load = 0xffffffffu;
      for (auto id : live) min_load = std::min(min_load, hs.find(handle, id)->policy.load);
      PoolElementId out[1];
      REQUIRE(hs.select(handle, {1, 1}, out).has_value());
      CHECK(hs.find(handle, out[0])->policy.load == min_load);
    }
  }
  CHECK(hs.element_count() == 4500);
  CHECK(hs.remove_owner(2999).size() <= 1);
}
