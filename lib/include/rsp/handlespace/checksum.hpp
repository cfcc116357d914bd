// The handlespace checksum of RFC 5353 (ENRP Presence "Checksum"): a 16-bit
// one's complement (Internet, RFC 1071) sum over the pool handle and PE identifier of every
// element a registrar owns. Kept as a running 64-bit sum so that adding and removing one
// element is O(1); folded and complemented only when read.
#pragma once

#include <cstdint>
#include <string_view>

#include "rsp/wire/types.hpp"

namespace rsp::handlespace {

// One element's contribution: the 16-bit big-endian words of the handle (an odd last byte is
// padded with zero), then the two words of the PE id in network byte order, summed (unfolded).
std::uint32_t element_checksum_words(std::string_view pool_handle, PoolElementId id) noexcept;

class ChecksumAccumulator {
 public:
  void add(std::uint32_t words) noexcept { sum_ += words; }
  void remove(std::uint32_t words) noexcept { sum_ -= words; }
  // Fold the carries and complement (RFC 1071). An empty set reads 0xffff.
  std::uint16_t value() const noexcept {
    std::uint64_t s = sum_;
    while (s >> 16) s = (s & 0xffffu) + (s >> 16);
    return static_cast<std::uint16_t>(~s & 0xffffu);
  }
  std::uint64_t raw() const noexcept { return sum_; }
  bool operator==(const ChecksumAccumulator&) const = default;

 private:
  std::uint64_t sum_ = 0;
};

}  // namespace rsp::handlespace
