#include "packed_blob.hpp"

#include <cstring>

namespace rsp::handlespace::detail {

PackedBlob::PackedBlob(std::span<const TransportAddress> transports,
                       std::span<const std::byte> metadata) {
  std::size_t n = 1;
  for (const auto& t : transports) {
    n += 7;
    for (const auto& a : t.addresses) n += 1 + (a.is_v4() ? 4 : 16);
  }
  metadata_offset_ = static_cast<std::uint32_t>(n);
  n += metadata.size();
  size_ = static_cast<std::uint32_t>(n);
  bytes_ = std::make_unique_for_overwrite<std::uint8_t[]>(n);
  std::uint8_t* p = bytes_.get();
  *p++ = static_cast<std::uint8_t>(transports.size());
  for (const auto& t : transports) {
    *p++ = static_cast<std::uint8_t>(t.protocol);
    *p++ = static_cast<std::uint8_t>(t.use);
    std::memcpy(p, &t.port, 2);
    std::memcpy(p + 2, &t.dccp_service_code, 2);
    p += 4;
    *p++ = static_cast<std::uint8_t>(t.addresses.size());
    for (const auto& a : t.addresses) {
      *p++ = static_cast<std::uint8_t>(a.family);
      const std::size_t len = a.is_v4() ? 4 : 16;
      std::memcpy(p, a.bytes.data(), len);
      p += len;
    }
  }
  if (!metadata.empty()) std::memcpy(p, metadata.data(), metadata.size());
}

std::vector<TransportAddress> PackedBlob::transports() const {
  std::vector<TransportAddress> out;
  if (!bytes_) return out;
  const std::uint8_t* p = bytes_.get();
  const std::size_t count = *p++;
  out.resize(count);
  for (auto& t : out) {
    t.protocol = static_cast<TransportProtocol>(*p++);
    t.use = static_cast<TransportUse>(*p++);
    std::memcpy(&t.port, p, 2);
    std::memcpy(&t.dccp_service_code, p + 2, 2);
    p += 4;
    const std::size_t addresses = *p++;
    for (std::size_t i = 0; i < addresses; ++i) {
      IpAddress a;
      a.family = static_cast<IpAddress::Family>(*p++);
      const std::size_t len = a.is_v4() ? 4 : 16;
      std::memcpy(a.bytes.data(), p, len);
      p += len;
      t.addresses.push_back(a);
    }
  }
  return out;
}

std::vector<std::byte> PackedBlob::metadata() const {
  if (!bytes_ || metadata_offset_ >= size_) return {};
  const auto* begin = reinterpret_cast<const std::byte*>(bytes_.get() + metadata_offset_);
  return std::vector<std::byte>(begin, begin + (size_ - metadata_offset_));
}

}  // namespace rsp::handlespace::detail
