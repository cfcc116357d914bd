// Encode and decode of the two messages of issue 2's target: a REGISTRATION with one SCTP
// transport of two addresses, and a HANDLE_RESOLUTION_RESPONSE with 3 PEs. Heap allocations
// are counted by tests/wire's allocation counter (a replaced global operator new) and reported
// per iteration ("allocs"). The messages are samples.hpp's, which test_wire_allocations checks.
#include <benchmark/benchmark.h>

#include "allocation_counter.hpp"
#include "rsp/wire/codec.hpp"
#include "samples.hpp"

using namespace rsp;
using namespace rsp::wire;

namespace {

// Runs `op` per iteration, reports heap allocations per iteration as counter "allocs".
template <typename Op>
void run(benchmark::State& state, std::size_t bytes, Op op) {
  const auto counted = allocation_counter::during([&] {
    for (auto _ : state) op();
  });
  state.counters["allocs"] = benchmark::Counter(
      static_cast<double>(counted.allocations) / static_cast<double>(state.iterations()));
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

void BM_DecodeRegistration(benchmark::State& state) {
  decode(state, samples::registration_with_one_transport());
}
void BM_EncodeRegistration(benchmark::State& state) {
  encode_into(state, samples::registration_with_one_transport());
}
void BM_DecodeHandleResolutionResponse3(benchmark::State& state) {
  decode(state, samples::resolution_response_with_3_pes());
}
void BM_EncodeHandleResolutionResponse3(benchmark::State& state) {
  encode_into(state, samples::resolution_response_with_3_pes());
}

}  // namespace

BENCHMARK(BM_DecodeRegistration);
BENCHMARK(BM_EncodeRegistration);
BENCHMARK(BM_DecodeHandleResolutionResponse3);
BENCHMARK(BM_EncodeHandleResolutionResponse3);
BENCHMARK_MAIN();
