// Handlespace throughput: register, re-register, deregister and handle resolution (3 items)
// for 1k..1M elements in one pool or spread over 1000 pools, per policy. Items/s in the
// "items_per_second" column are operations per second. Figures: bench/handlespace/README.md.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <vector>

#include "rsp/handlespace/handlespace.hpp"

using namespace rsp;
using namespace rsp::handlespace;

namespace {

const PolicyType kPolicies[] = {PolicyType::RoundRobin, PolicyType::Random,
                                PolicyType::WeightedRandom, PolicyType::LeastUsed};

struct Setup {
  PolicyType policy;
  std::size_t elements;
  std::size_t pools;
};

Setup setup_of(const benchmark::State& state) {
  return {kPolicies[state.range(0)], static_cast<std::size_t>(state.range(1)),
          static_cast<std::size_t>(state.range(2))};
}

std::vector<PoolHandle> make_handles(std::size_t pools) {
  std::vector<PoolHandle> handles;
  for (std::size_t i = 0; i < pools; ++i) handles.emplace_back("Pool-" + std::to_string(i));
  return handles;
}

// One SCTP transport with two IPv4 addresses, as a typical multi-homed PE registers.
PoolElementRegistration base_registration(PolicyType policy) {
  PoolElementRegistration r;
  r.home_registrar = 0x1234;
  r.lifetime = std::chrono::seconds(300);
  TransportAddress t;
  t.protocol = TransportProtocol::Sctp;
  t.port = 7;
  t.addresses.push_back(IpAddress::v4(10, 0, 0, 1));
  t.addresses.push_back(IpAddress::v4(172, 16, 0, 1));
  r.user_transports.push_back(t);
  r.policy.type = policy;
  return r;
}

// Element i: pool i % pools, id i + 1, its own association, random load / weight.
void fill(Handlespace& hs, const Setup& s, const std::vector<PoolHandle>& handles,
          PoolElementRegistration& reg, std::mt19937& rng) {
  const TimePoint now{};
  for (std::size_t i = 0; i < s.elements; ++i) {
    reg.id = static_cast<PoolElementId>(i + 1);
    reg.owner = i + 1;
    reg.policy.load = static_cast<std::uint32_t>(rng());
    reg.policy.weight = 1 + rng() % 1000;
    if (!hs.register_element(handles[i % s.pools], reg, now)) std::abort();
  }
}

// A filled handlespace reused by the re-register and resolution benchmarks of one setup.
struct Cache {
  Setup setup{};
  std::unique_ptr<Handlespace> hs;
  std::vector<PoolHandle> handles;
};
Cache& cached(const Setup& s) {
  static Cache cache;
  if (!cache.hs || cache.setup.policy != s.policy || cache.setup.elements != s.elements ||
      cache.setup.pools != s.pools) {
    cache.hs.reset();
    cache.setup = s;
    cache.hs = std::make_unique<Handlespace>();
    cache.handles = make_handles(s.pools);
    auto reg = base_registration(s.policy);
    std::mt19937 rng(1);
    fill(*cache.hs, s, cache.handles, reg, rng);
  }
  return cache;
}

void BM_Register(benchmark::State& state) {
  const Setup s = setup_of(state);
  const auto handles = make_handles(s.pools);
  auto reg = base_registration(s.policy);
  for (auto _ : state) {
    state.PauseTiming();
    auto hs = std::make_unique<Handlespace>();
    std::mt19937 rng(1);
    state.ResumeTiming();
    fill(*hs, s, handles, reg, rng);
    state.PauseTiming();
    hs.reset();  // teardown is not registration
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * s.elements));
}

void BM_Reregister(benchmark::State& state) {
  const Setup s = setup_of(state);
  Cache& c = cached(s);
  auto reg = base_registration(s.policy);
  std::mt19937 rng(2);
  std::size_t i = 0;
  const TimePoint now{};
  for (auto _ : state) {
    reg.id = static_cast<PoolElementId>(i + 1);
    reg.owner = i + 1;
    reg.policy.load = static_cast<std::uint32_t>(rng());
    reg.policy.weight = 1 + rng() % 1000;
    auto r = c.hs->register_element(c.handles[i % s.pools], reg, now);
    benchmark::DoNotOptimize(r);
    if (++i == s.elements) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Deregister(benchmark::State& state) {
  const Setup s = setup_of(state);
  const auto handles = make_handles(s.pools);
  auto reg = base_registration(s.policy);
  for (auto _ : state) {
    state.PauseTiming();
    auto hs = std::make_unique<Handlespace>();
    std::mt19937 rng(1);
    fill(*hs, s, handles, reg, rng);
    state.ResumeTiming();
    for (std::size_t i = 0; i < s.elements; ++i) {
      if (!hs->deregister_element(handles[i % s.pools], static_cast<PoolElementId>(i + 1)))
        std::abort();
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * s.elements));
}

void BM_Resolve3(benchmark::State& state) {
  const Setup s = setup_of(state);
  Cache& c = cached(s);
  PoolElementId out[3];
  std::size_t p = 0;
  for (auto _ : state) {
    auto r = c.hs->select(c.handles[p], {3, 1}, out);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(out);
    if (++p == s.pools) p = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

// Registered per setup (not per operation) so the filled handlespace cached for re-register
// and resolution is built once per setup.
int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  const char* policy_names[] = {"RR", "RAND", "WRAND", "LU"};
  for (int policy = 0; policy < 4; ++policy) {
    for (int pools : {1, 1000}) {
      for (int elements : {1000, 10'000, 100'000, 1'000'000}) {
        const std::string suffix = std::string("/") + policy_names[policy] + "/PEs:" +
                                   std::to_string(elements) + "/pools:" + std::to_string(pools);
        const auto args = [&](benchmark::internal::Benchmark* b) {
          b->Args({policy, elements, pools});
        };
        args(benchmark::RegisterBenchmark(("Register" + suffix).c_str(), BM_Register)
                 ->Unit(benchmark::kMillisecond)
                 ->MinTime(0.3));
        args(benchmark::RegisterBenchmark(("Reregister" + suffix).c_str(), BM_Reregister)
                 ->MinTime(0.2));
        args(benchmark::RegisterBenchmark(("Resolve3" + suffix).c_str(), BM_Resolve3)
                 ->MinTime(0.2));
        args(benchmark::RegisterBenchmark(("Deregister" + suffix).c_str(), BM_Deregister)
                 ->Unit(benchmark::kMillisecond)
                 ->MinTime(0.3));
      }
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
