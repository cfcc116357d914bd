// PackedBlob: an element's user transports and metadata in one compact heap block. A
// TransportAddress keeps four 17-byte addresses inline (~90 bytes); a registrar holding a
// million elements stores the few bytes actually used instead (RFC 5354 §3.3-3.7 fields only).
//
// Layout: u8 transport count, then per transport: u8 protocol, u8 use, u16 port,
// u16 dccp service code, u8 address count, then per address u8 family + 4 or 16 bytes;
// the rest of the block is the metadata.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "rsp/wire/types.hpp"

namespace rsp::handlespace::detail {

class PackedBlob {
 public:
  PackedBlob() = default;
  PackedBlob(std::span<const TransportAddress> transports, std::span<const std::byte> metadata);

  std::vector<TransportAddress> transports() const;
  std::vector<std::byte> metadata() const;
  std::size_t size() const noexcept { return size_; }

 private:
  std::unique_ptr<std::uint8_t[]> bytes_;
  std::uint32_t size_ = 0;
  std::uint32_t metadata_offset_ = 0;
};

}  // namespace rsp::handlespace::detail
