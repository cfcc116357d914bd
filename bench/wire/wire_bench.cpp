// Encode and decode of the two messages of issue 2's target: a REGISTRATION with one SCTP
// transport of two addresses, and a HANDLE_RESOLUTION_RESPONSE with 3 PEs. Heap allocations
// are counted by a replaced global operator new and reported per iteration ("allocs").
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "rsp/wire/codec.hpp"
#include "samples.hpp"

namespace {
std::atomic<std::uint64_t> g_allocations{0};
}  // namespace

// The replacements pair malloc with free; g++ 12 cannot see that through inlining.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using namespace rsp;
using namespace rsp::wire;

namespace {

AsapMessage registration() {
  PoolElement pe = samples::pool_element();
  pe.asap_transport.reset();  // one SCTP transport of two addresses, as the target says
  return asap::Registration{PoolHandle("EchoPool"), pe};
}

AsapMessage resolution_response() {
  std::vector<PoolElement> pes;
  for (PoolElementId i = 1; i <= 3; ++i) pes.push_back(samples::pool_element(i));
  return asap::HandleResolutionResponse{PoolHandle("EchoPool"), std::nullopt, pes, std::nullopt};
}

// Runs `op` per iteration, reports heap allocations per iteration as counter "allocs".
template <typename Op>
void run(benchmark::State& state, std::size_t bytes, Op op) {
  const auto before = g_allocations.load();
  for (auto _ : state) op();
  const auto allocations = g_allocations.load() - before;
  state.counters["allocs"] = benchmark::Counter(
      static_cast<double>(allocations) / static_cast<double>(state.iterations()));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}

void decode(benchmark::State& state, const AsapMessage& message) {
  const auto bytes = encode(message);
  run(state, bytes.size(), [&] {
    auto result = decode_asap(bytes);
    benchmark::DoNotOptimize(result);
    if (!result) state.SkipWithError("decode failed");
  });
}

void encode_into(benchmark::State& state, const AsapMessage& message) {
  std::vector<std::byte> buffer;
  buffer.reserve(1024);
  const auto size = encode(message).size();
  run(state, size, [&] {
    buffer.clear();
    encode(message, buffer);  // the append form reuses the buffer: no allocation
    benchmark::DoNotOptimize(buffer.data());
  });
}

void BM_DecodeRegistration(benchmark::State& state) { decode(state, registration()); }
void BM_EncodeRegistration(benchmark::State& state) { encode_into(state, registration()); }
void BM_DecodeHandleResolutionResponse3(benchmark::State& state) {
  decode(state, resolution_response());
}
void BM_EncodeHandleResolutionResponse3(benchmark::State& state) {
  encode_into(state, resolution_response());
}

}  // namespace

BENCHMARK(BM_DecodeRegistration);
BENCHMARK(BM_EncodeRegistration);
BENCHMARK(BM_DecodeHandleResolutionResponse3);
BENCHMARK(BM_EncodeHandleResolutionResponse3);
BENCHMARK_MAIN();
