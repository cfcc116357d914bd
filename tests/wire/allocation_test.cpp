// Decoding allocates nothing for a typical REGISTRATION, and never in proportion to a length
// that the input claims but does not have. Counts through a replaced global operator new.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "rsp/wire/codec.hpp"
#include "samples.hpp"

namespace {
std::atomic<std::size_t> g_allocations{0};
std::atomic<std::size_t> g_bytes{0};
}  // namespace

// The replacements pair malloc with free; g++ 12 cannot see that through inlining.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  g_bytes.fetch_add(size, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using namespace rsp;
using namespace rsp::wire;

namespace {
struct Counted {
  std::size_t allocations;
  std::size_t bytes;
};
template <typename F>
Counted count(F&& f) {
  const auto a0 = g_allocations.load();
  const auto b0 = g_bytes.load();
  f();
  return {g_allocations.load() - a0, g_bytes.load() - b0};
}
}  // namespace

TEST_CASE("decoding a REGISTRATION with one two-address SCTP transport allocates nothing") {
  const auto pe = samples::pool_element();
  const auto bytes = encode(AsapMessage{asap::Registration{PoolHandle("EchoPool"), pe}});
  bool ok = false;
  const auto c = count([&] { ok = decode_asap(bytes).has_value(); });
  CHECK(ok);
  CHECK(c.allocations == 0);
}

TEST_CASE("a claimed 64 KiB parameter in a short message costs no proportional allocation") {
  // HANDLE_RESOLUTION whose pool handle claims 0xfff0 bytes.
  std::vector<std::byte> b;
  for (int v : {0x05, 0x00, 0x00, 0x0c, 0x00, 0x09, 0xff, 0xf0, 0x45, 0x50, 0x00, 0x00}) {
    b.push_back(static_cast<std::byte>(v));
  }
  bool failed = false;
  const auto c = count([&] { failed = !decode_asap(b).has_value(); });
  CHECK(failed);
  CHECK(c.bytes < 1024);  // the error message only
}

TEST_CASE("a decoded HANDLE_RESOLUTION_RESPONSE with 3 PEs allocates its PE vector once") {
  std::vector<PoolElement> pes;
  for (PoolElementId i = 1; i <= 3; ++i) pes.push_back(samples::pool_element(i));
  const auto bytes = encode(AsapMessage{
      asap::HandleResolutionResponse{PoolHandle("EchoPool"), std::nullopt, pes, std::nullopt}});
  bool ok = false;
  const auto c = count([&] { ok = decode_asap(bytes).has_value(); });
  CHECK(ok);
  CHECK(c.allocations == 1);  // the PE vector, reserved once; nothing per field
}
