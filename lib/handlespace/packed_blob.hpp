// PackedBlob: an element's user transports and metadata in 24 bytes, inline when they fit
// (one transport with up to two IPv4 addresses does), else in one heap block. A
// TransportAddress keeps four 17-byte addresses inline (~90 bytes); a registrar holding a
// million elements stores the bytes actually used instead (RFC 5354 §3.3-3.7 fields only).
//
// Encoding: u8 transport count, then per transport: u8 protocol, u8 use, u16 port,
// u16 dccp service code, u8 address count, then per address u8 family + 4 or 16 bytes;
// then the metadata.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "rsp/wire/types.hpp"

namespace rsp::handlespace::detail {

class PackedBlob {
 public:
  PackedBlob() = default;
  PackedBlob(std::span<const TransportAddress> transports, std::span<const std::byte> metadata);
  ~PackedBlob() { release(); }
  PackedBlob(PackedBlob&& other) noexcept;
  PackedBlob& operator=(PackedBlob&& other) noexcept;
  PackedBlob(const PackedBlob&) = delete;
  PackedBlob& operator=(const PackedBlob&) = delete;

  std::vector<TransportAddress> transports() const;
  std::vector<std::byte> metadata() const;
  bool empty() const noexcept { return inline_size() == 0 && !on_heap(); }

 private:
  static constexpr std::size_t kInline = 22;
  // Inline: [0] size (<= 22), [1] metadata offset, [2..24) bytes.
  // Heap:   [0] 0xff, [1] unused, [2..4) unused, [4..8) size, [8..12) metadata offset,
  //         [16..24) pointer.
  bool on_heap() const noexcept { return raw_[0] == 0xff; }
  std::size_t inline_size() const noexcept { return on_heap() ? 0 : raw_[0]; }
  const std::uint8_t* data() const noexcept;
  std::size_t size() const noexcept;
  std::size_t metadata_offset() const noexcept;
  void release() noexcept;

  alignas(8) std::uint8_t raw_[24]{};
};

}  // namespace rsp::handlespace::detail
