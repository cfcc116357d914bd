#include "packed_blob.hpp"

#include <cstring>
#include <memory>

namespace rsp::handlespace::detail {
namespace {

std::size_t encoded_size(std::span<const TransportAddress> transports) {
  std::size_t n = 1;
  for (const auto& t : transports) {
    n += 7;
    for (const auto& a : t.addresses) n += 1 + (a.is_v4() ? 4 : 16);
  }
  return n;
}

void encode(std::uint8_t* p, std::span<const TransportAddress> transports,
            std::span<const std::byte> metadata) {
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

}  // namespace

PackedBlob::PackedBlob(std::span<const TransportAddress> transports,
                       std::span<const std::byte> metadata) {
  const std::size_t offset = encoded_size(transports);
  const std::size_t n = offset + metadata.size();
  if (n <= kInline) {
    raw_[0] = static_cast<std::uint8_t>(n);
    raw_[1] = static_cast<std::uint8_t>(offset);
    encode(raw_ + 2, transports, metadata);
    return;
  }
  auto* block = static_cast<std::uint8_t*>(::operator new(n));
  encode(block, transports, metadata);
  raw_[0] = 0xff;
  const auto size32 = static_cast<std::uint32_t>(n);
  const auto offset32 = static_cast<std::uint32_t>(offset);
  std::memcpy(raw_ + 4, &size32, 4);
  std::memcpy(raw_ + 8, &offset32, 4);
  std::memcpy(raw_ + 16, &block, sizeof(block));
}

PackedBlob::PackedBlob(PackedBlob&& other) noexcept {
  std::memcpy(raw_, other.raw_, sizeof(raw_));
  std::memset(other.raw_, 0, sizeof(other.raw_));
}

PackedBlob& PackedBlob::operator=(PackedBlob&& other) noexcept {
  if (this != &other) {
    release();
    std::memcpy(raw_, other.raw_, sizeof(raw_));
    std::memset(other.raw_, 0, sizeof(other.raw_));
  }
  return *this;
}

void PackedBlob::release() noexcept {
  if (on_heap()) {
    std::uint8_t* block;
    std::memcpy(&block, raw_ + 16, sizeof(block));
    ::operator delete(block);
  }
  std::memset(raw_, 0, sizeof(raw_));
}

const std::uint8_t* PackedBlob::data() const noexcept {
  if (!on_heap()) return raw_ + 2;
  const std::uint8_t* block;
  std::memcpy(&block, raw_ + 16, sizeof(block));
  return block;
}

std::size_t PackedBlob::size() const noexcept {
  if (!on_heap()) return raw_[0];
  std::uint32_t n;
  std::memcpy(&n, raw_ + 4, 4);
  return n;
}

std::size_t PackedBlob::metadata_offset() const noexcept {
  if (!on_heap()) return raw_[1];
  std::uint32_t n;
  std::memcpy(&n, raw_ + 8, 4);
  return n;
}

std::vector<TransportAddress> PackedBlob::transports() const {
  std::vector<TransportAddress> out;
  if (size() == 0) return out;
  const std::uint8_t* p = data();
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
  const std::size_t n = size();
  const std::size_t offset = metadata_offset();
  if (n <= offset) return {};
  const auto* begin = reinterpret_cast<const std::byte*>(data() + offset);
  return std::vector<std::byte>(begin, begin + (n - offset));
}

}  // namespace rsp::handlespace::detail
