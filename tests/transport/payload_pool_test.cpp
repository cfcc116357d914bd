// The received-payload buffer pool (rsp/transport/payload_pool.hpp).
#include <doctest/doctest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "rsp/transport/payload_pool.hpp"

using namespace rsp::transport;

namespace {

std::vector<std::byte> bytes(std::size_t size, unsigned seed) {
  std::vector<std::byte> b(size);
  for (std::size_t i = 0; i < size; ++i) b[i] = std::byte(static_cast<unsigned char>(i * 7 + seed));
  return b;
}

// Takes everything the pool holds (so that each case starts from an empty pool).
void empty_pool() {
  std::vector<std::vector<std::byte>> taken;
  for (std::size_t i = 0; i < kPooledBuffers + 1; ++i) taken.push_back(copy_payload(bytes(kMinPooled, 0)));
}

}  // namespace

// A pooled buffer is recognised by its capacity: assign() within capacity keeps it, a fresh
// vector gets exactly the payload's size. (Addresses prove nothing: malloc may hand out the
// address of a buffer freed a moment ago.)

TEST_CASE("payload pool: a recycled buffer's storage holds the next payload that fits") {
  empty_pool();
  const auto first = bytes(4096, 1);
  auto buffer = copy_payload(first);
  CHECK(buffer == first);
  CHECK(buffer.capacity() == 4096);
  recycle_payload(std::move(buffer));
  const auto second = bytes(3000, 2);  // smaller: fits
  auto again = copy_payload(second);
  CHECK(again == second);
  CHECK(again.capacity() == 4096);  // the recycled storage
  recycle_payload(std::move(again));
  auto larger = copy_payload(bytes(8192, 3));  // does not fit the 4 KiB buffer
  CHECK(larger == bytes(8192, 3));
  CHECK(larger.capacity() == 8192);
  auto fits = copy_payload(bytes(2000, 4));  // the 4 KiB one is still there
  CHECK(fits.capacity() == 4096);
}

TEST_CASE("payload pool: small and huge buffers are not kept, and at most kPooledBuffers are") {
  empty_pool();
  std::vector<std::byte> small(100);
  recycle_payload(std::move(small));
  std::vector<std::byte> huge(kMaxPooled + 1);
  recycle_payload(std::move(huge));
  // Neither was kept: had they been, they would take two of the pool's places, and the huge
  // one would serve a 2 KiB payload below.
  for (std::size_t i = 0; i < kPooledBuffers + 8; ++i) {
    std::vector<std::byte> b;
    b.reserve(3000);
    recycle_payload(std::move(b));
  }
  std::size_t reused = 0;
  std::vector<std::vector<std::byte>> taken;
  for (std::size_t i = 0; i < kPooledBuffers + 8; ++i) {
    taken.push_back(copy_payload(bytes(2048, 6)));
    CHECK(taken.back() == bytes(2048, 6));
    if (taken.back().capacity() == 3000) ++reused;
  }
  CHECK(reused == kPooledBuffers);
}

TEST_CASE("payload pool: threads that take and recycle at once get whole, correct copies") {
  std::atomic<int> wrong{0};
  auto work = [&wrong](unsigned seed) {
    for (int i = 0; i < 2000; ++i) {
      const auto source = bytes(1024 + static_cast<std::size_t>(i % 7) * 512, seed + static_cast<unsigned>(i));
      auto copy = copy_payload(source);
      if (copy != source) ++wrong;
      recycle_payload(std::move(copy));
    }
  };
  std::thread a(work, 1), b(work, 2);
  a.join();
  b.join();
  CHECK(wrong == 0);
}
