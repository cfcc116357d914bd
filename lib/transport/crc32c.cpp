#include "transport/crc32c.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace rsp::transport {
namespace {

constexpr std::uint32_t kPolynomial = 0x82f63b78;  // reflected Castagnoli polynomial

constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr auto kTable = make_table();

std::uint32_t crc_software(std::uint32_t crc, const unsigned char* p, std::size_t n) noexcept {
  while (n--) crc = kTable[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"), always_inline)) inline std::uint32_t crc_serial(std::uint32_t crc,
                                                                                  const unsigned char* p,
                                                                                  std::size_t n) noexcept {
  std::uint64_t c = crc;
  while (n >= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<std::uint32_t>(c);
  while (n--) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

// The crc32 instruction takes 3 cycles but can start one per cycle, so a long buffer is cut
// into three lanes of kLane bytes computed side by side and joined: the CRC register is linear
// over GF(2) (no constant term without the initial value and the final complement), so
// crc(A || B) = shift(crc(A), |B|) ^ crc(B), where shift(x, n) runs x through n zero bytes.
// Shifting by kLane is one table lookup per byte of x (the table is built once). A 4 KiB
// message's packet: 234 ns instead of 539 ns (`transport_bench --benchmark_filter=checksum`).
constexpr std::size_t kLane = 256;

struct LaneShift {
  std::array<std::array<std::uint32_t, 256>, 4> table{};
  __attribute__((target("sse4.2"))) LaneShift() {
    static constexpr unsigned char kZeros[kLane] = {};
    for (unsigned k = 0; k < 4; ++k) {
      for (std::uint32_t v = 0; v < 256; ++v) table[k][v] = crc_serial(v << (8 * k), kZeros, kLane);
    }
  }
  std::uint32_t operator()(std::uint32_t x) const noexcept {
    return table[0][x & 0xff] ^ table[1][(x >> 8) & 0xff] ^ table[2][(x >> 16) & 0xff] ^ table[3][x >> 24];
  }
};

// Whole rounds of three lanes from p (n >= 3 * kLane); advances p and n past them.
__attribute__((target("sse4.2"), noinline)) std::uint32_t crc_lanes(std::uint32_t crc, const unsigned char*& p,
                                                                    std::size_t& n) noexcept {
  static const LaneShift shift;
  do {
    std::uint64_t a = crc, b = 0, c = 0;
    for (std::size_t i = 0; i < kLane; i += 8) {
      std::uint64_t va, vb, vc;
      std::memcpy(&va, p + i, 8);
      std::memcpy(&vb, p + kLane + i, 8);
      std::memcpy(&vc, p + 2 * kLane + i, 8);
      a = _mm_crc32_u64(a, va);
      b = _mm_crc32_u64(b, vb);
      c = _mm_crc32_u64(c, vc);
    }
    crc = shift(shift(static_cast<std::uint32_t>(a)) ^ static_cast<std::uint32_t>(b)) ^
          static_cast<std::uint32_t>(c);
    p += 3 * kLane;
    n -= 3 * kLane;
  } while (n >= 3 * kLane);
  return crc;
}

__attribute__((target("sse4.2"))) std::uint32_t crc_hardware(std::uint32_t crc, const unsigned char* p,
                                                             std::size_t n) noexcept {
  if (n >= 3 * kLane) crc = crc_lanes(crc, p, n);
  return crc_serial(crc, p, n);
}
const bool kHaveHardware = __builtin_cpu_supports("sse4.2");
#endif

std::uint32_t update(std::uint32_t crc, const void* data, std::size_t length) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
#if defined(__x86_64__)
  if (kHaveHardware) return crc_hardware(crc, p, length);
#endif
  return crc_software(crc, p, length);
}

constexpr std::size_t kChecksumOffset = 8;

std::uint32_t packet_crc(const unsigned char* p, std::size_t length) noexcept {
  static constexpr unsigned char kZero[4] = {0, 0, 0, 0};
  std::uint32_t crc = update(0xffffffffu, p, kChecksumOffset);
  crc = update(crc, kZero, 4);
  crc = update(crc, p + kChecksumOffset + 4, length - kChecksumOffset - 4);
  return ~crc;
}

}  // namespace

std::uint32_t crc32c(const void* data, std::size_t length) noexcept {
  return ~update(0xffffffffu, data, length);
}

void sctp_set_checksum(void* packet, std::size_t length) noexcept {
  if (length < 12) return;
  auto* p = static_cast<unsigned char*>(packet);
  const std::uint32_t crc = packet_crc(p, length);
  for (int i = 0; i < 4; ++i) p[kChecksumOffset + static_cast<std::size_t>(i)] = static_cast<unsigned char>(crc >> (8 * i));
}

bool sctp_checksum_ok(void* packet, std::size_t length) noexcept {
  if (length < 12) return false;
  const auto* p = static_cast<const unsigned char*>(packet);
  const std::uint32_t crc = packet_crc(p, length);
  for (int i = 0; i < 4; ++i) {
    if (p[kChecksumOffset + static_cast<std::size_t>(i)] != static_cast<unsigned char>(crc >> (8 * i))) return false;
  }
  return true;
}

}  // namespace rsp::transport
