// Typed values of RSerPool's common parameters (RFC 5354) and pool policies (RFC 5356).
// These are the vocabulary of every layer above wire/: the handlespace stores them, ASAP and
// ENRP carry them, the tools print them. Encoding and decoding live in rsp/wire/codec.hpp.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rsp/wire/small_vector.hpp"

namespace rsp {

// RFC 5351 §2 / RFC 5354 §3.9: a pool handle is an opaque byte string; we cap it to keep
// every pool's key bounded (RFC 5355 threats). 32 bytes covers RSPLIB's default limit.
inline constexpr std::size_t kMaxPoolHandleSize = 32;

// A pool handle: opaque bytes, compared bytewise (handle order is the handlespace order).
class PoolHandle {
 public:
  PoolHandle() = default;
  explicit PoolHandle(std::string_view text) : bytes_(text) {}
  static PoolHandle from_bytes(std::span<const std::byte> bytes) {
    return PoolHandle(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  }
  std::string_view view() const noexcept { return bytes_; }
  std::size_t size() const noexcept { return bytes_.size(); }
  bool empty() const noexcept { return bytes_.empty(); }
  auto operator<=>(const PoolHandle&) const = default;

 private:
  std::string bytes_;
};

// RFC 5354 §3.14: a pool element identifier, 32 bits chosen by the PE (random), unique per pool.
using PoolElementId = std::uint32_t;
// RFC 5353 §2.x: a registrar (ENRP server) identifier, 32 bits, 0 meaning "none yet".
using RegistrarId = std::uint32_t;

// RFC 5354 §3: parameter types.
enum class ParameterType : std::uint16_t {
  Ipv4Address = 0x0001,
  Ipv6Address = 0x0002,
  DccpTransport = 0x0003,
  SctpTransport = 0x0004,
  TcpTransport = 0x0005,
  UdpTransport = 0x0006,
  UdpLiteTransport = 0x0007,
  PoolMemberSelectionPolicy = 0x0008,
  PoolHandle = 0x0009,
  PoolElement = 0x000a,
  ServerInformation = 0x000b,
  OperationError = 0x000c,
  Cookie = 0x000d,
  PoolElementIdentifier = 0x000e,
  PoolElementChecksum = 0x000f,
  // draft-dreibholz-rserpool-asap-hropt: the Handle Resolution Option (upper bits 10: skip
  // and continue for peers that do not know it).
  HandleResolutionOption = 0x803f,
};

// An IPv4 or IPv6 address in network byte order.
struct IpAddress {
  enum class Family : std::uint8_t { V4, V6 };
  Family family = Family::V4;
  std::array<std::uint8_t, 16> bytes{};  // V4 uses the first 4

  static IpAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    IpAddress r;
    r.bytes = {a, b, c, d};
    return r;
  }
  static IpAddress v6(const std::array<std::uint8_t, 16>& b) {
    IpAddress r;
    r.family = Family::V6;
    r.bytes = b;
    return r;
  }
  bool is_v4() const noexcept { return family == Family::V4; }
  auto operator<=>(const IpAddress&) const = default;
};

// RFC 5354 §3.3-3.7: which transport a PE offers.
enum class TransportProtocol : std::uint8_t { Sctp, Tcp, Udp, UdpLite, Dccp };

// RFC 5354 §3.4: "Transport Use" of an SCTP transport parameter.
enum class TransportUse : std::uint16_t { DataOnly = 0, DataPlusControl = 1 };

// Addresses per transport parameter: SCTP may be multi-homed; RFC 5354 lets TCP/UDP/DCCP carry
// exactly one. Four inline slots keep decoding allocation-free for real deployments; more is
// still accepted (the vector spills to the heap).
using AddressList = SmallVector<IpAddress, 4>;

// One user transport of a PE (RFC 5354 §3.3-3.7).
struct TransportAddress {
  TransportProtocol protocol = TransportProtocol::Sctp;
  std::uint16_t port = 0;
  TransportUse use = TransportUse::DataOnly;  // SCTP and TCP carry it; others: DataOnly
  std::uint32_t dccp_service_code = 0;        // DCCP only (RFC 5354 §3.3: 32 bits)
  AddressList addresses;
  bool operator==(const TransportAddress&) const = default;
};

// RFC 5356 §4-5 and RSPLIB's extensions (ids in RSPLIB's ranges; their layout follows RSPLIB).
enum class PolicyType : std::uint32_t {
  RoundRobin = 0x00000001,
  WeightedRoundRobin = 0x00000002,
  Random = 0x00000003,
  WeightedRandom = 0x00000004,
  Priority = 0x00000005,
  LeastUsed = 0x40000001,
  LeastUsedWithDegradation = 0x40000002,
  PriorityLeastUsed = 0x40000003,
  RandomizedLeastUsed = 0x40000004,
  // RSPLIB extensions
  RandomizedPriorityLeastUsed = 0xb0001001,
  RandomizedLeastUsedDegradation = 0xb0001002,
  PriorityLeastUsedDegradation = 0xb0001003,
  RandomizedPriorityLeastUsedDegradation = 0xb0001004,
  WeightedRandomDpf = 0xb0002001,
  LeastUsedDpf = 0xb0002002,
  LeastUsedDegradationDpf = 0xb0002003,
};

// RFC 5356 §3: loads and degradations are fractions in [0, 1] scaled to 0..0xFFFFFFFF.
inline constexpr std::uint32_t kPolicyLoadMax = 0xffffffffu;

// A PE's policy and its values. Which fields are meaningful depends on `type`; the codec writes
// exactly the fields the RFC (or RSPLIB, for its ids) defines for that type. An unknown type keeps
// its raw value bytes so that a registrar can store and relay it unchanged.
struct PolicyInfo {
  PolicyType type = PolicyType::RoundRobin;
  std::uint32_t weight = 0;            // WRR, WRAND, WRAND-DPF
  std::uint32_t priority = 0;          // PRIO (the PLU family sends no priority field)
  std::uint32_t load = 0;              // LU family
  std::uint32_t load_degradation = 0;  // LUD family; also PLU's "load increment"
  // Wire layouts per type: see docs/wire.md (RFC 5356 §4-5; RSPLIB's rserpoolmessage.h).
  std::uint32_t load_dpf = 0;          // *-DPF
  std::uint32_t weight_dpf = 0;        // WRAND-DPF
  std::uint32_t distance = 0;          // *-DPF
  std::vector<std::byte> unknown_value;  // only for types this build does not know
  bool operator==(const PolicyInfo&) const = default;
};

}  // namespace rsp
