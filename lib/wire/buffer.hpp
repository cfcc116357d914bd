// Byte-level building blocks of the codec: a bounded big-endian reader, append-only writers,
// and THE padding rule (RFC 5354 §2: every TLV is padded to a multiple of 4 bytes with zeros;
// the padding is not counted in the TLV's length field).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "Reader byte-swaps: little-endian hosts only");

namespace rsp::wire::detail {

inline constexpr std::size_t kTlvHeaderSize = 4;  // type (16) + length (16)

constexpr std::size_t padded_size(std::size_t n) noexcept { return (n + 3) & ~std::size_t{3}; }
constexpr std::size_t padding_of(std::size_t n) noexcept { return padded_size(n) - n; }

// Reads big-endian fields from a span; never reads past it. Every read checks first and
// returns false (leaving the reader where it was) when the bytes are not there.
class Reader {
 public:
  explicit Reader(std::span<const std::byte> data) noexcept : data_(data) {}

  std::size_t remaining() const noexcept { return data_.size() - pos_; }
  bool empty() const noexcept { return pos_ == data_.size(); }
  std::size_t offset() const noexcept { return pos_; }
  std::span<const std::byte> rest() const noexcept { return data_.subspan(pos_); }
  const std::byte* position() const noexcept { return data_.data() + pos_; }

  bool u8(std::uint8_t& v) noexcept {
    if (remaining() < 1) return false;
    v = static_cast<std::uint8_t>(data_[pos_]);
    pos_ += 1;
    return true;
  }
  bool u16(std::uint16_t& v) noexcept {
    if (remaining() < 2) return false;
    v = load_u16(data_.data() + pos_);
    pos_ += 2;
    return true;
  }
  bool u32(std::uint32_t& v) noexcept {
    if (remaining() < 4) return false;
    v = load_u32(data_.data() + pos_);
    pos_ += 4;
    return true;
  }
  bool bytes(std::size_t n, std::span<const std::byte>& out) noexcept {
    if (remaining() < n) return false;
    out = data_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  bool skip(std::size_t n) noexcept {
    if (remaining() < n) return false;
    pos_ += n;
    return true;
  }

  // Big-endian loads from memory the caller has bounds-checked.
  static std::uint16_t load_u16(const std::byte* p) noexcept {
    std::uint16_t v;
    std::memcpy(&v, p, sizeof v);
    return __builtin_bswap16(v);
  }
  static std::uint32_t load_u32(const std::byte* p) noexcept {
    std::uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return __builtin_bswap32(v);
  }

 private:
  std::span<const std::byte> data_;
  std::size_t pos_ = 0;
};

inline void put_u8(std::vector<std::byte>& out, std::uint8_t v) {
  out.push_back(static_cast<std::byte>(v));
}
inline void put_u16(std::vector<std::byte>& out, std::uint16_t v) {
  const std::byte b[2] = {static_cast<std::byte>(v >> 8), static_cast<std::byte>(v & 0xff)};
  out.insert(out.end(), b, b + 2);
}
inline void put_u32(std::vector<std::byte>& out, std::uint32_t v) {
  const std::byte b[4] = {static_cast<std::byte>(v >> 24), static_cast<std::byte>((v >> 16) & 0xff),
                          static_cast<std::byte>((v >> 8) & 0xff), static_cast<std::byte>(v & 0xff)};
  out.insert(out.end(), b, b + 4);
}
inline void put_bytes(std::vector<std::byte>& out, std::span<const std::byte> bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}
inline void patch_u16(std::vector<std::byte>& out, std::size_t at, std::uint16_t v) {
  out[at] = static_cast<std::byte>(v >> 8);
  out[at + 1] = static_cast<std::byte>(v & 0xff);
}

// begin_tlv() writes the header with a placeholder length and returns where the TLV starts;
// end_tlv() fills in the length (header + value) and appends the zero padding.
// Throws std::length_error when the TLV does not fit its 16-bit length.
std::size_t begin_tlv(std::vector<std::byte>& out, std::uint16_t type);
void end_tlv(std::vector<std::byte>& out, std::size_t start);

}  // namespace rsp::wire::detail
