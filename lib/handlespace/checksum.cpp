#include "rsp/handlespace/checksum.hpp"

namespace rsp::handlespace {

std::uint32_t element_checksum_words(std::string_view pool_handle, PoolElementId id) noexcept {
  std::uint32_t sum = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(pool_handle.data());
  std::size_t n = pool_handle.size();
  for (; n >= 2; n -= 2, p += 2) sum += (std::uint32_t{p[0]} << 8) | p[1];
  if (n == 1) sum += std::uint32_t{p[0]} << 8;  // RFC 1071: pad the odd byte with zero
  sum += id >> 16;
  sum += id & 0xffffu;
  return sum;
}

}  // namespace rsp::handlespace
